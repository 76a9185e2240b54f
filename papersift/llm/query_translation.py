"""Search queries mostly in another script (Chinese, Russian, Arabic, ...) searched in English: the
configured language model turns the query's words into a short English search phrase, once per
query, model and prompt version (the phrase is stored in query_translations).

Query operators (`cat:cs.LG`, `au:"..."`, `year:2024`, a URL) are not sent to the model: they are
kept as typed after the phrase. A model call takes a unit of the daily budget first and gives it
back when it fails. Every failure is a notice, never an error: the query is then searched as
typed. A reader waits for the answer, so a call is capped at QUERY_TIMEOUT_SECONDS and one retry.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert

from papersift.errors import BudgetSpent, ModelUnavailable
from papersift.llm import budget
from papersift.llm.client import ChatClient
from papersift.llm.prompts import QUERY_TRANSLATION
from papersift.models import QueryTranslation
from papersift.scripts import latin_share
from papersift.settings import Settings

logger = logging.getLogger(__name__)
MOSTLY_LATIN = 0.5  # a query's words with a smaller share of Latin letters are translated
MAX_QUERY_CHARS = 2_000  # of the query's words sent to the model (a pasted abstract is cut)
MAX_PHRASE_CHARS = 200  # a longer answer is cut at a word
QUERY_TIMEOUT_SECONDS = 10.0
QUERY_RETRIES = 1
NO_MODEL_NOTICE = ("this query is mostly in a script other than Latin and is searched as typed: set "
                   "PAPERSIFT_LLM_BASE_URL and PAPERSIFT_LLM_MODEL to translate queries, or a multilingual "
                   "PAPERSIFT_MODEL (a sentence-transformers model name or path)")
_OPERATOR = re.compile(r'(?<!\S)-?[A-Za-z]+:(?:"[^"]*"|\S+)')
_QUOTES = "\"'`“”‘’「」『』«»"
_TRAILING = ".。,，;；:：!！?？"
_MULTILINGUAL_MARKERS = ("lingual", "labse", "m3", "xlm")  # multilingual, cross-lingual, bge-m3, xlm-r


@dataclass(frozen=True)
class Translation:
    """How a query mostly in another script is searched: by `phrase` (English, the query's
    operators kept), or, when it has none, as typed, and `notice` says why."""

    phrase: str | None
    stored: bool = False  # the phrase was stored: no model call
    notice: str | None = None


def translate_query(settings: Settings, engine: Engine, text: str) -> Translation | None:
    """The English search phrase of a query mostly in another script; None when the query is
    mostly Latin (or has no letters), or when nothing would help because the embedding model
    is multilingual."""
    if text.isascii():  # the common case, decided without looking at each letter
        return None
    words, operators = split_operators(text)
    if latin_share(words) >= MOSTLY_LATIN:
        return None
    if not settings.llm_enabled:
        return None if is_multilingual_model(settings.model) else Translation(None, notice=NO_MODEL_NOTICE)
    query = normalized(words)
    key = hashlib.sha256(query.encode()).hexdigest()
    phrase = find_phrase(engine, key, settings.llm_model)
    if phrase is not None:
        return Translation(" ".join([phrase, *operators]), stored=True)
    try:
        phrase = ask_model(settings, engine, query)
    except (BudgetSpent, ModelUnavailable) as error:
        logger.info("query translation failed: %s", error.message)
        return Translation(None, notice=f"searched as typed: the query could not be translated ({error.message})")
    store_phrase(engine, key, query=query, model=settings.llm_model, phrase=phrase)
    return Translation(" ".join([phrase, *operators]))


def split_operators(text: str) -> tuple[str, list[str]]:
    """The query's words, and its `prefix:value` operators and URLs as typed."""
    return _OPERATOR.sub(" ", text), _OPERATOR.findall(text)


def normalized(words: str) -> str:
    """The words as one key: full-width forms folded (NFKC), runs of whitespace one space."""
    return " ".join(unicodedata.normalize("NFKC", words).split())


def is_multilingual_model(name: str) -> bool:
    """True when the embedding model's name says it reads many languages (multilingual-e5,
    paraphrase-multilingual-*, LaBSE, BGE-M3, XLM-R based models): a guess from the name."""
    lowered = name.lower()
    return any(marker in lowered for marker in _MULTILINGUAL_MARKERS)


def ask_model(settings: Settings, engine: Engine, query: str) -> str:
    """One model call for the phrase, paid from today's budget (given back when it fails)."""
    if not budget.take(engine, settings.llm_daily_budget):
        raise BudgetSpent(f"today's budget of {settings.llm_daily_budget:,} generations is spent")
    day = budget.today()
    capped = settings.model_copy(update={"llm_timeout_seconds": min(settings.llm_timeout_seconds,
                                                                    QUERY_TIMEOUT_SECONDS),
                                         "llm_retries": min(settings.llm_retries, QUERY_RETRIES)})
    client = ChatClient(capped)
    try:
        phrase = cleaned_phrase(client.complete(messages(query)))
        if not phrase:
            raise ModelUnavailable(f"the language model ({client.model}) returned an empty answer")
    except BaseException:
        budget.give_back(engine, day)
        raise
    finally:
        client.close()
    logger.info("query translation by %s: %r → %r", client.model, query[:80], phrase)
    return phrase


def messages(query: str) -> list[dict]:
    prompt = QUERY_TRANSLATION
    return [{"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user.format(query=query[:MAX_QUERY_CHARS])}]


def cleaned_phrase(answer: str) -> str:
    """The answer's first line without the quotes and final punctuation a model may add, without
    query operators (double quotes, a leading minus), cut at a word to MAX_PHRASE_CHARS."""
    line = next((line for line in answer.splitlines() if line.strip()), "")
    line = line.strip().strip(_QUOTES).strip().rstrip(_TRAILING).strip(_QUOTES).strip()
    words = [word.lstrip("-") for word in line.replace('"', " ").split()]
    phrase = " ".join(word for word in words if word)
    if len(phrase) > MAX_PHRASE_CHARS:
        phrase = phrase[:MAX_PHRASE_CHARS].rsplit(" ", 1)[0]
    return phrase


def find_phrase(engine: Engine, key: str, model: str) -> str | None:
    with engine.connect() as connection:
        return connection.scalar(select(QueryTranslation.phrase).where(
            QueryTranslation.query_key == key, QueryTranslation.model == model,
            QueryTranslation.prompt_version == QUERY_TRANSLATION.version))


def store_phrase(engine: Engine, key: str, *, query: str, model: str, phrase: str) -> None:
    """Keep the phrase (a concurrent request that stored it first wins)."""
    with engine.begin() as connection:
        connection.execute(insert(QueryTranslation).values(
            query_key=key, query=query, model=model, prompt_version=QUERY_TRANSLATION.version, phrase=phrase,
        ).on_conflict_do_nothing(constraint="uq_query_translations_key"))

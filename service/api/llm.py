"""A paper's FAQ and its abstract translated, by the configured language model (papersift/llm).

GET …/faq and …/translation return a stored answer; …/stream returns it as server-sent events,
generating it first when none is stored (rate-limited per client, within the daily budget). With
no model configured every route answers 404 "no language model is configured".

The stream's events, each `data` a JSON object: `meta` {model, prompt_version, language, note,
stored}, `status` {message} (waiting for another reader's generation), `delta` {text}…,
then `done` {created_at} or `failure` {status, code, message, hint}.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from papersift.errors import GenerationNotStored, LlmNotConfigured, PapersiftError
from papersift.llm.generate import Busy, Generation, Generator, PaperText
from papersift.llm.prompts import FAQ_LANGUAGE, LANGUAGE_LABELS, LANGUAGES
from papersift.llm.store import Key, Stored
from papersift.settings import Settings
from service.api.admin import require_admin
from service.api.papers import find_paper
from service.deps import SessionDep
from service.errors import ErrorPublic, error_body
from service.rate_limit import ClientRateLimiter

logger = logging.getLogger(__name__)
Language = Literal[tuple(LANGUAGES)]  # type: ignore[valid-type]
Kind = Literal["faq", "translation"]
_CREATE_LOCK = threading.Lock()
NOT_CONFIGURED = {"model": ErrorPublic, "description": "no such paper, nothing stored yet, or no language "
                                                        "model is configured (the feature is off)"}
STREAM_ERRORS = {
    404: NOT_CONFIGURED,
    429: {"model": ErrorPublic, "description": "this client started too many generations (Retry-After says "
                                               "when to try again)"},
    503: {"model": ErrorPublic, "description": "today's budget of generations is spent, or the language "
                                               "model is unavailable"},
}


class GenerationPublic(BaseModel):
    """A stored answer: what the model wrote, which model and prompt version, when, from what."""

    paper_id: str
    kind: Kind
    language: str
    model: str
    prompt_version: int
    content: str
    input_note: str  # what the model read: the full text, or title and abstract only and why
    created_at: datetime


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


router = APIRouter(prefix="/api/v1", tags=["llm"])
admin_router = APIRouter(
    prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)],
    responses={401: {"model": ErrorPublic, "description": "missing or wrong bearer token"},
               404: {"model": ErrorPublic, "description": "the admin API is off, no such paper, or no "
                                                          "language model is configured"}},
)


def page_context(settings: Settings) -> dict | None:
    """What the paper page needs to show the FAQ and translate buttons (None: hidden)."""
    if not settings.llm_enabled:
        return None
    return {"language": settings.llm_language, "languages": list(LANGUAGE_LABELS.items())}


def get_generator(request: Request) -> Generator:
    """The process's Generator (made on first use); LlmNotConfigured when no model is configured."""
    state, settings = request.app.state, request.app.state.settings
    if not settings.llm_enabled:
        raise LlmNotConfigured("no language model is configured",
                               hint="the operator can set PAPERSIFT_LLM_BASE_URL and PAPERSIFT_LLM_MODEL")
    with _CREATE_LOCK:
        if getattr(state, "llm", None) is None:
            state.llm = Generator(settings, state.engine)
            state.llm_limiter = ClientRateLimiter(settings.llm_rate_limit_per_minute)
    return state.llm


GeneratorDep = Annotated[Generator, Depends(get_generator)]


@router.get("/papers/{paper_id:path}/faq/stream", response_class=EventStream, responses=STREAM_ERRORS)
def stream_faq(paper_id: str, request: Request, session: SessionDep, generator: GeneratorDep):
    """The paper's FAQ as server-sent events: at once when stored, else generated and streamed."""
    return _stream(request, session, generator, paper_id, "faq", FAQ_LANGUAGE)


@router.get("/papers/{paper_id:path}/faq", response_model=GenerationPublic, responses={404: NOT_CONFIGURED})
def get_faq(paper_id: str, session: SessionDep, generator: GeneratorDep) -> GenerationPublic:
    """The paper's stored FAQ (questions a reader asks first, answered from the paper)."""
    return _get(session, generator, paper_id, "faq", FAQ_LANGUAGE)


@router.get("/papers/{paper_id:path}/translation/stream", response_class=EventStream, responses=STREAM_ERRORS)
def stream_translation(
    paper_id: str, request: Request, session: SessionDep, generator: GeneratorDep,
    lang: Annotated[Language | None, Query(description="target language; default PAPERSIFT_LLM_LANGUAGE")] = None,
):
    """The paper's abstract in `lang` as server-sent events (the title stays as it is)."""
    return _stream(request, session, generator, paper_id, "translation", lang or generator.settings.llm_language)


@router.get("/papers/{paper_id:path}/translation", response_model=GenerationPublic,
            responses={404: NOT_CONFIGURED})
def get_translation(
    paper_id: str, session: SessionDep, generator: GeneratorDep,
    lang: Annotated[Language | None, Query(description="target language; default PAPERSIFT_LLM_LANGUAGE")] = None,
) -> GenerationPublic:
    """The paper's abstract translated into `lang`, when stored."""
    return _get(session, generator, paper_id, "translation", lang or generator.settings.llm_language)


@admin_router.post("/papers/{paper_id:path}/regenerate", response_model=GenerationPublic,
                   responses={409: {"model": ErrorPublic, "description": "it is being generated right now"},
                              503: STREAM_ERRORS[503]})
def regenerate(
    paper_id: str, session: SessionDep, generator: GeneratorDep,
    kind: Annotated[Kind, Query(description="faq or translation")] = "faq",
    lang: Annotated[Language | None, Query(description="translation language; default "
                                                       "PAPERSIFT_LLM_LANGUAGE")] = None,
):
    """Generate the paper's FAQ (or translation) again, replacing the stored one (counts against the budget)."""
    paper = PaperText.of(find_paper(session, paper_id))
    language = FAQ_LANGUAGE if kind == "faq" else lang or generator.settings.llm_language
    result = generator.generate(paper, kind, language, replace=True)
    if isinstance(result, Busy):
        return JSONResponse(error_body(409, "generating", f"the {kind} of {paper.public_id} is being generated "
                                       "right now", "try again in a minute"), status_code=409)
    logger.info("admin regenerated the %s of %s (%s)", kind, paper.public_id, language)
    return _public(paper.public_id, result)


def _get(session, generator: Generator, paper_id: str, kind: str, language: str) -> GenerationPublic:
    paper = PaperText.of(find_paper(session, paper_id))
    stored = generator.stored(session, generator.key(paper, kind, language))
    if stored is None:
        what = "FAQ" if kind == "faq" else f"{LANGUAGES[language]} translation"
        stream = f"/api/v1/papers/{paper.public_id}/{kind}/stream" + ("" if kind == "faq" else f"?lang={language}")
        raise GenerationNotStored(f"no {what} of {paper.public_id} is stored yet", hint=f"GET {stream} makes it")
    return _public(paper.public_id, stored)


def _public(paper_id: str, stored: Stored) -> GenerationPublic:
    return GenerationPublic(paper_id=paper_id, kind=stored.kind, language=stored.language, model=stored.model,
                            prompt_version=stored.prompt_version, content=stored.content,
                            input_note=stored.input_note, created_at=stored.created_at)


def _stream(request: Request, session, generator: Generator, paper_id: str, kind: str, language: str):
    paper = PaperText.of(find_paper(session, paper_id))
    key = generator.key(paper, kind, language)
    stored = generator.stored(session, key)
    if stored is not None:
        return EventStream(_stored_events(stored), headers=_NO_BUFFERING)
    client = request.client.host if request.client else "unknown"
    wait = request.app.state.llm_limiter.take(client)
    if wait:
        seconds = math.ceil(wait)
        return JSONResponse(error_body(429, "rate_limited", "too many answers asked for at once: wait "
                                       f"{seconds} s before the next one", "answers already made are shown at once"),
                            status_code=429, headers={"Retry-After": str(seconds)})
    started = generator.begin(paper, kind, language)  # BudgetSpent, ModelUnavailable → 503
    if isinstance(started, Busy):
        return EventStream(_waiting_events(generator, key), headers=_NO_BUFFERING)
    return EventStream(_live_events(generator, started), headers=_NO_BUFFERING)


_NO_BUFFERING = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def _event(name: str, payload: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"


def _meta(stored: Stored | None, *, model: str, version: int, language: str, note: str) -> str:
    return _event("meta", {"model": model, "prompt_version": version, "language": language, "note": note,
                           "stored": stored is not None})


def _stored_events(stored: Stored) -> Iterator[str]:
    yield _meta(stored, model=stored.model, version=stored.prompt_version, language=stored.language,
                note=stored.input_note)
    yield _event("delta", {"text": stored.content})
    yield _event("done", {"created_at": stored.created_at.isoformat()})


def _failure(error: PapersiftError, status: int = 503) -> str:
    return _event("failure", {"status": status, "code": error.code, "message": error.message, "hint": error.hint})


def _live_events(generator: Generator, generation: Generation) -> Iterator[str]:
    events = generation.in_background()
    yield _meta(None, model=generation.model, version=generation.key.prompt_version,
                language=generation.key.language, note=generation.note)
    while True:
        try:
            kind, value = events.get(timeout=generator.settings.llm_timeout_seconds + 10)
        except queue.Empty:
            yield _event("failure", {"status": 504, "code": "model_unavailable", "hint": "try again later",
                                     "message": "the language model stopped answering"})
            return
        if kind == "delta":
            yield _event("delta", {"text": value})
        elif kind == "done":
            yield _event("done", {"created_at": value.created_at.isoformat()})
            return
        else:
            yield _failure(value)
            return


def _waiting_events(generator: Generator, key: Key) -> Iterator[str]:
    yield _event("status", {"message": "another reader asked for this a moment ago: waiting for that answer"})
    settings = generator.settings
    stored = generator.wait(key, seconds=(settings.llm_timeout_seconds * (settings.llm_retries + 1)
                                          + settings.llm_pdf_timeout_seconds + 30))
    if stored is None:
        yield _event("failure", {"status": 503, "code": "model_unavailable", "hint": "try again",
                                 "message": "the other reader's answer did not arrive"})
        return
    yield from _stored_events(stored)

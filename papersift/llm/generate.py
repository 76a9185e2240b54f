"""One generation: claim the answer's key, take a unit of the budget, read the paper, ask the
model (streamed for a reader, whole for the batch and the admin), store the answer.

A reader's streamed answer is read from the model by a background thread, so the answer is stored
even when the reader closes the page halfway (it has been paid for).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from papersift.errors import BudgetSpent, ModelUnavailable, PapersiftError
from papersift.llm import budget, store
from papersift.llm.client import ChatClient
from papersift.llm.fulltext import fetch_full_text
from papersift.llm.prompts import FAQ_LANGUAGE, build_messages, current_prompt
from papersift.llm.store import Key, Stored
from papersift.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaperText:
    """What the prompts read of a paper."""

    id: int
    public_id: str
    title: str
    authors: list[str]
    abstract: str
    pdf_url: str | None

    @classmethod
    def of(cls, paper) -> PaperText:
        return cls(id=paper.id, public_id=paper.public_id, title=paper.title, authors=list(paper.authors or []),
                   abstract=paper.abstract or "", pdf_url=(paper.links or {}).get("pdf"))


@dataclass(frozen=True)
class Busy:
    """Another request is generating this answer; wait for it with Generator.wait."""

    key: Key


class Generation:
    """A claimed, budgeted generation whose model stream is open."""

    def __init__(self, generator: Generator, key: Key, claim_id: int, day: date, note: str,
                 pieces: Iterator[str]) -> None:
        self.generator, self.key, self.claim_id, self.day = generator, key, claim_id, day
        self.note, self.model = note, generator.client.model
        self._pieces = pieces

    def consume(self, on_piece: Callable[[str], None] = lambda piece: None) -> Stored:
        """Read the whole answer (calling on_piece for each piece) and store it; on failure give
        the claim and the budget back and raise ModelUnavailable."""
        started, parts = time.monotonic(), []
        try:
            for piece in self._pieces:
                parts.append(piece)
                on_piece(piece)
            content = "".join(parts).strip()
            if not content:
                raise ModelUnavailable(f"the language model ({self.model}) returned an empty answer",
                                       hint="try again later")
        except BaseException:
            self.generator.abandon(self.claim_id, self.day)
            raise
        return self.generator.finish(self, content, started)

    def in_background(self) -> queue.Queue:
        """Consume in a thread; the queue gets ("delta", text)…, then ("done", Stored) or
        ("failure", ModelUnavailable)."""
        events: queue.Queue = queue.Queue()

        def run() -> None:
            try:
                events.put(("done", self.consume(lambda piece: events.put(("delta", piece)))))
            except PapersiftError as error:
                events.put(("failure", error))
            except Exception as error:  # the reader must hear of any failure; it is logged
                logger.exception("llm %s %s: generation failed", self.key.kind, self.claim_id)
                events.put(("failure", ModelUnavailable(f"the generation failed ({type(error).__name__})",
                                                        hint="try again later")))

        threading.Thread(target=run, name=f"llm-{self.key.kind}-{self.claim_id}", daemon=True).start()
        return events


class Generator:
    """Generations for one configured model; one per process (the service keeps it on app.state)."""

    def __init__(self, settings: Settings, engine: Engine, client: ChatClient | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.client = client or ChatClient(settings)

    @staticmethod
    def key(paper: PaperText, kind: str, language: str = FAQ_LANGUAGE) -> Key:
        return Key(paper_id=paper.id, kind=kind, language=language, prompt_version=current_prompt(kind).version)

    def stored(self, session: Session, key: Key) -> Stored | None:
        return store.find_stored(session, key)

    def begin(self, paper: PaperText, kind: str, language: str = FAQ_LANGUAGE, *,
              stream: bool = True, replace: bool = False) -> Generation | Busy:
        """Claim, take budget, read the paper and open the model's stream. BudgetSpent and
        ModelUnavailable leave nothing claimed or spent (and a replaced answer in place)."""
        key = self.key(paper, kind, language)
        claim_id = store.claim(self.engine, key, model=self.client.model, replace=replace)
        if claim_id is None:
            return Busy(key)
        if not budget.take(self.engine, self.settings.llm_daily_budget):
            store.release(self.engine, claim_id)
            raise BudgetSpent(f"today's budget of {self.settings.llm_daily_budget:,} generations is spent",
                              hint="answers already made are still shown; new ones resume at 00:00 UTC")
        day = budget.today()
        try:
            messages, note = self._messages(paper, kind, language)
            if stream:
                pieces = self.client.open_stream(messages)
            else:
                answer = self.client.complete(messages)
                pieces = iter([answer])
        except BaseException:
            self.abandon(claim_id, day)
            raise
        logger.info("llm %s %s (%s): generating with %s; %s", kind, paper.public_id, language,
                    self.client.model, note)
        return Generation(self, key, claim_id, day, note, pieces)

    def generate(self, paper: PaperText, kind: str, language: str = FAQ_LANGUAGE, *,
                 replace: bool = False) -> Stored | Busy:
        """Generate and store the answer in one non-streamed request (the batch; the admin, who
        replaces a stored one)."""
        generation = self.begin(paper, kind, language, stream=False, replace=replace)
        return generation if isinstance(generation, Busy) else generation.consume()

    def wait(self, key: Key, *, seconds: float, poll: float = 0.5) -> Stored | None:
        """The answer another request is generating, once stored; None if its claim goes away
        (it failed) or `seconds` pass."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with Session(self.engine) as session:
                found = store.find_stored(session, key)
                if found is not None or not store.is_claimed(session, key):
                    return found
            time.sleep(poll)
        return None

    def finish(self, generation: Generation, content: str, started: float) -> Stored:
        store.complete(self.engine, generation.claim_id, content=content, model=generation.model,
                       input_note=generation.note)
        logger.info("llm %s paper %s (%s): stored %s characters from %s in %.1f s", generation.key.kind,
                    generation.key.paper_id, generation.key.language, f"{len(content):,}", generation.model,
                    time.monotonic() - started)
        with Session(self.engine) as session:
            return store.find_stored(session, generation.key)

    def abandon(self, claim_id: int, day: date) -> None:
        store.release(self.engine, claim_id)
        budget.give_back(self.engine, day)

    def _messages(self, paper: PaperText, kind: str, language: str) -> tuple[list[dict], str]:
        prompt = current_prompt(kind)
        if kind == "translation":
            return build_messages(prompt, title=paper.title, authors=paper.authors, abstract=paper.abstract,
                                  language=language), "the abstract"
        room = self.settings.llm_context_chars - len(paper.title) - len(paper.abstract)
        full = fetch_full_text(self.settings, paper.pdf_url)
        if not full.text:
            return build_messages(prompt, title=paper.title, authors=paper.authors, abstract=paper.abstract), \
                f"title and abstract only: {full.note}"
        text = full.text[:max(room, 0)]
        cut = len(text) < len(full.text)
        note = f"title, abstract and {full.note}" + (
            f", the first {len(text):,} of {len(full.text):,} characters" if cut else "")
        return build_messages(prompt, title=paper.title, authors=paper.authors, abstract=paper.abstract,
                              full_text=text, cut=cut), note

    def close(self) -> None:
        self.client.close()

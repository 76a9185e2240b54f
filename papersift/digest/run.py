"""One digest run: every subscriber of a cadence gets one mail with the period's papers of their
subscriptions, ranked for them (`send_digests`); `preview_digest` shows one reader's without
sending it."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import Message
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from papersift.digest import compose, sends
from papersift.digest.compose import Digest, DigestEntry
from papersift.digest.library import background, reader_models
from papersift.digest.periods import Period, default_period, parse_period
from papersift.digest.ranking import ReaderModel, closest_stars, ranked, score_matrix
from papersift.digest.selection import PeriodPapers, SubscriptionMatcher, load_period_papers
from papersift.digest.shards import COUNTED, run_shares, shares_for
from papersift.errors import IndexModelMismatch, IndexNotReady, InvalidQuery
from papersift.mail import MailError, send_mail
from papersift.models import Account, Paper, Subscription
from papersift.settings import Settings

logger = logging.getLogger(__name__)

READERS_PER_CHUNK = 1000  # readers scored by one matrix product
Sender = Callable[[Settings, Message], None]


@dataclass
class Subscriber:
    account_id: int
    email: str
    unsubscribe_key: str
    subscriptions: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class DigestSummary:
    cadence: str
    period: str | None = None
    papers: int = 0
    subscribers: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # sent, interrupted, given up or not due yet
    empty: int = 0  # nothing new in their subscriptions: no mail
    interrupted: int = 0  # `sending` rows left by a killed run (never sent again on their own)
    seconds: float = 0.0

    def line(self) -> str:
        return (f"digest {self.cadence} {self.period or '(no period)'}: {self.papers:,} new papers · "
                f"{self.subscribers:,} subscribers · sent {self.sent:,} · skipped {self.skipped:,} · "
                f"failed {self.failed:,} · nothing new {self.empty:,} · interrupted earlier "
                f"{self.interrupted:,} · {self.seconds:.1f} s")

    def counts(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "seconds"}


@dataclass
class _Prepared:
    period: Period
    papers: PeriodPapers
    subscribers: list[Subscriber]
    candidates: dict[int, np.ndarray]  # account → positions in papers, newest first
    models: dict[int, ReaderModel]
    vectors: np.ndarray  # papers' vectors (zeros where the index lacks one)
    has_vector: np.ndarray


def send_digests(settings: Settings, engine: Engine, *, cadence: str, period_key: str | None = None,
                 sender: Sender = send_mail, resend_interrupted: bool = False,
                 on_subscriber: Callable[[], None] | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> DigestSummary:
    """Mail this period's digest to every subscriber of `cadence` who has not had it (see sends.py);
    without an explicit period, also retry the refused mails of earlier periods that are due."""
    began = time.perf_counter()
    run = _Run(settings, engine, sender, datetime.now(UTC), resend_interrupted, on_subscriber, should_stop,
               DigestSummary(cadence))
    with Session(engine) as session:
        period = resolve_period(session, cadence, period_key)
        subscribers = _subscribers(session, cadence)
    with threadpool_limits(limits=1):  # many small products: BLAS threads cost more than they give
        if period is not None:
            run.summary.period = period.key
            run.send_period(period, subscribers, counted=True)
        if period_key is None:
            for key, accounts in sends.due_retries(engine, settings, cadence, now=run.started,
                                                   besides=run.summary.period):
                run.send_period(parse_period(cadence, key), [s for s in subscribers if s.account_id in accounts],
                                counted=False)
    run.summary.seconds = time.perf_counter() - began
    logger.info(run.summary.line())
    return run.summary


@dataclass
class _Run:
    settings: Settings
    engine: Engine
    sender: Sender
    started: datetime
    resend_interrupted: bool
    on_subscriber: Callable[[], None] | None
    should_stop: Callable[[], bool]
    summary: DigestSummary

    def send_period(self, period: Period, subscribers: list[Subscriber], *, counted: bool) -> None:
        """Mail the period's digest to those of `subscribers` it is due to; `counted`: the run's own
        period (its papers and subscribers are the summary's)."""
        states = sends.send_states(self.engine, period)
        due = [s for s in subscribers if sends.is_due(states.get(s.account_id), self.settings, now=self.started,
                                                      resend_interrupted=self.resend_interrupted)]
        with Session(self.engine) as session:
            prepared = _prepare(self.settings, session, period, due)
        if counted:
            self.summary.papers, self.summary.subscribers = len(prepared.papers), len(subscribers)
            self.summary.interrupted = sum(s.status == "sending" for s in states.values())
            self.summary.skipped += len(subscribers) - len(due)
        shares = run_shares(shares_for(due, processes=self.settings.digest_processes),
                            functools.partial(self._send_share, prepared), should_stop=self.should_stop)
        for counts in shares:
            for name in COUNTED:
                setattr(self.summary, name, getattr(self.summary, name) + counts.get(name, 0))
        if self.on_subscriber:  # the forked shares' progress, reported when they are done
            for _ in range(sum(counts.get("done", 0) for counts in shares[1:])):
                self.on_subscriber()

    def _send_share(self, prepared: _Prepared, subscribers: list[Subscriber], stop_requested: Callable[[], bool],
                    here: bool) -> dict[str, int]:
        """Mail `subscribers` their digests on a connection of this process; the counts. `here`:
        in the run's own process (a forked share reports its progress when it is done)."""
        if not here:
            self.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
        counts = dict.fromkeys(COUNTED, 0)
        ledger = sends.Ledger(self.engine, self.settings, run_started=self.started,
                              resend_interrupted=self.resend_interrupted)
        try:
            for subscriber, digest in _digests(self.settings, prepared, subscribers):
                if stop_requested():
                    break
                if digest is None:
                    counts["empty"] += 1
                else:
                    counts[self._send_one(ledger, subscriber, digest)] += 1
                if here and self.on_subscriber:
                    self.on_subscriber()
        finally:
            ledger.close()
        counts["done"] = sum(counts.values())
        return counts

    def _send_one(self, ledger: sends.Ledger, subscriber: Subscriber, digest: Digest) -> str:
        """Claim, send, mark; a refused mail is recorded for a later run. Which count it adds to."""
        period = digest.period
        claim = ledger.claim(subscriber.account_id, period, paper_count=digest.total)
        if claim is None:  # another run claimed it meanwhile
            return "skipped"
        try:
            self.sender(self.settings, compose.to_message(self.settings, digest))
        except MailError as error:
            next_at = ledger.failed(claim, error=str(error))
            logger.warning("digest %s to %s not sent (attempt %d, next after %s): %s", period.key, subscriber.email,
                           claim.attempt, next_at.isoformat(timespec="seconds"), error)
            return "failed"
        ledger.sent(claim)
        return "sent"


def preview_digest(settings: Settings, engine: Engine, email: str, *, cadence: str,
                   period_key: str | None = None) -> str:
    """The text of the digest `email` would get (sent or not), or a line saying why there is none."""
    with Session(engine) as session:
        subscribers = [s for s in _subscribers(session, cadence) if s.email == email.strip().lower()]
        if not subscribers:
            return f"{email} has no {cadence} subscriptions\n"
        period = resolve_period(session, cadence, period_key)
        if period is None:
            return "no arXiv papers announced yet: no daily period to preview\n"
        prepared = _prepare(settings, session, period, subscribers)
    [(_, digest)] = list(_digests(settings, prepared, subscribers))
    if digest is None:
        return f"nothing new in {email}'s {cadence} subscriptions for {prepared.period.key}\n"
    return f"Subject: {compose.subject(digest)}\n\n{compose.to_text(settings, digest)}"


def resolve_period(session: Session, cadence: str, key: str | None, *, today: date | None = None) -> Period | None:
    if cadence not in ("daily", "weekly"):
        raise InvalidQuery(f"cadence {cadence!r} is not daily or weekly", hint="use --cadence daily or weekly")
    if key:
        return parse_period(cadence, key)
    latest = session.scalar(select(func.max(Paper.announced_date)).where(Paper.source == "arxiv", Paper.is_published))
    return default_period(cadence, latest_announced=latest, today=today or datetime.now(UTC).date())


def _subscribers(session: Session, cadence: str) -> list[Subscriber]:
    rows = session.execute(
        select(Account.id, Account.email, Account.unsubscribe_key, Subscription.kind, Subscription.expression,
               Subscription.filters)
        .join(Subscription, Subscription.account_id == Account.id)
        .where(Subscription.cadence == cadence).order_by(Account.id, Subscription.id)).all()
    by_account: dict[int, Subscriber] = {}
    for row in rows:
        subscriber = by_account.setdefault(row.id, Subscriber(row.id, row.email, row.unsubscribe_key))
        subscriber.subscriptions.append((row.kind, row.expression, row.filters or {}))
    return list(by_account.values())


def _prepare(settings: Settings, session: Session, period: Period, subscribers: list[Subscriber]) -> _Prepared:
    """The period's papers, each subscriber's candidates and, for those with any, their model."""
    papers = load_period_papers(session, period)
    matcher = SubscriptionMatcher(settings, papers, period)
    candidates = {}
    for subscriber in subscribers:
        taken = [matcher.positions(kind, expression, filters) for kind, expression, filters in subscriber.subscriptions]
        candidates[subscriber.account_id] = np.unique(np.concatenate(taken)) if taken else np.empty(0, np.int64)
    readers = [s.account_id for s in subscribers if len(candidates[s.account_id])]
    index = _load_index(settings) if readers else None
    dimension = index.manifest.dimension if index else 1
    vectors, has_vector = np.zeros((len(papers), dimension), np.float32), np.zeros(len(papers), bool)
    models: dict[int, ReaderModel] = {}
    if index is not None:
        held, held_vectors = index.vectors_of(papers.ids)
        rows = np.asarray([papers.position[int(i)] for i in held], np.int64)
        vectors[rows], has_vector[rows] = held_vectors, True
        models = reader_models(session, index, readers, background(index))
    return _Prepared(period, papers, subscribers, candidates, models, vectors, has_vector)


def _load_index(settings: Settings):
    """The published vector index (memory-mapped), or None: then every digest is newest first."""
    from papersift.vector_index import load_index

    try:
        return load_index(settings.index_dir, model=settings.model, mmap=True)
    except (IndexNotReady, IndexModelMismatch) as error:
        logger.warning("digests are not ranked (newest first): %s", error.message)
        return None


def _digests(settings: Settings, prepared: _Prepared,
             subscribers: list[Subscriber]) -> Iterator[tuple[Subscriber, Digest | None]]:
    """Each subscriber's digest (None: nothing new for them), scored a chunk of readers at a time."""
    empty_model = ReaderModel(None, np.zeros((0, prepared.vectors.shape[1]), np.float32), [])
    for start in range(0, len(subscribers), READERS_PER_CHUNK):
        chunk = subscribers[start:start + READERS_PER_CHUNK]
        models = [prepared.models.get(s.account_id, empty_model) for s in chunk]
        scores = score_matrix(models, prepared.vectors)
        scores[:, ~prepared.has_vector] = -np.inf  # not embedded yet: after the ranked ones
        for row, (subscriber, model) in enumerate(zip(chunk, models)):
            candidates = prepared.candidates[subscriber.account_id]
            if not len(candidates):
                yield subscriber, None
                continue
            yield subscriber, _digest(settings, prepared, subscriber, model, ranked(scores[row], candidates))


def _digest(settings: Settings, prepared: _Prepared, subscriber: Subscriber, model: ReaderModel,
            order: np.ndarray) -> Digest:
    shown = order[:settings.digest_max_papers]
    papers = prepared.papers
    nearest = closest_stars(model, prepared.vectors[shown])
    entries = [DigestEntry(papers.public_ids[i], papers.titles[i], papers.authors[i], papers.abstracts[i],
                           star if prepared.has_vector[i] else None) for i, star in zip(shown, nearest)]
    return Digest(subscriber.email, subscriber.unsubscribe_key, prepared.period, entries, total=len(order),
                  ranked_for_reader=model.weights is not None)

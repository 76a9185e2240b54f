"""digest_sends: at most one digest per reader per period, across killed and re-run jobs.

A reader's row is claimed (`sending`, committed) before the SMTP conversation starts and marked
`sent` after the server accepted the mail (in the next claim's transaction: one commit per mail). A run skips readers whose row is `sent` or `sending`:
a `sending` row means a run was killed between the claim and the mark, and the mail may or may not
have gone out; it is never sent again on its own (`papersift digest send --resend-interrupted`
sends such readers again, accepting a possible second copy). A refused mail marks the row
`failed` with the error and a next attempt time (exponential backoff); later runs retry it until
PAPERSIFT_DIGEST_MAX_ATTEMPTS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from papersift.digest.periods import Period
from papersift.settings import Settings

_CLAIM = text("""
WITH marked AS (
    UPDATE digest_sends SET status = 'sent', sent_at = now() WHERE id = :sent_id AND status = 'sending'
)
INSERT INTO digest_sends (account_id, cadence, period, status, attempts, paper_count)
VALUES (:account_id, :cadence, :period, 'sending', 1, :paper_count)
ON CONFLICT (account_id, cadence, period) DO UPDATE
SET status = 'sending', attempts = digest_sends.attempts + 1, paper_count = excluded.paper_count,
    last_error = NULL, next_attempt_at = NULL
WHERE (digest_sends.status = 'failed' AND digest_sends.next_attempt_at <= now()
       AND digest_sends.attempts < :max_attempts)
   OR (digest_sends.status = 'sending' AND :resend_interrupted AND digest_sends.created_at < :run_started)
RETURNING id, attempts
""")
_SENT = text("UPDATE digest_sends SET status = 'sent', sent_at = now() WHERE id = :sent_id AND status = 'sending'")
_FAILED = text("""
WITH marked AS (
    UPDATE digest_sends SET status = 'sent', sent_at = now() WHERE id = :sent_id AND status = 'sending'
)
UPDATE digest_sends SET status = 'failed', last_error = :error, next_attempt_at = :next_at WHERE id = :id
""")


@dataclass(frozen=True)
class SendState:
    status: str
    attempts: int
    next_attempt_at: datetime | None


def send_states(engine: Engine, period: Period) -> dict[int, SendState]:
    """The rows of this period by account (readers without one have not been mailed)."""
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT account_id, status, attempts, next_attempt_at FROM digest_sends "
            "WHERE cadence = :cadence AND period = :period"), {"cadence": period.cadence, "period": period.key})
        return {r.account_id: SendState(r.status, r.attempts, r.next_attempt_at) for r in rows}


def due_retries(engine: Engine, settings: Settings, cadence: str, *, now: datetime,
                besides: str | None) -> list[tuple[str, set[int]]]:
    """Earlier periods with refused mails whose next attempt is due: (period, accounts), oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT period, array_agg(account_id) AS accounts FROM digest_sends WHERE cadence = :cadence "
            "AND status = 'failed' AND attempts < :max_attempts AND next_attempt_at <= :now "
            "AND period IS DISTINCT FROM :besides GROUP BY period ORDER BY period"),
            {"cadence": cadence, "max_attempts": settings.digest_max_attempts, "now": now, "besides": besides}).all()
    return [(row.period, set(row.accounts)) for row in rows]


def is_due(state: SendState | None, settings: Settings, *, now: datetime, resend_interrupted: bool) -> bool:
    """Whether a run should try this reader (the claim decides for good)."""
    if state is None:
        return True
    if state.status == "failed":
        return state.attempts < settings.digest_max_attempts and state.next_attempt_at <= now
    return state.status == "sending" and resend_interrupted


@dataclass(frozen=True)
class Claim:
    row_id: int
    attempt: int


class Ledger:
    """The digest_sends rows of one run, written on one connection, one statement (and commit) per
    mail: a claim is committed before its mail is sent, and carries the previous mail's `sent`
    mark; `close` writes the last one. A kill between a mail and the next statement leaves that one
    reader `sending`, as a kill during the mail would."""

    def __init__(self, engine: Engine, settings: Settings, *, run_started: datetime,
                 resend_interrupted: bool) -> None:
        self.settings = settings
        self.run_started = run_started
        self.resend_interrupted = resend_interrupted
        self._connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        # Commits do not wait for the disk (3 ms a commit here, a third of a mail's cost). A killed
        # run loses nothing by it: the server has the commit. Only the database server crashing
        # within a fraction of a second of a claim can lose it, and then a mail sent meanwhile
        # may go out again (DECISIONS.md).
        self._connection.execute(text("SET synchronous_commit = off"))
        self._sent_id: int | None = None

    def claim(self, account_id: int, period: Period, *, paper_count: int) -> Claim | None:
        """Claim the reader's digest for this period, or None when another run has it, sent it,
        or it is not due."""
        row = self._connection.execute(_CLAIM, {
            "sent_id": self._take_sent(), "account_id": account_id, "cadence": period.cadence,
            "period": period.key, "paper_count": paper_count, "max_attempts": self.settings.digest_max_attempts,
            "resend_interrupted": self.resend_interrupted, "run_started": self.run_started}).one_or_none()
        return Claim(row.id, row.attempts) if row else None

    def sent(self, claim: Claim) -> None:
        """The server accepted the mail: marked with the next statement."""
        self._sent_id = claim.row_id

    def failed(self, claim: Claim, *, error: str) -> datetime:
        """The server refused or could not be reached: retry after base × 2^(attempt-1)."""
        next_at = datetime.now(UTC) + timedelta(seconds=retry_delay(self.settings, claim.attempt))
        self._connection.execute(_FAILED, {"sent_id": self._take_sent(), "id": claim.row_id,
                                           "error": error[:2000], "next_at": next_at})
        return next_at

    def close(self) -> None:
        """Write the last `sent` mark and let the connection go."""
        try:
            if self._sent_id is not None:
                self._connection.execute(_SENT, {"sent_id": self._take_sent()})
        finally:
            self._connection.close()

    def _take_sent(self) -> int | None:
        sent_id, self._sent_id = self._sent_id, None
        return sent_id


def retry_delay(settings: Settings, attempt: int) -> float:
    return settings.digest_retry_seconds * 2 ** (attempt - 1)

"""digest_sends: at most one digest per reader per period, across killed and re-run jobs.

A reader's row is claimed (`sending`, committed) before the SMTP conversation starts and marked
`sent` after the server accepted the mail. A run skips readers whose row is `sent` or `sending`:
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
INSERT INTO digest_sends (account_id, cadence, period, status, attempts, paper_count)
VALUES (:account_id, :cadence, :period, 'sending', 1, :paper_count)
ON CONFLICT (account_id, cadence, period) DO UPDATE
SET status = 'sending', attempts = digest_sends.attempts + 1, paper_count = excluded.paper_count,
    last_error = NULL, next_attempt_at = NULL
WHERE (digest_sends.status = 'failed' AND digest_sends.next_attempt_at <= now()
       AND digest_sends.attempts < :max_attempts)
   OR (digest_sends.status = 'sending' AND :resend_interrupted AND digest_sends.created_at < :run_started)
RETURNING attempts
""")
_SENT = text("UPDATE digest_sends SET status = 'sent', sent_at = now() WHERE account_id = :account_id "
             "AND cadence = :cadence AND period = :period")
_FAILED = text("UPDATE digest_sends SET status = 'failed', last_error = :error, next_attempt_at = :next_at "
               "WHERE account_id = :account_id AND cadence = :cadence AND period = :period")


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


def is_due(state: SendState | None, settings: Settings, *, now: datetime, resend_interrupted: bool) -> bool:
    """Whether a run should try this reader (the claim decides for good)."""
    if state is None:
        return True
    if state.status == "failed":
        return state.attempts < settings.digest_max_attempts and state.next_attempt_at <= now
    return state.status == "sending" and resend_interrupted


def claim(engine: Engine, settings: Settings, account_id: int, period: Period, *, paper_count: int,
          run_started: datetime, resend_interrupted: bool = False) -> int | None:
    """Claim the reader's digest for this period (committed); the attempt number, or None when
    another run has it, sent it, or it is not due."""
    with engine.begin() as connection:
        return connection.execute(_CLAIM, {
            "account_id": account_id, "cadence": period.cadence, "period": period.key,
            "paper_count": paper_count, "max_attempts": settings.digest_max_attempts,
            "resend_interrupted": resend_interrupted, "run_started": run_started}).scalar()


def mark_sent(engine: Engine, account_id: int, period: Period) -> None:
    """The server accepted the mail. (Committed without waiting for the disk: a lost mark leaves
    `sending`, which is never sent again, so it cannot cause a second mail.)"""
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL synchronous_commit = off"))
        connection.execute(_SENT, {"account_id": account_id, "cadence": period.cadence, "period": period.key})


def mark_failed(engine: Engine, settings: Settings, account_id: int, period: Period, *, attempt: int,
                error: str) -> datetime:
    """The server refused or could not be reached: retry after base × 2^(attempt-1)."""
    next_at = datetime.now(UTC) + timedelta(seconds=retry_delay(settings, attempt))
    with engine.begin() as connection:
        connection.execute(_FAILED, {"account_id": account_id, "cadence": period.cadence, "period": period.key,
                                     "error": error[:2000], "next_at": next_at})
    return next_at


def retry_delay(settings: Settings, attempt: int) -> float:
    return settings.digest_retry_seconds * 2 ** (attempt - 1)

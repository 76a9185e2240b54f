"""Accounts as an operator sees them (`papersift accounts`) and their deletion: everything goes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from papersift.models import Account, SignInToken

_LIST = text("""
SELECT a.email, a.created_at, a.last_sign_in_at,
       (SELECT count(*) FROM library_marks m WHERE m.account_id = a.id AND m.kind = 'star') AS stars,
       (SELECT count(*) FROM subscriptions s WHERE s.account_id = a.id) AS subscriptions,
       (SELECT count(*) FROM account_sessions s WHERE s.account_id = a.id AND s.expires_at > now()) AS sessions
FROM accounts a ORDER BY a.created_at
""")


@dataclass(frozen=True)
class AccountLine:
    email: str
    created_at: datetime
    last_sign_in_at: datetime | None
    stars: int
    subscriptions: int
    sessions: int


def list_accounts(db: Session) -> list[AccountLine]:
    return [AccountLine(*row) for row in db.execute(_LIST)]


def delete_account(db: Session, email: str) -> bool:
    """Delete an account and every row naming it (sessions, library, subscriptions and digests go
    by cascade) or its address (sign-in tokens). True when there was one (the caller commits)."""
    db.execute(delete(SignInToken).where(SignInToken.email == email))
    return db.execute(delete(Account).where(Account.email == email)).rowcount > 0

"""Reading and changing one reader's subscriptions (the caller commits)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from papersift.models import Account, Subscription
from service.subscriptions.rules import Wanted


def list_subscriptions(session: Session, account_id: int) -> list[Subscription]:
    return list(session.scalars(select(Subscription).where(Subscription.account_id == account_id)
                                .order_by(Subscription.created_at, Subscription.id)))


def add_subscription(session: Session, account_id: int, wanted: Wanted) -> tuple[Subscription, bool]:
    """The stored subscription and whether it is new (the same one twice is kept once)."""
    new_id = session.scalar(
        insert(Subscription).values(account_id=account_id, kind=wanted.kind, expression=wanted.expression,
                                    filters=wanted.filters, cadence=wanted.cadence)
        .on_conflict_do_nothing(constraint="uq_subscriptions_key").returning(Subscription.id))
    row = session.scalar(select(Subscription).where(
        Subscription.account_id == account_id, Subscription.kind == wanted.kind,
        Subscription.expression == wanted.expression, Subscription.cadence == wanted.cadence))
    return row, new_id is not None


def delete_subscription(session: Session, account_id: int, subscription_id: int) -> bool:
    """Remove one of the reader's subscriptions; False when they have none of that id."""
    removed = session.execute(delete(Subscription).where(
        Subscription.id == subscription_id, Subscription.account_id == account_id))
    return removed.rowcount == 1


def unsubscribe_all(session: Session, unsubscribe_key: str) -> tuple[Account | None, int]:
    """The one-click unsubscribe: every subscription of the key's account goes (the account stays).
    (None, 0) for a key that belongs to no account."""
    account = session.scalar(select(Account).where(Account.unsubscribe_key == unsubscribe_key))
    if account is None:
        return None, 0
    removed = session.execute(delete(Subscription).where(Subscription.account_id == account.id))
    return account, removed.rowcount

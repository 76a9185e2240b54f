"""/api/v1/me/subscriptions: the signed-in reader's subscriptions (list, add, remove)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from papersift.errors import SubscriptionNotFound
from papersift.models import Subscription
from service.accounts.deps import CsrfChecked, SignedIn
from service.deps import SessionDep
from service.subscriptions.rules import MAX_EXPRESSION, checked, label
from service.subscriptions.store import add_subscription, delete_subscription, list_subscriptions

router = APIRouter(prefix="/api/v1/me", tags=["subscriptions"])


class SubscriptionCreate(BaseModel):
    kind: str = Field(description="category, venue or search")
    expression: str = Field("", max_length=MAX_EXPRESSION, description="cs.AI+cs.LG-cs.CY, neurips, or a query")
    filters: dict[str, Any] = Field(default_factory=dict, description="a search's filters: source, category, "
                                    "venue, track, year_from, year_to")
    cadence: str | None = Field(None, description="daily or weekly (venues: weekly); default daily")


class SubscriptionPublic(BaseModel):
    id: int
    kind: str
    expression: str
    filters: dict[str, Any]
    cadence: str
    label: str
    created_at: datetime


class SubscriptionsPublic(BaseModel):
    data: list[SubscriptionPublic]
    count: int


def to_public(row: Subscription) -> SubscriptionPublic:
    return SubscriptionPublic(id=row.id, kind=row.kind, expression=row.expression, filters=row.filters,
                              cadence=row.cadence, label=label(row.kind, row.expression, row.filters),
                              created_at=row.created_at)


@router.get("/subscriptions", response_model=SubscriptionsPublic)
def subscriptions(account: SignedIn, session: SessionDep) -> SubscriptionsPublic:
    """The reader's subscriptions, oldest first."""
    rows = [to_public(row) for row in list_subscriptions(session, account.id)]
    return SubscriptionsPublic(data=rows, count=len(rows))


@router.post("/subscriptions", response_model=SubscriptionPublic, status_code=201, dependencies=[CsrfChecked])
def subscribe(body: SubscriptionCreate, account: SignedIn, session: SessionDep, response: Response) -> SubscriptionPublic:
    """Add a subscription (201), or return the same one already there (200)."""
    wanted = checked(session, kind=body.kind, expression=body.expression, filters=body.filters, cadence=body.cadence)
    row, created = add_subscription(session, account.id, wanted)
    session.commit()
    if not created:
        response.status_code = 200
    return to_public(row)


@router.delete("/subscriptions/{subscription_id}", status_code=204, dependencies=[CsrfChecked])
def unsubscribe(subscription_id: int, account: SignedIn, session: SessionDep) -> Response:
    """Remove one subscription (404 when the reader has none of that id)."""
    if not delete_subscription(session, account.id, subscription_id):
        raise SubscriptionNotFound(f"you have no subscription {subscription_id}", hint="GET /api/v1/me/subscriptions lists them")
    session.commit()
    return Response(status_code=204)

"""/api/v1/me: the signed-in reader's library (what the pages' script keeps in sync), and all of
their data as JSON."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from papersift.models import AccountSession, DigestSend, Subscription
from service.accounts.deps import CsrfChecked, SignedIn
from service.accounts.library import MAX_KEYWORDS, LibraryPublic, library_of, merge, set_keywords, set_mark

router = APIRouter(prefix="/api/v1/me", tags=["account"])
MarkKind = Literal["star", "read", "not_interested"]
PaperId = Annotated[str, Path(min_length=1, max_length=300, pattern=r"^[^\x00\s]+$")]


class MarkBody(BaseModel):
    title: str = Field(default="", max_length=1000)


class KeywordsBody(BaseModel):
    keywords: list[Annotated[str, Field(max_length=100)]] = Field(max_length=MAX_KEYWORDS)


@router.get("/library", response_model=LibraryPublic)
def get_library(request: Request, account: SignedIn) -> LibraryPublic:
    """The reader's stars, read marks, "not interested" marks and keywords."""
    with request.app.state.sessions() as db:
        return library_of(db, account)


@router.post("/library/merge", response_model=LibraryPublic, dependencies=[CsrfChecked])
def merge_library(body: LibraryPublic, request: Request, account: SignedIn) -> LibraryPublic:
    """Add a browser's library to the stored one (a union: nothing is lost) and return the result."""
    with request.app.state.sessions() as db:
        merge(db, account, body)
        db.commit()
        return library_of(db, account)


@router.put("/marks/{kind}/{paper:path}", status_code=204, dependencies=[CsrfChecked])
def put_mark(kind: MarkKind, paper: PaperId, request: Request, account: SignedIn,
             body: MarkBody | None = None) -> None:
    """Star a paper, mark it read or "not interested"."""
    with request.app.state.sessions.begin() as db:
        set_mark(db, account, kind=kind, paper=paper, title=body.title if body else "", on=True)


@router.delete("/marks/{kind}/{paper:path}", status_code=204, dependencies=[CsrfChecked])
def delete_mark(kind: MarkKind, paper: PaperId, request: Request, account: SignedIn) -> None:
    """Take a mark back (unstar)."""
    with request.app.state.sessions.begin() as db:
        set_mark(db, account, kind=kind, paper=paper, on=False)


@router.put("/keywords", status_code=204, dependencies=[CsrfChecked])
def put_keywords(body: KeywordsBody, request: Request, account: SignedIn) -> None:
    """Replace the highlight keywords."""
    with request.app.state.sessions.begin() as db:
        set_keywords(db, account, [k.strip() for k in body.keywords if k.strip()])


@router.get("/export")
def export(request: Request, account: SignedIn) -> JSONResponse:
    """Everything papersift keeps about the reader, as one JSON download."""
    with request.app.state.sessions() as db:
        library = library_of(db, account)
        subscriptions = db.scalars(select(Subscription).where(Subscription.account_id == account.id)).all()
        sessions = db.scalars(select(AccountSession).where(AccountSession.account_id == account.id)).all()
        digests = db.scalars(select(DigestSend).where(DigestSend.account_id == account.id)).all()
    data = {
        "account": {"email": account.email, "created_at": account.created_at.isoformat(),
                    "last_sign_in_at": account.last_sign_in_at and account.last_sign_in_at.isoformat()},
        "library": library.model_dump(mode="json"),
        "subscriptions": [{"kind": s.kind, "expression": s.expression, "filters": s.filters,
                           "cadence": s.cadence, "created_at": s.created_at.isoformat()} for s in subscriptions],
        "sessions": [{"created_at": s.created_at.isoformat(), "expires_at": s.expires_at.isoformat(),
                      "user_agent": s.user_agent} for s in sessions],
        "digests": [{"cadence": d.cadence, "period": d.period, "status": d.status, "papers": d.paper_count,
                     "sent_at": d.sent_at and d.sent_at.isoformat()} for d in digests],
    }
    return JSONResponse(data, headers={"content-disposition": 'attachment; filename="papersift-account.json"'})

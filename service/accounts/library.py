"""A signed-in reader's library in PostgreSQL: stars (with titles), read and "not interested"
marks, highlight keywords. Its JSON shape is the browser's localStorage shape (service/static/app.js),
so a merge is a union of the two."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel, Field
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from papersift.models import Account, LibraryMark

MAX_MARKS = 20_000  # per kind in one merge
MAX_KEYWORDS = 200


class StarPublic(BaseModel):
    title: str = Field(default="", max_length=1000)
    starred_at: datetime | None = None


class LibraryPublic(BaseModel):
    """stars: id → {title, starred_at}; read: id → true; not_interested: ids; keywords."""

    stars: dict[str, StarPublic] = Field(default_factory=dict, max_length=MAX_MARKS)
    read: dict[str, bool] = Field(default_factory=dict, max_length=MAX_MARKS)
    not_interested: list[str] = Field(default_factory=list, max_length=MAX_MARKS)
    keywords: list[str] = Field(default_factory=list, max_length=MAX_KEYWORDS)


_ADD = text("""
INSERT INTO library_marks (account_id, kind, paper, title, marked_at)
SELECT :account, :kind, paper, title, marked_at
FROM unnest(CAST(:papers AS text[]), CAST(:titles AS text[]), CAST(:times AS timestamptz[]))
     AS given(paper, title, marked_at)
ON CONFLICT (account_id, kind, paper) DO NOTHING
""")


def library_of(db: Session, account: Account) -> LibraryPublic:
    marks = db.execute(select(LibraryMark.kind, LibraryMark.paper, LibraryMark.title, LibraryMark.marked_at)
                       .where(LibraryMark.account_id == account.id).order_by(LibraryMark.marked_at)).all()
    library = LibraryPublic(keywords=list(account.keywords))
    for kind, paper, title, marked_at in marks:
        if kind == "star":
            library.stars[paper] = StarPublic(title=title, starred_at=marked_at)
        elif kind == "read":
            library.read[paper] = True
        else:
            library.not_interested.append(paper)
    return library


def merge(db: Session, account: Account, given: LibraryPublic) -> None:
    """Add everything in `given` that the stored library lacks (nothing is removed); keywords are
    the union, stored first (the caller commits)."""
    now = datetime.now(timezone.utc)
    stars = {paper: star for paper, star in given.stars.items() if paper}
    _add(db, account, "star", list(stars), [s.title for s in stars.values()],
         [s.starred_at or now for s in stars.values()])
    read = [paper for paper, on in given.read.items() if on and paper]
    _add(db, account, "read", read, [""] * len(read), [now] * len(read))
    unwanted = list(dict.fromkeys(p for p in given.not_interested if p))
    _add(db, account, "not_interested", unwanted, [""] * len(unwanted), [now] * len(unwanted))
    keywords = list(dict.fromkeys([*account.keywords, *(k.strip() for k in given.keywords if k.strip())]))
    set_keywords(db, account, keywords)


def set_mark(db: Session, account: Account, *, kind: str, paper: str, title: str = "", on: bool) -> None:
    if on:
        _add(db, account, kind, [paper], [title], [datetime.now(timezone.utc)])
    else:
        db.execute(delete(LibraryMark).where(LibraryMark.account_id == account.id, LibraryMark.kind == kind,
                                             LibraryMark.paper == paper))


def set_keywords(db: Session, account: Account, keywords: list[str]) -> None:
    stored = db.merge(account)
    stored.keywords = keywords[:MAX_KEYWORDS]
    account.keywords = stored.keywords


def _add(db: Session, account: Account, kind: str, papers: list[str], titles: list[str],
         times: list[datetime]) -> None:
    if papers:
        db.execute(_ADD, {"account": account.id, "kind": kind, "papers": papers, "titles": titles,
                          "times": times})

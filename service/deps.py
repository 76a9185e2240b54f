"""Typed dependencies that routes declare: a read-only session per request, the read pool and the
vector index holder. The last two are async so that FastAPI does not hand them to a thread."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from service.index_holder import IndexHolder
from service.reads import ReadPool


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request; reads never commit."""
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_index_holder(request: Request) -> IndexHolder:
    """The service's IndexHolder."""
    return request.app.state.index


IndexDep = Annotated[IndexHolder, Depends(get_index_holder)]


async def get_reads(request: Request) -> ReadPool:
    """The service's pool of read connections (one round trip per query, no ORM)."""
    return request.app.state.reads


ReadsDep = Annotated[ReadPool, Depends(get_reads)]

"""Typed dependencies that routes declare: a read-only session per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from service.index_holder import IndexHolder


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request; reads never commit."""
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_index_holder(request: Request) -> IndexHolder:
    """The service's IndexHolder."""
    return request.app.state.index


IndexDep = Annotated[IndexHolder, Depends(get_index_holder)]

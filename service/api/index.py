"""/api/v1/index: what vector index the service has loaded, or why none."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from papersift.errors import PapersiftError
from service.deps import IndexDep

router = APIRouter(prefix="/api/v1", tags=["index"])


class IndexStatusPublic(BaseModel):
    """The loaded index's manifest, or the problem that keeps it from loading."""

    loaded: bool
    model: str
    generation: int | None = None
    count: int | None = None
    index_type: str | None = None
    built_at: str | None = None
    backend: str | None = None
    ef_search: int | None = None
    measured_recall_at_10: float | None = None
    problem: str | None = None
    hint: str | None = None


@router.get("/index", response_model=IndexStatusPublic)
def index_status(holder: IndexDep) -> IndexStatusPublic:
    """The vector index in use."""
    try:
        manifest = holder.current().manifest
    except PapersiftError as error:
        return IndexStatusPublic(loaded=False, model=holder.model, problem=error.message, hint=error.hint)
    return IndexStatusPublic(
        loaded=True, model=manifest.model, generation=manifest.generation, count=manifest.count,
        index_type=manifest.index_type, built_at=manifest.built_at, backend=manifest.backend,
        ef_search=manifest.ef_search, measured_recall_at_10=manifest.measured_recall_at_10,
    )

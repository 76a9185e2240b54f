"""Operations endpoints: /healthz (liveness), /readyz (readiness) and /metrics (Prometheus)."""

from __future__ import annotations

import time
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError, SQLAlchemyError
from starlette.datastructures import State

from service.errors import ErrorDetailPublic, error_body

router = APIRouter(tags=["operations"])


class CheckPublic(BaseModel):
    """One readiness check; the service is ready when every required check is ok."""

    ok: bool
    required: bool = True
    detail: str
    generation: int | None = None  # the index generation served (index checks)
    age_seconds: float | None = None  # how long ago that generation was published


class ReadinessPublic(BaseModel):
    status: str
    checks: dict[str, CheckPublic]


class NotReadyPublic(BaseModel):
    error: ErrorDetailPublic
    checks: dict[str, CheckPublic]


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadinessPublic,
            responses={503: {"model": NotReadyPublic, "description": "a required check failed"}})
def readyz(request: Request):
    """Readiness: the database answers, its schema is the code's, the keyword index is loaded (and
    no older than PAPERSIFT_INDEX_MAX_AGE_SECONDS). The vector index is reported but not required:
    without it search falls back to keywords. Each index check names the generation served."""
    checks = readiness_checks(request.app.state)
    failed = [name for name, check in checks.items() if check.required and not check.ok]
    if not failed:
        return ReadinessPublic(status="ready", checks=checks)
    message = "not ready: " + "; ".join(f"{name}: {checks[name].detail}" for name in failed)
    body = error_body(503, "not_ready", message, "see checks")
    body["checks"] = {name: check.model_dump() for name, check in checks.items()}
    return JSONResponse(body, status_code=503)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format (see service/metrics.py for what is per process)."""
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)


def readiness_checks(state: State) -> dict[str, CheckPublic]:
    """database, schema, keyword_index (required) and vector_index (reported). An index published
    longer ago than PAPERSIFT_INDEX_MAX_AGE_SECONDS fails its check."""
    checks = _database_checks(state.engine, state.schema_head)
    max_age = state.settings.index_max_age_seconds
    catalog = state.search.catalog
    loaded = catalog.current_or_none()
    checks["keyword_index"] = (
        _index_check(loaded.generation, loaded.built_at, f"{loaded.count:,} papers", max_age=max_age) if loaded
        else CheckPublic(ok=False, detail=_problem(catalog, "no keyword index loaded yet")))
    index = state.index.current_or_none()
    checks["vector_index"] = (
        _index_check(index.manifest.generation, index.manifest.built_at, f"{index.manifest.count:,} vectors",
                     max_age=max_age, required=False) if index
        else CheckPublic(ok=False, required=False,
                         detail=_problem(state.index, "no vector index loaded yet") + " (keyword search only)"))
    return checks


def _index_check(generation: int, built_at: str, size: str, *, max_age: float, required: bool = True) -> CheckPublic:
    """A loaded index generation: ok unless published more than `max_age` seconds ago (0: no limit)."""
    age = round(time.time() - datetime.fromisoformat(built_at).timestamp(), 1) if built_at else None
    detail = f"generation {generation}, {size}"
    if max_age and age is not None and age > max_age:
        return CheckPublic(ok=False, required=required, generation=generation, age_seconds=age,
                           detail=f"{detail}, published {age:,.0f} s ago, over PAPERSIFT_INDEX_MAX_AGE_SECONDS="
                                  f"{max_age:g} (no newer generation arrived: is the index store or the "
                                  "scheduler down?)")
    return CheckPublic(ok=True, required=required, generation=generation, age_seconds=age, detail=detail)


def _database_checks(engine, head: str) -> dict[str, CheckPublic]:
    try:
        with engine.connect() as connection:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except ProgrammingError:  # no alembic_version: an empty database
        current = None
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return {"database": CheckPublic(ok=False, detail=f"unreachable: {reason}"),
                "schema": CheckPublic(ok=False, detail="unknown: the database is unreachable")}
    schema = (CheckPublic(ok=True, detail=f"at {head}") if current == head else
              CheckPublic(ok=False, detail=f"at {current or 'nothing'}, code needs {head} "
                                           "(run papersift db upgrade, or deploy the matching code)"))
    return {"database": CheckPublic(ok=True, detail="reachable"), "schema": schema}


def _problem(holder, fallback: str) -> str:
    problem = getattr(holder, "problem", None)
    return problem.message if problem is not None else fallback

"""One error shape for the API: {"error": {"status", "code", "message", "hint"}}."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from papersift.errors import (
    DatabaseUnavailable,
    EmbeddingUnavailable,
    IndexModelMismatch,
    IndexNotReady,
    InvalidQuery,
    PaperNotFound,
    PapersiftError,
    SchemaOutdated,
)

STATUS_BY_ERROR: dict[type[PapersiftError], int] = {
    InvalidQuery: 400,
    PaperNotFound: 404,
    DatabaseUnavailable: 503,
    SchemaOutdated: 503,
    IndexNotReady: 503,
    IndexModelMismatch: 503,
    EmbeddingUnavailable: 503,
}


def error_body(status: int, code: str, message: str, hint: str | None = None) -> dict:
    return {"error": {"status": status, "code": code, "message": message, "hint": hint}}


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors and request validation errors to the one JSON shape."""

    @app.exception_handler(PapersiftError)
    async def _domain_error(request: Request, error: PapersiftError) -> JSONResponse:
        status = STATUS_BY_ERROR.get(type(error), 500)
        return JSONResponse(error_body(status, error.code, error.message, error.hint), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'][1:]) or 'request'}: {item['msg']}"
            for item in error.errors()
        )
        return JSONResponse(
            error_body(422, "invalid_request", problems, "fix the named parameters"), status_code=422
        )

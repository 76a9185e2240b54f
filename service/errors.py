"""One error shape for the API: {"error": {"status", "code", "message", "hint"}}."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from papersift.errors import (
    BudgetSpent,
    DatabaseUnavailable,
    EmbeddingUnavailable,
    Forbidden,
    GenerationNotStored,
    IndexModelMismatch,
    IndexNotReady,
    InvalidQuery,
    JobAlreadyRunning,
    LlmNotConfigured,
    ModelUnavailable,
    PaperNotFound,
    PapersiftError,
    SchemaOutdated,
    SignInRequired,
    SubscriptionNotFound,
    TooManyRequests,
    UnknownJob,
)

STATUS_BY_ERROR: dict[type[PapersiftError], int] = {
    InvalidQuery: 400,
    PaperNotFound: 404,
    DatabaseUnavailable: 503,
    SchemaOutdated: 503,
    IndexNotReady: 503,
    IndexModelMismatch: 503,
    EmbeddingUnavailable: 503,
    UnknownJob: 404,
    JobAlreadyRunning: 409,
    LlmNotConfigured: 404,
    GenerationNotStored: 404,
    BudgetSpent: 503,
    ModelUnavailable: 503,
    Forbidden: 403,
    SignInRequired: 401,
    TooManyRequests: 429,
    SubscriptionNotFound: 404,
}


class ErrorDetailPublic(BaseModel):
    status: int
    code: str
    message: str
    hint: str | None = None


class ErrorPublic(BaseModel):
    """The one error shape, for the OpenAPI `responses` of routes that document their errors."""

    error: ErrorDetailPublic


def error_body(status: int, code: str, message: str, hint: str | None = None) -> dict:
    return {"error": {"status": status, "code": code, "message": message, "hint": hint}}


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors and request validation errors to the one JSON shape."""

    @app.exception_handler(PapersiftError)
    async def _domain_error(request: Request, error: PapersiftError):
        status = STATUS_BY_ERROR.get(type(error), 500)
        if _wants_page(request):
            return _error_page(request, status, error.message, error.hint)
        return JSONResponse(error_body(status, error.code, error.message, error.hint), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException):
        message = {404: "no such page", 405: "method not allowed"}.get(error.status_code, str(error.detail))
        if _wants_page(request):
            return _error_page(request, error.status_code, message, "start again from the home page")
        return JSONResponse(error_body(error.status_code, "http_error", message, None), status_code=error.status_code,
                            headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'][1:]) or 'request'}: {item['msg']}"
            for item in error.errors()
        )
        if _wants_page(request):
            return _error_page(request, 422, problems, "fix the address and try again")
        return JSONResponse(
            error_body(422, "invalid_request", problems, "fix the named parameters"), status_code=422
        )


def _wants_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path.startswith("/feeds/") or path in {"/healthz", "/readyz", "/metrics", "/openapi.json"})


def _error_page(request: Request, status: int, message: str, hint: str | None):
    from service.web.render import TEMPLATES

    return TEMPLATES.TemplateResponse(request, "error.html", {"status": status, "message": message, "hint": hint},
                                      status_code=status)


CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


def install_security_headers(app: FastAPI) -> None:
    """A Content-Security-Policy on pages (no inline scripts, no third-party assets) and the usual headers."""
    app.add_middleware(SecurityHeaders)


class SecurityHeaders:
    """ASGI middleware (no per-request task or body streaming, unlike @app.middleware) adding
    SECURITY_HEADERS to every response and the CSP to HTML pages outside /docs."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if (headers.get("content-type", "").startswith("text/html")
                        and not scope["path"].startswith("/docs")):
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)

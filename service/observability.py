"""Per-request observability: a request id (the client's X-Request-ID when it is sane, else a new
one) echoed in the response and put on every log record of the request, one access-log line, and
the latency histogram by route template."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from papersift.log import request_id_var
from service.metrics import ServiceMetrics

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
SERVED_BY_HEADER = "X-Served-By"  # which worker answered: a random name per process, nothing about the host
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
QUIET_PATHS = {"/healthz", "/readyz", "/metrics"}  # probes and scrapes log at DEBUG


class RequestObservation:
    """ASGI middleware; add it last so it wraps everything else."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.worker = f"worker-{uuid.uuid4().hex[:8]}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500  # unless a response starts
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                headers[SERVED_BY_HEADER] = self.worker
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            method, path = scope["method"], scope["path"]
            self.metrics.observe_request(method, route_template(scope), status, seconds)
            level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
            logger.log(level, "%s %s %d %.1f ms", method, path, status, seconds * 1000)
            request_id_var.reset(token)


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/v1/papers/{paper_id}`, `/static/{path}` for a
    mounted app), so labels stay few; `unmatched` for a request no route took."""
    route = scope.get("route")
    if getattr(route, "path", None):
        return route.path
    if scope.get("endpoint") is not None and scope.get("root_path"):
        return scope["root_path"] + "/{path}"
    return "unmatched"


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _SANE_ID.fullmatch(candidate) else None
    return None

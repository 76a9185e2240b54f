"""Logging configuration; called only by entry points (the CLI callback, the service factory)."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

# The id of the HTTP request being served (set by the service's middleware; None outside requests).
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Put the current request's id on every record as `request_id` (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


OWN_LOGGERS = ("papersift", "indexer", "service", "__main__")


class OwnLogsFilter(logging.Filter):
    """papersift's own records at the configured level; other libraries' (alembic, faiss's loader,
    onnxruntime, ...) only from WARNING up, so a command's output is its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.split(".", 1)[0] in OWN_LOGGERS


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers when stderr is not a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            payload["request_id"] = request_id
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    """Send papersift's logs to stderr: readable on a terminal, JSON lines otherwise.

    Adds a handler only when the root logger has none (so pytest's capture keeps working).
    """
    root = logging.getLogger()
    root.setLevel(level)
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(OwnLogsFilter())
    if sys.stderr.isatty():
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    root.addHandler(handler)

"""The HTTP session every harvester uses: timeouts, retries with backoff, Retry-After, a user agent.

Retries cover connection errors, timeouts and the statuses a busy server answers with (429, 500,
502, 503, 504); a Retry-After header is obeyed up to `max_retry_after` seconds. What is still
failing after the last retry reaches the harvester, which ends the run with a clear message.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

USER_AGENT = "papersift-harvester/0.1 (+https://github.com/papersift)"
RETRY_STATUSES = (429, 500, 502, 503, 504)


class _TimeoutAdapter(HTTPAdapter):
    """An adapter that applies a default (connect, read) timeout to every request."""

    def __init__(self, *, timeout: float, **kwargs) -> None:
        self._timeout = timeout
        super().__init__(**kwargs)

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


def retrying_session(
    *, timeout: float, retries: int, backoff: float, max_retry_after: float = 120.0,
    session_class: type[requests.Session] = requests.Session,
) -> requests.Session:
    """A requests session that retries transient failures with exponential backoff."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        backoff_factor=backoff,
        backoff_max=max_retry_after,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD", "POST"}),
        respect_retry_after_header=True,
        retry_after_max=int(max_retry_after),
        raise_on_status=False,
    )
    session = session_class()
    adapter = _TimeoutAdapter(timeout=timeout, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def is_loopback(url: str) -> bool:
    """True for a server on this machine (a local mirror or a test server)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connection_problem(error: BaseException) -> str:
    """What went wrong with a connection, in a few words: "export.arxiv.org: the name does not
    resolve (no network?)" rather than urllib3's nested retry report."""
    reason = error
    while True:  # requests' ConnectionError wraps urllib3's MaxRetryError, which wraps the cause
        inner = getattr(reason, "reason", None) or (reason.args[0] if reason.args else None)
        if not isinstance(inner, BaseException) or inner is reason:
            break
        reason = inner
    host = getattr(getattr(reason, "conn", None), "host", None) or getattr(reason, "pool", None)
    host = getattr(host, "host", host)
    text = str(reason)
    if "NameResolutionError" in type(reason).__name__ or "Name or service not known" in text:
        what = "the name does not resolve (no network?)"
    elif "refused" in text.lower():
        what = "connection refused"
    elif "timed out" in text.lower():
        what = "timed out"
    else:
        what = text.split(": ", 1)[-1][:160]
    return f"{host}: {what}" if isinstance(host, str) else what


"""CSRF protection for state-changing requests of a signed-in reader. The session cookie is
SameSite=Lax already; on top of it every such request must carry the session's CSRF token (the
X-CSRF-Token header, or a `csrf_token` form field) and, when the browser says where it comes
from (Origin), come from this site."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

from papersift.errors import Forbidden
from service.accounts.sessions import session_token
from service.accounts.tokens import derived, same

HEADER = "x-csrf-token"
FIELD = "csrf_token"


def _own_hosts(request: Request) -> set[str]:
    """The site's host as this request reached it and, behind a proxy that does not pass the Host
    header on, as PAPERSIFT_PUBLIC_URL names it."""
    public_url = request.app.state.settings.public_url
    return {request.url.netloc} | ({urlsplit(public_url).netloc} if public_url else set())


def csrf_token(request: Request) -> str:
    """The CSRF token pages embed for this session ("" when signed out)."""
    token = session_token(request)
    return derived(token, "csrf") if token else ""


async def check_csrf(request: Request) -> None:
    """Refuse a cross-site request (Origin of another site) or one without the session's token."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc not in _own_hosts(request):
        raise Forbidden("a request from another site", hint="submit the form from papersift's own page")
    if origin == "null":
        raise Forbidden("a request from an opaque origin", hint="submit the form from papersift's own page")
    expected = csrf_token(request)
    if not expected:
        return  # signed out: nothing of an account can change
    given = request.headers.get(HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        given = (await request.form()).get(FIELD)
    if not given or not same(str(given), expected):
        raise Forbidden("the form's CSRF token is missing or stale", hint="reload the page and try again")

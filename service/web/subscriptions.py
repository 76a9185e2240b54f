"""Subscription forms of the account page and the listings (each posts and is redirected back),
and the digest's unsubscribe link: GET shows a confirm button, POST unsubscribes. The POST needs
no session or CSRF token (RFC 8058 one-click: the mail client posts `List-Unsubscribe=One-Click`);
the key in the URL is the capability."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from papersift.errors import SubscriptionNotFound
from service.accounts.deps import CsrfChecked, SignedIn
from service.deps import SessionDep
from service.subscriptions.rules import SEARCH_FILTERS, checked
from service.subscriptions.store import add_subscription, delete_subscription, list_subscriptions, unsubscribe_all
from service.web.render import TEMPLATES

router = APIRouter(include_in_schema=False)
ACCOUNT_PAGE = "/account"


@router.post("/account/subscriptions", dependencies=[CsrfChecked])
async def subscribe_form(request: Request, account: SignedIn, session: SessionDep) -> RedirectResponse:
    """Add a subscription from a form (kind, expression, cadence; a saved search's filters as the
    search page names them), then go back to `next` (default: the account page)."""
    form = await request.form()
    filters = {name: form.getlist(name) if name in ("category", "venue", "track") else form.get(name)
               for name in SEARCH_FILTERS if form.get(name)}

    def save() -> None:
        wanted = checked(session, kind=str(form.get("kind", "")), expression=str(form.get("expression", "")),
                         filters=filters, cadence=str(form.get("cadence") or "") or None)
        add_subscription(session, account.id, wanted)
        session.commit()

    await run_in_threadpool(save)
    return RedirectResponse(_local(form.get("next")), status_code=303)


@router.post("/account/subscriptions/{subscription_id}/delete", dependencies=[CsrfChecked])
def unsubscribe_form(subscription_id: int, account: SignedIn, session: SessionDep) -> RedirectResponse:
    if not delete_subscription(session, account.id, subscription_id):
        raise SubscriptionNotFound(f"you have no subscription {subscription_id}", hint="see your account page")
    session.commit()
    return RedirectResponse(ACCOUNT_PAGE, status_code=303)


def subscriptions_context(session, account) -> dict:
    """What `_subscriptions.html` needs, for the account page's context."""
    from service.api.subscriptions import to_public

    return {"subscriptions": [to_public(row) for row in list_subscriptions(session, account.id)] if account else []}


@router.get("/unsubscribe/{key}", response_class=HTMLResponse)
def unsubscribe_confirm(request: Request, key: str) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, "unsubscribe.html", {"key": key, "done": False})


@router.post("/unsubscribe/{key}", response_class=HTMLResponse)
def unsubscribe_one_click(request: Request, key: str, session: SessionDep) -> HTMLResponse:
    account, removed = unsubscribe_all(session, key)
    if account is None:
        raise SubscriptionNotFound("this unsubscribe link belongs to no account",
                                   hint="it may be from an account that was deleted; nothing will be sent to it")
    session.commit()
    return TEMPLATES.TemplateResponse(request, "unsubscribe.html", {"key": key, "done": True, "removed": removed,
                                                                   "email": account.email})


def _local(target) -> str:
    """A path on this site to go back to (never another site's address)."""
    target = str(target or "")
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else ACCOUNT_PAGE

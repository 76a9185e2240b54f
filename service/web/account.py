"""The account pages: ask for a sign-in link, redeem it, the account page (sign out, sign out
everywhere, download, delete). Every POST carries the CSRF check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from papersift.errors import InvalidQuery, TooManyRequests
from papersift.mail import MailError
from papersift.models import LibraryMark
from service.accounts.deps import CsrfChecked, OptionalAccount, SignedIn
from service.accounts.sessions import COOKIE, end_session, start_session
from service.accounts.store import delete_account
from service.accounts.sign_in import LINK_MINUTES, normalized_address, redeem, request_link
from service.web.pages import page
from service.web.subscriptions import subscriptions_context

router = APIRouter(include_in_schema=False)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, account: OptionalAccount) -> HTMLResponse:
    if account is None:
        return page(request, "sign_in.html")
    with request.app.state.sessions() as db:
        counts = dict(db.execute(select(LibraryMark.kind, func.count()).where(LibraryMark.account_id == account.id)
                                 .group_by(LibraryMark.kind)).all())
        return page(request, "account.html", counts=counts, **subscriptions_context(db, account))


@router.post("/account/sign-in", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def ask_for_link(request: Request, email: Annotated[str, Form(max_length=320)]) -> HTMLResponse:
    """The same page whether or not the address has an account."""
    try:
        address = normalized_address(email)
    except InvalidQuery as error:
        return page(request, "sign_in.html", status_code=400, problem=error.message, email=email)
    client = request.client.host if request.client else "unknown"
    try:
        await run_in_threadpool(_request_link, request, address, client)
    except TooManyRequests as error:
        return page(request, "sign_in.html", status_code=429, problem=f"{error.message}: {error.hint}.")
    except MailError:
        return page(request, "sign_in.html", status_code=503,
                    problem="The mail server did not take the message; try again in a few minutes.")
    return page(request, "sign_in_sent.html", email=address, minutes=LINK_MINUTES)


def _request_link(request: Request, address: str, client: str) -> None:
    with request.app.state.sessions() as db:
        request_link(db, request.app.state.settings, address=address, client=client,
                     base_url=str(request.base_url))


@router.get("/account/verify", response_class=HTMLResponse)
def confirm_page(request: Request, token: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    """A button, not an immediate sign-in: mail scanners that open links do not spend the token."""
    return page(request, "sign_in_confirm.html", token=token)


@router.post("/account/verify", dependencies=[CsrfChecked])
def sign_in(request: Request, token: Annotated[str, Form(max_length=200)]):
    with request.app.state.sessions() as db:
        account = redeem(db, token)
        if account is None:
            db.rollback()
            return page(request, "sign_in.html", status_code=400,
                        problem="That sign-in link was used already or has expired. Ask for a new one.")
        response = RedirectResponse("/account?signed_in=1", status_code=303)
        start_session(db, request, response, account)
        db.commit()
    return response


@router.post("/account/sign-out", dependencies=[CsrfChecked])
def sign_out(request: Request, everywhere: Annotated[bool, Form()] = False):
    response = RedirectResponse("/account", status_code=303)
    with request.app.state.sessions.begin() as db:
        end_session(db, request, response, everywhere=everywhere)
    return response


@router.post("/account/delete", dependencies=[CsrfChecked])
def delete_my_account(request: Request, account: SignedIn, confirm: Annotated[str, Form(max_length=320)] = ""):
    """Everything goes: the account and (by cascade) its sessions, library, subscriptions and
    digests, and the sign-in tokens sent to its address."""
    if confirm.strip().lower() != account.email:
        return page(request, "account.html", status_code=400, counts={}, subscriptions=[],
                    problem="Type your address to confirm the deletion.")
    with request.app.state.sessions.begin() as db:
        delete_account(db, account.email)
    response = RedirectResponse("/?account_deleted=1", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response

"""Server-side sessions: the cookie holds a random token, `account_sessions` its hash and expiry.
A new session is made at every sign-in (the token rotates); signing out deletes it, "sign out
everywhere" deletes them all."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi import Request, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from papersift.models import Account, AccountSession
from service.accounts.tokens import new_token, token_hash

COOKIE = "papersift_session"


def start_session(db: Session, request: Request, response: Response, account: Account) -> None:
    """Sign `account` in on this browser: a new session row and its cookie (the caller commits)."""
    days = request.app.state.settings.session_days
    token = new_token()
    old = request.cookies.get(COOKIE)
    if old:
        db.execute(delete(AccountSession).where(AccountSession.token_hash == token_hash(old)))
    db.execute(delete(AccountSession).where(AccountSession.account_id == account.id,
                                            AccountSession.expires_at <= datetime.now(timezone.utc)))
    db.add(AccountSession(token_hash=token_hash(token), account_id=account.id,
                          expires_at=datetime.now(timezone.utc) + timedelta(days=days),
                          user_agent=request.headers.get("user-agent", "")[:300]))
    response.set_cookie(COOKIE, token, max_age=days * 86400, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")
    request.state.session_token = token


def session_token(request: Request) -> str | None:
    """This request's session token: the cookie's, or the one just made by a sign-in."""
    return getattr(request.state, "session_token", None) or request.cookies.get(COOKIE)


def account_for(request: Request) -> Account | None:
    """The signed-in account of this request (looked up once per request), or None."""
    if hasattr(request.state, "account"):
        return request.state.account
    token = request.cookies.get(COOKIE)
    account = None
    if token:
        with request.app.state.sessions() as db:
            account = db.scalar(
                select(Account).join(AccountSession, AccountSession.account_id == Account.id)
                .where(AccountSession.token_hash == token_hash(token),
                       AccountSession.expires_at > datetime.now(timezone.utc)))
            if account is not None:
                db.expunge(account)
    request.state.account = account
    return account


def end_session(db: Session, request: Request, response: Response, *, everywhere: bool) -> None:
    """Sign out this browser, or every browser of its account (the caller commits)."""
    token = request.cookies.get(COOKIE)
    if token:
        account = account_for(request)
        condition = (AccountSession.account_id == account.id if everywhere and account
                     else AccountSession.token_hash == token_hash(token))
        db.execute(delete(AccountSession).where(condition))
    response.delete_cookie(COOKIE, path="/")
    request.state.account = None

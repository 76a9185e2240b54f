"""Typed dependencies for routes that know the reader: `OptionalAccount` (None when signed out),
`SignedIn` (401 when signed out) and `CsrfChecked` (every state-changing account request)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from papersift.errors import SignInRequired
from papersift.models import Account
from service.accounts.csrf import check_csrf
from service.accounts.sessions import account_for


async def optional_account(request: Request) -> Account | None:
    if not request.cookies:
        return None
    return await run_in_threadpool(account_for, request)


async def signed_in_account(request: Request) -> Account:
    account = await optional_account(request)
    if account is None:
        raise SignInRequired("sign in first", hint="ask for a sign-in link at /account")
    return account


OptionalAccount = Annotated[Account | None, Depends(optional_account)]
SignedIn = Annotated[Account, Depends(signed_in_account)]
CsrfChecked = Depends(check_csrf)

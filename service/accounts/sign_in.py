"""Sign-in by an emailed link: ask (rate-limited, the same answer for every address), mail the
link, redeem it once within 15 minutes. The account is made at first redemption,
so asking reveals nothing about who has one."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from papersift.errors import InvalidQuery, TooManyRequests
from papersift.mail import new_message, send_mail
from papersift.models import Account, SignInToken
from papersift.settings import Settings
from service.accounts.tokens import new_token, token_hash

LINK_MINUTES = 15
ADDRESS = re.compile(r"[^@\s<>\"',;]{1,64}@[^@\s<>\"',;]{1,255}\.[^@\s<>\"',;.]{2,63}")

_UPSERT_ACCOUNT = text("""
INSERT INTO accounts (email, unsubscribe_key, last_sign_in_at) VALUES (:email, :key, now())
ON CONFLICT (email) DO UPDATE SET last_sign_in_at = now()
RETURNING id
""")


def normalized_address(raw: str) -> str:
    """The address as stored (trimmed, lower-cased); InvalidQuery when it is not one."""
    address = raw.strip().lower()
    if not ADDRESS.fullmatch(address):
        raise InvalidQuery(f"{raw.strip()[:80]!r} is not an email address", hint="write it as name@example.org")
    return address


def request_link(db: Session, settings: Settings, *, address: str, client: str, base_url: str) -> None:
    """Check the rate limits, store a new token's hash (committed before the mail goes out: a
    failed send leaves a token nobody holds) and mail the link."""
    hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    db.execute(delete(SignInToken).where(SignInToken.created_at <= hour_ago))  # past every use and limit
    by_address = db.scalar(select(func.count()).where(SignInToken.email == address,
                                                      SignInToken.created_at > hour_ago))
    by_client = db.scalar(select(func.count()).where(SignInToken.client == client,
                                                     SignInToken.created_at > hour_ago))
    if by_address >= settings.sign_in_per_address_per_hour or by_client >= settings.sign_in_per_client_per_hour:
        raise TooManyRequests("too many sign-in links asked for in the last hour",
                              hint="use the newest link you were sent, or try again in an hour")
    token = new_token()
    db.add(SignInToken(token_hash=token_hash(token), email=address, client=client,
                       expires_at=datetime.now(timezone.utc) + timedelta(minutes=LINK_MINUTES)))
    db.commit()
    link = f"{settings.public_url or base_url.rstrip('/')}/account/verify?token={token}"
    send_mail(settings, new_message(
        settings, to=address, subject="Your papersift sign-in link",
        text=f"Sign in to papersift:\n\n{link}\n\nThe link works once, for {LINK_MINUTES} minutes. "
             "If you did not ask for it, ignore this mail: nothing happens without the link.\n"))


def redeem(db: Session, token: str) -> Account | None:
    """The account the token signs in (made at its first sign-in), marking the token used; None
    when the token is unknown, used or expired."""
    address = db.scalar(
        update(SignInToken).where(SignInToken.token_hash == token_hash(token), SignInToken.used_at.is_(None),
                                  SignInToken.expires_at > func.now())
        .values(used_at=func.now()).returning(SignInToken.email))
    if address is None:
        return None
    account_id = db.execute(_UPSERT_ACCOUNT, {"email": address, "key": new_token()}).scalar_one()
    return db.get(Account, account_id)

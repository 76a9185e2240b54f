"""Readers for the subscription and digest tests: accounts with library marks and subscriptions
written straight into the database, a signed-in session for the TestClient, and the papers of the
search corpus nearest to a paper (from its real vector index)."""

from __future__ import annotations

import secrets

import numpy as np
from sqlalchemy import text

from papersift.db import make_engine
from papersift.settings import Settings
from papersift.vector_index import load_index
from service.accounts.sessions import COOKIE
from service.accounts.tokens import derived, new_token, token_hash


def add_reader(settings: Settings, email: str, *, stars: list[str] = (), not_interested: list[str] = (),
               subscriptions: list[tuple[str, str, str]] = ()) -> dict:
    """An account with starred / not-interested papers (public ids) and (kind, expression, cadence)
    subscriptions; returns {"id", "email", "unsubscribe_key"}."""
    engine = make_engine(settings)
    try:
        with engine.begin() as connection:
            key = secrets.token_urlsafe(24)
            account_id = connection.execute(text(
                "INSERT INTO accounts (email, unsubscribe_key) VALUES (:email, :key) RETURNING id"),
                {"email": email, "key": key}).scalar()
            for kind, papers in (("star", stars), ("not_interested", not_interested)):
                for paper in papers:
                    connection.execute(text("INSERT INTO library_marks (account_id, kind, paper) VALUES (:a, :k, :p)"),
                                       {"a": account_id, "k": kind, "p": paper})
            for kind, expression, cadence in subscriptions:
                connection.execute(text("INSERT INTO subscriptions (account_id, kind, expression, cadence) "
                                        "VALUES (:a, :k, :e, :c)"), {"a": account_id, "k": kind, "e": expression, "c": cadence})
    finally:
        engine.dispose()
    return {"id": account_id, "email": email, "unsubscribe_key": key}


def sign_in(settings: Settings, client, account_id: int) -> str:
    """Give the TestClient a signed-in session of the account; returns its CSRF token."""
    token = new_token()
    engine = make_engine(settings)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO account_sessions (token_hash, account_id, expires_at) "
                                    "VALUES (:h, :a, now() + interval '1 day')"), {"h": token_hash(token), "a": account_id})
    finally:
        engine.dispose()
    client.cookies.set(COOKIE, token)
    return derived(token, "csrf")


def forget_readers(settings: Settings) -> None:
    """Remove every account (marks, sessions, subscriptions and digest rows go with them)."""
    engine = make_engine(settings)
    try:
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE accounts CASCADE"))
    finally:
        engine.dispose()


def nearest_papers(settings: Settings, paper: str, among_sql: str, count: int) -> list[str]:
    """The `count` papers of `among_sql` (a query of ids and public ids) nearest to `paper` in meaning."""
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            paper_id = connection.execute(text("SELECT id FROM papers WHERE public_id = :p"), {"p": paper}).scalar()
            rows = connection.execute(text(among_sql)).all()
    finally:
        engine.dispose()
    index = load_index(settings.index_dir, model=settings.model)
    ids, vectors = index.vectors_of(np.asarray([r[0] for r in rows], np.int64))
    public_of = {r[0]: r[1] for r in rows}
    _, [target] = index.vectors_of(np.asarray([paper_id], np.int64))
    order = np.argsort(-(vectors @ target))
    return [public_of[int(ids[i])] for i in order[:count]]

"""Passwordless sign-in, sessions, CSRF, the library in PostgreSQL and deleting an account, through
the real app, a real PostgreSQL and a real SMTP server on 127.0.0.1 (tests/mail_server.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from papersift.db import make_engine
from papersift.settings import Settings
from service.app import create_app
from tests.conftest import query_rows
from tests.mail_server import Mailbox, body_text, mail_server

LINK = re.compile(r"https?://\S+/account/verify\?token=([\w-]+)")
ACCOUNT_TABLES = ("accounts", "account_sessions", "library_marks", "subscriptions", "digest_sends")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with mail_server() as server:
        yield server


@pytest.fixture
def site(settings: Settings, mailbox: Mailbox) -> Settings:
    return settings.model_copy(update={"smtp_url": SecretStr(mailbox.url), "smtp_starttls": False,
                                       "public_url": "https://papers.example.org"})


@pytest.fixture
def client(site: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(site)) as client:
        yield client


def execute(settings: Settings, sql: str) -> None:
    """Run one writing statement against the database of `settings`."""
    engine = make_engine(settings)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


def ask_for_link(client: TestClient, mailbox: Mailbox, address: str) -> str:
    """Ask for a sign-in link and return the token from the mail that arrives."""
    before = len(mailbox.to(address.strip().lower()))
    response = client.post("/account/sign-in", data={"email": address})
    assert response.status_code == 200, response.text
    message = mailbox.wait_for(address.strip().lower(), count=before + 1)[-1]
    return LINK.search(body_text(message)).group(1)


def sign_in(client: TestClient, mailbox: Mailbox, address: str) -> str:
    """Sign `client` in as `address`; the CSRF token of its new session."""
    token = ask_for_link(client, mailbox, address)
    response = client.post("/account/verify", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/account").text
    return re.search(r'name="csrf-token" content="(\w+)"', page).group(1)


def test_the_mailed_link_signs_in_once_with_a_safe_session_cookie(client, mailbox, site):
    token = ask_for_link(client, mailbox, "Reader@Example.org ")
    [message] = mailbox.to("reader@example.org")
    assert message["Subject"] == "Your papersift sign-in link"
    assert f"https://papers.example.org/account/verify?token={token}" in body_text(message)
    assert query_rows(site, "SELECT count(*) FROM sign_in_tokens WHERE token_hash = :t", t=token)[0][0] == 0

    confirm = client.get(f"/account/verify?token={token}")  # a page with a button: scanners spend nothing
    assert confirm.status_code == 200 and 'id="confirm-sign-in"' in confirm.text
    response = client.post("/account/verify", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/account?signed_in=1"
    cookie = response.headers["set-cookie"]
    assert "papersift_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # served over http here; see the https test below
    assert 'id="account-email">reader@example.org<' in client.get("/account").text

    client.cookies.clear()
    again = client.post("/account/verify", data={"token": token}, follow_redirects=False)
    assert again.status_code == 400 and "used already or has expired" in again.text
    assert "Sign in" in client.get("/account").text and "account-email" not in client.get("/account").text


def test_an_expired_link_is_refused(client, mailbox, site):
    token = ask_for_link(client, mailbox, "late@example.org")
    execute(site, "UPDATE sign_in_tokens SET expires_at = now() - interval '1 second'")
    response = client.post("/account/verify", data={"token": token}, follow_redirects=False)
    assert response.status_code == 400 and "expired" in response.text
    assert query_rows(site, "SELECT count(*) FROM accounts")[0][0] == 0


def test_a_known_and_an_unknown_address_get_the_same_page(client, mailbox):
    sign_in(client, mailbox, "known@example.org")
    client.cookies.clear()
    known = client.post("/account/sign-in", data={"email": "known@example.org"})
    unknown = client.post("/account/sign-in", data={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("known@example.org", "X") == unknown.text.replace("nobody@example.org", "X")
    assert len(mailbox.wait_for("nobody@example.org")) == 1  # a new reader gets a link too


def test_sign_in_mails_are_rate_limited_per_address_and_per_client(client, mailbox, site):
    for _ in range(site.sign_in_per_address_per_hour):
        assert client.post("/account/sign-in", data={"email": "busy@example.org"}).status_code == 200
    refused = client.post("/account/sign-in", data={"email": "busy@example.org"})
    assert refused.status_code == 429 and "too many sign-in links" in refused.text
    assert len(mailbox.wait_for("busy@example.org", count=site.sign_in_per_address_per_hour)) == 5
    for n in range(site.sign_in_per_client_per_hour - site.sign_in_per_address_per_hour):
        assert client.post("/account/sign-in", data={"email": f"r{n}@example.org"}).status_code == 200
    assert client.post("/account/sign-in", data={"email": "one-more@example.org"}).status_code == 429


def test_a_malformed_address_gets_a_clear_error(client, mailbox):
    response = client.post("/account/sign-in", data={"email": "not an address"})
    assert response.status_code == 400 and "is not an email address" in response.text
    assert mailbox.messages == []


def test_cross_site_and_tokenless_requests_are_refused(client, mailbox, site):
    csrf = sign_in(client, mailbox, "reader@example.org")
    forged = client.put("/api/v1/me/marks/star/arxiv:2503.11731", headers={"origin": "https://evil.example"})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "forbidden"
    tokenless = client.put("/api/v1/me/marks/star/arxiv:2503.11731")
    assert tokenless.status_code == 403
    form = client.post("/account/sign-out", data={"everywhere": "true"}, headers={"origin": "https://evil.example"})
    assert form.status_code == 403
    assert query_rows(site, "SELECT count(*) FROM library_marks")[0][0] == 0
    assert client.put("/api/v1/me/marks/star/arxiv:2503.11731", headers={"x-csrf-token": csrf},
                      json={"title": "A paper"}).status_code == 204
    # behind a proxy that does not pass the Host on, the page's origin is PAPERSIFT_PUBLIC_URL's
    assert client.put("/api/v1/me/marks/read/arxiv:2503.11731", json={},
                      headers={"x-csrf-token": csrf, "origin": "https://papers.example.org"}).status_code == 204
    assert client.get("/api/v1/me/library").json()["stars"]["arxiv:2503.11731"]["title"] == "A paper"


def test_the_merge_keeps_both_sides_and_every_device_sees_one_library(site, mailbox):
    with TestClient(create_app(site)) as laptop, TestClient(create_app(site)) as phone:
        laptop_csrf = sign_in(laptop, mailbox, "reader@example.org")
        laptop.put("/api/v1/me/marks/star/arxiv:1706.03762", headers={"x-csrf-token": laptop_csrf},
                   json={"title": "Attention Is All You Need"})
        laptop.put("/api/v1/me/keywords", headers={"x-csrf-token": laptop_csrf}, json={"keywords": ["diffusion"]})
        phone_csrf = sign_in(phone, mailbox, "reader@example.org")
        merged = phone.post("/api/v1/me/library/merge", headers={"x-csrf-token": phone_csrf}, json={
            "stars": {"arxiv:2503.11731": {"title": "Phone's star", "starred_at": "2026-11-30T10:00:00Z"},
                      "arxiv:1706.03762": {"title": "Attention Is All You Need"}},
            "read": {"arxiv:2001.00001": True}, "not_interested": ["venue:neurips-2024-1"],
            "keywords": ["diffusion", "retrieval"]}).json()
        assert set(merged["stars"]) == {"arxiv:1706.03762", "arxiv:2503.11731"}
        assert merged["stars"]["arxiv:2503.11731"]["starred_at"].startswith("2026-11-30T10:00:00")
        assert merged["read"] == {"arxiv:2001.00001": True}
        assert merged["not_interested"] == ["venue:neurips-2024-1"]
        assert merged["keywords"] == ["diffusion", "retrieval"]
        assert laptop.get("/api/v1/me/library").json() == merged
        laptop.delete("/api/v1/me/marks/star/arxiv:2503.11731", headers={"x-csrf-token": laptop_csrf})
        assert set(phone.get("/api/v1/me/library").json()["stars"]) == {"arxiv:1706.03762"}


def test_sign_out_and_sign_out_everywhere(site, mailbox):
    with TestClient(create_app(site)) as laptop, TestClient(create_app(site)) as phone:
        laptop_csrf = sign_in(laptop, mailbox, "reader@example.org")
        phone_csrf = sign_in(phone, mailbox, "reader@example.org")
        tablet = TestClient(create_app(site))
        with tablet:
            sign_in(tablet, mailbox, "reader@example.org")
            assert query_rows(site, "SELECT count(*) FROM account_sessions")[0][0] == 3
            phone.post("/account/sign-out", data={"csrf_token": phone_csrf})
            assert phone.get("/api/v1/me/library").status_code == 401
            assert laptop.get("/api/v1/me/library").status_code == 200
            laptop.post("/account/sign-out", data={"csrf_token": laptop_csrf, "everywhere": "true"})
            assert tablet.get("/api/v1/me/library").status_code == 401
        assert query_rows(site, "SELECT count(*) FROM account_sessions")[0][0] == 0


def test_over_https_the_session_cookie_is_secure(site, mailbox):
    with TestClient(create_app(site), base_url="https://testserver") as client:
        token = ask_for_link(client, mailbox, "reader@example.org")
        response = client.post("/account/verify", data={"token": token}, follow_redirects=False)
    assert "Secure" in response.headers["set-cookie"]


def test_a_reader_downloads_their_data_and_deleting_the_account_leaves_no_row(client, mailbox, site):
    csrf = sign_in(client, mailbox, "reader@example.org")
    client.put("/api/v1/me/marks/star/arxiv:1706.03762", headers={"x-csrf-token": csrf}, json={"title": "T"})
    execute(site, "INSERT INTO subscriptions (account_id, kind, expression) SELECT id, 'category', 'cs.CL' "
                  "FROM accounts")
    execute(site, "INSERT INTO digest_sends (account_id, cadence, period, status) "
                  "SELECT id, 'daily', '2026-12-01', 'sent' FROM accounts")
    # an unused link is kept about the address too
    assert client.post("/account/sign-in", data={"email": "reader@example.org", "csrf_token": csrf}).status_code == 200
    account_page = client.get("/account").text
    assert "1 starred, 0 read, 1 subscription." in " ".join(account_page.split())
    assert 'class="subscription-label">arXiv cs.CL<' in account_page
    data = client.get("/api/v1/me/export")
    assert "attachment" in data.headers["content-disposition"]
    assert data.json()["library"]["stars"]["arxiv:1706.03762"]["title"] == "T"
    assert data.json()["subscriptions"][0]["expression"] == "cs.CL"

    wrong = client.post("/account/delete", data={"csrf_token": csrf, "confirm": "someone@else.org"})
    assert wrong.status_code == 400 and query_rows(site, "SELECT count(*) FROM accounts")[0][0] == 1
    deleted = client.post("/account/delete", data={"csrf_token": csrf, "confirm": "reader@example.org"},
                          follow_redirects=False)
    assert deleted.status_code == 303
    for table in (*ACCOUNT_TABLES, "sign_in_tokens"):
        assert query_rows(site, f"SELECT count(*) FROM {table}")[0][0] == 0, table


def test_the_operator_lists_and_deletes_accounts(client, mailbox, site, cli):
    csrf = sign_in(client, mailbox, "reader@example.org")
    client.put("/api/v1/me/marks/star/arxiv:1706.03762", headers={"x-csrf-token": csrf})
    listed = cli("accounts", "list")
    assert listed.exit_code == 0
    assert re.search(r"reader@example.org .* 1 stars  0 subscriptions  1 sessions", listed.output)
    assert "accounts: 1" in listed.output
    assert cli("accounts", "delete", "nobody@example.org").exit_code == 2
    deleted = cli("accounts", "delete", "reader@example.org")
    assert deleted.exit_code == 0 and "all its data deleted" in deleted.output
    for table in ACCOUNT_TABLES:
        assert query_rows(site, f"SELECT count(*) FROM {table}")[0][0] == 0, table
    assert client.get("/api/v1/me/library").status_code == 401


def test_links_older_than_the_rate_limit_window_are_deleted(client, mailbox, site):
    ask_for_link(client, mailbox, "old@example.org")
    execute(site, "UPDATE sign_in_tokens SET created_at = now() - interval '61 minutes'")
    ask_for_link(client, mailbox, "new@example.org")
    assert [r[0] for r in query_rows(site, "SELECT email FROM sign_in_tokens")] == ["new@example.org"]

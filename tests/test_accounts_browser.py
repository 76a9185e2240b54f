"""One library on every device, in a real browser: Chromium follows the sign-in link from a mail
received by a real SMTP server, stars a paper in one browser context ("the laptop") and sees it in
another ("the phone"); the first sign-in on each merges what that browser held."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from pydantic import SecretStr
from sqlalchemy import text

from papersift.db import make_engine
from service.app import create_app
from tests.live_server import CHROMIUM, chromium, live_server
from tests.mail_server import Mailbox, body_text, mail_server

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                reason="Debian chromium is not installed (./scripts/install installs it)")
LINK = re.compile(r"(https?://\S+/account/verify\?token=[\w-]+)")
READER = "reader@example.org"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with mail_server() as server:
        yield server


@pytest.fixture(scope="module")
def site(corpus, mailbox) -> Iterator[str]:
    settings = corpus.model_copy(update={"smtp_url": SecretStr(mailbox.url), "smtp_starttls": False})
    with live_server(create_app(settings)) as url:
        yield url
    engine = make_engine(corpus)  # the corpus is shared with other test modules: leave no account
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM accounts; DELETE FROM sign_in_tokens"))
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def new_device(browser):
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.script_errors = errors
    return page


def star_result(page, site: str, query: str, nth: int, signed_in: bool = False) -> str:
    """Star the nth result of a search; its paper id. Signed in, wait until the account has the star."""
    page.goto(f"{site}/search?q={query}")
    card = page.locator("article.paper").nth(nth)
    toggle_star(page, card, signed_in)
    expect(card.locator(".star")).to_have_text("★")
    return card.get_attribute("data-id")


def toggle_star(page, card, signed_in: bool) -> None:
    """Click a card's star; signed in, until the account has answered (another device reads it next)."""
    if not signed_in:
        card.locator(".star").click()
        return
    with page.expect_response(lambda response: "/api/v1/me/marks/star/" in response.url) as sent:
        card.locator(".star").click()
    assert sent.value.ok


def sign_in(page, site: str, mailbox: Mailbox) -> None:
    """Ask for a link on /account, open it from the mail and press the button."""
    before = len(mailbox.to(READER))
    page.goto(site + "/account")
    page.fill("input[name=email]", READER)
    page.click("form.account-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Check your mail")
    link = LINK.search(body_text(mailbox.wait_for(READER, count=before + 1)[-1])).group(1)
    page.goto(link)
    page.click("#confirm-sign-in")
    expect(page.locator("#account-email")).to_have_text(READER)


def starred_ids(page, site: str, count: int) -> set[str]:
    page.goto(site + "/stars")
    cards = page.locator("#starred article.paper")
    expect(cards).to_have_count(count)
    return set(cards.evaluate_all("els => els.map(e => e.dataset.id)"))


def test_one_library_on_every_device(browser, site, mailbox):
    laptop, phone = new_device(browser), new_device(browser)
    laptop_star = star_result(laptop, site, "language+models", 0)  # starred before signing in
    phone_star = star_result(phone, site, "image+segmentation", 0)

    sign_in(laptop, site, mailbox)
    assert starred_ids(laptop, site, 1) == {laptop_star}
    sign_in(phone, site, mailbox)  # the merge keeps both sides
    assert starred_ids(phone, site, 2) == {laptop_star, phone_star}
    assert starred_ids(laptop, site, 2) == {laptop_star, phone_star}

    third = star_result(laptop, site, "reinforcement+learning", 0, signed_in=True)
    assert starred_ids(phone, site, 3) == {laptop_star, phone_star, third}
    phone.goto(f"{site}/search?q=reinforcement+learning")
    expect(phone.locator(f'article.paper[data-id="{third}"] .star')).to_have_text("★")
    toggle_star(phone, phone.locator(f'article.paper[data-id="{third}"]'), signed_in=True)  # unstarred on the phone
    expect(phone.locator("#star-count")).to_have_text("2")
    assert starred_ids(laptop, site, 2) == {laptop_star, phone_star}

    phone.goto(site + "/account")
    phone.click("#sign-out")
    expect(phone.locator("h1")).to_have_text("Sign in")
    assert starred_ids(phone, site, 2) == {laptop_star, phone_star}  # signed out: this browser's copy
    assert laptop.script_errors == [] and phone.script_errors == []


def test_a_forged_post_from_another_origin_is_refused(browser, site, mailbox):
    """A page on another port of the same host (same site, so even a SameSite=Lax cookie goes along)
    auto-submits a form that would sign the reader out everywhere: the Origin check refuses it."""
    page = new_device(browser)
    sign_in(page, site, mailbox)
    forged = (f'<form method="post" action="{site}/account/sign-out"><input name="everywhere" value="true">'
              "</form><script>document.forms[0].submit()</script>")
    with live_server(_static_page(forged)) as evil:
        with page.expect_navigation():
            page.goto(evil + "/")
        assert page.url.startswith(site + "/account/sign-out")
        assert "403" in page.title()
    page.goto(site + "/account")
    expect(page.locator("#account-email")).to_have_text(READER)  # still signed in


def _static_page(html: str):
    """An ASGI app answering every request with one HTML page."""
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")]})
        await send({"type": "http.response.body", "body": html.encode()})
    return app

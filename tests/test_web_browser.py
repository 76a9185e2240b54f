"""The site in a real browser: Debian's Chromium driven by Playwright against `uvicorn` on 127.0.0.1."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from playwright.sync_api import expect

from service.app import create_app
from tests.conftest import REPO_ROOT
from tests.live_server import CHROMIUM, chromium, live_server

ARTIFACTS = REPO_ROOT / "test-artifacts"  # screenshots of the main pages (git-ignored)
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                reason="Debian chromium is not installed (./scripts/install installs it)")


@pytest.fixture(scope="module")
def server(corpus):
    with live_server(create_app(corpus)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.script_errors = errors
    yield page
    context.close()
    assert errors == []  # no script errors, no CSP violations, no failed asset


def test_search_from_the_home_page_and_narrow_by_a_facet(page, server):
    page.goto(server + "/")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("language model reasoning")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=language+model+reasoning")
    assert page.locator("article.paper").count() == 25
    assert page.locator("article.paper mark").count() > 0
    assert "ms" in page.locator(".took").inner_text()
    page.locator(".facets a", has_text="colm").first.click()
    page.wait_for_url("**venue=colm**")
    venues = page.locator("article.paper .venue").all_inner_texts()
    assert venues and all(v.startswith("COLM") for v in venues)
    page.locator("article.paper .why summary").first.click()
    assert page.locator("article.paper .why").first.inner_text().count("#") >= 1


def test_a_pasted_text_too_long_for_a_url_is_posted_and_answered(page, server):
    page.goto(server + "/")
    text = ("一种用于长视频检索和问答的记忆网络 language model reasoning。" * 400)[:9_000]
    page.fill("#q", text)
    with page.expect_navigation():
        page.press("#q", "Enter")
    assert page.url.endswith("/search")  # posted: the text is in the body, not the URL
    assert page.locator("article.paper").count() > 0
    assert page.locator("#q").input_value() == text


def test_keyboard_moves_and_stars(page, server):
    page.goto(server + "/search?q=language+models")
    page.keyboard.press("j")
    page.keyboard.press("j")
    focused = page.locator("article.paper.focused")
    assert focused.count() == 1
    focused_id = focused.get_attribute("data-id")
    assert focused_id == page.locator("article.paper").nth(1).get_attribute("data-id")
    page.keyboard.press("s")
    assert focused.locator(".star").inner_text() == "★"
    assert page.locator("#star-count").inner_text() == "1"
    stored = json.loads(page.evaluate("localStorage.getItem('papersift.stars')"))
    assert list(stored) == [focused_id]


def test_stars_page_recommends_exports_and_imports(page, server):
    page.goto(server + "/venue/colm/2024")
    cards = page.locator("article.paper")
    starred = [cards.nth(i).get_attribute("data-id") for i in range(3)]
    for i in range(3):
        cards.nth(i).locator(".star").click()
    page.goto(server + "/stars")
    page.locator("#recommended article.paper").first.wait_for()
    assert sorted(page.locator("#starred article.paper").evaluate_all("els => els.map(e => e.dataset.id)")) == sorted(starred)
    recommended = page.locator("#recommended article.paper").evaluate_all("els => els.map(e => e.dataset.id)")
    assert recommended and not set(recommended) & set(starred)
    first = recommended[0]
    page.locator("#recommended article.paper").first.locator(".not-interested").click()
    assert json.loads(page.evaluate("localStorage.getItem('papersift.not_interested')")) == [first]
    with page.expect_download() as download:
        page.click("#export-json")
    exported = json.loads(open(download.value.path()).read())
    assert sorted(exported["stars"]) == sorted(starred)
    page.fill("#import-ids input", "https://arxiv.org/abs/0704.0001v2 0704.0002")
    page.click("#import-ids button")
    expect(page.locator("#starred article.paper")).to_have_count(5)
    assert {"arxiv:0704.0001", "arxiv:0704.0002"} <= set(json.loads(page.evaluate("localStorage.getItem('papersift.stars')")))


def test_paper_page_renders_math_and_related_papers(page, server):
    page.goto(server + "/search?q=&source=arxiv")
    page.goto(server + "/paper/arxiv:0704.0001")
    assert page.locator("h1").inner_text().startswith("Calculation of prompt diphoton")
    assert page.locator("section.related article.paper").count() == 10
    assert page.locator("meta[name=citation_author]").count() > 3
    page.goto(server + "/search?q=abs%3Aquark")
    math_page = page.locator("article.paper .title").first
    math_page.click()
    page.wait_for_url("**/paper/**")
    assert page.locator("details.bibtex textarea").input_value().startswith("@")


def test_bad_query_message_theme_and_phone_width(page, server):
    response = page.goto(server + '/search?q=year%3Aabc')
    assert response.status == 400 and "year:abc is not a year" in page.locator(".error").inner_text()
    page.script_errors.clear()  # the page's own 400 is logged as a failed load
    page.click("#theme")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + "/search?q=reasoning")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_header_fits_a_phone_on_every_page(page, server, theme):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + "/")
    page.evaluate(f"localStorage.setItem('papersift.theme', JSON.stringify('{theme}'))")
    for path in ("/", "/search?q=" + "long pasted text " * 40, "/venues", "/help", "/stars",
                 "/arxiv/cs.CV", "/venue/colm/2024"):
        page.goto(server + path)
        assert page.evaluate("document.documentElement.dataset.theme") == theme
        header = page.locator("header.top").bounding_box()
        assert header["height"] <= 120, (path, header)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        search_box = page.locator("#q").bounding_box()
        button = page.locator(".searchbar button").bounding_box()
        assert search_box["width"] >= 250 and button["width"] > button["height"], (path, search_box, button)
    page.fill("#q", "language model reasoning")
    page.press("#q", "Enter")
    page.wait_for_url("**/search?q=language+model+reasoning")


def test_my_keywords_read_marks_and_stars_survive_a_reload(page, server):
    page.goto(server + "/stars")
    page.fill("#keywords-form input", "reasoning, benchmark")
    page.click("#keywords-form button")
    page.goto(server + "/search?q=language+models+reasoning")
    assert page.locator("article.paper mark.mine").count() > 0  # my keywords, highlighted in the list
    first = page.locator("article.paper").first
    paper_id = first.get_attribute("data-id")
    first.locator(".star").click()
    first.locator(".title").click()
    page.wait_for_url("**/paper/**")
    page.go_back()
    page.reload()
    card = page.locator(f'article.paper[data-id="{paper_id}"]')
    expect(card).to_have_class(re.compile(r"\bread\b"))  # opened papers are greyed
    assert card.locator(".star").inner_text() == "★"
    assert page.locator("#star-count").inner_text() == "1"


def test_screenshots_of_the_main_pages(page, server):
    ARTIFACTS.mkdir(exist_ok=True)
    for name, path in (("home", "/"), ("search", "/search?q=language+models"), ("paper", "/paper/arxiv:0704.0001"),
                       ("listing", "/arxiv/cs.CV"), ("venue", "/venue/colm/2024"), ("stars", "/stars")):
        response = page.goto(server + path)
        assert response.status == 200, path
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"))  # the first screen, as a reader sees it
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 20_000

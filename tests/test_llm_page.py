"""The FAQ and translate buttons of the paper page in Debian's Chromium (Playwright), against uvicorn
and a local chat-completions server: streamed answers shown as text, never as HTML."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from service.app import create_app
from tests.chat_server import Step, chat_server
from tests.live_server import CHROMIUM, chromium, live_server
from tests.llm_fixtures import API_KEY, llm_settings, write

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                reason="Debian chromium is not installed (./scripts/install installs it)")
HOSTILE = ("**Q: Is <script>window.pwned = 1</script> run?**\n"
           'No: <img src="x" onerror="window.pwned = 2"> stays text.\n\n'
           "- a point with `code` and **bold**\n- a second point")


@pytest.fixture(scope="module")
def chat():
    with chat_server() as server:
        yield server


@pytest.fixture(scope="module")
def site(llm_papers, chat):
    with live_server(create_app(llm_settings(llm_papers, chat, llm_retries=1))) as url:
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


def test_the_faq_streams_in_and_model_html_is_shown_as_text(page, site, chat):
    chat.script(Step(text=HOSTILE))
    chat.piece_delay = 0.01
    page.goto(site + "/paper/arxiv:0704.0001")
    assert API_KEY not in page.content()
    page.click("#faq-button")
    expect(page.locator("#assistant-note")).to_contain_text("Written just now by kimi-test (prompt v1), from "
                                                            "title and abstract only")
    expect(page.locator("#faq li")).to_have_count(2)
    question = page.locator("#faq h3.question")
    assert question.inner_text() == "Q: Is <script>window.pwned = 1</script> run?"
    assert page.locator("#faq p").inner_text() == 'No: <img src="x" onerror="window.pwned = 2"> stays text.'
    assert page.locator("#faq li code").inner_text() == "code" and page.locator("#faq li strong").inner_text() == "bold"
    assert page.locator("#faq script, #faq img").count() == 0
    assert page.evaluate("window.pwned") is None
    expect(page.locator("#assistant-status")).to_be_hidden()  # the last piece may be drawn before "done" arrives
    expect(page.locator("#faq-button")).to_be_enabled()
    page.reload()
    page.click("#faq-button")
    expect(page.locator("#assistant-note")).to_contain_text("Stored answer by kimi-test (prompt v1)")
    expect(page.locator("#faq h3.question")).to_have_text("Q: Is <script>window.pwned = 1</script> run?")
    assert len(chat.requests) == 1


def test_translation_follows_the_readers_language_kept_in_the_browser(page, site, chat):
    page.goto(site + "/paper/arxiv:0704.0002")
    options = page.locator("#translate-language option")
    assert options.first.inner_text() == "中文" and page.input_value("#translate-language") == "zh"
    page.select_option("#translate-language", "ja")
    page.click("#translate-button")
    expect(page.locator("#translation p")).to_contain_text("[Japanese] ")
    assert page.get_attribute("#translation", "lang") == "ja"
    assert page.locator("h1").inner_text() == "Sparsity-certifying Graph Decompositions"  # the title stays
    page.reload()
    assert page.input_value("#translate-language") == "ja"
    assert page.evaluate("localStorage.getItem('papersift.language')") == '"ja"'


def test_the_page_says_when_the_model_is_unavailable_or_the_budget_is_spent(page, site, chat, llm_papers):
    chat.script(Step(status=503), Step(status=503))
    page.goto(site + "/paper/arxiv:0704.0003")
    page.click("#faq-button")
    status = page.locator("#assistant-status.error")
    expect(status).to_have_text("The language model (kimi-test) is unavailable: it kept answering 503. "
                                "Try again later.")
    assert page.locator("#faq").is_hidden() and page.locator("#assistant-note").is_hidden()
    assert page.is_enabled("#faq-button")
    write(llm_papers, "INSERT INTO llm_usage VALUES ((now() AT TIME ZONE 'UTC')::date, 500) "
                      "ON CONFLICT (day) DO UPDATE SET generations = 500")  # all of it
    page.click("#translate-button")
    expect(status).to_have_text("Today's budget of 500 generations is spent. Answers already made are still "
                                "shown; new ones resume at 00:00 UTC.")
    assert page.locator("#translation").is_hidden()
    page.script_errors[:] = [e for e in page.script_errors if "status of 503" not in e]  # the refusals themselves

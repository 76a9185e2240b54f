"""Paper FAQ and translation through the API, against a local chat-completions server driven by the
real `openai` client: streaming, storing, serving stored answers, retries, limits and secrets."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace

from pydantic import SecretStr

from papersift.llm import prompts
from papersift.settings import Settings
from tests.chat_server import Step, default_answer
from tests.conftest import Cli, query_rows
from tests.harvest_server import harvest_server
from tests.llm_fixtures import API_KEY, llm_settings, make_pdf, write

PAPER = "arxiv:0704.0001"
OTHER = "arxiv:0704.0002"
THIRD = "arxiv:0704.0003"


def app_client(settings: Settings):
    from fastapi.testclient import TestClient

    from service.app import create_app

    return TestClient(create_app(settings))


def read_events(response) -> list[tuple[str, dict]]:
    """The (event, data) pairs of a text/event-stream body."""
    assert response.headers["content-type"].startswith("text/event-stream"), response.text[:300]
    events = []
    for block in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def answer_of(events) -> str:
    return "".join(data["text"] for name, data in events if name == "delta")


def test_faq_streams_is_stored_and_the_next_reader_gets_it_without_the_model(llm_papers, chat):
    with app_client(llm_settings(llm_papers, chat)) as client:
        assert client.get(f"/api/v1/papers/{PAPER}/faq").json()["error"]["code"] == "not_generated"
        events = read_events(client.get(f"/api/v1/papers/{PAPER}/faq/stream"))
        names = [name for name, _ in events]
        assert names[0] == "meta" and names[-1] == "done" and names.count("delta") > 5  # streamed in pieces
        meta = events[0][1]
        assert meta == {"model": "kimi-test", "prompt_version": 1, "language": "en", "stored": False,
                        "note": "title and abstract only: PDF not fetched (PAPERSIFT_LLM_FETCH_PDF is off)"}
        request = chat.requests[0]
        assert request["stream"] is True and request["model"] == "kimi-test"
        user = request["messages"][1]["content"]
        assert user.startswith("Title: Calculation of prompt diphoton production cross sections")
        assert "A fully differential calculation in perturbative quantum chromodynamics" in user
        assert answer_of(events) == default_answer(request).strip()

        stored = client.get(f"/api/v1/papers/{PAPER}/faq").json()
        assert stored["paper_id"] == PAPER and stored["model"] == "kimi-test" and stored["prompt_version"] == 1
        assert stored["content"] == answer_of(events) and stored["created_at"].startswith("20")
        again = read_events(client.get("/api/v1/papers/0704.0001/faq/stream"))  # a bare id finds it too
        assert again[0][1]["stored"] is True and answer_of(again) == stored["content"]
        assert len(chat.requests) == 1  # nobody pays twice
    assert used_budget(llm_papers) == 1


def test_a_new_prompt_version_regenerates_lazily(llm_papers, chat, monkeypatch):
    with app_client(llm_settings(llm_papers, chat)) as client:
        read_events(client.get(f"/api/v1/papers/{PAPER}/faq/stream"))
        monkeypatch.setitem(prompts.PROMPTS, "faq", replace(prompts.FAQ, version=2))
        assert client.get(f"/api/v1/papers/{PAPER}/faq").status_code == 404  # the v1 answer is not served
        assert len(chat.requests) == 1  # nothing regenerated until a reader asks
        events = read_events(client.get(f"/api/v1/papers/{PAPER}/faq/stream"))
        assert events[0][1]["prompt_version"] == 2 and events[0][1]["stored"] is False
        assert client.get(f"/api/v1/papers/{PAPER}/faq").json()["prompt_version"] == 2
        assert len(chat.requests) == 2
    assert query_rows(llm_papers, "SELECT prompt_version, status FROM paper_generations ORDER BY 1") == \
        [(1, "done"), (2, "done")]


def test_translation_is_in_the_readers_language_and_cached_per_language(llm_papers, chat):
    with app_client(llm_settings(llm_papers, chat)) as client:
        chinese = read_events(client.get(f"/api/v1/papers/{PAPER}/translation/stream"))  # default: zh
        assert chinese[0][1]["language"] == "zh"
        assert answer_of(chinese).startswith("[Simplified Chinese] A fully differential calculation")
        user = chat.requests[0]["messages"][1]["content"]
        assert "Calculation of prompt diphoton" not in user  # titles stay in their language
        again = read_events(client.get(f"/api/v1/papers/{PAPER}/translation/stream", params={"lang": "zh"}))
        assert again[0][1]["stored"] is True
        japanese = read_events(client.get(f"/api/v1/papers/{PAPER}/translation/stream", params={"lang": "ja"}))
        assert answer_of(japanese).startswith("[Japanese]")
        assert client.get(f"/api/v1/papers/{PAPER}/translation", params={"lang": "ja"}).json()["language"] == "ja"
        missing = client.get(f"/api/v1/papers/{PAPER}/translation", params={"lang": "fr"}).json()["error"]
        assert missing["hint"] == f"GET /api/v1/papers/{PAPER}/translation/stream?lang=fr makes it"
        assert client.get(f"/api/v1/papers/{PAPER}/translation", params={"lang": "xx"}).status_code == 422
        assert len(chat.requests) == 2


def test_a_500_and_a_429_with_retry_after_are_retried(llm_papers, chat):
    chat.script(Step(status=500), Step(status=429, retry_after="1"))
    with app_client(llm_settings(llm_papers, chat)) as client:
        events = read_events(client.get(f"/api/v1/papers/{PAPER}/faq/stream"))
    assert events[-1][0] == "done" and len(chat.requests) == 3
    assert chat.request_times[2] - chat.request_times[1] >= 1.0  # waited as Retry-After said


def test_a_model_that_keeps_failing_gets_a_clear_503_and_costs_nothing(llm_papers, chat):
    chat.script(Step(status=503), Step(status=503), Step(status=503))
    with app_client(llm_settings(llm_papers, chat)) as client:
        response = client.get(f"/api/v1/papers/{PAPER}/faq/stream")
        assert response.status_code == 503
        assert response.json()["error"] == {
            "status": 503, "code": "model_unavailable", "hint": "try again later",
            "message": "the language model (kimi-test) is unavailable: it kept answering 503"}
        assert len(chat.requests) == 3  # one try and two retries
        assert used_budget(llm_papers) == 0
        assert query_rows(llm_papers, "SELECT count(*) FROM paper_generations") == [(0,)]
        assert read_events(client.get(f"/api/v1/papers/{PAPER}/faq/stream"))[-1][0] == "done"


def test_a_slow_model_times_out_with_a_message(llm_papers, chat):
    chat.script(Step(delay=2.0))
    with app_client(llm_settings(llm_papers, chat, llm_timeout_seconds=0.5, llm_retries=0)) as client:
        response = client.get(f"/api/v1/papers/{PAPER}/faq/stream")
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "the language model (kimi-test) did not answer within 0.5 s"


def test_a_spent_budget_says_so_and_stored_answers_are_still_served(llm_papers, chat):
    with app_client(llm_settings(llm_papers, chat, llm_daily_budget=1)) as client:
        read_events(client.get(f"/api/v1/papers/{PAPER}/faq/stream"))
        refused = client.get(f"/api/v1/papers/{OTHER}/faq/stream")
        assert refused.status_code == 503
        assert refused.json()["error"] == {
            "status": 503, "code": "budget_spent", "message": "today's budget of 1 generations is spent",
            "hint": "answers already made are still shown; new ones resume at 00:00 UTC"}
        assert read_events(client.get(f"/api/v1/papers/{PAPER}/faq/stream"))[0][1]["stored"] is True
    assert len(chat.requests) == 1


def test_a_client_asking_too_fast_gets_429_and_stored_answers_stay_free(llm_papers, chat):
    with app_client(llm_settings(llm_papers, chat, llm_rate_limit_per_minute=2)) as client:
        for paper in (PAPER, OTHER):
            assert read_events(client.get(f"/api/v1/papers/{paper}/faq/stream"))[-1][0] == "done"
        limited = client.get(f"/api/v1/papers/{THIRD}/faq/stream")
        assert limited.status_code == 429 and 25 <= int(limited.headers["Retry-After"]) <= 30
        assert limited.json()["error"]["code"] == "rate_limited"
        assert limited.json()["error"]["message"].startswith("too many answers asked for at once: wait ")
        assert read_events(client.get(f"/api/v1/papers/{PAPER}/faq/stream"))[0][1]["stored"] is True
    assert len(chat.requests) == 2


def test_a_second_reader_waits_for_the_answer_being_generated(llm_papers, chat):
    chat.piece_delay = 0.05
    with app_client(llm_settings(llm_papers, chat)) as client:
        first: list = []
        reader = threading.Thread(target=lambda: first.append(client.get(f"/api/v1/papers/{PAPER}/faq/stream")))
        reader.start()
        deadline = time.monotonic() + 10
        while not chat.requests:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = read_events(client.get(f"/api/v1/papers/{PAPER}/faq/stream"))
        reader.join()
    assert second[0] == ("status", {"message": "another reader asked for this a moment ago: waiting for that answer"})
    assert answer_of(second) == answer_of(read_events(first[0])) and len(chat.requests) == 1


def test_only_an_admin_regenerates(llm_papers, chat):
    settings = llm_settings(llm_papers, chat, admin_token=SecretStr("admin-secret"))
    with app_client(settings) as client:
        read_events(client.get(f"/api/v1/papers/{PAPER}/faq/stream"))
        assert client.post(f"/api/v1/admin/papers/{PAPER}/regenerate").status_code == 401
        first = client.get(f"/api/v1/papers/{PAPER}/faq").json()["content"]
        chat.script(Step(status=500), Step(status=500), Step(status=500))
        failed = client.post(f"/api/v1/admin/papers/{PAPER}/regenerate", headers={"Authorization": "Bearer admin-secret"})
        assert failed.status_code == 503 and failed.json()["error"]["code"] == "model_unavailable"
        assert client.get(f"/api/v1/papers/{PAPER}/faq").json()["content"] == first  # the old answer stays
        chat.script(Step(text="**Q: Regenerated?**\nYes."))
        response = client.post(f"/api/v1/admin/papers/{PAPER}/regenerate", params={"kind": "faq"},
                               headers={"Authorization": "Bearer admin-secret"})
        assert response.status_code == 200, response.text
        assert response.json()["content"] == "**Q: Regenerated?**\nYes."
        assert chat.requests[-1].get("stream") in (None, False)  # a whole, non-streamed answer
        assert client.get(f"/api/v1/papers/{PAPER}/faq").json()["content"] == "**Q: Regenerated?**\nYes."
    assert len(chat.requests) == 5
    assert query_rows(llm_papers, "SELECT count(*), max(status) FROM paper_generations") == [(1, "done")]
    assert used_budget(llm_papers) == 2  # the failed try gave its unit back


def test_without_a_model_the_feature_is_hidden_and_says_why(llm_papers):
    with app_client(llm_papers) as client:
        for path in ("faq", "faq/stream", "translation", "translation/stream?lang=zh"):
            response = client.get(f"/api/v1/papers/{PAPER}/{path}")
            assert response.status_code == 404
            assert response.json()["error"]["message"] == "no language model is configured"
        page = client.get(f"/paper/{PAPER}")
        assert page.status_code == 200 and 'id="faq-button"' not in page.text and "assistant" not in page.text


def test_the_api_key_never_reaches_pages_answers_or_logs(llm_papers, chat, caplog):
    caplog.set_level(logging.DEBUG)
    chat.script(Step(status=401, body=json.dumps({"error": {"message": f"Incorrect API key provided: {API_KEY}"}})))
    settings = llm_settings(llm_papers, chat, llm_retries=0)
    with app_client(settings) as client:
        refused = client.get(f"/api/v1/papers/{PAPER}/faq/stream")
        assert refused.status_code == 503 and API_KEY not in refused.text
        assert refused.json()["error"]["hint"] == "the operator should check PAPERSIFT_LLM_API_KEY"
        page = client.get(f"/paper/{PAPER}")
        assert 'id="faq-button"' in page.text and API_KEY not in page.text
        answered = client.get(f"/api/v1/papers/{PAPER}/faq/stream")
        assert API_KEY not in answered.text
    assert chat.authorizations == [f"Bearer {API_KEY}"] * 2  # it was sent to the model, and only there
    assert "llm kimi-test: HTTP 401" in caplog.text and API_KEY not in caplog.text
    config = Cli(settings)("config").output
    assert "PAPERSIFT_LLM_API_KEY = ********" in config and API_KEY not in config


def test_the_faq_reads_the_pdf_text_cut_to_the_context(llm_papers, chat):
    lines = [f"{n} Section on diphoton production, paragraph {n} of the measurement." for n in range(1, 61)]
    with harvest_server() as files:
        files.add("/pdf/0704.0004", make_pdf([lines[:30], lines[30:]]), content_type="application/pdf")
        files.add("/pdf/broken", "<html>not a pdf</html>", content_type="text/html")
        write(llm_papers, f"""UPDATE papers SET links = links || jsonb_build_object('pdf', CASE public_id
            WHEN 'arxiv:0704.0004' THEN '{files.url}/pdf/0704.0004' WHEN 'arxiv:0704.0005' THEN '{files.url}/pdf/broken'
            ELSE 'http://127.0.0.1:9/pdf' END) WHERE public_id IN ('arxiv:0704.0004', 'arxiv:0704.0005', '{OTHER}')""")
        with app_client(llm_settings(llm_papers, chat, llm_fetch_pdf=True, llm_context_chars=2500)) as client:
            full = read_events(client.get("/api/v1/papers/arxiv:0704.0004/faq/stream"))
            broken = read_events(client.get("/api/v1/papers/arxiv:0704.0005/faq/stream"))
            unreachable = read_events(client.get(f"/api/v1/papers/{OTHER}/faq/stream"))
    title, abstract = query_rows(llm_papers, "SELECT title, abstract FROM papers WHERE public_id = 'arxiv:0704.0004'")[0]
    room = 2500 - len(title) - len(abstract)
    extracted = len("\n".join(lines))
    assert full[0][1]["note"] == f"title, abstract and full text (2 pages), the first {room:,} of {extracted:,} characters"
    user = chat.requests[0]["messages"][1]["content"]
    assert "Full text (extracted from the PDF, cut to fit):\n1 Section on diphoton production" in user
    assert "60 Section" not in user
    assert broken[0][1]["note"] == "title and abstract only: the PDF link did not give a PDF"
    assert unreachable[0][1]["note"].startswith("title and abstract only: the PDF could not be fetched (")
    assert "Full text" not in chat.requests[2]["messages"][1]["content"]
    stored = query_rows(llm_papers, "SELECT input_note FROM paper_generations ORDER BY id")
    assert [row[0] for row in stored] == [full[0][1]["note"], broken[0][1]["note"], unreachable[0][1]["note"]]


def used_budget(settings: Settings) -> int:
    return query_rows(settings, "SELECT coalesce(sum(generations), 0) FROM llm_usage")[0][0]

"""`papersift faq generate`: a listing day's FAQs, resumable, within the daily budget."""

from __future__ import annotations

from tests.chat_server import Step
from tests.conftest import Cli, query_rows
from tests.llm_fixtures import llm_settings

DAY = "2007-04-03"  # cond-mat.other that day: 5 new papers and 3 cross-lists in the sample


def listed_ids(settings) -> list[str]:
    return [row[0] for row in query_rows(settings, f"""SELECT public_id FROM papers
        WHERE 'cond-mat.other' = ANY(categories) AND announced_date = '{DAY}' ORDER BY public_id""")]


def stored_ids(settings) -> list[str]:
    return [row[0] for row in query_rows(settings, """SELECT p.public_id FROM paper_generations g
        JOIN papers p ON p.id = g.paper_id WHERE g.kind = 'faq' AND g.status = 'done' ORDER BY 1""")]


def test_generates_a_days_faqs_stops_at_the_budget_and_resumes(llm_papers, chat):
    listed = listed_ids(llm_papers)
    assert len(listed) == 8
    first = Cli(llm_settings(llm_papers, chat, llm_daily_budget=5))("faq", "generate", "--category", "cond-mat.other",
                                                               "--date", DAY)
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[0].startswith(
        f"faq generate cond-mat.other {DAY}: papers 8 · generated 5 · already stored 0 · failed 0 · "
        "budget left today 0 · ")
    assert first.output.splitlines()[1] == ("stopped: today's budget of 5 generations is spent: re-run tomorrow "
                                           "to go on (stored FAQs are skipped)")
    assert len(chat.requests) == 5 and all(not r.get("stream") for r in chat.requests)
    assert len(stored_ids(llm_papers)) == 5

    second = Cli(llm_settings(llm_papers, chat, llm_daily_budget=20))("faq", "generate", "--category",
                                                                 "cond-mat.other", "--date", DAY)
    assert second.exit_code == 0, second.output
    assert "papers 8 · generated 3 · already stored 5 · failed 0 · budget left today 12 · " in second.output
    assert "stopped" not in second.output
    assert stored_ids(llm_papers) == listed and len(chat.requests) == 8

    third = Cli(llm_settings(llm_papers, chat, llm_daily_budget=20))("faq", "generate", "--category",
                                                                "cond-mat.other", "--date", DAY)
    assert "papers 8 · generated 0 · already stored 8 · failed 0 · " in third.output
    assert len(chat.requests) == 8


def test_stops_with_exit_4_when_the_model_keeps_failing(llm_papers, chat):
    chat.script(*[Step(status=500)] * 3)
    result = Cli(llm_settings(llm_papers, chat, llm_retries=0))("faq", "generate", "--category", "cond-mat.other",
                                                            "--date", DAY)
    assert result.exit_code == 4, result.output
    assert "generated 0 · already stored 0 · failed 3 · budget left today 500 · " in result.output
    assert ("stopped: the language model (kimi-test) is unavailable: it kept answering 500 (3 papers in a row): "
            "re-run later to go on") in result.output
    assert stored_ids(llm_papers) == []


def test_refuses_without_a_model(llm_papers):
    result = Cli(llm_papers)("faq", "generate", "--category", "cond-mat.other")
    assert result.exit_code == 2
    assert "error: no language model is configured" in result.output

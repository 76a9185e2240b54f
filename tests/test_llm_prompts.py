"""The versioned prompts, the LLM settings' checks and the per-client rate limiter (pure code)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from papersift.llm.prompts import FAQ, LANGUAGE_LABELS, LANGUAGES, TRANSLATION, build_messages
from papersift.settings import Settings
from service.rate_limit import ClientRateLimiter


def test_the_faq_prompt_asks_the_readers_first_questions_from_the_paper_text():
    system, user = build_messages(FAQ, title="Attention Is All You Need", authors=["A. Vaswani", "N. Shazeer"],
                                  abstract=" The dominant models... ", full_text="1 Introduction\nRNNs...", cut=True)
    assert system["role"] == "system" and "never invent" in system["content"]
    assert user["content"].startswith("Title: Attention Is All You Need\nAuthors: A. Vaswani, N. Shazeer\n\n"
                                      "Abstract:\nThe dominant models...\n\n"
                                      "Full text (extracted from the PDF, cut to fit):\n1 Introduction\nRNNs...\n\n")
    for topic in ("What problem", "method", "main results", "limitations", "**Q: <question>**"):
        assert topic in user["content"]


def test_the_translation_prompt_names_the_language_and_leaves_the_title_out():
    _, user = build_messages(TRANSLATION, title="A Title", authors=[], abstract="We study X.", language="zh")
    assert user["content"] == "Translate this abstract into Simplified Chinese.\n\nWe study X."
    assert next(iter(LANGUAGES)) == next(iter(LANGUAGE_LABELS)) == "zh"  # Chinese first
    assert FAQ.version >= 1 and TRANSLATION.version >= 1


def test_llm_settings_refuse_a_half_configuration_and_read_empty_as_unset():
    with pytest.raises(ValidationError, match="PAPERSIFT_LLM_MODEL: set the model name"):
        Settings(_env_file=None, llm_base_url="https://api.moonshot.cn/v1")
    with pytest.raises(ValidationError, match="PAPERSIFT_LLM_BASE_URL: 'api.moonshot.cn' is not an http"):
        Settings(_env_file=None, llm_base_url="api.moonshot.cn", llm_model="kimi")
    with pytest.raises(ValidationError, match="PAPERSIFT_LLM_LANGUAGE: 'cn' is not one of zh, en"):
        Settings(_env_file=None, llm_language="cn")
    unset = Settings(_env_file=None, llm_base_url="", llm_model=" ", llm_api_key="")
    assert not unset.llm_enabled and unset.llm_api_key is None
    assert Settings(_env_file=None, llm_base_url="http://127.0.0.1:11434/v1", llm_model="qwen3").llm_enabled


def test_the_rate_limiter_allows_a_burst_per_client_then_says_how_long_to_wait(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("service.rate_limit.time.monotonic", lambda: now[0])
    limiter = ClientRateLimiter(per_minute=2)
    assert limiter.take("10.0.0.1") == 0 and limiter.take("10.0.0.1") == 0
    assert limiter.take("10.0.0.1") == pytest.approx(30.0)
    assert limiter.take("10.0.0.2") == 0  # another client has its own bucket
    now[0] += 30
    assert limiter.take("10.0.0.1") == 0 and limiter.take("10.0.0.1") > 0

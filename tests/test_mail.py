"""papersift/mail.py against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import logging

import pytest

from papersift.mail import MailError, new_message, send_mail
from papersift.settings import Settings
from tests.mail_server import body_html, body_text, mail_server


def test_a_message_reaches_the_server_with_both_bodies_and_extra_headers():
    with mail_server() as mailbox:
        settings = Settings(_env_file=None, smtp_url=mailbox.url, smtp_starttls=False,
                            mail_from="papersift <digest@papers.example.org>")
        send_mail(settings, new_message(settings, to="reader@example.org", subject="Hello", text="plain",
                                        html="<p>rich</p>", headers={"List-Unsubscribe": "<https://x/u>"}))
        [message] = mailbox.wait_for("reader@example.org")
    assert message["From"] == "papersift <digest@papers.example.org>"
    assert message["Subject"] == "Hello"
    assert message["List-Unsubscribe"] == "<https://x/u>"
    assert message["Message-ID"].endswith("@papers.example.org>")
    assert body_text(message).strip() == "plain"
    assert body_html(message).strip() == "<p>rich</p>"


def test_a_server_without_starttls_is_refused_when_starttls_is_required():
    with mail_server() as mailbox:
        settings = Settings(_env_file=None, smtp_url=mailbox.url)  # STARTTLS required by default
        with pytest.raises(MailError, match="does not offer STARTTLS"):
            send_mail(settings, new_message(settings, to="reader@example.org", subject="s", text="t"))
        assert mailbox.messages == []


def test_a_refused_message_and_an_unreachable_server_raise_mail_error():
    with mail_server() as mailbox:
        settings = Settings(_env_file=None, smtp_url=mailbox.url, smtp_starttls=False)
        mailbox.fail_next(1)
        with pytest.raises(MailError, match="451"):
            send_mail(settings, new_message(settings, to="reader@example.org", subject="s", text="t"))
        port = mailbox.port
    settings = Settings(_env_file=None, smtp_url=f"smtp://127.0.0.1:{port}", smtp_starttls=False)
    with pytest.raises(MailError, match="127.0.0.1"):
        send_mail(settings, new_message(settings, to="reader@example.org", subject="s", text="t"))


def test_without_an_smtp_url_the_message_is_logged(caplog):
    settings = Settings(_env_file=None)
    with caplog.at_level(logging.WARNING, logger="papersift.mail"):
        send_mail(settings, new_message(settings, to="reader@example.org", subject="Sign in",
                                        text="https://site/account/verify?token=abc"))
    assert "token=abc" in caplog.text and "reader@example.org" in caplog.text

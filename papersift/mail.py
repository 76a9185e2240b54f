"""Sending mail: sign-in links and digests go through `send_mail`, over the SMTP server of
PAPERSIFT_SMTP_URL (the standard library's smtplib; messages are built with `email.message`).

Without PAPERSIFT_SMTP_URL a message is written to the log instead, so that a single-machine
install can still sign in (the operator reads the link from the log).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from papersift.settings import Settings

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0


class MailError(Exception):
    """The SMTP server could not be reached or refused the message (the text says which)."""


def new_message(settings: Settings, *, to: str, subject: str, text: str, html: str | None = None,
                headers: dict[str, str] | None = None) -> EmailMessage:
    """A message from PAPERSIFT_MAIL_FROM with a plain-text body and, given one, an HTML one."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id(settings)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def message_id(settings: Settings) -> str:
    """A new Message-ID in the sender's domain."""
    return make_msgid(domain=_sender_domain(settings.mail_from))


def send_mail(settings: Settings, message: Message) -> None:
    """Send one message, or log it when no SMTP server is configured. Raises MailError."""
    if settings.smtp_url is None:
        logger.warning("no PAPERSIFT_SMTP_URL: mail to %s not sent; it reads:\n%s",
                       message["To"], _readable(message))
        return
    url = urlsplit(settings.smtp_url.get_secret_value())
    try:
        with _connect(url, starttls=settings.smtp_starttls) as server:
            if url.username:
                server.login(unquote(url.username), unquote(url.password or ""))
            server.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise MailError(f"{url.hostname}:{url.port or ''}: {error}") from error


def _connect(url, *, starttls: bool) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if url.scheme == "smtps":
        return smtplib.SMTP_SSL(url.hostname, url.port or 465, timeout=TIMEOUT_SECONDS, context=context)
    server = smtplib.SMTP(url.hostname, url.port or 587, timeout=TIMEOUT_SECONDS)
    if starttls:
        try:
            server.starttls(context=context)
        except smtplib.SMTPNotSupportedError as error:
            server.close()
            raise MailError(f"{url.hostname} does not offer STARTTLS (PAPERSIFT_SMTP_STARTTLS=false "
                            "sends in the clear to a trusted relay)") from error
    return server


def _sender_domain(sender: str) -> str:
    return sender.rsplit("@", 1)[-1].strip(" >") or "localhost"


def _readable(message: Message) -> str:
    """Subject and plain text of a message (an EmailMessage, or the compat32 kind digests use)."""
    plain = next((part for part in message.walk() if part.get_content_type() == "text/plain"), None)
    text = plain.get_payload(decode=True).decode(plain.get_content_charset() or "utf-8") if plain else ""
    return f"Subject: {make_header(decode_header(str(message['Subject'])))}\n\n{text}"

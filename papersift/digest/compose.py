"""A reader's digest as a mail: subject, plain text and HTML, and the one-click unsubscribe
headers of RFC 8058 (List-Unsubscribe with an https URL, List-Unsubscribe-Post)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.policy import compat32
from email.mime.nonmultipart import MIMENonMultipart

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from papersift.digest.periods import Period
from papersift.mail import message_id, new_message
from papersift.settings import Settings

DEFAULT_SITE = "http://localhost:8000"
ABSTRACT_CHARS = 300
AUTHORS_SHOWN = 6
UNFOLDED = compat32.clone(max_line_length=0)  # header lines whole: List-Unsubscribe stays one token


@dataclass(frozen=True)
class DigestEntry:
    public_id: str
    title: str
    authors: list[str]
    abstract: str
    closest_star: tuple[str, str] | None  # (public id, title) of the starred paper it is closest to


@dataclass(frozen=True)
class Digest:
    email: str
    unsubscribe_key: str
    period: Period
    entries: list[DigestEntry]  # best first, at most the mail's share
    total: int  # the period's papers in the reader's subscriptions
    ranked_for_reader: bool  # False: no stars, newest first


def to_message(settings: Settings, digest: Digest) -> Message:
    """The mail: multipart/alternative, plain text then HTML, with the unsubscribe headers. Built
    with the email package's compat32 classes, not EmailMessage: 1.5 ms instead of 7 ms a mail here,
    which at 10,000 readers is most of a run (bench/digest.py). An address beyond ASCII needs
    SMTPUTF8, which only EmailMessage's policies can send."""
    if not digest.email.isascii():
        return new_message(settings, to=digest.email, subject=subject(digest), text=to_text(settings, digest),
                           html=to_html(settings, digest), headers=headers(settings, digest))
    message = MIMEMultipart("alternative", policy=UNFOLDED)
    message["From"] = settings.mail_from
    message["To"] = digest.email
    message["Subject"] = subject(digest)  # ASCII: no encoded-word to build
    message["Message-ID"] = message_id(settings)
    for name, value in headers(settings, digest).items():
        message[name] = value
    message.attach(_text_part(to_text(settings, digest), "plain"))
    message.attach(_text_part(to_html(settings, digest), "html"))
    return message


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    """A UTF-8 text part in base64, encoded by the C codec (email's own encoder loops in Python)."""
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(base64.encodebytes(body.encode()).decode("ascii"))
    return part


def site_url(settings: Settings) -> str:
    return (settings.public_url or DEFAULT_SITE).rstrip("/")


def unsubscribe_url(settings: Settings, key: str) -> str:
    return f"{site_url(settings)}/unsubscribe/{key}"


def subject(digest: Digest) -> str:
    what = "today's" if digest.period.cadence == "daily" else "this week's"
    return f"papersift: {digest.total} new paper{'s' * (digest.total != 1)}, {what} digest ({digest.period.key})"


def headers(settings: Settings, digest: Digest) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{unsubscribe_url(settings, digest.unsubscribe_key)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def to_text(settings: Settings, digest: Digest) -> str:
    site = site_url(settings)
    lines = [_intro(digest), ""]
    for number, entry in enumerate(digest.entries, 1):
        lines.append(f"{number}. {entry.title}")
        lines.append(f"   {_authors(entry.authors)}")
        lines.append(f"   {site}/paper/{entry.public_id}")
        if entry.closest_star:
            lines.append(f"   close to your starred: {entry.closest_star[1]}")
        lines.append("")
    if digest.total > len(digest.entries):
        lines += [f"... and {digest.total - len(digest.entries)} more in your subscriptions.", ""]
    lines += ["--", f"Your subscriptions: {site}/account",
              f"Unsubscribe from all digests: {unsubscribe_url(settings, digest.unsubscribe_key)}"]
    return "\n".join(lines) + "\n"


def to_html(settings: Settings, digest: Digest) -> str:
    site = site_url(settings)
    return _template().render(digest=digest, intro=_intro(digest), site=site,
                              unsubscribe=unsubscribe_url(settings, digest.unsubscribe_key),
                              paper_html=lambda entry: _paper_html(site, entry.public_id, entry.title,
                                                                   tuple(entry.authors), entry.abstract))


@lru_cache(maxsize=16_384)
def _paper_html(site: str, public_id: str, title: str, authors: tuple[str, ...], abstract: str) -> Markup:
    """A paper's part of the HTML list, made once per run however many readers get the paper."""
    return Markup(f'<a href="{site}/paper/{escape(public_id)}"><strong>{escape(title)}</strong></a><br>\n'
                  f'<span style="color: #555">{escape(_authors(list(authors)))}</span><br>\n'
                  f'<span>{escape(_abstract(abstract))}</span>')


def _intro(digest: Digest) -> str:
    order = ("ranked by your starred papers" if digest.ranked_for_reader
             else "newest first (star papers to have them ranked for you)")
    shown = f"the best {len(digest.entries)}" if digest.total > len(digest.entries) else "all"
    return (f"{digest.total} new paper{'s' * (digest.total != 1)} in your subscriptions for "
            f"{digest.period.key}; {shown}, {order}:")


def _authors(authors: list[str]) -> str:
    shown = ", ".join(authors[:AUTHORS_SHOWN])
    return shown + (", et al." if len(authors) > AUTHORS_SHOWN else "")


def _abstract(text: str) -> str:
    return text if len(text) <= ABSTRACT_CHARS else text[:ABSTRACT_CHARS].rsplit(" ", 1)[0] + " …"


@lru_cache(maxsize=1)
def _template():
    environment = Environment(loader=FileSystemLoader(Path(__file__).parent),
                              autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("digest_mail.html")

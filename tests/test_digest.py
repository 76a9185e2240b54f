"""The digest, end to end: real papers and vectors (the search corpus), a real SMTP server on
127.0.0.1, the real CLI in a subprocess for the killed and stopped runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from papersift.db import make_engine
from papersift.digest.periods import weekly_period
from papersift.digest.run import send_digests
from tests.conftest import REPO_ROOT, query_rows
from tests.mail_server import body_html, body_text, mail_server
from tests.readers import add_reader, forget_readers, nearest_papers

DAY = "2025-03-18"  # the corpus's newest announcement day (200 cs papers)
SITE = "https://papers.example.org"
COLM_SQL = "SELECT id, public_id FROM papers WHERE venue_slug = 'colm'"


@pytest.fixture
def site(corpus):
    """The corpus's settings mailing through a real SMTP server; accounts removed afterwards."""
    with mail_server() as mailbox:
        settings = corpus.model_copy(update={"smtp_url": SecretStr(mailbox.url), "smtp_starttls": False,
                                             "public_url": SITE})
        yield settings, mailbox
    forget_readers(corpus)


def day_papers(settings, category: str) -> list[tuple[str, str]]:
    """(public id, title) of the day's papers listed in `category`, in the digest's newest-first order."""
    return [tuple(r) for r in query_rows(
        settings, "SELECT public_id, title FROM papers WHERE announced_date = :day AND :c = ANY(categories) "
        "ORDER BY public_id", day=DAY, c=category)]


def numbered_titles(message) -> list[str]:
    return [line.split(". ", 1)[1] for line in body_text(message).splitlines() if line[:1].isdigit() and ". " in line]


def sends(settings) -> dict[str, tuple]:
    return {r.email: (r.status, r.attempts, r.paper_count, r.last_error) for r in query_rows(
        settings, "SELECT email, status, attempts, paper_count, last_error FROM digest_sends "
        "JOIN accounts ON accounts.id = account_id")}


def test_each_subscriber_gets_one_digest_ranked_by_their_stars(site):
    settings, mailbox = site
    papers = day_papers(settings, "cs.CL")
    titles = dict(papers)
    target_id = papers[len(papers) // 2][0]  # neither first nor last in the default order
    far_id = nearest_papers(settings, target_id, f"SELECT id, public_id FROM papers WHERE announced_date = '{DAY}' "
                            "AND 'cs.CL' = ANY(categories)", len(papers))[-1]  # the day's paper least like it
    stars = nearest_papers(settings, target_id, COLM_SQL, 5)
    far_stars = nearest_papers(settings, far_id, COLM_SQL, 5)
    reader = add_reader(settings, "ranked@example.org", stars=stars, subscriptions=[("category", "cs.CL", "daily")])
    add_reader(settings, "other@example.org", stars=far_stars, subscriptions=[("category", "cs.CL", "daily")])
    add_reader(settings, "newest@example.org", subscriptions=[("category", "cs.CL", "daily")])
    add_reader(settings, "quiet@example.org", subscriptions=[("category", "hep-th", "daily")])

    summary = send_digests(settings, make_engine(settings), cadence="daily")

    assert (summary.period, summary.papers, summary.subscribers) == (DAY, 200, 4)
    assert (summary.sent, summary.empty, summary.failed, summary.skipped) == (3, 1, 0, 0)
    [ranked] = mailbox.to("ranked@example.org")
    [other] = mailbox.to("other@example.org")
    [newest] = mailbox.to("newest@example.org")
    assert mailbox.to("quiet@example.org") == []
    shown = min(len(papers), settings.digest_max_papers)
    assert numbered_titles(newest) == [title for _, title in papers[:shown]]
    mine, theirs = numbered_titles(ranked), numbered_titles(other)
    assert titles[target_id] in mine[:3] and titles[far_id] in theirs[:3]
    def rank(shown: list[str], paper: str) -> int:
        return shown.index(titles[paper]) if titles[paper] in shown else len(shown)

    assert rank(mine, far_id) > rank(mine, target_id) and rank(theirs, target_id) > rank(theirs, far_id)
    assert ranked["Subject"] == f"papersift: {len(papers)} new papers, today's digest ({DAY})"
    target_entry = body_text(ranked).split(f"{titles[target_id]}\n")[1].split("\n\n")[0]
    assert f"{SITE}/paper/{target_id}" in target_entry
    [(closest_title,)] = query_rows(settings, "SELECT title FROM papers WHERE public_id = :p", p=stars[0])
    assert target_entry.splitlines()[-1] == f"   close to your starred: {closest_title}"
    assert "close to your starred" not in body_text(newest)
    unsubscribe = f"{SITE}/unsubscribe/{reader['unsubscribe_key']}"
    assert ranked["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert ranked["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"Unsubscribe from all digests: {unsubscribe}" in body_text(ranked)
    html = body_html(ranked)
    assert f'<a href="{SITE}/paper/{target_id}"><strong>' in html
    assert f'<a href="{unsubscribe}">' in html
    assert sends(settings) == {email: ("sent", 1, len(papers), None)
                               for email in ("ranked@example.org", "other@example.org", "newest@example.org")}

    again = send_digests(settings, make_engine(settings), cadence="daily")
    assert (again.sent, again.skipped, again.empty) == (0, 3, 1)
    assert len(mailbox.messages) == 3


def test_a_refused_mail_is_recorded_and_retried_by_a_later_run(site):
    settings, mailbox = site
    for name in ("first", "second"):
        add_reader(settings, f"{name}@example.org", subscriptions=[("category", "cs.LG", "daily")])
    mailbox.fail_next(1)
    summary = send_digests(settings, make_engine(settings), cadence="daily")
    assert (summary.sent, summary.failed) == (1, 1)
    [(email, state)] = [(e, s) for e, s in sends(settings).items() if s[0] == "failed"]
    assert state[1] == 1 and "451" in state[3]

    too_soon = send_digests(settings, make_engine(settings), cadence="daily")  # its retry is 600 s away
    assert (too_soon.sent, too_soon.failed, too_soon.skipped) == (0, 0, 2)

    _make_due(settings, email)
    mailbox.fail_next(1)
    refused_again = send_digests(settings, make_engine(settings), cadence="daily")
    assert (refused_again.sent, refused_again.failed, refused_again.skipped) == (0, 1, 1)
    [(wait,)] = query_rows(settings, "SELECT extract(epoch FROM next_attempt_at - now()) FROM digest_sends "
                           "WHERE status = 'failed'")
    assert 1190 < wait <= 1200  # 600 s, doubled for the second attempt

    _make_due(settings, email)
    retried = send_digests(settings, make_engine(settings), cadence="daily")
    assert (retried.sent, retried.skipped) == (1, 1)
    assert sends(settings)[email][:2] == ("sent", 3)
    assert sorted(m["To"] for m in mailbox.messages) == ["first@example.org", "second@example.org"]


def _make_due(settings, email: str) -> None:
    """Move a failed digest's next attempt into the past (as if its wait were over)."""
    engine = make_engine(settings)
    with engine.begin() as connection:
        connection.execute(text("UPDATE digest_sends SET next_attempt_at = now() - interval '1 second' "
                                "WHERE account_id = (SELECT id FROM accounts WHERE email = :e)"), {"e": email})
    engine.dispose()


def test_a_weekly_digest_takes_the_venue_papers_added_that_week(site, cli):
    settings, mailbox = site
    add_reader(settings, "venues@example.org", subscriptions=[("venue", "colm", "weekly")])
    added = query_rows(settings, "SELECT min(created_at)::date FROM papers WHERE venue_slug = 'colm'")[0][0]
    week = weekly_period(added).key
    cli.settings = settings

    preview = cli("digest", "preview", "venues@example.org", "--cadence", "weekly", "--period", week)
    assert preview.exit_code == 0, preview.output
    assert preview.output.startswith(f"Subject: papersift: 299 new papers, this week's digest ({week})")
    assert mailbox.messages == []

    sent = cli("digest", "send", "--cadence", "weekly", "--period", week)
    assert sent.exit_code == 0, sent.output
    assert f"digest weekly {week}: 299 new papers · 1 subscribers · sent 1 · skipped 0 · failed 0" in sent.output
    [message] = mailbox.wait_for("venues@example.org")
    assert len(numbered_titles(message)) == settings.digest_max_papers
    assert f"... and {299 - settings.digest_max_papers} more in your subscriptions." in body_text(message)


def _cli_process(settings, mailbox, *, processes: int) -> subprocess.Popen:
    env = {**os.environ, "PAPERSIFT_DATABASE_URL": settings.database_url.get_secret_value(),
           "PAPERSIFT_DIGEST_PROCESSES": str(processes),
           "PAPERSIFT_DATA_DIR": str(settings.data_dir), "PAPERSIFT_SMTP_URL": mailbox.url,
           "PAPERSIFT_SMTP_STARTTLS": "false", "PAPERSIFT_PUBLIC_URL": SITE, "PAPERSIFT_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "papersift.cli", "digest", "send"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


READERS = 30


@pytest.mark.parametrize(("kill", "processes"), [(signal.SIGKILL, 1), (signal.SIGKILL, 2), (signal.SIGTERM, 2)])
def test_a_killed_run_mails_no_reader_twice_and_a_rerun_mails_the_rest(site, kill, processes):
    """With two mailing processes (papersift/digest/shards.py) a kill takes both: each leaves at
    most the reader it was mailing `sending`."""
    settings, mailbox = site
    emails = [f"reader{i:02d}@example.org" for i in range(READERS)]
    for email in emails:
        add_reader(settings, email, subscriptions=[("category", "cs.CV", "daily")])
    mailbox.delay = 0.1
    process = _cli_process(settings, mailbox, processes=processes)
    deadline = time.monotonic() + 60
    while len(mailbox.messages) < 3:
        assert time.monotonic() < deadline and process.poll() is None, "no mails from the digest run"
        time.sleep(0.02)
    process.send_signal(kill)
    _, stderr = process.communicate(timeout=30)
    time.sleep(0.3)  # a mail whose client was killed mid-conversation may still be stored
    first_run = {email: len(mailbox.to(email)) for email in emails}
    assert 3 <= sum(first_run.values()) < READERS and max(first_run.values()) == 1
    left = [e for e, (status, *_) in sends(settings).items() if status == "sending"]
    if kill == signal.SIGTERM:  # stops after the mail in flight
        assert process.returncode == 1 and "stopped by SIGTERM" in stderr and left == []
    else:
        assert process.returncode == -signal.SIGKILL and len(left) <= processes

    mailbox.delay = 0
    rerun = send_digests(settings, make_engine(settings), cadence="daily")
    assert rerun.interrupted == len(left)
    for email in emails:
        assert len(mailbox.to(email)) == (first_run[email] if email in left else 1), email
    assert {s[0] for e, s in sends(settings).items() if e not in left} == {"sent"}


def test_a_saved_search_takes_the_days_papers_its_keyword_search_finds(site):
    settings, mailbox = site
    add_reader(settings, "searcher@example.org", subscriptions=[("search", "video", "daily")])
    expected = {r.title for r in query_rows(
        settings, "SELECT title FROM papers WHERE announced_date = :day AND (title || ' ' || abstract) ~* '\\mvideos?\\M'",
        day=DAY)}
    summary = send_digests(settings, make_engine(settings), cadence="daily")
    assert (summary.sent, summary.empty) == (1, 0)
    [message] = mailbox.to("searcher@example.org")
    assert f"papersift: {len(expected)} new papers" in message["Subject"]
    assert set(numbered_titles(message)) <= expected and len(numbered_titles(message)) == min(len(expected), 30)


def test_readers_shared_among_mailing_processes_each_get_one_mail(site):
    settings, mailbox = site
    emails = [f"share{i}@example.org" for i in range(7)]
    for email in emails:
        add_reader(settings, email, subscriptions=[("category", "cs.CV", "daily")])
    summary = send_digests(settings.model_copy(update={"digest_processes": 3}), make_engine(settings),
                           cadence="daily")
    assert (summary.sent, summary.failed, summary.skipped) == (7, 0, 0)
    assert all(len(mailbox.to(email)) == 1 for email in emails)
    assert {status for status, *_ in sends(settings).values()} == {"sent"}

"""Subscriptions through the service: the JSON API, the account page's forms, the buttons on
listings and search, one-click unsubscribe, the "for me" order and the metrics (real
PostgreSQL, the search corpus's real vectors)."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.conftest import query_rows
from tests.readers import add_reader, forget_readers, nearest_papers, sign_in

DAY = "2025-03-18"
API = "/api/v1/me/subscriptions"


@pytest.fixture
def site(corpus):
    with TestClient(create_app(corpus)) as client:
        yield corpus, client
    forget_readers(corpus)


@pytest.fixture
def reader(site):
    """A signed-in reader: (settings, client, account, csrf token)."""
    settings, client = site
    account = add_reader(settings, "reader@example.org")
    return settings, client, account, sign_in(settings, client, account["id"])


def test_add_list_and_remove_subscriptions(reader):
    _, client, _, csrf = reader
    headers = {"X-CSRF-Token": csrf}
    added = client.post(API, json={"kind": "category", "expression": "cs.LG cs.AI-cs.CY"}, headers=headers)
    assert added.status_code == 201, added.text
    assert {k: added.json()[k] for k in ("kind", "expression", "cadence", "label")} == {
        "kind": "category", "expression": "cs.LG+cs.AI-cs.CY", "cadence": "daily", "label": "arXiv cs.LG+cs.AI-cs.CY"}
    again = client.post(API, json={"kind": "category", "expression": "cs.LG+cs.AI-cs.CY"}, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == added.json()["id"]
    venue = client.post(API, json={"kind": "venue", "expression": "NIPS"}, headers=headers)
    assert venue.status_code == 201 and (venue.json()["expression"], venue.json()["cadence"]) == ("neurips", "weekly")
    search = client.post(API, json={"kind": "search", "expression": "graph  neural", "cadence": "weekly",
                                    "filters": {"category": "cs.LG", "year_from": "2024"}}, headers=headers)
    assert search.status_code == 201
    assert (search.json()["expression"], search.json()["filters"]) == ("graph neural", {"category": ["cs.LG"], "year_from": 2024})

    listed = client.get(API).json()
    assert listed["count"] == 3
    assert [s["label"] for s in listed["data"]] == ["arXiv cs.LG+cs.AI-cs.CY", "NeurIPS",
                                                    "search “graph neural” (category cs.LG, year from 2024)"]
    assert client.delete(f"{API}/{venue.json()['id']}", headers=headers).status_code == 204
    assert [s["kind"] for s in client.get(API).json()["data"]] == ["category", "search"]
    missing = client.delete(f"{API}/{venue.json()['id']}", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "subscription_not_found"


@pytest.mark.parametrize(("body", "message"), [
    ({"kind": "category", "expression": "cs..LG"}, "'cs..LG' is not an arXiv category expression (at position 3)"),
    ({"kind": "category", "expression": "-cs.CY"}, "'-cs.CY' names no category to list"),
    ({"kind": "venue", "expression": "nosuchconf"}, "no venue 'nosuchconf'"),
    ({"kind": "venue", "expression": "iclr", "cadence": "daily"}, "venue subscriptions are weekly"),
    ({"kind": "search", "expression": "year:abc"}, None),
    ({"kind": "search", "expression": ""}, "a saved search needs a query or filters"),
    ({"kind": "search", "expression": "x", "filters": {"colour": "red"}},
     "unknown filter 'colour'; filters are source, category, venue, track, year_from, year_to"),
    ({"kind": "category", "expression": "cs.LG", "filters": {"year_from": 2020}}, "a category subscription takes no filters"),
    ({"kind": "author", "expression": "hinton"}, "kind 'author' is not one of category, venue, search"),
    ({"kind": "category", "expression": "cs.LG", "cadence": "hourly"}, "cadence 'hourly' is not one of daily, weekly"),
])
def test_a_subscription_that_cannot_be_mailed_is_refused_with_what_to_change(reader, body, message):
    _, client, _, csrf = reader
    response = client.post(API, json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_query" and error["hint"]
    if message:
        assert error["message"] == message
    assert client.get(API).json()["count"] == 0


def test_subscriptions_need_a_signed_in_reader_and_the_csrf_token(site, reader):
    _, client, _, csrf = reader
    assert client.post(API, json={"kind": "category", "expression": "cs.LG"}).status_code == 403
    assert client.post(API, json={"kind": "category", "expression": "cs.LG"},
                       headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}).status_code == 403
    client.cookies.clear()
    assert client.get(API).status_code == 401
    assert client.post(API, json={"kind": "category", "expression": "cs.LG"}).status_code == 401


def test_the_forms_and_buttons_add_and_remove_subscriptions(reader):
    settings, client, account, csrf = reader
    listing = client.get(f"/arxiv/cs.CL?date={DAY}")
    assert '<button type="submit">Subscribe</button>' in listing.text
    posted = client.post("/account/subscriptions", data={"csrf_token": csrf, "kind": "category", "expression": "cs.CL",
                                                         "next": f"/arxiv/cs.CL?date={DAY}"}, follow_redirects=False)
    assert (posted.status_code, posted.headers["location"]) == (303, f"/arxiv/cs.CL?date={DAY}")
    search = client.get("/search?q=language+models&category=cs.CL&year=2025")
    assert '<button type="submit">Save this search</button>' in search.text
    form = {name: html.unescape(value) for name, value in re.findall(
        r'<input type="hidden" name="(\w+)" value="([^"]*)">', search.text.split('class="inline subscribe"')[1].split("</form>")[0])}
    assert form == {"csrf_token": csrf, "kind": "search", "expression": "language models", "category": "cs.CL",
                    "year_from": "2025", "year_to": "2025", "next": "/search?q=language+models&category=cs.CL&year=2025"}
    assert client.post("/account/subscriptions", data=form, follow_redirects=False).status_code == 303
    venue = client.post("/account/subscriptions", data={"csrf_token": csrf, "kind": "venue", "expression": "colm"},
                        follow_redirects=False)
    assert (venue.status_code, venue.headers["location"]) == (303, "/account")
    rows = client.get(API).json()["data"]
    assert [(s["kind"], s["expression"], s["filters"]) for s in rows] == [
        ("category", "cs.CL", {}), ("search", "language models", {"category": ["cs.CL"], "year_from": 2025, "year_to": 2025}),
        ("venue", "colm", {})]
    removed = client.post(f"/account/subscriptions/{rows[0]['id']}/delete", data={"csrf_token": csrf},
                          follow_redirects=False)
    assert (removed.status_code, removed.headers["location"]) == (303, "/account")
    assert client.post(f"/account/subscriptions/{rows[1]['id']}/delete", data={}).status_code == 403
    assert client.get(API).json()["count"] == 2

    from service.web.render import TEMPLATES
    from service.web.subscriptions import subscriptions_context
    from sqlalchemy.orm import Session

    from papersift.db import make_engine
    from papersift.models import Account

    with Session(make_engine(settings)) as session:
        context = subscriptions_context(session, session.get(Account, account["id"]))
    section = TEMPLATES.env.get_template("_subscriptions.html").render(**context, csrf_token=csrf)
    assert re.findall(r'class="subscription-label">([^<]+)<', section) == [
        "search “language models” (category cs.CL, year from 2025, year to 2025)", "COLM"]
    assert section.count(f'name="csrf_token" value="{csrf}"') == 3


def test_signed_out_pages_show_no_subscribe_button(site):
    _, client = site
    assert "Subscribe</button>" not in client.get(f"/arxiv/cs.CL?date={DAY}").text
    assert "Save this search" not in client.get("/search?q=language").text


def test_one_click_unsubscribe_from_the_header_and_from_the_link(site):
    settings, client = site
    subscriptions = [("category", "cs.CL", "daily"), ("venue", "colm", "weekly")]
    header_reader = add_reader(settings, "header@example.org", subscriptions=subscriptions)
    link_reader = add_reader(settings, "link@example.org", subscriptions=subscriptions)

    one_click = client.post(f"/unsubscribe/{header_reader['unsubscribe_key']}", content="List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200
    assert "header@example.org is unsubscribed: 2 subscriptions removed" in one_click.text

    page = client.get(f"/unsubscribe/{link_reader['unsubscribe_key']}")
    assert f'<form method="post" action="/unsubscribe/{link_reader["unsubscribe_key"]}">' in page.text
    assert query_rows(settings, "SELECT count(*) FROM subscriptions WHERE account_id = :a", a=link_reader["id"]) == [(2,)]
    confirmed = client.post(f"/unsubscribe/{link_reader['unsubscribe_key']}")
    assert "link@example.org is unsubscribed" in confirmed.text
    assert query_rows(settings, "SELECT count(*) FROM subscriptions") == [(0,)]
    assert query_rows(settings, "SELECT count(*) FROM accounts") == [(2,)]
    assert client.post("/unsubscribe/not-a-key").status_code == 404


def test_the_for_me_order_ranks_the_paper_like_the_stars_first(reader):
    settings, client, account, _ = reader
    default = client.get(f"/arxiv/cs.CL?date={DAY}")
    default_ids = re.findall(r'<article class="paper" data-id="([^"]+)"', default.text)
    new_section = default.text.split("New submissions")[1].split("</section>")[0]
    new_ids = re.findall(r'data-id="([^"]+)"', new_section)
    target = new_ids[len(new_ids) // 2]
    stars = nearest_papers(settings, target, "SELECT id, public_id FROM papers WHERE venue_slug = 'colm'", 3)
    _mark_stars(settings, account["id"], stars)
    assert 'href="/arxiv/cs.CL?date=2025-03-18&amp;order=for-me"' in default.text

    for_me = client.get(f"/arxiv/cs.CL?date={DAY}&order=for-me")
    ranked_new = re.findall(r'data-id="([^"]+)"', for_me.text.split("New submissions")[1].split("</section>")[0])
    assert ranked_new[0] == target and sorted(ranked_new) == sorted(new_ids)
    assert sorted(re.findall(r'<article class="paper" data-id="([^"]+)"', for_me.text)) == sorted(default_ids)
    assert "close to your starred" in for_me.text.split(f'data-id="{target}"')[1].split("</article>")[0]

    colm = query_rows(settings, "SELECT public_id FROM papers WHERE venue_slug = 'colm' ORDER BY public_id LIMIT 1")[0][0]
    _mark_stars(settings, account["id"], [colm], replace=True)  # a starred paper is the most like the stars
    venue = client.get("/venue/colm/2024?order=for-me")
    assert re.findall(r'<article class="paper" data-id="([^"]+)"', venue.text)[0] == colm
    client.cookies.clear()
    signed_out = client.get(f"/arxiv/cs.CL?date={DAY}&order=for-me")
    assert re.findall(r'<article class="paper" data-id="([^"]+)"', signed_out.text) == default_ids


def _mark_stars(settings, account_id: int, papers: list[str], *, replace: bool = False) -> None:
    from sqlalchemy import text

    from papersift.db import make_engine

    engine = make_engine(settings)
    with engine.begin() as connection:
        if replace:
            connection.execute(text("DELETE FROM library_marks WHERE account_id = :a"), {"a": account_id})
        for paper in papers:
            connection.execute(text("INSERT INTO library_marks (account_id, kind, paper) VALUES (:a, 'star', :p)"),
                               {"a": account_id, "p": paper})
    engine.dispose()


def test_metrics_count_accounts_sessions_and_digests(reader):
    settings, client, account, _ = reader
    add_reader(settings, "other@example.org")
    from sqlalchemy import text

    from papersift.db import make_engine

    engine = make_engine(settings)
    with engine.begin() as connection:
        for period, status in (("2025-03-17", "sent"), ("2025-03-18", "sent"), ("2025-03-19", "failed")):
            connection.execute(text("INSERT INTO digest_sends (account_id, cadence, period, status) "
                                    "VALUES (:a, 'daily', :p, :s)"), {"a": account["id"], "p": period, "s": status})
    engine.dispose()
    metrics = client.get("/metrics").text
    assert "papersift_accounts 2.0" in metrics
    assert "papersift_sessions_active 1.0" in metrics
    assert 'papersift_digests{status="sent"} 2.0' in metrics
    assert 'papersift_digests{status="failed"} 1.0' in metrics

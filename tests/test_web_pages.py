"""The server-rendered pages and feeds, parsed as HTML/XML: content, links, headers, escaping."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit
import xml.etree.ElementTree as ElementTree

import pytest
from fastapi.testclient import TestClient

from indexer.lexical import build_catalog
from papersift.db import make_engine
from service.app import create_app
from tests.conftest import query_rows

HOSTILE = '<script>alert("x")</script> "><img src=x onerror=alert(1)> Robust Attacks'


@pytest.fixture(scope="module")
def site(corpus):
    with TestClient(create_app(corpus)) as client:
        yield client


def test_home_lists_categories_and_venues(site):
    page = site.get("/")
    assert page.status_code == 200
    assert 'href="/arxiv/cs.CV"' in page.text
    assert 'href="/venue/colm/2024"' in page.text
    assert 'type="application/opensearchdescription+xml"' in page.text


def test_search_page_has_highlights_facets_sort_pagination_and_timing(site):
    page = site.get("/search", params={"q": "language models"})
    assert page.status_code == 200
    assert "<mark>" in page.text
    assert re.search(r'<span id="total">[\d,]+</span> results', page.text)
    assert re.search(r'class="took">[\d.]+ ms<', page.text)
    assert 'href="/search?q=language+models&amp;venue=colm' in page.text  # a facet link narrowing to COLM
    assert 'rel="next"' in page.text and "Why this result" in page.text
    narrowed = site.get("/search", params={"q": "language models", "venue": "colm"})
    assert narrowed.text.count('class="venue">COLM 2024') == narrowed.text.count('<article class="paper"')


def test_a_year_facet_selects_one_year_and_toggles_off(site):
    def year_links(html: str) -> dict[str, list[str]]:
        """Each year facet's value → the years its link would select."""
        facets = html[html.index('<aside class="facets">'):html.index("</aside>")]
        links = {}
        for href, label in re.findall(r'<a href="([^"]+)"[^>]*>(\d{4})</a>', facets):
            links[label] = parse_qs(urlsplit(unescape(href)).query).get("year", [])
        return links

    everything = year_links(site.get("/search", params={"q": "model"}).text)
    assert len(everything) >= 2  # the corpus spans 2007 and 2024-2025
    first, second = list(everything)[:2]
    assert everything[first] == [first]
    narrowed_page = site.get("/search", params={"q": "model", "year": first}).text
    cards = narrowed_page.split('<article class="paper"')[1:]
    shown = [re.search(r'class="venue">[^<]* (\d{4})|<time>(\d{4})-', card).group(1, 2) for card in cards]
    assert shown and {venue_year or day_year for venue_year, day_year in shown} == {first}
    narrowed = year_links(narrowed_page)
    assert narrowed[first] == []  # the selected year's link removes it
    if second in narrowed:  # another year's link replaces it (filters hold one range, not a set)
        assert narrowed[second] == [second]


def test_bad_and_empty_searches_say_so(site):
    bad = site.get("/search", params={"q": "graphs year:20x"})
    assert bad.status_code == 400 and "year:20x is not a year" in bad.text and 'role="alert"' in bad.text
    open_quote = site.get("/search", params={"q": 'graph "neural'})
    assert open_quote.status_code == 200  # natural text: the quote left open is read as text
    empty = site.get("/search", params={"q": '"zzzqqq unfindable phrase"'})
    assert empty.status_code == 200 and "No papers match" in empty.text


def test_paper_page_has_citation_tags_bibtex_and_related(site, corpus):
    public_id = site.get("/api/v1/search", params={"venue": "colm", "limit": 1}).json()["results"][0]["id"]
    page = site.get(f"/paper/{public_id}")
    assert page.status_code == 200
    assert '<meta name="citation_title"' in page.text and '<meta name="citation_author"' in page.text
    assert "@inproceedings{" in page.text
    assert page.text.count('<article class="paper"') == 10  # related papers


def test_math_is_rendered_as_mathml(site, corpus):
    [(public_id, abstract)] = query_rows(
        corpus, r"SELECT public_id, abstract FROM papers WHERE abstract ~ '\$[A-Za-z\\^_{}() ]+\$' LIMIT 1")
    page = site.get(f"/paper/{public_id}")
    assert page.text.count("<math") >= abstract.count("$") // 2 > 0


def test_listing_and_venue_pages(site):
    listing = site.get("/arxiv/cs.CV+cs.AI-cs.CL")
    assert listing.status_code == 200 and "New submissions" in listing.text
    assert "/arxiv/cs.CV+cs.AI-cs.CL?date=" in listing.text or "next" not in listing.text
    venue = site.get("/venue/colm/2024")
    assert venue.status_code == 200 and 'id="track-poster"' in venue.text and 'id="filter"' in venue.text


def test_feeds_and_opensearch_parse(site):
    for url in ("/feeds/arxiv/cs.CV.atom", "/feeds/venue/colm/2024.rss", "/feeds/search.atom?q=reasoning"):
        response = site.get(url)
        assert response.status_code == 200, url
        root = ElementTree.fromstring(response.content)
        entries = root.findall("{http://www.w3.org/2005/Atom}entry") or root.findall("./channel/item")
        assert entries, url
    description = ElementTree.fromstring(site.get("/opensearch.xml").content)
    url = description.find("{http://a9.com/-/spec/opensearch/1.1/}Url")
    assert url.get("template").endswith("/search?q={searchTerms}")


def test_every_page_with_a_feed_links_it_in_its_head(site):
    import re

    pages = ["/", "/venues", "/help", "/search?q=reasoning", "/arxiv/cs.CV", "/venue/colm/2024"]
    advertised = {}
    for path in pages:
        html = site.get(path).text
        head = html.split("</head>")[0]
        links = re.findall(r'<link rel="alternate" type="application/atom\+xml" title="[^"]*" href="([^"]+)"', head)
        assert links, path
        advertised[path] = links
    home = advertised["/"]
    assert "/feeds/search.atom" in home  # the site's newest papers
    assert any(link.startswith("/feeds/arxiv/cs.") for link in home)  # and each listed category
    for link in {link.replace("&amp;", "&") for links in advertised.values() for link in links}:
        response = site.get(link)
        assert response.status_code == 200, link
        assert ElementTree.fromstring(response.content).findall("{http://www.w3.org/2005/Atom}entry"), link


def test_pages_send_security_headers(site):
    page = site.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    missing = site.get("/paper/arxiv:2912.00001")
    assert missing.status_code == 404 and "no paper with id" in missing.text and "Traceback" not in missing.text


def test_hostile_titles_are_escaped_in_every_page_and_feed(settings, cli, tmp_path):
    records = [{"id": "evil1", "title": HOSTILE, "author": 'Mallory <b onmouseover="x">; Eve',
                "abstract": 'We inject </textarea><script>alert(2)</script> everywhere.', "status": "Poster",
                "site": "https://openreview.net/forum?id=evil1", "keywords": "attacks;<svg onload=x>"}]
    path = tmp_path / "venues" / "colm2024.json"
    path.parent.mkdir()
    path.write_text(json.dumps(records))
    assert cli("import", "paperlists", path).exit_code == 0
    build_catalog(make_engine(settings), settings.search_dir)
    with TestClient(create_app(settings)) as client:
        public_id = client.get("/api/v1/search", params={"q": "robust attacks"}).json()["results"][0]["id"]
        urls = ["/search?q=robust+attacks", "/search?q=" + HOSTILE, f"/paper/{public_id}", "/venue/colm/2024",
                "/feeds/venue/colm/2024.atom", "/feeds/search.rss?q=robust+attacks", "/", "/venues"]
        for url in urls:
            body = client.get(url).text
            assert "<script>alert" not in body, url
            assert "<img src=x" not in body and '<b onmouseover' not in body and "<svg onload" not in body, url

"""One arXiv announcement day played by a local HTTP server that answers the arXiv API as arXiv
does (Atom pages of `max_results` entries from `start`, in the order asked for), for
bench/freshness.py.

The day is built from real records of ../shared/data (title, abstract, authors, categories), given
new arXiv ids and the day's submission times, so the harvester, the importer and the indexes see a
day shaped like a real one without any network.
"""

from __future__ import annotations

import gzip
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

_FEED_HEAD = """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/papersift-bench-day</id>
  <title>arXiv Query: {query}</title>
  <updated>{now}</updated>
  <opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>
  <opensearch:totalResults>{total}</opensearch:totalResults>
  <opensearch:startIndex>{start}</opensearch:startIndex>
"""


@dataclass
class DayPaper:
    arxiv_id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    submitted: datetime

    def entry(self) -> str:
        stamp = self.submitted.strftime("%Y-%m-%dT%H:%M:%SZ")
        authors = "".join(f"    <author>\n      <name>{escape(name)}</name>\n    </author>\n" for name in self.authors)
        categories = "".join(f'    <category term="{escape(c)}" scheme="http://arxiv.org/schemas/atom"/>\n'
                             for c in self.categories)
        return (f"  <entry>\n    <id>http://arxiv.org/abs/{self.arxiv_id}v1</id>\n"
                f"    <title>{escape(self.title)}</title>\n    <updated>{stamp}</updated>\n"
                f'    <link href="https://arxiv.org/abs/{self.arxiv_id}v1" rel="alternate" type="text/html"/>\n'
                f'    <link href="https://arxiv.org/pdf/{self.arxiv_id}v1" rel="related" type="application/pdf" title="pdf"/>\n'
                f"    <summary>{escape(self.abstract)}</summary>\n{categories}"
                f"    <published>{stamp}</published>\n"
                f'    <arxiv:primary_category term="{escape(self.categories[0])}"/>\n{authors}  </entry>\n')


def build_day(snapshot: Path, *, count: int, first_number: int, month: str, day_start: datetime,
              skip: int = 0) -> list[DayPaper]:
    """`count` real records of the snapshot (after `skip`), as new papers `month`.NNNNN submitted
    over the 24 hours from `day_start`, in submission order."""
    papers = []
    with gzip.open(snapshot, "rt") as handle:
        for number, line in enumerate(itertools.islice(handle, skip, skip + count)):
            record = json.loads(line)
            authors = [" ".join(part for part in (first, last) if part).strip()
                       for last, first, *_ in record.get("authors_parsed") or []] or [record["authors"]]
            papers.append(DayPaper(
                arxiv_id=f"{month}.{first_number + number:05d}", title=" ".join(record["title"].split()),
                abstract=" ".join(record["abstract"].split()), authors=[a for a in authors if a],
                categories=record["categories"].split(),
                submitted=day_start + timedelta(seconds=number * 86_400 // count),
            ))
    return papers


@contextmanager
def serve_day(papers: list[DayPaper]) -> Iterator[tuple[str, list[str]]]:
    """Serve the day at http://127.0.0.1:PORT/api/query; yields (url, the requests it answered)."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            url = urlsplit(self.path)
            if url.path != "/api/query":
                self.send_error(404)
                return
            query = parse_qs(url.query)
            start, size = int(query.get("start", ["0"])[0]), int(query.get("max_results", ["10"])[0])
            requests.append(self.path)
            page = papers[start:start + size]
            body = (_FEED_HEAD.format(query=escape(query.get("search_query", [""])[0]),
                                      now=datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ"), size=len(page),
                                      total=len(papers), start=start)
                    + "".join(paper.entry() for paper in page) + "</feed>\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/query", requests
    finally:
        server.shutdown()
        server.server_close()

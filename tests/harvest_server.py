"""A local HTTP server for harvester tests: serves canned responses by path and query, and injects
faults (status codes with Retry-After, truncated bodies, resets, slow answers) on request.

Responses are matched on the path and the full set of query parameters, so a harvester that asks
for anything it should not gets a 404 and the test fails.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Canned:
    status: int
    body: bytes
    content_type: str = "application/atom+xml; charset=utf-8"


@dataclass
class Fault:
    """What to do instead of answering a matching request, `times` times."""

    kind: str  # "status", "truncate", "reset", "slow", "empty", "hold"
    match: str = ""  # substring of the request's path and query
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    seconds: float = 0.0
    body: bytes = b""
    release: threading.Event = field(default_factory=threading.Event)  # "hold": answer once set


@dataclass
class HarvestServer:
    """The running server: `url` is its base, `requests` every path+query it was asked for."""

    url: str
    responses: dict[tuple[str, frozenset], Canned] = field(default_factory=dict)
    fallbacks: dict[str, Canned] = field(default_factory=dict)  # by path, for any other query
    pages: dict[tuple[str, str, str], Canned] = field(default_factory=dict)  # by path, start, max_results
    faults: list[Fault] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)
    delay: float = 0.0  # seconds added to every answer (to give a test time to kill a client)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, url: str, body: bytes | str, *, status: int = 200,
            content_type: str = "application/atom+xml; charset=utf-8") -> None:
        """Serve `body` for `url` (only its path and query count)."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.responses[_key(url)] = Canned(status, data, content_type)

    def add_fallback(self, path: str, body: bytes | str, *, status: int = 200) -> None:
        """Serve `body` for any request to `path` that no exact response matches."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.fallbacks[path] = Canned(status, data)

    def add_pages(self, path: str, pages: dict[tuple[int, int], bytes | str]) -> None:
        """Serve each body for any query to `path` asking for its (start, max_results), when no
        exact response matches: a stand-in for a search the recordings do not hold."""
        for (start, size), body in pages.items():
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.pages[(path, str(start), str(size))] = Canned(200, data)

    def add_recordings(self, folder: Path) -> None:
        """Serve every recorded arXiv API response in `folder` ({url, status_code, body} JSON)."""
        for path in sorted(folder.glob("*.json")):
            recording = json.loads(path.read_text())
            self.add(recording["url"], recording["body"].encode("latin-1"),
                     status=recording["status_code"])

    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def _take_fault(self, target: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.match in target:
                    fault.times -= 1
                    return fault
        return None


def _key(url: str) -> tuple[str, frozenset]:
    parts = urlsplit(url)
    return parts.path, frozenset(parse_qsl(parts.query, keep_blank_values=True))


def _handler(server: HarvestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            self._answer(extra_query=body)

        def _answer(self, extra_query: str = "") -> None:
            target = self.path + ("&" + extra_query if extra_query else "")
            with server.lock:
                server.requests.append(target)
                server.request_times.append(time.monotonic())
            if server.delay:
                time.sleep(server.delay)
            fault = server._take_fault(target)
            if fault is not None and self._fault(fault):
                return
            path, query = _key(self.path)
            if extra_query:
                query = query | frozenset(parse_qsl(extra_query, keep_blank_values=True))
            asked = dict(query)
            canned = (server.responses.get((path, query))
                      or server.pages.get((path, asked.get("start", ""), asked.get("max_results", "")))
                      or server.fallbacks.get(path))
            if canned is None:
                self._send(404, b"no recorded response for " + target.encode(), "text/plain")
                return
            self._send(canned.status, canned.body, canned.content_type)

        def _fault(self, fault: Fault) -> bool:
            """Act out the fault; True when it answered the request."""
            if fault.kind == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                self._send(fault.status, fault.body or b"busy", "text/plain", headers)
                return True
            if fault.kind == "slow":
                time.sleep(fault.seconds)
                return False
            if fault.kind == "hold":
                fault.release.wait(fault.seconds or 120)
                return False
            if fault.kind == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.connection.close()
                return True
            if fault.kind in ("truncate", "empty"):
                path, query = _key(self.path)
                canned = server.responses.get((path, query))
                body = canned.body if canned else b""
                if fault.kind == "truncate":
                    self._send(200, body[: len(body) // 2], canned.content_type if canned else "text/xml")
                else:
                    self._send(200, fault.body, canned.content_type if canned else "text/xml")
                return True
            raise ValueError(f"unknown fault {fault.kind}")

        def _send(self, status: int, body: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def harvest_server() -> Iterator[HarvestServer]:
    """Start a server on 127.0.0.1 (a free port) for the block; stop it after."""
    state = HarvestServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="harvest-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def recorded_query_ids(folder: Path, starts: tuple[int, ...]) -> list[str]:
    """The arXiv ids on the recorded pages of ten of the `testing` query that begin at `starts`
    (under `folder`, shared/data/arxiv-api), in order, without duplicates."""
    ids: list[tuple[int, str]] = []
    for path in sorted(folder.glob("q_testing_*_m10_*.json")):
        recording = json.loads(path.read_text())
        start = int(re.search(r"start=(\d+)", recording["url"]).group(1))
        if start in starts:
            for found in re.findall(r"<id>http://arxiv.org/abs/([^<]+?)(?:v\d+)?</id>", recording["body"]):
                ids.append((start, found))
    ordered = [i for _, i in sorted(ids, key=lambda pair: pair[0])]
    return list(dict.fromkeys(ordered))

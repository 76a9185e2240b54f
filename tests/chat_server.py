"""A local server that speaks the OpenAI chat-completions protocol, for the language-model tests:
streamed (`data: {chunk}` lines, then `data: [DONE]`) and whole answers, scripted errors (429 with
Retry-After, 5xx, 401) and slow answers. The real `openai` client talks to it over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Step:
    """How to answer one request (scripted steps are used first, in order)."""

    status: int = 200
    text: str | None = None  # the answer; None: the server's default answer
    retry_after: str | None = None
    delay: float = 0.0  # seconds before answering
    body: str = '{"error": {"message": "scripted failure", "type": "server_error"}}'


def default_answer(request: dict) -> str:
    """A deterministic answer built from the request: a FAQ naming the paper, or a 'translation'."""
    user = request["messages"][-1]["content"]
    if user.startswith("Translate"):
        language = user.split("into ", 1)[1].split(".", 1)[0]
        abstract = user.split("\n\n", 1)[1]
        return f"[{language}] {abstract[:120].strip()}"
    title = user.split("\n", 1)[0].removeprefix("Title: ")
    return (f"**Q: What problem does the paper address?**\nIt studies {title}.\n\n"
            "**Q: What is the method?**\n- a first step\n- a second step\n\n"
            "**Q: What are the main results?**\nThe paper reports its results in **bold** terms.\n\n"
            "**Q: What are the limitations?**\nThe paper does not say.")


@dataclass
class ChatServer:
    base_url: str = ""  # what PAPERSIFT_LLM_BASE_URL gets: http://127.0.0.1:PORT/v1
    steps: list[Step] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)  # JSON bodies of /v1/chat/completions
    request_times: list[float] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    answer: Callable[[dict], str] = default_answer
    piece_delay: float = 0.0  # seconds between streamed pieces
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *steps: Step) -> None:
        with self.lock:
            self.steps.extend(steps)

    def _next_step(self) -> Step:
        with self.lock:
            return self.steps.pop(0) if self.steps else Step()


def _chunk(model: str, delta: dict, finish: str | None = None) -> bytes:
    payload = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
               "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(payload)}\n\n".encode()


def _pieces(text: str, size: int = 24) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start:start + size]


def _handler(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            with server.lock:
                server.requests.append(body)
                server.request_times.append(time.monotonic())
                server.authorizations.append(self.headers.get("Authorization", ""))
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, b'{"error": {"message": "no such endpoint"}}')
                return
            step = server._next_step()
            if step.delay:
                time.sleep(step.delay)
            if step.status != 200:
                headers = {"Retry-After": step.retry_after} if step.retry_after else {}
                self._send(step.status, step.body.encode(), headers)
                return
            text = step.text if step.text is not None else server.answer(body)
            model = body.get("model", "test-model")
            if not body.get("stream"):
                answer = {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                          "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                                                       "message": {"role": "assistant", "content": text}}],
                          "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}
                self._send(200, json.dumps(answer).encode())
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(_chunk(model, {"role": "assistant", "content": ""}))
            for piece in _pieces(text):
                self.wfile.write(_chunk(model, {"content": piece}))
                self.wfile.flush()
                if server.piece_delay:
                    time.sleep(server.piece_delay)
            self.wfile.write(_chunk(model, {}, "stop"))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def chat_server() -> Iterator[ChatServer]:
    """A chat-completions server on 127.0.0.1 (a free port) for the block."""
    state = ChatServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, name="chat-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()

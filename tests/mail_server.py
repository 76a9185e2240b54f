"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it accepts, for the
sign-in and digest tests. `fail_next(n)` makes it refuse the next n messages with a 451; `delay`
(seconds) slows every answer to DATA, as a distant server would."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from aiosmtpd.controller import Controller


class Mailbox:
    """aiosmtpd handler: the messages received, parsed, in order."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._failures = 0
        self._lock = threading.Lock()
        self.port = 0
        self.delay = 0.0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._lock:
            if self._failures:
                self._failures -= 1
                return "451 4.3.0 try again later (scripted)"
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures = count

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def wait_for(self, address: str, *, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages to `address` once there are `count` of them (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        while len(self.to(address)) < count:
            assert time.monotonic() < deadline, f"no mail to {address} within {timeout} s"
            time.sleep(0.05)
        return self.to(address)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@contextmanager
def mail_server() -> Iterator[Mailbox]:
    """Start the server on a free port; stop it afterwards."""
    mailbox = Mailbox()
    mailbox.port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def body_text(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def body_html(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()

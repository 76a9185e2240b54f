"""What `papersift demo` leaves behind when it stops: the embedded PostgreSQL only if it was
already running before the demo; an external server is never touched."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from papersift import embedded_pg
from papersift.settings import Settings


@contextmanager
def stopping_what_it_started(settings: Settings, *, echo: Callable[[str], object]) -> Iterator[None]:
    """Run the demo; on the way out (normal end, Ctrl-C or SIGTERM) stop the embedded server if
    it was not running before, or say how to stop it if it was."""
    embedded = settings.uses_embedded_database
    was_running = embedded and embedded_pg.status(settings.pgdata_dir).running
    with _sigterm_as_interrupt():
        try:
            yield
        finally:
            if embedded and was_running:
                echo(f"demo: the embedded PostgreSQL ({settings.pgdata_dir}) was running before the "
                     "demo and keeps running; stop it with `papersift db stop`")
            elif embedded and embedded_pg.stop(settings.pgdata_dir):
                echo(f"demo: stopped the embedded PostgreSQL (data in {settings.pgdata_dir})")


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, so it takes the same way out as Ctrl-C. uvicorn handles
    the signal itself while serving and raises it again once it has shut down."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

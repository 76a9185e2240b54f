"""Helpers for forked worker processes (the importer's mappers, the digest's shares)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading


def exit_with_parent() -> None:
    """In a forked worker: exit as soon as the parent process is gone. A killed parent would
    otherwise leave its workers running (or waiting forever on a queue whose other end they hold
    themselves). Ctrl-C is the parent's to handle: a worker ignores it and goes with its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sentinel = multiprocessing.parent_process().sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()

"""Mail a period's digests from several processes: one per core, each with its own share of the
readers and its own database connection (composing and encoding a mail is pure Python, ~6 ms of
one core; the readers are independent, so two cores mail twice as fast).

The shares are forked after the period is prepared (papers, models, vectors are shared
copy-on-write). A forked share exits with its parent (a killed run takes every share with it,
each leaving at most the one reader it was mailing `sending`), stops when the parent is asked to
stop, and reports its counts when done."""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from papersift.child_process import exit_with_parent

Item = TypeVar("Item")
MIN_PER_SHARE = 500  # fewer readers than this per extra process: one process mails them all
COUNTED = ("sent", "failed", "skipped", "empty")


def shares_for(items: Sequence[Item], *, processes: int = 0) -> list[list[Item]]:
    """`items` dealt round-robin into one share per process (at least one share). processes=0:
    one per core, as long as each extra process gets MIN_PER_SHARE items."""
    if processes:
        count = max(1, min(processes, len(items)))
    else:
        count = max(1, min(os.cpu_count() or 1, len(items) // MIN_PER_SHARE))
    return [list(items[start::count]) for start in range(count)]


def run_shares(shares: list[list[Item]],
               send_share: Callable[[list[Item], Callable[[], bool], bool], dict[str, int]],
               *, should_stop: Callable[[], bool]) -> list[dict[str, Any]]:
    """Run `send_share(share, stop_requested, here)` for the first share in this process (here=True)
    and for each other share in a forked one; the counts of every share, this process's first (a
    share that died reports empty counts)."""
    if len(shares) == 1:
        return [send_share(shares[0], should_stop, True)]
    context = multiprocessing.get_context("fork")
    stop, results = context.Event(), context.Queue()
    children = [context.Process(target=_share_process, args=(send_share, share, stop, results), daemon=True)
                for share in shares[1:]]
    for child in children:
        child.start()

    def stop_requested() -> bool:
        if should_stop():
            stop.set()
        return stop.is_set()

    counts = [send_share(shares[0], stop_requested, True)]
    while len(counts) < len(shares) and (any(child.is_alive() for child in children) or not results.empty()):
        try:
            counts.append(results.get(timeout=0.5))
        except queue.Empty:
            stop_requested()
    for child in children:
        child.join()
    return counts


def _share_process(send_share, share, stop, results) -> None:
    exit_with_parent()
    counts: dict[str, Any] = {}
    try:
        counts = send_share(share, stop.is_set, False)
    finally:
        results.put(counts)
        results.close()
        results.join_thread()

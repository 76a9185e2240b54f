"""`papersift serve` with several workers: processes forked from one parent that has already
imported the app and loaded the query encoder, so they share those pages copy-on-write.

uvicorn's own `--workers` spawns fresh interpreters, and each imports every library and loads its
own copy of the model (~260 MiB of private memory per extra worker at 160k papers). Here the parent
binds the socket, preloads, freezes its objects out of the cycle collector (a collection would
touch, and so copy, every page), then forks. It restarts a worker that dies, and on SIGINT or
SIGTERM stops them all (SIGTERM: uvicorn finishes the requests in flight) and returns.

Nothing in the parent may start threads of a library that a child then uses (OpenMP, an
onnxruntime thread pool): the encoder runs on its caller's thread, and faiss is not searched here.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import time
from collections.abc import Callable

import uvicorn

logger = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RESTARTS_PER_MINUTE = 5  # more worker deaths than this in a minute: stop instead of looping
STOP_SECONDS = 30.0


def serve_forked(config: uvicorn.Config, workers: int, *, preload: Callable[[], object]) -> int:
    """Serve `config` from `workers` forked processes until SIGINT or SIGTERM; 0 after a stop,
    1 when workers kept dying."""
    config.workers = 1  # each child serves on its own; this process only supervises
    sock = config.bind_socket()
    _limit_malloc_arenas()
    preload()
    gc.collect()
    gc.freeze()
    children: set[int] = set()
    deaths: list[float] = []
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        for _ in range(workers):
            children.add(_fork_worker(config, sock))
        while not stopping:
            for pid, status in _reap(children):
                children.discard(pid)
                deaths.append(time.monotonic())
                deaths[:] = [t for t in deaths if t > time.monotonic() - 60]
                logger.error("worker %d ended (%s); %s", pid, _describe(status),
                             "stopping: workers keep dying" if len(deaths) > RESTARTS_PER_MINUTE
                             else "starting another")
                if len(deaths) > RESTARTS_PER_MINUTE:
                    stopping = True
                    break
                children.add(_fork_worker(config, sock))
            time.sleep(0.2)
        _stop_all(children)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    return 1 if len(deaths) > RESTARTS_PER_MINUTE else 0


def _limit_malloc_arenas() -> None:
    """glibc reads MALLOC_ARENA_MAX only when a process starts, and forked workers start as copies of
    this one: apply it here (mallopt M_ARENA_MAX), so the workers' request threads share that many
    malloc arenas instead of one each (each arena keeps its own free memory)."""
    limit = os.environ.get("MALLOC_ARENA_MAX")
    if not limit or not limit.isdigit():
        return
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, int(limit))
    except (OSError, AttributeError):  # not glibc
        pass


def _fork_worker(config: uvicorn.Config, sock) -> int:
    """A child that serves and then leaves with os._exit: it must never unwind into the parent's
    stack (a demo's clean-up would run twice)."""
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)  # uvicorn installs its own, and restores these after
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        code = 0 if server.started else 3  # uvicorn's STARTUP_FAILURE (the lifespan said why)
    except BaseException:  # noqa: BLE001 (reported, then the child ends)
        logger.exception("worker %d failed", os.getpid())
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)


def _reap(children: set[int]) -> list[tuple[int, int]]:
    """(pid, wait status) of the workers that have ended (only ours: a demo's other children are
    its own to wait for)."""
    ended = []
    for pid in list(children):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, 0
        if done:
            ended.append((pid, status))
    return ended


def _stop_all(children: set[int]) -> None:
    """SIGTERM every worker, wait for them; SIGKILL those still running after STOP_SECONDS."""
    for pid in children:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while children and time.monotonic() < deadline:
        for pid, _ in _reap(children):
            children.discard(pid)
        time.sleep(0.05)
    for pid in children:
        _signal(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit {os.waitstatus_to_exitcode(status)}"

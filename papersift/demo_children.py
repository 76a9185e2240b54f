"""The demo's background work: `papersift` commands run as child processes while the site is served
(fetching the starter corpus, then embedding and vector indexing), one after the other, and
stopped together when the demo stops. A child stopped midway resumes at the next demo (harvests and
embedding keep their cursors)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable

from pydantic import SecretStr

from papersift.settings import Settings


class DemoChildren:
    """Starts `python -m papersift.cli ARGS...` children with the settings in effect; at most one
    runs at a time."""

    def __init__(self, settings: Settings) -> None:
        self._environment = child_environment(settings)
        self._lock = threading.Lock()
        self._running: subprocess.Popen | None = None
        self._stopped = False

    def start(self, *args: str) -> subprocess.Popen:
        """Start a child now."""
        with self._lock:
            self._running = self._spawn(args)
            return self._running

    def then(self, first: subprocess.Popen, *args: str,
             on_start: Callable[[int, subprocess.Popen], object]) -> None:
        """When `first` ends, start a child with `args` unless the demo is stopping by then, and
        call on_start(first's exit code, the new child)."""
        def wait() -> None:
            code = first.wait()
            with self._lock:
                if self._stopped:
                    return
                self._running = child = self._spawn(args)
            on_start(code, child)

        threading.Thread(target=wait, name="demo-children", daemon=True).start()

    def stop(self, timeout: float = 60.0) -> None:
        """Start nothing more; end the running child (SIGTERM) and wait for it."""
        with self._lock:
            self._stopped = True
            running = self._running
        if running is None:
            return
        if running.poll() is None:
            running.terminate()
        running.wait(timeout=timeout)

    def _spawn(self, args: tuple[str, ...]) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "papersift.cli", *args], env=self._environment)


def child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with every setting in effect as its PAPERSIFT_ variable (an
    unset one removed), so a child reads exactly the settings the demo was given."""
    environment = dict(os.environ)
    for name in Settings.model_fields:
        variable, value = f"PAPERSIFT_{name.upper()}", getattr(settings, name)
        if value is None:
            environment.pop(variable, None)
        elif isinstance(value, SecretStr):
            environment[variable] = value.get_secret_value()
        else:
            environment[variable] = str(value)
    return environment

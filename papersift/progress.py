"""Progress bars on stderr (count, rate, ETA when the total is known); silent when not a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressBar:
    """A handle to advance one bar."""

    def __init__(self, progress: Progress | None, task_id: int | None) -> None:
        self._progress = progress
        self._task_id = task_id

    def advance(self, amount: int = 1) -> None:
        if self._progress is not None and self._task_id is not None:
            self._progress.advance(self._task_id, amount)


@contextmanager
def progress_bar(description: str, *, total: int | None = None, unit: str = "rec") -> Iterator[ProgressBar]:
    """A rich progress bar on stderr showing done/total, rate and ETA; a no-op off a terminal."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield ProgressBar(None, None)
        return
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if total else TextColumn("{task.completed:,.0f} " + unit),
        TaskProgressColumn() if total else TextColumn(""),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn() if total else TextColumn(""),
    ]
    with Progress(*columns, console=console, transient=False) as progress:
        task_id = progress.add_task(description, total=total, rate="")
        yield _RateBar(progress, task_id, unit)


class _RateBar(ProgressBar):
    """Shows items per second beside the count."""

    def __init__(self, progress: Progress, task_id: int, unit: str) -> None:
        super().__init__(progress, task_id)
        self._unit = unit

    def advance(self, amount: int = 1) -> None:
        progress, task_id = self._progress, self._task_id
        progress.advance(task_id, amount)
        speed = progress.tasks[task_id].speed
        progress.update(task_id, rate=f"{speed:,.0f} {self._unit}/s" if speed else "")

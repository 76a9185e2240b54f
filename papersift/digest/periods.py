"""Digest periods: a daily digest covers one arXiv announcement day (key `2026-12-01`), a weekly
one an ISO week (key `2026-W48`, Monday to Sunday) of announcements and of venue papers added."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from papersift.errors import InvalidQuery
from papersift.models import CADENCES


@dataclass(frozen=True)
class Period:
    cadence: str
    key: str
    first_day: date
    last_day: date  # inclusive


def parse_period(cadence: str, key: str) -> Period:
    """`daily` + `2026-12-01`, or `weekly` + `2026-W48`; InvalidQuery says what is expected."""
    try:
        if cadence == "daily":
            day = date.fromisoformat(key)
            return Period(cadence, day.isoformat(), day, day)
        if cadence == "weekly":
            year, week = key.upper().split("-W")
            monday = date.fromisocalendar(int(year), int(week), 1)
            return weekly_period(monday)
    except ValueError:
        pass
    if cadence not in CADENCES:
        raise InvalidQuery(f"cadence {cadence!r} is not one of {', '.join(CADENCES)}", hint="use daily or weekly")
    example = "2026-12-01" if cadence == "daily" else "2026-W48"
    raise InvalidQuery(f"{key!r} is not a {cadence} period", hint=f"write it like {example}")


def weekly_period(day: date) -> Period:
    """The ISO week holding `day`."""
    year, week, weekday = day.isocalendar()
    monday = day - timedelta(days=weekday - 1)
    return Period("weekly", f"{year}-W{week:02d}", monday, monday + timedelta(days=6))


def default_period(cadence: str, *, latest_announced: date | None, today: date) -> Period | None:
    """The period a run without --period mails: the newest announcement day (daily), or the last
    complete week (weekly). None when no arXiv paper was announced yet (daily)."""
    if cadence == "weekly":
        return weekly_period(today - timedelta(days=7))
    if latest_announced is None:
        return None
    return Period("daily", latest_announced.isoformat(), latest_announced, latest_announced)

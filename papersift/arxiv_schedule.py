"""arXiv's announcement schedule: on which listing day a submission (or a new version) appears.

arXiv closes each day's batch at 14:00 US Eastern time, Monday to Friday, and announces it at
20:00 the same evening (Thursday's batch on Sunday evening). Listings carry the date of the next
weekday: a paper submitted Monday 15:00 ET closes with Tuesday's batch and is listed "Wednesday";
one submitted Friday 15:00 ET closes Monday and is listed Tuesday. Holidays, when arXiv skips a
day, are not modelled (the paper then appears one listing later than computed).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
CUTOFF = time(14, 0)
_SATURDAY = 5


def listing_day(submitted: datetime) -> date:
    """The listing date on which a submission made at `submitted` (timezone-aware) appears."""
    local = submitted.astimezone(EASTERN)
    closing = local.date()
    if local.time() >= CUTOFF or closing.weekday() >= _SATURDAY:
        closing = _next_weekday(closing)
    return _next_weekday(closing)


def _next_weekday(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= _SATURDAY:
        day += timedelta(days=1)
    return day

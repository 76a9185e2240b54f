"""Listing days from arXiv's announcement schedule (14:00 ET cutoff, listed the next weekday)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from indexer.sources.arxiv_snapshot import record_from_snapshot
from papersift.arxiv_schedule import listing_day


@pytest.mark.parametrize(("submitted", "listed"), [
    ("2026-11-16T18:00:00+00:00", date(2026, 11, 17)),  # Mon 13:00 ET: Monday's batch, listed Tue
    ("2026-11-16T20:00:00+00:00", date(2026, 11, 18)),  # Mon 15:00 ET: Tuesday's batch, listed Wed
    ("2026-11-19T20:00:00+00:00", date(2026, 11, 23)),  # Thu 15:00 ET: Friday's batch, listed Mon
    ("2026-11-20T18:00:00+00:00", date(2026, 11, 23)),  # Fri 13:00 ET: Friday's batch, listed Mon
    ("2026-11-20T20:00:00+00:00", date(2026, 11, 24)),  # Fri 15:00 ET: Monday's batch, listed Tue
    ("2026-11-21T12:00:00+00:00", date(2026, 11, 24)),  # Saturday: Monday's batch, listed Tue
    ("2026-07-06T17:30:00+00:00", date(2026, 7, 7)),    # summer time: 13:30 EDT, before the cutoff
    ("2026-07-06T18:30:00+00:00", date(2026, 7, 8)),    # 14:30 EDT, after it
])
def test_listing_day_follows_the_cutoff_and_skips_weekends(submitted, listed):
    assert listing_day(datetime.fromisoformat(submitted)) == listed


def test_a_snapshot_submission_time_is_listed_by_the_schedule_and_a_listing_day_is_kept():
    submitted = {"id": "0704.0001", "title": "A paper", "versions": [
        {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
        {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"}]}
    record = record_from_snapshot(submitted, origin="test", locator="line 1")
    assert record.published_date == date(2007, 4, 2)
    assert record.announced_date == date(2007, 4, 4)  # Mon 15:18 EDT → Tuesday's batch → Wed
    listed = dict(submitted, versions=[{"version": "v1", "created": "Tue, 18 Mar 2025 00:00:00 GMT"}])
    assert record_from_snapshot(listed, origin="test", locator="line 1").announced_date == date(2025, 3, 18)


def test_version_dates_read_directly_equal_what_email_utils_reads(shared_data):
    """arXiv's own date form is parsed without email.utils (an import's cost); every version date
    of the 200-record sample and the first 2,000 cs records reads the same both ways."""
    import email.utils
    import itertools
    from datetime import UTC

    import orjson

    from indexer.files import iter_lines
    from indexer.sources.arxiv_snapshot import _rfc2822

    lines = itertools.chain(
        iter_lines(shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl"),
        itertools.islice(iter_lines(shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz"), 2000))
    created = [v["created"] for _, line in lines for v in orjson.loads(line)["versions"]]
    assert len(created) > 2200
    for value in [*created, "2 Apr 2007 19:18:42 +0200", "Mon, 31 Feb 2007 19:18:42 GMT", "nonsense"]:
        try:
            expected = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            expected = None
        if expected is not None and expected.tzinfo is None:
            expected = expected.replace(tzinfo=UTC)
        parsed = _rfc2822(value)
        assert (parsed, getattr(parsed, "tzinfo", None)) == (expected, getattr(expected, "tzinfo", None)), value

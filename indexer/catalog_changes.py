"""What the keyword catalog is built from: the search entries (PAPERS_SQL), and which of them
changed since a point in time.

A paper changes when its row is written (`updated_at`: an import or harvest that changed it, a
twin link made or dropped, unpublishing) or deleted (the `paper_removals` log, kept by a
trigger). A change of one twin changes the other's entry too, so both ids count as touched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
import numpy as np
from sqlalchemy import Engine, text

# One row per search entry: a venue paper stands for itself and its arXiv twin (which gets no row of
# its own), taking the twin's categories, its earlier date and, when it has none, its abstract.
_ENTRIES = """
SELECT p.id, p.title, p.title_key,
       CASE WHEN p.abstract = '' AND t.id IS NOT NULL THEN t.abstract ELSE p.abstract END AS abstract,
       p.authors_text, p.keywords_text,
       CASE WHEN t.id IS NULL THEN p.categories ELSE p.categories || t.categories END AS categories,
       p.venue_slug,
       coalesce(p.year, extract(year FROM coalesce(p.published_date, p.announced_date))::int) AS year,
       p.track, CASE WHEN t.id IS NULL THEN p.source ELSE 'both' END AS source,
       least(coalesce(p.published_date, p.announced_date,
                      CASE WHEN p.year BETWEEN 1 AND 9999 THEN make_date(p.year, 1, 1) END),  -- venue: its year
             t.published_date) AS published
FROM papers AS p LEFT JOIN papers AS t ON t.id = p.twin_id AND p.source = 'venue' AND t.is_published
WHERE p.is_published AND NOT (p.source = 'arxiv' AND p.twin_id IS NOT NULL)
"""
PAPERS_SQL = _ENTRIES + "ORDER BY p.id\n"
_ENTRIES_AMONG = _ENTRIES + "AND p.id = ANY(:ids)\nORDER BY p.id\n"
# The newest change, and the start of the oldest transaction still open (it may yet commit rows
# dated before that change: `updated_at` is when a transaction began, not when it committed). A
# writer open for over an hour is not waited for: its rows reach the catalog at the next full build.
_NEWEST = """
SELECT greatest((SELECT max(updated_at) FROM papers), (SELECT max(removed_at) FROM paper_removals)),
       (SELECT min(xact_start) FROM pg_stat_activity
        WHERE xact_start > now() - interval '1 hour' AND pid <> pg_backend_pid()
          AND datname = current_database())
"""
_CHANGED_SINCE = """
SELECT (SELECT count(*) FROM papers WHERE updated_at > :since),
       (SELECT count(*) FROM paper_removals WHERE removed_at > :since)
"""
_TOUCHED = """
SELECT id FROM papers WHERE updated_at > :since
UNION SELECT twin_id FROM papers WHERE updated_at > :since AND twin_id IS NOT NULL
UNION SELECT paper_id FROM paper_removals WHERE removed_at > :since
UNION SELECT twin_id FROM paper_removals WHERE removed_at > :since AND twin_id IS NOT NULL
"""


@dataclass
class Changes:
    """The papers touched since a point in time, and the current entries among them (a touched
    paper without an entry was deleted, unpublished, or merged into its venue twin's entry)."""

    touched_ids: np.ndarray  # int64, ascending
    entries: list


@dataclass
class ChangePoint:
    """Where the papers' changes stand. A catalog built after reading it reflects every change up
    to `since`; `papers` and `removals` count the changes after it, so a transaction
    that commits rows dated before the newest change still changes the point."""

    since: str  # ISO 8601: the next update reads the changes after this ("" for an empty database)
    newest: str
    papers: int
    removals: int

    @property
    def key(self) -> str:
        return f"{self.newest}|{self.papers}|{self.removals}"


def read_change_point(engine: Engine, *, since: str | None = None) -> ChangePoint:
    """The change point counted after `since` (by default after the newest change, or from the
    start of the oldest open transaction when that is earlier)."""
    with engine.connect() as connection:
        newest, oldest_open = connection.execute(text(_NEWEST)).one()
        if since is None:
            start = newest
            if newest and oldest_open and oldest_open <= newest:  # its rows may be dated from its start
                start = oldest_open - timedelta(microseconds=1)
            since = start.isoformat() if start else ""
        papers, removals = connection.execute(
            text(_CHANGED_SINCE), {"since": since or "-infinity"}).one()
    return ChangePoint(since, newest.isoformat() if newest else "", papers, removals)


def read_changes(engine: Engine, *, since: str) -> Changes:
    """Every paper changed or removed after `since`, with the current entries among them."""
    with engine.connect() as connection:
        touched = sorted(connection.execute(text(_TOUCHED), {"since": since}).scalars())
        entries = connection.execute(text(_ENTRIES_AMONG), {"ids": touched}).all() if touched else []
    return Changes(np.asarray(touched, dtype=np.int64), entries)


def stream_entries(engine: Engine, batch_size: int = 5000) -> Iterator[Sequence]:
    """Every search entry, id ascending, in batches."""
    with engine.connect().execution_options(stream_results=True, yield_per=batch_size) as connection:
        yield from connection.execute(text(PAPERS_SQL)).partitions()

"""Link an arXiv preprint and its venue paper ("twins"), so search shows the pair as one entry.

A published venue paper and an arXiv paper are twins when the venue record names the arXiv id, or
when their normalized titles are equal and they share at least half the authors of the shorter
author list. Each paper has at most one twin; an arXiv paper matching several venue records goes
with the newest. Both records are kept; `papers.twin_id` points each at the other. Linking only
adds links between papers that have none, so re-running it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

# Titles shorter than this ("Introduction", "Discussion") say too little to link on.
MIN_TITLE_KEY_CHARS = 12

_LINK_SQL = f"""
WITH venue_side AS (
    SELECT id, title_key, links ->> 'arxiv' AS arxiv_abs FROM papers
    WHERE source = 'venue' AND is_published AND twin_id IS NULL
      AND length(title_key) >= {MIN_TITLE_KEY_CHARS}
),
arxiv_side AS (
    SELECT id, title_key, links ->> 'abs' AS abs FROM papers
    WHERE source = 'arxiv' AND twin_id IS NULL AND is_published
),
-- Two equi-joins rather than one join on "title OR id": each can be a hash join, where the OR
-- forces a nested loop over every venue/arXiv pair (minutes on a fresh import).
matches AS (
    SELECT v.id AS venue_id, a.id AS arxiv_id FROM venue_side AS v JOIN arxiv_side AS a USING (title_key)
    UNION
    SELECT v.id, a.id FROM venue_side AS v JOIN arxiv_side AS a ON a.abs = v.arxiv_abs
),
candidates AS (
    SELECT v.id AS venue_id, a.id AS arxiv_id, v.year,
           (v.links ->> 'arxiv') IS NOT NULL AND v.links ->> 'arxiv' = a.links ->> 'abs' AS by_id,
           cardinality(ARRAY(SELECT unnest(v.author_keys) INTERSECT SELECT unnest(a.author_keys))) AS shared,
           least(cardinality(v.author_keys), cardinality(a.author_keys)) AS fewer
    FROM matches AS m
    JOIN papers AS v ON v.id = m.venue_id
    JOIN papers AS a ON a.id = m.arxiv_id
),
accepted AS (
    SELECT * FROM candidates WHERE by_id OR (shared >= 1 AND shared * 2 >= fewer)
),
best_for_venue AS (
    SELECT DISTINCT ON (venue_id) venue_id, arxiv_id, year, by_id
    FROM accepted ORDER BY venue_id, by_id DESC, arxiv_id
),
pairs AS (
    SELECT DISTINCT ON (arxiv_id) venue_id, arxiv_id, by_id
    FROM best_for_venue ORDER BY arxiv_id, by_id DESC, year DESC NULLS LAST, venue_id
),
linked AS (
    UPDATE papers AS p
    SET twin_id = CASE WHEN p.id = pairs.venue_id THEN pairs.arxiv_id ELSE pairs.venue_id END,
        updated_at = now()
    FROM pairs WHERE p.id IN (pairs.venue_id, pairs.arxiv_id)
    RETURNING p.id, pairs.by_id
)
SELECT count(*) FILTER (WHERE by_id) / 2, count(*) FILTER (WHERE NOT by_id) / 2 FROM linked
"""

_UNLINK_STALE_SQL = """
UPDATE papers AS p SET twin_id = NULL, updated_at = now()
WHERE p.twin_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM papers AS t WHERE t.id = p.twin_id AND t.twin_id = p.id AND t.is_published)
"""


@dataclass
class LinkCounts:
    """Pairs linked by an arXiv id in the venue record, by title and authors, and links dropped."""

    by_id: int
    by_title: int
    unlinked: int

    def line(self) -> str:
        return (f"twins: linked {self.by_id + self.by_title:,} arXiv/venue pairs "
                f"({self.by_id:,} by arXiv id, {self.by_title:,} by title and authors)"
                + (f" · unlinked {self.unlinked:,}" if self.unlinked else ""))


def link_twins(engine: Engine) -> LinkCounts:
    """Link every unlinked pair of twins, and drop links whose other half is gone or unpublished."""
    with engine.begin() as connection:
        connection.execute(text("LOCK TABLE papers IN SHARE ROW EXCLUSIVE MODE"))
        connection.execute(text("ANALYZE papers"))  # fresh statistics after a bulk load: hash joins
        unlinked = connection.execute(text(_UNLINK_STALE_SQL)).rowcount
        by_id, by_title = connection.execute(text(_LINK_SQL)).one()
    return LinkCounts(by_id=int(by_id or 0), by_title=int(by_title or 0), unlinked=unlinked)

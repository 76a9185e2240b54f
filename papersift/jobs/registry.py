"""The jobs papersift runs. Adding one is one entry in JOBS, plus its cron setting in
papersift/settings.py (and the README's configuration table).

A job is a function `(settings, engine) -> JobOutcome`. Job bodies import the indexer lazily, so
the service and `papersift --help` can read this table without loading torch or faiss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from papersift.errors import UnknownJob

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from papersift.settings import Settings

INDEX_JOB = "index"


@dataclass(frozen=True)
class JobOutcome:
    """What a run did: counts for the record, and whether papers changed (then `index` runs next)."""

    counts: dict[str, Any] = field(default_factory=dict)
    changed: bool = False


@dataclass(frozen=True)
class Job:
    """A named job; `cron_setting` names the Settings field holding its crontab (None: on request only).
    Jobs with the same `lock` never run at the same time (default: each job its own lock). A job
    with `after` also runs after each successful run of that job (and of the `index` run it chained)."""

    name: str
    run: Callable[[Settings, Engine], JobOutcome]
    description: str
    cron_setting: str | None = None
    lock: str | None = None
    after: str | None = None

    @property
    def lock_name(self) -> str:
        return self.lock or self.name


def _index(settings: Settings, engine: Engine) -> JobOutcome:
    from indexer.pipeline import update_indexes

    update = update_indexes(settings, engine)
    return JobOutcome(update.counts(), changed=False)


def _rebuild(settings: Settings, engine: Engine) -> JobOutcome:
    from indexer.pipeline import rebuild_vector_index

    built = rebuild_vector_index(settings, engine)
    return JobOutcome(built)


def _harvest_arxiv(settings: Settings, engine: Engine) -> JobOutcome:
    from indexer.harvest.arxiv_api import category_harvest, harvest_arxiv

    categories = settings.split_list(settings.harvest_categories)
    if not categories:
        return JobOutcome({"categories": 0})
    summary = harvest_arxiv(settings, engine, category_harvest(engine, categories, since=None, until=None))
    return _harvest_outcome([summary])


def _harvest_venues(settings: Settings, engine: Engine) -> JobOutcome:
    from indexer.harvest.openreview import harvest_openreview
    from indexer.harvest.paperlists_url import harvest_paperlists_url

    summaries = [harvest_openreview(settings, engine, venue)
                 for venue in settings.split_list(settings.harvest_openreview_venues)]
    summaries += [harvest_paperlists_url(settings, engine, url)
                  for url in settings.split_list(settings.harvest_paperlists_urls)]
    return _harvest_outcome(summaries)


def _harvest_outcome(summaries: list) -> JobOutcome:
    """Summed counts of harvest runs; papers changed when any was inserted, updated or deleted."""
    totals = {"runs": len(summaries)}
    for name in ("read", "inserted", "updated", "unchanged", "rejected", "deleted"):
        totals[name] = sum(getattr(s.counts, name) for s in summaries)
    return JobOutcome(totals, changed=bool(totals["inserted"] + totals["updated"] + totals["deleted"]))


def _digest(cadence: str) -> Callable[[Settings, Engine], JobOutcome]:
    def run(settings: Settings, engine: Engine) -> JobOutcome:
        from papersift.digest.run import send_digests

        return JobOutcome(send_digests(settings, engine, cadence=cadence).counts())

    return run


JOBS: dict[str, Job] = {job.name: job for job in (
    Job("harvest-arxiv", _harvest_arxiv, "fetch new and updated papers of PAPERSIFT_HARVEST_CATEGORIES "
        "from the arXiv API", cron_setting="cron_harvest_arxiv"),
    Job("harvest-venues", _harvest_venues, "fetch PAPERSIFT_HARVEST_OPENREVIEW_VENUES from OpenReview and "
        "PAPERSIFT_HARVEST_PAPERLISTS_URLS", cron_setting="cron_harvest_venues"),
    Job(INDEX_JOB, _index, "publish the keyword index, embed changed papers, build the vector index",
        cron_setting="cron_index", lock="index"),
    Job("rebuild", _rebuild, "rebuild an HNSW vector index from all vectors (a Flat one needs none)",
        cron_setting="cron_rebuild", lock="index"),
    Job("digest", _digest("daily"), "mail the daily digests of the newest announcement day (after each "
        "harvest-arxiv)", lock="digest", after="harvest-arxiv"),
    Job("digest-weekly", _digest("weekly"), "mail the weekly digests of the week that ended",
        cron_setting="cron_digest_weekly", lock="digest"),
)}


def find_job(name: str) -> Job:
    """The registered job of that name; UnknownJob lists the others."""
    try:
        return JOBS[name]
    except KeyError:
        raise UnknownJob(f"no job named {name!r}; the jobs are {', '.join(JOBS)}",
                         hint="papersift jobs lists them with their schedules") from None


def jobs_after(name: str) -> list[str]:
    """Names of the jobs that run after each successful run of `name`."""
    return [job.name for job in JOBS.values() if job.after == name]


def jobs_sharing_lock(job: Job) -> list[str]:
    """Names of the jobs that take the same lock as `job` (itself included)."""
    return [other.name for other in JOBS.values() if other.lock_name == job.lock_name]

"""Prometheus metrics for /metrics: request latency per route, search stage timings, the loaded
indexes' size and age, the last successful ingest per source and the jobs' last outcomes.

With one worker process everything is this process's. `papersift serve --workers N` sets
PROMETHEUS_MULTIPROC_DIR before starting the workers: the histograms are then written per process
under that folder and summed by whichever worker answers the scrape. The gauges are read at scrape
time from the published indexes and from PostgreSQL, which every worker shares.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import State

logger = logging.getLogger(__name__)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

_LAST_INGESTS = """
SELECT source, extract(epoch FROM max(finished_at)) AS at
FROM ingest_runs WHERE status = 'succeeded' AND finished_at IS NOT NULL GROUP BY source
"""
_JOBS = """
SELECT job,
       extract(epoch FROM max(finished_at) FILTER (WHERE outcome = 'succeeded')) AS succeeded_at,
       (array_agg(outcome ORDER BY finished_at DESC) FILTER (WHERE outcome IN ('succeeded', 'failed')))[1]
           AS last_outcome
FROM job_runs GROUP BY job
"""
_ACCOUNTS = """
SELECT (SELECT count(*) FROM accounts) AS accounts,
       (SELECT count(*) FROM account_sessions WHERE expires_at > now()) AS sessions,
       (SELECT count(*) FROM digest_sends WHERE status = 'sent') AS sent,
       (SELECT count(*) FROM digest_sends WHERE status = 'failed') AS failed
"""


class ServiceMetrics:
    """The service's metrics and the registry /metrics renders."""

    def __init__(self, state: State) -> None:
        multiprocess = MULTIPROCESS_DIR in os.environ
        own = None if multiprocess else CollectorRegistry()  # multiprocess: values live in files
        self.requests = Histogram(
            "papersift_http_request_duration_seconds", "HTTP request latency by route template.",
            ("method", "route", "status"), buckets=REQUEST_BUCKETS, registry=own)
        self.search_stages = Histogram(
            "papersift_search_stage_duration_seconds", "Time per search stage (parse, lexical, encode, "
            "vector, fuse, facets, fetch, ...).", ("stage",), buckets=STAGE_BUCKETS, registry=own)
        self.registry = own or CollectorRegistry()
        if multiprocess:
            MultiProcessCollector(self.registry)
        self.registry.register(StateCollector(state))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).observe(seconds)

    def observe_search(self, timings_ms: dict[str, float]) -> None:
        for stage, milliseconds in timings_ms.items():
            self.search_stages.labels(stage).observe(milliseconds / 1000)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of the text exposition format."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class StateCollector(Collector):
    """Gauges read at scrape time: the loaded indexes (from app.state) and PostgreSQL's run tables."""

    def __init__(self, state: State) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        yield from self._vector_index(now)
        yield from self._keyword_index(now)
        yield from self._runs()

    def _vector_index(self, now: float) -> Iterator[Metric]:
        holder = getattr(self.state, "index", None)
        loaded = holder.current_or_none() if holder else None
        yield _gauge("papersift_vector_index_loaded", "1 when a vector index is loaded.", 1 if loaded else 0)
        if loaded is None:
            return
        manifest = loaded.manifest
        yield _gauge("papersift_vector_index_vectors", "Vectors in the loaded index.", manifest.count)
        yield _gauge("papersift_vector_index_generation", "Generation of the loaded index.", manifest.generation)
        yield _gauge("papersift_vector_index_age_seconds", "Seconds since the loaded index was built.",
                     now - _epoch(manifest.built_at))
        try:
            size = (holder.directory / manifest.file).stat().st_size
        except OSError:  # replaced by a newer generation since it was loaded
            return
        yield _gauge("papersift_vector_index_bytes", "Size of the loaded index file.", size)

    def _keyword_index(self, now: float) -> Iterator[Metric]:
        runtime = getattr(self.state, "search", None)
        loaded = runtime.catalog.current_or_none() if runtime else None
        yield _gauge("papersift_keyword_index_loaded", "1 when a keyword index (catalog) is loaded.",
                     1 if loaded else 0)
        if loaded is None:
            return
        yield _gauge("papersift_keyword_index_papers", "Papers in the loaded keyword index.", loaded.count)
        yield _gauge("papersift_keyword_index_generation", "Generation of the loaded keyword index.",
                     loaded.generation)
        if loaded.built_at:
            yield _gauge("papersift_keyword_index_age_seconds", "Seconds since the loaded keyword index "
                         "was built.", now - _epoch(loaded.built_at))

    def _runs(self) -> Iterator[Metric]:
        engine = getattr(self.state, "engine", None)
        if engine is None:
            return
        try:
            with engine.connect() as connection:
                ingests = connection.execute(text(_LAST_INGESTS)).all()
                jobs = connection.execute(text(_JOBS)).all()
                accounts = connection.execute(text(_ACCOUNTS)).one()
        except SQLAlchemyError as error:
            logger.warning("metrics: cannot read the run tables: %s", error)
            return
        ingested = GaugeMetricFamily(
            "papersift_ingest_last_success_timestamp_seconds",
            "Unix time of the last successful harvest or import per source (ingest_runs).", labels=["source"])
        for row in ingests:
            ingested.add_metric([row.source], float(row.at))
        yield ingested
        succeeded = GaugeMetricFamily("papersift_job_last_success_timestamp_seconds",
                                      "Unix time of the job's last successful run.", labels=["job"])
        failing = GaugeMetricFamily("papersift_job_failing", "1 when the job's latest finished run failed.",
                                    labels=["job"])
        for row in jobs:
            if row.succeeded_at is not None:
                succeeded.add_metric([row.job], float(row.succeeded_at))
            failing.add_metric([row.job], 1 if row.last_outcome == "failed" else 0)
        yield succeeded
        yield failing
        yield _gauge("papersift_accounts", "Readers' accounts.", accounts.accounts)
        yield _gauge("papersift_sessions_active", "Signed-in sessions not yet expired.", accounts.sessions)
        digests = GaugeMetricFamily("papersift_digests", "Digest mails by status: sent, or failed and "
                                    "waiting for a retry or given up (digest_sends).", labels=["status"])
        digests.add_metric(["sent"], accounts.sent)
        digests.add_metric(["failed"], accounts.failed)
        yield digests


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()

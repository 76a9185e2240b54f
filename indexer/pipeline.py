"""The index pipeline: twin links → keyword catalog → embeddings of new and changed papers → vector index.

`papersift index` and the scheduled `index` and `rebuild` jobs run it; every step skips what is
already current, so running it when nothing changed costs a few queries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, text

from indexer.build import BuildSummary, build_and_publish, space_key
from indexer.embed import EmbedSummary, count_stale, embed_stale
from indexer.lexical import CatalogSummary, build_catalog, catalog_is_current
from indexer.store_upload import upload_published
from indexer.twins import LinkCounts, link_twins
from papersift.embedding import document_text, load_embedder, space_of
from papersift.embedding_choice import choose_backend
from papersift.progress import ProgressBar, progress_bar
from papersift.settings import Settings
from papersift.vector_index import Manifest, read_manifest

logger = logging.getLogger(__name__)


@dataclass
class IndexUpdate:
    """What one pass of the pipeline did."""

    catalog: CatalogSummary
    embedded: EmbedSummary | None
    built: BuildSummary
    twins: LinkCounts | None = None

    def counts(self) -> dict[str, int | float | str]:
        """The figures a job run records."""
        manifest = self.built.manifest
        return {
            "papers": self.catalog.manifest.count, "catalog": self.catalog.mode,
            "embedded": self.embedded.embedded if self.embedded else 0,
            "vectors": manifest.count, "index": f"{self.built.mode} {manifest.index_type}",
            "index_generation": manifest.generation,
            "twins_linked": (self.twins.by_id + self.twins.by_title) if self.twins else 0,
        }


def update_indexes(settings: Settings, engine: Engine, *, rebuild: bool = False, progress: bool = False,
                   on_catalog: Callable[[CatalogSummary], None] | None = None, backend: str | None = None,
                   echo: Callable[[str], object] = logger.info) -> IndexUpdate:
    """Publish the keyword catalog if papers changed, embed stale papers (newest first,
    resumable), then build and publish the vector index (incrementally when only new vectors
    arrived). `rebuild` rebuilds both from scratch; `progress` shows bars on a terminal; `backend`
    overrides the setting. Twins are linked first (when papers changed), so search shows an arXiv
    preprint and its venue paper as one entry. With an object store configured
    (`PAPERSIFT_INDEX_STORE`), each newly published generation is uploaded for the API replicas.

    A first embed publishes the growing index as it goes (every `embed_publish_seconds`, less often
    once large), so recent papers are searchable by meaning long before the backlog is
    done. After a change of embedding space (backend precision, token limit) the old index keeps
    serving, and the new one replaces it when every paper has a vector in the new space."""
    # Nothing changed since the published catalog: no new pair can have formed (linking reads the
    # whole table, 15 s at 1M papers).
    twins = None if not rebuild and catalog_is_current(engine, settings.search_dir) else link_twins(engine)
    with _bar(progress, "keyword index", unit="paper") as bar:
        catalog = build_catalog(engine, settings.search_dir, force=rebuild, on_batch=bar.advance)
    if on_catalog:
        on_catalog(catalog)
    upload_published(settings)  # replicas on other machines get keyword search before the embedding ends
    backend = resolve_backend(settings, engine, backend or settings.embedding_backend, echo=echo)
    space = space_of(settings.model, backend, settings.embedding_max_tokens)
    stale = count_stale(engine, model=space.key)
    embedded = None
    if stale:
        embedder = load_embedder(settings.model, backend=backend, max_tokens=space.max_tokens,
                                 cache_dir=settings.model_cache_dir, calibration_texts=calibration_texts(engine))
        publisher = _ProgressivePublisher(settings, engine, space, backend, stale, echo)
        with _bar(progress, "embed", total=stale, unit="doc") as bar:
            def on_batch(count: int) -> None:
                bar.advance(count)
                publisher.after_batch(count)

            embedded = embed_stale(engine, embedder, model=space.key, batch_size=settings.embed_batch_size,
                                   on_batch=on_batch)
    complete = count_stale(engine, model=space.key) == 0
    built = build_and_publish(engine, settings, backend=backend, space=space, force_full=rebuild, complete=complete)
    upload_published(settings)
    return IndexUpdate(catalog, embedded, built, twins)


def resolve_backend(settings: Settings, engine: Engine, backend: str, *,
                    echo: Callable[[str], object] = logger.info) -> str:
    """The concrete backend: `auto` measured once per CPU on a fixed sample of the corpus (cached)."""
    if backend != "auto":
        return backend
    sample = sample_papers(engine)
    if not sample:  # nothing to measure on yet: fp32, which any later choice can replace cheaply
        echo("embedding backend auto → onnx: no papers with abstracts to measure the backends on yet")
        return "onnx"
    return choose_backend(settings.model, settings.model_cache_dir, settings.embedding_max_tokens,
                          sample, echo=echo)


def prepare_embedder(settings: Settings, engine: Engine, *, backend: str | None = None,
                     echo: Callable[[str], object] = logger.info) -> str | None:
    """Choose the backend (`auto`: measured once per CPU) and build the exported model it needs,
    so the next embed starts at once; None when there are no papers to measure `auto` on yet."""
    backend = backend or settings.embedding_backend
    if backend == "auto" and not sample_papers(engine):
        return None
    backend = resolve_backend(settings, engine, backend, echo=echo)
    load_embedder(settings.model, backend=backend, max_tokens=settings.embedding_max_tokens,
                  cache_dir=settings.model_cache_dir, calibration_texts=calibration_texts(engine))
    return backend


def sample_papers(engine: Engine, limit: int = 64) -> list[tuple[str, str]]:
    """(title, abstract) of a fixed sample of real papers: the first published ones with a full abstract."""
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT title, abstract FROM papers WHERE is_published AND length(abstract) > 200 "
            "ORDER BY id LIMIT :n"), {"n": limit}).all()
    return [(r.title, r.abstract) for r in rows]


class _ProgressivePublisher:
    """Publishes the growing index during a long embed (only when no index of another space is
    serving): every `embed_publish_seconds` while it is small, five times less often above the
    exact-search size."""

    def __init__(self, settings: Settings, engine: Engine, space, backend: str, stale: int,
                 echo: Callable[[str], object]) -> None:
        previous = read_manifest(settings.index_dir)
        self.enabled = previous is None or space_key(previous) == space.key
        self.settings, self.engine, self.space, self.backend, self.echo = settings, engine, space, backend, echo
        self.stale, self.done = stale, 0
        self.started = self.last = time.monotonic()
        self.first = True

    def after_batch(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if not self.enabled or self.done >= self.stale:
            return  # the final build publishes the rest
        interval = self.settings.embed_publish_seconds
        if now - self.last < interval:
            return  # checked before reading the manifest: most batches stop here
        published = read_manifest(self.settings.index_dir)
        if published is not None and published.count >= self.settings.index_exact_max:
            if now - self.last < 5 * interval:  # a large index costs more to write
                return
        built = build_and_publish(self.engine, self.settings, backend=self.backend, space=self.space)
        self.last = time.monotonic()
        rate = self.done / max(now - self.started, 1e-9)
        left = self.stale - self.done
        what = "first vectors live" if self.first else "vectors live"
        self.echo(f"index: {what}: {built.manifest.count:,} papers, newest first (generation "
                  f"{built.manifest.generation}) · {left:,} to embed, about {left / rate / 60:.0f} min left "
                  f"at {rate:.1f} papers/s")
        self.first = False


def needs_rebuild(manifest: Manifest | None, *, exact_max: int) -> bool:
    """Whether a full rebuild improves the published index: an HNSW graph was tuned (efSearch) for
    the size it was built at and grows by incremental adds; a Flat index grown past `exact_max`
    should become HNSW. An exact Flat index below it is as good as a rebuilt one."""
    return manifest is not None and (manifest.index_type == "hnsw" or manifest.count > exact_max)


def rebuild_vector_index(settings: Settings, engine: Engine) -> dict[str, int | float | str]:
    """Rebuild the vector index from every stored vector when its type needs it; returns counts."""
    manifest = read_manifest(settings.index_dir)
    if not needs_rebuild(manifest, exact_max=settings.index_exact_max):
        reason = "no index published yet" if manifest is None else "exact flat index"
        logger.info("rebuild not needed: %s", reason)
        return {"rebuilt": 0, "vectors": manifest.count if manifest else 0, "reason": reason}
    backend = manifest.backend
    space = space_of(settings.model, backend, manifest.max_tokens)
    built = build_and_publish(engine, settings, backend=backend, space=space, force_full=True)
    upload_published(settings)
    logger.info("rebuilt the %s index of %d vectors in %.1f s", built.manifest.index_type,
                built.manifest.count, built.seconds)
    return {"rebuilt": 1, "vectors": built.manifest.count, "index": built.manifest.index_type,
            "index_generation": built.manifest.generation, "seconds": round(built.seconds, 1)}


def calibration_texts(engine: Engine, limit: int = 300) -> list[str]:
    """Real titles and abstracts for int8 calibration (used only by openvino-int8, once)."""
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT title, abstract FROM papers WHERE is_published ORDER BY id LIMIT :n"), {"n": limit})
        return [document_text(r.title, r.abstract) for r in rows]


@contextmanager
def _bar(shown: bool, description: str, *, total: int | None = None, unit: str) -> Iterator[ProgressBar]:
    if not shown:
        yield ProgressBar(None, None)
        return
    with progress_bar(description, total=total, unit=unit) as bar:
        yield bar

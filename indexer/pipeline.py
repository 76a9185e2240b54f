"""The index pipeline: twin links → keyword catalog → embeddings of new and changed papers → vector index.

`papersift index` and the scheduled `index` and `rebuild` jobs run it; every step skips what is
already current, so running it when nothing changed costs a few queries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, text

from indexer.build import BuildSummary, build_and_publish
from indexer.embed import EmbedSummary, count_stale, embed_stale
from indexer.lexical import CatalogSummary, build_catalog
from indexer.twins import LinkCounts, link_twins
from papersift.embedding import document_text, load_embedder
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
                   on_catalog: Callable[[CatalogSummary], None] | None = None) -> IndexUpdate:
    """Publish the keyword catalog if papers changed, embed stale papers (resumable), then build
    and publish the vector index (incrementally when only new vectors arrived). `rebuild` rebuilds
    both from scratch; `progress` shows bars on a terminal. Twins are linked first, so search
    shows an arXiv preprint and its venue paper as one entry."""
    twins = link_twins(engine)
    with _bar(progress, "keyword index", unit="paper") as bar:
        catalog = build_catalog(engine, settings.search_dir, force=rebuild, on_batch=bar.advance)
    if on_catalog:
        on_catalog(catalog)
    stale = count_stale(engine, model=settings.model)
    embedded = None
    if stale:
        embedder = load_embedder(settings.model, backend=settings.embedding_backend,
                                 cache_dir=settings.model_cache_dir,
                                 calibration_texts=calibration_texts(engine))
        with _bar(progress, "embed", total=stale, unit="doc") as bar:
            embedded = embed_stale(engine, embedder, model=settings.model,
                                   batch_size=settings.embed_batch_size, on_batch=bar.advance)
    built = build_and_publish(engine, settings, backend=settings.embedding_backend, force_full=rebuild)
    return IndexUpdate(catalog, embedded, built, twins)


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
    built = build_and_publish(engine, settings, backend=settings.embedding_backend, force_full=True)
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

"""Hand newly published generations to API replicas on other machines: upload each one to the object
store (`PAPERSIFT_INDEX_STORE`): its files, then their checksums (generation.json), then the pointer
(current.json). Then delete the generations superseded longer ago than the grace period.

Called after the index pipeline publishes locally; it uploads whatever is published and not yet in
the store, so a run after a failed upload (store down) catches up.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from papersift.index_artifacts import Artifact, artifacts_of
from papersift.index_store import (
    GENERATION_MANIFEST,
    POINTER,
    TRANSFER_THREADS,
    IndexStore,
    open_index_store,
    sha256_of,
)
from papersift.settings import Settings

logger = logging.getLogger(__name__)


def upload_published(settings: Settings, *, store: IndexStore | None = None) -> list[str]:
    """Upload the locally published generation of each artifact unless the store's pointer already
    names it; drop superseded generations after the grace period. Returns one line per action."""
    store = store or open_index_store(settings)
    if store is None:
        return []
    lines = []
    for artifact in artifacts_of(settings):
        manifest = artifact.read_manifest()
        if manifest is None:
            continue
        pointer = store.get_json(store.key(artifact.key, POINTER))
        if pointer is None or pointer["generation"] != manifest["generation"]:
            lines.append(upload_generation(store, artifact, manifest))
        lines += drop_old_generations(store, artifact, grace_seconds=settings.index_store_grace_seconds)
    for line in lines:
        logger.info("index store: %s", line)
    return lines


def upload_generation(store: IndexStore, artifact: Artifact, manifest: dict[str, Any]) -> str:
    """Upload one generation: files (in parallel), generation.json with their sha256, current.json.
    A file the store's current generation already holds (same sha256 and size: the segments an
    incremental catalog shares with its predecessor) is copied inside the store, not uploaded."""
    started = time.perf_counter()
    generation = manifest["generation"]
    store.delete_generation(artifact.key, generation)  # a half upload left by a killed run
    paths = artifact.generation_files(manifest)
    held = _files_in_store(store, artifact)

    def upload(path: str) -> tuple[dict[str, Any], bool]:
        local = artifact.directory / path
        entry = {"path": path, "size": local.stat().st_size, "sha256": sha256_of(local)}
        key = store.key(artifact.key, generation, path)
        source = held.get((entry["sha256"], entry["size"]))
        if source is not None:
            store.copy(source, key)
        else:
            store.put_file(key, local)
        return entry, source is not None

    with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
        done = list(pool.map(upload, paths))
    files = [entry for entry, _ in done]
    published_at = time.time()
    store.put_json(store.key(artifact.key, generation, GENERATION_MANIFEST),
                   {"generation": generation, "published_at": published_at, "manifest": manifest, "files": files})
    store.put_json(store.key(artifact.key, POINTER), {"generation": generation, "published_at": published_at})
    sent = sum(entry["size"] for entry, copied in done if not copied)
    copied = sum(1 for _, was_copied in done if was_copied)
    return (f"uploaded {artifact.name} generation {generation}: {len(files)} files, {sent / 1e6:,.1f} MB sent"
            f"{f', {copied} unchanged files copied within the store' if copied else ''} "
            f"in {time.perf_counter() - started:.1f} s")


def _files_in_store(store: IndexStore, artifact: Artifact) -> dict[tuple[str, int], str]:
    """(sha256, size) → key of each file of the store's current generation of `artifact`."""
    pointer = store.get_json(store.key(artifact.key, POINTER))
    record = pointer and store.get_json(store.key(artifact.key, pointer["generation"], GENERATION_MANIFEST))
    if not record:
        return {}
    return {(entry["sha256"], entry["size"]): store.key(artifact.key, record["generation"], entry["path"])
            for entry in record["files"]}


def drop_old_generations(store: IndexStore, artifact: Artifact, *, grace_seconds: float,
                         now: float | None = None) -> list[str]:
    """Delete every generation but the current one once a generation published after it has been
    current for `grace_seconds` (replicas still downloading it finish first)."""
    pointer = store.get_json(store.key(artifact.key, POINTER))
    if pointer is None:
        return []
    now = time.time() if now is None else now
    published = {generation: _published_at(store, artifact, generation)
                 for generation in store.generations(artifact.key)}
    lines = []
    for generation, published_at in published.items():
        if generation == pointer["generation"]:
            continue
        later = [t for t in published.values() if t is not None and (published_at is None or t > published_at)]
        if later and now - min(later) >= grace_seconds:
            count = store.delete_generation(artifact.key, generation)
            lines.append(f"deleted {artifact.name} generation {generation} ({count} objects)")
    return lines


def _published_at(store: IndexStore, artifact: Artifact, generation: int) -> float | None:
    """When a generation was uploaded; None for one without generation.json (a half upload)."""
    manifest = store.get_json(store.key(artifact.key, generation, GENERATION_MANIFEST))
    return None if manifest is None else manifest["published_at"]

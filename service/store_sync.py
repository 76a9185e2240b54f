"""Keep a replica's local indexes in step with the object store (`PAPERSIFT_INDEX_STORE=s3://...`).

Every `PAPERSIFT_INDEX_STORE_POLL_SECONDS` one process per data directory (a file lock picks it
among the workers) reads each artifact's pointer; a generation it has not installed is downloaded into
a staging folder, every file checked against the size and sha256 in its generation.json, and only then
moved into place with the manifest written last, where the holders (service/index_holder.py) swap it
in as after a local publish. An incomplete or corrupt generation is refused with the reason logged and
the previous one keeps serving; a store that does not answer changes nothing (readiness then fails
only past `PAPERSIFT_INDEX_MAX_AGE_SECONDS`, see service/api/operations.py).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from papersift.index_artifacts import Artifact, artifacts_of, drop_superseded, install_generation
from papersift.index_store import (
    GENERATION_MANIFEST,
    POINTER,
    TRANSFER_THREADS,
    IndexStore,
    IndexStoreUnavailable,
    open_index_store,
    sha256_of,
)
from papersift.settings import Settings

logger = logging.getLogger(__name__)
LOCK_FILE = "index-store.lock"
INSTALLED_RECORD = "store-generation.json"  # the store's record of the generation installed last


class GenerationRefused(Exception):
    """A generation in the store that must not be served (the message says why)."""


def download_generation(store: IndexStore, artifact: Artifact, generation: int) -> dict[str, Any]:
    """Download and verify one generation, then install it; returns its local manifest. A file the
    installed generation already has (same sha256 and size) is hard-linked, not downloaded. Raises
    GenerationRefused (nothing installed) for a missing generation.json, file or wrong checksum."""
    record = store.get_json(store.key(artifact.key, generation, GENERATION_MANIFEST))
    if record is None or record.get("generation") != generation:
        raise GenerationRefused(f"generation {generation} has no {GENERATION_MANIFEST} (an unfinished upload)")
    artifact.directory.mkdir(parents=True, exist_ok=True)
    staging = artifact.directory / f"download-{generation}"
    shutil.rmtree(staging, ignore_errors=True)
    on_disk = _installed_files(artifact)

    def fetch(entry: dict[str, Any]) -> None:
        target = staging / _safe_relative(entry["path"])
        if not _reuse(on_disk.get((entry["sha256"], entry["size"])), target):
            try:
                store.download(store.key(artifact.key, generation, entry["path"]), target)
            except FileNotFoundError:
                raise GenerationRefused(f"generation {generation}: {entry['path']} is missing from the store") from None
        size = target.stat().st_size
        if size != entry["size"] or sha256_of(target) != entry["sha256"]:
            raise GenerationRefused(f"generation {generation}: {entry['path']} does not match its checksum "
                                    f"({size:,} bytes, expected {entry['size']:,})")

    try:
        with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            list(pool.map(fetch, record["files"]))
        install_generation(artifact, staging, record["manifest"])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _atomic_json(artifact.directory / INSTALLED_RECORD, record)
    return record["manifest"]


def _installed_files(artifact: Artifact) -> dict[tuple[str, int], Path]:
    """(sha256, size) → local path of each file of the generation installed last (from its record)."""
    try:
        record = json.loads((artifact.directory / INSTALLED_RECORD).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {(entry["sha256"], entry["size"]): artifact.directory / _safe_relative(entry["path"])
            for entry in record.get("files", [])}


def _reuse(source: Path | None, target: Path) -> bool:
    """Hard-link (or copy) a local file with the wanted content into the staging folder."""
    if source is None or not source.is_file():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return True


def _atomic_json(path: Path, value: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value))
    temporary.replace(path)


def _safe_relative(path: str) -> Path:
    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).is_absolute() or ".." in parts:
        raise GenerationRefused(f"refusing a file path outside the index directory: {path!r}")
    return Path(*parts)


class StoreSync:
    """Polls the store and installs new generations (in one process per data directory)."""

    def __init__(self, settings: Settings, store: IndexStore) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts_of(settings)
        self._refused: dict[str, int] = {}  # artifact key -> the generation refused (not retried)
        self._lock_handle = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sync_once(self) -> list[str]:
        """One poll of every artifact; returns what happened, one line each (also logged)."""
        lines = []
        for artifact in self.artifacts:
            try:
                line = self._sync_artifact(artifact)
            except IndexStoreUnavailable as error:
                line = f"{artifact.name}: store unavailable, serving what is on disk: {error.message}"
                logger.warning("index store: %s", line)
            if line:
                lines.append(line)
        return lines

    def _sync_artifact(self, artifact: Artifact) -> str | None:
        pointer = self.store.get_json(self.store.key(artifact.key, POINTER))
        if pointer is None:
            return None
        generation = pointer["generation"]
        local = artifact.read_manifest()
        if (local is None or local["generation"] != generation) and self._refused.get(artifact.key) != generation:
            try:
                download_generation(self.store, artifact, generation)
            except GenerationRefused as refusal:
                self._refused[artifact.key] = generation
                logger.error("index store: refusing %s %s; the previous generation keeps serving",
                             artifact.name, refusal)
                return f"{artifact.name}: refused {refusal}"
            logger.info("index store: installed %s generation %s", artifact.name, generation)
            line = f"{artifact.name}: installed generation {generation}"
        else:
            line = None
        local = artifact.read_manifest()
        if local is not None:
            for name in drop_superseded(artifact, current=local["generation"],
                                        grace_seconds=self.settings.index_store_grace_seconds):
                logger.info("index store: removed superseded %s %s", artifact.name, name)
        return line

    def start(self) -> None:
        """Poll in a daemon thread (the first poll at once) while this process holds the lock."""
        self._thread = threading.Thread(target=self._watch, name="index-store-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def _watch(self) -> None:
        while not self._stop.is_set():
            if self._holds_lock():
                try:
                    self.sync_once()
                except (OSError, ValueError, KeyError) as error:  # a full disk, a malformed pointer
                    logger.error("index store: sync failed: %s", error)
            self._stop.wait(self.settings.index_store_poll_seconds)

    def _holds_lock(self) -> bool:
        """Whether this process syncs the data directory (another worker may); retried each poll, so
        a worker takes over when the one holding it exits."""
        if self._lock_handle is not None:
            return True
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.settings.data_dir / LOCK_FILE).open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock_handle = handle
        return True


def start_store_sync(settings: Settings) -> StoreSync | None:
    """Start polling the configured object store; None when indexes are read from local disk only."""
    store = open_index_store(settings)
    if store is None:
        return None
    sync = StoreSync(settings, store)
    sync.start()
    return sync

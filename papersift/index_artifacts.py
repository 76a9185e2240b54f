"""The published artifacts as files: which files make one generation of the keyword catalog and of
the vector index, and how a generation is placed on local disk where the services find it.

Both artifacts live in a directory of their own (`settings.search_dir`, `settings.index_dir`) with a
`manifest.json` naming the current generation, written last and atomically; everything else a
generation needs sits under a top-level name carrying its number (`lexical-<n>/`, `vectors-<n>.faiss`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papersift.settings import Settings

MANIFEST = "manifest.json"  # the name both publishers use (indexer/lexical.py, papersift/vector_index.py)


@dataclass(frozen=True)
class Artifact:
    """One published artifact: its local directory and its key in the object store."""

    name: str  # "keyword catalog" | "vector index"
    key: str  # "search" | "index/<model>": the same path below data_dir and below the store prefix
    directory: Path
    top_entry: Callable[[dict[str, Any]], str]  # the file or folder a manifest's generation lives in
    entry_pattern: re.Pattern[str]  # a top-level name of some generation; group 1 is its number

    def read_manifest(self) -> dict[str, Any] | None:
        """The local manifest as published (a dict), or None when nothing is published."""
        path = self.directory / MANIFEST
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    def generation_files(self, manifest: dict[str, Any]) -> list[str]:
        """Paths (relative to the directory, '/'-separated) of every file of that generation."""
        top = self.directory / self.top_entry(manifest)
        if top.is_file():
            return [top.name]
        return sorted(path.relative_to(self.directory).as_posix() for path in top.rglob("*")
                      if path.is_file() and not path.name.endswith(".lock"))

    def entry_generations(self) -> dict[Path, int]:
        """Every local top-level entry of some generation, with its number."""
        if not self.directory.is_dir():
            return {}
        found = {}
        for path in self.directory.iterdir():
            match = self.entry_pattern.fullmatch(path.name)
            if match:
                found[path] = int(match.group(1))
        return found


def artifacts_of(settings: Settings) -> list[Artifact]:
    """The keyword catalog and the vector index of the configured model."""
    return [
        Artifact("keyword catalog", "search", settings.search_dir,
                 top_entry=lambda manifest: manifest["directory"], entry_pattern=re.compile(r"lexical-(\d+)")),
        Artifact("vector index", settings.index_dir.relative_to(settings.data_dir).as_posix(), settings.index_dir,
                 top_entry=lambda manifest: manifest["file"], entry_pattern=re.compile(r"vectors-(\d+)\.faiss")),
    ]


def install_generation(artifact: Artifact, staging: Path, manifest: dict[str, Any]) -> None:
    """Move a complete, verified generation from `staging` (inside the artifact's directory) into
    place, then point the manifest at it (temp file, fsync, rename): a reader polling the manifest
    sees the old generation or the whole new one."""
    for entry in staging.iterdir():
        target = artifact.directory / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        entry.replace(target)
    staging.rmdir()
    temporary = artifact.directory / (MANIFEST + ".tmp")
    temporary.write_text(json.dumps(manifest, indent=2))
    with temporary.open("rb+") as handle:
        os.fsync(handle.fileno())
    temporary.replace(artifact.directory / MANIFEST)


def drop_superseded(artifact: Artifact, *, current: int, grace_seconds: float, now: float | None = None) -> list[str]:
    """Remove the local generations other than `current` once `current` has been on disk for
    `grace_seconds` (a worker may still be loading an older one). Returns the names removed."""
    entries = artifact.entry_generations()
    current_entry = next((path for path, generation in entries.items() if generation == current), None)
    now = time.time() if now is None else now
    if current_entry is None or now - current_entry.stat().st_mtime < grace_seconds:
        return []
    removed = []
    for path, generation in entries.items():
        if generation != current:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path.name)
    return sorted(removed)

"""The data folder `papersift demo` imports (PAPERSIFT_SHARED_DATA): arXiv snapshot files under
`arxiv/` and conference lists under `venues/paperlists/`. Either part may be missing; a folder with
neither (or no folder at all) is not usable, and the demo fetches a starter corpus instead."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from indexer.sources.paperlists import find_list_files

ARXIV_PART = "arxiv/"
VENUES_PART = "venues/paperlists/"


@dataclass(frozen=True)
class DataFolder:
    """What the folder at `root` holds: its arXiv snapshot files, and its folder of lists if that
    holds any list file."""

    root: Path
    arxiv_files: list[Path]
    venue_dir: Path | None

    @property
    def is_usable(self) -> bool:
        return bool(self.arxiv_files) or self.venue_dir is not None

    def missing_parts(self) -> list[tuple[str, str]]:
        """(folder, what it would hold) of each part the folder lacks."""
        missing = []
        if not self.arxiv_files:
            missing.append((ARXIV_PART, "arXiv"))
        if self.venue_dir is None:
            missing.append((VENUES_PART, "venues"))
        return missing


def read_data_folder(root: Path) -> DataFolder:
    """The parts of the data folder at `root` (which may not exist)."""
    arxiv_dir = root / ARXIV_PART
    arxiv_files = sorted(arxiv_dir.glob("*.jsonl*")) if arxiv_dir.is_dir() else []
    venue_dir = root / VENUES_PART
    has_lists = venue_dir.is_dir() and bool(find_list_files([venue_dir]))
    return DataFolder(root=root, arxiv_files=arxiv_files, venue_dir=venue_dir if has_lists else None)

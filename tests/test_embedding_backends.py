"""Embedding spaces and backends on the real model and real abstracts: storage keys, tokenization,
int8 quality against torch fp32, the token cap, and the cached `auto` choice."""

from __future__ import annotations

import gzip
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from papersift import embedding_choice
from papersift.embedding import MAX_TOKENS, EmbeddingSpace, document_text, load_embedder, space_of
from papersift.embedding_choice import choose_backend, known_item_mrr
from papersift.embedding_runtime import equal_length_batches, load_tokenizer, tokenize
from papersift.normalize import clean_text

MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def papers(shared_data: Path) -> list[tuple[str, str]]:
    """(title, abstract) of 200 real arXiv papers with abstracts."""
    rows = []
    with gzip.open(shared_data / "arxiv" / "arxiv-cs-2025-2026.jsonl.gz", "rt") as handle:
        for line in itertools.islice(handle, 1000, None):
            record = json.loads(line)
            if record.get("abstract"):
                rows.append((clean_text(record["title"]), clean_text(record["abstract"])))
            if len(rows) == 200:
                return rows
    return rows


@pytest.fixture(scope="module")
def vectors(papers, model_cache) -> dict[str, dict[str, np.ndarray]]:
    """Abstracts and titles of 32 papers embedded by torch, onnx and onnx-int8."""
    sample = papers[:32]
    out = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        embedder = load_embedder(MODEL, backend=backend, cache_dir=model_cache)
        out[backend] = {"abstracts": embedder.encode([a for _, a in sample]),
                        "titles": embedder.encode([t for t, _ in sample])}
    return out


def test_fp32_space_at_256_tokens_keys_by_the_bare_model_name():
    assert EmbeddingSpace(MODEL, "fp32", 256).key == MODEL
    assert EmbeddingSpace.from_key(MODEL) == EmbeddingSpace(MODEL, "fp32", 256)


@pytest.mark.parametrize("space", [
    EmbeddingSpace(MODEL, "int8-onnx", 256), EmbeddingSpace(MODEL, "fp32", 128),
    EmbeddingSpace("org/model", "fp16", 512), EmbeddingSpace(MODEL, "int8-openvino", 128)])
def test_other_spaces_round_trip_through_their_key(space):
    assert space.key == f"{space.model}|{space.precision}|{space.max_tokens}"
    assert EmbeddingSpace.from_key(space.key) == space


def test_a_key_with_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="int4"):
        EmbeddingSpace.from_key(f"{MODEL}|int4|256")


def test_torch_and_onnx_share_the_fp32_space_and_int8_backends_do_not():
    assert space_of(MODEL, "torch", 256) == space_of(MODEL, "onnx", 256)
    assert space_of(MODEL, "onnx-int8", 256).key == f"{MODEL}|int8-onnx|256"
    assert space_of(MODEL, "openvino-int8", 128).key == f"{MODEL}|int8-openvino|128"
    assert space_of(MODEL, "torch-cuda", 256).key == f"{MODEL}|fp16|256"


@pytest.mark.parametrize("max_tokens", [256, 128])
def test_tokenizers_give_the_ids_of_transformers_tokenizer(papers, max_tokens):
    from transformers import AutoTokenizer

    from papersift.embedding import resolve_model_path

    path = resolve_model_path(MODEL)
    texts = [document_text(t, a) for t, a in papers]
    expected = AutoTokenizer.from_pretrained(str(path), local_files_only=True)(
        texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="np")
    tokens = tokenize(load_tokenizer(path, max_tokens), texts)
    assert tokens["input_ids"].shape[1] == max_tokens  # real abstracts reach the cap
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        np.testing.assert_array_equal(tokens[name], expected[name])


def test_batches_hold_texts_of_one_length_within_the_token_budget():
    lengths = [5, 256, 5, 7, 256, 256, 5, 7]
    batches = equal_length_batches(lengths, max_texts=2, max_tokens_per_batch=512)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert all(len({lengths[i] for i in batch}) == 1 for batch in batches)
    assert [len(b) for b in batches if lengths[b[0]] == 5] == [2, 1]  # at most max_texts
    assert [len(b) for b in batches if lengths[b[0]] == 256] == [2, 1]  # at most ~512 tokens


def test_batches_on_two_threads_give_the_vectors_of_one(papers, model_cache):
    texts = [document_text(t, a) for t, a in papers[:48]]
    one, two = (load_embedder(MODEL, backend="onnx-int8", cache_dir=model_cache, threads=n) for n in (1, 2))
    np.testing.assert_allclose(two.encode(texts, batch_size=4), one.encode(texts, batch_size=4), atol=1e-6)


def test_onnx_fp32_gives_torch_vectors_and_int8_stays_close(vectors):
    torch_abstracts = vectors["torch"]["abstracts"]
    assert (vectors["onnx"]["abstracts"] * torch_abstracts).sum(axis=1).min() > 0.9999
    int8 = (vectors["onnx-int8"]["abstracts"] * torch_abstracts).sum(axis=1)
    assert int8.mean() > 0.99 and int8.min() > 0.98
    mrr = {b: known_item_mrr(v["titles"], v["abstracts"]) for b, v in vectors.items()}
    assert mrr["torch"] > 0.8
    assert abs(mrr["onnx-int8"] - mrr["torch"]) <= 0.02


def test_the_token_cap_truncates_long_texts_only(papers, model_cache):
    long_text = document_text(*max(papers, key=lambda p: len(p[1])))
    short_text = papers[0][0]
    capped = {n: load_embedder(MODEL, backend="onnx", cache_dir=model_cache, max_tokens=n, threads=1)
              for n in (MAX_TOKENS, 128)}
    assert capped[128].space.key == f"{MODEL}|fp32|128" and capped[128].max_tokens == 128
    long_vectors = {n: e.encode([long_text])[0] for n, e in capped.items()}
    short_vectors = {n: e.encode([short_text])[0] for n, e in capped.items()}
    assert float(long_vectors[128] @ long_vectors[MAX_TOKENS]) < 0.99
    np.testing.assert_allclose(short_vectors[128], short_vectors[MAX_TOKENS], atol=1e-6)


def test_a_cached_onnx_query_encoder_imports_neither_torch_nor_transformers(model_cache, vectors):
    script = ("import sys; from pathlib import Path; from papersift.embedding import load_embedder; "
              f"load_embedder({MODEL!r}, backend='onnx-int8', cache_dir=Path({str(model_cache)!r}), "
              "threads=1).encode(['graph neural networks']); "
              "heavy = ('torch', 'transformers', 'sentence_transformers'); "
              "print(sorted(m for m in heavy if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_choose_backend_caches_its_choice_per_cpu_and_remeasures_when_flags_change(
        papers, model_cache, monkeypatch):
    measured = []
    measure = embedding_choice._measure

    def spy(model, cache_dir, max_tokens, backend, sample):  # counts real measurements
        measured.append(backend)
        return measure(model, cache_dir, max_tokens, backend, sample)

    monkeypatch.setattr(embedding_choice, "_measure", spy)
    monkeypatch.setattr(embedding_choice, "cpu_flags", lambda: ("avx2",))
    lines: list[str] = []
    sample = papers[100:112]

    first = choose_backend(MODEL, model_cache, 128, sample, echo=lines.append, candidates=["onnx-int8"])
    recorded = json.loads((model_cache / "embedding-choice.json").read_text())[f"{MODEL}|128"]
    assert first in ("torch", "onnx-int8") and recorded["backend"] == first
    assert recorded["cpu_flags"] == ["avx2"]
    assert set(recorded["docs_per_second"]) == {"torch", "onnx-int8"}
    assert measured == ["torch", "onnx-int8"]
    assert lines[-1].startswith(f"embedding backend auto → {first}: ") and lines[-1].endswith("(avx2)")

    again = choose_backend(MODEL, model_cache, 128, sample, echo=lines.append, candidates=["onnx-int8"])
    assert again == first
    assert measured == ["torch", "onnx-int8"]
    assert load_embedder(MODEL, backend="auto", cache_dir=model_cache, max_tokens=128).backend == first

    monkeypatch.setattr(embedding_choice, "cpu_flags", lambda: ("avx2", "avx512_vnni", "avx512f"))
    choose_backend(MODEL, model_cache, 128, sample, echo=lines.append, candidates=["onnx-int8"])
    assert measured == ["torch", "onnx-int8"] * 2
    recorded = json.loads((model_cache / "embedding-choice.json").read_text())[f"{MODEL}|128"]
    assert recorded["cpu_flags"] == ["avx2", "avx512_vnni", "avx512f"]


_CHOOSE_IN_A_PROCESS = """
import json, sys
from pathlib import Path
from papersift import embedding_choice
measured = []
measure = embedding_choice._measure
def spy(*args):
    measured.append(args[3])
    return measure(*args)
embedding_choice._measure = spy
backend = embedding_choice.choose_backend(sys.argv[1], Path(sys.argv[2]), 64, json.loads(sys.argv[3]),
                                          echo=lambda line: None, candidates=["onnx-int8"])
print(json.dumps({"backend": backend, "measured": measured}))
"""


def test_two_processes_choosing_at_once_measure_and_export_once(papers, tmp_path):
    cache = tmp_path / "models"
    arguments = [sys.executable, "-c", _CHOOSE_IN_A_PROCESS, MODEL, str(cache), json.dumps(papers[:8])]
    both = [subprocess.Popen(arguments, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    results = [json.loads(process.communicate(timeout=600)[0]) for process in both]
    assert all(process.returncode == 0 for process in both)

    assert sorted(len(result["measured"]) for result in results) == [0, 2]  # one measured, one waited
    assert results[0]["backend"] == results[1]["backend"]
    embedder = load_embedder(MODEL, backend="onnx-int8", cache_dir=cache, max_tokens=64)
    assert embedder.encode(["a sentence"]).shape == (1, 384)

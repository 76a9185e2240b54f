"""`papersift index`: embeddings stored and resumable, faiss index built, published and reloaded."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from sqlalchemy import func, select, text

from indexer.build import _load_vectors
from indexer.embed import embed_stale
from indexer.store import delete_papers
from papersift.embedding import load_embedder, space_of
from papersift.embedding_choice import cached_choice
from papersift.models import PaperEmbedding
from papersift.vector_index import load_index, read_manifest
from tests.conftest import Cli

SAMPLE = "kaggle-snapshot-sample-200.jsonl"


def _lines(shared_data, count=200):
    return (shared_data / "arxiv" / SAMPLE).read_text().splitlines()[:count]


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def indexed(index_settings, shared_data):
    """200 real papers imported and indexed; returns the CLI."""
    cli = Cli(index_settings)
    assert cli("import", "arxiv-snapshot", shared_data / "arxiv" / SAMPLE).exit_code == 0
    result = cli("index")
    assert result.exit_code == 0, result.output
    assert "index: embedded 200 · " in result.output
    assert "full flat index of 200 vectors (generation 1" in result.output
    return cli


def test_index_publishes_a_manifest_and_a_second_run_embeds_nothing(indexed, index_settings):
    manifest = read_manifest(index_settings.index_dir)
    assert (manifest.model, manifest.dimension, manifest.count, manifest.index_type) == (
        "all-MiniLM-L6-v2", 384, 200, "flat")
    # The default backend is `auto`: whatever it chose on this CPU, cached, is what the manifest names.
    tokens = index_settings.embedding_max_tokens
    assert manifest.backend == cached_choice(index_settings.model, index_settings.model_cache_dir, tokens)
    assert manifest.space == space_of(index_settings.model, manifest.backend, tokens).key
    assert manifest.max_tokens == tokens
    assert (index_settings.index_dir / manifest.file).exists()

    again = indexed("index")

    assert "index: embedded 0 (all current) · unchanged flat index of 200 vectors (generation 1" in again.output
    assert "keyword index unchanged" in again.output and "twins:" not in again.output  # nothing to link


def test_prepare_embedder_makes_the_choice_so_the_next_index_only_embeds(index_settings, shared_data):
    cli = Cli(index_settings)
    empty = cli("prepare-embedder")
    assert empty.exit_code == 0, empty.output
    assert "no papers with abstracts to measure the backends on yet · nothing done" in empty.output

    assert cli("import", "arxiv-snapshot", shared_data / "arxiv" / SAMPLE).exit_code == 0
    prepared = cli("prepare-embedder")
    assert prepared.exit_code == 0, prepared.output
    tokens = index_settings.embedding_max_tokens
    chosen = cached_choice(index_settings.model, index_settings.model_cache_dir, tokens)
    assert chosen is not None
    assert f"prepare-embedder: all-MiniLM-L6-v2 ready on {chosen} at {tokens} tokens" in prepared.output
    assert cli("prepare-embedder", "--backend", "fp8").exit_code == 2

    indexed = cli("index")
    assert indexed.exit_code == 0, indexed.output
    assert "index: embedded 200 · " in indexed.output and read_manifest(index_settings.index_dir).backend == chosen


def test_changed_text_is_reembedded_and_new_papers_are_added_incrementally(indexed, index_settings,
                                                                            shared_data, engine, tmp_path):
    lines = _lines(shared_data)
    changed = json.loads(lines[0])
    changed["abstract"] = "A completely different abstract about protein folding."
    indexed("import", "arxiv-snapshot", _write(tmp_path / "changed.jsonl", [json.dumps(changed)]))

    rebuilt = indexed("index")
    assert "embedded 1 · " in rebuilt.output
    assert "incremental (+1, 1 retired) flat index of 200 vectors (generation 2" in rebuilt.output

    new = []
    for number in range(1, 4):
        record = json.loads(lines[number])
        record["id"] = f"2601.0000{number}"
        record["title"] = f"A new paper number {number}"
        new.append(json.dumps(record))
    indexed("import", "arxiv-snapshot", _write(tmp_path / "new.jsonl", new))

    added = indexed("index")
    assert "embedded 3 · " in added.output
    assert "incremental (+3, 0 retired) flat index of 203 vectors (generation 3" in added.output
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(PaperEmbedding)).scalar_one() == 203


@pytest.mark.parametrize("exact_max", [10_000, 50], ids=["flat", "hnsw"])
def test_removed_and_reembedded_papers_leave_the_index_without_a_rebuild(index_settings, shared_data, engine,
                                                                         tmp_path, exact_max):
    settings = index_settings.model_copy(update={"index_exact_max": exact_max})
    cli = Cli(settings)
    assert cli("import", "arxiv-snapshot", shared_data / "arxiv" / SAMPLE).exit_code == 0
    assert cli("index").exit_code == 0
    changed = json.loads(_lines(shared_data)[0])
    changed["abstract"] = "A completely different abstract about protein folding."
    cli("import", "arxiv-snapshot", _write(tmp_path / "changed.jsonl", [json.dumps(changed)]))
    with engine.begin() as connection:
        assert delete_papers(connection, ["arxiv:0704.0002", "arxiv:0704.0003"]) == 2
        connection.execute(text("UPDATE papers SET is_published = false, updated_at = now() "
                                "WHERE public_id = 'arxiv:0704.0004'"))

    result = cli("index")
    kind = "flat" if exact_max > 200 else "hnsw"
    assert f"incremental (+1, 4 retired) {kind} index of 197 vectors (generation 2" in result.output, result.output
    space = read_manifest(settings.index_dir).space
    ids, vectors, _ = _load_vectors(engine, model=space)
    loaded = load_index(settings.index_dir, model=settings.model)
    assert loaded.manifest.tombstones == 4  # the re-embedded paper's old slot, two deleted, one unpublished
    first = ids[0]  # arxiv:0704.0001, re-embedded
    np.testing.assert_allclose(loaded.reconstruct(first), vectors[0], atol=1e-6)
    # Every search over the live vectors: the nearest ten as exact search over the current vectors finds them.
    for row in range(0, len(ids), 10):
        scores, found = loaded.search(vectors[row], 14)
        found = found[found >= 0][:10]
        expected = ids[np.argsort(-(vectors @ vectors[row]), kind="stable")[:10]]
        assert set(found) <= set(ids) and len(found) == 10
        assert len(set(found) & set(expected)) >= (10 if kind == "flat" else 9)

    with engine.begin() as connection:  # a removal alone
        assert delete_papers(connection, ["arxiv:0704.0005"]) == 1
    assert f"incremental (+0, 1 retired) {kind} index of 196 vectors (generation 3" in cli("index").output

    assert "full" in cli("index", "--rebuild").output
    assert read_manifest(settings.index_dir).tombstones == 0


def test_a_killed_embedding_run_resumes_with_only_the_rest(index_settings, shared_data, engine, cli):
    cli("import", "arxiv-snapshot", shared_data / "arxiv" / SAMPLE)
    embedder = load_embedder(index_settings.model, backend="onnx", cache_dir=index_settings.model_cache_dir)
    batches = []

    def dies_after_two_batches(size):
        batches.append(size)
        if len(batches) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embed_stale(engine, embedder, model=index_settings.model, batch_size=25,
                    on_batch=dies_after_two_batches)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(PaperEmbedding)).scalar_one() == 50

    rest = embed_stale(engine, embedder, model=index_settings.model, batch_size=25)

    assert (rest.stale, rest.embedded) == (150, 150)


def test_exported_backend_gives_the_same_vectors_as_sentence_transformers(index_settings):
    texts = ["Graph neural networks for molecule property prediction.",
             "We propose a diffusion model for $\\mathcal{O}(n)$ image synthesis."]
    onnx = load_embedder(index_settings.model, backend="onnx", cache_dir=index_settings.model_cache_dir)
    torch = load_embedder(index_settings.model, backend="torch", cache_dir=index_settings.model_cache_dir)
    a, b = onnx.encode(texts), torch.encode(texts)
    assert a.shape == (2, 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.all(np.sum(a * b, axis=1) > 0.9999)


def test_related_papers_are_nearest_first_and_exclude_the_paper(indexed, client_for, index_settings):
    with client_for(index_settings) as client:
        response = client.get("/api/v1/papers/arxiv:0704.0001/related", params={"limit": 5})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 5
    assert "arxiv:0704.0001" not in [r["id"] for r in results]
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s < 1 for s in scores)


def test_unpublished_papers_never_come_back(indexed, client_for, index_settings, engine):
    with client_for(index_settings) as client:
        first = client.get("/api/v1/papers/arxiv:0704.0001/related", params={"limit": 3}).json()
        hidden = first["results"][0]["id"]
        with engine.begin() as conn:
            conn.execute(text("UPDATE papers SET is_published = false WHERE public_id = :id"), {"id": hidden})
        second = client.get("/api/v1/papers/arxiv:0704.0001/related", params={"limit": 3}).json()
    assert hidden not in [r["id"] for r in second["results"]]
    assert [r["id"] for r in second["results"]][:2] == [r["id"] for r in first["results"]][1:]


def test_related_papers_stay_complete_when_more_than_the_spare_ones_are_hidden(indexed, client_for,
                                                                               index_settings, engine):
    from service.api.papers import RELATED_SPARE

    with client_for(index_settings) as client:
        first = [r["id"] for r in client.get("/api/v1/papers/arxiv:0704.0001/related",
                                             params={"limit": 10}).json()["results"]]
        hidden = first[:RELATED_SPARE + 1]  # more than the spare cards read past the limit
        with engine.begin() as conn:
            conn.execute(text("UPDATE papers SET is_published = false WHERE public_id = ANY(:ids)"), {"ids": hidden})
        second = client.get("/api/v1/papers/arxiv:0704.0001/related", params={"limit": 3}).json()
    assert [r["id"] for r in second["results"]] == first[RELATED_SPARE + 1:RELATED_SPARE + 4]


def test_service_swaps_in_a_new_index_without_a_failed_request(indexed, client_for, index_settings,
                                                               shared_data, tmp_path):
    failures, done = [], threading.Event()
    with client_for(index_settings) as client:
        assert client.get("/api/v1/index").json()["generation"] == 1

        def hammer():
            while not done.is_set():
                response = client.get("/api/v1/papers/arxiv:0704.0002/related", params={"limit": 5})
                if response.status_code != 200:
                    failures.append(response.status_code)

        worker = threading.Thread(target=hammer)
        worker.start()
        record = json.loads(_lines(shared_data, 1)[0])
        record["id"], record["title"] = "2601.00042", "Sparsity certifying graph decompositions revisited"
        indexed("import", "arxiv-snapshot", _write(tmp_path / "one.jsonl", [json.dumps(record)]))
        assert "incremental (+1, 0 retired) flat index of 201 vectors (generation 2" in indexed("index").output
        deadline = time.monotonic() + 10
        while client.get("/api/v1/index").json()["generation"] != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        done.set()
        worker.join()
        status = client.get("/api/v1/index").json()
    assert (status["generation"], status["count"]) == (2, 201)
    assert failures == []


def test_large_corpora_get_an_hnsw_index_tuned_to_the_recall_floor(index_settings, shared_data):
    settings = index_settings.model_copy(update={"index_exact_max": 50})
    cli = Cli(settings)
    cli("import", "arxiv-snapshot", shared_data / "arxiv" / SAMPLE)
    result = cli("index")
    assert "full hnsw index of 200 vectors" in result.output
    manifest = read_manifest(settings.index_dir)
    assert manifest.index_type == "hnsw"
    assert manifest.measured_recall_at_10 >= 0.99
    assert manifest.ef_search >= 16


def test_an_index_of_another_model_is_refused_with_the_fix(indexed, index_settings, client_for):
    manifest_path = index_settings.index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"], manifest["generation"] = "some-other-model", 9
    manifest_path.write_text(json.dumps(manifest))
    with client_for(index_settings) as client:
        status = client.get("/api/v1/index").json()
        related = client.get("/api/v1/papers/arxiv:0704.0001/related")
    assert status["loaded"] is False
    assert "built with model 'some-other-model', but PAPERSIFT_MODEL is 'all-MiniLM-L6-v2'" in status["problem"]
    assert status["hint"] == ("run `papersift index` to build one for 'all-MiniLM-L6-v2', "
                              "or set PAPERSIFT_MODEL=some-other-model")
    assert related.status_code == 503
    assert related.json()["error"]["code"] == "index_model_mismatch"

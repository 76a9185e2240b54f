"""Embedding spaces through the real pipeline: vectors keyed by model, precision and token limit; a
space change re-embeds while the old index serves; a first embed publishes newest papers early; a
killed embed resumes without duplicates. Real model, real PostgreSQL, faiss, the service over HTTP."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

import indexer.embed
from indexer.pipeline import update_indexes
from papersift.embedding import space_of
from papersift.models import PaperEmbedding
from papersift.vector_index import read_manifest
from tests.conftest import query_rows

SAMPLE = "kaggle-snapshot-sample-200.jsonl"


@pytest.fixture
def imported(index_settings, shared_data, cli):
    cli.settings = index_settings
    assert cli("import", "arxiv-snapshot", shared_data / "arxiv" / SAMPLE).exit_code == 0
    return index_settings


def semantic_ids(client, q: str) -> list[str]:
    response = client.get("/api/v1/search", params={"q": q, "mode": "semantic", "limit": 5})
    assert response.status_code == 200, response.text
    assert not [n for n in response.json()["notices"] if n.startswith("semantic")], response.json()["notices"]
    return [r["id"] for r in response.json()["results"]]


def test_a_space_change_reembeds_while_the_old_index_serves(imported, engine, client_for, monkeypatch):
    fp32 = imported.model_copy(update={"embedding_backend": "onnx", "embedding_max_tokens": 256})
    update_indexes(fp32, engine)
    old = read_manifest(imported.index_dir)
    assert (old.backend, old.max_tokens, old.space) == ("onnx", 256, imported.model)  # the legacy key

    int8 = imported.model_copy(update={"embedding_backend": "onnx-int8", "embedding_max_tokens": 128})
    new_key = space_of(imported.model, "onnx-int8", 128).key
    with client_for(imported) as client:
        query = "dark matter in the early universe"
        before = semantic_ids(client, query)
        # A re-embed killed halfway: the old index keeps serving, whole answers, nothing new published.
        store = indexer.embed.store_vectors
        calls = []

        def dies_on_the_third_batch(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return store(*args, **kwargs)

        monkeypatch.setattr(indexer.embed, "store_vectors", dies_on_the_third_batch)
        with pytest.raises(KeyboardInterrupt):
            update_indexes(int8.model_copy(update={"embed_batch_size": 32}), engine)
        monkeypatch.setattr(indexer.embed, "store_vectors", store)
        assert read_manifest(imported.index_dir).generation == old.generation
        assert semantic_ids(client, query) == before
        rows = query_rows(imported, f"SELECT count(*) AS n FROM paper_embeddings WHERE model = '{new_key}'")
        assert rows[0].n == 64

        finished = update_indexes(int8, engine)
        assert finished.embedded.embedded == 200 - 64
        new = read_manifest(imported.index_dir)
        assert (new.generation, new.backend, new.max_tokens, new.space) == (old.generation + 1, "onnx-int8", 128, new_key)
        client.app.state.index.refresh()
        assert client.app.state.search.encoder().embedder.backend == "onnx-int8"  # queries follow the index
        after = semantic_ids(client, query)
        assert before[0] in after  # int8 vectors agree with fp32 ones: the best fp32 match is in the top 5
    with engine.connect() as connection:  # both spaces stored, each paper once per space
        counts = dict(connection.execute(select(PaperEmbedding.model, func.count()).group_by(PaperEmbedding.model)).all())
    assert counts == {imported.model: 200, new_key: 200}


def test_a_first_embed_publishes_the_newest_papers_before_it_ends(imported, engine):
    settings = imported.model_copy(update={"embedding_backend": "onnx-int8", "embedding_max_tokens": 128,
                                           "embed_batch_size": 50, "embed_publish_seconds": 0})
    published = []
    store = indexer.embed.store_vectors

    def watch(*args, **kwargs):
        store(*args, **kwargs)
        manifest = read_manifest(settings.index_dir)
        published.append(manifest.count if manifest else 0)

    indexer.embed.store_vectors = watch
    try:
        update = update_indexes(settings, engine, echo=lambda line: published.append(line))
    finally:
        indexer.embed.store_vectors = store
    counts = [p for p in published if isinstance(p, int)]
    lines = [p for p in published if isinstance(p, str)]
    # Each batch's vectors are live by the next batch: 0 (none yet), then 50, 100, 150; the end publishes all 200.
    assert counts == [0, 50, 100, 150]
    assert any("first vectors live: 50 papers, newest first" in line and "150 to embed" in line for line in lines)
    assert update.built.manifest.count == 200
    # The first 50 published were the newest papers.
    newest = query_rows(settings, "SELECT id FROM papers WHERE is_published ORDER BY coalesce(published_date, "
                                  "announced_date) DESC, id DESC LIMIT 50")
    with engine.connect() as connection:
        first = connection.execute(text(
            "SELECT paper_id FROM paper_embeddings ORDER BY embedded_at, paper_id LIMIT 50")).scalars().all()
    assert sorted(first) == sorted(r.id for r in newest)


def test_the_cli_names_the_backend_and_refuses_an_unknown_one(imported, cli):
    result = cli("index", "--backend", "onnx-int8")
    assert result.exit_code == 0, result.output
    tokens = imported.embedding_max_tokens
    assert f"onnx-int8 · {tokens} tokens" in result.output
    manifest = json.loads((imported.index_dir / "manifest.json").read_text())
    assert manifest["space"] == space_of(imported.model, "onnx-int8", tokens).key
    refused = cli("index", "--backend", "tpu")
    assert refused.exit_code == 2 and "is not one of" in refused.output

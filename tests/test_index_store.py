"""API replicas on other machines get the indexes through an S3-compatible object store: the index job
uploads each generation (files, checksums, pointer), a replica with its own data directory downloads,
verifies and serves it. Against moto's real S3 server on 127.0.0.1 and the search corpus's real
indexes; a corrupt or half upload is refused, an outage keeps serving until the age limit."""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest

from indexer.lexical import build_catalog
from indexer.store_upload import upload_published
from papersift.db import make_engine
from papersift.index_store import GENERATION_MANIFEST, open_index_store
from papersift.settings import Settings
from service.store_sync import StoreSync
from tests.s3_server import s3_server

_buckets = itertools.count(1)


@pytest.fixture
def store_server():
    with s3_server(bucket=f"indexes-{next(_buckets)}") as server:
        yield server


@pytest.fixture
def publisher(corpus: Settings, tmp_path: Path, store_server) -> Settings:
    """The scheduler's side: a copy of the search corpus's published indexes, uploading to the store."""
    data_dir = tmp_path / "publisher"
    for name in ("search", "index"):
        shutil.copytree(corpus.data_dir / name, data_dir / name)
    return corpus.model_copy(update={
        "data_dir": data_dir, "index_store": f"s3://{store_server.bucket}/papersift",
        "s3_endpoint_url": store_server.endpoint_url})


@pytest.fixture
def replica(publisher: Settings, tmp_path: Path) -> Settings:
    """An API replica on another machine: an empty data directory, the same database and store."""
    return publisher.model_copy(update={"data_dir": tmp_path / "replica", "index_store_poll_seconds": 0.2,
                                        "index_reload_seconds": 0.2})


def catalog_generation(settings: Settings) -> int:
    return read_json(settings.search_dir / "manifest.json")["generation"]


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def publish_new_catalog(settings: Settings) -> int:
    """A full rebuild of the keyword catalog from the database: a new generation, published locally."""
    engine = make_engine(settings)
    try:
        return build_catalog(engine, settings.search_dir, force=True).manifest.generation
    finally:
        engine.dispose()


def wait_for_readiness(client, predicate, *, timeout: float = 30.0) -> dict:
    """Poll /readyz until `predicate(status, body)` holds; returns the last body."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/readyz")
        if predicate(response.status_code, response.json()) or time.monotonic() > deadline:
            return response.json()
        time.sleep(0.1)


def test_settings_accept_file_and_s3_stores_and_refuse_others():
    assert Settings(_env_file=None).index_store == ""
    assert Settings(_env_file=None, index_store="file://").index_store == ""
    assert Settings(_env_file=None, index_store="s3://bucket/some/prefix/").index_store == "s3://bucket/some/prefix"
    with pytest.raises(ValueError, match="PAPERSIFT_INDEX_STORE"):
        Settings(_env_file=None, index_store="gs://bucket")


def test_a_replica_on_an_empty_data_dir_downloads_serves_and_swaps_in_new_generations(publisher, replica, client_for):
    lines = upload_published(publisher)
    first = catalog_generation(publisher)
    vectors = read_json(publisher.index_dir / "manifest.json")["generation"]
    assert [line.split(":")[0] for line in lines] == [
        f"uploaded keyword catalog generation {first}", f"uploaded vector index generation {vectors}"]
    assert upload_published(publisher) == []  # already in the store: nothing to upload

    with client_for(replica) as client:
        body = wait_for_readiness(client, lambda status, body: status == 200 and body["checks"]["vector_index"]["ok"])
        assert body["status"] == "ready", body
        assert body["checks"]["keyword_index"]["generation"] == first
        assert body["checks"]["vector_index"]["generation"] == vectors
        hits = client.get("/api/v1/search", params={"q": "language model", "mode": "hybrid"}).json()
        assert hits["total"] > 0

        second = publish_new_catalog(publisher)
        upload_published(publisher)
        body = wait_for_readiness(
            client, lambda status, body: body["checks"]["keyword_index"].get("generation") == second)
        assert body["checks"]["keyword_index"]["generation"] == second, body
        assert client.get("/api/v1/search", params={"q": "language model"}).json()["total"] == hits["total"]
    assert (replica.search_dir / f"lexical-{second}").is_dir()
    assert read_json(replica.search_dir / "manifest.json") == read_json(publisher.search_dir / "manifest.json")


@pytest.mark.parametrize("damage", ["wrong checksum", "missing file", "no generation manifest"])
def test_a_damaged_generation_is_refused_and_the_previous_one_keeps_serving(publisher, replica, store_server,
                                                                            damage, caplog):
    upload_published(publisher)
    sync = StoreSync(replica, open_index_store(replica))
    sync.sync_once()
    first = catalog_generation(replica)

    second = publish_new_catalog(publisher)
    upload_published(publisher)
    store = open_index_store(publisher)
    record = store.get_json(store.key("search", second, GENERATION_MANIFEST))
    held = {f["sha256"] for f in store.get_json(store.key("search", first, GENERATION_MANIFEST))["files"]}
    new_files = [f for f in record["files"] if f["sha256"] not in held]  # the replica must download these
    victim = store.key("search", second, max(new_files, key=lambda f: f["size"])["path"])
    client = store_server.client()
    if damage == "wrong checksum":
        body = client.get_object(Bucket=store.bucket, Key=victim)["Body"].read()
        client.put_object(Bucket=store.bucket, Key=victim, Body=body[:-1] + bytes([body[-1] ^ 1]))
    elif damage == "missing file":
        client.delete_object(Bucket=store.bucket, Key=victim)
    else:  # the pointer moved but the checksums never arrived
        client.delete_object(Bucket=store.bucket, Key=store.key("search", second, GENERATION_MANIFEST))

    with caplog.at_level(logging.ERROR, logger="service.store_sync"):
        lines = sync.sync_once()
    reason = {"wrong checksum": "does not match its checksum", "missing file": "is missing from the store",
              "no generation manifest": "has no generation.json"}[damage]
    assert any(f"keyword catalog: refused generation {second}" in line and reason in line for line in lines), lines
    assert "the previous generation keeps serving" in caplog.text
    assert catalog_generation(replica) == first
    assert not list(replica.search_dir.glob("download-*"))  # nothing half-downloaded left behind
    from service.search.catalog import load_catalog

    assert load_catalog(replica.search_dir).generation == first
    assert sync.sync_once() == []  # refused once, not downloaded again every poll


def test_a_store_outage_keeps_the_replica_ready_until_the_age_limit(publisher, replica, store_server, client_for):
    upload_published(publisher)
    StoreSync(replica, open_index_store(replica)).sync_once()
    published = datetime.fromisoformat(read_json(replica.search_dir / "manifest.json")["built_at"]).timestamp()
    max_age = time.time() - published + 4
    limited = replica.model_copy(update={"index_max_age_seconds": max_age})
    store_server.stop()
    with client_for(limited) as client:
        body = wait_for_readiness(client, lambda status, body: status == 200, timeout=3)
        assert body["status"] == "ready", body
        body = wait_for_readiness(client, lambda status, body: status == 503, timeout=10)
    message = body["error"]["message"]
    assert message.startswith("not ready: keyword_index: generation"), body
    assert f"over PAPERSIFT_INDEX_MAX_AGE_SECONDS={max_age:g}" in message
    assert "is the index store or the scheduler down?" in message


def test_superseded_generations_are_deleted_after_the_grace_period(publisher, replica):
    store = open_index_store(publisher)
    sync = StoreSync(replica, open_index_store(replica))
    upload_published(publisher)
    sync.sync_once()
    first = catalog_generation(publisher)
    second = publish_new_catalog(publisher)
    upload_published(publisher)
    sync.sync_once()
    assert store.generations("search") == [first, second]  # within the grace period (an hour)
    assert {p.name for p in replica.search_dir.glob("lexical-*")} == {f"lexical-{first}", f"lexical-{second}"}

    no_grace = publisher.model_copy(update={"index_store_grace_seconds": 0})
    assert f"deleted keyword catalog generation {first}" in " ".join(upload_published(no_grace))
    assert store.generations("search") == [second]
    StoreSync(replica.model_copy(update={"index_store_grace_seconds": 0}), store).sync_once()
    assert [p.name for p in replica.search_dir.glob("lexical-*")] == [f"lexical-{second}"]


def test_files_a_new_generation_shares_are_copied_in_the_store_and_linked_on_the_replica(publisher, replica):
    """An incremental catalog shares most files with its predecessor: the upload copies them inside
    the store and the replica hard-links its own copies; only the changed file travels."""
    upload_published(publisher)
    store = open_index_store(replica)
    StoreSync(replica, store).sync_once()
    first = catalog_generation(publisher)
    manifest = read_json(publisher.search_dir / "manifest.json")
    shutil.copytree(publisher.search_dir / f"lexical-{first}", publisher.search_dir / f"lexical-{first + 1}")
    changed = max((publisher.search_dir / f"lexical-{first + 1}").rglob("*.store"), key=lambda p: p.stat().st_size)
    changed.write_bytes(changed.read_bytes() + b"changed")
    shared = sum(1 for p in (publisher.search_dir / f"lexical-{first}").rglob("*")
                 if p.is_file() and not p.name.endswith(".lock")) - 1
    (publisher.search_dir / "manifest.json").write_text(
        json.dumps(manifest | {"generation": first + 1, "directory": f"lexical-{first + 1}"}))

    [line] = upload_published(publisher)
    assert f"{shared} unchanged files copied within the store" in line, line
    downloaded = []
    download = store.download
    store.download = lambda key, path: (downloaded.append(key), download(key, path))
    StoreSync(replica, store).sync_once()
    relative = changed.relative_to(publisher.search_dir).as_posix()
    assert downloaded == [store.key("search", first + 1, relative)]
    assert catalog_generation(replica) == first + 1
    old, new = replica.search_dir / f"lexical-{first}", replica.search_dir / f"lexical-{first + 1}"
    for path in new.rglob("*"):
        if path.is_file() and path.name != changed.name and not path.name.endswith(".lock"):
            assert path.stat().st_ino == (old / path.name).stat().st_ino, path  # a link, not a copy
    assert (new / changed.name).read_bytes() == changed.read_bytes()

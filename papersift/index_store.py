"""The object store (S3 API, through boto3) that carries published indexes from the scheduler to API
replicas on other machines (`PAPERSIFT_INDEX_STORE=s3://bucket/prefix`).

Layout below the prefix, per artifact (`search`, `index/<model>`; papersift/index_artifacts.py):

    <artifact>/<generation>/<file>...          the generation's files, never rewritten
    <artifact>/<generation>/generation.json    each file's size and sha256, uploaded after the files
    <artifact>/current.json                    {"generation": n, "published_at": ...}, uploaded last

A reader that follows current.json finds a complete generation, or refuses it and says why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papersift.errors import PapersiftError
from papersift.settings import Settings

GENERATION_MANIFEST = "generation.json"
POINTER = "current.json"
TRANSFER_THREADS = 8


class IndexStoreUnavailable(PapersiftError):
    """The object store did not answer (or refused the request)."""

    code = "index_store_unavailable"


@dataclass(frozen=True)
class GenerationFile:
    path: str  # relative to the artifact's directory, '/'-separated
    size: int
    sha256: str


class IndexStore:
    """One bucket and key prefix of an S3-compatible store."""

    def __init__(self, url: str, *, endpoint_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.url = url
        self.bucket, _, prefix = url[len("s3://"):].partition("/")
        self.prefix = prefix.strip("/")
        config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"},
                        max_pool_connections=TRANSFER_THREADS * 2)
        self.client = boto3.client("s3", endpoint_url=endpoint_url, config=config)

    def key(self, *parts: str | int) -> str:
        return "/".join(str(part) for part in (self.prefix, *parts) if str(part))

    def put_file(self, key: str, path: Path) -> None:
        with _store_errors(f"upload {key}"):
            self.client.upload_file(str(path), self.bucket, key)

    def copy(self, source_key: str, key: str) -> None:
        """Copy an object within the bucket (server-side: nothing passes through this machine)."""
        with _store_errors(f"copy {source_key} to {key}"):
            self.client.copy({"Bucket": self.bucket, "Key": source_key}, self.bucket, key)

    def put_json(self, key: str, value: dict[str, Any]) -> None:
        with _store_errors(f"upload {key}"):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(value, indent=2).encode(),
                                   ContentType="application/json")

    def get_json(self, key: str) -> dict[str, Any] | None:
        """The JSON object at `key`, or None when there is none."""
        with _store_errors(f"read {key}"):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except self.client.exceptions.NoSuchKey:
                return None
        return json.loads(body)

    def download(self, key: str, path: Path) -> None:
        """Download to `path`; a missing object raises FileNotFoundError."""
        from botocore.exceptions import ClientError

        path.parent.mkdir(parents=True, exist_ok=True)
        with _store_errors(f"download {key}"):
            try:
                self.client.download_file(self.bucket, key, str(path))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                    raise FileNotFoundError(f"{key} is missing from the store") from None
                raise

    def generations(self, artifact_key: str) -> list[int]:
        """Every generation number with objects under the artifact (complete or not), ascending."""
        found = set()
        paginator = self.client.get_paginator("list_objects_v2")
        with _store_errors(f"list {artifact_key}"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key(artifact_key) + "/", Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    name = common["Prefix"].rstrip("/").rsplit("/", 1)[1]
                    if name.isdigit():
                        found.add(int(name))
        return sorted(found)

    def delete_generation(self, artifact_key: str, generation: int) -> int:
        """Delete every object of one generation; returns how many."""
        prefix = self.key(artifact_key, generation) + "/"
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        with _store_errors(f"delete {prefix}"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                    deleted += len(keys)
        return deleted


def open_index_store(settings: Settings) -> IndexStore | None:
    """The configured object store, or None when indexes stay on local disk (file://)."""
    if not settings.index_store:
        return None
    return IndexStore(settings.index_store, endpoint_url=settings.s3_endpoint_url)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _store_errors(action: str) -> Iterator[None]:
    """Turn botocore's connection and client errors into IndexStoreUnavailable naming the action."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise IndexStoreUnavailable(f"object store: could not {action}: {error}") from error

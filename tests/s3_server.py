"""A real S3-compatible server on 127.0.0.1 for the index-store tests and bench/replicas.py: moto's
standalone server (the same HTTP API as AWS S3, kept in memory), one bucket made for the caller."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "papersift-test", "AWS_SECRET_ACCESS_KEY": "papersift-test",
               "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class S3Server:
    endpoint_url: str
    bucket: str
    server: object

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url)

    def stop(self) -> None:
        """Stop answering (an outage); stopping twice is harmless."""
        if self.server is not None:
            self.server.stop()
            self.server = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def s3_server(bucket: str = "papersift-indexes") -> Iterator[S3Server]:
    """moto's server on a free port with `bucket` created; the AWS_* variables boto3 reads are set
    to test credentials (every process started inside inherits them)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    running = S3Server(f"http://127.0.0.1:{port}", bucket, server)
    try:
        running.client().create_bucket(Bucket=bucket)
        yield running
    finally:
        running.stop()

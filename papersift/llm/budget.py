"""The daily budget of generations (PAPERSIFT_LLM_DAILY_BUDGET), shared by every process.

Each generation takes one unit of today's budget (UTC) before it calls the model, with one
conditional upsert, so concurrent requests in several processes never overspend it; a generation
that fails gives its unit back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, select, text

from papersift.models import LlmUsage

_TAKE = text("""
INSERT INTO llm_usage (day, generations) SELECT :day, 1 WHERE :budget > 0
ON CONFLICT (day) DO UPDATE SET generations = llm_usage.generations + 1
WHERE llm_usage.generations < :budget
RETURNING generations""")
_GIVE_BACK = text("UPDATE llm_usage SET generations = generations - 1 WHERE day = :day AND generations > 0")


def today() -> date:
    return datetime.now(UTC).date()


def take(engine: Engine, budget: int) -> bool:
    """Take one unit of today's budget; False when it is spent."""
    with engine.begin() as connection:
        return connection.scalar(_TAKE, {"day": today(), "budget": budget}) is not None


def give_back(engine: Engine, day: date) -> None:
    """Return the unit a failed generation took on `day`."""
    with engine.begin() as connection:
        connection.execute(_GIVE_BACK, {"day": day})


def used_today(engine: Engine) -> int:
    """Generations started today (UTC)."""
    with engine.connect() as connection:
        return connection.scalar(select(LlmUsage.generations).where(LlmUsage.day == today())) or 0

"""What the incremental keyword catalog reads: an index on `papers.updated_at` (the papers changed
since the published catalog) and `paper_removals`, a log of deleted papers kept by a trigger (a
deleted row leaves nothing in `papers` to find; its twin's link is cleared by the foreign key
without touching `updated_at`, so the log names the twin too).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_LOG_REMOVALS = """
CREATE FUNCTION papers_log_removals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO paper_removals (paper_id, twin_id) SELECT id, twin_id FROM removed;
    RETURN NULL;
END $$
"""
_TRIGGER = """
CREATE TRIGGER papers_log_removals AFTER DELETE ON papers
REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION papers_log_removals()
"""


def upgrade() -> None:
    op.create_index("ix_papers_updated_at", "papers", ["updated_at"])
    op.create_table(
        "paper_removals",
        sa.Column("paper_id", sa.BigInteger(), nullable=False),
        sa.Column("twin_id", sa.BigInteger(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.create_index("ix_paper_removals_removed_at", "paper_removals", ["removed_at"])
    op.execute(_LOG_REMOVALS)
    op.execute(_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER papers_log_removals ON papers")
    op.execute("DROP FUNCTION papers_log_removals()")
    op.drop_table("paper_removals")
    op.drop_index("ix_papers_updated_at", table_name="papers")

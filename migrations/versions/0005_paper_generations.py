"""Paper generations (FAQ, translations) from a language model, and the daily usage behind the budget.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_generations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("paper_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("prompt_version", sa.Integer(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="generating", nullable=False),
        sa.Column("content", sa.Text(), server_default="", nullable=False),
        sa.Column("input_note", sa.Text(), server_default="", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('faq', 'translation')", name=op.f("ck_paper_generations_kind")),
        sa.CheckConstraint("status IN ('generating', 'done')", name=op.f("ck_paper_generations_status")),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE",
                                name=op.f("fk_paper_generations_paper_id_papers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_generations")),
        sa.UniqueConstraint("paper_id", "kind", "language", "prompt_version",
                            name="uq_paper_generations_key"),
    )
    op.create_table(
        "llm_usage",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("generations", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_llm_usage")),
    )


def downgrade() -> None:
    op.drop_table("llm_usage")
    op.drop_table("paper_generations")

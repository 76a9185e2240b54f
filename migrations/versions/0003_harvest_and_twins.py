"""Harvesting and twins: deleted counts on runs, the arXiv/venue twin link, a title-key index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ingest_runs", sa.Column("deleted_count", sa.Integer(), server_default="0",
                                           nullable=False))
    op.add_column("papers", sa.Column("twin_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(op.f("fk_papers_twin_id_papers"), "papers", "papers", ["twin_id"], ["id"],
                          ondelete="SET NULL")
    op.create_index("ix_papers_twin_id", "papers", ["twin_id"], unique=True,
                    postgresql_where=sa.text("twin_id IS NOT NULL"))
    op.create_index("ix_papers_title_key", "papers", ["title_key"])


def downgrade() -> None:
    op.drop_index("ix_papers_title_key", table_name="papers")
    op.drop_index("ix_papers_twin_id", table_name="papers")
    op.drop_constraint(op.f("fk_papers_twin_id_papers"), "papers", type_="foreignkey")
    op.drop_column("papers", "twin_id")
    op.drop_column("ingest_runs", "deleted_count")

"""Paper embeddings: one float32 vector per paper and model, with the content hash it was made from.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_embeddings",
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("paper_id", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("embedded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE",
                                name=op.f("fk_paper_embeddings_paper_id_papers")),
        sa.PrimaryKeyConstraint("model", "paper_id", name=op.f("pk_paper_embeddings")),
    )
    op.create_index("ix_paper_embeddings_paper_id", "paper_embeddings", ["paper_id"])


def downgrade() -> None:
    op.drop_index("ix_paper_embeddings_paper_id", table_name="paper_embeddings")
    op.drop_table("paper_embeddings")

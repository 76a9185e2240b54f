"""Each paper's source hash: what input, mapped by what code, its row came from.

An import skips a record whose source hash is stored (indexer/records.py): it need not be mapped,
normalized or written again. Null for rows a harvester wrote, and until the next import.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("papers", sa.Column("source_hash", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("papers", "source_hash")

"""Store the abstracts and the full-text vector uncompressed (out of line, no pglz).

pglz compression of these columns was a large part of each insert's cost (the vector barely
compresses), and reads skip decompression; the price is some disk.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LARGE_COLUMNS = ("abstract", "abstract_raw", "search_vector")


def upgrade() -> None:
    for column in LARGE_COLUMNS:
        op.execute(f"ALTER TABLE papers ALTER COLUMN {column} SET STORAGE EXTERNAL")


def downgrade() -> None:
    for column in LARGE_COLUMNS:
        op.execute(f"ALTER TABLE papers ALTER COLUMN {column} SET STORAGE EXTENDED")

"""Drop what PostgreSQL maintained on every write of `papers` but no query reads.

Keyword search moved to the tantivy catalog, so nothing reads the generated, weighted
`search_vector` or its GIN index; no query uses the title trigram index, the author-key GIN index,
the title-key btree (twin linking hash-joins whole tables) or the published-date btree. Kept: the
primary key and the public-id key (id lookups, cards, imports), categories and
(primary_category, announced_date) for the arXiv listings, (venue_slug, year) for the venue pages,
and the partial unique twin index (one twin per paper; the stale-link check).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# As migration 0001 defined it: title > authors and keywords > abstract.
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(authors_text, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(keywords_text, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(abstract, '')), 'C')"
)
BTREE_INDEXES = {
    "ix_papers_title_key": ["title_key"],
    "ix_papers_published_date": ["published_date"],
}


def upgrade() -> None:
    op.drop_index("ix_papers_search_vector", table_name="papers")
    op.drop_column("papers", "search_vector")
    op.drop_index("ix_papers_title_key_trgm", table_name="papers")
    op.drop_index("ix_papers_author_keys", table_name="papers")
    for name in BTREE_INDEXES:
        op.drop_index(name, table_name="papers")


def downgrade() -> None:
    for name, columns in BTREE_INDEXES.items():
        op.create_index(name, "papers", columns)
    op.create_index("ix_papers_author_keys", "papers", ["author_keys"], postgresql_using="gin")
    op.create_index("ix_papers_title_key_trgm", "papers", ["title_key"], postgresql_using="gin",
                    postgresql_ops={"title_key": "gin_trgm_ops"})
    op.execute(f"ALTER TABLE papers ADD COLUMN search_vector tsvector "
               f"GENERATED ALWAYS AS ({SEARCH_VECTOR_SQL}) STORED NOT NULL")
    op.execute("ALTER TABLE papers ALTER COLUMN search_vector SET STORAGE EXTERNAL")  # as 0006 left it
    op.create_index("ix_papers_search_vector", "papers", ["search_vector"], postgresql_using="gin")

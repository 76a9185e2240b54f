"""Initial schema: papers (with a weighted full-text vector and a title trigram index),
ingest runs and rejects.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table('ingest_runs',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default='running', nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('inserted_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('unchanged_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rejected_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('cursor', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('running', 'succeeded', 'failed')", name=op.f('ck_ingest_runs_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_runs'))
    )
    op.create_index('ix_ingest_runs_source_started_at', 'ingest_runs', ['source', 'started_at'], unique=False)
    op.create_table('papers',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('public_id', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('source_record_id', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('title_raw', sa.Text(), nullable=False),
    sa.Column('title_key', sa.Text(), nullable=False),
    sa.Column('abstract', sa.Text(), server_default='', nullable=False),
    sa.Column('abstract_raw', sa.Text(), server_default='', nullable=False),
    sa.Column('authors', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('authors_text', sa.Text(), server_default='', nullable=False),
    sa.Column('author_keys', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('keywords', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('keywords_text', sa.Text(), server_default='', nullable=False),
    sa.Column('categories', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('primary_category', sa.Text(), nullable=True),
    sa.Column('venue', sa.Text(), nullable=True),
    sa.Column('venue_slug', sa.Text(), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('track', sa.Text(), nullable=True),
    sa.Column('status_raw', sa.Text(), nullable=True),
    sa.Column('is_published', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('tldr', sa.Text(), nullable=True),
    sa.Column('primary_area', sa.Text(), nullable=True),
    sa.Column('published_date', sa.Date(), nullable=True),
    sa.Column('updated_date', sa.Date(), nullable=True),
    sa.Column('announced_date', sa.Date(), nullable=True),
    sa.Column('versions', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('links', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('doi', sa.Text(), nullable=True),
    sa.Column('journal_ref', sa.Text(), nullable=True),
    sa.Column('comments', sa.Text(), nullable=True),
    sa.Column('report_no', sa.Text(), nullable=True),
    sa.Column('license', sa.Text(), nullable=True),
    sa.Column('submitter', sa.Text(), nullable=True),
    sa.Column('record_hash', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.Text(), nullable=False),
    sa.Column('search_vector', postgresql.TSVECTOR(), sa.Computed("setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(authors_text, '')), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(keywords_text, '')), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(abstract, '')), 'C')", persisted=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("source IN ('arxiv', 'venue')", name=op.f('ck_papers_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_papers')),
    sa.UniqueConstraint('public_id', name=op.f('uq_papers_public_id'))
    )
    op.create_index('ix_papers_author_keys', 'papers', ['author_keys'], unique=False, postgresql_using='gin')
    op.create_index('ix_papers_categories', 'papers', ['categories'], unique=False, postgresql_using='gin')
    op.create_index('ix_papers_primary_category_announced', 'papers', ['primary_category', 'announced_date'], unique=False)
    op.create_index('ix_papers_published_date', 'papers', ['published_date'], unique=False)
    op.create_index('ix_papers_search_vector', 'papers', ['search_vector'], unique=False, postgresql_using='gin')
    op.create_index('ix_papers_title_key_trgm', 'papers', ['title_key'], unique=False, postgresql_using='gin', postgresql_ops={'title_key': 'gin_trgm_ops'})
    op.create_index('ix_papers_venue_slug_year', 'papers', ['venue_slug', 'year'], unique=False)
    op.create_table('rejects',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('origin', sa.Text(), nullable=False),
    sa.Column('locator', sa.Text(), nullable=False),
    sa.Column('record_key', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['ingest_runs.id'], name=op.f('fk_rejects_run_id_ingest_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejects')),
    sa.UniqueConstraint('source', 'origin', 'locator', name='uq_rejects_location')
    )


def downgrade() -> None:
    # Extensions stay: other databases objects may use them, and re-creating is idempotent.
    op.drop_table('rejects')
    op.drop_index('ix_papers_venue_slug_year', table_name='papers')
    op.drop_index('ix_papers_title_key_trgm', table_name='papers', postgresql_using='gin', postgresql_ops={'title_key': 'gin_trgm_ops'})
    op.drop_index('ix_papers_search_vector', table_name='papers', postgresql_using='gin')
    op.drop_index('ix_papers_published_date', table_name='papers')
    op.drop_index('ix_papers_primary_category_announced', table_name='papers')
    op.drop_index('ix_papers_categories', table_name='papers', postgresql_using='gin')
    op.drop_index('ix_papers_author_keys', table_name='papers', postgresql_using='gin')
    op.drop_table('papers')
    op.drop_index('ix_ingest_runs_source_started_at', table_name='ingest_runs')
    op.drop_table('ingest_runs')

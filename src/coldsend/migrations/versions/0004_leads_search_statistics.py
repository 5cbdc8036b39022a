"""Finer planner statistics for lead search, so multi-word searches pick the trigram index reliably.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # With the default target (100) a multi-word search was estimated at ~10x its real row count on a
    # million leads; at 1000 the estimate is close, and the index-versus-primary-key choice follows.
    op.execute("ALTER INDEX ix_leads_search_trgm ALTER COLUMN 1 SET STATISTICS 1000")


def downgrade() -> None:
    op.execute("ALTER INDEX ix_leads_search_trgm ALTER COLUMN 1 SET STATISTICS -1")

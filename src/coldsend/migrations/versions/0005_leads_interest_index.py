"""Index leads by interest status (filters of POST /leads/list, moving leads off a deleted label).

Partial: most leads have no interest status, so imports barely pay for it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_leads_interest ON leads (organization_id, lt_interest_status) "
        "WHERE lt_interest_status IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_leads_interest")

"""Leads, lead lists, lead labels and the block list, indexed for millions of leads per workspace.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _workspace() -> sa.Column:
    return sa.Column("organization_id", sa.Uuid, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "lead_lists",
        _workspace(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("has_enrichment_task", sa.Boolean),
        sa.Column("owned_by", sa.Uuid),
        sa.Column("timestamp_created", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
    )
    # lists are paged by a timestamp cursor
    op.create_index("ix_lead_lists_created", "lead_lists", ["organization_id", "timestamp_created", "id"])

    op.create_table(
        "lead_labels",
        _workspace(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("label", sa.String, nullable=False),
        sa.Column("label_key", sa.String, nullable=False),  # normalised, unique per workspace
        sa.Column("interest_status_label", sa.String, nullable=False),
        sa.Column("interest_status", sa.Integer, nullable=False),
        sa.Column("description", sa.String),
        sa.Column("use_with_ai", sa.Boolean),
        sa.Column("created_by", sa.Uuid),
        sa.Column("timestamp_created", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.UniqueConstraint("organization_id", "interest_status", name="uq_lead_labels_interest_status"),
        sa.UniqueConstraint("organization_id", "label_key", name="uq_lead_labels_label"),
    )
    op.create_index("ix_lead_labels_created", "lead_labels", ["organization_id", "timestamp_created", "id"])

    op.create_table(
        "block_list_entries",
        _workspace(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("bl_value", sa.String, nullable=False),  # lower-cased email or domain
        sa.Column("is_domain", sa.Boolean, nullable=False),
        sa.Column("timestamp_created", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.UniqueConstraint("organization_id", "bl_value", name="uq_block_list_entries_value"),
    )
    op.execute("CREATE INDEX ix_block_list_entries_value_trgm ON block_list_entries USING gin (bl_value gin_trgm_ops)")

    op.create_table(
        "leads",
        _workspace(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("campaign_id", sa.Uuid),
        sa.Column("list_id", sa.Uuid),
        sa.Column("email", sa.String),  # lower-cased; null only for list leads identified by name
        sa.Column("status", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("first_name", sa.String),
        sa.Column("last_name", sa.String),
        sa.Column("company_name", sa.String),
        sa.Column("company_domain", sa.String, nullable=False, server_default=""),
        sa.Column("job_title", sa.String),
        sa.Column("phone", sa.String),
        sa.Column("website", sa.String),
        sa.Column("personalization", sa.String),
        sa.Column("payload", pg.JSONB),
        sa.Column("lt_interest_status", sa.Integer),
        sa.Column("pl_value_lead", sa.String),
        sa.Column("assigned_to", sa.Uuid),
        sa.Column("uploaded_by_user", sa.Uuid),
        sa.Column("upload_method", sa.String, nullable=False, server_default="api"),
        sa.Column("verification_status", sa.SmallInteger),
        sa.Column("enrichment_status", sa.SmallInteger),
        sa.Column("esp_code", sa.SmallInteger),
        sa.Column("esg_code", sa.SmallInteger),
        sa.Column("is_website_visitor", sa.Boolean),
        sa.Column("email_open_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("email_reply_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("email_click_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status_summary", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("status_summary_subseq", pg.JSONB),
        sa.Column("subsequence_id", sa.Uuid),
        sa.Column("last_step_from", sa.String),
        sa.Column("last_step_id", sa.Uuid),
        sa.Column("last_step_timestamp_executed", TS),
        sa.Column("email_opened_step", sa.Integer),
        sa.Column("email_opened_variant", sa.Integer),
        sa.Column("email_replied_step", sa.Integer),
        sa.Column("email_replied_variant", sa.Integer),
        sa.Column("email_clicked_step", sa.Integer),
        sa.Column("email_clicked_variant", sa.Integer),
        sa.Column("last_contacted_from", sa.String),
        sa.Column("timestamp_added_subsequence", TS),
        sa.Column("timestamp_last_contact", TS),
        sa.Column("timestamp_last_open", TS),
        sa.Column("timestamp_last_reply", TS),
        sa.Column("timestamp_last_interest_change", TS),
        sa.Column("timestamp_last_click", TS),
        sa.Column("timestamp_last_touch", TS),
        sa.Column("timestamp_created", TS, nullable=False),
        sa.Column("timestamp_updated", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.CheckConstraint("num_nonnulls(campaign_id, list_id) <= 1", name="ck_leads_one_container"),
        # a lead belongs to its campaign or list: deleting that deletes the lead
        sa.ForeignKeyConstraint(
            ["organization_id", "campaign_id"], ["campaigns.organization_id", "campaigns.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id", "list_id"], ["lead_lists.organization_id", "lead_lists.id"], ondelete="CASCADE"
        ),
    )
    # A lead is stored once per campaign and once per list (concurrent imports collide here).
    op.execute(
        "CREATE UNIQUE INDEX uq_leads_campaign_email ON leads (organization_id, campaign_id, email) "
        "WHERE campaign_id IS NOT NULL AND email IS NOT NULL"
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_leads_list_email ON leads (organization_id, list_id, email) "
        "WHERE list_id IS NOT NULL AND email IS NOT NULL"
    )
    # Keyset pages inside one campaign or list, and the workspace-wide lookups by address.
    op.create_index("ix_leads_campaign", "leads", ["organization_id", "campaign_id", "id"])
    op.create_index("ix_leads_list", "leads", ["organization_id", "list_id", "id"])
    op.create_index("ix_leads_email", "leads", ["organization_id", "email"])
    # `search` (email or name fragments) over millions of leads
    op.execute(
        "CREATE INDEX ix_leads_search_trgm ON leads USING gin "
        "((lower(coalesce(email, '') || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, ''))) "
        "gin_trgm_ops)"
    )


def downgrade() -> None:
    for table in ("leads", "block_list_entries", "lead_labels", "lead_lists"):
        op.drop_table(table)

"""Foundation: workspaces, API keys, custom tags and their mappings, minimal accounts and campaigns.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _scoped(*columns: sa.Column) -> list[sa.Column]:
    return [
        sa.Column("organization_id", sa.Uuid, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("id", sa.Uuid, nullable=False),
        *columns,
    ]


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("owner", sa.Uuid, nullable=False),
        sa.Column("plan_id", sa.String),
        sa.Column("plan_id_bundle", sa.String),
        sa.Column("plan_id_leadfinder", sa.String),
        sa.Column("plan_id_verification", pg.JSONB),
        sa.Column("plan_id_crm", sa.String),
        sa.Column("plan_id_website_visitor", sa.String),
        sa.Column("plan_id_inbox_placement", sa.String),
        sa.Column("org_client_domain", sa.String),
        sa.Column("org_logo_url", sa.String),
        sa.Column("add_unsub_to_block", sa.Boolean),
        sa.Column("default_opportunity_value", sa.Float),
        sa.Column("scheduled_for_removal_at", TS),
        sa.Column("timestamp_created", TS, nullable=False),
        sa.Column("timestamp_updated", TS, nullable=False),
    )

    op.create_table(
        "api_keys",
        *_scoped(
            sa.Column("name", sa.String, nullable=False),
            sa.Column("scopes", pg.ARRAY(sa.String), nullable=False),
            sa.Column("key_hash", sa.LargeBinary, nullable=False, unique=True),
            sa.Column("key_hint", sa.String, nullable=False),
            sa.Column("revoked_at", TS),
            sa.Column("timestamp_created", TS, nullable=False),
            sa.Column("timestamp_updated", TS, nullable=False),
        ),
        sa.PrimaryKeyConstraint("organization_id", "id"),
    )

    op.create_table(
        "custom_tags",
        *_scoped(
            sa.Column("label", sa.String, nullable=False),
            sa.Column("label_key", sa.String, nullable=False),
            sa.Column("description", sa.String),
            sa.Column("timestamp_created", TS, nullable=False),
            sa.Column("timestamp_updated", TS, nullable=False),
        ),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.UniqueConstraint("organization_id", "label_key", name="uq_custom_tags_label"),
    )
    # search by label fragment (ILIKE '%x%') inside a workspace
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX ix_custom_tags_label_trgm ON custom_tags USING gin (label_key gin_trgm_ops)")

    op.create_table(
        "accounts",
        *_scoped(
            sa.Column("email", sa.String, nullable=False),
            sa.Column("first_name", sa.String, nullable=False, server_default=""),
            sa.Column("last_name", sa.String, nullable=False, server_default=""),
            sa.Column("provider_code", sa.SmallInteger, nullable=False, server_default="1"),
            sa.Column("status", sa.SmallInteger, nullable=False, server_default="1"),
            sa.Column("warmup_status", sa.SmallInteger, nullable=False, server_default="0"),
            sa.Column("tracking_domain_name", sa.String),
            sa.Column("setup_pending", sa.Boolean, nullable=False, server_default=sa.false()),
            sa.Column("is_managed_account", sa.Boolean, nullable=False, server_default=sa.false()),
            sa.Column("is_prewarmed", sa.Boolean, nullable=False, server_default=sa.false()),
            sa.Column("timestamp_created", TS, nullable=False),
            sa.Column("timestamp_updated", TS, nullable=False),
        ),
        sa.PrimaryKeyConstraint("organization_id", "id"),
    )
    op.execute("CREATE UNIQUE INDEX uq_accounts_email ON accounts (organization_id, lower(email))")

    op.create_table(
        "campaigns",
        *_scoped(
            sa.Column("name", sa.String, nullable=False),
            sa.Column("status", sa.SmallInteger, nullable=False, server_default="0"),
            sa.Column("timestamp_created", TS, nullable=False),
            sa.Column("timestamp_updated", TS, nullable=False),
        ),
        sa.PrimaryKeyConstraint("organization_id", "id"),
    )

    op.create_table(
        "custom_tag_mappings",
        *_scoped(
            sa.Column("tag_id", sa.Uuid, nullable=False),
            sa.Column("resource_type", sa.SmallInteger, nullable=False),
            sa.Column("resource_id", sa.Uuid, nullable=False),
            sa.Column("timestamp_created", TS, nullable=False),
        ),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.ForeignKeyConstraint(
            ["organization_id", "tag_id"],
            ["custom_tags.organization_id", "custom_tags.id"],
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("organization_id", "tag_id", "resource_type", "resource_id", name="uq_custom_tag_mappings"),
    )
    op.create_index(
        "ix_custom_tag_mappings_resource",
        "custom_tag_mappings",
        ["organization_id", "resource_type", "resource_id"],
    )

    # Per-workspace request counters for the API rate limit: one row per (workspace, window length).
    # UNLOGGED: losing them in a crash only forgives a second or a minute of traffic.
    op.execute(
        """
        CREATE UNLOGGED TABLE rate_limit_counters (
            organization_id uuid NOT NULL,
            period_seconds integer NOT NULL,
            window_start bigint NOT NULL,
            hits integer NOT NULL,
            PRIMARY KEY (organization_id, period_seconds)
        )
        """
    )


def downgrade() -> None:
    for table in (
        "rate_limit_counters",
        "custom_tag_mappings",
        "campaigns",
        "accounts",
        "custom_tags",
        "api_keys",
        "workspaces",
    ):
        op.drop_table(table)

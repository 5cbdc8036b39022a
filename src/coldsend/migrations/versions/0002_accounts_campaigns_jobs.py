"""Accounts and campaigns as full resources, background jobs, and the PgQueuer job queue.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _pgqueuer_install_statements() -> list[str]:
    """PgQueuer's own DDL, one statement at a time (asyncpg prepares each statement)."""
    from pgqueuer.adapters.persistence import schema_ddl
    from pgqueuer.domain.schema.declaration import target
    from pgqueuer.domain.settings import DBSettings

    settings = DBSettings()
    t = target(settings)
    return (
        [schema_ddl.render_enum(e, settings) for e in t.enums]
        + [schema_ddl.render_table(e, settings) for e in t.tables]
        + [schema_ddl.render_index(e, settings) for e in t.indexes]
        + [schema_ddl.render_function(e, settings) for e in t.functions]
        + [schema_ddl.render_trigger(e, settings) for e in t.triggers]
    )


def upgrade() -> None:
    # -- accounts: every field of the reference, the mailbox connection, and check results ------
    add = op.add_column
    add("accounts", sa.Column("warmup", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")))
    add("accounts", sa.Column("added_by", sa.Uuid))
    add("accounts", sa.Column("modified_by", sa.Uuid))
    add("accounts", sa.Column("daily_limit", sa.Integer))
    add("accounts", sa.Column("daily_limit_max", sa.Integer))
    add("accounts", sa.Column("warmup_limit_max", sa.Integer))
    add("accounts", sa.Column("tracking_domain_status", sa.String))
    add("accounts", sa.Column("enable_slow_ramp", sa.Boolean))
    add("accounts", sa.Column("inbox_placement_test_limit", sa.Integer))
    add("accounts", sa.Column("status_message", pg.JSONB))
    add("accounts", sa.Column("timestamp_warmup_start", TS))
    add("accounts", sa.Column("stat_warmup_score", sa.Float))
    add("accounts", sa.Column("sending_gap", sa.Integer, nullable=False, server_default="10"))
    add("accounts", sa.Column("signature", sa.String))
    add("accounts", sa.Column("reply_to", sa.String))
    add("accounts", sa.Column("autofix_failed", sa.Boolean))
    add("accounts", sa.Column("skip_cname_check", sa.Boolean, nullable=False, server_default=sa.false()))
    for proto in ("smtp", "imap"):
        add("accounts", sa.Column(f"{proto}_host", sa.String))
        add("accounts", sa.Column(f"{proto}_port", sa.Integer))
        add("accounts", sa.Column(f"{proto}_username", sa.String))
        add("accounts", sa.Column(f"{proto}_password_encrypted", sa.String))  # kit.crypto, never returned
    add("accounts", sa.Column("connection_checked_at", TS))
    # keyset order of GET /accounts: (timestamp_created, email), cursor "timestamp&email"
    op.create_index("ix_accounts_created_email", "accounts", ["organization_id", "timestamp_created", "email"])
    op.create_index("ix_accounts_status", "accounts", ["organization_id", "status"])

    # per-day counters the engines fill (sent, bounced, warmup ...); analytics read them
    op.create_table(
        "account_daily_stats",
        sa.Column("organization_id", sa.Uuid, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("sent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("bounced", sa.Integer, nullable=False, server_default="0"),
        sa.Column("contacted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("new_leads_contacted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("opened", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unique_opened", sa.Integer, nullable=False, server_default="0"),
        sa.Column("replies", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unique_replies", sa.Integer, nullable=False, server_default="0"),
        sa.Column("clicks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unique_clicks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("warmup_sent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("warmup_landed_inbox", sa.Integer, nullable=False, server_default="0"),
        sa.Column("warmup_landed_spam", sa.Integer, nullable=False, server_default="0"),
        sa.Column("warmup_received", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("organization_id", "account_id", "day"),
        sa.ForeignKeyConstraint(
            ["organization_id", "account_id"], ["accounts.organization_id", "accounts.id"], ondelete="CASCADE"
        ),
    )

    # -- campaigns: every field of the reference ----------------------------------------------
    add("campaigns", sa.Column("pl_value", sa.Float))
    add("campaigns", sa.Column("is_evergreen", sa.Boolean))
    add("campaigns", sa.Column("campaign_schedule", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")))
    add("campaigns", sa.Column("sequences", pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")))
    add("campaigns", sa.Column("email_gap", sa.Integer))
    add("campaigns", sa.Column("random_wait_max", sa.Integer))
    add("campaigns", sa.Column("text_only", sa.Boolean))
    add("campaigns", sa.Column("first_email_text_only", sa.Boolean))
    # sender accounts by (lower-cased) email, and tags whose accounts also send
    add("campaigns", sa.Column("email_list", pg.ARRAY(sa.String), nullable=False, server_default="{}"))
    add("campaigns", sa.Column("email_tag_list", pg.ARRAY(sa.Uuid), nullable=False, server_default="{}"))
    add("campaigns", sa.Column("daily_limit", sa.Integer))
    add("campaigns", sa.Column("stop_on_reply", sa.Boolean))
    add("campaigns", sa.Column("link_tracking", sa.Boolean))
    add("campaigns", sa.Column("open_tracking", sa.Boolean))
    add("campaigns", sa.Column("stop_on_auto_reply", sa.Boolean))
    add("campaigns", sa.Column("daily_max_leads", sa.Integer))
    add("campaigns", sa.Column("prioritize_new_leads", sa.Boolean))
    add("campaigns", sa.Column("auto_variant_select", pg.JSONB))
    add("campaigns", sa.Column("match_lead_esp", sa.Boolean))
    add("campaigns", sa.Column("not_sending_status", sa.SmallInteger))
    add("campaigns", sa.Column("stop_for_company", sa.Boolean))
    add("campaigns", sa.Column("core_variables", pg.JSONB))
    add("campaigns", sa.Column("custom_variables", pg.JSONB))
    add("campaigns", sa.Column("insert_unsubscribe_header", sa.Boolean))
    add("campaigns", sa.Column("allow_risky_contacts", sa.Boolean))
    add("campaigns", sa.Column("disable_bounce_protect", sa.Boolean))
    add("campaigns", sa.Column("limit_emails_per_company_override", pg.JSONB))
    add("campaigns", sa.Column("cc_list", pg.ARRAY(sa.String), nullable=False, server_default="{}"))
    add("campaigns", sa.Column("bcc_list", pg.ARRAY(sa.String), nullable=False, server_default="{}"))
    add("campaigns", sa.Column("owned_by", sa.Uuid))
    add("campaigns", sa.Column("ai_sdr_id", sa.Uuid))
    add(
        "campaigns",
        sa.Column("provider_routing_rules", pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    add("campaigns", sa.Column("shared_until", TS))  # POST /share: exportable by others until then
    add("campaigns", sa.Column("timestamp_launched", TS))  # first activation (count-launched)
    op.create_index("ix_campaigns_status", "campaigns", ["organization_id", "status"])
    op.execute("CREATE INDEX ix_campaigns_email_list ON campaigns USING gin (email_list)")
    op.execute("CREATE INDEX ix_campaigns_name_trgm ON campaigns USING gin (lower(name) gin_trgm_ops)")

    # -- background jobs: the API's view of long-running work (the queue itself is PgQueuer) ----
    op.create_table(
        "background_jobs",
        sa.Column("organization_id", sa.Uuid, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("user_id", sa.Uuid),
        sa.Column("type", sa.String, nullable=False),
        sa.Column("entity_id", sa.Uuid),
        sa.Column("entity_type", sa.String),
        sa.Column("data", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("progress", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String, nullable=False, server_default="pending"),
        sa.Column("error", sa.String),  # why a job failed (internal; not part of the reference shape)
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
    )
    op.create_index("ix_background_jobs_created", "background_jobs", ["organization_id", "created_at", "id"])

    for statement in _pgqueuer_install_statements():
        op.execute(statement)


def downgrade() -> None:
    from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment
    from pgqueuer.domain.settings import DBSettings

    for statement in QueryBuilderEnvironment(DBSettings()).build_uninstall_query().splitlines():
        if statement.strip():
            op.execute(statement)
    op.drop_table("background_jobs")
    op.drop_table("account_daily_stats")

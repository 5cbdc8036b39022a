"""The sending engine: lead progress, the outbox, stored emails, tracking events and daily counters.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _workspace() -> sa.Column:
    return sa.Column("organization_id", sa.Uuid, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    # -- lead progress -------------------------------------------------------------------------
    # `next_step` is the index (0-based) in sequences[0].steps of the step to send next;
    # `next_send_at` is when it is due: set at insert (due at once), pushed by each send's delay,
    # 'infinity' while a send is in flight, NULL once the lead has nothing left to send.
    op.add_column("leads", sa.Column("next_step", sa.SmallInteger, nullable=False, server_default="0"))
    op.add_column("leads", sa.Column("next_send_at", TS, server_default=sa.text("now()")))
    # The scheduler's index: due leads of one campaign in due order, and "does the campaign still
    # have active or paused leads" for completion, without touching finished leads.
    op.execute(
        "CREATE INDEX ix_leads_due ON leads (campaign_id, status, next_send_at) "
        "WHERE campaign_id IS NOT NULL AND next_send_at IS NOT NULL"
    )

    # Replied leads by domain, for `stop_for_company` (only replied leads: a tiny index).
    op.execute(
        "CREATE INDEX ix_leads_replied_domain ON leads (campaign_id, company_domain) "
        "WHERE campaign_id IS NOT NULL AND timestamp_last_reply IS NOT NULL"
    )
    # The scheduler's scan of active campaigns across workspaces.
    op.execute("CREATE INDEX ix_campaigns_active ON campaigns (id) WHERE status = 1")

    # -- account sending state -----------------------------------------------------------------
    # `send_available_at`: the account's next send may not happen before (sending gap + random wait);
    # `send_lease_until`/`send_lease_owner`: one worker at a time sends from a mailbox.
    op.add_column("accounts", sa.Column("send_available_at", TS))
    op.add_column("accounts", sa.Column("send_lease_until", TS))
    op.add_column("accounts", sa.Column("send_lease_owner", sa.String))

    op.add_column("campaigns", sa.Column("timestamp_last_sent", TS))
    op.add_column("campaigns", sa.Column("sending_issue", pg.JSONB))  # issue tracking of sending-status

    # -- the outbox: one row per (lead, step) ever attempted; the unique key is "exactly once" ----
    op.create_table(
        "outbox",
        _workspace(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("campaign_id", sa.Uuid, nullable=False),
        sa.Column("lead_id", sa.Uuid, nullable=False),
        sa.Column("step", sa.SmallInteger, nullable=False),
        sa.Column("variant", sa.SmallInteger, nullable=False),
        sa.Column("account_id", sa.Uuid, nullable=False),
        # sending -> sent (accepted by SMTP) -> done (Email stored, lead moved on);
        # deferred (4xx, retried), failed (permanent), cancelled (stopped before SMTP)
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("message_id", sa.String, nullable=False),
        sa.Column("thread_id", sa.Uuid, nullable=False),
        sa.Column("subject", sa.String),
        sa.Column("new_lead", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("owner", sa.String),
        sa.Column("lease_until", TS),
        sa.Column("day", sa.Date, nullable=False),  # the campaign-local day its counters were charged to
        sa.Column("claimed_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.Column("error", sa.String),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        # a lead moved to another campaign starts that sequence afresh under the same lead id
        sa.UniqueConstraint("lead_id", "campaign_id", "step", name="uq_outbox_lead_step"),
        sa.ForeignKeyConstraint(
            ["organization_id", "lead_id"], ["leads.organization_id", "leads.id"], ondelete="CASCADE"
        ),
    )
    # tracking tokens name the outbox row by id alone (the token is the credential)
    op.execute("CREATE UNIQUE INDEX uq_outbox_id ON outbox (id)")
    op.execute("CREATE INDEX ix_outbox_unsettled ON outbox (lease_until) WHERE state IN ('sending', 'sent')")
    op.create_index("ix_outbox_campaign", "outbox", ["organization_id", "campaign_id", "state"])

    # -- emails: the Unibox (sent campaign messages now; received ones with inbox sync) ---------
    op.create_table(
        "emails",
        _workspace(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("timestamp_created", TS, nullable=False),
        sa.Column("timestamp_email", TS, nullable=False),
        sa.Column("message_id", sa.String, nullable=False),
        sa.Column("subject", sa.String, nullable=False, server_default=""),
        sa.Column("from_address_email", sa.String),
        sa.Column("to_address_email_list", sa.String, nullable=False, server_default=""),
        sa.Column("cc_address_email_list", sa.String),
        sa.Column("bcc_address_email_list", sa.String),
        sa.Column("reply_to", sa.String),
        sa.Column("body_text", sa.String),
        sa.Column("body_html", sa.String),
        sa.Column("campaign_id", sa.Uuid),
        sa.Column("subsequence_id", sa.Uuid),
        sa.Column("list_id", sa.Uuid),
        sa.Column("lead", sa.String),
        sa.Column("lead_id", sa.Uuid),
        sa.Column("eaccount", sa.String, nullable=False),
        sa.Column("account_id", sa.Uuid),
        sa.Column("ue_type", sa.SmallInteger, nullable=False),
        sa.Column("step", sa.String),
        sa.Column("variant", sa.SmallInteger),
        sa.Column("is_unread", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("is_auto_reply", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("reminder_ts", TS),
        sa.Column("ai_interest_value", sa.Float),
        sa.Column("ai_assisted", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("is_focused", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("i_status", sa.Integer),
        sa.Column("thread_id", sa.Uuid),
        sa.Column("content_preview", sa.String),
        sa.Column("attachment_json", pg.JSONB),
        sa.Column("from_address_json", pg.JSONB),
        sa.Column("to_address_json", pg.JSONB),
        sa.Column("cc_address_json", pg.JSONB),
        sa.Column("ai_agent_id", sa.Uuid),
        sa.Column("in_reply_to", sa.String),
        sa.Column("references", pg.ARRAY(sa.String)),
        sa.Column("outbox_id", sa.Uuid),
        sa.PrimaryKeyConstraint("organization_id", "id"),
    )
    op.create_index("ix_emails_created", "emails", ["organization_id", "timestamp_created", "id"])
    op.create_index("ix_emails_message_id", "emails", ["organization_id", "message_id"])
    op.create_index("ix_emails_thread", "emails", ["organization_id", "thread_id"])
    op.execute("CREATE UNIQUE INDEX uq_emails_outbox ON emails (outbox_id) WHERE outbox_id IS NOT NULL")

    # -- tracking events (opens, clicks, unsubscribes) ------------------------------------------
    op.create_table(
        "email_events",
        _workspace(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),  # open | click | unsubscribe
        sa.Column("timestamp_created", TS, nullable=False),
        sa.Column("outbox_id", sa.Uuid, nullable=False),
        sa.Column("campaign_id", sa.Uuid, nullable=False),
        sa.Column("lead_id", sa.Uuid, nullable=False),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("step", sa.SmallInteger, nullable=False),
        sa.Column("variant", sa.SmallInteger, nullable=False),
        sa.Column("url", sa.String),
        sa.Column("user_agent", sa.String),
        sa.Column("ip", sa.String),
        sa.PrimaryKeyConstraint("organization_id", "id"),
    )
    op.create_index("ix_email_events_campaign", "email_events", ["organization_id", "campaign_id", "timestamp_created"])
    op.create_index("ix_email_events_outbox", "email_events", ["outbox_id", "kind"])

    # -- per-campaign daily counters (limits and analytics), day in the campaign's timezone ----
    op.create_table(
        "campaign_daily_stats",
        _workspace(),
        sa.Column("campaign_id", sa.Uuid, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        *(
            sa.Column(name, sa.Integer, nullable=False, server_default="0")
            for name in (
                "sent",
                "new_leads_contacted",
                "bounced",
                "opened",
                "unique_opened",
                "clicks",
                "unique_clicks",
                "replies",
                "unique_replies",
                "unsubscribed",
            )
        ),
        sa.PrimaryKeyConstraint("organization_id", "campaign_id", "day"),
        sa.ForeignKeyConstraint(
            ["organization_id", "campaign_id"], ["campaigns.organization_id", "campaigns.id"], ondelete="CASCADE"
        ),
    )

    # -- variant rotation per (campaign, step) ---------------------------------------------------
    op.create_table(
        "campaign_step_rotation",
        _workspace(),
        sa.Column("campaign_id", sa.Uuid, nullable=False),
        sa.Column("step", sa.SmallInteger, nullable=False),
        sa.Column("sends", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("organization_id", "campaign_id", "step"),
        sa.ForeignKeyConstraint(
            ["organization_id", "campaign_id"], ["campaigns.organization_id", "campaigns.id"], ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    for table in ("campaign_step_rotation", "campaign_daily_stats", "email_events", "emails", "outbox"):
        op.drop_table(table)
    op.drop_column("campaigns", "sending_issue")
    op.drop_column("campaigns", "timestamp_last_sent")
    for column in ("send_lease_owner", "send_lease_until", "send_available_at"):
        op.drop_column("accounts", column)
    op.execute("DROP INDEX ix_campaigns_active")
    op.execute("DROP INDEX ix_leads_replied_domain")
    op.execute("DROP INDEX ix_leads_due")
    op.drop_column("leads", "next_send_at")
    op.drop_column("leads", "next_step")

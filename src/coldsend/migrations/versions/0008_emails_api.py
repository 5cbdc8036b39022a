"""The Emails API: indexes for the Unibox list (keyset pages in creation order under every filter),
and per-endpoint rate-limit buckets.

Every list index ends with (timestamp_created, id), the page order, so a filtered page is an index
range scan from the cursor whatever its depth (read backwards for the default newest-first order).
Indexes that only concern received, manual or scheduled emails are partial (`ue_type <> 1`,
`ue_type = 2`, `is_unread = 1`, ...): the sending engine, which writes campaign emails (`ue_type` 1),
does not pay for them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEXES = {
    # thread (search `thread:<id>`, mark-as-read) and the "is there a later email" probe of
    # latest_of_thread; supersedes ix_emails_thread (organization_id, thread_id)
    "ix_emails_thread_created": "(organization_id, thread_id, timestamp_created, id)",
    "ix_emails_campaign_created": "(organization_id, campaign_id, timestamp_created, id)",
    "ix_emails_lead_created": "(organization_id, lower(lead), timestamp_created, id)",
    "ix_emails_eaccount_created": "(organization_id, lower(eaccount), timestamp_created, id)",
    "ix_emails_lead_domain_created": "(organization_id, lower(split_part(lead, '@', 2)), timestamp_created, id)",
    # email_type received / manual, scheduled_only
    "ix_emails_type_created": "(organization_id, ue_type, timestamp_created, id) WHERE ue_type <> 1",
    # the most common Unibox poll: a campaign's replies
    "ix_emails_received_campaign_created": "(organization_id, campaign_id, timestamp_created, id) WHERE ue_type = 2",
    # is_unread=true pages and the unread count
    "ix_emails_unread_created": "(organization_id, timestamp_created, id) WHERE is_unread = 1",
    "ix_emails_reminder_created": "(organization_id, timestamp_created, id) WHERE reminder_ts IS NOT NULL",
    "ix_emails_list_created": "(organization_id, list_id, timestamp_created, id) WHERE list_id IS NOT NULL",
}


def upgrade() -> None:
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON emails {definition}")
    op.execute("DROP INDEX ix_emails_thread")

    # Per-endpoint budgets beside the workspace-wide ones ('' = the workspace's own).
    op.execute("ALTER TABLE rate_limit_counters ADD COLUMN bucket text NOT NULL DEFAULT ''")
    op.execute("ALTER TABLE rate_limit_counters DROP CONSTRAINT rate_limit_counters_pkey")
    op.execute("ALTER TABLE rate_limit_counters ADD PRIMARY KEY (organization_id, bucket, period_seconds)")


def downgrade() -> None:
    op.execute("DELETE FROM rate_limit_counters WHERE bucket <> ''")
    op.execute("ALTER TABLE rate_limit_counters DROP CONSTRAINT rate_limit_counters_pkey")
    op.execute("ALTER TABLE rate_limit_counters ADD PRIMARY KEY (organization_id, period_seconds)")
    op.execute("ALTER TABLE rate_limit_counters DROP COLUMN bucket")

    op.execute("CREATE INDEX ix_emails_thread ON emails (organization_id, thread_id)")
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")

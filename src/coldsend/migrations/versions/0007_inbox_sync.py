"""Inbox sync: per-folder IMAP state of each account, and the lookups replies and bounces need.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Where each folder of each mailbox was read up to: resume from `last_uid`; a changed
    # `uidvalidity` means the server renumbered the folder, which is then read again (deduplicated
    # by Message-ID).
    op.create_table(
        "mailbox_sync_state",
        sa.Column("organization_id", sa.Uuid, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("folder", sa.String, nullable=False),
        sa.Column("role", sa.String(8), nullable=False),  # inbox | spam
        sa.Column("uidvalidity", sa.BigInteger),
        sa.Column("last_uid", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("synced_at", TS),
        sa.Column("error", sa.String),
        sa.PrimaryKeyConstraint("organization_id", "account_id", "folder"),
        sa.ForeignKeyConstraint(
            ["organization_id", "account_id"], ["accounts.organization_id", "accounts.id"], ondelete="CASCADE"
        ),
    )
    # One worker at a time watches a mailbox (lease like the sender's).
    op.add_column("accounts", sa.Column("inbox_lease_until", TS))
    op.add_column("accounts", sa.Column("inbox_lease_owner", sa.String))
    op.add_column("accounts", sa.Column("inbox_synced_at", TS))
    # A received message is stored once per account (the same message-id may reach two mailboxes).
    op.execute(
        "CREATE UNIQUE INDEX uq_emails_received ON emails (organization_id, account_id, message_id) WHERE ue_type = 2"
    )
    # Auto-replies are counted apart from replies (account analytics show both)
    for name in ("replies_automatic", "unique_replies_automatic"):
        op.add_column("account_daily_stats", sa.Column(name, sa.Integer, nullable=False, server_default="0"))
    # Our sent Message-IDs, looked up by In-Reply-To/References of every received message.
    op.execute("CREATE INDEX ix_outbox_message_id ON outbox (message_id)")


def downgrade() -> None:
    for name in ("replies_automatic", "unique_replies_automatic"):
        op.drop_column("account_daily_stats", name)
    op.execute("DROP INDEX ix_outbox_message_id")
    op.execute("DROP INDEX uq_emails_received")
    for column in ("inbox_synced_at", "inbox_lease_owner", "inbox_lease_until"):
        op.drop_column("accounts", column)
    op.drop_table("mailbox_sync_state")

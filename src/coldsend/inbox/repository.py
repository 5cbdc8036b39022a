"""Every query of inbox sync.

`WatchQueries` are the supervisor's server-wide reads and leases (which mailboxes to watch);
`InboxRepository` is bound to one workspace and scopes each statement in `_run`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from coldsend.emails.repository import bulk_insert_emails
from coldsend.kit.repository import Executor, Record
from coldsend.sending.repository import add_to_daily_counters

# Mailboxes worth watching: IMAP configured, not in connection error (fixing the account and
# "mark fixed" brings it back), and not watched by a live worker.
_CLAIM = text(
    """
    UPDATE accounts a SET inbox_lease_owner = :owner, inbox_lease_until = :until
    FROM (
        SELECT organization_id, id FROM accounts
        WHERE imap_host IS NOT NULL AND status <> -1
          AND (inbox_lease_until IS NULL OR inbox_lease_until < :now OR inbox_lease_owner = :owner)
          AND NOT (id = ANY(CAST(:watching AS uuid[])))
        ORDER BY inbox_synced_at NULLS FIRST
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) AS free
    WHERE a.organization_id = free.organization_id AND a.id = free.id
    RETURNING a.organization_id, a.id
    """
)

_RENEW = text(
    """
    UPDATE accounts SET inbox_lease_until = :until
    WHERE id = ANY(CAST(:ids AS uuid[])) AND inbox_lease_owner = :owner
      AND imap_host IS NOT NULL AND status <> -1
    RETURNING id
    """
)

_RELEASE = text(
    """
    UPDATE accounts SET inbox_lease_owner = NULL, inbox_lease_until = NULL
    WHERE id = ANY(CAST(:ids AS uuid[])) AND inbox_lease_owner = :owner
    """
)


class WatchQueries:
    """Leases on mailboxes across workspaces: one worker watches a mailbox at a time."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def claim(
        self, owner: str, now: datetime, until: datetime, limit: int, watching: Sequence[uuid.UUID]
    ) -> Sequence[Record]:
        params = {"owner": owner, "now": now, "until": until, "limit": limit, "watching": list(watching)}
        return (await self.conn.execute(_CLAIM, params)).all()

    async def renew(self, owner: str, ids: Sequence[uuid.UUID], until: datetime) -> set[uuid.UUID]:
        if not ids:
            return set()
        rows = await self.conn.execute(_RENEW, {"owner": owner, "ids": list(ids), "until": until})
        return {row[0] for row in rows}

    async def release(self, owner: str, ids: Sequence[uuid.UUID]) -> None:
        if ids:
            await self.conn.execute(_RELEASE, {"owner": owner, "ids": list(ids)})


ACCOUNT_COLUMNS = """
    id, organization_id, email, status, timestamp_created, imap_host, imap_port, imap_username,
    imap_password_encrypted, smtp_password_encrypted, smtp_host, smtp_port, smtp_username
"""

# What a received message is matched against: our sent emails (campaign sends and manual replies).
MATCH_COLUMNS = """
    e.message_id, e.thread_id, e.lead_id, e.lead, e.campaign_id, e.list_id, e.step, e.variant, e.subject,
    e.timestamp_created, e."references"
"""


class InboxRepository:
    def __init__(self, conn: Executor, organization_id: uuid.UUID) -> None:
        self.conn = conn
        self.organization_id = organization_id

    async def _run(self, sql: str, **params: Any) -> Any:
        """Every statement of this repository goes through here, bound to the workspace as `:org`."""
        return await self.conn.execute(text(sql), {"org": self.organization_id, **params})

    async def account(self, account_id: uuid.UUID) -> Record | None:
        result = await self._run(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE organization_id = :org AND id = :id", id=account_id
        )
        return result.first()

    async def folder_states(self, account_id: uuid.UUID) -> dict[str, Record]:
        result = await self._run(
            "SELECT * FROM mailbox_sync_state WHERE organization_id = :org AND account_id = :id", id=account_id
        )
        return {row.folder: row for row in result}

    async def save_folder_state(
        self,
        account_id: uuid.UUID,
        folder: str,
        role: str,
        uidvalidity: int | None,
        last_uid: int,
        now: datetime,
        error: str | None = None,
    ) -> None:
        await self._run(
            """INSERT INTO mailbox_sync_state
                (organization_id, account_id, folder, role, uidvalidity, last_uid, synced_at, error)
            SELECT :org, :id, :folder, :role, :validity, :last_uid, :now, :error
            WHERE EXISTS (SELECT 1 FROM accounts WHERE organization_id = :org AND id = :id)
            ON CONFLICT (organization_id, account_id, folder) DO UPDATE
            SET role = EXCLUDED.role, uidvalidity = EXCLUDED.uidvalidity, last_uid = EXCLUDED.last_uid,
                synced_at = EXCLUDED.synced_at, error = EXCLUDED.error""",
            id=account_id,
            folder=folder,
            role=role,
            validity=uidvalidity,
            last_uid=last_uid,
            now=now,
            error=error,
        )

    async def mark_synced(self, account_id: uuid.UUID, now: datetime) -> None:
        await self._run(
            "UPDATE accounts SET inbox_synced_at = :now WHERE organization_id = :org AND id = :id",
            id=account_id,
            now=now,
        )

    async def set_account_error(self, account_id: uuid.UUID, message: Mapping[str, Any], now: datetime) -> None:
        await self._run(
            """UPDATE accounts SET status = -1, status_message = CAST(:message AS jsonb), timestamp_updated = :now
            WHERE organization_id = :org AND id = :id""",
            id=account_id,
            message=orjson.dumps(message).decode(),
            now=now,
        )

    # -- matching ---------------------------------------------------------------------------------

    async def sent_by_message_ids(self, ids: Sequence[str]) -> dict[str, Record]:
        """Our sent emails (campaign or manual) by Message-ID."""
        if not ids:
            return {}
        result = await self._run(
            f"""SELECT {MATCH_COLUMNS} FROM emails e
            WHERE e.organization_id = :org AND e.message_id = ANY(:ids) AND e.ue_type IN (1, 3)""",
            ids=list(ids),
        )
        return {row.message_id: row for row in result}

    async def sent_to_addresses(self, account_id: uuid.UUID, addresses: Sequence[str]) -> Sequence[Record]:
        """Our latest sent emails from this account to these addresses (the fallback match)."""
        if not addresses:
            return []
        result = await self._run(
            f"""SELECT {MATCH_COLUMNS} FROM emails e
            WHERE e.organization_id = :org AND lower(e.lead) = ANY(:addresses) AND e.ue_type IN (1, 3)
              AND e.account_id = :account
            ORDER BY e.timestamp_created DESC LIMIT 200""",
            addresses=list(addresses),
            account=account_id,
        )
        return result.all()

    async def campaigns(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Record]:
        if not ids:
            return {}
        result = await self._run(
            """SELECT id, stop_on_reply, stop_on_auto_reply, stop_for_company, disable_bounce_protect,
                campaign_schedule FROM campaigns WHERE organization_id = :org AND id = ANY(:ids)""",
            ids=list(ids),
        )
        return {row.id: row for row in result}

    async def leads(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Record]:
        if not ids:
            return {}
        result = await self._run(
            """SELECT id, email, campaign_id, list_id, status, company_domain, lt_interest_status,
                email_reply_count FROM leads WHERE organization_id = :org AND id = ANY(:ids)""",
            ids=list(ids),
        )
        return {row.id: row for row in result}

    # -- storing ----------------------------------------------------------------------------------

    async def insert_received(self, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        """Store received emails once per (account, Message-ID); returns the Message-IDs inserted."""
        return await bulk_insert_emails(
            self._run, 2, rows, "ON CONFLICT (organization_id, account_id, message_id) WHERE ue_type = 2 DO NOTHING"
        )

    # -- effects on leads -------------------------------------------------------------------------

    async def record_reply(
        self, lead_id: uuid.UUID, at: datetime, step: int | None, variant: int | None, stop: bool
    ) -> Record | None:
        """A human reply: counters and timestamps; with `stop`, the lead's sequence ends (Completed)."""
        result = await self._run(
            """UPDATE leads SET email_reply_count = email_reply_count + 1,
                timestamp_last_reply = greatest(coalesce(timestamp_last_reply, :at), :at),
                timestamp_last_touch = greatest(coalesce(timestamp_last_touch, :at), :at),
                email_replied_step = coalesce(:step, email_replied_step),
                email_replied_variant = coalesce(:variant, email_replied_variant),
                status = CASE WHEN :stop AND status IN (1, 2) THEN 3 ELSE status END,
                next_send_at = CASE WHEN :stop AND status IN (1, 2) THEN NULL ELSE next_send_at END,
                timestamp_updated = :at
            WHERE organization_id = :org AND id = :id
            RETURNING id, campaign_id, company_domain, email_reply_count""",
            id=lead_id,
            at=at,
            step=step,
            variant=variant,
            stop=stop,
        )
        return result.first()

    async def stop_company(self, campaign_id: uuid.UUID, domain: str, except_lead: uuid.UUID, at: datetime) -> int:
        """`stop_for_company`: the other leads of the replying lead's domain in the campaign end too."""
        result = await self._run(
            """UPDATE leads SET status = 3, next_send_at = NULL, timestamp_updated = :at
            WHERE organization_id = :org AND campaign_id = :cid AND company_domain = :domain
              AND status IN (1, 2) AND id <> :lead""",
            cid=campaign_id,
            domain=domain,
            lead=except_lead,
            at=at,
        )
        return int(result.rowcount or 0)

    async def record_auto_reply(self, lead_id: uuid.UUID, at: datetime, out_of_office: bool, stop: bool) -> None:
        """An auto-reply: with `out_of_office`, a lead without an interest status becomes Out of Office
        (0); with `stop` (the campaign's `stop_on_auto_reply`), its sequence ends."""
        await self._run(
            """UPDATE leads SET
                lt_interest_status = CASE WHEN :ooo AND lt_interest_status IS NULL THEN 0 ELSE lt_interest_status END,
                timestamp_last_interest_change = CASE WHEN :ooo AND lt_interest_status IS NULL THEN :at
                    ELSE timestamp_last_interest_change END,
                timestamp_last_touch = greatest(coalesce(timestamp_last_touch, :at), :at),
                status = CASE WHEN :stop AND status IN (1, 2) THEN 3 ELSE status END,
                next_send_at = CASE WHEN :stop AND status IN (1, 2) THEN NULL ELSE next_send_at END,
                timestamp_updated = :at
            WHERE organization_id = :org AND id = :id""",
            id=lead_id,
            at=at,
            ooo=out_of_office,
            stop=stop,
        )

    async def first_auto_reply(self, lead_id: uuid.UUID) -> bool:
        """Whether this is the lead's only stored auto-reply (for the unique counter)."""
        result = await self._run(
            """SELECT count(*) FROM emails WHERE organization_id = :org AND lead_id = :id AND ue_type = 2
              AND is_auto_reply = 1""",
            id=lead_id,
        )
        return int(result.scalar_one()) <= 1

    async def record_bounce(self, lead_id: uuid.UUID, at: datetime) -> bool:
        """A hard bounce: the lead is Bounced (-1) and nothing more is sent. True when it changed."""
        result = await self._run(
            """UPDATE leads SET status = -1, next_send_at = NULL, timestamp_updated = :at
            WHERE organization_id = :org AND id = :id AND status <> -1 RETURNING id""",
            id=lead_id,
            at=at,
        )
        return result.first() is not None

    async def count(self, table: str, key_id: uuid.UUID, day: Any, **increments: int) -> None:
        """Add to per-day counters of a campaign or an account (if it still exists)."""
        await add_to_daily_counters(self._run, table, key_id, day, **increments)

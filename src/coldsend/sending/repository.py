"""Every query of the sending engine.

Two kinds: the scheduler's server-wide scans (`SchedulerQueries`: active campaigns, their ready
sending accounts, unsettled outbox rows of dead workers), which read across workspaces by design and
return each row's `organization_id`; and `SendingRepository`, bound to one workspace, through which
every claim, send record and lead update goes (`organization_id = :org` is added in `_run`, the one
place this repository scopes its statements).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from coldsend.emails.repository import bulk_insert_emails
from coldsend.kit.clock import isoformat
from coldsend.kit.repository import Executor, Record
from coldsend.sending.models import OutboxState

# -- the scheduler's server-wide scans ------------------------------------------------------------

_ACTIVE_CAMPAIGNS = text(
    """
    SELECT organization_id, id, timestamp_updated, campaign_schedule
    FROM campaigns WHERE status = 1
    """
)

# Which of the given campaigns have at least one lead due now (one index probe each).
_CAMPAIGNS_WITH_DUE = text(
    """
    SELECT c.id FROM unnest(CAST(:ids AS uuid[])) AS c(id)
    WHERE EXISTS (
        SELECT 1 FROM leads l
        WHERE l.campaign_id = c.id AND l.status = 1 AND l.next_send_at <= :now
    )
    """
)

# The active, idle, rested sending accounts of the given campaigns (email_list or a tag of
# email_tag_list), with the campaigns each one serves.
_READY_SENDERS = text(
    """
    SELECT a.organization_id, a.id, array_agg(c.id) AS campaign_ids
    FROM campaigns c
    JOIN accounts a ON a.organization_id = c.organization_id
    WHERE c.id = ANY(CAST(:ids AS uuid[]))
      AND a.status = 1
      AND (a.send_available_at IS NULL OR a.send_available_at <= :now)
      AND (a.send_lease_until IS NULL OR a.send_lease_until < :now)
      AND (
        lower(a.email) = ANY(c.email_list)
        OR (cardinality(c.email_tag_list) > 0 AND EXISTS (
            SELECT 1 FROM custom_tag_mappings m
            WHERE m.organization_id = a.organization_id AND m.resource_type = 1
              AND m.resource_id = a.id AND m.tag_id = ANY(c.email_tag_list)))
      )
    GROUP BY a.organization_id, a.id
    """
)

_UNSETTLED = text(
    """
    SELECT organization_id, id, account_id, campaign_id, state FROM outbox
    WHERE state IN ('sending', 'sent') AND lease_until < :now
    ORDER BY lease_until LIMIT :limit
    """
)


_MARK_SENT = text(
    """
    UPDATE outbox o SET state = 'sent', sent_at = t.at
    FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) AS t(org, id, at)
    WHERE o.organization_id = t.org AND o.id = t.id AND o.state = 'sending'
    """
)


async def mark_sent(conn: AsyncConnection, sends: Sequence[tuple[uuid.UUID, uuid.UUID, datetime]]) -> None:
    """The SMTP server accepted these messages ((workspace, outbox id, when) each, every row scoped
    to its own workspace): recorded at once, so recovery never sends them again."""
    await conn.execute(
        _MARK_SENT, {"orgs": [s[0] for s in sends], "ids": [s[1] for s in sends], "ats": [s[2] for s in sends]}
    )


_COUNTER_TABLES = {
    "campaign_daily_stats": ("campaign_id", "campaigns"),
    "account_daily_stats": ("account_id", "accounts"),
}


async def add_to_daily_counters(
    run: Callable[..., Awaitable[Any]], table: str, key_id: uuid.UUID, day: date, **increments: int
) -> None:
    """Add to the per-day counters of a campaign or an account, if it still exists (a delete may race
    a send or a received message), through the caller's workspace-bound `run` (which supplies `:org`)."""
    key, parent = _COUNTER_TABLES[table]
    columns = ", ".join(increments)
    values = ", ".join(f":{name}" for name in increments)
    updates = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in increments)
    await run(
        f"""INSERT INTO {table} (organization_id, {key}, day, {columns})
        SELECT :org, :key_id, :day, {values}
        WHERE EXISTS (SELECT 1 FROM {parent} WHERE organization_id = :org AND id = :key_id)
        ON CONFLICT (organization_id, {key}, day) DO UPDATE SET {updates}""",
        key_id=key_id,
        day=day,
        **increments,
    )


class SchedulerQueries:
    """The engine's reads across all workspaces (nothing here writes or returns message content)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def active_campaigns(self) -> Sequence[Record]:
        return (await self.conn.execute(_ACTIVE_CAMPAIGNS)).all()

    async def campaigns_with_due_leads(self, ids: Sequence[uuid.UUID], now: datetime) -> list[uuid.UUID]:
        if not ids:
            return []
        rows = await self.conn.execute(_CAMPAIGNS_WITH_DUE, {"ids": list(ids), "now": now})
        return [row[0] for row in rows]

    async def ready_senders(self, campaign_ids: Sequence[uuid.UUID], now: datetime) -> Sequence[Record]:
        if not campaign_ids:
            return []
        return (await self.conn.execute(_READY_SENDERS, {"ids": list(campaign_ids), "now": now})).all()

    async def unsettled(self, now: datetime, limit: int = 200) -> Sequence[Record]:
        return (await self.conn.execute(_UNSETTLED, {"now": now, "limit": limit})).all()


# -- one workspace -------------------------------------------------------------------------------

LEAD_COLUMNS = """
    l.id, l.campaign_id, l.list_id, l.email, l.first_name, l.last_name, l.company_name, l.company_domain,
    l.job_title, l.phone, l.website, l.personalization, l.payload, l.next_step, l.status,
    l.timestamp_last_reply
"""

ACCOUNT_COLUMNS = """
    id, organization_id, email, first_name, last_name, status, daily_limit, sending_gap, signature,
    reply_to, tracking_domain_name, smtp_host, smtp_port, smtp_username, smtp_password_encrypted,
    imap_host, imap_port, imap_username, imap_password_encrypted, send_available_at
"""

CAMPAIGN_COLUMNS = """
    id, organization_id, name, status, timestamp_updated, campaign_schedule, sequences, email_gap,
    random_wait_max, text_only, first_email_text_only, daily_limit, stop_on_reply, link_tracking,
    open_tracking, daily_max_leads, prioritize_new_leads, stop_for_company, insert_unsubscribe_header,
    disable_bounce_protect, cc_list, bcc_list
"""


class SendingRepository:
    """The engine's statements inside one workspace."""

    def __init__(self, conn: Executor, organization_id: uuid.UUID) -> None:
        self.conn = conn
        self.organization_id = organization_id

    async def _run(self, sql: str, **params: Any) -> Any:
        """Every statement of this repository goes through here, bound to the workspace as `:org`."""
        return await self.conn.execute(text(sql), {"org": self.organization_id, **params})

    # -- claiming ---------------------------------------------------------------------------------

    async def lock_ready_account(self, account_id: uuid.UUID, now: datetime) -> Record | None:
        """The account row, locked, if it may send now; None when another worker holds it."""
        result = await self._run(
            f"""SELECT {ACCOUNT_COLUMNS} FROM accounts
            WHERE organization_id = :org AND id = :id AND status = 1
              AND (send_available_at IS NULL OR send_available_at <= :now)
              AND (send_lease_until IS NULL OR send_lease_until < :now)
            FOR UPDATE SKIP LOCKED""",
            id=account_id,
            now=now,
        )
        return result.first()

    async def account(self, account_id: uuid.UUID) -> Record | None:
        result = await self._run(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE organization_id = :org AND id = :id", id=account_id
        )
        return result.first()

    async def account_sent_on(self, account_id: uuid.UUID, day: date) -> int:
        result = await self._run(
            "SELECT sent FROM account_daily_stats WHERE organization_id = :org AND account_id = :id AND day = :day",
            id=account_id,
            day=day,
        )
        value = result.scalar()
        return int(value or 0)

    async def campaigns(self, ids: Sequence[uuid.UUID]) -> Sequence[Record]:
        result = await self._run(
            f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE organization_id = :org AND id = ANY(:ids) AND status = 1",
            ids=list(ids),
        )
        return result.all()

    async def campaign(self, campaign_id: uuid.UUID) -> Record | None:
        result = await self._run(
            f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE organization_id = :org AND id = :id", id=campaign_id
        )
        return result.first()

    async def campaign_day_counts(self, campaign_id: uuid.UUID, day: date) -> tuple[int, int]:
        result = await self._run(
            """SELECT sent, new_leads_contacted FROM campaign_daily_stats
            WHERE organization_id = :org AND campaign_id = :id AND day = :day""",
            id=campaign_id,
            day=day,
        )
        row = result.first()
        return (int(row.sent), int(row.new_leads_contacted)) if row else (0, 0)

    async def due_leads(
        self, campaign_id: uuid.UUID, now: datetime, limit: int, *, new: bool | None = None
    ) -> Sequence[Record]:
        """Due leads of the campaign in due order, locked (SKIP LOCKED: other workers take others).
        `new` True: only leads not contacted yet; False: only follow-ups; None: both."""
        if limit <= 0:
            return []
        condition = {None: "", True: "AND l.next_step = 0", False: "AND l.next_step > 0"}[new]
        result = await self._run(
            f"""SELECT {LEAD_COLUMNS} FROM leads l
            WHERE l.campaign_id = :cid AND l.status = 1 AND l.next_send_at <= :now
              AND l.organization_id = :org {condition}
            ORDER BY l.next_send_at LIMIT :limit
            FOR UPDATE OF l SKIP LOCKED""",
            cid=campaign_id,
            now=now,
            limit=limit,
        )
        return result.all()

    async def replied_domains(self, campaign_id: uuid.UUID, domains: Sequence[str]) -> set[str]:
        if not domains:
            return set()
        result = await self._run(
            """SELECT DISTINCT company_domain FROM leads
            WHERE organization_id = :org AND campaign_id = :cid AND timestamp_last_reply IS NOT NULL
              AND company_domain = ANY(:domains)""",
            cid=campaign_id,
            domains=list(domains),
        )
        return {row[0] for row in result}

    async def thread_history(self, campaign_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]) -> Sequence[Record]:
        """Earlier sent steps of these leads (for threading follow-ups), in step order."""
        if not lead_ids:
            return []
        result = await self._run(
            """SELECT lead_id, step, message_id, thread_id, subject FROM outbox
            WHERE organization_id = :org AND campaign_id = :cid AND lead_id = ANY(:ids) AND state = 'done'
            ORDER BY lead_id, step""",
            cid=campaign_id,
            ids=list(lead_ids),
        )
        return result.all()

    async def stop_leads(self, ids: Sequence[uuid.UUID], status: int, now: datetime) -> None:
        """Leads that will not be sent to any more (blocked, replied, bounced ...)."""
        if ids:
            await self._run(
                """UPDATE leads SET status = :status, next_send_at = NULL, timestamp_updated = :now
                WHERE organization_id = :org AND id = ANY(:ids)""",
                ids=list(ids),
                status=status,
                now=now,
            )

    async def reserve_campaign(self, campaign_id: uuid.UUID, day: date, sends: int, new_leads: int) -> None:
        """Charge the campaign's day with sends (the caller checked the limits under the row lock)."""
        await add_to_daily_counters(
            self._run, "campaign_daily_stats", campaign_id, day, sent=sends, new_leads_contacted=new_leads
        )

    async def lock_campaign_day(self, campaign_id: uuid.UUID, day: date) -> tuple[int, int]:
        """Create-or-lock the campaign's counter row of `day` (serialises claims of one campaign, so
        its daily limits hold across workers) and return (sent, new leads contacted)."""
        result = await self._run(
            """INSERT INTO campaign_daily_stats (organization_id, campaign_id, day)
            VALUES (:org, :cid, :day)
            ON CONFLICT (organization_id, campaign_id, day) DO UPDATE SET sent = campaign_daily_stats.sent
            RETURNING sent, new_leads_contacted""",
            cid=campaign_id,
            day=day,
        )
        row = result.one()
        return int(row.sent), int(row.new_leads_contacted)

    async def charge_account(self, account_id: uuid.UUID, day: date, sends: int, new_leads: int) -> None:
        await add_to_daily_counters(
            self._run,
            "account_daily_stats",
            account_id,
            day,
            sent=sends,
            contacted=sends,
            new_leads_contacted=new_leads,
        )

    async def rotate(self, campaign_id: uuid.UUID, step: int, count: int) -> int:
        """Advance the step's rotation by `count` sends; returns the rotation number of the first."""
        result = await self._run(
            """INSERT INTO campaign_step_rotation (organization_id, campaign_id, step, sends)
            VALUES (:org, :cid, :step, :count)
            ON CONFLICT (organization_id, campaign_id, step) DO UPDATE
            SET sends = campaign_step_rotation.sends + EXCLUDED.sends
            RETURNING sends""",
            cid=campaign_id,
            step=step,
            count=count,
        )
        return int(result.scalar_one()) - count

    async def insert_outbox(self, rows: Sequence[Mapping[str, Any]]) -> dict[uuid.UUID, Record]:
        """Claim (lead, step) sends: new rows, or retries of deferred/cancelled ones. A (lead, step)
        already sending, sent, done or failed is NOT returned: that is the exactly-once guarantee."""
        if not rows:
            return {}
        columns = ("id", "lead_id", "step", "variant", "account_id", "message_id", "thread_id", "new_lead")
        params: dict[str, Any] = {c: [r[c] for r in rows] for c in columns}
        first = rows[0]
        result = await self._run(
            """INSERT INTO outbox (organization_id, id, campaign_id, lead_id, step, variant, account_id, state,
                message_id, thread_id, new_lead, owner, lease_until, day, claimed_at)
            SELECT :org, t.id, :cid, t.lead_id, t.step, t.variant, t.account_id, 'sending', t.message_id,
                t.thread_id, t.new_lead, :owner, :lease_until, :day, :now
            FROM unnest(CAST(:id AS uuid[]), CAST(:lead_id AS uuid[]), CAST(:step AS smallint[]),
                CAST(:variant AS smallint[]), CAST(:account_id AS uuid[]), CAST(:message_id AS text[]),
                CAST(:thread_id AS uuid[]), CAST(:new_lead AS boolean[]))
                AS t(id, lead_id, step, variant, account_id, message_id, thread_id, new_lead)
            ON CONFLICT (lead_id, campaign_id, step) DO UPDATE
            SET state = 'sending', variant = EXCLUDED.variant, account_id = EXCLUDED.account_id,
                thread_id = EXCLUDED.thread_id, new_lead = EXCLUDED.new_lead,
                owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, day = EXCLUDED.day,
                claimed_at = EXCLUDED.claimed_at, attempts = outbox.attempts + 1, error = NULL
            WHERE outbox.state IN ('deferred', 'cancelled')
            RETURNING id, lead_id, step, variant, message_id, attempts""",
            cid=first["campaign_id"],
            owner=first["owner"],
            lease_until=first["lease_until"],
            day=first["day"],
            now=first["claimed_at"],
            **params,
        )
        return {row.lead_id: row for row in result}

    async def leads_in_flight(self, ids: Sequence[uuid.UUID]) -> None:
        """Claimed leads leave the due index until their send settles ('infinity')."""
        if ids:
            await self._run(
                """UPDATE leads SET next_send_at = 'infinity' WHERE organization_id = :org AND id = ANY(:ids)""",
                ids=list(ids),
            )

    async def lease_account(self, account_id: uuid.UUID, owner: str, until: datetime | None) -> None:
        await self._run(
            """UPDATE accounts SET send_lease_owner = :owner, send_lease_until = :until
            WHERE organization_id = :org AND id = :id""",
            id=account_id,
            owner=owner if until is not None else None,
            until=until,
        )

    async def renew_turn(
        self, account_id: uuid.UUID, outbox_ids: Sequence[uuid.UUID], owner: str, until: datetime
    ) -> None:
        await self._run(
            """UPDATE accounts SET send_lease_until = :until
            WHERE organization_id = :org AND id = :id AND send_lease_owner = :owner""",
            id=account_id,
            owner=owner,
            until=until,
        )
        if outbox_ids:
            await self._run(
                """UPDATE outbox SET lease_until = :until
                WHERE organization_id = :org AND id = ANY(:ids) AND owner = :owner AND state IN ('sending', 'sent')""",
                ids=list(outbox_ids),
                owner=owner,
                until=until,
            )

    # -- settling ---------------------------------------------------------------------------------

    async def outbox_rows(self, ids: Sequence[uuid.UUID]) -> Sequence[Record]:
        result = await self._run(
            "SELECT * FROM outbox WHERE organization_id = :org AND id = ANY(:ids) ORDER BY id",
            ids=list(ids),
        )
        return result.all()

    async def renew_leases(
        self, ids: Sequence[uuid.UUID], owner: str, now: datetime, until: datetime
    ) -> list[uuid.UUID]:
        """Take over unsettled rows whose lease expired (recovery): returns those this worker now holds."""
        result = await self._run(
            """UPDATE outbox SET owner = :owner, lease_until = :until
            WHERE organization_id = :org AND id = ANY(:ids) AND state IN ('sending', 'sent') AND lease_until < :now
            RETURNING id""",
            ids=list(ids),
            owner=owner,
            now=now,
            until=until,
        )
        return [row[0] for row in result]

    async def set_state(
        self, ids: Sequence[uuid.UUID], state: str, error: str | None = None, *, only_from: str | None = None
    ) -> None:
        if not ids:
            return
        guard = "AND state = :from" if only_from else ""
        await self._run(
            f"""UPDATE outbox SET state = :state, error = :error, lease_until = NULL
            WHERE organization_id = :org AND id = ANY(:ids) {guard}""",
            ids=list(ids),
            state=state,
            error=error,
            **({"from": only_from} if only_from else {}),
        )

    async def complete_sends(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Outbox rows → done with their rendered subject."""
        if not rows:
            return
        await self._run(
            """UPDATE outbox o SET state = 'done', subject = t.subject, sent_at = t.sent_at, lease_until = NULL
            FROM unnest(CAST(:ids AS uuid[]), CAST(:subjects AS text[]), CAST(:sent AS timestamptz[]))
                AS t(id, subject, sent_at)
            WHERE o.organization_id = :org AND o.id = t.id AND o.state IN ('sending', 'sent')""",
            ids=[r["id"] for r in rows],
            subjects=[r["subject"] for r in rows],
            sent=[r["sent_at"] for r in rows],
        )

    async def insert_emails(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Campaign sends as Emails (`ue_type` 1), once per outbox row."""
        await bulk_insert_emails(self._run, 1, rows, "ON CONFLICT (outbox_id) WHERE outbox_id IS NOT NULL DO NOTHING")

    async def advance_leads(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """After a sent step: the next step and when it is due, or completed after the last one."""
        if not rows:
            return
        await self._run(
            """UPDATE leads l SET
                next_step = t.next_step,
                -- a lead unsubscribed, bounced or stopped while its send was in flight stays stopped
                next_send_at = CASE WHEN l.status IN (1, 2) THEN t.next_send_at END,
                status = CASE WHEN t.next_send_at IS NULL AND l.status = 1 THEN 3 ELSE l.status END,
                timestamp_last_contact = t.sent_at,
                timestamp_last_touch = t.sent_at,
                last_step_timestamp_executed = t.sent_at,
                last_step_from = t.sender,
                last_contacted_from = t.sender,
                status_summary = jsonb_build_object('lastStep', jsonb_build_object(
                    'step', t.next_step, 'from', t.sender, 'timestamp_executed', t.sent_at)),
                timestamp_updated = t.sent_at
            FROM unnest(CAST(:ids AS uuid[]), CAST(:next_step AS smallint[]),
                CAST(:next_send_at AS timestamptz[]), CAST(:sent_at AS timestamptz[]), CAST(:sender AS text[]))
                AS t(id, next_step, next_send_at, sent_at, sender)
            WHERE l.organization_id = :org AND l.id = t.id""",
            ids=[r["lead_id"] for r in rows],
            next_step=[r["next_step"] for r in rows],
            next_send_at=[r["next_send_at"] for r in rows],
            sent_at=[r["sent_at"] for r in rows],
            sender=[r["sender"] for r in rows],
        )

    async def release_leads(self, ids: Sequence[uuid.UUID], due_at: datetime) -> None:
        """Claimed leads that were not sent go back to the due index."""
        if ids:
            await self._run(
                """UPDATE leads SET next_send_at = :due
                WHERE organization_id = :org AND id = ANY(:ids) AND next_send_at = 'infinity'""",
                ids=list(ids),
                due=due_at,
            )

    async def uncharge(
        self, campaign_id: uuid.UUID, account_id: uuid.UUID, day: date, utc_day: date, sends: int, new_leads: int
    ) -> None:
        """Give back the daily budget of sends that did not happen."""
        if sends <= 0:
            return
        await self._run(
            """UPDATE campaign_daily_stats SET sent = greatest(sent - :sent, 0),
                new_leads_contacted = greatest(new_leads_contacted - :new, 0)
            WHERE organization_id = :org AND campaign_id = :cid AND day = :day""",
            cid=campaign_id,
            day=day,
            sent=sends,
            new=new_leads,
        )
        await self._run(
            """UPDATE account_daily_stats SET sent = greatest(sent - :sent, 0),
                contacted = greatest(contacted - :sent, 0),
                new_leads_contacted = greatest(new_leads_contacted - :new, 0)
            WHERE organization_id = :org AND account_id = :aid AND day = :day""",
            aid=account_id,
            day=utc_day,
            sent=sends,
            new=new_leads,
        )

    async def count_bounce(self, campaign_id: uuid.UUID, account_id: uuid.UUID, day: date, utc_day: date) -> None:
        await add_to_daily_counters(self._run, "campaign_daily_stats", campaign_id, day, bounced=1)
        await add_to_daily_counters(self._run, "account_daily_stats", account_id, utc_day, bounced=1)

    async def campaign_totals(self, campaign_id: uuid.UUID) -> tuple[int, int]:
        """(sent, bounced) over the campaign's life."""
        result = await self._run(
            """SELECT coalesce(sum(sent), 0), coalesce(sum(bounced), 0) FROM campaign_daily_stats
            WHERE organization_id = :org AND campaign_id = :cid""",
            cid=campaign_id,
        )
        sent, bounced = result.one()
        return int(sent), int(bounced)

    async def set_campaign_status(self, campaign_id: uuid.UUID, status: int, now: datetime, *, only_from: int) -> bool:
        result = await self._run(
            """UPDATE campaigns SET status = :status, not_sending_status = NULL, timestamp_updated = :now
            WHERE organization_id = :org AND id = :cid AND status = :from RETURNING id""",
            cid=campaign_id,
            status=status,
            now=now,
            **{"from": only_from},
        )
        return result.first() is not None

    async def complete_campaign_if_done(self, campaign_id: uuid.UUID, now: datetime) -> bool:
        """Active → Completed when no lead is active or paused with a step left to send."""
        result = await self._run(
            """UPDATE campaigns SET status = 3, not_sending_status = NULL, timestamp_updated = :now
            WHERE organization_id = :org AND id = :cid AND status = 1
              AND NOT EXISTS (SELECT 1 FROM leads WHERE campaign_id = :cid AND status IN (1, 2)
                              AND next_send_at IS NOT NULL)
            RETURNING id""",
            cid=campaign_id,
            now=now,
        )
        return result.first() is not None

    async def finish_account_turn(self, account_id: uuid.UUID, available_at: datetime | None, owner: str) -> None:
        """Release the mailbox and set when it may send next (sending gap and random wait)."""
        await self._run(
            """UPDATE accounts SET send_lease_until = NULL, send_lease_owner = NULL,
                send_available_at = coalesce(:available, send_available_at)
            WHERE organization_id = :org AND id = :id AND (send_lease_owner = :owner OR send_lease_owner IS NULL)""",
            id=account_id,
            available=available_at,
            owner=owner,
        )

    async def touch_campaign(self, campaign_id: uuid.UUID, sent_at: datetime) -> None:
        await self._run(
            """UPDATE campaigns SET timestamp_last_sent = greatest(coalesce(timestamp_last_sent, :at), :at)
            WHERE organization_id = :org AND id = :cid""",
            cid=campaign_id,
            at=sent_at,
        )

    async def set_account_error(
        self, account_id: uuid.UUID, status: int, message: Mapping[str, Any], now: datetime
    ) -> None:
        await self._run(
            """UPDATE accounts SET status = :status, status_message = CAST(:message AS jsonb),
                send_lease_until = NULL, send_lease_owner = NULL, timestamp_updated = :now
            WHERE organization_id = :org AND id = :id""",
            id=account_id,
            status=status,
            message=_json(message),
            now=now,
        )

    async def statuses(self, campaign_id: uuid.UUID, account_id: uuid.UUID) -> tuple[int | None, int | None]:
        result = await self._run(
            """SELECT (SELECT status FROM campaigns WHERE organization_id = :org AND id = :cid),
                      (SELECT status FROM accounts WHERE organization_id = :org AND id = :aid)""",
            cid=campaign_id,
            aid=account_id,
        )
        row = result.one()
        return row[0], row[1]

    async def lead_readiness(self, campaign_id: uuid.UUID, now: datetime) -> LeadReadiness:
        return await lead_readiness(self, campaign_id, now)

    async def track_issue(self, campaign_id: uuid.UUID, code: str | None, now: datetime) -> dict[str, Any] | None:
        """Store the sending-status code on the campaign when it changes; count checks seeing it again."""
        result = await self._run(
            """UPDATE campaigns SET sending_issue = CASE
                WHEN sending_issue IS NOT NULL AND sending_issue->>'code' IS NOT DISTINCT FROM CAST(:code AS text)
                THEN jsonb_set(sending_issue, '{checks}', to_jsonb(coalesce((sending_issue->>'checks')::int, 0) + 1))
                ELSE jsonb_build_object('code', CAST(:code AS text), 'first_seen_at', CAST(:stamp AS text), 'checks', 1)
              END
            WHERE organization_id = :org AND id = :cid RETURNING sending_issue""",
            cid=campaign_id,
            code=code,
            stamp=isoformat(now),
        )
        value = result.scalar()
        return value if code is not None else None

    async def leads(self, ids: Sequence[uuid.UUID]) -> Sequence[Record]:
        result = await self._run(
            f"SELECT {LEAD_COLUMNS} FROM leads l WHERE l.organization_id = :org AND l.id = ANY(:ids)", ids=list(ids)
        )
        return result.all()


@dataclass(frozen=True)
class LeadReadiness:
    due_new: bool
    due_follow_ups: bool
    waiting: int  # leads whose next step waits for its delay (or a retry), counted up to 100,000
    earliest_waiting: datetime | None


_READINESS = """
    SELECT
      EXISTS (SELECT 1 FROM leads WHERE campaign_id = :cid AND status = 1 AND next_send_at <= :now
              AND organization_id = :org AND next_step = 0) AS due_new,
      EXISTS (SELECT 1 FROM leads WHERE campaign_id = :cid AND status = 1 AND next_send_at <= :now
              AND organization_id = :org AND next_step > 0) AS due_follow_ups,
      (SELECT count(*) FROM (SELECT 1 FROM leads WHERE campaign_id = :cid AND status = 1
              AND next_send_at > :now AND next_send_at < 'infinity' AND organization_id = :org
              LIMIT 100000) AS w) AS waiting,
      (SELECT min(next_send_at) FROM leads WHERE campaign_id = :cid AND status = 1
              AND next_send_at > :now AND next_send_at < 'infinity' AND organization_id = :org) AS earliest
"""


async def lead_readiness(repo: SendingRepository, campaign_id: uuid.UUID, now: datetime) -> LeadReadiness:
    row = (await repo._run(_READINESS, cid=campaign_id, now=now)).one()
    return LeadReadiness(bool(row.due_new), bool(row.due_follow_ups), int(row.waiting), row.earliest)


def _json(value: Mapping[str, Any]) -> str:
    import orjson

    return orjson.dumps(value).decode()


__all__ = ["OutboxState", "SchedulerQueries", "SendingRepository"]

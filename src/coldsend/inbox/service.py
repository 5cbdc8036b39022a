"""Ingesting received messages: store each once as an Email (`ue_type` 2) in its thread, classify it,
and apply what it means to the lead and the campaign.

Matching a message to what we sent: first by `In-Reply-To`/`References` against the Message-IDs of
our sent emails (campaign sends and manual replies); failing that, by sender address and thread
subject against our latest emails from this account to that address (some clients drop the headers).
A bounce is matched by the Message-ID of the bounced message it carries, else by its failed recipient.

Effects: a human reply marks the lead replied (counters, timestamps, replied step/variant) and with
`stop_on_reply` ends its sequence (status Completed), with `stop_for_company` for its whole domain in
the campaign; an auto-reply is flagged `is_auto_reply`, makes a lead without interest status Out of
Office (0) when it is an absence notice, and ends the sequence only with `stop_on_auto_reply`; a hard
bounce marks the lead Bounced and counts for bounce protection (a soft one is only stored); anything
else is a plain received message of the Unibox.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from coldsend.campaigns.schedule import campaign_day, primary_timezone
from coldsend.inbox.classify import Classification, Kind, ParsedMessage, classify, parse_message, strip_quoted
from coldsend.inbox.repository import InboxRepository
from coldsend.kit.ids import new_id
from coldsend.kit.repository import Record
from coldsend.sending.engine import apply_bounce_protect

logger = logging.getLogger("coldsend.inbox")

_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|antw|rif|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def thread_key(subject: str) -> str:
    """A subject without its reply/forward prefixes, for the fallback match."""
    return " ".join(_SUBJECT_PREFIX.sub("", subject or "").split()).lower()


@dataclass
class Incoming:
    uid: int
    raw: bytes
    parsed: ParsedMessage
    verdict: Classification
    match: Record | None = None
    lead_id: uuid.UUID | None = None


@dataclass
class IngestReport:
    """What a batch did; `counters` and `protect` are applied once, at the end of the batch."""

    counters: dict[tuple[str, uuid.UUID, Any], Counter[str]] = field(default_factory=dict)
    protect: set[uuid.UUID] = field(default_factory=set)  # campaigns for bounce protection to judge
    stored: int = 0
    duplicates: int = 0
    replies: int = 0
    auto_replies: int = 0
    bounces: int = 0
    other: int = 0
    kinds: Counter[str] = field(default_factory=Counter)


def prepare(uid: int, raw: bytes) -> Incoming:
    """Parse and classify (CPU only; no database)."""
    parsed = parse_message(raw)
    return Incoming(uid, raw, parsed, classify(parsed, raw))


async def ingest(
    conn: AsyncConnection, account: Record, role: str, messages: Sequence[Incoming], now: datetime
) -> IngestReport:
    """Store and apply a batch of fetched messages of one account (one transaction, the caller's)."""
    repo = InboxRepository(conn, account.organization_id)
    report = IngestReport()
    messages = [m for m in messages if m.parsed.message_id or m.raw]
    for message in messages:
        if not message.parsed.message_id:  # a message without Message-ID still gets stored once
            message.parsed = _with_synthetic_id(message)
    await _match(repo, account, messages)
    leads = await repo.leads(sorted({m.lead_id for m in messages if m.lead_id}))
    rows = [_email_row(account, m, leads.get(m.lead_id) if m.lead_id else None, now) for m in messages]
    inserted = await repo.insert_received(rows)
    report.duplicates = len(rows) - len(inserted)
    fresh = [m for m in messages if m.parsed.message_id in inserted]
    report.stored = len(fresh)
    campaigns = await repo.campaigns(sorted({m.match.campaign_id for m in fresh if m.match and m.match.campaign_id}))
    for message in fresh:
        await _apply(repo, account, message, campaigns, now, report)
    # Counter rows are shared by every mailbox replying to one campaign: written once per batch, in one
    # key order (no lock held across the batch's other statements, no deadlock between batches).
    for (table, key_id, day), increments in sorted(report.counters.items(), key=lambda kv: str(kv[0])):
        await repo.count(table, key_id, day, **increments)
    for campaign_id in sorted(report.protect):
        await apply_bounce_protect(conn, account.organization_id, campaign_id, now)
    return report


def _count(report: IngestReport, table: str, key_id: uuid.UUID, day: Any, **increments: int) -> None:
    report.counters.setdefault((table, key_id, day), Counter()).update(increments)


def _with_synthetic_id(message: Incoming) -> ParsedMessage:
    digest = hashlib.sha256(message.raw).hexdigest()[:32]
    return replace(message.parsed, message_id=f"<{digest}@no-message-id.coldsend>")


async def _match(repo: InboxRepository, account: Record, messages: Sequence[Incoming]) -> None:
    """Find, for each message, the email of ours it answers (or bounced)."""
    wanted: set[str] = set()
    for m in messages:
        wanted.update(m.parsed.in_reply_to)
        wanted.update(m.parsed.references)
        if m.verdict.bounce is not None and m.verdict.bounce.original_message_id:
            wanted.add(m.verdict.bounce.original_message_id)
    ours = await repo.sent_by_message_ids(sorted(wanted))
    unmatched: list[Incoming] = []
    for m in messages:
        ids: list[str] = []
        if m.verdict.bounce is not None and m.verdict.bounce.original_message_id:
            ids.append(m.verdict.bounce.original_message_id)
        ids += list(m.parsed.in_reply_to) + list(reversed(m.parsed.references))
        m.match = next((ours[i] for i in ids if i in ours), None)
        if m.match is None:
            unmatched.append(m)

    # fallback: sender (or a bounce's failed recipient) and thread subject
    def address(m: Incoming) -> str | None:
        if m.verdict.kind == Kind.BOUNCE:
            return m.verdict.bounce.recipient.lower() if m.verdict.bounce and m.verdict.bounce.recipient else None
        return m.parsed.from_address

    addresses = sorted({a for m in unmatched if (a := address(m))})
    if addresses:
        candidates = await repo.sent_to_addresses(account.id, addresses)
        for m in unmatched:
            who = address(m)
            key = thread_key(m.parsed.subject)
            for sent in candidates:  # newest first
                if sent.lead != who:
                    continue
                if m.verdict.kind == Kind.BOUNCE or thread_key(sent.subject) == key:
                    m.match = sent
                    break
    for m in messages:
        if m.match is not None and m.match.lead_id is not None:
            m.lead_id = m.match.lead_id


def _email_row(account: Record, m: Incoming, lead: Record | None, now: datetime) -> dict[str, Any]:
    p, match = m.parsed, m.match
    preview_source = strip_quoted(p.text) if m.verdict.kind != Kind.BOUNCE else p.text
    attachments = (
        {"files": [{"filename": a.filename, "size": a.size, "type": a.content_type} for a in p.attachments]}
        if p.attachments
        else None
    )
    return {
        "id": new_id(),
        "timestamp_created": now,
        "timestamp_email": p.date or now,
        "message_id": p.message_id,
        "subject": p.subject,
        "from_address_email": p.from_address,
        "to_address_email_list": ",".join(p.to),
        "cc_address_email_list": ",".join(p.cc) if p.cc else None,
        "reply_to": p.reply_to,
        "body_text": p.text,
        "body_html": p.html,
        "campaign_id": match.campaign_id if match else None,
        "list_id": match.list_id if match else None,
        "lead": (match.lead if match else None) or p.from_address,
        "lead_id": m.lead_id,
        "eaccount": account.email,
        "account_id": account.id,
        "step": match.step if match else None,
        "is_unread": 1,
        "is_auto_reply": 1 if m.verdict.kind == Kind.AUTO_REPLY else 0,
        "i_status": lead.lt_interest_status if lead is not None else None,
        "thread_id": match.thread_id if match and match.thread_id else new_id(),
        "content_preview": " ".join(preview_source.split())[:200] or None,
        "in_reply_to": p.in_reply_to[0] if p.in_reply_to else None,
        "references": list(p.references),
        "attachment_json": attachments,
        "from_address_json": [{"address": p.from_address, "name": p.from_name}] if p.from_address else None,
        "to_address_json": [{"address": a} for a in p.to] or None,
        "cc_address_json": [{"address": a} for a in p.cc] or None,
    }


async def _apply(
    repo: InboxRepository,
    account: Record,
    m: Incoming,
    campaigns: dict[uuid.UUID, Record],
    now: datetime,
    report: IngestReport,
) -> None:
    kind = m.verdict.kind if m.match is not None or m.verdict.kind == Kind.BOUNCE else Kind.OTHER
    if kind == Kind.REPLY and m.match is None:
        kind = Kind.OTHER
    report.kinds[kind.value] += 1
    campaign = campaigns.get(m.match.campaign_id) if m.match and m.match.campaign_id else None
    utc_day = now.astimezone(UTC).date()
    day = campaign_day(now, primary_timezone(campaign.campaign_schedule)) if campaign is not None else utc_day
    at = m.parsed.date if m.parsed.date and m.parsed.date <= now else now
    if kind == Kind.REPLY and m.lead_id is not None:
        report.replies += 1
        step = int(m.match.step) if m.match and m.match.step and str(m.match.step).isdigit() else None
        variant = m.match.variant if m.match else None
        stop = bool(campaign.stop_on_reply) if campaign is not None else False
        lead = await repo.record_reply(m.lead_id, at, step, None if variant is None else variant + 1, stop)
        if lead is None:
            return
        first = lead.email_reply_count == 1
        stopped_company = 0
        if campaign is not None and campaign.stop_for_company and lead.company_domain:
            stopped_company = await repo.stop_company(campaign.id, lead.company_domain, lead.id, at)
        if campaign is not None:
            _count(report, "campaign_daily_stats", campaign.id, day, replies=1, unique_replies=int(first))
        _count(report, "account_daily_stats", account.id, utc_day, replies=1, unique_replies=int(first))
        logger.info(
            "%s: reply from %s (lead %s%s%s)",
            account.email,
            m.parsed.from_address,
            lead.id,
            ", sequence stopped" if stop else "",
            f", {stopped_company} more lead(s) of {lead.company_domain} stopped" if stopped_company else "",
        )
    elif kind == Kind.AUTO_REPLY and m.lead_id is not None:
        report.auto_replies += 1
        stop = bool(campaign.stop_on_auto_reply) if campaign is not None else False
        await repo.record_auto_reply(m.lead_id, at, m.verdict.out_of_office, stop)
        first = await repo.first_auto_reply(m.lead_id)
        _count(
            report,
            "account_daily_stats",
            account.id,
            utc_day,
            replies_automatic=1,
            unique_replies_automatic=int(first),
        )
        logger.info("%s: auto-reply from %s (%s)", account.email, m.parsed.from_address, m.verdict.auto_reply_reason)
    elif kind == Kind.BOUNCE:
        report.bounces += 1
        bounce = m.verdict.bounce
        if bounce is None or not bounce.hard or m.lead_id is None:
            logger.info(
                "%s: %s bounce for %s (%s)",
                account.email,
                "hard" if bounce and bounce.hard else "soft",
                bounce.recipient if bounce else "?",
                "matched" if m.lead_id else "no lead found",
            )
            return
        if await repo.record_bounce(m.lead_id, now):
            if campaign is not None:
                _count(report, "campaign_daily_stats", campaign.id, day, bounced=1)
                if not campaign.disable_bounce_protect:
                    report.protect.add(campaign.id)
            _count(report, "account_daily_stats", account.id, utc_day, bounced=1)
            logger.info("%s: hard bounce of %s (%s)", account.email, bounce.recipient, bounce.status)
    else:
        report.other += 1

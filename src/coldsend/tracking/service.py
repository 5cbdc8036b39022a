"""The rules of tracking: what an open, a click and an unsubscribe change.

- Every event needs the outbox row its token names; when the row is gone (its lead or campaign was
  deleted) nothing is recorded, but the caller still answers (pixel, redirect, page).
- An open or a click inserts an `email_events` row and counts on the lead (`email_open_count` /
  `email_click_count`, `timestamp_last_open` / `timestamp_last_click`, `timestamp_last_touch`, and the
  step and variant of the message), on the campaign's day (`opened`/`clicks`, plus `unique_opened` /
  `unique_clicks` for the first such event of the message) and on the sending account's day (same
  columns).
- Steps and variants are 0-based on the outbox and in `email_events`, and **1-based on the lead**
  (`email_opened_step`, `email_opened_variant`, `email_clicked_step`, `email_clicked_variant`): the
  first step's first variant is stored as step 1, variant 1, the way the reference numbers them.
- The campaign's day is the event's date in the campaign's timezone (`campaign_schedule.schedules[0]
  .timezone`, UTC when absent or unknown); the account's day is the UTC date.
- An unsubscribe sets the lead's status to -2 (Unsubscribed) and `next_send_at` to NULL, so nothing
  more is sent to it; it counts `unsubscribed` on the campaign's day and, when the workspace's
  `add_unsub_to_block` is on, blocks the lead's address. It is idempotent: a lead that already is
  unsubscribed gets no second event and no second count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from coldsend.block_list.service import add_to_block_list
from coldsend.campaigns.schedule import campaign_day
from coldsend.kit.clock import utcnow
from coldsend.kit.db import Database
from coldsend.kit.errors import BadRequest
from coldsend.kit.repository import Executor
from coldsend.tracking.repository import TrackingRepository, find_message
from coldsend.tracking.tokens import CLICK, OPEN, UNSUBSCRIBE, TrackingToken

logger = logging.getLogger("coldsend.tracking")

MAX_USER_AGENT = 512
MAX_URL = 4096


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who fetched a tracking URL, as stored on the event."""

    user_agent: str | None = None
    ip: str | None = None


class TrackingService:
    def __init__(self, session: Executor) -> None:
        self.session = session

    async def record(self, token: TrackingToken, visitor: Visitor, *, now: datetime | None = None) -> bool:
        """Record the event a verified token stands for; False when nothing was recorded (the message is
        gone, or the lead was already unsubscribed)."""
        now = now or utcnow()
        message = await find_message(self.session, token.outbox_id)
        if message is None:
            return False
        repo = TrackingRepository(self.session, message.organization_id)
        step, variant = message.step + 1, message.variant + 1  # 1-based on the lead
        email: str | None = None
        if token.kind == OPEN:
            if not await repo.lead_opened(message.lead_id, step=step, variant=variant, now=now):
                return False
        elif token.kind == CLICK:
            if not await repo.lead_clicked(message.lead_id, step=step, variant=variant, now=now):
                return False
        elif token.kind == UNSUBSCRIBE:
            lead = await repo.unsubscribe_lead(message.lead_id, now=now)
            if lead is None:  # already unsubscribed (or gone): one event, one count
                return False
            email = lead.email
        else:
            return False
        await repo.record_event(
            message,
            token.kind,
            now=now,
            campaign_day=campaign_day(now, message.timezone),
            account_day=now.astimezone(UTC).date(),
            url=token.url[:MAX_URL] if token.url else None,
            user_agent=visitor.user_agent[:MAX_USER_AGENT] if visitor.user_agent else None,
            ip=visitor.ip,
        )
        if token.kind == UNSUBSCRIBE and message.add_unsub_to_block and email:
            try:
                await add_to_block_list(self.session, message.organization_id, email)
            except BadRequest:
                logger.warning("unsubscribed lead %s has no blockable address %r", message.lead_id, email)
        return True


async def record_event(db: Database, token: TrackingToken, visitor: Visitor) -> bool:
    """Record one event in its own transaction (the public endpoints: the answer never waits on a
    request-scoped unit of work, and a failure surfaces here, before anything is sent)."""
    async with db.session() as session:
        try:
            recorded = await TrackingService(session).record(token, visitor)
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
        return recorded

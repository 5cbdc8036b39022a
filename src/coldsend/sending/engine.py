"""The sending engine: active campaigns send their sequences over each account's SMTP, exactly once.

How a send happens (any number of worker processes share one PostgreSQL):

1. **Scheduler pass** (`SendingEngine.run_pass`, every second): active campaigns whose schedule is
   open now and that have a due lead (`leads.next_send_at <= now`, one index probe per campaign);
   their sending accounts that are active, rested (`send_available_at`) and not leased by a worker.
2. **Claim** (one short transaction per account turn): the account row is locked `FOR UPDATE SKIP
   LOCKED` (a second worker skips it), its daily count checked; the campaign's counter row of the
   day is locked (so `daily_limit` and `daily_max_leads` hold across workers); due leads are locked
   `SKIP LOCKED`; stop rules drop blocked and replied leads; an `outbox` row per send is inserted in
   state `sending` -- unique on (lead, campaign, step), so a step can never be claimed twice; the
   leads leave the due index ('infinity'); the day's counters are charged and the account leased.
3. **SMTP** outside any transaction: the message is rendered (templates compiled once per campaign
   version, seeded by the outbox id), built (`sending.mime`) with a Message-ID made from the outbox id
   on the sender's domain, and sent over one connection per turn. Each accepted message is marked
   `sent` at once (one autocommit UPDATE).
4. **Settle** (one transaction): `done` rows, Email records (`ue_type` 1), lead progress (next step
   and when it is due, or Completed after the last), bounces, deferrals, the account's next free
   time (its sending gap, the campaign's `email_gap`, plus a random wait up to `random_wait_max`).

**Recovery rule** (a worker killed at any point): an outbox row whose lease expired is taken over by
any worker. A `sent` row is settled (re-rendered identically: same seed and clock). A `sending` row
may or may not have reached the SMTP server: when the account has IMAP, its Sent folder is searched
for the row's Message-ID (providers such as Gmail and Microsoft 365 file every submitted message
there) and a match is settled as sent; otherwise the message is sent again with the SAME Message-ID,
which receiving systems that de-duplicate by Message-ID drop. The only window where that resend can
reach a recipient twice is between the SMTP server's "250" and the `sent` mark, a few milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import ssl
import time as monotonic_time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncEngine

from coldsend.accounts.connectivity import CheckFailed, Failure, MailServer, _ehlo_name, mail_servers, open_smtp
from coldsend.accounts.schemas import AccountStatus
from coldsend.block_list.repository import BlockListRepository
from coldsend.campaigns.schedule import Schedule, campaign_day, is_open, parse_schedule, primary_timezone
from coldsend.campaigns.schemas import CampaignStatus
from coldsend.config import Settings
from coldsend.kit.clock import Clock, SystemClock
from coldsend.kit.crypto import SecretBox, secret_box
from coldsend.kit.ids import new_id
from coldsend.kit.repository import Executor, Record
from coldsend.leads.schemas import LeadStatus
from coldsend.sending.mime import Mailbox, OutgoingMessage, build_message, envelope_recipients, make_message_id
from coldsend.sending.mime import thread_subject as reply_subject
from coldsend.sending.models import OutboxState
from coldsend.sending.renderer import Template, build_context, compile_template, html_to_text
from coldsend.sending.repository import SchedulerQueries, SendingRepository, mark_sent
from coldsend.sending.sent_folder import find_sent
from coldsend.tracking.links import instrument_html, tracking_base_url, unsubscribe_url
from coldsend.tracking.tokens import tracking_key

logger = logging.getLogger("coldsend.sending")

DELAY_UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
RETRY_DELAYS = (300, 900, 3600, 3 * 3600, 6 * 3600)  # seconds before retrying a 4xx, by attempt
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1  # a send refused with 4xx this many times is a (soft) bounce
BOUNCE_PROTECT_MIN_SENT = 20  # bounce protection judges a campaign once it sent this many
BOUNCE_PROTECT_RATE = 0.10  # ... and pauses it (status -2) above this share of bounces
STATUS_CHECK_SECONDS = 1.0  # how often a running turn re-reads its campaign's and account's status


SentLookup = Callable[[MailServer, Sequence[str]], Awaitable[set[str]]]


# -- compiled campaigns --------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledVariant:
    index: int
    subject: Template
    body: Template
    body_is_html: bool
    text_body: Template  # the text part: for an HTML body, the body's text converted once, at compile time


@dataclass(frozen=True)
class CompiledStep:
    delay_seconds: int
    variants: tuple[CompiledVariant, ...]  # the enabled ones (all of them when every one is disabled)


@dataclass(frozen=True)
class CompiledCampaign:
    schedule: Schedule
    timezone: str
    steps: tuple[CompiledStep, ...]


def _compile_variant(index: int, subject: str, body: str) -> CompiledVariant:
    is_html = "<" in body
    body_template = compile_template(body)
    # The text part of an HTML body is the template's own text, rendered per message like the HTML:
    # converting each rendered HTML message instead cost a third of the engine's time.
    text_template = compile_template(html_to_text(body)) if is_html else body_template
    return CompiledVariant(index, compile_template(subject), body_template, is_html, text_template)


def compile_campaign(campaign: Any) -> CompiledCampaign:
    """Parse the schedule and compile every variant's templates once per campaign version."""
    schedule = parse_schedule(campaign.campaign_schedule or {})
    timezone = primary_timezone(campaign.campaign_schedule) or "UTC"
    sequences = campaign.sequences or []
    raw_steps = (sequences[0] or {}).get("steps") or [] if sequences else []
    steps = []
    for raw in raw_steps:
        delay = float(raw.get("delay") or 0) * DELAY_UNITS.get(raw.get("delay_unit") or "days", 86400)
        all_variants = [
            _compile_variant(i, v.get("subject") or "", v.get("body") or "")
            for i, v in enumerate(raw.get("variants") or [])
        ]
        enabled = [cv for cv, v in zip(all_variants, raw.get("variants") or [], strict=True) if not v.get("v_disabled")]
        steps.append(CompiledStep(int(delay), tuple(enabled or all_variants)))
    return CompiledCampaign(schedule, timezone, tuple(steps))


# -- a turn: one account's claimed batch ---------------------------------------------------------


@dataclass
class Claimed:
    outbox_id: uuid.UUID
    lead: Record
    step: int
    variant: int
    message_id: str
    thread_id: uuid.UUID
    attempts: int
    new_lead: bool
    claimed_at: datetime
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    previous_subject: str | None = None


@dataclass
class Outcome:
    item: Claimed
    kind: str  # sent | bounced | deferred | cancelled
    subject: str = ""
    text: str = ""
    html: str | None = None
    sent_at: datetime | None = None
    error: str | None = None
    spec: OutgoingMessage | None = None
    data: bytes = b""


@dataclass
class Turn:
    organization_id: uuid.UUID
    account: Record
    campaign: Record
    compiled: CompiledCampaign
    day: date
    utc_day: date
    gap_seconds: float
    items: list[Claimed] = field(default_factory=list)
    renewed: float = field(default_factory=monotonic_time.monotonic)  # when its leases were last renewed


@dataclass
class PassReport:
    campaigns_active: int = 0
    campaigns_open: int = 0
    campaigns_due: int = 0
    accounts_ready: int = 0
    sent: int = 0
    recovered: int = 0
    seconds: float = 0.0


class SentMarker:
    """Marks accepted messages `sent` right after their "250", in groups: every account turn waits
    for its own mark before the next message, and the marks of all turns waiting at that moment go
    in one statement (a group commit), so crash safety costs one short round trip per group."""

    def __init__(self, db: AsyncEngine) -> None:
        self.db = db
        self.pending: list[tuple[uuid.UUID, uuid.UUID, datetime, asyncio.Future[None]]] = []
        self.flusher: asyncio.Task[None] | None = None

    async def mark(self, organization_id: uuid.UUID, outbox_id: uuid.UUID, sent_at: datetime) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((organization_id, outbox_id, sent_at, done))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())
        await asyncio.shield(done)

    async def _flush(self) -> None:
        """Runs while marks are waiting, then ends."""
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                async with self.db.begin() as conn:
                    await mark_sent(conn, [(org, outbox_id, at) for org, outbox_id, at, _ in batch])
            except Exception as exc:
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for *_, done in batch:
                if not done.done():
                    done.set_result(None)


class SendingEngine:
    """Finds due sends and sends them. `run_pass()` does one complete pass (tests drive it with an
    injected clock); `run()` repeats passes until cancelled, running account turns concurrently."""

    def __init__(
        self,
        db: AsyncEngine,
        settings: Settings,
        *,
        clock: Clock | None = None,
        owner: str | None = None,
        batch_size: int = 200,
        lease_seconds: float = 120.0,
        concurrency: int = 200,
        tls_context: ssl.SSLContext | None = None,
        sent_lookup: SentLookup | None = None,
        smtp_timeout: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.tls_context = tls_context
        # one message's worst case (a few SMTP commands) stays well inside a lease
        self.smtp_timeout = min(smtp_timeout, lease_seconds / 8)
        self.rng = rng or random.Random()
        self._limit = asyncio.Semaphore(concurrency)
        self._compiled: dict[tuple[uuid.UUID, datetime], CompiledCampaign] = {}
        self._schedules: dict[tuple[uuid.UUID, datetime], Schedule] = {}
        self._busy: set[uuid.UUID] = set()
        self._running: set[asyncio.Task[int]] = set()
        self._box: SecretBox | None = None
        self._sent_lookup: SentLookup = sent_lookup or find_sent
        self._tracking_key: bytes | None = None
        self.sent_total = 0
        self.marker = SentMarker(db)

    # -- helpers ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = secret_box(self.settings)
        return self._box

    @property
    def tracking_key(self) -> bytes:
        if self._tracking_key is None:
            self._tracking_key = tracking_key(self.settings)
        return self._tracking_key

    def compiled(self, campaign: Any) -> CompiledCampaign:
        key = (campaign.id, campaign.timestamp_updated)
        found = self._compiled.get(key)
        if found is None:
            if len(self._compiled) > 10_000:
                self._compiled.clear()
            found = self._compiled[key] = compile_campaign(campaign)
        return found

    # -- the pass ---------------------------------------------------------------------------------

    async def run_pass(self, *, wait: bool = True) -> PassReport:
        """One scheduler pass: recover abandoned sends, find ready accounts, give each a turn.
        With `wait`, returns when every turn finished (tests); otherwise turns run on (production)."""
        started = monotonic_time.perf_counter()
        report = PassReport()
        now = self.now()
        report.recovered = await self.recover(now)
        found = await self.find_ready(now, report)
        tasks = []
        for organization_id, account_id, campaign_ids in found:
            if account_id in self._busy:
                continue
            self._busy.add(account_id)
            task = asyncio.create_task(self._account_turns(organization_id, account_id, campaign_ids))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            tasks.append(task)
        if wait and tasks:
            report.sent = sum(await asyncio.gather(*tasks))
        report.seconds = monotonic_time.perf_counter() - started
        return report

    async def find_ready(
        self, now: datetime, report: PassReport | None = None
    ) -> list[tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]]:
        """(workspace, account, campaigns) triples with something to send now."""
        report = report or PassReport()
        async with self.db.connect() as conn:
            queries = SchedulerQueries(conn)
            campaigns = await queries.active_campaigns()
            report.campaigns_active = len(campaigns)
            open_ids = [c.id for c in campaigns if is_open(self._schedule(c), now)]
            report.campaigns_open = len(open_ids)
            due = await queries.campaigns_with_due_leads(open_ids, now)
            report.campaigns_due = len(due)
            senders = await queries.ready_senders(due, now)
        report.accounts_ready = len(senders)
        return [(s.organization_id, s.id, list(s.campaign_ids)) for s in senders]

    def _schedule(self, campaign: Any) -> Schedule:
        """The campaign's parsed schedule, parsed once per campaign version (every pass checks all)."""
        key = (campaign.id, campaign.timestamp_updated)
        found = self._schedules.get(key)
        if found is None:
            if len(self._schedules) > 50_000:
                self._schedules.clear()
            found = self._schedules[key] = parse_schedule(campaign.campaign_schedule or {})
        return found

    async def run(self, interval: float = 1.0, *, grace: float = 10.0) -> None:
        """Passes every `interval` seconds until cancelled; turns run concurrently between passes.
        On stop, turns in progress get `grace` seconds to finish their batch (what is cut short
        is recovered by the lease rule), and a line a minute says what was sent."""
        logger.info("sending engine %s started (a pass every %.1fs)", self.owner, interval)
        reported_at, reported_sent = monotonic_time.monotonic(), 0
        try:
            while True:
                try:
                    report = await self.run_pass(wait=False)
                    if report.accounts_ready or report.recovered:
                        logger.debug(
                            "pass: %d active campaigns, %d open, %d with due leads, %d accounts ready (%.1f ms)",
                            report.campaigns_active,
                            report.campaigns_open,
                            report.campaigns_due,
                            report.accounts_ready,
                            report.seconds * 1000,
                        )
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("sending pass failed; retrying")
                if monotonic_time.monotonic() - reported_at >= 60:
                    if self.sent_total > reported_sent:
                        logger.info(
                            "sent %d message(s) in the last minute (%d since start)",
                            self.sent_total - reported_sent,
                            self.sent_total,
                        )
                    reported_at, reported_sent = monotonic_time.monotonic(), self.sent_total
                await asyncio.sleep(interval)
        finally:
            running = list(self._running)
            if running:
                logger.info("sending engine stopping: letting %d turn(s) finish", len(running))
                _done, pending = await asyncio.wait(running, timeout=grace)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            logger.info("sending engine %s stopped (%d messages sent)", self.owner, self.sent_total)

    async def drain(self) -> None:
        """Wait for the turns started by passes with `wait=False`."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def _account_turns(
        self, organization_id: uuid.UUID, account_id: uuid.UUID, campaign_ids: list[uuid.UUID]
    ) -> int:
        """Turns of one account while it keeps filling whole batches without a gap (throughput)."""
        sent = 0
        try:
            async with self._limit:
                while True:
                    turn = await self.claim(organization_id, account_id, campaign_ids)
                    if turn is None:
                        break
                    sent += await self.send_turn(turn)
                    if turn.gap_seconds > 0 or len(turn.items) < self.batch_size:
                        break
        except Exception:
            logger.exception("account %s: sending turn failed", account_id)
        finally:
            self._busy.discard(account_id)
        return sent

    # -- claim ------------------------------------------------------------------------------------

    async def claim(
        self, organization_id: uuid.UUID, account_id: uuid.UUID, campaign_ids: Sequence[uuid.UUID]
    ) -> Turn | None:
        """One transaction: lock the account, pick due leads of one of its campaigns within every
        limit, apply the stop rules, insert the outbox rows, charge the counters, lease the account."""
        now = self.now()
        async with self.db.begin() as conn:
            repo = SendingRepository(conn, organization_id)
            account = await repo.lock_ready_account(account_id, now)
            if account is None:
                return None
            utc_day = now.astimezone(UTC).date()
            account_budget = self.batch_size
            if account.daily_limit is not None:
                account_budget = min(
                    account_budget, account.daily_limit - await repo.account_sent_on(account.id, utc_day)
                )
            if account_budget <= 0:
                return None
            campaigns = list(await repo.campaigns(campaign_ids))
            self.rng.shuffle(campaigns)
            for campaign in campaigns:
                turn = await self._claim_in_campaign(repo, account, campaign, now, utc_day, account_budget)
                if turn is not None:
                    return turn
        return None

    async def _claim_in_campaign(
        self,
        repo: SendingRepository,
        account: Record,
        campaign: Record,
        now: datetime,
        utc_day: date,
        account_budget: int,
    ) -> Turn | None:
        compiled = self.compiled(campaign)
        if not compiled.steps or not is_open(compiled.schedule, now):
            return None
        gap = max(account.sending_gap or 0, campaign.email_gap or 0) * 60.0
        want = 1 if gap > 0 else account_budget
        day = campaign_day(now, compiled.timezone)
        sent_today, new_today = await repo.lock_campaign_day(campaign.id, day)
        if campaign.daily_limit is not None:
            want = min(want, campaign.daily_limit - sent_today)
        if want <= 0:
            return None
        new_budget = want if campaign.daily_max_leads is None else campaign.daily_max_leads - new_today
        leads = await self._pick_leads(repo, campaign, now, want, new_budget)
        if not leads:
            return None
        leads = await self._apply_stop_rules(repo, campaign, leads, now)
        if not leads:
            return None

        turn = Turn(repo.organization_id, account, campaign, compiled, day, utc_day, gap)
        history = await self._history(repo, campaign.id, [lead for lead in leads if lead.next_step > 0])
        by_step: dict[int, list[Record]] = defaultdict(list)
        for lead in leads:
            by_step[min(lead.next_step, len(compiled.steps) - 1)].append(lead)
        rows: list[dict[str, Any]] = []
        plans: dict[uuid.UUID, Claimed] = {}
        domain = account.email.rpartition("@")[2]
        for step, step_leads in sorted(by_step.items()):
            variants = compiled.steps[step].variants
            start = await repo.rotate(campaign.id, step, len(step_leads))
            for offset, lead in enumerate(step_leads):
                variant = variants[(start + offset) % len(variants)].index
                outbox_id = new_id()
                previous = history.get(lead.id, [])
                plan = Claimed(
                    outbox_id=outbox_id,
                    lead=lead,
                    step=step,
                    variant=variant,
                    message_id=make_message_id(outbox_id.hex, domain),
                    thread_id=new_id(),
                    attempts=1,
                    new_lead=lead.next_step == 0,
                    claimed_at=now,
                )
                _thread(plan, previous, compiled, self._subject_is_empty(compiled, step, variant))
                plans[lead.id] = plan
                rows.append(
                    {
                        "id": outbox_id,
                        "campaign_id": campaign.id,
                        "lead_id": lead.id,
                        "step": step,
                        "variant": variant,
                        "account_id": account.id,
                        "message_id": plan.message_id,
                        "thread_id": plan.thread_id,
                        "new_lead": plan.new_lead,
                        "owner": self.owner,
                        "lease_until": now + self.lease,
                        "day": day,
                        "claimed_at": now,
                    }
                )
        claimed = await repo.insert_outbox(rows)
        for lead_id, plan in plans.items():
            row = claimed.get(lead_id)
            if row is None:
                logger.warning("lead %s step %d already has a settled send; not sending it again", lead_id, plan.step)
                continue
            plan.outbox_id, plan.message_id, plan.attempts = row.id, row.message_id, row.attempts
            turn.items.append(plan)
        await repo.leads_in_flight([lead.id for lead in leads])
        if not turn.items:
            return None
        new_count = sum(1 for item in turn.items if item.new_lead)
        await repo.reserve_campaign(campaign.id, day, len(turn.items), new_count)
        await repo.charge_account(account.id, utc_day, len(turn.items), new_count)
        await repo.lease_account(account.id, self.owner, now + self.lease)
        return turn

    @staticmethod
    def _subject_is_empty(compiled: CompiledCampaign, step: int, variant: int) -> bool:
        for v in compiled.steps[step].variants:
            if v.index == variant:
                return v.subject.is_static and not v.subject.render({}).strip()
        return False

    async def _pick_leads(
        self, repo: SendingRepository, campaign: Record, now: datetime, want: int, new_budget: int
    ) -> list[Record]:
        """Due leads in priority order: follow-ups and new leads by due time, or new leads first with
        `prioritize_new_leads`; never more new leads than `daily_max_leads` leaves for today."""
        if new_budget <= 0:
            return list(await repo.due_leads(campaign.id, now, want, new=False))
        if campaign.prioritize_new_leads:
            leads = list(await repo.due_leads(campaign.id, now, min(want, new_budget), new=True))
            if len(leads) < want:
                leads += await repo.due_leads(campaign.id, now, want - len(leads), new=False)
            return leads
        leads = list(await repo.due_leads(campaign.id, now, want))
        fresh = [lead for lead in leads if lead.next_step == 0]
        if len(fresh) > new_budget:
            dropped = {lead.id for lead in fresh[new_budget:]}
            leads = [lead for lead in leads if lead.id not in dropped]
        return leads

    async def _apply_stop_rules(
        self, repo: SendingRepository, campaign: Record, leads: list[Record], now: datetime
    ) -> list[Record]:
        """Blocked leads are skipped (status -3); with `stop_on_reply`, replied leads -- and with
        `stop_for_company`, leads of a domain where someone replied -- are completed (status 3)."""
        blocked = await BlockListRepository(repo.conn, repo.organization_id).blocked_among(
            [lead.email for lead in leads if lead.email]
        )
        skipped = [lead.id for lead in leads if lead.email and lead.email.lower() in blocked]
        replied: list[uuid.UUID] = []
        if campaign.stop_on_reply:
            replied = [lead.id for lead in leads if lead.timestamp_last_reply is not None]
        if campaign.stop_for_company:
            domains = sorted({lead.company_domain for lead in leads if lead.company_domain})
            stopped_domains = await repo.replied_domains(campaign.id, domains)
            replied += [lead.id for lead in leads if lead.company_domain in stopped_domains and lead.id not in replied]
        await repo.stop_leads(skipped, int(LeadStatus.SKIPPED), now)
        await repo.stop_leads(replied, int(LeadStatus.COMPLETED), now)
        dropped = set(skipped) | set(replied)
        if skipped or replied:
            logger.info(
                "campaign %s: %d blocked lead(s) skipped, %d stopped after a reply",
                campaign.id,
                len(skipped),
                len(replied),
            )
        return [lead for lead in leads if lead.id not in dropped]

    async def _history(
        self, repo: SendingRepository, campaign_id: uuid.UUID, leads: Sequence[Record]
    ) -> dict[uuid.UUID, list[Record]]:
        history: dict[uuid.UUID, list[Record]] = defaultdict(list)
        for row in await repo.thread_history(campaign_id, [lead.id for lead in leads]):
            history[row.lead_id].append(row)
        return history

    # -- send -------------------------------------------------------------------------------------

    async def send_turn(self, turn: Turn) -> int:
        """Send the turn's messages over one SMTP connection, then settle them."""
        outcomes = await self._deliver(turn)
        await self.settle(turn, outcomes)
        sent = sum(1 for o in outcomes if o.kind == "sent")
        self.sent_total += sent
        return sent

    async def _deliver(self, turn: Turn) -> list[Outcome]:
        account = turn.account
        outcomes: list[Outcome] = []
        smtp, _imap = mail_servers(account, self.box)
        if isinstance(smtp, Failure):
            await self._account_failed(turn, smtp, AccountStatus.CONNECTION_ERROR)
            return [Outcome(item, "cancelled", error=smtp.message) for item in turn.items]
        try:
            client, _tls = await open_smtp(
                smtp, step_timeout=self.smtp_timeout, tls_context=self.tls_context, local_hostname=_ehlo_name(account)
            )
        except CheckFailed as failed:
            await self._account_failed(turn, failed.failure, AccountStatus.CONNECTION_ERROR)
            return [Outcome(item, "cancelled", error=failed.failure.message) for item in turn.items]
        checked = monotonic_time.monotonic()
        try:
            for index, item in enumerate(turn.items):
                if monotonic_time.monotonic() - checked > STATUS_CHECK_SECONDS:
                    checked = monotonic_time.monotonic()
                    if not await self._still_sending(turn):
                        outcomes += [Outcome(rest, "cancelled", error="paused") for rest in turn.items[index:]]
                        break
                outcome = self.compose(turn, item)
                assert outcome.spec is not None
                result = await self._smtp_send(client, outcome.spec, outcome.data, item)
                outcome.kind, outcome.error = result
                if outcome.kind == "sent":
                    outcome.sent_at = self.now()
                    await self.marker.mark(turn.organization_id, item.outbox_id, outcome.sent_at)
                outcomes.append(outcome)
                if outcome.kind == "account-error":
                    outcome.kind = "cancelled"
                    outcomes += [Outcome(rest, "cancelled", error=outcome.error) for rest in turn.items[index + 1 :]]
                    failure = Failure("ESENDING", "MAIL", outcome.error or "the SMTP server refused the sender")
                    await self._account_failed(turn, failure, AccountStatus.SENDING_ERROR)
                    break
                if outcome.kind == "disconnected":
                    outcome.kind = "cancelled"
                    outcomes += [Outcome(rest, "cancelled", error=outcome.error) for rest in turn.items[index + 1 :]]
                    break
        finally:
            client.close()
        return outcomes

    async def _smtp_send(
        self, client: aiosmtplib.SMTP, spec: OutgoingMessage, data: bytes, item: Claimed
    ) -> tuple[str, str | None]:
        """(outcome kind, error text) of one SMTP transaction, classified:
        the lead's address refused 5xx -> bounced; 4xx -> deferred (retried later);
        the sender refused 5xx -> account-error; connection lost -> disconnected."""
        lead_address = spec.to_address.lower()
        try:
            errors = await smtp_transaction(client, spec.from_address, envelope_recipients(spec), data)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = next((r for r in exc.recipients if r.recipient.lower() == lead_address), exc.recipients[0])
            return _refusal(refusal.code, refusal.message)
        except aiosmtplib.SMTPSenderRefused as exc:
            if 400 <= exc.code < 500:
                return "deferred", f"{exc.code} {exc.message}"
            return "account-error", f"MAIL FROM refused: {exc.code} {exc.message}"
        except aiosmtplib.SMTPDataError as exc:
            return _refusal(exc.code, exc.message)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, ConnectionError, OSError) as exc:
            return "disconnected", f"connection lost: {exc}"
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 421:
                return "disconnected", f"{exc.code} {exc.message}"
            return _refusal(exc.code, exc.message)
        refused = {k.lower(): v for k, v in (errors or {}).items()}
        if lead_address in refused:
            response = refused[lead_address]
            return _refusal(response.code, response.message)
        return "sent", None

    async def _still_sending(self, turn: Turn) -> bool:
        """Whether the turn may go on (campaign and account still active). Once half the lease has
        gone by, it also renews the leases of the mailbox and of the turn's sends (made or not, until
        settled), so a long turn is never taken for abandoned; renewing more often only rewrote the
        outbox rows (and their indexes) several times per message."""
        renew = monotonic_time.monotonic() - turn.renewed >= self.lease.total_seconds() / 2
        async with self.db.begin() as conn:
            repo = SendingRepository(conn, turn.organization_id)
            campaign_status, account_status = await repo.statuses(turn.campaign.id, turn.account.id)
            if renew:
                await repo.renew_turn(
                    turn.account.id, [item.outbox_id for item in turn.items], self.owner, self.now() + self.lease
                )
                turn.renewed = monotonic_time.monotonic()
        return campaign_status == CampaignStatus.ACTIVE and account_status == AccountStatus.ACTIVE

    def compose(self, turn: Turn, item: Claimed) -> Outcome:
        """Render and build one message (deterministic for an outbox row: recovery rebuilds it)."""
        campaign, account, lead = turn.campaign, turn.account, item.lead
        step = turn.compiled.steps[item.step]
        variant = next((v for v in step.variants if v.index == item.variant), step.variants[0])
        tracking_base = self._tracking_base(account)
        unsubscribe = unsubscribe_url(tracking_base, self.tracking_key, item.outbox_id)
        context = build_context(
            dict(lead._mapping),
            dict(account._mapping),
            now=item.claimed_at,
            timezone=turn.compiled.timezone,
            unsubscribe_url=unsubscribe,
        )
        # Seeded by the outbox row: a recovery renders the same message. The HTML and text parts use
        # the same seed, so their spintax choices agree.
        seed = item.outbox_id.int
        subject = " ".join(variant.subject.render(context, random.Random(seed)).split())
        if not subject and item.previous_subject is not None:
            subject = reply_subject(item.previous_subject)
        text = variant.text_body.render(context, random.Random(seed + 1))
        if variant.body_is_html:
            html_body = variant.body.render(context, random.Random(seed + 1), html=True)
        else:
            html_body = "<div>" + escape(text).replace("\n", "<br>\n") + "</div>"
        text_only = bool(campaign.text_only) or (bool(campaign.first_email_text_only) and item.step == 0)
        html: str | None = None
        if not text_only:
            html = html_body
            if campaign.open_tracking or campaign.link_tracking:
                html = instrument_html(
                    html_body,
                    base_url=tracking_base,
                    key=self.tracking_key,
                    outbox_id=item.outbox_id,
                    open_tracking=bool(campaign.open_tracking),
                    link_tracking=bool(campaign.link_tracking),
                )
        sender_name = f"{account.first_name or ''} {account.last_name or ''}".strip()
        lead_name = f"{lead.first_name or ''} {lead.last_name or ''}".strip()
        spec = OutgoingMessage(
            from_address=account.email,
            from_name=sender_name,
            to_address=lead.email,
            to_name=lead_name,
            subject=subject,
            text=text,
            html=html,
            text_only=text_only,
            date=self.now(),
            message_id=item.message_id,
            cc=tuple(campaign.cc_list or ()),
            bcc=tuple(campaign.bcc_list or ()),
            reply_to=Mailbox(account.reply_to) if account.reply_to else None,
            in_reply_to=item.in_reply_to,
            references=item.references,
            list_unsubscribe=unsubscribe if campaign.insert_unsubscribe_header else None,
            list_unsubscribe_one_click=bool(campaign.insert_unsubscribe_header),
        )
        return Outcome(item, "pending", subject=subject, text=text, html=html, spec=spec, data=build_message(spec))

    def _tracking_base(self, account: Record) -> str:
        return tracking_base_url(self.settings.public_url, account.tracking_domain_name)

    async def _account_failed(self, turn: Turn, failure: Failure, status: AccountStatus) -> None:
        logger.warning("account %s stops sending: %s", turn.account.email, failure.message)
        async with self.db.begin() as conn:
            await SendingRepository(conn, turn.organization_id).set_account_error(
                turn.account.id, int(status), failure.status_message(), self.now()
            )

    # -- settle -----------------------------------------------------------------------------------

    async def settle(self, turn: Turn, outcomes: Sequence[Outcome]) -> None:
        """Record the turn's outcomes in one transaction (see the module docstring)."""
        now = self.now()
        for o in outcomes:
            if o.kind == "deferred" and o.item.attempts >= MAX_ATTEMPTS:
                o.kind, o.error = "bounced", f"gave up after {o.item.attempts} temporary refusals: {o.error}"
        sent = [o for o in outcomes if o.kind == "sent"]
        bounced = [o for o in outcomes if o.kind == "bounced"]
        deferred = [o for o in outcomes if o.kind == "deferred"]
        cancelled = [o for o in outcomes if o.kind == "cancelled"]
        campaign, account, steps = turn.campaign, turn.account, turn.compiled.steps
        async with self.db.begin() as conn:
            repo = SendingRepository(conn, turn.organization_id)
            if sent:
                await repo.complete_sends(
                    [{"id": o.item.outbox_id, "subject": o.subject, "sent_at": o.sent_at} for o in sent]
                )
                await repo.insert_emails([self._email_row(turn, o) for o in sent])
                advances = []
                for o in sent:
                    nxt = o.item.step + 1
                    assert o.sent_at is not None
                    due = o.sent_at + timedelta(seconds=steps[o.item.step].delay_seconds) if nxt < len(steps) else None
                    advances.append(
                        {
                            "lead_id": o.item.lead.id,
                            "next_step": nxt,
                            "next_send_at": due,
                            "sent_at": o.sent_at,
                            "sender": account.email,
                        }
                    )
                await repo.advance_leads(advances)
                await repo.touch_campaign(campaign.id, max(o.sent_at for o in sent if o.sent_at))
            for o in bounced:
                await repo.set_state([o.item.outbox_id], OutboxState.FAILED, o.error)
                await repo.count_bounce(campaign.id, account.id, turn.day, turn.utc_day)
            await repo.stop_leads([o.item.lead.id for o in bounced], int(LeadStatus.BOUNCED), now)
            for o in deferred:
                await repo.set_state([o.item.outbox_id], OutboxState.DEFERRED, o.error)
                delay = RETRY_DELAYS[min(o.item.attempts, len(RETRY_DELAYS)) - 1]
                await repo.release_leads([o.item.lead.id], now + timedelta(seconds=delay))
            if cancelled:
                await repo.set_state([o.item.outbox_id for o in cancelled], OutboxState.CANCELLED, None)
                await repo.release_leads([o.item.lead.id for o in cancelled], now)
            unsent = deferred + cancelled
            await repo.uncharge(
                campaign.id,
                account.id,
                turn.day,
                turn.utc_day,
                len(unsent),
                sum(1 for o in unsent if o.item.new_lead),
            )
            available = None
            if sent and turn.gap_seconds > 0:
                last = max(o.sent_at for o in sent if o.sent_at)
                wait = self.rng.uniform(0, (campaign.random_wait_max or 0) * 60.0)
                available = last + timedelta(seconds=turn.gap_seconds + wait)
            await repo.finish_account_turn(account.id, available, self.owner)
            if bounced and not campaign.disable_bounce_protect:
                await apply_bounce_protect(conn, turn.organization_id, campaign.id, now)
            finished = bounced or any(o for o in sent if o.item.step + 1 >= len(steps))
            if finished and await repo.complete_campaign_if_done(campaign.id, now):
                logger.info("campaign %s completed: no lead has a step left to send", campaign.id)
        for o in sent:
            logger.debug("sent step %d to %s from %s", o.item.step + 1, o.item.lead.email, account.email)
        if bounced or deferred:
            logger.info(
                "account %s: %d sent, %d bounced, %d deferred", account.email, len(sent), len(bounced), len(deferred)
            )

    def _email_row(self, turn: Turn, o: Outcome) -> dict[str, Any]:
        item, campaign, account, lead = o.item, turn.campaign, turn.account, o.item.lead
        preview = " ".join(o.text.split())[:200]
        return {
            "id": new_id(),
            "timestamp_created": self.now(),
            "timestamp_email": o.sent_at,
            "message_id": item.message_id,
            "subject": o.subject,
            "from_address_email": account.email,
            "to_address_email_list": lead.email,
            "cc_address_email_list": ",".join(campaign.cc_list) if campaign.cc_list else None,
            "bcc_address_email_list": ",".join(campaign.bcc_list) if campaign.bcc_list else None,
            "reply_to": account.reply_to,
            "body_text": o.text,
            "body_html": o.html,
            "campaign_id": campaign.id,
            "list_id": None,
            "lead": lead.email,
            "lead_id": lead.id,
            "eaccount": account.email,
            "account_id": account.id,
            "step": str(item.step + 1),
            "variant": item.variant,
            "thread_id": item.thread_id,
            "content_preview": preview,
            "in_reply_to": item.in_reply_to,
            "references": list(item.references),
            "outbox_id": item.outbox_id,
        }

    # -- recovery ---------------------------------------------------------------------------------

    async def recover(self, now: datetime) -> int:
        """Settle or resend outbox rows whose worker died (lease expired). Returns rows handled."""
        async with self.db.connect() as conn:
            rows = await SchedulerQueries(conn).unsettled(now)
        if not rows:
            return 0
        groups: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID], list[uuid.UUID]] = defaultdict(list)
        for row in rows:
            groups[(row.organization_id, row.account_id, row.campaign_id)].append(row.id)
        handled = 0
        for (organization_id, account_id, _campaign_id), ids in groups.items():
            try:
                handled += await self._recover_group(organization_id, account_id, ids, now)
            except Exception:
                logger.exception("recovery of %d abandoned send(s) of account %s failed", len(ids), account_id)
        return handled

    async def _recover_group(
        self, organization_id: uuid.UUID, account_id: uuid.UUID, ids: list[uuid.UUID], now: datetime
    ) -> int:
        async with self.db.begin() as conn:
            repo = SendingRepository(conn, organization_id)
            taken = await repo.renew_leases(ids, self.owner, now, now + self.lease)
            if not taken:
                return 0
            outbox = await repo.outbox_rows(taken)
            account = await repo.account(account_id)
            campaign = await repo.campaign(outbox[0].campaign_id) if outbox else None
            lead_rows = {lead.id: lead for lead in await repo.leads([o.lead_id for o in outbox])}
            history = (
                await self._history(repo, campaign.id, [lead_rows[o.lead_id] for o in outbox if o.lead_id in lead_rows])
                if campaign
                else {}
            )
        if account is None or campaign is None:
            return 0
        compiled = self.compiled(campaign)
        if not compiled.steps:
            return 0
        by_campaign = outbox
        turn = Turn(organization_id, account, campaign, compiled, outbox[0].day, now.astimezone(UTC).date(), 0.0)
        for o in by_campaign:
            lead = lead_rows.get(o.lead_id)
            if lead is None:
                continue
            plan = Claimed(
                outbox_id=o.id,
                lead=lead,
                step=o.step,
                variant=o.variant,
                message_id=o.message_id,
                thread_id=o.thread_id,
                attempts=o.attempts,
                new_lead=o.new_lead,
                claimed_at=o.claimed_at,
            )
            previous = [h for h in history.get(lead.id, []) if h.step < o.step]
            _thread(plan, previous, compiled, self._subject_is_empty(compiled, o.step, o.variant))
            plan.thread_id = o.thread_id
            turn.items.append(plan)
        states = {o.id: o.state for o in outbox}
        delivered = [item for item in turn.items if states[item.outbox_id] == OutboxState.SENT]
        unknown = [item for item in turn.items if states[item.outbox_id] == OutboxState.SENDING]
        if unknown:
            found = await self._look_in_sent_folder(account, [item.message_id for item in unknown])
            delivered += [item for item in unknown if item.message_id in found]
            unknown = [item for item in unknown if item.message_id not in found]
        outcomes: list[Outcome] = []
        for item in delivered:
            outcome = self.compose(turn, item)
            outcome.kind = "sent"
            outcome.sent_at = item.claimed_at
            outcomes.append(outcome)
        logger.warning(
            "recovering %d abandoned send(s) of %s: %d delivered, %d to send again with the same Message-ID",
            len(turn.items),
            account.email,
            len(delivered),
            len(unknown),
        )
        if unknown and (campaign.status != CampaignStatus.ACTIVE or account.status != AccountStatus.ACTIVE):
            outcomes += [Outcome(item, "cancelled", error="paused before recovery") for item in unknown]
            unknown = []
        if unknown:
            resend = Turn(organization_id, account, campaign, compiled, turn.day, turn.utc_day, 0.0, unknown)
            outcomes += await self._deliver(resend)
        await self.settle(turn, outcomes)
        return len(turn.items)

    async def _look_in_sent_folder(self, account: Record, message_ids: list[str]) -> set[str]:
        if not account.imap_host:
            return set()
        _smtp, imap = mail_servers(account, self.box)
        if isinstance(imap, Failure):
            return set()
        try:
            return await self._sent_lookup(imap, message_ids)
        except CheckFailed as failed:
            logger.warning("cannot search %s's Sent folder (%s): sending again", account.email, failed.failure.message)
            return set()


async def apply_bounce_protect(
    conn: Executor, organization_id: uuid.UUID, campaign_id: uuid.UUID, now: datetime
) -> None:
    """Pause an active campaign (status -2, Bounce Protect) once it sent `BOUNCE_PROTECT_MIN_SENT`
    messages of which more than `BOUNCE_PROTECT_RATE` bounced (at SMTP time or by a later bounce
    message); campaigns with `disable_bounce_protect` are not passed here."""
    repo = SendingRepository(conn, organization_id)
    sent, bounced = await repo.campaign_totals(campaign_id)
    if sent < BOUNCE_PROTECT_MIN_SENT or bounced / sent <= BOUNCE_PROTECT_RATE:
        return
    if await repo.set_campaign_status(
        campaign_id, int(CampaignStatus.BOUNCE_PROTECT), now, only_from=int(CampaignStatus.ACTIVE)
    ):
        logger.warning("campaign %s paused by bounce protection: %d of %d sends bounced", campaign_id, bounced, sent)


async def smtp_transaction(
    client: aiosmtplib.SMTP, sender: str, recipients: Sequence[str], data: bytes
) -> dict[str, aiosmtplib.SMTPResponse]:
    """MAIL, RCPT for each recipient, DATA: `sendmail` without its per-message address parsing (a
    sixth of the engine's time), for the ASCII addresses `sending.mime` already validated; anything
    else goes through `sendmail`. Returns the refused recipients; raises like `sendmail`."""
    if not (sender.isascii() and all(r.isascii() for r in recipients)):
        errors, _reply = await client.sendmail(sender, recipients, data)
        return errors
    try:
        response = await client.execute_command(b"MAIL", b"FROM:<" + sender.encode() + b">")
        if response.code != 250:
            raise aiosmtplib.SMTPSenderRefused(response.code, response.message, sender)
        refused: dict[str, aiosmtplib.SMTPResponse] = {}
        for recipient in recipients:
            response = await client.execute_command(b"RCPT", b"TO:<" + recipient.encode() + b">")
            if response.code not in (250, 251):
                refused[recipient] = response
        if len(refused) == len(recipients):
            raise aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(r.code, r.message, address) for address, r in refused.items()]
            )
        await client.data(data)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused) as exc:
        if getattr(exc, "code", None) != 421:  # keep the session usable for the next message
            with contextlib.suppress(aiosmtplib.SMTPException):
                await client.rset()
        raise
    return refused


def _refusal(code: int, message: str) -> tuple[str, str]:
    text = f"{code} {message}"
    return ("deferred", text) if 400 <= code < 500 else ("bounced", text)


def _thread(plan: Claimed, previous: Sequence[Any], compiled: CompiledCampaign, subject_empty: bool) -> None:
    """A follow-up whose subject is empty continues the previous step's thread: `Re:` subject,
    In-Reply-To the previous message, References the whole thread. Otherwise a new thread starts."""
    if not previous or not subject_empty:
        return
    last = previous[-1]
    thread = [p for p in previous if p.thread_id == last.thread_id]
    plan.thread_id = last.thread_id
    plan.in_reply_to = last.message_id
    plan.references = tuple(p.message_id for p in thread)
    plan.previous_subject = last.subject or ""

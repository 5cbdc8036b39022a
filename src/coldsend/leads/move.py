"""Moving or copying a selection of leads into a campaign or a list (`POST /leads/move`).

The request is checked at once (named campaigns and lists are the workspace's, exactly one
destination, filters valid) and becomes a `move-leads` background job holding the request in its
`data`. The job (`LeadMover`, run by `leads.tasks`) walks the selection in id order, in batches of
`BATCH_SIZE`, each batch one transaction that also records the job's counts and where it got to: a
job whose worker died resumes after the last committed batch and ends with the same counts.

Rules (decisions where the reference is silent):
- The selection is the filter set of `POST /leads/list`; `ids` needs the source `campaign` or
  `list_id`. Leads already in the destination are not selected. `limit` caps the leads selected (the
  first ones by id), whether they end up moved or skipped.
- A campaign or list holds an address once (unique indexes): a lead whose email is already in the
  destination is skipped (`duplicate_count`); `check_duplicates` therefore always holds. With
  `check_duplicates_in_campaigns`, a lead whose email belongs to another lead in any campaign is
  skipped (`in_other_campaigns_count`). With `skip_leads_in_verification`, leads whose verification is
  pending (11, 12) are skipped (`in_verification_count`). A campaign lead needs an email: leads without
  one stay where they are when the destination is a campaign (`without_email_count`).
- A move keeps the lead (same id, data, counters and activity history) and changes its campaign/list;
  a copy inserts a new lead (new id) with the same data. Either way the lead starts the destination
  afresh: the sequence position (last step, status summary, subsequence, opened/replied/clicked step and
  variant) is cleared and its status becomes Active, except Bounced and Unsubscribed, which describe the
  address and stay. `reset_interest_status` makes it a plain "Lead"; `assigned_to` assigns it.
- Moving into a campaign teaches the campaign the leads' custom variable names (as imports do).
- Job data: the request, then `total_count` (selected), `moved_leads`, `skipped_count` and its parts,
  `moved_lead_emails` (the first 10,000 addresses moved or copied).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, String, Table, Uuid, case, cast, func, literal, select, type_coerce, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.campaigns.repository import CampaignRepository
from coldsend.kit.clock import utcnow
from coldsend.kit.errors import BadRequest
from coldsend.kit.ids import new_id, parse_uuid
from coldsend.kit.jobs import JOBS, JobContext, enqueue_job
from coldsend.kit.repository import Record
from coldsend.leads.listing import CAMPAIGNS, LEADS, LeadSearchRepository, LeadSearchService, one_of
from coldsend.leads.listing_schemas import MoveLeadsBody

logger = logging.getLogger("coldsend.leads")

MOVE_JOB = "move-leads"
BATCH_SIZE = 1000
MAX_MOVED_EMAILS = 10_000
PENDING_VERIFICATION = (11, 12)
KEPT_STATUSES = (-1, -2)  # bounced, unsubscribed: facts about the address
RESUME_KEY = "resume_after"
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"

# Cleared on arrival: where the lead stood in its previous campaign's sequence.
SEQUENCE_POSITION = (
    "last_step_from",
    "last_step_id",
    "last_step_timestamp_executed",
    "status_summary_subseq",
    "subsequence_id",
    "timestamp_added_subsequence",
    "email_opened_step",
    "email_opened_variant",
    "email_replied_step",
    "email_replied_variant",
    "email_clicked_step",
    "email_clicked_variant",
)


@dataclass(frozen=True)
class Destination:
    kind: str  # "campaign" | "list": the job's entity_type
    id: uuid.UUID

    @classmethod
    def of(cls, body: MoveLeadsBody) -> Destination:
        if (body.to_campaign_id is None) == (body.to_list_id is None):
            raise BadRequest("body must have exactly one of the properties 'to_campaign_id', 'to_list_id'")
        if body.to_campaign_id is not None:
            return cls("campaign", body.to_campaign_id)
        assert body.to_list_id is not None
        return cls("list", body.to_list_id)

    @property
    def column(self) -> ColumnElement[Any]:
        return LEADS.c.campaign_id if self.kind == "campaign" else LEADS.c.list_id


class MoveService:
    """The request side: check everything a client can get wrong, then queue the job."""

    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id

    async def enqueue(self, body: MoveLeadsBody) -> Record:
        if body.ids is not None and body.campaign is None and body.list_id is None:
            raise BadRequest("body/ids selects leads inside a campaign or list: send 'campaign' or 'list_id' with it")
        search = LeadSearchService(self.session, self.organization_id)
        await search.require_names(
            campaign_ids=[body.campaign, body.to_campaign_id],
            list_ids=[body.list_id, body.to_list_id],
            smart_view_id=body.smart_view_id,
        )
        destination = Destination.of(body)
        search.leads.conditions(body, utcnow())  # a filter that makes no sense is a 400 now, not a failed job
        return await enqueue_job(
            self.session,
            self.organization_id,
            MOVE_JOB,
            entity_id=destination.id,
            entity_type=destination.kind,
            data=body.model_dump(mode="json", by_alias=True, exclude_none=True),
        )


@dataclass
class MoveTally:
    """What the job reports in its data (and resumes from)."""

    total_count: int = 0
    processed_count: int = 0
    moved_leads: int = 0
    duplicate_count: int = 0
    in_other_campaigns_count: int = 0
    in_verification_count: int = 0
    without_email_count: int = 0
    moved_lead_emails: list[str] = field(default_factory=list)

    @classmethod
    def resume(cls, data: dict[str, Any]) -> MoveTally:
        tally = cls()
        for name in asdict(tally):
            if name in data:
                setattr(tally, name, list(data[name]) if name == "moved_lead_emails" else int(data[name]))
        return tally

    @property
    def skipped_count(self) -> int:
        return (
            self.duplicate_count + self.in_other_campaigns_count + self.in_verification_count + self.without_email_count
        )

    def as_data(self, *, with_emails: bool) -> dict[str, Any]:
        data = asdict(self)
        data["skipped_count"] = self.skipped_count
        if not with_emails:
            del data["moved_lead_emails"]
        return data

    def note_moved(self, emails: Sequence[str | None]) -> bool:
        """Count moved leads; True when the list of addresses grew."""
        self.moved_leads += len(emails)
        room = MAX_MOVED_EMAILS - len(self.moved_lead_emails)
        added = [e for e in emails if e][: max(room, 0)]
        self.moved_lead_emails.extend(added)
        return bool(added)


def _sqlstate(exc: IntegrityError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


class MoveRepository(LeadSearchRepository):
    table: ClassVar[Table] = LEADS

    async def destination_exists(self, destination: Destination) -> bool:
        if destination.kind == "campaign":
            return await self.has_campaign(destination.id)
        return await self.has_list(destination.id)

    async def campaign_variables(self, campaign_id: uuid.UUID) -> set[str]:
        statement = self._scoped(select(CAMPAIGNS.c.custom_variables), CAMPAIGNS).where(CAMPAIGNS.c.id == campaign_id)
        row = (await self.session.execute(statement)).first()
        return set(row[0] or {}) if row is not None else set()

    async def count_selected(self, where: Sequence[ColumnElement[bool]], limit: int | None) -> int:
        """How many leads the job will go through (once, at its start: never on a request)."""
        selected = self._scoped(select(LEADS.c.id)).where(*where)
        if limit is not None:
            selected = selected.limit(limit)
        statement = select(func.count()).select_from(selected.subquery())
        return int((await self.session.execute(statement)).scalar_one())

    async def next_batch(
        self, where: Sequence[ColumnElement[bool]], after: uuid.UUID | None, size: int
    ) -> Sequence[Record]:
        """The next leads of the selection in id order, locked until the batch commits."""
        statement = self.select(*where)
        if after is not None:
            statement = statement.where(LEADS.c.id > after)
        statement = statement.order_by(LEADS.c.id).limit(size).with_for_update(of=LEADS)
        return await self.all(statement)

    async def emails_in(self, destination: Destination, emails: Sequence[str]) -> set[str]:
        if not emails:
            return set()
        statement = self._scoped(select(LEADS.c.email)).where(
            destination.column == destination.id, one_of(LEADS.c.email, emails, String())
        )
        return {row[0] for row in await self.all(statement)}

    async def campaign_holders(self, emails: Sequence[str]) -> dict[str, set[uuid.UUID]]:
        """For each address: the leads in any campaign that have it."""
        if not emails:
            return {}
        c = LEADS.c
        statement = self._scoped(select(c.email, c.id)).where(
            c.campaign_id.is_not(None), one_of(c.email, emails, String())
        )
        holders: dict[str, set[uuid.UUID]] = {}
        for email, lead_id in await self.all(statement):
            holders.setdefault(email, set()).add(lead_id)
        return holders

    def arrival(self, destination: Destination, body: MoveLeadsBody, now: datetime) -> dict[str, ColumnElement[Any]]:
        """The columns a lead gets in its destination, as SQL expressions over its current row."""
        c = LEADS.c

        def value(name: str, v: Any) -> ColumnElement[Any]:
            column_type = c[name].type
            return cast(literal(v, column_type), column_type)

        values: dict[str, ColumnElement[Any]] = {
            "campaign_id": value("campaign_id", destination.id if destination.kind == "campaign" else None),
            "list_id": value("list_id", destination.id if destination.kind == "list" else None),
            "status": case((c.status.in_(KEPT_STATUSES), c.status), else_=1),
            "status_summary": cast(literal({}, JSONB), JSONB),
            "timestamp_updated": value("timestamp_updated", now),
        }
        for name in SEQUENCE_POSITION:
            values[name] = value(name, None)
        # the destination campaign's sequence starts over, due at once (the sending engine's state)
        values["next_step"] = value("next_step", 0)
        values["next_send_at"] = value("next_send_at", now)
        if body.reset_interest_status:
            values["lt_interest_status"] = value("lt_interest_status", None)
            values["timestamp_last_interest_change"] = case(
                (c.lt_interest_status.is_not(None), value("timestamp_last_interest_change", now)),
                else_=c.timestamp_last_interest_change,
            )
        if body.assigned_to is not None:
            values["assigned_to"] = value("assigned_to", body.assigned_to)
        return values

    async def move(self, ids: Sequence[uuid.UUID], arrival: dict[str, ColumnElement[Any]]) -> list[str | None]:
        """Move the leads (one UPDATE); should another request put one of their addresses into the
        destination meanwhile, they go one by one and that lead stays. Returns the moved emails."""
        if not ids:
            return []
        try:
            async with self.session.begin_nested():
                return await self._move(ids, arrival)
        except IntegrityError as exc:
            if _sqlstate(exc) != UNIQUE_VIOLATION:
                raise
        moved: list[str | None] = []
        for lead_id in ids:
            try:
                async with self.session.begin_nested():
                    moved.extend(await self._move([lead_id], arrival))
            except IntegrityError as exc:
                if _sqlstate(exc) != UNIQUE_VIOLATION:
                    raise
        return moved

    async def _move(self, ids: Sequence[uuid.UUID], arrival: dict[str, ColumnElement[Any]]) -> list[str | None]:
        statement = (
            self._scoped(update(LEADS))
            .where(one_of(LEADS.c.id, ids, Uuid()))
            .values(**arrival)
            .returning(LEADS.c.id, LEADS.c.email)
        )
        rows = await self.all(statement)  # type: ignore[arg-type]
        return [email for _id, email in sorted(rows, key=lambda row: row[0])]  # RETURNING has no order: by id

    async def copy(
        self, ids: Sequence[uuid.UUID], arrival: dict[str, ColumnElement[Any]], now: datetime
    ) -> list[str | None]:
        """Insert a copy of each lead (new UUIDv7 ids from Python); an address already in the
        destination is left out by the unique indexes. Returns the copied emails."""
        if not ids:
            return []
        c = LEADS.c
        pairs = select(
            func.unnest(literal(list(ids), ARRAY(Uuid()))).label("source"),
            func.unnest(literal([new_id() for _ in ids], ARRAY(Uuid()))).label("copy"),
        ).subquery("pairs")
        fresh = {**arrival, "timestamp_created": cast(literal(now, c.timestamp_created.type), c.timestamp_created.type)}
        columns = [column.name for column in LEADS.c]
        chosen = [pairs.c.copy if name == "id" else fresh.get(name, c[name]) for name in columns]
        source = self._scoped(select(*chosen).select_from(LEADS.join(pairs, pairs.c.source == c.id)))
        statement = pg_insert(LEADS).from_select(columns, source).on_conflict_do_nothing().returning(c.id, c.email)
        rows = await self.all(statement)  # type: ignore[arg-type]
        return [email for _id, email in sorted(rows, key=lambda row: row[0])]  # new ids follow the source order

    async def record(self, job_id: str, progress: int, data: dict[str, Any], *, drop: Sequence[str] = ()) -> None:
        """Write the job's progress and counts in the batch's own transaction."""
        merged: ColumnElement[Any] = JOBS.c.data
        for key in drop:
            merged = merged.op("-")(cast(literal(key), String))
        merged = merged.op("||")(type_coerce(data, JSONB))
        statement = (
            self._scoped(update(JOBS), JOBS)
            .where(JOBS.c.id == job_id)
            .values(progress=progress, data=merged, updated_at=utcnow())
        )
        await self.session.execute(statement)


class LeadMover:
    """The job side: move or copy the selection in batches, recording counts as it goes."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.body = MoveLeadsBody.model_validate(ctx.data)
        self.destination = Destination.of(self.body)
        self.tally = MoveTally.resume(ctx.data)
        self.after = parse_uuid(str(ctx.data.get(RESUME_KEY) or ""))
        self.known_variables: set[str] = set()

    async def run(self) -> None:
        ctx, body = self.ctx, self.body
        if ctx.job.progress >= 100 and "moved_leads" in ctx.data:
            return  # finished and recorded; only marking it a success was lost (its worker died)
        async with ctx.session() as session:
            repo = MoveRepository(session, ctx.organization_id)
            if not await repo.destination_exists(self.destination):
                raise LookupError(f"the destination {self.destination.kind} no longer exists")
            # filters with a time window keep the job's creation time as "now" across batches and reruns
            where = [
                *repo.conditions(body, ctx.job.created_at),
                self.destination.column.is_distinct_from(self.destination.id),
            ]
            if self.destination.kind == "campaign":
                self.known_variables = await repo.campaign_variables(self.destination.id)
            if self.after is None:
                self.tally = MoveTally(total_count=await repo.count_selected(where, body.limit))
        if self.after is None:
            await ctx.progress(0, self.tally.as_data(with_emails=True))
        while True:
            size = BATCH_SIZE if body.limit is None else min(BATCH_SIZE, body.limit - self.tally.processed_count)
            if size <= 0:
                break
            async with ctx.session() as session, session.begin():
                repo = MoveRepository(session, ctx.organization_id)
                rows = await repo.next_batch(where, self.after, size)
                if not rows:
                    break
                grew = await self._land(repo, rows)
                self.after = rows[-1].id
                self.tally.processed_count += len(rows)
                total = max(self.tally.total_count, self.tally.processed_count)
                await repo.record(
                    self.ctx.job.id,
                    min(99, 100 * self.tally.processed_count // total),
                    {**self.tally.as_data(with_emails=grew), RESUME_KEY: str(self.after)},
                )
            if len(rows) < size:
                break
        async with ctx.session() as session, session.begin():
            await MoveRepository(session, ctx.organization_id).record(
                ctx.job.id, 100, self.tally.as_data(with_emails=True), drop=[RESUME_KEY]
            )
        logger.info(
            "move-leads %s for workspace %s: %d of %d leads %s into %s %s, %d skipped",
            ctx.job.id,
            ctx.organization_id,
            self.tally.moved_leads,
            self.tally.total_count,
            "copied" if body.copy_leads else "moved",
            self.destination.kind,
            self.destination.id,
            self.tally.skipped_count,
        )

    async def _land(self, repo: MoveRepository, rows: Sequence[Record]) -> bool:
        """Sort one batch into skipped and going, then move or copy those going."""
        body, tally, destination = self.body, self.tally, self.destination
        candidates = []
        for row in rows:
            if body.skip_leads_in_verification and row.verification_status in PENDING_VERIFICATION:
                tally.in_verification_count += 1
            elif destination.kind == "campaign" and not row.email:
                tally.without_email_count += 1
            else:
                candidates.append(row)
        emails = sorted({row.email for row in candidates if row.email})
        taken = await repo.emails_in(destination, emails)
        holders = await repo.campaign_holders(emails) if body.check_duplicates_in_campaigns else {}
        going: list[Record] = []
        for row in candidates:
            if row.email:
                if row.email in taken:
                    tally.duplicate_count += 1
                    continue
                if holders.get(row.email, set()) - {row.id}:
                    tally.in_other_campaigns_count += 1
                    continue
                taken.add(row.email)  # two leads of the batch with one address: the older goes
            going.append(row)
        now = utcnow()
        arrival = repo.arrival(destination, body, now)
        ids = [row.id for row in going]
        try:
            landed = await (repo.copy(ids, arrival, now) if body.copy_leads else repo.move(ids, arrival))
        except IntegrityError as exc:
            if _sqlstate(exc) == FOREIGN_KEY_VIOLATION:
                raise LookupError(f"the destination {destination.kind} was deleted during the move") from exc
            raise
        tally.duplicate_count += len(going) - len(landed)
        if destination.kind == "campaign":
            arrived = set(landed)
            await self._teach_campaign(repo, [row for row in going if row.email in arrived], now)
        return tally.note_moved(landed)

    async def _teach_campaign(self, repo: MoveRepository, rows: Sequence[Record], now: datetime) -> None:
        names = {name for row in rows for name in (row.payload or {})}
        new = sorted(names - self.known_variables)
        if new:
            campaigns = CampaignRepository(repo.session, repo.organization_id)
            await campaigns.add_custom_variables(self.destination.id, dict.fromkeys(new, ""), now)
            self.known_variables.update(new)

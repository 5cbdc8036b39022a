"""The rules of lead labels (a workspace's own interest statuses).

- `label` is non-blank and unique per workspace after trimming, collapsing inner whitespace and
  ignoring case: a clash is a 409 (create and patch).
- The server assigns `interest_status`: the smallest free value from 5 up to 30000, then from -5
  down to -30000 (the reference's range, minus the built-in values -4..4); creates in one workspace
  are serialised by an advisory lock so two never pick the same value. It never changes, so the
  leads that carry it keep their label when its name or sentiment (`interest_status_label`) changes.
- Deleting a label moves the leads that carry it to `reassigned_status` (a built-in value or another
  label's interest_status), or back to plain "Lead" (null) when none is given. The value is then
  free again: no lead points at it any more.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from coldsend.kit.errors import BadRequest, Conflict, NotFound
from coldsend.kit.ids import parse_uuid
from coldsend.kit.repository import Executor, Record
from coldsend.lead_labels.repository import LeadLabelRepository, normalize_label
from coldsend.lead_labels.schemas import LeadLabelCreate, LeadLabelUpdate
from coldsend.lead_lists.cursor import TimestampCursor
from coldsend.lead_lists.service import search_text

NOT_FOUND = "Lead label not found"
LABEL_TAKEN = "A lead label with this name already exists."
LABEL_CONSTRAINT = "uq_lead_labels_label"
BUILT_IN_INTEREST_STATUSES = frozenset({1, 2, 3, 4, 0, -1, -2, -3, -4})
CUSTOM_INTEREST_STATUSES = (range(5, 30001), range(-5, -30001, -1))
UPDATABLE = ("label", "interest_status_label", "description", "use_with_ai")


def pick_interest_status(used: set[int]) -> int | None:
    """The value a new label gets: the first free one in allocation order, None when all are taken."""
    for candidates in CUSTOM_INTEREST_STATUSES:
        for value in candidates:
            if value not in used:
                return value
    return None


class LeadLabelService:
    def __init__(self, session: Executor, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id
        self.labels = LeadLabelRepository(session, organization_id)

    async def create(self, body: LeadLabelCreate) -> Record:
        label = body.label.strip()
        key = normalize_label(label)
        await self.labels.lock_labels()
        if await self.labels.by_label_key(key) is not None:
            raise Conflict(LABEL_TAKEN)
        interest_status = pick_interest_status(await self.labels.used_interest_statuses())
        if interest_status is None:
            raise Conflict("The workspace has used every custom interest status: delete a label first")
        try:
            async with self.session.begin_nested():
                return await self.labels.insert(
                    label=label,
                    label_key=key,
                    interest_status_label=body.interest_status_label,
                    interest_status=interest_status,
                    description=body.description,
                    use_with_ai=body.use_with_ai,
                    created_by=self.labels.workspace_owner(),
                )
        except IntegrityError as exc:  # a rename (not serialised by the lock) took the label meanwhile
            if LABEL_CONSTRAINT in str(exc.orig):
                raise Conflict(LABEL_TAKEN) from exc
            raise

    async def get(self, label_id: str) -> Record:
        parsed = parse_uuid(label_id)
        row = await self.labels.get(parsed) if parsed else None
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def update(self, label_id: str, body: LeadLabelUpdate) -> Record:
        current = await self.get(label_id)
        fields = body.model_fields_set & set(UPDATABLE)
        if not fields:
            raise BadRequest(f"body must have at least one of the properties {', '.join(map(repr, UPDATABLE))}")
        values: dict[str, Any] = {}
        for name in ("label", "interest_status_label"):
            if name in fields and getattr(body, name) is None:
                raise BadRequest(f"body/{name} must be a string")
        if body.label is not None:
            label = body.label.strip()
            key = normalize_label(label)
            clash = await self.labels.by_label_key(key)
            if clash is not None and clash.id != current.id:
                raise Conflict(LABEL_TAKEN)
            values.update(label=label, label_key=key)
        for name in ("interest_status_label", "description", "use_with_ai"):
            if name in fields:
                values[name] = getattr(body, name)
        try:
            async with self.session.begin_nested():
                row = await self.labels.update(current.id, **values)
        except IntegrityError as exc:
            raise Conflict(LABEL_TAKEN) from exc
        if row is None:  # deleted concurrently
            raise NotFound(NOT_FOUND)
        return row

    async def delete(self, label_id: str, reassigned_status: int | None) -> Record:
        current = await self.get(label_id)
        if reassigned_status is not None and reassigned_status not in BUILT_IN_INTEREST_STATUSES:
            known = await self.labels.existing_interest_statuses([reassigned_status])
            if reassigned_status == current.interest_status or reassigned_status not in known:
                raise BadRequest(
                    "body/reassigned_status must be a built-in interest status (-4..4) or the interest_status "
                    f"of another lead label of this workspace; {reassigned_status} is neither"
                )
        await self.labels.reassign_leads(current.interest_status, reassigned_status)
        row = await self.labels.delete(current.id)
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def list_page(
        self, after: TimestampCursor | None, limit: int, *, search: str | None, sentiment: str | None
    ) -> Sequence[Record]:
        return await self.labels.search_page(after, limit, search=search_text(search), sentiment=sentiment)

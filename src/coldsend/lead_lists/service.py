"""The rules of lead lists.

- A list needs a non-blank name (stored trimmed); names need not be unique.
- `owned_by` defaults to the workspace owner when a create omits it (an explicit null is kept).
- Deleting a list deletes its leads with it (the foreign key cascades) and answers the deleted list.
- Verification statistics count the list's leads by `verification_status`: 1 verified, -1 invalid,
  -2 risky, -3 catch-all, -4 job change; 11 (pending) and 12 (pending verification job) are
  `verification_job_pending_user`; Coldsend has no Lead Finder, so `..._leadfinder` is always 0.
  `total_leads` counts every lead of the list, unverified ones included.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from coldsend.kit.errors import BadRequest, NotFound
from coldsend.kit.ids import parse_uuid
from coldsend.kit.repository import Executor, Record
from coldsend.lead_lists.cursor import TimestampCursor
from coldsend.lead_lists.repository import LeadListRepository
from coldsend.lead_lists.schemas import LeadListCreate, LeadListUpdate

NOT_FOUND = "Lead list not found"
UPDATABLE = ("has_enrichment_task", "owned_by", "name")
STAT_OF_STATUS = {1: "verified", -1: "invalid", -2: "risky", -3: "catch_all", -4: "job_change"}
PENDING_STATUSES = (11, 12)


def search_text(value: str | None) -> str | None:
    """The `search` parameter, refused with a 400 when PostgreSQL could not compare it (a NUL)."""
    if value is not None and "\x00" in value:
        raise BadRequest("querystring/search must not contain the NUL character (\\u0000)")
    return value


class LeadListService:
    def __init__(self, session: Executor, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id
        self.lists = LeadListRepository(session, organization_id)

    async def create(self, body: LeadListCreate) -> Record:
        owner: Any = body.owned_by if "owned_by" in body.model_fields_set else self.lists.workspace_owner()
        return await self.lists.insert(
            name=body.name.strip(), has_enrichment_task=body.has_enrichment_task, owned_by=owner
        )

    async def get(self, list_id: str) -> Record:
        parsed = parse_uuid(list_id)
        row = await self.lists.get(parsed) if parsed else None
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def update(self, list_id: str, body: LeadListUpdate) -> Record:
        current = await self.get(list_id)
        fields = body.model_fields_set & set(UPDATABLE)
        if not fields:
            raise BadRequest(f"body must have at least one of the properties {', '.join(map(repr, UPDATABLE))}")
        values: dict[str, Any] = {name: getattr(body, name) for name in fields}
        if "name" in values:
            if values["name"] is None:
                raise BadRequest("body/name must be a string")
            values["name"] = values["name"].strip()
        row = await self.lists.update(current.id, **values)
        if row is None:  # deleted concurrently
            raise NotFound(NOT_FOUND)
        return row

    async def delete(self, list_id: str) -> Record:
        current = await self.get(list_id)
        row = await self.lists.delete(current.id)  # its leads go with it (ON DELETE CASCADE)
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def list_page(
        self, after: TimestampCursor | None, limit: int, *, search: str | None, has_enrichment_task: bool | None
    ) -> Sequence[Record]:
        return await self.lists.search_page(
            after, limit, search=search_text(search), has_enrichment_task=has_enrichment_task
        )

    async def verification_stats(self, list_id: str) -> dict[str, Any]:
        parsed = parse_uuid(list_id)
        rows = await self.lists.verification_counts(parsed) if parsed else []
        if not rows:
            raise NotFound(NOT_FOUND)
        stats = dict.fromkeys((*STAT_OF_STATUS.values(), "verification_job_pending_leadfinder"), 0)
        stats["verification_job_pending_user"] = 0
        total = 0
        for row in rows:
            count = int(row.n or 0)
            total += count
            if row.verification_status in STAT_OF_STATUS:
                stats[STAT_OF_STATUS[row.verification_status]] += count
            elif row.verification_status in PENDING_STATUSES:
                stats["verification_job_pending_user"] += count
        return {"stats": stats, "total_leads": total}

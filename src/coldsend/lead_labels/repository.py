"""Every query on lead labels, scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import ARRAY, ColumnElement, Integer, ScalarSelect, Table, any_, func, literal, select, update

from coldsend.kit.clock import utcnow
from coldsend.kit.repository import Record
from coldsend.lead_labels.models import LeadLabel
from coldsend.lead_lists.cursor import TimestampCursor, TimestampPagedRepository
from coldsend.leads.models import Lead
from coldsend.workspaces.models import Workspace

LABELS: Table = LeadLabel.__table__  # type: ignore[assignment]
LEADS: Table = Lead.__table__  # type: ignore[assignment]
WORKSPACES: Table = Workspace.__table__  # type: ignore[assignment]


def normalize_label(label: str) -> str:
    """The key two labels are compared by: trimmed, inner whitespace collapsed, case-folded."""
    return " ".join(label.split()).casefold()


class LeadLabelRepository(TimestampPagedRepository):
    table: ClassVar[Table] = LABELS

    async def existing_interest_statuses(self, values: Sequence[int]) -> set[int]:
        """The given values that are the `interest_status` of a label of this workspace (built-in
        values -4..4 are not labels and are never in the result)."""
        wanted = sorted(set(values))
        if not wanted:
            return set()
        statement = self._scoped(select(LABELS.c.interest_status)).where(
            LABELS.c.interest_status == any_(literal(wanted, type_=ARRAY(Integer)))
        )
        return {row[0] for row in await self.all(statement)}

    async def lock_labels(self) -> None:
        """Serialise label creation in this workspace until the transaction ends (an advisory lock, so
        two creates never pick the same interest status; other workspaces are not held up)."""
        key = func.hashtextextended(f"coldsend.lead_labels:{self.organization_id}", 0)
        await self.session.execute(select(func.pg_advisory_xact_lock(key)))

    async def used_interest_statuses(self) -> set[int]:
        return {row[0] for row in await self.all(self._scoped(select(LABELS.c.interest_status)))}

    async def by_label_key(self, label_key: str) -> Record | None:
        return await self.first(LABELS.c.label_key == label_key)

    def workspace_owner(self) -> ScalarSelect[Any]:
        """The workspace's owner: the user every label of the API is created by."""
        return select(WORKSPACES.c.owner).where(WORKSPACES.c.id == self.organization_id).scalar_subquery()

    async def search_page(
        self, after: TimestampCursor | None, limit: int, *, search: str | None, sentiment: str | None
    ) -> Sequence[Record]:
        where: list[ColumnElement[bool]] = []
        needle = normalize_label(search or "")
        if needle:
            escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(LABELS.c.label_key.like(f"%{escaped}%", escape="\\"))
        if sentiment is not None:
            where.append(LABELS.c.interest_status_label == sentiment)
        return await self.time_page(after, limit, *where)

    async def reassign_leads(self, old: int, new: int | None) -> int:
        """Give the workspace's leads that carry interest value `old` the value `new` instead."""
        now = utcnow()
        statement = (
            self._scoped(update(LEADS), LEADS)
            .where(LEADS.c.lt_interest_status == old)
            .values(lt_interest_status=new, timestamp_last_interest_change=now, timestamp_updated=now)
        )
        result = await self.session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)

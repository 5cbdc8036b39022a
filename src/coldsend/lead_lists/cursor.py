"""The timestamp cursor of lead lists and lead labels (the reference pages them by creation time).

Pages are in (timestamp_created, id) order. `next_starting_after` is the wire timestamp of the last
item; when the first item of the next page was created in that same instant (timestamps are kept to
the millisecond), the cursor is `<timestamp>&<id>` instead, so no item is ever skipped or repeated.
Accepted back: our cursors, any ISO-8601 date-time (items created strictly after it), and the id of
an item (the generic "id of the last item" of the reference's pagination text).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import ColumnElement, Table, literal, tuple_

from coldsend.kit.errors import BadRequest
from coldsend.kit.ids import parse_uuid
from coldsend.kit.repository import Record, WorkspaceRepository

BAD_CURSOR = (
    "querystring/starting_after must be the next_starting_after of the previous page, an ISO 8601 "
    "date-time, or the id of an item"
)


@dataclass(frozen=True)
class TimestampCursor:
    timestamp: datetime | None = None
    id: uuid.UUID | None = None  # with a timestamp: the tie-breaker; alone: the item to continue after


def parse_timestamp_cursor(raw: str | None) -> TimestampCursor | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    item = parse_uuid(text)
    if item is not None:
        return TimestampCursor(id=item)
    stamp, amp, tail = text.partition("&")
    try:
        moment = datetime.fromisoformat(stamp.strip().replace(" ", "+"))  # an unencoded "+" arrives as " "
    except ValueError:
        raise BadRequest(BAD_CURSOR) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    tie = parse_uuid(tail.strip()) if amp else None
    if amp and tie is None:
        raise BadRequest(BAD_CURSOR)
    return TimestampCursor(moment, tie)


def wire_cursor_timestamp(value: datetime) -> str:
    """Milliseconds and `Z`, or microseconds when the stored value has them (rows not written by us)."""
    value = value.astimezone(UTC)
    fraction = f"{value.microsecond // 1000:03d}" if value.microsecond % 1000 == 0 else f"{value.microsecond:06d}"
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"


def next_cursor(rows: Sequence[Record], limit: int) -> str | None:
    """The cursor after the first `limit` of `limit + 1` fetched rows (None when no row follows)."""
    if len(rows) <= limit:
        return None
    last, following = rows[limit - 1], rows[limit]
    stamp = wire_cursor_timestamp(last.timestamp_created)
    return f"{stamp}&{last.id}" if following.timestamp_created == last.timestamp_created else stamp


class TimestampPagedRepository(WorkspaceRepository):
    """A workspace table with `timestamp_created` and an index on (organization_id, timestamp_created, id)."""

    table: ClassVar[Table]

    async def time_page(
        self, after: TimestampCursor | None, limit: int, *where: ColumnElement[bool]
    ) -> Sequence[Record]:
        """`limit + 1` rows after the cursor in (timestamp_created, id) order: an index range scan."""
        c = self.table.c
        statement = self.select(*where)
        if after is not None:
            if after.timestamp is None:
                anchor = await self.get(after.id) if after.id is not None else None
                if anchor is None:
                    raise BadRequest(f"{BAD_CURSOR}; no item has the id {after.id}")
                after = TimestampCursor(anchor.timestamp_created, anchor.id)
            moment = literal(after.timestamp, type_=c.timestamp_created.type)
            if after.id is None:
                statement = statement.where(c.timestamp_created > moment)
            else:
                statement = statement.where(
                    tuple_(c.timestamp_created, c.id) > tuple_(moment, literal(after.id, type_=c.id.type))
                )
        return await self.all(statement.order_by(c.timestamp_created, c.id).limit(limit + 1))

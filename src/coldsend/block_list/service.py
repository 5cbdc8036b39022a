"""The rules of the block list.

- A value is an email address or a domain; it is stored trimmed and lower-cased, `is_domain` is
  derived from it. Anything else is a 400 naming the value.
- Values are unique per workspace. Creating a value that is already blocked is not an error: the
  existing entry is returned (create is idempotent, so syncs can re-send their whole list).
- Bulk create skips invalid values and counts them (`invalid_count`); a batch with no valid value at
  all is a 400 naming them. Repeats inside a batch count once. `items` holds the entry of every
  distinct valid value, new or already present, in the order of the request (`valid_count` = its size).
- Changing an entry's value to one another entry already has is a 409.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError

from coldsend.block_list.repository import BlockListRepository
from coldsend.block_list.schemas import BlockListEntryCreate, BlockListEntryUpdate
from coldsend.block_list.values import BlockValue, normalize_block_value
from coldsend.kit.errors import BadRequest, Conflict, NotFound
from coldsend.kit.ids import parse_uuid
from coldsend.kit.repository import Executor, Record

NOT_FOUND = "Block list entry not found"
VALUE_TAKEN = "Another entry of the block list already has this value"
SHOWN_INVALID = 20  # how many invalid values a message quotes


def parse_value(raw: str, where: str) -> BlockValue:
    parsed = normalize_block_value(raw)
    if parsed is None:
        raise BadRequest(f"{where} must be an email address or a domain; {raw!r} is neither")
    return parsed


def search_text(value: str | None) -> str | None:
    """The `search` parameter, refused with a 400 when PostgreSQL could not compare it (a NUL)."""
    if value is not None and "\x00" in value:
        raise BadRequest("querystring/search must not contain the NUL character (\\u0000)")
    return value


def _quoted(values: Sequence[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:SHOWN_INVALID])
    more = len(values) - SHOWN_INVALID
    return shown + (f" and {more} more" if more > 0 else "")


async def add_to_block_list(session: Executor, organization_id: uuid.UUID, value: str) -> None:
    """Block `value` (an email address or a domain) in the workspace; nothing happens when it already
    is. Raises BadRequest when the value is neither. Used for unsubscribes (`add_unsub_to_block`)."""
    parsed = parse_value(value, "value")
    await BlockListRepository(session, organization_id).insert_missing([parsed])


class BlockListService:
    def __init__(self, session: Executor, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id
        self.entries = BlockListRepository(session, organization_id)

    async def create(self, body: BlockListEntryCreate) -> Record:
        parsed = parse_value(body.bl_value, "body/bl_value")
        created = await self.entries.insert_missing([parsed])
        if created:
            return created[0]
        existing = await self.entries.by_value(parsed.value)
        if existing is None:  # blocked and unblocked again between our two statements
            raise Conflict("The entry changed while it was being created; retry")
        return existing

    async def get(self, entry_id: str) -> Record:
        parsed = parse_uuid(entry_id)
        row = await self.entries.get(parsed) if parsed else None
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def update(self, entry_id: str, body: BlockListEntryUpdate) -> Record:
        current = await self.get(entry_id)
        if "bl_value" not in body.model_fields_set:
            raise BadRequest("body must have at least one of the properties 'bl_value'")
        if body.bl_value is None:
            raise BadRequest("body/bl_value must be a string")
        parsed = parse_value(body.bl_value, "body/bl_value")
        if parsed.value == current.bl_value:
            return current
        clash = await self.entries.by_value(parsed.value)
        if clash is not None:
            raise Conflict(VALUE_TAKEN)
        try:
            async with self.session.begin_nested():
                row = await self.entries.update(current.id, bl_value=parsed.value, is_domain=parsed.is_domain)
        except IntegrityError as exc:  # a concurrent request blocked the value first
            raise Conflict(VALUE_TAKEN) from exc
        if row is None:  # deleted concurrently
            raise NotFound(NOT_FOUND)
        return row

    async def delete(self, entry_id: str) -> Record:
        current = await self.get(entry_id)
        row = await self.entries.delete(current.id)
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def list_page(
        self, after: uuid.UUID | None, limit: int, *, domains_only: bool | None, search: str | None
    ) -> Sequence[Record]:
        where = self.entries.filters(domains_only=domains_only, search=search_text(search))
        return await self.entries.page(after, limit, *where)

    async def bulk_create(self, raw_values: Sequence[str]) -> tuple[list[Record], int]:
        """The entries of the distinct valid values (request order) and the number of invalid values."""
        valid: dict[str, BlockValue] = {}
        invalid: list[str] = []
        for raw in raw_values:
            parsed = normalize_block_value(raw)
            if parsed is None:
                invalid.append(raw)
            else:
                valid.setdefault(parsed.value, parsed)
        if not valid:
            raise BadRequest(f"body/bl_values holds no email address or domain; invalid values: {_quoted(invalid)}")
        created = await self.entries.insert_missing(list(valid.values()))
        by_value = {row.bl_value: row for row in created}
        missing = [v for v in valid if v not in by_value]
        if missing:
            by_value.update({row.bl_value: row for row in await self.entries.by_values(missing)})
        return [by_value[v] for v in valid if v in by_value], len(invalid)

    async def bulk_delete(self, raw_ids: Sequence[str]) -> Sequence[Record]:
        """Delete the listed entries of this workspace; ids that name none are simply not deleted."""
        ids: list[uuid.UUID] = []
        bad: list[str] = []
        for raw in raw_ids:
            parsed = parse_uuid(raw)
            if parsed is None:
                bad.append(raw)
            else:
                ids.append(parsed)
        if bad:
            raise BadRequest(f"body/ids must hold entry ids (UUIDs); not UUIDs: {_quoted(bad)}")
        return await self.entries.delete_ids(sorted(set(ids)))

    async def delete_all(self, *, domains_only: bool | None, search: str | None) -> Sequence[Record]:
        return await self.entries.delete_matching(
            self.entries.filters(domains_only=domains_only, search=search_text(search))
        )

    def download_filters(self, *, domains_only: bool | None, search: str | None) -> list[ColumnElement[bool]]:
        return self.entries.filters(domains_only=domains_only, search=search_text(search))

    async def download_batch(
        self, after: uuid.UUID | None, size: int, where: Sequence[ColumnElement[bool]]
    ) -> Sequence[Record]:
        """One batch of the CSV download: `size` entries in id order after `after` (keyset, any depth)."""
        return await self.entries.batch(after, size, where)

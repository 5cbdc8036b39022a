"""Keyset pagination: `limit` 1..100, `starting_after`, and the `{items, next_starting_after}` page."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query

from coldsend.kit.errors import BadRequest
from coldsend.kit.ids import parse_uuid

DEFAULT_LIMIT = 100  # Instantly does not document its default; a full page means fewer round trips
MAX_LIMIT = 100

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    limit: int
    starting_after: str | None

    def uuid_cursor(self) -> uuid.UUID | None:
        """The cursor as a UUID (the id of the last item seen); a malformed one is a 400."""
        if self.starting_after is None or self.starting_after == "":
            return None
        cursor = parse_uuid(self.starting_after)
        if cursor is None:
            raise BadRequest("querystring/starting_after must be the id of the last item of the previous page")
        return cursor


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="The number of items to return")] = DEFAULT_LIMIT,
    starting_after: Annotated[
        str | None,
        Query(description="The `next_starting_after` of the previous page; omit it for the first page"),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, starting_after=starting_after)


PageDep = Annotated[PageParams, Depends(page_params)]


def page(
    rows: Sequence[T], limit: int, serialize: Callable[[T], dict[str, Any]], cursor: Callable[[T], str]
) -> dict[str, Any]:
    """Build a page from `limit + 1` fetched rows: the extra row only tells that another page exists."""
    items = [serialize(row) for row in rows[:limit]]
    body: dict[str, Any] = {"items": items}
    if len(rows) > limit:
        body["next_starting_after"] = cursor(rows[limit - 1])
    return body


def split_csv(value: str | None) -> list[str]:
    """`a,b, c` -> ["a", "b", "c"]: Instantly's comma-separated list parameters."""
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]

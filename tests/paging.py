"""Walking a list endpoint to its end by `next_starting_after`, as clients do."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant


async def every_item(tenant: Tenant, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of every page, in order; fails on a non-200 page or a cursor that never ends."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, **({"starting_after": cursor} if cursor else {})}
        response = await tenant.get(url, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        cursor = body.get("next_starting_after")
        if not cursor:
            return items
    raise AssertionError("pagination did not end")

"""Races that only committed transactions can show: the same values blocked at the same moment."""

from __future__ import annotations

import asyncio

from tests.conftest import CommittedWorkspace

ENTRIES = "/api/v2/block-lists-entries"


async def test_parallel_creates_of_one_value_store_it_once(committed_workspace: CommittedWorkspace) -> None:
    client = committed_workspace.client
    values = ["race@example.com", "RACE@example.com", " race@example.com", "Race@Example.com"] * 2
    responses = await asyncio.gather(*(client.post(ENTRIES, json={"bl_value": v}) for v in values))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len((await client.get(ENTRIES)).json()["items"]) == 1


async def test_parallel_overlapping_bulk_creates(committed_workspace: CommittedWorkspace) -> None:
    client = committed_workspace.client
    batches = [[f"user{i}@example.com" for i in range(start, start + 300)] for start in (0, 100, 200, 0)]
    batches += [list(reversed(batch)) for batch in batches]
    responses = await asyncio.gather(*(client.post(f"{ENTRIES}/bulk-create", json={"bl_values": b}) for b in batches))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    ids: dict[str, str] = {}
    for response in responses:
        for item in response.json()["items"]:
            assert ids.setdefault(item["bl_value"], item["id"]) == item["id"]
    assert len(ids) == 500
    downloaded = (await client.get(f"{ENTRIES}/download")).text.strip().split("\r\n")
    assert len(downloaded) == 501

"""Races that only committed transactions can show: labels created at the same moment."""

from __future__ import annotations

import asyncio

from tests.conftest import CommittedWorkspace

LABELS = "/api/v2/lead-labels"


async def test_parallel_creates_get_distinct_interest_statuses(committed_workspace: CommittedWorkspace) -> None:
    client = committed_workspace.client
    bodies = [{"label": f"Label {i}", "interest_status_label": "neutral"} for i in range(10)]
    responses = await asyncio.gather(*(client.post(LABELS, json=body) for body in bodies))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert sorted(r.json()["interest_status"] for r in responses) == list(range(5, 15))


async def test_parallel_creates_of_one_label_store_it_once(committed_workspace: CommittedWorkspace) -> None:
    client = committed_workspace.client
    labels = ["Race", "race", " RACE ", "Race", "rAce", "Race "]
    responses = await asyncio.gather(
        *(client.post(LABELS, json={"label": label, "interest_status_label": "positive"}) for label in labels)
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409, 409, 409], [r.text for r in responses]
    assert len((await client.get(LABELS)).json()["items"]) == 1

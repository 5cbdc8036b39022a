"""POST /accounts/warmup/enable|disable: the request queues an update-warmup-accounts job in its own
transaction; the job, run here for real, changes the selected accounts in batches."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from coldsend.accounts import tasks
from coldsend.kit.jobs import run_job
from tests.accounts._helpers import (
    ACCOUNTS,
    account_row,
    assert_envelope,
    create_account,
    queued_job_payload,
    run_queued_job,
)
from tests.conftest import Tenant
from tests.factories import add_account

ENABLE = f"{ACCOUNTS}/warmup/enable"
DISABLE = f"{ACCOUNTS}/warmup/disable"


async def warmup_states(tenant: Tenant) -> dict[str, int]:
    items = (await tenant.get(ACCOUNTS)).json()["items"]
    return {a["email"]: a["warmup_status"] for a in items}


async def start(tenant: Tenant, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
    response = await tenant.post(url, json=body) if body is not None else await tenant.post(url)
    assert response.status_code == 200, response.text
    return response.json()


async def job(tenant: Tenant, job_id: str) -> dict[str, Any]:
    response = await tenant.get(f"/api/v2/background-jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_enable_by_emails_queues_a_job_that_turns_warmup_on(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        await create_account(tenant, email)
    queued = await start(tenant, ENABLE, {"emails": ["A@example.com", "b@example.com", "a@example.com"]})
    assert queued["type"] == "update-warmup-accounts"
    assert queued["entity_type"] == "workspace" and queued["entity_id"] == str(tenant.id)
    assert queued["workspace_id"] == str(tenant.id)
    assert queued["status"] == "pending" and queued["progress"] == 0
    assert queued["data"] == {"enable": True, "emails": ["a@example.com", "b@example.com"]}
    assert len(queued["id"]) == 24
    assert await warmup_states(tenant) == {"a@example.com": 0, "b@example.com": 0, "c@example.com": 0}

    await run_queued_job(session, connection, queued["id"])

    assert await warmup_states(tenant) == {"a@example.com": 1, "b@example.com": 1, "c@example.com": 0}
    account = (await tenant.get(f"{ACCOUNTS}/a@example.com")).json()
    assert account["timestamp_warmup_start"] is not None
    done = await job(tenant, queued["id"])
    assert done["status"] == "success" and done["progress"] == 100
    assert done["data"]["success_count"] == 2 and done["data"]["failed_count"] == 0
    assert done["data"]["total_count"] == 2 and done["data"]["failed_emails"] == []


async def test_disable_turns_warmup_off_and_clears_the_start(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    await create_account(tenant, "a@example.com")
    enabled = await start(tenant, ENABLE, {"emails": ["a@example.com"]})
    await run_queued_job(session, connection, enabled["id"])
    disabled = await start(tenant, DISABLE, {"emails": ["a@example.com"]})
    assert disabled["data"]["enable"] is False
    await run_queued_job(session, connection, disabled["id"])
    account = (await tenant.get(f"{ACCOUNTS}/a@example.com")).json()
    assert account["warmup_status"] == 0 and account["timestamp_warmup_start"] is None
    assert (await job(tenant, disabled["id"]))["data"]["success_count"] == 1


async def test_enabling_again_keeps_the_original_start(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    await create_account(tenant, "a@example.com")
    first = await start(tenant, ENABLE, {"emails": ["a@example.com"]})
    await run_queued_job(session, connection, first["id"])
    started = (await tenant.get(f"{ACCOUNTS}/a@example.com")).json()["timestamp_warmup_start"]
    second = await start(tenant, ENABLE, {"emails": ["a@example.com"]})
    await run_queued_job(session, connection, second["id"])
    assert (await tenant.get(f"{ACCOUNTS}/a@example.com")).json()["timestamp_warmup_start"] == started


async def test_unknown_emails_are_reported_in_the_job(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    await create_account(tenant, "mine@example.com")
    await create_account(other_tenant, "theirs@example.com")
    queued = await start(tenant, ENABLE, {"emails": ["mine@example.com", "nobody@example.com", "theirs@example.com"]})
    await run_queued_job(session, connection, queued["id"])
    data = (await job(tenant, queued["id"]))["data"]
    assert data["success_count"] == 1 and data["failed_count"] == 2
    assert data["failed_emails"] == ["nobody@example.com", "theirs@example.com"]
    assert (await other_tenant.get(f"{ACCOUNTS}/theirs@example.com")).json()["warmup_status"] == 0


@pytest.mark.parametrize("url", [ENABLE, DISABLE])
async def test_emails_that_name_no_account_here_are_404_and_queue_nothing(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession, url: str
) -> None:
    await create_account(other_tenant, "theirs@example.com")
    assert_envelope(await tenant.post(url, json={"emails": ["theirs@example.com", "nobody@example.com"]}), 404)
    jobs = await session.execute(
        text("SELECT count(*) FROM background_jobs WHERE organization_id = :o"), {"o": tenant.id}
    )
    assert jobs.scalar_one() == 0


async def test_include_all_with_exclusions_filter_search_and_tag(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    for email in ("a@acme.example.com", "b@acme.example.com", "c@acme.example.com", "d@other.example.com"):
        await create_account(tenant, email)
    await create_account(other_tenant, "a@acme.example.com")
    everyone = await start(
        tenant, ENABLE, {"include_all_emails": True, "excluded_emails": ["B@acme.example.com"], "emails": ["x"]}
    )
    await run_queued_job(session, connection, everyone["id"])
    assert await warmup_states(tenant) == {
        "a@acme.example.com": 1,
        "b@acme.example.com": 0,
        "c@acme.example.com": 1,
        "d@other.example.com": 1,
    }
    assert (await other_tenant.get(f"{ACCOUNTS}/a@acme.example.com")).json()["warmup_status"] == 0

    searched = await start(
        tenant, DISABLE, {"include_all_emails": True, "search": "acme", "filter": "ACC_FILTER_W_ACTIVE"}
    )
    await run_queued_job(session, connection, searched["id"])
    assert await warmup_states(tenant) == {
        "a@acme.example.com": 0,
        "b@acme.example.com": 0,
        "c@acme.example.com": 0,
        "d@other.example.com": 1,
    }
    assert (await job(tenant, searched["id"]))["data"]["success_count"] == 2

    tag = (await tenant.post("/api/v2/custom-tags", json={"label": "Warm"})).json()["id"]
    await tenant.post(
        "/api/v2/custom-tags/toggle-resource",
        json={"tag_ids": [tag], "resource_type": 1, "resource_ids": ["b@acme.example.com"], "assign": True},
    )
    tagged = await start(tenant, ENABLE, {"include_all_emails": True, "filter": {"tag_id": tag, "filter": None}})
    await run_queued_job(session, connection, tagged["id"])
    assert (await warmup_states(tenant))["b@acme.example.com"] == 1
    assert (await job(tenant, tagged["id"]))["data"]["success_count"] == 1

    untagged = await start(tenant, DISABLE, {"include_all_emails": True, "filter": {"tag_id": "no-tag"}})
    await run_queued_job(session, connection, untagged["id"])
    assert await warmup_states(tenant) == {
        "a@acme.example.com": 0,
        "b@acme.example.com": 1,
        "c@acme.example.com": 0,
        "d@other.example.com": 0,
    }


async def test_a_permanent_suspension_is_not_re_enabled(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    await add_account(session, tenant.id, "suspended@example.com", warmup_status=-3)
    await add_account(session, tenant.id, "banned@example.com", warmup_status=-1)
    queued = await start(tenant, ENABLE, {"emails": ["suspended@example.com", "banned@example.com"]})
    await run_queued_job(session, connection, queued["id"])
    assert await warmup_states(tenant) == {"suspended@example.com": -3, "banned@example.com": 1}
    data = (await job(tenant, queued["id"]))["data"]
    assert (data["success_count"], data["failed_count"], data["failed_emails"]) == (1, 1, ["suspended@example.com"])


async def test_the_job_works_in_batches_and_reports_progress(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(7):
        await add_account(session, tenant.id, f"u{i}@example.com")
    monkeypatch.setattr(tasks, "BATCH_SIZE", 3)
    seen: list[int] = []
    original = tasks.AccountRepository.set_warmup

    async def spy(self: Any, ids: Any, **kwargs: Any) -> Any:
        seen.append(len(ids))
        return await original(self, ids, **kwargs)

    monkeypatch.setattr(tasks.AccountRepository, "set_warmup", spy)
    queued = await start(tenant, ENABLE, {"include_all_emails": True})
    await run_queued_job(session, connection, queued["id"])
    assert seen == [3, 3, 1]
    done = await job(tenant, queued["id"])
    assert done["status"] == "success" and done["data"]["success_count"] == 7


async def test_running_the_job_twice_ends_in_the_same_state(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    await create_account(tenant, "a@example.com")
    queued = await start(tenant, ENABLE, {"emails": ["a@example.com", "nobody@example.com"]})
    payload = await queued_job_payload(session, queued["id"])
    await run_queued_job(session, connection, queued["id"])
    first = await job(tenant, queued["id"])
    await session.execute(
        text("UPDATE background_jobs SET status = 'in-progress' WHERE id = :i"), {"i": queued["id"]}
    )  # as if its worker died after finishing the work
    await run_job(async_sessionmaker(bind=connection, join_transaction_mode="create_savepoint"), payload)
    again = await job(tenant, queued["id"])
    assert again["status"] == "success" and again["data"] == first["data"]
    assert (await account_row(session, tenant.id, "a@example.com")).warmup_status == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (None, 400, "emails"),
        ({}, 400, "emails"),
        ({"emails": []}, 400, "emails"),
        ({"include_all_emails": False}, 400, "emails"),
        ({"emails": [f"u{i}@example.com" for i in range(101)]}, 400, "emails"),
        ({"include_all_emails": True, "excluded_emails": [f"u{i}@example.com" for i in range(101)]}, 400, "excluded"),
        ({"emails": "a@example.com"}, 400, "emails"),
        ({"include_all_emails": True, "filter": {"filter": "ACC_FILTER_NOPE"}}, 400, "filter"),
        ({"include_all_emails": True, "filter": {"tag_id": "not-a-tag"}}, 400, "tag_id"),
        ({"include_all_emails": True, "filter": {"tag_id": str(uuid.uuid4())}}, 404, "tag"),
        ({"include_all_emails": True, "search": "a\x00b"}, 400, "search"),
    ],
)
async def test_validation(tenant: Tenant, body: dict[str, Any] | None, status: int, field: str) -> None:
    await create_account(tenant, "a@example.com")
    response = await tenant.post(ENABLE, json=body) if body is not None else await tenant.post(ENABLE)
    assert field in assert_envelope(response, status)["message"]


async def test_a_tag_of_another_workspace_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = (await other_tenant.post("/api/v2/custom-tags", json={"label": "Theirs"})).json()["id"]
    response = await tenant.post(ENABLE, json={"include_all_emails": True, "filter": {"tag_id": theirs}})
    assert_envelope(response, 404)

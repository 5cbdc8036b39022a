"""`POST /leads/move`: the request queues a `move-leads` job; the job, run for real, moves or copies
the selected leads in batches, skips duplicates, and records its counts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from coldsend.kit.clock import utcnow
from coldsend.kit.jobs import run_job
from coldsend.leads import move as move_module
from tests.conftest import Tenant
from tests.leads._listing_helpers import (
    MOVE,
    add_campaign,
    add_lead,
    add_list,
    emails,
    job_maker,
    lead_row,
    leads_of,
    move,
    queued_payload,
    run_move,
)

pytestmark = pytest.mark.asyncio


async def test_the_request_returns_a_pending_job(tenant: Tenant, session: AsyncSession) -> None:
    source = await add_list(session, tenant.id, "Source")
    target = await add_campaign(session, tenant.id, "Target")
    response = await move(tenant, list_id=str(source), to_campaign_id=str(target), copy_leads=True)
    assert response.status_code == 200, response.text
    job = response.json()
    assert len(job["id"]) == 24
    assert job["type"] == "move-leads" and job["status"] == "pending" and job["progress"] == 0
    assert job["workspace_id"] == str(tenant.id)
    assert job["entity_type"] == "campaign" and job["entity_id"] == str(target)
    assert job["data"]["list_id"] == str(source) and job["data"]["copy_leads"] is True
    polled = await tenant.get(f"/api/v2/background-jobs/{job['id']}")
    assert polled.status_code == 200 and polled.json()["status"] == "pending"


async def test_moving_a_list_into_a_campaign(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    source = await add_list(session, tenant.id, "Source")
    target = await add_campaign(session, tenant.id, "Target")
    now = utcnow()
    ids = [
        await add_lead(
            session,
            tenant.id,
            f"p{i}@example.com",
            list_id=source,
            first_name=f"P{i}",
            email_open_count=i,
            timestamp_last_open=now,
            lt_interest_status=1,
            status=3,
            last_step_from="campaign",
            last_step_id=uuid.uuid4(),
            status_summary={"lastStep": {"from": "campaign"}},
            email_opened_step=2,
            payload={"city": "Paris"},
        )
        for i in range(3)
    ]
    done = await run_move(tenant, connection, list_id=str(source), to_campaign_id=str(target))
    assert done["status"] == "success" and done["progress"] == 100
    data = done["data"]
    assert data["moved_leads"] == 3 and data["total_count"] == 3 and data["skipped_count"] == 0
    assert data["moved_lead_emails"] == ["p0@example.com", "p1@example.com", "p2@example.com"]
    assert "resume_after" not in data
    moved = await leads_of(session, tenant.id, campaign_id=target)
    assert [r.id for r in moved] == ids  # the same leads, moved (ids kept)
    assert await leads_of(session, tenant.id, list_id=source) == []
    row = moved[1]
    assert row.list_id is None and row.first_name == "P1" and row.email_open_count == 1
    assert row.timestamp_last_open is not None and row.lt_interest_status == 1  # history and interest kept
    assert row.status == 1 and row.last_step_id is None and row.status_summary == {}  # starts the campaign afresh
    assert row.email_opened_step is None and row.payload == {"city": "Paris"}
    # the campaign learned the leads' variable names, as an import teaches it
    campaign = await tenant.get(f"/api/v2/campaigns/{target}")
    assert campaign.json()["custom_variables"] == {"city": ""}


async def test_copying_leaves_the_originals(tenant: Tenant, session: AsyncSession, connection: AsyncConnection) -> None:
    source = await add_campaign(session, tenant.id, "Source")
    target = await add_list(session, tenant.id, "Target")
    originals = [await add_lead(session, tenant.id, f"c{i}@example.com", campaign_id=source) for i in range(4)]
    done = await run_move(tenant, connection, campaign=str(source), to_list_id=str(target), copy_leads=True)
    assert done["data"]["moved_leads"] == 4
    copies = await leads_of(session, tenant.id, list_id=target)
    assert [r.email for r in copies] == [f"c{i}@example.com" for i in range(4)]
    assert not {r.id for r in copies} & set(originals)
    assert all(r.campaign_id is None and r.organization_id == tenant.id for r in copies)
    assert [r.id for r in await leads_of(session, tenant.id, campaign_id=source)] == originals
    assert copies[0].id.version == 7  # UUIDv7 from Python


async def test_duplicates_in_the_destination_are_skipped(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    source = await add_list(session, tenant.id, "Source")
    target = await add_campaign(session, tenant.id, "Target")
    other_list = await add_list(session, tenant.id, "Other")
    await add_lead(session, tenant.id, "both@example.com", campaign_id=target)
    stays = await add_lead(session, tenant.id, "both@example.com", list_id=source)
    await add_lead(session, tenant.id, "new@example.com", list_id=source)
    await add_lead(session, tenant.id, "twice@example.com", list_id=source)
    second = await add_lead(session, tenant.id, "twice@example.com", list_id=other_list)
    done = await run_move(tenant, connection, in_list=True, to_campaign_id=str(target), check_duplicates=True)
    data = done["data"]
    assert data["total_count"] == 4
    assert data["moved_leads"] == 2 and data["duplicate_count"] == 2 and data["skipped_count"] == 2
    assert sorted(data["moved_lead_emails"]) == ["new@example.com", "twice@example.com"]
    assert (await lead_row(session, tenant.id, stays)).list_id == source  # a skipped lead stays
    assert (await lead_row(session, tenant.id, second)).list_id == other_list  # the older "twice" went
    assert sorted(r.email for r in await leads_of(session, tenant.id, campaign_id=target)) == [
        "both@example.com",
        "new@example.com",
        "twice@example.com",
    ]


async def test_check_duplicates_in_campaigns(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    source = await add_list(session, tenant.id, "Source")
    elsewhere = await add_campaign(session, tenant.id, "Elsewhere")
    target = await add_list(session, tenant.id, "Target")
    await add_lead(session, tenant.id, "busy@example.com", campaign_id=elsewhere)
    await add_lead(session, tenant.id, "busy@example.com", list_id=source)
    await add_lead(session, tenant.id, "free@example.com", list_id=source)
    done = await run_move(
        tenant, connection, list_id=str(source), to_list_id=str(target), check_duplicates_in_campaigns=True
    )
    assert done["data"]["moved_lead_emails"] == ["free@example.com"]
    assert done["data"]["in_other_campaigns_count"] == 1
    # without the flag both go
    again = await run_move(tenant, connection, list_id=str(source), to_list_id=str(target))
    assert again["data"]["moved_lead_emails"] == ["busy@example.com"]


async def test_a_campaign_lead_is_not_its_own_duplicate(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    a = await add_campaign(session, tenant.id, "A")
    b = await add_campaign(session, tenant.id, "B")
    await add_lead(session, tenant.id, "solo@example.com", campaign_id=a)
    done = await run_move(
        tenant, connection, campaign=str(a), to_campaign_id=str(b), check_duplicates_in_campaigns=True
    )
    assert done["data"]["moved_lead_emails"] == ["solo@example.com"]


async def test_leads_in_verification_and_without_email(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    source = await add_list(session, tenant.id, "Source")
    target = await add_campaign(session, tenant.id, "Target")
    await add_lead(session, tenant.id, "pending@example.com", list_id=source, verification_status=11)
    await add_lead(session, tenant.id, "job@example.com", list_id=source, verification_status=12)
    await add_lead(session, tenant.id, "ok@example.com", list_id=source, verification_status=1)
    nameless = await add_lead(session, tenant.id, None, list_id=source, first_name="No", last_name="Email")
    done = await run_move(
        tenant, connection, list_id=str(source), to_campaign_id=str(target), skip_leads_in_verification=True
    )
    data = done["data"]
    assert data["moved_lead_emails"] == ["ok@example.com"]
    assert data["in_verification_count"] == 2 and data["without_email_count"] == 1 and data["skipped_count"] == 3
    assert (await lead_row(session, tenant.id, nameless)).list_id == source
    # into a list, a lead without an email is fine
    other = await add_list(session, tenant.id, "Other")
    done = await run_move(tenant, connection, list_id=str(source), to_list_id=str(other))
    assert done["data"]["moved_leads"] == 3 and done["data"]["moved_lead_emails"] == [
        "pending@example.com",
        "job@example.com",
    ]
    assert (await lead_row(session, tenant.id, nameless)).list_id == other


async def test_reset_interest_assignment_and_kept_statuses(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    source = await add_campaign(session, tenant.id, "Source")
    target = await add_campaign(session, tenant.id, "Target")
    owner = uuid.uuid4()
    bounced = await add_lead(session, tenant.id, "b@example.com", campaign_id=source, status=-1, lt_interest_status=2)
    unsub = await add_lead(session, tenant.id, "u@example.com", campaign_id=source, status=-2)
    paused = await add_lead(session, tenant.id, "p@example.com", campaign_id=source, status=2)
    await run_move(
        tenant,
        connection,
        campaign=str(source),
        to_campaign_id=str(target),
        reset_interest_status=True,
        assigned_to=str(owner),
    )
    rows = {i: await lead_row(session, tenant.id, i) for i in (bounced, unsub, paused)}
    assert [rows[i].status for i in (bounced, unsub, paused)] == [-1, -2, 1]
    assert all(r.lt_interest_status is None and r.assigned_to == owner for r in rows.values())
    assert rows[bounced].timestamp_last_interest_change is not None
    assert rows[paused].timestamp_last_interest_change is None  # it had no interest status to reset


async def test_the_filter_set_selects_what_moves(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    source = await add_campaign(session, tenant.id, "Source")
    target = await add_list(session, tenant.id, "Target")
    now = utcnow()
    keep = await add_lead(
        session,
        tenant.id,
        "john.keep@example.com",
        campaign_id=source,
        first_name="John",
        email_reply_count=1,
        timestamp_last_reply=now,
    )
    await add_lead(
        session,
        tenant.id,
        "john.go@example.com",
        campaign_id=source,
        first_name="John",
        email_reply_count=1,
        timestamp_last_reply=now,
    )
    await add_lead(
        session,
        tenant.id,
        "john.stale@example.com",
        campaign_id=source,
        first_name="John",
        email_reply_count=1,
        timestamp_last_reply=now - timedelta(days=10),
    )
    await add_lead(
        session, tenant.id, "mary@example.com", campaign_id=source, email_reply_count=1, timestamp_last_reply=now
    )
    done = await run_move(
        tenant,
        connection,
        campaign=str(source),
        to_list_id=str(target),
        search="john",
        filter="FILTER_VAL_REPLIED",
        queries=[{"actionType": "reply", "values": {"occurrence-days": 3}}],
        excluded_ids=[str(keep)],
    )
    assert done["data"]["moved_lead_emails"] == ["john.go@example.com"]
    ids_done = await run_move(
        tenant,
        connection,
        campaign=str(source),
        to_list_id=str(target),
        ids=[str(keep)],
        contacts=["JOHN.KEEP@example.com"],
    )
    assert ids_done["data"]["moved_lead_emails"] == ["john.keep@example.com"]


async def test_limit_and_batches(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(move_module, "BATCH_SIZE", 3)
    source = await add_list(session, tenant.id, "Source")
    target = await add_list(session, tenant.id, "Target")
    for i in range(10):
        await add_lead(session, tenant.id, f"n{i:02d}@example.com", list_id=source)
    done = await run_move(tenant, connection, list_id=str(source), to_list_id=str(target), limit=7)
    assert done["data"]["total_count"] == 7 and done["data"]["moved_leads"] == 7
    assert done["data"]["moved_lead_emails"] == [f"n{i:02d}@example.com" for i in range(7)]
    rest = await run_move(tenant, connection, list_id=str(source), to_list_id=str(target))
    assert rest["data"]["moved_lead_emails"] == [f"n{i:02d}@example.com" for i in range(7, 10)]


async def test_moved_emails_are_capped(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(move_module, "MAX_MOVED_EMAILS", 4)
    monkeypatch.setattr(move_module, "BATCH_SIZE", 3)
    source = await add_list(session, tenant.id, "Source")
    target = await add_list(session, tenant.id, "Target")
    for i in range(9):
        await add_lead(session, tenant.id, f"m{i}@example.com", list_id=source)
    done = await run_move(tenant, connection, list_id=str(source), to_list_id=str(target))
    assert done["data"]["moved_leads"] == 9
    assert done["data"]["moved_lead_emails"] == [f"m{i}@example.com" for i in range(4)]


async def test_a_rerun_resumes_after_the_last_committed_batch(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that dies mid-job: its committed batches stay done, the rerun does the rest, and the
    counts come out as if it had never stopped (copies would otherwise be counted as duplicates)."""
    monkeypatch.setattr(move_module, "BATCH_SIZE", 2)
    source = await add_list(session, tenant.id, "Source")
    target = await add_list(session, tenant.id, "Target")
    for i in range(5):
        await add_lead(session, tenant.id, f"r{i}@example.com", list_id=source)
    response = await move(tenant, list_id=str(source), to_list_id=str(target), copy_leads=True)
    job_id = response.json()["id"]
    payload = await queued_payload(session, job_id)

    real_land = move_module.LeadMover._land
    calls = 0

    async def dying_land(self: Any, repo: Any, rows: Any) -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise SystemExit("worker killed")  # not an Exception: run_job does not mark the job failed
        return await real_land(self, repo, rows)

    monkeypatch.setattr(move_module.LeadMover, "_land", dying_land)
    with pytest.raises(SystemExit):
        await run_job(job_maker(connection), payload)
    halfway = (await tenant.get(f"/api/v2/background-jobs/{job_id}")).json()
    assert halfway["status"] == "in-progress" and halfway["data"]["moved_leads"] == 2
    assert 0 < halfway["progress"] < 100 and "resume_after" in halfway["data"]

    monkeypatch.setattr(move_module.LeadMover, "_land", real_land)
    await run_job(job_maker(connection), payload)
    done = (await tenant.get(f"/api/v2/background-jobs/{job_id}")).json()
    assert done["status"] == "success"
    assert done["data"]["moved_leads"] == 5 and done["data"]["duplicate_count"] == 0
    assert done["data"]["moved_lead_emails"] == [f"r{i}@example.com" for i in range(5)]
    assert len(await leads_of(session, tenant.id, list_id=target)) == 5


async def test_an_address_taken_meanwhile_leaves_that_lead_behind(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the duplicate check and the UPDATE another request adds the address to the destination:
    the batch falls back to one lead at a time and only that lead stays."""
    source = await add_list(session, tenant.id, "Source")
    target = await add_campaign(session, tenant.id, "Target")
    await add_lead(session, tenant.id, "race@example.com", list_id=source)
    await add_lead(session, tenant.id, "calm@example.com", list_id=source)
    real_emails_in = move_module.MoveRepository.emails_in

    async def racing_emails_in(self: Any, destination: Any, emails_: Any) -> set[str]:
        found = await real_emails_in(self, destination, emails_)
        await add_lead(session, tenant.id, "race@example.com", campaign_id=target)
        return found

    monkeypatch.setattr(move_module.MoveRepository, "emails_in", racing_emails_in)
    done = await run_move(tenant, connection, list_id=str(source), to_campaign_id=str(target))
    assert done["status"] == "success"
    assert done["data"]["moved_lead_emails"] == ["calm@example.com"] and done["data"]["duplicate_count"] == 1
    assert [r.email for r in await leads_of(session, tenant.id, list_id=source)] == ["race@example.com"]


async def test_a_destination_deleted_before_the_job_runs_fails_it(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    source = await add_list(session, tenant.id, "Source")
    target = await add_campaign(session, tenant.id, "Target")
    await add_lead(session, tenant.id, "x@example.com", list_id=source)
    response = await move(tenant, list_id=str(source), to_campaign_id=str(target))
    job_id = response.json()["id"]
    await session.execute(text("DELETE FROM campaigns WHERE id = :i"), {"i": target})
    await run_job(job_maker(connection), await queued_payload(session, job_id))
    failed = (await tenant.get(f"/api/v2/background-jobs/{job_id}")).json()
    assert failed["status"] == "failed"
    assert [r.email for r in await leads_of(session, tenant.id, list_id=source)] == ["x@example.com"]


async def test_leads_already_in_the_destination_are_not_selected(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    target = await add_campaign(session, tenant.id, "Target")
    await add_lead(session, tenant.id, "here@example.com", campaign_id=target)
    done = await run_move(tenant, connection, in_campaign=True, to_campaign_id=str(target), copy_leads=True)
    assert done["data"]["total_count"] == 0 and done["data"]["moved_leads"] == 0
    assert done["data"]["moved_lead_emails"] == []


# -- tenancy ------------------------------------------------------------------------------------------


async def test_nothing_moves_across_workspaces(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    mine = await add_list(session, tenant.id, "Mine")
    my_campaign = await add_campaign(session, tenant.id, "Mine")
    theirs = await add_list(session, other_tenant.id, "Theirs")
    their_campaign = await add_campaign(session, other_tenant.id, "Theirs")
    their_lead = await add_lead(session, other_tenant.id, "theirs@example.com", list_id=theirs)
    await add_lead(session, tenant.id, "mine@example.com", list_id=mine)
    for body in (
        {"list_id": str(theirs), "to_list_id": str(mine)},  # out of theirs
        {"list_id": str(mine), "to_list_id": str(theirs)},  # into theirs
        {"list_id": str(mine), "to_campaign_id": str(their_campaign)},
        {"campaign": str(their_campaign), "to_campaign_id": str(my_campaign)},
        {"list_id": str(uuid.uuid4()), "to_campaign_id": str(my_campaign)},
        {"list_id": str(mine), "to_list_id": str(uuid.uuid4())},
    ):
        response = await move(tenant, **body)
        assert response.status_code == 404, (body, response.text)
    # their lead named by id from our list selects nothing; a workspace-wide move takes only ours
    done = await run_move(tenant, connection, list_id=str(mine), ids=[str(their_lead)], to_campaign_id=str(my_campaign))
    assert done["data"]["total_count"] == 0
    done = await run_move(tenant, connection, to_campaign_id=str(my_campaign))
    assert done["data"]["moved_lead_emails"] == ["mine@example.com"]
    assert (await lead_row(session, other_tenant.id, their_lead)).list_id == theirs
    # and their job is theirs alone
    other_job = (await move(other_tenant, list_id=str(theirs), to_campaign_id=str(their_campaign))).json()
    assert (await tenant.get(f"/api/v2/background-jobs/{other_job['id']}")).status_code == 404


async def test_scopes(tenant: Tenant, session: AsyncSession) -> None:
    target = await add_list(session, tenant.id, "Target")
    for scope in ("leads:update", "leads:all", "all:update", "all:all"):
        key = await tenant.key_with(scope)
        response = await tenant.client.post(
            MOVE, json={"to_list_id": str(target)}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200, (scope, response.text)
    for scope in ("leads:read", "leads:create", "lead_lists:update"):
        key = await tenant.key_with(scope)
        response = await tenant.client.post(
            MOVE, json={"to_list_id": str(target)}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 403, (scope, response.text)


# -- bad requests -------------------------------------------------------------------------------------


async def test_bad_requests_are_400_naming_the_field(tenant: Tenant, session: AsyncSession) -> None:
    campaign = await add_campaign(session, tenant.id, "C")
    lst = await add_list(session, tenant.id, "L")
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "'to_campaign_id', 'to_list_id'"),
        ({"to_campaign_id": str(campaign), "to_list_id": str(lst)}, "'to_campaign_id', 'to_list_id'"),
        ({"to_list_id": str(lst), "ids": [str(uuid.uuid4())]}, "body/ids"),
        ({"to_list_id": "nope"}, "body/to_list_id"),
        ({"to_list_id": str(lst), "limit": 0}, "body/limit"),
        ({"to_list_id": str(lst), "limit": 2.5}, "body/limit"),
        ({"to_list_id": str(lst), "limit": 2**64}, "body/limit"),
        ({"to_list_id": str(lst), "filter": "FILTER_NOPE"}, "body/filter"),
        ({"to_list_id": str(lst), "esp_code": 4}, "body/esp_code"),
        ({"to_list_id": str(lst), "copy_leads": "maybe"}, "body/copy_leads"),
        ({"to_list_id": str(lst), "queries": [{"actionType": "lead-status", "values": {}}]}, "lead-status"),
    ]
    for body, field in cases:
        response = await move(tenant, **body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["message"], (body, response.json()["message"])
    # nothing was queued by the refused requests
    jobs = (await tenant.get("/api/v2/background-jobs", params={"type": "move-leads"})).json()["items"]
    assert jobs == []


async def test_listing_filters_still_list_what_moved(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    source = await add_list(session, tenant.id, "Source")
    target = await add_campaign(session, tenant.id, "Target")
    await add_lead(session, tenant.id, "z@example.com", list_id=source)
    await run_move(tenant, connection, list_id=str(source), to_campaign_id=str(target))
    assert await emails(tenant, campaign=str(target)) == ["z@example.com"]
    assert await emails(tenant, list_id=str(source)) == []
    assert (await tenant.post(MOVE)).status_code == 400  # a body-less request is a 400 naming the destination


async def test_a_finished_job_run_again_changes_nothing(
    tenant: Tenant, session: AsyncSession, connection: AsyncConnection
) -> None:
    """Its worker died after recording the end but before the job was marked a success: the rerun
    keeps the counts (a copy would otherwise find only duplicates the second time)."""
    source = await add_list(session, tenant.id, "Source")
    target = await add_list(session, tenant.id, "Target")
    await add_lead(session, tenant.id, "once@example.com", list_id=source)
    response = await move(tenant, list_id=str(source), to_list_id=str(target), copy_leads=True)
    job_id = response.json()["id"]
    payload = await queued_payload(session, job_id)
    await run_job(job_maker(connection), payload)
    first = (await tenant.get(f"/api/v2/background-jobs/{job_id}")).json()
    await session.execute(text("UPDATE background_jobs SET status = 'in-progress' WHERE id = :i"), {"i": job_id})
    await run_job(job_maker(connection), payload)
    again = (await tenant.get(f"/api/v2/background-jobs/{job_id}")).json()
    assert again["status"] == "success" and again["data"] == first["data"]
    assert again["data"]["moved_leads"] == 1 and again["data"]["duplicate_count"] == 0
    assert len(await leads_of(session, tenant.id, list_id=target)) == 1

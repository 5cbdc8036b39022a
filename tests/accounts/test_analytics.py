"""POST /accounts/warmup-analytics and GET /accounts/analytics/daily from the stored daily counters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.accounts._helpers import ACCOUNTS, account_row, add_stats, assert_envelope, create_account
from tests.conftest import Tenant
from tests.factories import add_account

WARMUP = f"{ACCOUNTS}/warmup-analytics"
DAILY = f"{ACCOUNTS}/analytics/daily"
TODAY = datetime.now(UTC).date()


async def account_id(session: AsyncSession, tenant: Tenant, email: str) -> Any:
    return (await account_row(session, tenant.id, email)).id


# -- warmup analytics --------------------------------------------------------------------------


async def test_warmup_analytics_without_data_is_zeros(tenant: Tenant) -> None:
    await create_account(tenant, "new@example.com")
    response = await tenant.post(WARMUP, json={"emails": ["New@example.com"]})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "email_date_data": {"new@example.com": {}},
        "aggregate_data": {
            "new@example.com": {
                "sent": 0,
                "received": 0,
                "landed_inbox": 0,
                "landed_spam": 0,
                "health_score_label": "0%",
                "health_score": 0,
            }
        },
    }


async def test_warmup_analytics_from_stored_counters(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    await create_account(tenant, "w@example.com")
    await create_account(tenant, "scored@example.com")
    await create_account(other_tenant, "w@example.com")
    mine = await account_id(session, tenant, "w@example.com")
    theirs = await account_id(session, other_tenant, "w@example.com")
    yesterday = TODAY - timedelta(days=1)
    await add_stats(
        session,
        tenant.id,
        mine,
        TODAY,
        warmup_sent=10,
        warmup_received=9,
        warmup_landed_inbox=8,
        warmup_landed_spam=2,
        sent=99,
    )
    await add_stats(session, tenant.id, mine, yesterday, warmup_sent=5, warmup_received=5, warmup_landed_inbox=5)
    await add_stats(session, tenant.id, mine, TODAY - timedelta(days=40), warmup_sent=100)  # outside the window
    await add_stats(session, other_tenant.id, theirs, TODAY, warmup_sent=1000, warmup_landed_spam=1000)
    await session.execute(
        text("UPDATE accounts SET stat_warmup_score = 92 WHERE organization_id = :o AND email = 'scored@example.com'"),
        {"o": tenant.id},
    )
    body = (await tenant.post(WARMUP, json={"emails": ["w@example.com", "scored@example.com", "x@example.com"]})).json()
    assert body["email_date_data"] == {
        "w@example.com": {
            TODAY.isoformat(): {"sent": 10, "landed_inbox": 8, "landed_spam": 2, "received": 9},
            yesterday.isoformat(): {"sent": 5, "landed_inbox": 5, "landed_spam": 0, "received": 5},
        },
        "scored@example.com": {},
    }
    assert body["aggregate_data"]["w@example.com"] == {
        "sent": 15,
        "received": 14,
        "landed_inbox": 13,
        "landed_spam": 2,
        "health_score_label": "87%",
        "health_score": 87,
    }
    assert body["aggregate_data"]["scored@example.com"]["health_score"] == 92


async def test_warmup_analytics_of_another_workspace_s_accounts_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    await create_account(other_tenant, "theirs@example.com")
    assert_envelope(await tenant.post(WARMUP, json={"emails": ["theirs@example.com"]}), 404)


@pytest.mark.parametrize(
    "body",
    [None, {}, {"emails": []}, {"emails": "a@example.com"}, {"emails": [f"u{i}@example.com" for i in range(101)]}],
)
async def test_warmup_analytics_validation(tenant: Tenant, body: dict[str, Any] | None) -> None:
    response = await tenant.post(WARMUP, json=body) if body is not None else await tenant.post(WARMUP)
    assert_envelope(response, 400)


# -- daily analytics ---------------------------------------------------------------------------


async def test_daily_analytics_rows_per_account_and_day(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    await create_account(tenant, "b@example.com")
    await create_account(tenant, "a@example.com")
    await create_account(other_tenant, "a@example.com")
    a = await account_id(session, tenant, "a@example.com")
    b = await account_id(session, tenant, "b@example.com")
    await add_stats(
        session,
        tenant.id,
        a,
        date(2026, 2, 10),
        sent=5,
        bounced=1,
        contacted=4,
        new_leads_contacted=3,
        opened=6,
        unique_opened=2,
        replies=2,
        unique_replies=1,
        clicks=3,
        unique_clicks=1,
        warmup_sent=40,
    )
    await add_stats(session, tenant.id, b, date(2026, 2, 10), sent=1)
    await add_stats(session, tenant.id, b, date(2026, 2, 11), sent=2)
    await add_stats(session, tenant.id, a, date(2026, 3, 20), sent=9)  # outside the window
    theirs = await account_id(session, other_tenant, "a@example.com")
    await add_stats(session, other_tenant.id, theirs, date(2026, 2, 10), sent=500)

    response = await tenant.get(DAILY, params={"start_date": "2026-02-01", "end_date": "2026-02-28"})
    assert response.status_code == 200, response.text
    rows = response.json()
    assert [(r["date"], r["email_account"], r["sent"]) for r in rows] == [
        ("2026-02-10", "a@example.com", 5),
        ("2026-02-10", "b@example.com", 1),
        ("2026-02-11", "b@example.com", 2),
    ]
    assert rows[0] == {
        "date": "2026-02-10",
        "email_account": "a@example.com",
        "sent": 5,
        "bounced": 1,
        "contacted": 4,
        "new_leads_contacted": 3,
        "opened": 6,
        "unique_opened": 2,
        "replies": 2,
        "unique_replies": 1,
        "replies_automatic": 0,
        "unique_replies_automatic": 0,
        "clicks": 3,
        "unique_clicks": 1,
    }
    window = {"start_date": "2026-02-01", "end_date": "2026-02-28"}
    only_b = (await tenant.get(DAILY, params={**window, "emails": "B@example.com"})).json()
    assert {r["email_account"] for r in only_b} == {"b@example.com"}
    repeated = await tenant.get(
        f"{DAILY}?start_date=2026-02-01&end_date=2026-02-28&emails=a@example.com&emails=b@example.com"
    )
    comma = await tenant.get(DAILY, params={**window, "emails": "a@example.com,b@example.com"})
    assert repeated.json() == comma.json() == rows
    iso = await tenant.get(DAILY, params={"start_date": "2026-02-10T00:00:00Z", "end_date": "2026-02-10T23:59:59.000Z"})
    assert [r["email_account"] for r in iso.json()] == ["a@example.com", "b@example.com"]


async def test_daily_analytics_default_window_ends_today(tenant: Tenant, session: AsyncSession) -> None:
    await create_account(tenant, "a@example.com")
    a = await account_id(session, tenant, "a@example.com")
    await add_stats(session, tenant.id, a, TODAY, sent=1)
    await add_stats(session, tenant.id, a, TODAY - timedelta(days=30), sent=2)
    await add_stats(session, tenant.id, a, TODAY - timedelta(days=31), sent=3)
    rows = (await tenant.get(DAILY)).json()
    assert [r["sent"] for r in rows] == [2, 1]
    assert (await tenant.get(DAILY, params={"end_date": (TODAY - timedelta(days=1)).isoformat()})).json()[0][
        "sent"
    ] == 3


async def test_daily_analytics_without_data_is_an_empty_list(tenant: Tenant) -> None:
    await create_account(tenant, "a@example.com")
    assert (await tenant.get(DAILY, params={"emails": "a@example.com"})).json() == []
    assert (await tenant.get(DAILY)).json() == []


async def test_start_after_end_is_the_reference_400(tenant: Tenant) -> None:
    response = await tenant.get(DAILY, params={"start_date": "2026-02-10", "end_date": "2026-02-01"})
    body = assert_envelope(response, 400)
    assert body["message"] == "Start Date must be earlier than End Date"


async def test_a_window_over_31_days_is_413(tenant: Tenant) -> None:
    await create_account(tenant, "a@example.com")
    ok = await tenant.get(DAILY, params={"start_date": "2026-01-01", "end_date": "2026-02-01"})
    assert ok.status_code == 200
    response = await tenant.get(DAILY, params={"start_date": "2026-01-01", "end_date": "2026-02-02"})
    assert response.status_code == 413
    assert response.json() == {
        "statusCode": 413,
        "error": "Payload Too Large",
        "message": "Analytics request is too large for this workspace. Add an emails filter or request a smaller "
        "date range.",
    }


async def test_no_emails_filter_in_a_workspace_of_more_than_200_accounts_is_413(
    tenant: Tenant, session: AsyncSession
) -> None:
    for i in range(201):
        await add_account(session, tenant.id, f"u{i:03d}@example.com")
    assert (await tenant.get(DAILY)).status_code == 413
    assert (await tenant.get(DAILY, params={"emails": "u000@example.com"})).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-02-30"}, "end_date"),
        ({"emails": ",".join(f"u{i}@example.com" for i in range(201))}, "emails"),
    ],
)
async def test_daily_analytics_validation(tenant: Tenant, params: dict[str, Any], field: str) -> None:
    assert field in assert_envelope(await tenant.get(DAILY, params=params), 400)["message"]


async def test_daily_analytics_of_another_workspace_s_accounts_is_404(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    await create_account(other_tenant, "theirs@example.com")
    theirs = await account_id(session, other_tenant, "theirs@example.com")
    await add_stats(session, other_tenant.id, theirs, TODAY, sent=7)
    assert_envelope(await tenant.get(DAILY, params={"emails": "theirs@example.com"}), 404)
    assert (await tenant.get(DAILY)).json() == []

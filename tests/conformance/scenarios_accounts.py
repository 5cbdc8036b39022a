"""Scenarios for accounts: every operation called for real, answers validated against the reference."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jsonschema.exceptions import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conformance._scenario_kit import expect, new_tag, scenario
from tests.conftest import Tenant

ACCOUNTS = "/api/v2/accounts"


def account_body(email: str, **overrides: Any) -> dict[str, Any]:
    return {
        "email": email,
        "first_name": "Sam",
        "last_name": "Sender",
        "provider_code": 1,
        "imap_username": email,
        "imap_password": "imap-secret",
        "imap_host": "imap.example.com",
        "imap_port": 993,
        "smtp_username": email,
        "smtp_password": "smtp-secret",
        "smtp_host": "smtp.example.com",
        "smtp_port": 587,
        **overrides,
    }


async def new_account(tenant: Tenant, email: str, **overrides: Any) -> dict[str, Any]:
    return expect(await tenant.post(ACCOUNTS, json=account_body(email, **overrides)), 200, "createAccount")


async def account_id(session: AsyncSession, tenant: Tenant, email: str) -> Any:
    statement = text("SELECT id FROM accounts WHERE organization_id = :o AND email = :e")
    return (await session.execute(statement, {"o": tenant.id, "e": email})).scalar_one()


@scenario("createAccount")
async def _create_account(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    full = await new_account(
        tenant,
        "Full@Example.com",
        warmup={"limit": 20, "increment": "1", "advanced": {"open_rate": 0.9}, "reply_rate": 0.1},
        daily_limit=50,
        sending_gap=5,
        signature="Sam",
        reply_to="reply@example.com",
        tracking_domain_name="track.example.com",
        tracking_domain_status="active",
        enable_slow_ramp=False,
        inbox_placement_test_limit=2,
        warmup_custom_ftag="blue",
        skip_cname_check=True,
    )
    assert full["email"] == "full@example.com" and full["organization"] == str(tenant.id)
    await new_account(tenant, "minimal@example.com")
    expect(await tenant.post(ACCOUNTS, json=account_body("minimal@example.com")), 409, "createAccount")
    expect(await tenant.post(ACCOUNTS, json=account_body("bad", smtp_port=0)), 400, "createAccount")
    expect(await tenant.post(ACCOUNTS, json={"email": "x@example.com"}), 400, "createAccount")
    await new_account(other, "minimal@example.com")


def _tags_beside_account(error: ValidationError) -> bool:
    """The reference lists items as `allOf [Account, {tags}]` while Account forbids extra properties,
    so `tags` (which `include_tags` documents) can never validate against it: tolerate that one."""
    return error.validator == "additionalProperties" and "'tags'" in error.message


@scenario("listAccount")
async def _list_account(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    assert expect(await tenant.get(ACCOUNTS), 200, "listAccount") == {"items": []}
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        await new_account(tenant, email)
    await new_account(other, "theirs@example.com")
    first = expect(await tenant.get(ACCOUNTS, params={"limit": 2}), 200, "listAccount")
    assert len(first["items"]) == 2 and "&" in first["next_starting_after"]
    rest = expect(
        await tenant.get(ACCOUNTS, params={"limit": 2, "starting_after": first["next_starting_after"]}),
        200,
        "listAccount",
    )
    assert [a["email"] for a in first["items"] + rest["items"]] == ["a@example.com", "b@example.com", "c@example.com"]
    tag = await new_tag(tenant, "Senders", "the main ones")
    toggled = await tenant.post(
        "/api/v2/custom-tags/toggle-resource",
        json={"tag_ids": [tag["id"]], "resource_type": 1, "resource_ids": ["a@example.com"], "assign": True},
    )
    assert toggled.status_code == 200, toggled.text
    with_tags = expect(
        await tenant.get(ACCOUNTS, params={"include_tags": "true", "tag_ids": tag["id"]}),
        200,
        "listAccount",
        tolerate=_tags_beside_account,
    )
    assert with_tags["items"][0]["tags"] == [{"id": tag["id"], "label": "Senders", "description": "the main ones"}]
    params = {
        "search": "example",
        "status": 1,
        "provider_code": 1,
        "filter": "ACC_FILTER_W_PAUSED",
        "sort_by": "email",
        "sort_order": "desc",
        "skip": 1,
    }
    sorted_page = expect(await tenant.get(ACCOUNTS, params=params), 200, "listAccount")
    assert [a["email"] for a in sorted_page["items"]] == ["b@example.com", "a@example.com"]
    legacy = expect(
        await tenant.get(ACCOUNTS, params={"starting_after": "2000-01-01T00:00:00.000Z"}), 200, "listAccount"
    )
    assert len(legacy["items"]) == 3


@scenario("getAccount")
async def _get_account(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    account = await new_account(tenant, "fetched@example.com")
    assert expect(await tenant.get(f"{ACCOUNTS}/Fetched%40Example.com"), 200, "getAccount") == account
    await session.execute(
        text(
            "UPDATE accounts SET status = -1, status_message = CAST(:m AS jsonb), stat_warmup_score = 88.5, "
            "timestamp_warmup_start = now() WHERE organization_id = :o"
        ),
        {"m": '{"code": "EAUTH", "command": "AUTH PLAIN", "responseCode": 535}', "o": tenant.id},
    )
    expect(await tenant.get(f"{ACCOUNTS}/fetched@example.com"), 200, "getAccount")
    expect(await tenant.get(f"{ACCOUNTS}/nobody@example.com"), 404, "getAccount")
    expect(await other.get(f"{ACCOUNTS}/fetched@example.com"), 404, "getAccount")


@scenario("patchAccount")
async def _patch_account(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    await new_account(tenant, "patched@example.com", tracking_domain_name="t.example.com")
    url = f"{ACCOUNTS}/patched@example.com"
    patched = expect(
        await tenant.patch(
            url,
            json={
                "first_name": "Pat",
                "warmup": {"limit": 30, "advanced": {"weekday_only": True}},
                "daily_limit": None,
                "sending_gap": 0,
                "reply_to": None,
                "remove_tracking_domain": True,
            },
        ),
        200,
        "patchAccount",
    )
    assert patched["first_name"] == "Pat" and patched["tracking_domain_name"] is None
    expect(await tenant.patch(url, json={}), 400, "patchAccount")
    expect(await tenant.patch(url, json={"sending_gap": 5000}), 400, "patchAccount")
    expect(await tenant.patch(f"{ACCOUNTS}/nobody@example.com", json={"first_name": "x"}), 404, "patchAccount")
    expect(await other.patch(url, json={"first_name": "Stolen"}), 404, "patchAccount")


@scenario("deleteAccount")
async def _delete_account(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    account = await new_account(tenant, "doomed@example.com")
    url = f"{ACCOUNTS}/doomed@example.com"
    expect(await other.delete(url), 404, "deleteAccount")
    assert expect(await tenant.delete(url), 200, "deleteAccount") == account
    expect(await tenant.delete(url), 404, "deleteAccount")


@scenario("pauseAccounts")
async def _pause_accounts(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    await new_account(tenant, "one@example.com")
    await new_account(other, "theirs@example.com")
    body = expect(
        await tenant.post(f"{ACCOUNTS}/pause", json={"emails": ["one@example.com", "theirs@example.com"]}),
        200,
        "pauseAccounts",
    )
    assert body == {"paused_emails": ["one@example.com"], "failed_emails": ["theirs@example.com"]}
    expect(await tenant.post(f"{ACCOUNTS}/pause", json={"emails": []}), 400, "pauseAccounts")


@scenario("pauseAccount")
async def _pause_account(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    await new_account(tenant, "p@example.com")
    assert expect(await tenant.post(f"{ACCOUNTS}/p@example.com/pause"), 200, "pauseAccount")["status"] == 2
    expect(await other.post(f"{ACCOUNTS}/p@example.com/pause"), 404, "pauseAccount")


@scenario("resumeAccount")
async def _resume_account(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    await new_account(tenant, "r@example.com")
    await tenant.post(f"{ACCOUNTS}/r@example.com/pause")
    assert expect(await tenant.post(f"{ACCOUNTS}/r@example.com/resume"), 200, "resumeAccount")["status"] == 1
    expect(await other.post(f"{ACCOUNTS}/r@example.com/resume"), 404, "resumeAccount")


@scenario("markAccountFixed")
async def _mark_account_fixed(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    await new_account(tenant, "f@example.com")
    await session.execute(
        text('UPDATE accounts SET status = -2, status_message = \'{"code": "EENVELOPE"}\' WHERE organization_id = :o'),
        {"o": tenant.id},
    )
    fixed = expect(await tenant.post(f"{ACCOUNTS}/f@example.com/mark-fixed"), 200, "markAccountFixed")
    assert fixed["status"] == 1 and "status_message" not in fixed
    expect(await other.post(f"{ACCOUNTS}/f@example.com/mark-fixed"), 404, "markAccountFixed")


async def _warmup_scenario(tenant: Tenant, other: Tenant, path: str, operation_id: str) -> None:
    await new_account(tenant, "w@example.com")
    await new_account(other, "theirs@example.com")
    job = expect(await tenant.post(path, json={"emails": ["w@example.com"]}), 200, operation_id)
    assert job["type"] == "update-warmup-accounts" and job["entity_id"] == str(tenant.id)
    everything = expect(
        await tenant.post(
            path,
            json={
                "include_all_emails": True,
                "excluded_emails": ["x@example.com"],
                "filter": {"filter": "ACC_FILTER_W_PAUSED"},
                "search": "example",
            },
        ),
        200,
        operation_id,
    )
    assert everything["status"] == "pending"
    expect(await tenant.post(path, json={}), 400, operation_id)
    expect(await tenant.post(path, json={"emails": ["theirs@example.com"]}), 404, operation_id)


@scenario("enableWarmupForAccounts")
async def _enable_warmup(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    await _warmup_scenario(tenant, other, f"{ACCOUNTS}/warmup/enable", "enableWarmupForAccounts")


@scenario("disableWarmupForAccounts")
async def _disable_warmup(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    await _warmup_scenario(tenant, other, f"{ACCOUNTS}/warmup/disable", "disableWarmupForAccounts")


@scenario("getWarmupAnalytics")
async def _warmup_analytics(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    await new_account(tenant, "w@example.com")
    await new_account(tenant, "quiet@example.com")
    today = datetime.now(UTC).date()
    await session.execute(
        text(
            "INSERT INTO account_daily_stats (organization_id, account_id, day, warmup_sent, warmup_received, "
            "warmup_landed_inbox, warmup_landed_spam) VALUES (:o, :a, :d, 10, 9, 8, 2)"
        ),
        {"o": tenant.id, "a": await account_id(session, tenant, "w@example.com"), "d": today},
    )
    body = expect(
        await tenant.post(f"{ACCOUNTS}/warmup-analytics", json={"emails": ["w@example.com", "quiet@example.com"]}),
        200,
        "getWarmupAnalytics",
    )
    assert body["aggregate_data"]["w@example.com"]["health_score"] == 80
    expect(await tenant.post(f"{ACCOUNTS}/warmup-analytics", json={"emails": []}), 400, "getWarmupAnalytics")
    expect(
        await other.post(f"{ACCOUNTS}/warmup-analytics", json={"emails": ["w@example.com"]}), 404, "getWarmupAnalytics"
    )


@scenario("getDailyAccountAnalytics")
async def _daily_analytics(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    url = f"{ACCOUNTS}/analytics/daily"
    await new_account(tenant, "d@example.com")
    await session.execute(
        text(
            "INSERT INTO account_daily_stats (organization_id, account_id, day, sent, opened, replies) "
            "VALUES (:o, :a, '2026-02-10', 5, 3, 1)"
        ),
        {"o": tenant.id, "a": await account_id(session, tenant, "d@example.com")},
    )
    window = {"start_date": "2026-02-01", "end_date": "2026-02-28"}
    rows = expect(await tenant.get(url, params={**window, "emails": "d@example.com"}), 200, "getDailyAccountAnalytics")
    assert [(r["date"], r["email_account"], r["sent"]) for r in rows] == [("2026-02-10", "d@example.com", 5)]
    assert expect(await tenant.get(url), 200, "getDailyAccountAnalytics") == []
    backwards = {"start_date": "2026-02-10", "end_date": "2026-02-01"}
    body = expect(await tenant.get(url, params=backwards), 400, "getDailyAccountAnalytics")
    assert body["message"] == "Start Date must be earlier than End Date"
    too_long = {"start_date": "2026-01-01", "end_date": "2026-03-01"}
    expect(await tenant.get(url, params=too_long), 413, "getDailyAccountAnalytics")
    expect(await other.get(url, params={"emails": "d@example.com"}), 404, "getDailyAccountAnalytics")

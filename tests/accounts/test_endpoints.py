"""Accounts over HTTP against the real database: create, get, patch, delete, pause, resume, mark-fixed."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.config import Settings
from coldsend.kit.crypto import secret_box
from tests.accounts._helpers import (
    ACCOUNTS,
    IMAP_PASSWORD,
    SMTP_PASSWORD,
    account_body,
    account_row,
    assert_envelope,
    create_account,
    forget_queued_checks,
    queued_connection_checks,
)
from tests.conftest import Tenant

ACCOUNT_FIELDS = {
    "email",
    "timestamp_created",
    "timestamp_updated",
    "first_name",
    "last_name",
    "warmup",
    "added_by",
    "daily_limit",
    "daily_limit_max",
    "warmup_limit_max",
    "modified_by",
    "tracking_domain_name",
    "tracking_domain_status",
    "status",
    "enable_slow_ramp",
    "inbox_placement_test_limit",
    "organization",
    "warmup_status",
    "timestamp_warmup_start",
    "provider_code",
    "setup_pending",
    "is_managed_account",
    "stat_warmup_score",
    "sending_gap",
    "signature",
    "reply_to",
    "autofix_failed",
}


# -- create ------------------------------------------------------------------------------------


async def test_create_returns_the_account_in_the_reference_shape(tenant: Tenant) -> None:
    account = await create_account(
        tenant,
        "Sam.Sender@Example.com",
        warmup={"limit": 20, "increment": "2", "advanced": {"open_rate": 0.9, "weekday_only": True}},
        daily_limit=50,
        sending_gap=15,
        signature="Sam",
        reply_to="Replies@Example.com",
        tracking_domain_name="track.example.com",
        tracking_domain_status="active",
        enable_slow_ramp=True,
        inbox_placement_test_limit=3,
        warmup_custom_ftag="blue",
        provider_code=2,
    )
    assert set(account) == ACCOUNT_FIELDS  # status_message only appears with an error
    assert account["email"] == "sam.sender@example.com"
    assert account["organization"] == str(tenant.id)
    assert account["status"] == 1 and account["warmup_status"] == 0
    assert account["provider_code"] == 2
    assert account["warmup"] == {
        "limit": 20,
        "increment": "2",
        "advanced": {"open_rate": 0.9, "weekday_only": True},
        "warmup_custom_ftag": "blue",
    }
    assert account["daily_limit"] == 50 and account["sending_gap"] == 15
    assert account["reply_to"] == "replies@example.com"
    assert account["setup_pending"] is False and account["is_managed_account"] is False
    assert account["timestamp_created"].endswith("Z") and len(account["timestamp_created"]) == 24
    assert (await tenant.get(f"{ACCOUNTS}/sam.sender@example.com")).json() == account


async def test_create_defaults(tenant: Tenant) -> None:
    account = await create_account(tenant)
    assert account["warmup"] == {}
    assert account["sending_gap"] == 10
    assert account["daily_limit"] is None and account["timestamp_warmup_start"] is None


async def test_passwords_are_encrypted_at_rest_and_never_returned(
    tenant: Tenant, session: AsyncSession, test_settings: Settings
) -> None:
    created = await tenant.post(ACCOUNTS, json=account_body("secret@example.com"))
    listed = await tenant.get(ACCOUNTS)
    fetched = await tenant.get(f"{ACCOUNTS}/secret@example.com")
    for response in (created, listed, fetched):
        assert SMTP_PASSWORD not in response.text and IMAP_PASSWORD not in response.text
        assert "password" not in response.text and "smtp_" not in response.text and "imap_" not in response.text
    row = await account_row(session, tenant.id, "secret@example.com")
    assert row.smtp_password_encrypted != SMTP_PASSWORD and SMTP_PASSWORD not in row.smtp_password_encrypted
    box = secret_box(test_settings)
    assert box.decrypt(row.smtp_password_encrypted) == SMTP_PASSWORD
    assert box.decrypt(row.imap_password_encrypted) == IMAP_PASSWORD
    assert (row.smtp_host, row.smtp_port, row.smtp_username) == ("smtp.example.com", 587, "secret@example.com")
    assert (row.imap_host, row.imap_port, row.imap_username) == ("imap.example.com", 993, "secret@example.com")


async def test_create_schedules_a_connection_check(tenant: Tenant, session: AsyncSession) -> None:
    await create_account(tenant, "checked@example.com")
    row = await account_row(session, tenant.id, "checked@example.com")
    assert await queued_connection_checks(session, row.id) == 1


@pytest.mark.parametrize("email", ["sender@example.com", "SENDER@example.com", " Sender@Example.COM "])
async def test_a_duplicate_email_in_the_workspace_is_409(tenant: Tenant, email: str) -> None:
    await create_account(tenant, "sender@example.com")
    body = assert_envelope(await tenant.post(ACCOUNTS, json=account_body(email)), 409)
    assert body["error"] == "Conflict" and "already exists" in body["message"]


async def test_the_same_email_in_another_workspace_is_fine(tenant: Tenant, other_tenant: Tenant) -> None:
    await create_account(tenant, "shared@example.com")
    await create_account(other_tenant, "shared@example.com")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": ...}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "user@example.test"}, "email"),
        ({"first_name": ...}, "first_name"),
        ({"provider_code": ...}, "provider_code"),
        ({"provider_code": 5}, "provider_code"),
        ({"imap_host": ...}, "imap_host"),
        ({"imap_password": ...}, "imap_password"),
        ({"imap_username": ""}, "imap_username"),
        ({"smtp_host": "   "}, "smtp_host"),
        ({"smtp_port": ...}, "smtp_port"),
        ({"smtp_port": 0}, "smtp_port"),
        ({"imap_port": 65536}, "imap_port"),
        ({"smtp_port": "x"}, "smtp_port"),
        ({"sending_gap": -1}, "sending_gap"),
        ({"sending_gap": 1441}, "sending_gap"),
        ({"warmup": {"increment": "5"}}, "increment"),
        ({"warmup": {"limit": -1}}, "limit"),
        ({"warmup": "on"}, "warmup"),
        ({"daily_limit": -3}, "daily_limit"),
        ({"daily_limit": 10**12}, "daily_limit"),
        ({"inbox_placement_test_limit": -1}, "inbox_placement_test_limit"),
        ({"reply_to": "nope"}, "reply_to"),
        ({"signature": "a\x00b"}, "signature"),
        ({"warmup_custom_ftag": "a\x00b"}, "warmup_custom_ftag"),
    ],
)
async def test_create_validation_names_the_field(tenant: Tenant, overrides: dict[str, Any], field: str) -> None:
    request = {k: v for k, v in {**account_body("valid@example.com"), **overrides}.items() if v is not ...}
    body = assert_envelope(await tenant.post(ACCOUNTS, json=request), 400)
    assert body["error"] == "Bad Request"
    assert field in body["message"], body["message"]


async def test_create_ignores_unknown_fields_and_read_only_ones(tenant: Tenant) -> None:
    account = await create_account(tenant, "lenient@example.com", colour="red", status=-1, warmup_status=1)
    assert "colour" not in account
    assert account["status"] == 1 and account["warmup_status"] == 0


async def test_create_without_a_body_is_400(tenant: Tenant) -> None:
    assert_envelope(await tenant.post(ACCOUNTS), 400)
    assert_envelope(await tenant.post(ACCOUNTS, content=b"{oops", headers={"content-type": "application/json"}), 400)


# -- get ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path_email", ["mixed.case+tag@example.com", "Mixed.Case+Tag@Example.com", "mixed.case%2Btag%40example.com"]
)
async def test_get_by_email_any_case_and_percent_encoded(tenant: Tenant, path_email: str) -> None:
    account = await create_account(tenant, "Mixed.Case+Tag@example.com")
    response = await tenant.get(f"{ACCOUNTS}/{path_email}")
    assert response.status_code == 200, response.text
    assert response.json() == account


@pytest.mark.parametrize("email", ["nobody@example.com", "not-an-email", "%00"])
async def test_get_unknown_is_404(tenant: Tenant, email: str) -> None:
    await create_account(tenant)
    assert_envelope(await tenant.get(f"{ACCOUNTS}/{email}"), 404)


async def test_status_message_appears_with_an_error(tenant: Tenant, session: AsyncSession) -> None:
    await create_account(tenant, "broken@example.com")
    await session.execute(
        text(
            "UPDATE accounts SET status = -1, status_message = CAST(:m AS jsonb) "
            "WHERE organization_id = :o AND email = 'broken@example.com'"
        ),
        {"m": '{"code": "EAUTH", "responseCode": 535, "e_message": "auth failed"}', "o": tenant.id},
    )
    account = (await tenant.get(f"{ACCOUNTS}/broken@example.com")).json()
    assert account["status"] == -1
    assert account["status_message"] == {"code": "EAUTH", "responseCode": 535, "e_message": "auth failed"}


# -- patch -------------------------------------------------------------------------------------


async def test_patch_updates_the_given_fields_only(tenant: Tenant) -> None:
    before = await create_account(tenant, "p@example.com", signature="old", daily_limit=30)
    response = await tenant.patch(
        f"{ACCOUNTS}/P@Example.com", json={"first_name": "Pat", "daily_limit": None, "sending_gap": 0}
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["first_name"] == "Pat" and after["last_name"] == before["last_name"]
    assert after["daily_limit"] is None and after["sending_gap"] == 0
    assert after["signature"] == "old"
    assert after["timestamp_updated"] >= before["timestamp_updated"]
    assert after["timestamp_created"] == before["timestamp_created"]


async def test_patch_merges_warmup_settings(tenant: Tenant) -> None:
    await create_account(
        tenant, "w@example.com", warmup={"limit": 10, "increment": "1", "advanced": {"open_rate": 0.5}}
    )
    patched = (
        await tenant.patch(
            f"{ACCOUNTS}/w@example.com", json={"warmup": {"limit": 40, "advanced": {"weekday_only": True}}}
        )
    ).json()
    assert patched["warmup"] == {"limit": 40, "increment": "1", "advanced": {"open_rate": 0.5, "weekday_only": True}}


async def test_patch_tracking_domain_and_reply_to(tenant: Tenant) -> None:
    await create_account(tenant, "t@example.com", tracking_domain_name="t.example.com", reply_to="r@example.com")
    url = f"{ACCOUNTS}/t@example.com"
    cleared = (await tenant.patch(url, json={"remove_tracking_domain": True, "reply_to": None})).json()
    assert cleared["tracking_domain_name"] is None and cleared["tracking_domain_status"] is None
    assert cleared["reply_to"] is None
    set_again = (await tenant.patch(url, json={"reply_to": "New@Example.com", "skip_cname_check": True})).json()
    assert set_again["reply_to"] == "new@example.com"


async def test_patch_can_rotate_mailbox_credentials(
    tenant: Tenant, session: AsyncSession, test_settings: Settings
) -> None:
    await create_account(tenant, "rotate@example.com")
    row = await account_row(session, tenant.id, "rotate@example.com")
    assert await queued_connection_checks(session, row.id) == 1
    await forget_queued_checks(session)
    response = await tenant.patch(
        f"{ACCOUNTS}/rotate@example.com", json={"smtp_password": "new-secret", "smtp_port": 465}
    )
    assert response.status_code == 200 and "new-secret" not in response.text
    row = await account_row(session, tenant.id, "rotate@example.com")
    assert secret_box(test_settings).decrypt(row.smtp_password_encrypted) == "new-secret"
    assert row.smtp_port == 465
    assert await queued_connection_checks(session, row.id) == 1
    await forget_queued_checks(session)
    await tenant.patch(f"{ACCOUNTS}/rotate@example.com", json={"first_name": "No check"})
    assert await queued_connection_checks(session, row.id) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "fewer than 1"),
        ({"unknown": 1}, "fewer than 1"),
        ({"first_name": None}, "first_name"),
        ({"warmup": None}, "warmup"),
        ({"sending_gap": 2000}, "sending_gap"),
        ({"sending_gap": None}, "sending_gap"),
        ({"warmup": {"increment": 3}}, "increment"),
        ({"reply_to": "x@"}, "reply_to"),
        ({"smtp_port": 70000}, "smtp_port"),
        ({"imap_password": None}, "imap_password"),
    ],
)
async def test_patch_validation(tenant: Tenant, body: dict[str, Any], field: str) -> None:
    await create_account(tenant, "v@example.com")
    result = assert_envelope(await tenant.patch(f"{ACCOUNTS}/v@example.com", json=body), 400)
    assert field in result["message"], result["message"]


async def test_patch_without_a_body_is_400(tenant: Tenant) -> None:
    await create_account(tenant, "v@example.com")
    assert_envelope(await tenant.patch(f"{ACCOUNTS}/v@example.com"), 400)


async def test_patch_unknown_is_404(tenant: Tenant) -> None:
    assert_envelope(await tenant.patch(f"{ACCOUNTS}/nobody@example.com", json={"first_name": "x"}), 404)


# -- delete ------------------------------------------------------------------------------------


async def test_delete_returns_the_account_and_forgets_its_tags(tenant: Tenant, session: AsyncSession) -> None:
    account = await create_account(tenant, "gone@example.com")
    keep = await create_account(tenant, "kept@example.com")
    tag = (await tenant.post("/api/v2/custom-tags", json={"label": "Doomed"})).json()
    toggled = await tenant.post(
        "/api/v2/custom-tags/toggle-resource",
        json={
            "tag_ids": [tag["id"]],
            "resource_type": 1,
            "resource_ids": [account["email"], keep["email"]],
            "assign": True,
        },
    )
    assert toggled.status_code == 200, toggled.text
    response = await tenant.delete(f"{ACCOUNTS}/Gone@Example.com")
    assert response.status_code == 200, response.text
    assert response.json() == account
    assert_envelope(await tenant.get(f"{ACCOUNTS}/gone@example.com"), 404)
    assert_envelope(await tenant.delete(f"{ACCOUNTS}/gone@example.com"), 404)
    mappings = (await tenant.get("/api/v2/custom-tag-mappings")).json()["items"]
    assert [m["resource_id"] for m in mappings] == ["kept@example.com"]
    left = await session.execute(
        text("SELECT count(*) FROM custom_tag_mappings WHERE organization_id = :o"), {"o": tenant.id}
    )
    assert left.scalar_one() == 1


async def test_delete_takes_the_account_out_of_campaign_sender_lists(tenant: Tenant, other_tenant: Tenant) -> None:
    await create_account(tenant, "leaving@example.com")
    await create_account(tenant, "staying@example.com")
    await create_account(other_tenant, "leaving@example.com")
    schedule = {"schedules": [{"name": "s", "timing": {"from": "09:00", "to": "17:00"},
                               "days": {"1": True}, "timezone": "America/Chicago"}]}

    async def campaign(who: Tenant, senders: list[str]) -> str:
        response = await who.post("/api/v2/campaigns",
                                  json={"name": "c", "campaign_schedule": schedule, "email_list": senders})
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    mine = await campaign(tenant, ["leaving@example.com", "staying@example.com"])
    theirs = await campaign(other_tenant, ["leaving@example.com"])
    assert (await tenant.delete(f"{ACCOUNTS}/leaving@example.com")).status_code == 200
    assert (await tenant.get(f"/api/v2/campaigns/{mine}")).json()["email_list"] == ["staying@example.com"]
    assert (await other_tenant.get(f"/api/v2/campaigns/{theirs}")).json()["email_list"] == ["leaving@example.com"]


async def test_delete_accepts_a_json_content_type_without_body(tenant: Tenant) -> None:
    await create_account(tenant, "gone@example.com")
    response = await tenant.delete(f"{ACCOUNTS}/gone@example.com", headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


# -- pause / resume / mark-fixed ---------------------------------------------------------------


async def test_pause_and_resume(tenant: Tenant, session: AsyncSession) -> None:
    await create_account(tenant, "pr@example.com")
    row = await account_row(session, tenant.id, "pr@example.com")
    paused = await tenant.post(f"{ACCOUNTS}/PR@example.com/pause")
    assert paused.status_code == 200 and paused.json()["status"] == 2
    assert (await tenant.post(f"{ACCOUNTS}/pr@example.com/pause", json={})).json()["status"] == 2
    await forget_queued_checks(session)
    assert (await tenant.get(f"{ACCOUNTS}/pr@example.com")).json()["status"] == 2
    assert await queued_connection_checks(session, row.id) == 0  # pausing tests nothing
    resumed = await tenant.post(f"{ACCOUNTS}/pr%40example.com/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == 1
    assert await queued_connection_checks(session, row.id) == 1


async def test_mark_fixed_clears_an_error_and_checks_again(tenant: Tenant, session: AsyncSession) -> None:
    await create_account(tenant, "fix@example.com")
    await session.execute(
        text(
            'UPDATE accounts SET status = -3, status_message = \'{"code": "EENVELOPE"}\'::jsonb, '
            "autofix_failed = true WHERE organization_id = :o"
        ),
        {"o": tenant.id},
    )
    row = await account_row(session, tenant.id, "fix@example.com")
    await forget_queued_checks(session)
    response = await tenant.post(f"{ACCOUNTS}/fix@example.com/mark-fixed")
    assert response.status_code == 200, response.text
    fixed = response.json()
    assert fixed["status"] == 1 and "status_message" not in fixed and fixed["autofix_failed"] is None
    assert await queued_connection_checks(session, row.id) == 1


async def test_mark_fixed_leaves_a_paused_account_paused(tenant: Tenant) -> None:
    await create_account(tenant, "fix@example.com")
    await tenant.post(f"{ACCOUNTS}/fix@example.com/pause")
    assert (await tenant.post(f"{ACCOUNTS}/fix@example.com/mark-fixed")).json()["status"] == 2


@pytest.mark.parametrize("action", ["pause", "resume", "mark-fixed"])
async def test_actions_on_unknown_accounts_are_404(tenant: Tenant, action: str) -> None:
    assert_envelope(await tenant.post(f"{ACCOUNTS}/nobody@example.com/{action}"), 404)


# -- bulk pause --------------------------------------------------------------------------------


async def test_bulk_pause_splits_paused_and_failed(tenant: Tenant, other_tenant: Tenant) -> None:
    for email in ("a@example.com", "b@example.com", "c@example.com", "already@example.com"):
        await create_account(tenant, email)
    await create_account(other_tenant, "theirs@example.com")
    await tenant.post(f"{ACCOUNTS}/already@example.com/pause")
    response = await tenant.post(
        f"{ACCOUNTS}/pause",
        json={
            "emails": [
                "A@example.com",
                "a@example.com",
                "b@example.com",
                "nobody@example.com",
                "theirs@example.com",
                "already@example.com",
                "not an email",
            ]
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "paused_emails": ["A@example.com", "b@example.com"],
        "failed_emails": ["nobody@example.com", "theirs@example.com", "already@example.com", "not an email"],
    }
    assert (await tenant.get(f"{ACCOUNTS}/c@example.com")).json()["status"] == 1
    assert (await other_tenant.get(f"{ACCOUNTS}/theirs@example.com")).json()["status"] == 1


@pytest.mark.parametrize(
    "body", [{}, {"emails": []}, {"emails": [f"u{i}@example.com" for i in range(101)]}, {"emails": "a@example.com"}]
)
async def test_bulk_pause_validation(tenant: Tenant, body: dict[str, Any]) -> None:
    result = assert_envelope(await tenant.post(f"{ACCOUNTS}/pause", json=body), 400)
    assert "emails" in result["message"]

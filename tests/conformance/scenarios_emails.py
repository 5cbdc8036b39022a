"""Scenarios for the Unibox's emails. Replies, forwards and test emails go through a real SMTP
server (aiosmtpd on 127.0.0.1) that the scenario starts for itself."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.config import Settings
from tests.conformance._scenario_kit import expect, scenario
from tests.conftest import TEST_HOME, Tenant
from tests.emails.helpers import BASE_TIME, EMAILS, add_email, add_received, add_sender
from tests.support.smtp_server import SmtpTestServer

SENDER = "sender@acme.example.com"
_HOME: dict[str, Any] = {"COLDSEND_HOME": TEST_HOME}
SETTINGS = Settings(**_HOME)  # the test app's data directory (its key file), so passwords decrypt


@asynccontextmanager
async def mailbox(tenant: Tenant, session: AsyncSession) -> AsyncIterator[SmtpTestServer]:
    """An account of `tenant` whose SMTP server is a test server."""
    server = await SmtpTestServer(users={SENDER: "pw"}).start()
    try:
        await add_sender(session, tenant.id, SETTINGS, SENDER, server, password="pw")
        yield server
    finally:
        await server.stop()


async def conversation(tenant: Tenant, session: AsyncSession) -> tuple[uuid.UUID, uuid.UUID]:
    sent = await add_email(session, tenant.id, eaccount=SENDER, reminder_ts=BASE_TIME)
    received = await add_received(session, tenant.id, answering=sent, i_status=1)
    return sent, received


@scenario("sendTestEmail")
async def _send_test_email(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    body = {"eaccount": SENDER, "to_address_email_list": "a@client.example.com", "subject": "s", "body": {"html": "x"}}
    assert expect(await tenant.post(f"{EMAILS}/test", json=body), 200, "sendTestEmail") == {"error": "ACC_NOT_FOUND"}
    async with mailbox(tenant, session) as server:
        assert expect(await tenant.post(f"{EMAILS}/test", json=body), 200, "sendTestEmail") == {"status": "success"}
        assert len(server.messages) == 1
        server.fail_next_auth = 1
        failed = expect(await tenant.post(f"{EMAILS}/test", json=body), 200, "sendTestEmail")
        assert failed == {"error": "ACC_AUTH_ERROR"}
        server.data_reply = "554 no"
        assert expect(await tenant.post(f"{EMAILS}/test", json=body), 200, "sendTestEmail") == {
            "error": "ACC_UNKNOWN_ERROR"
        }
    expect(await tenant.post(f"{EMAILS}/test", json={**body, "to_address_email_list": "nope"}), 400, "sendTestEmail")
    expect(await other.post(f"{EMAILS}/test", json=body), 200, "sendTestEmail")


@scenario("replyToEmail")
async def _reply_to_email(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    async with mailbox(tenant, session) as server:
        _sent, received = await conversation(tenant, session)
        body = {"eaccount": SENDER, "reply_to_uuid": str(received), "subject": "Re", "body": {"html": "<p>Hi</p>"}}
        reply = expect(await tenant.post(f"{EMAILS}/reply", json=body), 200, "replyToEmail")
        assert reply["ue_type"] == 3 and len(server.messages) == 1
        with_all = {**body, "body": {"text": "t", "html": "h"}, "cc_address_email_list": "c@client.example.com"}
        expect(
            await tenant.post(f"{EMAILS}/reply", json={**with_all, "reminder_ts": "2026-05-01T00:00:00Z"}),
            200,
            "replyToEmail",
        )
        expect(await tenant.post(f"{EMAILS}/reply", json={**body, "body": {}}), 400, "replyToEmail")
        expect(await other.post(f"{EMAILS}/reply", json=body), 404, "replyToEmail")
        expect(
            await tenant.post(f"{EMAILS}/reply", json={**body, "eaccount": "x@acme.example.com"}), 404, "replyToEmail"
        )


@scenario("forwardEmail")
async def _forward_email(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    async with mailbox(tenant, session) as server:
        _sent, received = await conversation(tenant, session)
        body = {
            "eaccount": SENDER,
            "reply_to_uuid": str(received),
            "to_address_email_list": "colleague@acme.example.com",
            "subject": "Fwd",
            "include_original_body": True,
        }
        forward = expect(await tenant.post(f"{EMAILS}/forward", json=body), 200, "forwardEmail")
        assert forward["ue_type"] == 3 and len(server.messages) == 1
        expect(
            await tenant.post(
                f"{EMAILS}/forward", json={**body, "include_original_body": False, "body": {"text": "n"}}
            ),
            200,
            "forwardEmail",
        )
        expect(
            await tenant.post(f"{EMAILS}/forward", json={**body, "include_original_body": False}), 400, "forwardEmail"
        )
        expect(await other.post(f"{EMAILS}/forward", json=body), 404, "forwardEmail")


@scenario("listEmail")
async def _list_email(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    assert expect(await tenant.get(EMAILS), 200, "listEmail") == {"items": []}
    sent, received = await conversation(tenant, session)
    await add_email(session, other.id)
    first = expect(await tenant.get(EMAILS, params={"limit": 1}), 200, "listEmail")
    assert first["next_starting_after"] == str(received)
    rest = expect(
        await tenant.get(EMAILS, params={"limit": 1, "starting_after": first["next_starting_after"]}), 200, "listEmail"
    )
    assert [e["id"] for e in rest["items"]] == [str(sent)]
    params = {
        "email_type": "received",
        "is_unread": "true",
        "mode": "emode_all",
        "latest_of_thread": "true",
        "preview_only": "true",
        "sort_order": "asc",
        "i_status": "1",
        "min_timestamp_created": "2026-01-01T00:00:00Z",
    }
    found = expect(await tenant.get(EMAILS, params=params), 200, "listEmail")
    assert [e["id"] for e in found["items"]] == [str(received)]
    expect(await tenant.get(EMAILS, params={"starting_after": "soon"}), 400, "listEmail")
    expect(await tenant.get(EMAILS, params={"min_timestamp_created": "soon"}), 400, "listEmail")


@scenario("getEmail")
async def _get_email(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    sent, received = await conversation(tenant, session)
    for email_id in (sent, received):
        assert expect(await tenant.get(f"{EMAILS}/{email_id}"), 200, "getEmail")["id"] == str(email_id)
    expect(await other.get(f"{EMAILS}/{sent}"), 404, "getEmail")


@scenario("patchEmail")
async def _patch_email(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    _sent, received = await conversation(tenant, session)
    url = f"{EMAILS}/{received}"
    patched = expect(
        await tenant.patch(url, json={"is_unread": 0, "reminder_ts": "2026-05-01T00:00:00.000Z"}), 200, "patchEmail"
    )
    assert patched["is_unread"] == 0 and patched["reminder_ts"] == "2026-05-01T00:00:00.000Z"
    expect(await tenant.patch(url, json={"reminder_ts": None}), 200, "patchEmail")
    expect(await tenant.patch(url, json={}), 400, "patchEmail")
    expect(await tenant.patch(url, json={"is_unread": 7}), 400, "patchEmail")
    expect(await other.patch(url, json={"is_unread": 1}), 404, "patchEmail")


@scenario("deleteEmail")
async def _delete_email(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    sent, _received = await conversation(tenant, session)
    url = f"{EMAILS}/{sent}"
    expect(await other.delete(url), 404, "deleteEmail")
    assert expect(await tenant.delete(url), 200, "deleteEmail")["id"] == str(sent)
    expect(await tenant.delete(url), 404, "deleteEmail")


@scenario("countUnreadEmails")
async def _count_unread_emails(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    assert expect(await tenant.get(f"{EMAILS}/unread/count"), 200, "countUnreadEmails") == {"count": 0}
    await conversation(tenant, session)
    assert expect(await tenant.get(f"{EMAILS}/unread/count"), 200, "countUnreadEmails") == {"count": 1}
    assert expect(await other.get(f"{EMAILS}/unread/count"), 200, "countUnreadEmails") == {"count": 0}


@scenario("markThreadAsRead")
async def _mark_thread_as_read(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    _sent, received = await conversation(tenant, session)
    thread = (await tenant.get(f"{EMAILS}/{received}")).json()["thread_id"]
    url = f"{EMAILS}/threads/{thread}/mark-as-read"
    assert expect(await tenant.post(url), 200, "markThreadAsRead") == {"success": True}
    assert (await tenant.get(f"{EMAILS}/{received}")).json()["is_unread"] == 0
    expect(await other.post(url), 404, "markThreadAsRead")

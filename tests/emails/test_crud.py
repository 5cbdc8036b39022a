"""GET/PATCH/DELETE /emails/{id}, the unread count, mark-as-read: rules, tenancy and scopes."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import Tenant
from tests.emails.helpers import EMAILS, add_email, add_received, email_count
from tests.envelope import assert_envelope


async def test_get_returns_the_email(tenant: Tenant, session: AsyncSession) -> None:
    email_id = await add_email(session, tenant.id, subject="Hello", body_text="Hi", body_html="<p>Hi</p>")
    body = (await tenant.get(f"{EMAILS}/{email_id}")).json()
    assert body["id"] == str(email_id)
    assert body["organization_id"] == str(tenant.id)
    assert body["subject"] == "Hello"
    assert body["body"] == {"text": "Hi", "html": "<p>Hi</p>"}
    listed = (await tenant.get(EMAILS)).json()["items"][0]
    assert listed == body


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_another_workspace_or_a_bad_id_is_404(
    method: str, tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    theirs = await add_email(session, other_tenant.id)
    kwargs = {"json": {"is_unread": 1}} if method == "PATCH" else {}
    for target in (str(theirs), str(uuid.uuid4()), "not-a-uuid"):
        assert_envelope(await tenant.request(method, f"{EMAILS}/{target}", **kwargs), 404)
    # and nothing changed over there
    assert (await other_tenant.get(f"{EMAILS}/{theirs}")).json()["is_unread"] == 0


async def test_patch_is_unread_and_reminder(tenant: Tenant, session: AsyncSession) -> None:
    email_id = await add_received(session, tenant.id)
    url = f"{EMAILS}/{email_id}"
    read = (await tenant.patch(url, json={"is_unread": 0})).json()
    assert read["is_unread"] == 0 and read["reminder_ts"] is None
    reminded = (await tenant.patch(url, json={"reminder_ts": "2026-05-01T10:00:00+02:00"})).json()
    assert reminded["reminder_ts"] == "2026-05-01T08:00:00.000Z" and reminded["is_unread"] == 0
    both = (await tenant.patch(url, json={"is_unread": 1, "reminder_ts": None})).json()
    assert both["is_unread"] == 1 and both["reminder_ts"] is None
    assert (await tenant.patch(url, json={"is_unread": None})).json()["is_unread"] == 0
    assert (await tenant.get(url)).json()["is_unread"] == 0


async def test_patch_refusals(tenant: Tenant, session: AsyncSession) -> None:
    url = f"{EMAILS}/{await add_email(session, tenant.id)}"
    assert_envelope(await tenant.patch(url, json={}), 400)
    assert_envelope(await tenant.patch(url, json={"subject": "changed"}), 400)  # not a patchable field
    assert_envelope(await tenant.patch(url, json={"is_unread": 2}), 400)
    assert_envelope(await tenant.patch(url, json={"is_unread": "yes"}), 400)
    assert_envelope(await tenant.patch(url, json={"reminder_ts": "tomorrow"}), 400)
    assert (await tenant.get(url)).json()["subject"].startswith("Subject")


async def test_delete_returns_the_email_and_removes_it(tenant: Tenant, session: AsyncSession) -> None:
    email_id = await add_email(session, tenant.id)
    before = (await tenant.get(f"{EMAILS}/{email_id}")).json()
    deleted = await tenant.delete(f"{EMAILS}/{email_id}")
    assert deleted.status_code == 200 and deleted.json() == before
    assert_envelope(await tenant.get(f"{EMAILS}/{email_id}"), 404)
    assert_envelope(await tenant.delete(f"{EMAILS}/{email_id}"), 404)
    # with a JSON content type and no body, as some clients send
    other = await add_email(session, tenant.id)
    response = await tenant.delete(f"{EMAILS}/{other}", headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert await email_count(session, tenant.id) == 0


async def test_unread_count(tenant: Tenant, other_tenant: Tenant, session: AsyncSession) -> None:
    assert (await tenant.get(f"{EMAILS}/unread/count")).json() == {"count": 0}
    sent = await add_email(session, tenant.id)
    await add_received(session, tenant.id, answering=sent)
    read = await add_received(session, tenant.id, answering=sent, is_unread=0)
    await add_received(session, other_tenant.id)
    assert (await tenant.get(f"{EMAILS}/unread/count")).json() == {"count": 1}
    await tenant.patch(f"{EMAILS}/{read}", json={"is_unread": 1})
    assert (await tenant.get(f"{EMAILS}/unread/count")).json() == {"count": 2}


async def test_mark_thread_as_read(tenant: Tenant, other_tenant: Tenant, session: AsyncSession) -> None:
    sent = await add_email(session, tenant.id)
    first = await add_received(session, tenant.id, answering=sent)
    second = await add_received(session, tenant.id, answering=sent)
    elsewhere = await add_received(session, tenant.id)
    thread = (await tenant.get(f"{EMAILS}/{sent}")).json()["thread_id"]
    url = f"{EMAILS}/threads/{thread}/mark-as-read"
    response = await tenant.post(url)
    assert response.status_code == 200 and response.json() == {"success": True}
    for email_id in (first, second):
        assert (await tenant.get(f"{EMAILS}/{email_id}")).json()["is_unread"] == 0
    assert (await tenant.get(f"{EMAILS}/{elsewhere}")).json()["is_unread"] == 1
    # again: nothing left to mark, still a thread of the workspace
    assert (await tenant.post(url)).json() == {"success": True}
    # another workspace's thread, a random one, a malformed one
    assert_envelope(await other_tenant.post(url), 404)
    assert_envelope(await tenant.post(f"{EMAILS}/threads/{uuid.uuid4()}/mark-as-read"), 404)
    assert_envelope(await tenant.post(f"{EMAILS}/threads/nope/mark-as-read"), 404)


async def test_other_workspace_thread_is_untouched(tenant: Tenant, other_tenant: Tenant, session: AsyncSession) -> None:
    thread = uuid.uuid4()
    mine = await add_received(session, tenant.id, thread_id=thread)
    theirs = await add_received(session, other_tenant.id, thread_id=thread)
    assert (await tenant.post(f"{EMAILS}/threads/{thread}/mark-as-read")).status_code == 200
    rows: dict[uuid.UUID, int] = dict(
        (await session.execute(text("SELECT id, is_unread FROM emails WHERE id IN (:a, :b)"), {"a": mine, "b": theirs}))
        .tuples()
        .all()
    )
    assert rows == {mine: 0, theirs: 1}


SCOPED = [
    ("GET", EMAILS, "emails:read"),
    ("GET", f"{EMAILS}/unread/count", "emails:read"),
    ("GET", f"{EMAILS}/{{id}}", "emails:read"),
    ("PATCH", f"{EMAILS}/{{id}}", "emails:update"),
    ("DELETE", f"{EMAILS}/{{id}}", "emails:delete"),
    ("POST", f"{EMAILS}/threads/{{thread}}/mark-as-read", "emails:update"),
    ("POST", f"{EMAILS}/reply", "emails:create"),
    ("POST", f"{EMAILS}/forward", "emails:create"),
    ("POST", f"{EMAILS}/test", "emails:create"),
]


@pytest.mark.parametrize(("method", "path", "scope"), SCOPED, ids=[f"{m} {p}" for m, p, _ in SCOPED])
async def test_scopes(method: str, path: str, scope: str, tenant: Tenant, session: AsyncSession) -> None:
    email_id = await add_received(session, tenant.id)
    thread = (await tenant.get(f"{EMAILS}/{email_id}")).json()["thread_id"]
    url = path.replace("{id}", str(email_id)).replace("{thread}", thread)
    kwargs = {"json": {"is_unread": 0}} if method == "PATCH" else ({"json": {}} if method == "POST" else {})
    resource, _, action = scope.partition(":")
    neighbour = f"{resource}:{'read' if action != 'read' else 'update'}"
    for refused in (neighbour, "leads:all"):
        key = await tenant.key_with(refused)
        response = await tenant.request(method, url, headers={"Authorization": f"Bearer {key}"}, **kwargs)
        assert_envelope(response, 403)
    assert (await tenant.get(f"{EMAILS}/{email_id}")).json()["is_unread"] == 1  # a refused key changed nothing
    for allowed in (scope, f"{resource}:all", f"all:{action}", "all:all"):
        key = await tenant.key_with(allowed)
        response = await tenant.request(method, url, headers={"Authorization": f"Bearer {key}"}, **kwargs)
        expected = (200, 404) if method == "DELETE" else (200, 400)  # deleted by the first allowed key
        assert response.status_code in expected, f"{allowed}: {response.status_code} {response.text}"

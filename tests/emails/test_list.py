"""GET /emails: every filter of the reference, order, keyset pages, cursors, tenancy."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.kit.ids import new_id
from tests.conftest import Tenant
from tests.emails.helpers import BASE_TIME, EMAILS, add_email, add_received
from tests.envelope import assert_envelope
from tests.lead_lists.helpers import add_lead
from tests.paging import every_item


async def listed(tenant: Tenant, **params: Any) -> list[str]:
    """Ids of the first page (limit 100) for these parameters."""
    response = await tenant.get(EMAILS, params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def ids(*values: uuid.UUID) -> list[str]:
    return [str(v) for v in values]


async def test_empty_workspace_lists_nothing(tenant: Tenant) -> None:
    body = (await tenant.get(EMAILS)).json()
    assert body == {"items": []}


async def test_newest_first_by_default_and_asc_on_request(tenant: Tenant, session: AsyncSession) -> None:
    a = await add_email(session, tenant.id)
    b = await add_email(session, tenant.id)
    c = await add_email(session, tenant.id)
    assert await listed(tenant) == ids(c, b, a)
    assert await listed(tenant, sort_order="desc") == ids(c, b, a)
    assert await listed(tenant, sort_order="asc") == ids(a, b, c)
    assert_envelope(await tenant.get(EMAILS, params={"sort_order": "newest"}), 400)


async def test_same_instant_is_ordered_by_id(tenant: Tenant, session: AsyncSession) -> None:
    made = [await add_email(session, tenant.id, timestamp_created=BASE_TIME) for _ in range(5)]
    assert await listed(tenant, sort_order="asc") == ids(*sorted(made))
    walked = await every_item(tenant, EMAILS, limit=2)
    assert [e["id"] for e in walked] == ids(*sorted(made, reverse=True))


@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_pages_walk_every_email_once(tenant: Tenant, session: AsyncSession, order: str) -> None:
    made = [await add_email(session, tenant.id) for _ in range(23)]
    # a few in the same millisecond as others, to cross page boundaries on ties
    made += [await add_email(session, tenant.id, timestamp_created=BASE_TIME + timedelta(days=1)) for _ in range(4)]
    walked = await every_item(tenant, EMAILS, limit=5, sort_order=order)
    expected = sorted(made, key=lambda i: i.int)  # ids are UUIDv7 made in insertion (= creation) order here
    if order == "desc":
        expected.reverse()
    assert [e["id"] for e in walked] == ids(*expected)


async def test_next_starting_after_is_the_id_of_the_last_item(tenant: Tenant, session: AsyncSession) -> None:
    made = [await add_email(session, tenant.id) for _ in range(3)]
    first = (await tenant.get(EMAILS, params={"limit": 2})).json()
    assert first["next_starting_after"] == first["items"][-1]["id"] == str(made[1])
    last = (await tenant.get(EMAILS, params={"limit": 2, "starting_after": first["next_starting_after"]})).json()
    assert [e["id"] for e in last["items"]] == ids(made[0])
    assert "next_starting_after" not in last


async def test_cursor_of_a_deleted_email_still_continues(tenant: Tenant, session: AsyncSession) -> None:
    """A client that deletes what it has processed keeps walking: the id carries its creation time."""
    made = []
    for _ in range(6):
        email_id = new_id()
        made.append(await add_email(session, tenant.id, id=email_id, timestamp_created=_uuid7_time(email_id)))
    first = (await tenant.get(EMAILS, params={"limit": 3})).json()
    for item in first["items"]:
        assert (await tenant.delete(f"{EMAILS}/{item['id']}")).status_code == 200
    rest = (await tenant.get(EMAILS, params={"limit": 3, "starting_after": first["next_starting_after"]})).json()
    assert [e["id"] for e in rest["items"]] == ids(*reversed(made[:3]))


def _uuid7_time(value: uuid.UUID) -> Any:
    from coldsend.emails.service import uuid7_moment

    moment = uuid7_moment(value)
    assert moment is not None
    return moment


async def test_cursor_forms(tenant: Tenant, session: AsyncSession) -> None:
    a = await add_email(session, tenant.id, timestamp_created=BASE_TIME)
    b = await add_email(session, tenant.id, timestamp_created=BASE_TIME + timedelta(minutes=1))
    c = await add_email(session, tenant.id, timestamp_created=BASE_TIME + timedelta(minutes=2))
    # an ISO date-time: emails after it in page order
    assert await listed(tenant, starting_after="2026-03-02T09:01:00.000Z") == ids(a)
    assert await listed(tenant, starting_after="2026-03-02T09:01:00Z", sort_order="asc") == ids(c)
    # `<timestamp>&<id>`
    assert await listed(tenant, starting_after=f"2026-03-02T09:01:00.000Z&{b}") == ids(a)
    far_future_v7 = uuid.UUID(int=(0xFFFFFFFFFFFF << 80) | (7 << 76) | (0x8 << 60))
    bad_cursors = ("yesterday", "2026-03-02T09:01:00Z&nope", str(uuid.uuid4()), str(far_future_v7), "a\x00")
    for bad in bad_cursors:  # a random v4 id is no email; a v7 id beyond the year 9999 has no usable time
        assert_envelope(await tenant.get(EMAILS, params={"starting_after": bad}), 400)


async def test_campaign_list_and_lead_filters(tenant: Tenant, session: AsyncSession) -> None:
    campaign, other_campaign, lead_list = new_id(), new_id(), new_id()
    a = await add_email(session, tenant.id, campaign_id=campaign, lead="Ann@Client.example.com")
    b = await add_email(session, tenant.id, campaign_id=other_campaign, lead="bob@other.example.org")
    c = await add_email(session, tenant.id, list_id=lead_list, lead="ann@client.example.com")
    assert await listed(tenant, campaign_id=str(campaign)) == ids(a)
    assert await listed(tenant, list_id=str(lead_list)) == ids(c)
    assert await listed(tenant, lead="ANN@client.example.com") == ids(c, a)
    assert await listed(tenant, lead="nobody@client.example.com") == []
    assert await listed(tenant, company_domain="client.example.com") == ids(c, a)
    assert await listed(tenant, company_domain="@Other.Example.org") == ids(b)
    assert_envelope(await tenant.get(EMAILS, params={"campaign_id": "nope"}), 400)


async def test_eaccount_filter_takes_a_comma_list(tenant: Tenant, session: AsyncSession) -> None:
    a = await add_email(session, tenant.id, eaccount="one@acme.example.com")
    b = await add_email(session, tenant.id, eaccount="two@acme.example.com")
    await add_email(session, tenant.id, eaccount="three@acme.example.com")
    assert await listed(tenant, eaccount="one@acme.example.com") == ids(a)
    assert await listed(tenant, eaccount="ONE@acme.example.com, two@acme.example.com,") == ids(b, a)


async def test_email_type_and_scheduled_only(tenant: Tenant, session: AsyncSession) -> None:
    campaign = await add_email(session, tenant.id, ue_type=1)
    received = await add_received(session, tenant.id, answering=campaign)
    manual = await add_email(session, tenant.id, ue_type=3)
    scheduled = await add_email(session, tenant.id, ue_type=4)
    assert await listed(tenant, email_type="received") == ids(received)
    assert await listed(tenant, email_type="sent") == ids(manual, campaign)
    assert await listed(tenant, email_type="manual") == ids(manual)
    assert await listed(tenant, scheduled_only="true") == ids(scheduled)
    assert await listed(tenant, scheduled_only="false") == ids(scheduled, manual, received, campaign)
    assert_envelope(await tenant.get(EMAILS, params={"email_type": "inbound"}), 400)


async def test_received_emails_of_a_campaign(tenant: Tenant, session: AsyncSession) -> None:
    campaign = new_id()
    sent = await add_email(session, tenant.id, campaign_id=campaign)
    reply = await add_received(session, tenant.id, answering=sent)
    await add_received(session, tenant.id, campaign_id=new_id())
    assert await listed(tenant, campaign_id=str(campaign), email_type="received") == ids(reply)


async def test_flags_unread_reminder_focus_interest(tenant: Tenant, session: AsyncSession) -> None:
    read = await add_email(session, tenant.id, is_unread=0, is_focused=1, i_status=None)
    unread = await add_received(session, tenant.id, i_status=1)
    reminded = await add_email(session, tenant.id, reminder_ts=BASE_TIME, is_focused=0, i_status=-1)
    assert await listed(tenant, is_unread="true") == ids(unread)
    assert await listed(tenant, is_unread="false") == ids(reminded, read)
    assert await listed(tenant, has_reminder="true") == ids(reminded)
    assert await listed(tenant, has_reminder="false") == ids(unread, read)
    assert await listed(tenant, mode="emode_focused") == ids(unread, read)
    assert await listed(tenant, mode="emode_others") == ids(reminded)
    assert await listed(tenant, mode="emode_all") == ids(reminded, unread, read)
    assert await listed(tenant, i_status="1") == ids(unread)
    assert await listed(tenant, i_status="-1") == ids(reminded)
    assert await listed(tenant, i_status="1.5") == []
    assert await listed(tenant, i_status="1e12") == []  # beyond any interest status: no match, no error
    assert_envelope(await tenant.get(EMAILS, params={"mode": "emode_spam"}), 400)
    assert_envelope(await tenant.get(EMAILS, params={"is_unread": "maybe"}), 400)


async def test_marked_as_done_lists_nothing_when_true(tenant: Tenant, session: AsyncSession) -> None:
    a = await add_email(session, tenant.id)
    assert await listed(tenant, marked_as_done="true") == []
    assert await listed(tenant, marked_as_done="false") == ids(a)


async def test_assigned_to_is_the_lead_owner(tenant: Tenant, session: AsyncSession) -> None:
    user = uuid.uuid4()
    mine = await add_lead(session, tenant.id, email="mine@client.example.com", assigned_to=user)
    theirs = await add_lead(session, tenant.id, email="theirs@client.example.com", assigned_to=uuid.uuid4())
    a = await add_email(session, tenant.id, lead_id=mine, lead="mine@client.example.com")
    await add_email(session, tenant.id, lead_id=theirs, lead="theirs@client.example.com")
    await add_email(session, tenant.id, lead_id=None)
    assert await listed(tenant, assigned_to=str(user)) == ids(a)
    assert_envelope(await tenant.get(EMAILS, params={"assigned_to": "someone"}), 400)


async def test_creation_window(tenant: Tenant, session: AsyncSession) -> None:
    a = await add_email(session, tenant.id, timestamp_created=BASE_TIME)
    b = await add_email(session, tenant.id, timestamp_created=BASE_TIME + timedelta(hours=1))
    c = await add_email(session, tenant.id, timestamp_created=BASE_TIME + timedelta(hours=2))
    assert await listed(tenant, min_timestamp_created="2026-03-02T10:00:00.000Z") == ids(c, b)
    assert await listed(tenant, max_timestamp_created="2026-03-02T10:00:00Z") == ids(a)
    assert await listed(
        tenant, min_timestamp_created="2026-03-02T09:30:00+00:00", max_timestamp_created="2026-03-02T10:30:00"
    ) == ids(b)
    assert await listed(tenant, min_timestamp_created="2026-03-02") == ids(c, b, a)
    window = {"min_timestamp_created": "2026-03-02T09:00:00Z", "max_timestamp_created": "2026-03-02T11:00:00Z"}
    for order, expected in (("desc", ids(b, a)), ("asc", ids(a, b))):
        walked = await every_item(tenant, EMAILS, limit=1, sort_order=order, **window)
        assert [e["id"] for e in walked] == expected
    body = assert_envelope(await tenant.get(EMAILS, params={"min_timestamp_created": "last week"}), 400)
    assert "min_timestamp_created" in body["message"]


async def test_latest_of_thread(tenant: Tenant, session: AsyncSession) -> None:
    first = await add_email(session, tenant.id)
    reply = await add_received(session, tenant.id, answering=first)
    other_thread = await add_email(session, tenant.id)
    no_thread = await add_email(session, tenant.id, thread_id=None)
    assert await listed(tenant, latest_of_thread="true") == ids(no_thread, other_thread, reply)
    assert await listed(tenant, latest_of_thread="true", sort_order="asc") == ids(reply, other_thread, no_thread)
    assert await listed(tenant, latest_of_thread="false") == ids(no_thread, other_thread, reply, first)
    walked = await every_item(tenant, EMAILS, limit=1, latest_of_thread="true")
    assert [e["id"] for e in walked] == ids(no_thread, other_thread, reply)


async def test_search_forms(tenant: Tenant, session: AsyncSession) -> None:
    first = await add_email(
        session, tenant.id, subject="Quarterly pricing", lead="ann@client.example.com", body_text="Hi Ann"
    )
    reply = await add_received(session, tenant.id, answering=first, body_text="Sounds GREAT, call me")
    other = await add_email(
        session,
        tenant.id,
        subject="Hello",
        lead="bob@other.example.org",
        to_address_email_list="bob@other.example.org",
        cc_address_email_list="boss@other.example.org",
    )
    thread = (await tenant.get(f"{EMAILS}/{first}")).json()["thread_id"]
    assert await listed(tenant, search=f"thread:{thread}") == ids(reply, first)
    assert await listed(tenant, search=f"  THREAD: {thread} ") == ids(reply, first)
    assert await listed(tenant, search="ann@client.example.com") == ids(reply, first)
    assert await listed(tenant, search="boss@other.example.org") == ids(other)
    assert await listed(tenant, search="pricing") == ids(reply, first)  # "Re: Quarterly pricing" too
    assert await listed(tenant, search="great") == ids(reply)
    assert await listed(tenant, search="other.example") == ids(other)
    assert await listed(tenant, search="100%") == []
    assert await listed(tenant, search="   ") == ids(other, reply, first)
    assert_envelope(await tenant.get(EMAILS, params={"search": "thread:nope"}), 400)
    assert_envelope(await tenant.get(EMAILS, params={"search": "a\x00b"}), 400)


async def test_filters_combine(tenant: Tenant, session: AsyncSession) -> None:
    campaign = new_id()
    sent = await add_email(session, tenant.id, campaign_id=campaign, eaccount="one@acme.example.com")
    wanted = await add_received(session, tenant.id, answering=sent, eaccount="one@acme.example.com")
    await add_received(session, tenant.id, answering=sent, eaccount="two@acme.example.com")
    await add_received(session, tenant.id, answering=sent, eaccount="one@acme.example.com", is_unread=0)
    found = await listed(
        tenant, campaign_id=str(campaign), eaccount="one@acme.example.com", is_unread="true", email_type="received"
    )
    assert found == ids(wanted)


async def test_preview_only_leaves_bodies_out(tenant: Tenant, session: AsyncSession) -> None:
    await add_email(session, tenant.id, body_text="Full text", body_html="<p>Full</p>", content_preview="Full text")
    full = (await tenant.get(EMAILS)).json()["items"][0]
    assert full["body"] == {"text": "Full text", "html": "<p>Full</p>"}
    preview = (await tenant.get(EMAILS, params={"preview_only": "true"})).json()["items"][0]
    assert preview["body"] == {}
    assert preview["content_preview"] == "Full text"
    assert {k: v for k, v in preview.items() if k != "body"} == {k: v for k, v in full.items() if k != "body"}


async def test_items_have_the_reference_fields_and_no_internal_ones(tenant: Tenant, session: AsyncSession) -> None:
    await add_email(
        session,
        tenant.id,
        account_id=new_id(),
        variant=2,
        in_reply_to="<a@b.c>",
        references=["<a@b.c>"],
        outbox_id=new_id(),
        body_html=None,
    )
    item = (await tenant.get(EMAILS)).json()["items"][0]
    assert not {"account_id", "variant", "in_reply_to", "references", "outbox_id", "body_text", "body_html"} & set(item)
    assert item["body"] == {"text": item["content_preview"]}
    assert item["ue_type"] == 1 and item["step"] == "1" and item["is_unread"] == 0
    assert item["timestamp_created"].endswith("Z") and len(item["timestamp_created"]) == 24


async def test_another_workspace_is_never_listed(tenant: Tenant, other_tenant: Tenant, session: AsyncSession) -> None:
    mine = await add_email(session, tenant.id, eaccount="shared@acme.example.com", lead="x@client.example.com")
    theirs = await add_email(session, other_tenant.id, eaccount="shared@acme.example.com", lead="x@client.example.com")
    await add_received(session, other_tenant.id, answering=theirs)
    for params in ({}, {"eaccount": "shared@acme.example.com"}, {"lead": "x@client.example.com"}, {"is_unread": "1"}):
        assert set(await listed(tenant, **params)) <= {str(mine)}
    thread = (await other_tenant.get(f"{EMAILS}/{theirs}")).json()["thread_id"]
    assert await listed(tenant, search=f"thread:{thread}") == []
    # another workspace's email id as a cursor reveals nothing of it
    assert set(await listed(tenant, starting_after=str(theirs), sort_order="asc")) <= {str(mine)}


async def test_limit_bounds(tenant: Tenant, session: AsyncSession) -> None:
    for _ in range(3):
        await add_email(session, tenant.id)
    assert len(await listed(tenant, limit=1)) == 1
    assert_envelope(await tenant.get(EMAILS, params={"limit": 0}), 400)
    assert_envelope(await tenant.get(EMAILS, params={"limit": 101}), 400)


async def test_timestamps_keep_milliseconds(tenant: Tenant, session: AsyncSession) -> None:
    await add_email(session, tenant.id, timestamp_created=BASE_TIME + timedelta(microseconds=123456))
    item = (await tenant.get(EMAILS)).json()["items"][0]
    assert item["timestamp_created"] == "2026-03-02T09:00:00.123Z"
    stored = (
        await session.execute(text("SELECT count(*) FROM emails WHERE organization_id = :o"), {"o": tenant.id})
    ).scalar_one()
    assert stored == 1

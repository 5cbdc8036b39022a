"""The public tracking routes against a real PostgreSQL: what each records, and what it never does."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.config import Settings
from coldsend.kit.ids import new_id
from coldsend.tracking import endpoints
from coldsend.tracking.endpoints import PIXEL
from coldsend.tracking.links import click_url, instrument_html, open_pixel_url, unsubscribe_url
from coldsend.tracking.tokens import CLICK, OPEN, sign, tracking_key
from tests.conftest import Tenant
from tests.tracking.helpers import (
    Sent,
    account_stats,
    add_sent_message,
    blocked_values,
    campaign_stats,
    events,
    lead_row,
    utc_today,
)

BASE = "http://coldsend.test"
FORGED_KEY = b"\x00" * 32


@pytest.fixture
def key(test_settings: Settings) -> bytes:
    return tracking_key(test_settings)


@pytest.fixture
async def sent(tenant: Tenant) -> Sent:
    return await add_sent_message(tenant.session, tenant.id, step=1, variant=2)


def path(url: str) -> str:
    return url.removeprefix(BASE)


async def set_add_unsub_to_block(session: AsyncSession, organization_id: Any, value: bool | None) -> None:
    await session.execute(
        text("UPDATE workspaces SET add_unsub_to_block = :v WHERE id = :id"), {"v": value, "id": organization_id}
    )
    await session.flush()


def assert_pixel(response: httpx.Response) -> None:
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.headers["cache-control"] == "no-store"
    assert response.content == PIXEL
    assert PIXEL.startswith(b"GIF89a\x01\x00\x01\x00") and len(PIXEL) == 43


async def assert_nothing_recorded(session: AsyncSession, sent: Sent) -> None:
    assert await events(session, sent.organization_id) == []
    assert await campaign_stats(session, sent.organization_id) == []
    assert await account_stats(session, sent.organization_id) == []
    lead = await lead_row(session, sent)
    assert (lead.email_open_count, lead.email_click_count, lead.status) == (0, 0, 1)
    assert lead.timestamp_last_touch is None
    assert lead.next_send_at is not None


async def test_open_records_an_event_and_counters(
    client: httpx.AsyncClient, session: AsyncSession, sent: Sent, key: bytes
) -> None:
    url = path(open_pixel_url(BASE, key, sent.outbox_id))
    response = await client.get(url, headers={"User-Agent": "Mail/1.0"})
    assert_pixel(response)

    [event] = await events(session, sent.organization_id)
    assert (event.kind, event.outbox_id, event.campaign_id, event.lead_id, event.account_id) == (
        "open",
        sent.outbox_id,
        sent.campaign_id,
        sent.lead_id,
        sent.account_id,
    )
    assert (event.step, event.variant, event.url, event.user_agent, event.ip) == (1, 2, None, "Mail/1.0", "127.0.0.1")
    lead = await lead_row(session, sent)
    assert lead.email_open_count == 1
    assert (lead.email_opened_step, lead.email_opened_variant) == (2, 3)  # 1-based on the lead
    assert lead.timestamp_last_open == event.timestamp_created == lead.timestamp_last_touch
    assert lead.email_click_count == 0 and lead.timestamp_last_click is None
    [campaign] = await campaign_stats(session, sent.organization_id)
    assert (campaign.campaign_id, campaign.day, campaign.opened, campaign.unique_opened) == (
        sent.campaign_id,
        utc_today(),
        1,
        1,
    )
    assert (campaign.clicks, campaign.unique_clicks, campaign.unsubscribed, campaign.sent) == (0, 0, 0, 0)
    [account] = await account_stats(session, sent.organization_id)
    assert (account.account_id, account.day, account.opened, account.unique_opened) == (
        sent.account_id,
        utc_today(),
        1,
        1,
    )

    assert_pixel(await client.get(url))  # a second open: counted, but not unique
    assert len(await events(session, sent.organization_id)) == 2
    assert (await lead_row(session, sent)).email_open_count == 2
    [campaign] = await campaign_stats(session, sent.organization_id)
    assert (campaign.opened, campaign.unique_opened) == (2, 1)
    [account] = await account_stats(session, sent.organization_id)
    assert (account.opened, account.unique_opened) == (2, 1)


async def test_click_redirects_and_records(
    client: httpx.AsyncClient, session: AsyncSession, sent: Sent, key: bytes
) -> None:
    destination = "https://example.com/pricing?plan=pro&utm_source=cold"
    response = await client.get(path(click_url(BASE, key, sent.outbox_id, destination)))
    assert response.status_code == 302
    assert response.headers["location"] == destination
    assert response.headers["cache-control"] == "no-store"

    [event] = await events(session, sent.organization_id)
    assert (event.kind, event.url, event.outbox_id) == ("click", destination, sent.outbox_id)
    lead = await lead_row(session, sent)
    assert (lead.email_click_count, lead.email_clicked_step, lead.email_clicked_variant) == (1, 2, 3)
    assert lead.timestamp_last_click == event.timestamp_created == lead.timestamp_last_touch
    assert lead.email_open_count == 0
    [campaign] = await campaign_stats(session, sent.organization_id)
    assert (campaign.clicks, campaign.unique_clicks, campaign.opened) == (1, 1, 0)
    [account] = await account_stats(session, sent.organization_id)
    assert (account.clicks, account.unique_clicks, account.opened) == (1, 1, 0)

    other = await client.get(path(click_url(BASE, key, sent.outbox_id, "https://example.com/other")))
    assert other.headers["location"] == "https://example.com/other"
    assert [e.url for e in await events(session, sent.organization_id)] == [destination, "https://example.com/other"]
    [campaign] = await campaign_stats(session, sent.organization_id)
    assert (campaign.clicks, campaign.unique_clicks) == (2, 1)
    [account] = await account_stats(session, sent.organization_id)
    assert (account.clicks, account.unique_clicks) == (2, 1)
    assert (await lead_row(session, sent)).email_click_count == 2


async def test_links_of_an_instrumented_email_work_end_to_end(
    client: httpx.AsyncClient, session: AsyncSession, sent: Sent, key: bytes
) -> None:
    html = instrument_html(
        '<html><body><a href="https://example.com/x?a=1&amp;b=2">x</a></body></html>',
        base_url=BASE,
        key=key,
        outbox_id=sent.outbox_id,
        open_tracking=True,
        link_tracking=True,
    )
    href = html.split('href="', 1)[1].split('"', 1)[0]
    src = html.split('src="', 1)[1].split('"', 1)[0]
    assert (await client.get(path(href))).headers["location"] == "https://example.com/x?a=1&b=2"
    assert_pixel(await client.get(path(src)))
    assert sorted(e.kind for e in await events(session, sent.organization_id)) == ["click", "open"]


async def confirm(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """Open the unsubscribe link as a person would, then press the page's button."""
    page = await client.get(url)
    assert page.status_code == 200 and 'method="post"' in page.text
    action = page.text.split('action="', 1)[1].split('"', 1)[0]
    return await client.post(action, data={"List-Unsubscribe": "One-Click"})


async def test_opening_the_unsubscribe_link_alone_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, sent: Sent, key: bytes
) -> None:
    """Mail gateways' link scanners fetch every link: a GET must not unsubscribe."""
    page = await client.get(path(unsubscribe_url(BASE, key, sent.outbox_id)))
    assert page.status_code == 200 and "Unsubscribe" in page.text
    assert (await lead_row(session, sent)).status == 1
    assert await events(session, sent.organization_id) == []


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unsubscribe(
    client: httpx.AsyncClient, session: AsyncSession, sent: Sent, key: bytes, method: str
) -> None:
    url = path(unsubscribe_url(BASE, key, sent.outbox_id))
    if method == "POST":  # RFC 8058 one-click, as mail providers send it
        response = await client.post(
            url,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    else:  # the link in the body: a confirmation page whose button posts the form
        response = await confirm(client, url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "unsubscribed" in response.text

    lead = await lead_row(session, sent)
    assert lead.status == -2
    assert lead.next_send_at is None
    assert lead.timestamp_last_touch is not None
    [event] = await events(session, sent.organization_id)
    assert (event.kind, event.outbox_id, event.lead_id) == ("unsubscribe", sent.outbox_id, sent.lead_id)
    [campaign] = await campaign_stats(session, sent.organization_id)
    assert (campaign.unsubscribed, campaign.opened, campaign.clicks) == (1, 0, 0)
    assert await account_stats(session, sent.organization_id) == []  # accounts count no unsubscribes
    assert await blocked_values(session, sent.organization_id) == []  # add_unsub_to_block is off by default


async def test_repeated_unsubscribes_count_once(
    client: httpx.AsyncClient, session: AsyncSession, sent: Sent, key: bytes
) -> None:
    url = path(unsubscribe_url(BASE, key, sent.outbox_id))
    for response in [await client.get(url), await client.post(url), await client.get(url)]:
        assert response.status_code == 200
    assert [e.kind for e in await events(session, sent.organization_id)] == ["unsubscribe"]
    [campaign] = await campaign_stats(session, sent.organization_id)
    assert campaign.unsubscribed == 1


async def test_unsubscribe_adds_to_the_block_list_when_the_workspace_says_so(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, key: bytes
) -> None:
    await set_add_unsub_to_block(session, tenant.id, True)
    sent = await add_sent_message(session, tenant.id, email="bob@lead.test")
    response = await confirm(client, path(unsubscribe_url(BASE, key, sent.outbox_id)))
    assert response.status_code == 200
    assert await blocked_values(session, tenant.id) == ["bob@lead.test"]
    assert (await lead_row(session, sent)).status == -2
    await client.post(path(unsubscribe_url(BASE, key, sent.outbox_id)))  # idempotent
    assert await blocked_values(session, tenant.id) == ["bob@lead.test"]


@pytest.mark.parametrize("setting", [False, None])
async def test_unsubscribe_leaves_the_block_list_alone_when_off(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, key: bytes, setting: bool | None
) -> None:
    await set_add_unsub_to_block(session, tenant.id, setting)
    sent = await add_sent_message(session, tenant.id, email="bob@lead.test")
    assert (await confirm(client, path(unsubscribe_url(BASE, key, sent.outbox_id)))).status_code == 200
    assert (await lead_row(session, sent)).status == -2
    assert await blocked_values(session, tenant.id) == []


async def test_forged_tokens_record_nothing(
    client: httpx.AsyncClient, session: AsyncSession, sent: Sent, key: bytes
) -> None:
    await set_add_unsub_to_block(session, sent.organization_id, True)
    forged_open = path(open_pixel_url(BASE, FORGED_KEY, sent.outbox_id))
    assert_pixel(await client.get(forged_open))
    assert_pixel(await client.get("/t/o/not-a-token"))
    assert_pixel(await client.get("/t/o/" + "A" * 60))

    forged_click = path(click_url(BASE, FORGED_KEY, sent.outbox_id, "https://evil.example/"))
    for url in [forged_click, "/t/c/garbage", "/t/c/" + "A" * 80]:
        response = await client.get(url)
        assert response.status_code == 404
        assert "location" not in response.headers
        assert response.headers["content-type"].startswith("text/plain")

    forged_unsubscribe = path(unsubscribe_url(BASE, FORGED_KEY, sent.outbox_id))
    for response in [await client.get(forged_unsubscribe), await client.post("/t/u/garbage")]:
        assert response.status_code == 200  # the same page: validity is not revealed
    await assert_nothing_recorded(session, sent)
    assert await blocked_values(session, sent.organization_id) == []


async def test_a_token_only_works_for_its_own_kind(
    client: httpx.AsyncClient, session: AsyncSession, sent: Sent, key: bytes
) -> None:
    open_token = sign(key, sent.outbox_id, OPEN)
    click_token = sign(key, sent.outbox_id, CLICK, "https://example.com/")
    assert (await client.get(f"/t/u/{open_token}")).status_code == 200  # an open is no unsubscribe
    assert (await client.post(f"/t/u/{click_token}")).status_code == 200
    assert (await client.get(f"/t/c/{open_token}")).status_code == 404
    assert_pixel(await client.get(f"/t/o/{click_token}"))
    assert_pixel(await client.get(f"/t/o/{sign(key, sent.outbox_id, 'unsubscribe')}"))
    await assert_nothing_recorded(session, sent)


async def test_a_signed_non_http_destination_is_never_followed(client: httpx.AsyncClient, key: bytes) -> None:
    response = await client.get(f"/t/c/{sign(key, new_id(), CLICK, 'javascript:alert(1)')}")
    assert response.status_code == 404
    assert "location" not in response.headers


async def test_a_deleted_message_still_answers(
    client: httpx.AsyncClient, session: AsyncSession, sent: Sent, key: bytes
) -> None:
    await session.execute(
        text("DELETE FROM leads WHERE organization_id = :org AND id = :id"),
        {"org": sent.organization_id, "id": sent.lead_id},
    )  # the outbox row goes with its lead
    await session.flush()
    assert_pixel(await client.get(path(open_pixel_url(BASE, key, sent.outbox_id))))
    response = await client.get(path(click_url(BASE, key, sent.outbox_id, "https://example.com/still")))
    assert (response.status_code, response.headers["location"]) == (302, "https://example.com/still")
    assert (await confirm(client, path(unsubscribe_url(BASE, key, sent.outbox_id)))).status_code == 200
    assert await events(session, sent.organization_id) == []
    assert await campaign_stats(session, sent.organization_id) == []
    assert await account_stats(session, sent.organization_id) == []


async def test_events_never_touch_another_workspace(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant, key: bytes
) -> None:
    await set_add_unsub_to_block(session, tenant.id, True)
    await set_add_unsub_to_block(session, other_tenant.id, True)
    ours = await add_sent_message(session, tenant.id, email="same@lead.test", step=1)
    # same address, and even the same campaign, account and lead ids (ids are unique per workspace only)
    theirs = await add_sent_message(session, other_tenant.id, email="same@lead.test", step=2, same_ids_as=ours)
    assert (theirs.lead_id, theirs.campaign_id, theirs.account_id) == (ours.lead_id, ours.campaign_id, ours.account_id)

    assert_pixel(await client.get(path(open_pixel_url(BASE, key, ours.outbox_id))))
    await client.get(path(click_url(BASE, key, ours.outbox_id, "https://example.com/")))
    await confirm(client, path(unsubscribe_url(BASE, key, ours.outbox_id)))

    assert sorted(e.kind for e in await events(session, tenant.id)) == ["click", "open", "unsubscribe"]
    assert await blocked_values(session, tenant.id) == ["same@lead.test"]
    await assert_nothing_recorded(session, theirs)
    assert await blocked_values(session, other_tenant.id) == []


async def test_recording_failures_never_break_the_pixel_or_the_redirect(
    client: httpx.AsyncClient, sent: Sent, key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("database down")

    monkeypatch.setattr(endpoints, "record_event", broken)
    assert_pixel(await client.get(path(open_pixel_url(BASE, key, sent.outbox_id))))
    response = await client.get(path(click_url(BASE, key, sent.outbox_id, "https://example.com/")))
    assert (response.status_code, response.headers["location"]) == (302, "https://example.com/")
    # an unsubscribe that could not be recorded must not claim success: the recipient retries
    failed = await confirm(client, path(unsubscribe_url(BASE, key, sent.outbox_id)))
    assert failed.status_code == 503
    assert "try again" in failed.text


async def test_routes_are_public_and_outside_the_api_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert not [p for p in schema["paths"] if p.startswith("/t/")]

"""SMTP outcomes as the engine classifies them, bounce protection, and the recovery rule."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.sending.world import World, step


async def _campaign(world: World, **values: object):
    await world.account("sam@sender.example")
    return await world.campaign([step("Hello", "Body", delay=1), step("", "Again")], ["sam@sender.example"], **values)


async def test_a_5xx_for_the_recipient_marks_the_lead_bounced(world: World) -> None:
    campaign = await _campaign(world)
    [gone, ok] = await world.leads(campaign, "gone@lead.example", "ok@lead.example")
    world.servers["sam@sender.example"].recipient_replies["gone@lead.example"] = "550 5.1.1 user unknown"
    assert await world.run_until_idle() == 1
    assert (await world.lead(gone)).status == -1
    assert (await world.lead(gone)).next_send_at is None
    assert (await world.lead(ok)).status == 1
    states = {o.lead_id: (o.state, o.error) for o in await world.outbox()}
    assert states[gone][0] == "failed" and "550" in states[gone][1]
    assert [e.lead for e in await world.emails()] == ["ok@lead.example"]
    [(bounced, sent)] = await world.rows(
        "SELECT bounced, sent FROM campaign_daily_stats WHERE organization_id = :org AND campaign_id = :c", c=campaign
    )
    assert (bounced, sent) == (1, 2)
    [(account_bounced,)] = await world.rows("SELECT bounced FROM account_daily_stats WHERE organization_id = :org")
    assert account_bounced == 1


async def test_a_5xx_after_data_is_a_bounce_too(world: World) -> None:
    campaign = await _campaign(world)
    [lead] = await world.leads(campaign, "a@lead.example")
    world.servers["sam@sender.example"].data_reply = "554 5.7.1 Message rejected"
    assert await world.run_until_idle() == 0
    assert (await world.lead(lead)).status == -1


async def test_a_4xx_is_retried_later_with_the_same_message_id(world: World) -> None:
    campaign = await _campaign(world)
    [lead] = await world.leads(campaign, "busy@lead.example")
    server = world.servers["sam@sender.example"]
    server.recipient_replies["busy@lead.example"] = "451 4.7.1 Try again later"
    assert await world.run_until_idle() == 0
    first = (await world.outbox())[0]
    assert first.state == "deferred"
    row = await world.lead(lead)
    assert row.status == 1 and row.next_send_at == world.clock.now() + timedelta(minutes=5)
    [(sent,)] = await world.rows("SELECT sent FROM campaign_daily_stats WHERE organization_id = :org")
    assert sent == 0  # a deferred send gives its daily budget back
    world.clock.advance(minutes=4)
    assert await world.run_until_idle() == 0
    del server.recipient_replies["busy@lead.example"]
    world.clock.advance(minutes=1, seconds=1)
    assert await world.run_until_idle() == 1
    [again] = await world.outbox()
    assert (again.id, again.state, again.attempts) == (first.id, "done", 2)
    assert world.inbox()[0]["Message-ID"] == first.message_id


async def test_an_authentication_failure_puts_the_account_in_error_and_keeps_the_lead(world: World) -> None:
    account = await world.account("sam@sender.example")
    campaign = await world.campaign([step("Hello", "Body")], ["sam@sender.example"])
    [lead] = await world.leads(campaign, "a@lead.example")
    world.servers["sam@sender.example"].set_password("sam@sender.example", "changed")
    assert await world.run_until_idle() == 0
    row = await world.account_row(account)
    assert row.status == -1
    assert row.status_message["code"] == "EAUTH"
    assert (await world.lead(lead)).next_send_at == world.clock.now()
    assert (await world.outbox())[0].state == "cancelled"
    world.clock.advance(minutes=5)
    assert await world.run_until_idle() == 0  # an account in error does not send
    world.servers["sam@sender.example"].set_password("sam@sender.example", "secret")
    await world.execute("UPDATE accounts SET status = 1 WHERE id = :id", id=account)
    assert await world.run_until_idle() == 1
    assert (await world.outbox())[0].attempts == 2


async def test_an_unreachable_server_is_a_connection_error(world: World) -> None:
    account = await world.account("sam@sender.example")
    campaign = await world.campaign([step("Hello", "Body")], ["sam@sender.example"])
    await world.leads(campaign, "a@lead.example")
    await world.servers["sam@sender.example"].stop()
    assert await world.run_until_idle() == 0
    row = await world.account_row(account)
    assert row.status == -1 and row.status_message["code"] in {"ECONNREFUSED", "ECONNECTION", "ETIMEDOUT"}


async def test_a_refused_sender_is_a_sending_error(world: World) -> None:
    account = await world.account("sam@sender.example")
    campaign = await world.campaign([step("Hello", "Body")], ["sam@sender.example"])
    [lead] = await world.leads(campaign, "a@lead.example")
    server = world.servers["sam@sender.example"]
    original = server.handle_RCPT

    async def refuse_sender(*args: object, **kwargs: object) -> str:
        return "553 5.7.1 sender not allowed"

    server.handle_MAIL = refuse_sender  # type: ignore[attr-defined]
    assert await world.run_until_idle() == 0
    assert (await world.account_row(account)).status == -3
    assert (await world.lead(lead)).status == 1
    assert original is not None


async def test_bounce_protection_pauses_the_campaign_past_the_threshold(world: World) -> None:
    campaign = await _campaign(world)
    addresses = [f"l{i:02}@lead.example" for i in range(25)]
    await world.leads(campaign, *addresses)
    for address in addresses[:4]:  # 16% > 10%
        world.servers["sam@sender.example"].recipient_replies[address] = "550 5.1.1 no such user"
    await world.run_until_idle()
    assert (await world.campaign_row(campaign)).status == -2
    world.clock.advance(days=2)
    assert await world.run_until_idle() == 0


async def test_disable_bounce_protect_keeps_sending(world: World) -> None:
    campaign = await _campaign(world, disable_bounce_protect=True)
    addresses = [f"l{i:02}@lead.example" for i in range(25)]
    await world.leads(campaign, *addresses)
    for address in addresses[:4]:
        world.servers["sam@sender.example"].recipient_replies[address] = "550 5.1.1 no such user"
    assert await world.run_until_idle() == 21
    assert (await world.campaign_row(campaign)).status == 1


# -- recovery ------------------------------------------------------------------------------------


async def _claim_only(world: World):
    """What a worker killed right after its claim leaves behind."""
    [(org, account_id, campaigns)] = await world.engine.find_ready(world.clock.now())
    turn = await world.engine.claim(org, account_id, campaigns)
    assert turn is not None
    return turn


async def test_a_send_abandoned_before_smtp_is_sent_after_the_lease_with_the_same_message_id(world: World) -> None:
    campaign = await _campaign(world)
    [lead] = await world.leads(campaign, "a@lead.example")
    turn = await _claim_only(world)
    assert (await world.outbox())[0].state == "sending"
    assert await world.run_until_idle() == 0  # the lease still holds: nobody touches it
    assert world.inbox() == []
    world.clock.advance(seconds=31)
    report = await world.run()
    assert report.recovered == 1
    [message] = world.inbox()
    assert message["Message-ID"] == turn.items[0].message_id
    assert (await world.outbox())[0].state == "done"
    assert (await world.lead(lead)).next_step == 1
    assert len(await world.emails()) == 1


async def test_a_send_accepted_but_not_recorded_is_settled_without_sending_again(world: World) -> None:
    campaign = await _campaign(world)
    [lead] = await world.leads(campaign, "a@lead.example")
    turn = await _claim_only(world)
    outcomes = await world.engine._deliver(turn)  # SMTP done and `sent` marked; the worker dies here
    assert [o.kind for o in outcomes] == ["sent"]
    assert (await world.outbox())[0].state == "sent"
    world.clock.advance(seconds=31)
    assert (await world.run()).recovered == 1
    assert len(world.inbox()) == 1
    [email] = await world.emails()
    assert email.subject == "Hello" and email.message_id == turn.items[0].message_id
    assert (await world.lead(lead)).next_step == 1


async def test_recovery_cancels_abandoned_sends_of_a_paused_campaign(world: World) -> None:
    campaign = await _campaign(world)
    [lead] = await world.leads(campaign, "a@lead.example")
    await _claim_only(world)
    await world.execute("UPDATE campaigns SET status = 2 WHERE id = :id", id=campaign)
    world.clock.advance(seconds=31)
    assert (await world.run()).recovered == 1
    assert world.inbox() == []
    assert (await world.outbox())[0].state == "cancelled"
    assert (await world.lead(lead)).next_send_at == world.clock.now()


async def test_a_send_refused_temporarily_six_times_is_a_soft_bounce(world: World) -> None:
    campaign = await _campaign(world)
    [lead] = await world.leads(campaign, "busy@lead.example")
    world.servers["sam@sender.example"].recipient_replies["busy@lead.example"] = "452 4.2.2 Mailbox full"
    for _ in range(6):
        assert await world.run_until_idle() == 0
        world.clock.advance(hours=7)
    [row] = await world.outbox()
    assert (row.state, row.attempts) == ("failed", 6) and "gave up after 6" in row.error
    assert (await world.lead(lead)).status == -1


async def test_a_turn_longer_than_the_lease_keeps_it_and_nothing_is_sent_twice(world: World) -> None:
    """Leases are renewed while a turn sends, so another worker never recovers sends still in hand."""
    from datetime import UTC, datetime

    from coldsend.kit.clock import SystemClock
    from coldsend.sending.engine import SendingEngine

    await world.account("sam@sender.example")
    campaign = await world.campaign([step("Hello", "Body")], ["sam@sender.example"])
    await world.leads(campaign, *[f"l{i:02}@lead.example" for i in range(20)], due=datetime.now(UTC))
    world.servers["sam@sender.example"].delay = 0.12  # 20 messages: a 2.4 s turn against a 2 s lease
    first = SendingEngine(world.ws.engine, world.settings, clock=SystemClock(), lease_seconds=2)
    second = SendingEngine(world.ws.engine, world.settings, clock=SystemClock(), lease_seconds=2)
    turn = asyncio.create_task(first.run_pass())
    await asyncio.sleep(0.3)  # the first engine holds the mailbox and its 20 sends
    recovered = sent_by_second = 0
    while not turn.done():
        report = await second.run_pass()
        recovered, sent_by_second = recovered + report.recovered, sent_by_second + report.sent
        await asyncio.sleep(0.1)
    assert (await turn).sent == 20
    assert (recovered, sent_by_second) == (0, 0)
    ids = [m["Message-ID"] for m in world.inbox()]
    assert len(ids) == 20 == len(set(ids))

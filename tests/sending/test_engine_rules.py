"""When the engine sends, and to whom: schedules (timezones, DST, dates), limits, gaps, stop rules,
variant rotation, message shape, and concurrent workers."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from coldsend.kit.ids import new_id
from coldsend.sending.engine import SendingEngine
from tests.sending.world import ALL_DAYS, World, step

WEEKDAYS = {str(d): d in (1, 2, 3, 4, 5) for d in range(7)}


def detroit(start: str, end: str, days: dict[str, bool] = WEEKDAYS, **dates: str) -> dict[str, object]:
    return {
        "schedules": [
            {"name": "office", "timing": {"from": start, "to": end}, "days": days, "timezone": "America/Detroit"}
        ],
        **dates,
    }


async def simple(world: World, *, steps: int = 1, senders: tuple[str, ...] = ("sam@sender.example",), **values: object):
    for sender in senders:
        if sender not in world.servers:
            await world.account(sender)
    return await world.campaign(
        [step(f"Step {i + 1}" if i == 0 else "", f"Body {i + 1}", delay=1) for i in range(steps)], senders, **values
    )


# -- schedules -----------------------------------------------------------------------------------


async def test_sends_only_inside_the_schedule_window_in_its_timezone(world: World) -> None:
    campaign = await simple(world, campaign_schedule=detroit("09:00", "17:00"))
    # Wednesday 2027-03-10, 13:30 UTC = 08:30 in Detroit (EST, UTC-5): closed
    world.clock.set(datetime(2027, 3, 10, 13, 30, tzinfo=UTC))
    await world.leads(campaign, "a@lead.example", due=world.clock.now())
    assert await world.run_until_idle() == 0
    world.clock.set(datetime(2027, 3, 10, 14, 0, tzinfo=UTC))  # 09:00 local: open
    assert await world.run_until_idle() == 1


async def test_the_window_follows_daylight_saving_time(world: World) -> None:
    campaign = await simple(world, campaign_schedule=detroit("09:00", "10:00"))
    # Monday 2027-03-15, after the switch to EDT (UTC-4): 13:30 UTC is 09:30 local -> open
    world.clock.set(datetime(2027, 3, 15, 13, 30, tzinfo=UTC))
    await world.leads(campaign, "a@lead.example", "b@lead.example", due=world.clock.now())
    world.clock.set(datetime(2027, 3, 12, 13, 30, tzinfo=UTC))  # Friday before: 08:30 EST -> closed
    assert await world.run_until_idle() == 0
    world.clock.set(datetime(2027, 3, 15, 13, 30, tzinfo=UTC))
    assert await world.run_until_idle() == 2


async def test_no_sends_on_disabled_days_or_outside_start_and_end_dates(world: World) -> None:
    campaign = await simple(
        world, campaign_schedule=detroit("00:00", "23:59", start_date="2027-03-16", end_date="2027-03-17")
    )
    await world.leads(campaign, "a@lead.example", due=datetime(2027, 3, 1, tzinfo=UTC))
    world.clock.set(datetime(2027, 3, 13, 17, 0, tzinfo=UTC))  # a Saturday, and before start_date
    assert await world.run_until_idle() == 0
    world.clock.set(datetime(2027, 3, 15, 17, 0, tzinfo=UTC))  # Monday, still before start_date
    assert await world.run_until_idle() == 0
    world.clock.set(datetime(2027, 3, 18, 17, 0, tzinfo=UTC))  # after end_date
    assert await world.run_until_idle() == 0
    world.clock.set(datetime(2027, 3, 16, 17, 0, tzinfo=UTC))
    assert await world.run_until_idle() == 1


# -- limits and gaps -----------------------------------------------------------------------------


async def test_campaign_daily_limit_resets_at_the_campaigns_midnight(world: World) -> None:
    campaign = await simple(world, daily_limit=3)
    await world.leads(campaign, *[f"l{i}@lead.example" for i in range(5)])
    assert await world.run_until_idle() == 3
    world.clock.advance(hours=6)
    assert await world.run_until_idle() == 0
    world.clock.advance(days=1)
    assert await world.run_until_idle() == 2


async def test_account_daily_limit_holds_across_its_campaigns(world: World) -> None:
    await world.account("sam@sender.example", daily_limit=4)
    one = await world.campaign([step("A", "a")], ["sam@sender.example"])
    two = await world.campaign([step("B", "b")], ["sam@sender.example"])
    await world.leads(one, *[f"one{i}@lead.example" for i in range(3)])
    await world.leads(two, *[f"two{i}@lead.example" for i in range(3)])
    assert await world.run_until_idle() == 4
    assert len(world.inbox()) == 4
    world.clock.advance(days=1)
    assert await world.run_until_idle() == 2


async def test_sending_gap_and_random_wait_space_the_sends_of_one_account(world: World) -> None:
    account = await world.account("sam@sender.example", sending_gap=10)
    campaign = await world.campaign([step("A", "a")], ["sam@sender.example"], random_wait_max=5)
    await world.leads(campaign, *[f"l{i}@lead.example" for i in range(3)])
    assert await world.run_until_idle() == 1
    row = await world.account_row(account)
    wait = row.send_available_at - world.clock.now()
    assert timedelta(minutes=10) <= wait <= timedelta(minutes=15)
    world.clock.advance(minutes=9, seconds=59)
    assert await world.run_until_idle() == 0
    world.clock.set(row.send_available_at)
    assert await world.run_until_idle() == 1


async def test_campaign_email_gap_applies_when_larger_than_the_accounts(world: World) -> None:
    await world.account("sam@sender.example", sending_gap=1)
    campaign = await world.campaign([step("A", "a")], ["sam@sender.example"], email_gap=30)
    await world.leads(campaign, "a@lead.example", "b@lead.example")
    assert await world.run_until_idle() == 1
    world.clock.advance(minutes=29)
    assert await world.run_until_idle() == 0
    world.clock.advance(minutes=1, seconds=1)
    assert await world.run_until_idle() == 1


async def test_daily_max_leads_limits_new_leads_but_not_follow_ups(world: World) -> None:
    campaign = await simple(world, steps=2, daily_max_leads=2)
    await world.leads(campaign, *[f"l{i}@lead.example" for i in range(4)])
    assert await world.run_until_idle() == 2
    world.clock.advance(days=1, minutes=1)
    # the two follow-ups are due, and two new leads may start
    assert await world.run_until_idle() == 4
    subjects = sorted(m["Subject"] for m in world.inbox())
    assert subjects == ["Re: Step 1", "Re: Step 1", "Step 1", "Step 1", "Step 1", "Step 1"]


async def test_prioritize_new_leads_puts_first_steps_before_follow_ups(world: World) -> None:
    campaign = await simple(world, steps=2, daily_limit=2, prioritize_new_leads=True)
    await world.leads(campaign, "a@lead.example", "b@lead.example")
    assert await world.run_until_idle() == 2
    world.clock.advance(days=1, minutes=1)
    await world.leads(campaign, "c@lead.example", "d@lead.example")
    assert await world.run_until_idle() == 2
    assert sorted(m["To"] for m in world.inbox()[2:]) == ["c@lead.example", "d@lead.example"]


async def test_without_priority_follow_ups_due_earlier_go_first(world: World) -> None:
    campaign = await simple(world, steps=2, daily_limit=2)
    await world.leads(campaign, "a@lead.example", "b@lead.example")
    assert await world.run_until_idle() == 2
    world.clock.advance(days=1, minutes=1)
    await world.leads(campaign, "c@lead.example", "d@lead.example")
    assert await world.run_until_idle() == 2
    assert sorted(m["To"] for m in world.inbox()[2:]) == ["a@lead.example", "b@lead.example"]


# -- stop rules ----------------------------------------------------------------------------------


async def test_stop_rules_skip_blocked_replied_paused_and_finished_leads(world: World) -> None:
    campaign = await simple(world, stop_for_company=True)
    ids = await world.leads(
        campaign,
        "ok@lead.example",
        "blocked@lead.example",
        "x@blockeddomain.example",
        {"email": "replied@reply.example", "timestamp_last_reply": world.clock.now()},
        "colleague@reply.example",
        {"email": "paused@lead.example", "status": 2},
        {"email": "unsub@lead.example", "status": -2},
        {"email": "bounced@lead.example", "status": -1},
    )
    await world.execute(
        "INSERT INTO block_list_entries (organization_id, id, bl_value, is_domain, timestamp_created) VALUES "
        "(:org, :a, 'blocked@lead.example', false, now()), (:org, :b, 'blockeddomain.example', true, now())",
        org=world.organization_id,
        a=new_id(),
        b=new_id(),
    )
    assert await world.run_until_idle() == 1
    assert [m["To"] for m in world.inbox()] == ["ok@lead.example"]
    statuses = {
        row.email: row.status
        for row in await world.rows("SELECT email, status FROM leads WHERE organization_id = :org")
    }
    assert statuses["blocked@lead.example"] == -3 and statuses["x@blockeddomain.example"] == -3
    assert statuses["replied@reply.example"] == 3 and statuses["colleague@reply.example"] == 3
    assert statuses["paused@lead.example"] == 2
    # the paused lead keeps the campaign from completing
    assert (await world.campaign_row(campaign)).status == 1
    assert len(ids) == 8


async def test_replies_do_not_stop_the_sequence_without_stop_on_reply(world: World) -> None:
    campaign = await simple(world, stop_on_reply=False)
    await world.leads(campaign, {"email": "replied@lead.example", "timestamp_last_reply": world.clock.now()})
    assert await world.run_until_idle() == 1


async def test_pausing_the_campaign_or_the_account_stops_its_sends(world: World) -> None:
    campaign = await simple(world, steps=2)
    await world.leads(campaign, "a@lead.example")
    assert await world.run_until_idle() == 1
    await world.execute("UPDATE campaigns SET status = 2 WHERE id = :id", id=campaign)
    world.clock.advance(days=2)
    assert await world.run_until_idle() == 0
    await world.execute("UPDATE campaigns SET status = 1 WHERE id = :id", id=campaign)
    await world.execute("UPDATE accounts SET status = 2 WHERE organization_id = :org", org=world.organization_id)
    assert await world.run_until_idle() == 0
    await world.execute("UPDATE accounts SET status = 1 WHERE organization_id = :org", org=world.organization_id)
    assert await world.run_until_idle() == 1


async def test_a_campaign_with_no_lead_left_waits_and_completes_only_after_the_last_step(world: World) -> None:
    campaign = await simple(world, steps=1)
    assert await world.run_until_idle() == 0
    assert (await world.campaign_row(campaign)).status == 1  # waiting for leads, not completed
    await world.leads(campaign, "a@lead.example")
    assert await world.run_until_idle() == 1
    assert (await world.campaign_row(campaign)).status == 3


# -- what is sent --------------------------------------------------------------------------------


async def test_variants_rotate_among_enabled_ones_and_are_recorded(world: World) -> None:
    await world.account("sam@sender.example")
    variants = [
        {"subject": "Variant A", "body": "a"},
        {"subject": "Variant B", "body": "b", "v_disabled": True},
        {"subject": "Variant C", "body": "c"},
    ]
    campaign = await world.campaign([step("", "", variants=variants)], ["sam@sender.example"])
    await world.leads(campaign, *[f"l{i}@lead.example" for i in range(4)])
    assert await world.run_until_idle() == 4
    assert sorted(m["Subject"] for m in world.inbox()) == ["Variant A", "Variant A", "Variant C", "Variant C"]
    outbox = await world.outbox()
    assert sorted(o.variant for o in outbox) == [0, 0, 2, 2]
    emails = {e.message_id: e for e in await world.emails()}
    for o in outbox:
        assert emails[o.message_id].variant == o.variant
        assert emails[o.message_id].subject == ("Variant A" if o.variant == 0 else "Variant C")


async def test_message_shape_cc_bcc_text_only_and_unsubscribe_header(world: World) -> None:
    await world.account("sam@sender.example", reply_to="replies@sender.example")
    campaign = await world.campaign(
        [step("First", "<p>Hello <b>{{firstName}}</b></p>"), step("Second", "<p>Again</p>")],
        ["sam@sender.example"],
        cc_list=["cc@team.example"],
        bcc_list=["bcc@team.example"],
        first_email_text_only=True,
        insert_unsubscribe_header=True,
    )
    await world.leads(campaign, {"email": "ann@lead.example", "first_name": "Ann"})
    assert await world.run_until_idle() == 1
    server = world.servers["sam@sender.example"]
    envelope = server.messages[0]
    assert sorted(envelope.rcpt_tos) == ["ann@lead.example", "bcc@team.example", "cc@team.example"]
    [first] = world.inbox("ann@lead.example")
    assert first["Bcc"] is None and first["Cc"] == "cc@team.example"
    assert first["Reply-To"] == "replies@sender.example"
    assert first.get_content_type() == "text/plain"
    assert "Hello Ann" in first.get_content()
    assert first["Message-ID"].endswith("@sender.example>")
    assert first["List-Unsubscribe"].startswith("<http") and "/t/u/" in first["List-Unsubscribe"]
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    world.clock.advance(days=1, minutes=1)
    assert await world.run_until_idle() == 1
    second = world.inbox("ann@lead.example")[1]
    assert second.get_content_type() == "multipart/alternative"
    assert second["Subject"] == "Second"  # a subject of its own: a new thread
    assert second["In-Reply-To"] is None


async def test_tracking_instruments_html_links_and_adds_the_pixel(world: World) -> None:
    await world.account("sam@sender.example", tracking_domain_name="track.sender.example")
    campaign = await world.campaign(
        [step("Hi", '<p>See <a href="https://example.com/page">this</a></p>')],
        ["sam@sender.example"],
        open_tracking=True,
        link_tracking=True,
    )
    await world.leads(campaign, "ann@lead.example")
    assert await world.run_until_idle() == 1
    html = world.inbox()[0].get_body(("html",)).get_content()
    assert "https://track.sender.example/t/c/" in html and "https://example.com/page" not in html
    assert "https://track.sender.example/t/o/" in html
    stored = (await world.emails())[0]
    assert stored.body_html is not None and "/t/o/" in stored.body_html


async def test_another_workspaces_account_never_sends_for_a_campaign(world: World) -> None:
    other = new_id()
    async with world.ws.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO workspaces (id, name, owner, timestamp_created, timestamp_updated) "
                "VALUES (:id, 'other', :id, now(), now())"
            ),
            {"id": other},
        )
    try:
        saved = world.ws.id
        world.ws.id = other
        await world.account("stranger@other.example")
        world.ws.id = saved
        campaign = await world.campaign([step("A", "a")], ["stranger@other.example"])
        await world.leads(campaign, "a@lead.example")
        assert await world.run_until_idle() == 0
        assert world.inbox() == []
    finally:
        async with world.ws.engine.begin() as conn:
            await conn.execute(text("DELETE FROM workspaces WHERE id = :id"), {"id": other})


async def test_two_engines_at_once_send_every_step_exactly_once(world: World) -> None:
    senders = tuple(f"s{i}@sender.example" for i in range(4))
    for sender in senders:
        await world.account(sender)
    campaign = await world.campaign([step("A", "a", delay=0, unit="minutes"), step("", "b")], senders, daily_limit=300)
    await world.leads(campaign, *[f"l{i}@lead.example" for i in range(120)])
    other = SendingEngine(world.ws.engine, world.settings, clock=world.clock, batch_size=7, rng=random.Random(1))
    world.engine.batch_size = 5
    for _ in range(40):
        reports = await asyncio.gather(world.engine.run_pass(), other.run_pass())
        if not any(r.sent for r in reports):
            break
    received = world.inbox()
    assert len(received) == 240
    ids = [m["Message-ID"] for m in received]
    assert len(set(ids)) == 240
    pairs = {(m["To"], m["Subject"].startswith("Re:")) for m in received}
    assert len(pairs) == 240
    (sent,) = (await world.rows("SELECT sum(sent) FROM campaign_daily_stats WHERE organization_id = :org"))[0]
    assert sent == 240


async def test_days_of_schedule_run_in_seconds(world: World) -> None:
    """A 3-step sequence with 2-day delays through a weekday-only window over two weeks."""
    await world.account("sam@sender.example")
    campaign = await world.campaign(
        [step("One", "1", delay=2), step("", "2", delay=2), step("", "3")],
        ["sam@sender.example"],
        campaign_schedule=detroit("09:00", "17:00", days={**ALL_DAYS, "0": False, "6": False}),
    )
    world.clock.set(datetime(2027, 3, 5, 15, 0, tzinfo=UTC))  # Friday 10:00 in Detroit
    [lead] = await world.leads(campaign, "ann@lead.example", due=world.clock.now())
    sent_at = []
    for _ in range(14 * 24):
        world.clock.advance(hours=1)
        if (await world.run()).sent:
            sent_at.append(world.clock.now())
    assert len(sent_at) == 3
    # Fri -> (2 days) Sunday closed -> Monday 09:00 local; Monday -> Wednesday
    assert [d.astimezone(UTC).strftime("%a") for d in sent_at] == ["Fri", "Mon", "Wed"]
    assert (await world.lead(lead)).status == 3


async def test_pausing_mid_turn_stops_the_remaining_sends_within_a_second(world: World) -> None:
    campaign = await simple(world)
    leads = await world.leads(campaign, *[f"l{i:02}@lead.example" for i in range(40)])
    world.servers["sam@sender.example"].delay = 0.1  # each message takes 100 ms: a 4 s turn
    running = asyncio.create_task(world.run())
    await asyncio.sleep(0.5)
    await world.execute("UPDATE campaigns SET status = 2 WHERE id = :id", id=campaign)
    report = await asyncio.wait_for(running, timeout=10)
    assert 1 <= report.sent <= 20
    states = [o.state for o in await world.outbox()]
    assert states.count("done") == report.sent and states.count("cancelled") == 40 - report.sent
    waiting = [row for row in [await world.lead(lead) for lead in leads] if row.next_step == 0]
    assert len(waiting) == 40 - report.sent
    assert all(row.next_send_at is not None and row.next_send_at.year < 9999 for row in waiting)


async def test_deleting_the_campaign_or_account_mid_turn_breaks_nothing(world: World) -> None:
    campaign = await simple(world)
    await world.leads(campaign, *[f"l{i:02}@lead.example" for i in range(10)])
    server = world.servers["sam@sender.example"]
    server.delay = 0.05
    server.recipient_replies["l09@lead.example"] = "550 5.1.1 no such user"
    running = asyncio.create_task(world.run())
    await asyncio.sleep(0.2)
    await world.execute("DELETE FROM campaigns WHERE id = :id", id=campaign)
    await asyncio.wait_for(running, timeout=10)
    assert await world.outbox() == []  # the leads, and their sends, went with the campaign
    assert world.engine._busy == set()
    assert (await world.run()).sent == 0


async def test_sent_messages_render_lead_sender_and_custom_variables(world: World) -> None:
    await world.account("sam@sender.example", signature="<b>Sam</b><br>CEO")
    body = (
        "<p>{{RANDOM|Hi|Hello}} {{firstName|there}} at {{companyName}} in {{city}},</p>"
        "<p>{% if jobTitle %}As {{jobTitle}}, you{% else %}You{% endif %} might like this.</p>"
        "<p>{{sendingAccountFirstName}}</p>{{accountSignature}}<p>{{unsubscribeLink}}</p>"
    )
    campaign = await world.campaign(
        [step("{{companyName}} x {{sendingAccountFirstName}}", body)], ["sam@sender.example"]
    )
    await world.leads(
        campaign,
        {
            "email": "ann@lead.example",
            "first_name": "Ann",
            "company_name": "Acme",
            "job_title": "CTO",
            "payload": {"city": "Berlin"},
        },
        {"email": "bob@lead.example", "company_name": "Bobco <&>"},
    )
    assert await world.run_until_idle() == 2
    [ann] = world.inbox("ann@lead.example")
    [bob] = world.inbox("bob@lead.example")
    assert ann["Subject"] == "Acme x Sam" and bob["Subject"] == "Bobco <&> x Sam"
    ann_html = ann.get_body(("html",)).get_content()
    assert "Ann at Acme in Berlin" in ann_html and "As CTO, you might like this." in ann_html
    assert "<b>Sam</b><br>CEO" in ann_html and ">unsubscribe</a>" in ann_html and "/t/u/" in ann_html
    bob_html = bob.get_body(("html",)).get_content()
    assert "there at Bobco &lt;&amp;&gt; in ," in bob_html and "You might like this." in bob_html
    text_part = ann.get_body(("plain",)).get_content()
    assert "Ann at Acme in Berlin" in text_part and "<b>" not in text_part
    assert any(greeting in ann_html for greeting in ("Hi Ann", "Hello Ann"))


async def test_html_and_text_parts_make_the_same_spintax_choice(world: World) -> None:
    await world.account("sam@sender.example")
    body = "<p>{{RANDOM|Alpha|Beta|Gamma|Delta}} and {{RANDOM|one|two|three}}, {{firstName|friend}}</p>"
    campaign = await world.campaign([step("Hi", body)], ["sam@sender.example"])
    await world.leads(campaign, *[f"l{i:02}@lead.example" for i in range(12)])
    assert await world.run_until_idle() == 12
    seen = set()
    for message in world.inbox():
        text = message.get_body(("plain",)).get_content().strip()
        html = message.get_body(("html",)).get_content()
        assert f"<p>{text}</p>" in html
        seen.add(text)
    assert len(seen) > 1  # the choices vary between messages

"""The sending engine end to end: real SMTP servers, committed rows, an injected clock."""

from __future__ import annotations

from tests.sending.world import World, step


async def test_an_active_campaign_sends_each_step_once_and_completes(world: World) -> None:
    await world.account("sam@sender.example")
    campaign = await world.campaign(
        [step("Hello {{firstName}}", "Hi {{firstName|there}}, a question.", delay=2), step("", "Following up.")],
        ["sam@sender.example"],
    )
    [ann, bob] = await world.leads(campaign, {"email": "ann@lead.example", "first_name": "Ann"}, "bob@lead.example")

    assert await world.run_until_idle() == 2
    first = world.inbox("ann@lead.example")
    assert [m["Subject"] for m in first] == ["Hello Ann"]
    assert "Hi Ann, a question." in first[0].get_body(("plain",)).get_content()
    assert "Hi there, a question." in world.inbox("bob@lead.example")[0].get_body(("plain",)).get_content()
    lead = await world.lead(ann)
    assert (lead.next_step, lead.status) == (1, 1)
    assert lead.next_send_at == lead.timestamp_last_contact + __import__("datetime").timedelta(days=2)

    # nothing more until the delay has passed
    world.clock.advance(days=1)
    assert await world.run_until_idle() == 0
    world.clock.advance(days=1, minutes=1)
    assert await world.run_until_idle() == 2
    second = world.inbox("ann@lead.example")[1]
    assert second["Subject"] == "Re: Hello Ann"
    assert second["In-Reply-To"] == first[0]["Message-ID"]
    assert second["References"] == first[0]["Message-ID"]

    assert (await world.lead(ann)).status == 3
    assert (await world.lead(bob)).status == 3
    assert (await world.campaign_row(campaign)).status == 3
    emails = await world.emails()
    assert len(emails) == 4 and {e.ue_type for e in emails} == {1}
    assert {e.step for e in emails} == {"1", "2"}
    threads = {e.lead: e.thread_id for e in emails if e.step == "1"}
    assert all(e.thread_id == threads[e.lead] for e in emails)
    assert len({o.message_id for o in await world.outbox()}) == 4
    # more passes send nothing again
    world.clock.advance(days=30)
    assert await world.run_until_idle() == 0
    assert len(world.inbox()) == 4

"""Replies, auto-replies, bounces and plain mail arriving in a real Dovecot mailbox, read by inbox sync."""

from __future__ import annotations

import asyncio
import time
from email.utils import format_datetime
from pathlib import Path

from coldsend.inbox.sync import InboxSync
from tests.inbox_sync.conftest import MAILBOXES, InboxWorld
from tests.sending.world import step

BOX = MAILBOXES[0]


def message(
    sender: str,
    to: str,
    subject: str,
    body: str,
    *,
    message_id: str,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Message-ID: {message_id}",
        f"Date: {format_datetime(__import__('datetime').datetime.now(__import__('datetime').UTC))}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {references}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def dsn(to: str, failed: str, original_id: str, status: str = "5.1.1", action: str = "failed") -> bytes:
    boundary = "BOUNDARY42"
    code = "550" if status.startswith("5") else "452"
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.lead.example>\r\n"
        f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn-{original_id.strip('<>')}>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.lead.example\r\n\r\nFinal-Recipient: rfc822; {failed}\r\nAction: {action}\r\n"
        f"Status: {status}\r\nDiagnostic-Code: smtp; {code} {status} mailbox problem\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {to}\r\nTo: {failed}\r\nSubject: Hello\r\nMessage-ID: {original_id}\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()


async def sent_campaign(world: InboxWorld, *leads: str, **values: object):
    account = await world.mailbox(BOX)
    campaign = await world.campaign(
        [step("Hello {{firstName|there}}", "First", delay=1), step("", "Second")], [BOX], **values
    )
    ids = await world.leads(campaign, *leads)
    assert await world.run_until_idle() == len(leads)
    sent = {e.lead: e for e in await world.emails()}
    return account, campaign, ids, sent


async def received(world: InboxWorld):
    return await world.rows("SELECT * FROM emails WHERE organization_id = :org AND ue_type = 2 ORDER BY id")


async def test_a_reply_threaded_by_headers_marks_the_lead_and_stops_the_next_step(world: InboxWorld) -> None:
    account, campaign, [ann, bob], sent = await sent_campaign(world, "ann@lead.example", "bob@lead.example")
    first = sent["ann@lead.example"]
    world.deliver(
        BOX,
        message(
            "Ann <ann@lead.example>",
            BOX,
            "Re: Hello there",
            "Sounds good!\r\n\r\nOn Mon, Sam wrote:\r\n> First",
            message_id="<reply-1@lead.example>",
            in_reply_to=first.message_id,
            references=first.message_id,
        ),
    )
    result = await world.sync(account)
    assert (result.stored, result.replies) == (1, 1)
    [reply] = await received(world)
    assert reply.thread_id == first.thread_id and reply.lead_id == ann and reply.campaign_id == campaign
    assert reply.is_unread == 1 and reply.is_auto_reply == 0 and reply.step == "1"
    assert reply.from_address_email == "ann@lead.example" and reply.eaccount == BOX
    assert reply.content_preview.startswith("Sounds good!") and "First" not in reply.content_preview
    lead = await world.lead(ann)
    assert lead.email_reply_count == 1 and lead.timestamp_last_reply is not None
    assert (lead.status, lead.next_send_at, lead.email_replied_step) == (3, None, 1)
    [(replies, unique)] = await world.rows(
        "SELECT replies, unique_replies FROM campaign_daily_stats WHERE organization_id = :org"
    )
    assert (replies, unique) == (1, 1)
    # the next step goes to Bob only
    world.clock.advance(days=1, minutes=1)
    assert await world.run_until_idle() == 1
    assert [m["To"] for m in world.inbox() if m["Subject"].startswith("Re:")] == ["bob@lead.example"]
    # a second sync stores nothing twice
    assert (await world.sync(account)).stored == 0
    assert len(await received(world)) == 1
    bob_row = await world.lead(bob)
    assert (bob_row.next_step, bob_row.status, bob_row.email_reply_count) == (2, 3, 0)  # finished, never replied


async def test_a_reply_without_headers_is_matched_by_sender_and_subject(world: InboxWorld) -> None:
    account, _campaign, [ann], _sent = await sent_campaign(world, {"email": "ann@lead.example", "first_name": "Ann"})
    world.deliver(BOX, message("ann@lead.example", BOX, "RE: Hello Ann", "Yes please", message_id="<r2@lead.example>"))
    world.deliver(BOX, message("ann@lead.example", BOX, "Something else", "Hi", message_id="<r3@lead.example>"))
    result = await world.sync(account)
    assert result.stored == 2 and result.replies == 1
    rows = {r.message_id: r for r in await received(world)}
    assert rows["<r2@lead.example>"].lead_id == ann
    assert rows["<r3@lead.example>"].lead_id is None  # a new conversation, not a reply
    assert (await world.lead(ann)).email_reply_count == 1


async def test_stop_for_company_stops_the_whole_domain(world: InboxWorld) -> None:
    account, _c, [ann, bob, carl], sent = await sent_campaign(
        world, "ann@acme.example", "bob@acme.example", "carl@other.example", stop_for_company=True
    )
    first = sent["ann@acme.example"]
    world.deliver(
        BOX,
        message(
            "ann@acme.example",
            BOX,
            "Re: Hello there",
            "Talk soon",
            message_id="<r@acme.example>",
            in_reply_to=first.message_id,
        ),
    )
    await world.sync(account)
    assert [(await world.lead(x)).status for x in (ann, bob, carl)] == [3, 3, 1]


async def test_an_out_of_office_reply_is_flagged_and_keeps_the_sequence(world: InboxWorld) -> None:
    account, _c, [ann], sent = await sent_campaign(world, "ann@lead.example")
    first = sent["ann@lead.example"]
    world.deliver(
        BOX,
        message(
            "ann@lead.example",
            BOX,
            "Automatic reply: Hello there",
            "I am out of the office until Monday.",
            message_id="<ooo@lead.example>",
            in_reply_to=first.message_id,
            headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
        ),
    )
    result = await world.sync(account)
    assert (result.auto_replies, result.replies) == (1, 0)
    [row] = await received(world)
    assert row.is_auto_reply == 1 and row.thread_id == first.thread_id
    lead = await world.lead(ann)
    assert (lead.status, lead.lt_interest_status, lead.email_reply_count) == (1, 0, 0)


async def test_stop_on_auto_reply_ends_the_sequence(world: InboxWorld) -> None:
    account, _c, [ann], sent = await sent_campaign(world, "ann@lead.example", stop_on_auto_reply=True)
    world.deliver(
        BOX,
        message(
            "ann@lead.example",
            BOX,
            "Out of Office",
            "Away",
            message_id="<ooo2@lead.example>",
            in_reply_to=sent["ann@lead.example"].message_id,
            headers={"Auto-Submitted": "auto-replied"},
        ),
    )
    await world.sync(account)
    assert (await world.lead(ann)).status == 3


async def test_hard_and_soft_bounces(world: InboxWorld) -> None:
    account, campaign, [gone, full], sent = await sent_campaign(world, "gone@lead.example", "full@lead.example")
    world.deliver(BOX, dsn(BOX, "gone@lead.example", sent["gone@lead.example"].message_id))
    world.deliver(BOX, dsn(BOX, "full@lead.example", sent["full@lead.example"].message_id, "4.2.2", "delayed"))
    result = await world.sync(account)
    assert result.bounces == 2
    assert (await world.lead(gone)).status == -1 and (await world.lead(gone)).next_send_at is None
    assert (await world.lead(full)).status == 1
    [(bounced,)] = await world.rows(
        "SELECT bounced FROM campaign_daily_stats WHERE organization_id = :org AND campaign_id = :c", c=campaign
    )
    assert bounced == 1
    threads = {r.lead_id: r.thread_id for r in await received(world)}
    assert threads[gone] == sent["gone@lead.example"].thread_id


async def test_the_spam_folder_is_read_too(world: InboxWorld) -> None:
    account, _c, [ann], sent = await sent_campaign(world, "ann@lead.example")
    world.deliver(
        BOX,
        message(
            "ann@lead.example",
            BOX,
            "Re: Hello there",
            "In spam",
            message_id="<s@lead.example>",
            in_reply_to=sent["ann@lead.example"].message_id,
        ),
        folder="Junk",
    )
    result = await world.sync(account)
    assert result.replies == 1
    assert (await world.lead(ann)).email_reply_count == 1
    states = await world.rows(
        "SELECT folder, role FROM mailbox_sync_state WHERE organization_id = :org ORDER BY folder"
    )
    assert [(s.folder, s.role) for s in states] == [("INBOX", "inbox"), ("Junk", "spam")]


async def test_plain_mail_lands_in_the_unibox(world: InboxWorld) -> None:
    account = await world.mailbox(BOX)
    world.deliver(BOX, message("someone@else.example", BOX, "Hello", "Are you hiring?", message_id="<p@else.example>"))
    assert (await world.sync(account)).stored == 1
    [row] = await received(world)
    assert row.lead_id is None and row.campaign_id is None and row.lead == "someone@else.example"
    assert row.thread_id is not None and row.is_unread == 1


async def test_a_uidvalidity_reset_reads_the_folder_again_without_duplicates(world: InboxWorld) -> None:
    account = await world.mailbox(BOX)
    for n in range(3):
        world.deliver(BOX, message("x@else.example", BOX, f"M{n}", "x", message_id=f"<m{n}@else.example>"))
    assert (await world.sync(account)).stored == 3
    [before] = await world.rows(
        "SELECT uidvalidity FROM mailbox_sync_state WHERE organization_id = :org AND folder = 'INBOX'"
    )
    await asyncio.sleep(1.1)  # Dovecot derives a new UIDVALIDITY from the clock
    assert world.dovecot is not None
    maildir = world.dovecot.maildir(BOX)
    for name in ("dovecot-uidlist", "dovecot.index", "dovecot.index.log", "dovecot.index.cache"):
        (maildir / name).unlink(missing_ok=True)
    world.deliver(BOX, message("x@else.example", BOX, "M3", "x", message_id="<m3@else.example>"))
    result = await world.sync(account)
    assert result.reset_folders == 1 and result.fetched == 4 and result.stored == 1
    [after] = await world.rows(
        "SELECT uidvalidity FROM mailbox_sync_state WHERE organization_id = :org AND folder = 'INBOX'"
    )
    assert after.uidvalidity != before.uidvalidity
    assert len(await received(world)) == 4


async def _watch(world: InboxWorld, sync: InboxSync) -> None:
    await sync.tick()
    [(watcher, _task)] = sync.watchers.values()
    await asyncio.wait_for(watcher.connected.wait(), 10)


async def _stop(sync: InboxSync) -> None:
    for _watcher, task in sync.watchers.values():
        task.cancel()
    await asyncio.gather(*(t for _w, t in sync.watchers.values()), return_exceptions=True)


async def _until(world: InboxWorld, count: int, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if len(await received(world)) >= count:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} received messages after {within}s")


async def test_idle_brings_a_reply_in_within_seconds(world: InboxWorld) -> None:
    _account, _c, [ann], sent = await sent_campaign(world, "ann@lead.example")
    assert world.syncer is not None
    world.syncer.poll_interval = 30  # news must come from IDLE, not from polling
    await _watch(world, world.syncer)
    try:
        [(watcher, _t)] = world.syncer.watchers.values()
        await asyncio.wait_for(watcher.idling.wait(), 10)
        world.deliver(
            BOX,
            message(
                "ann@lead.example",
                BOX,
                "Re: Hello there",
                "Yes",
                message_id="<idle@lead.example>",
                in_reply_to=sent["ann@lead.example"].message_id,
            ),
        )
        elapsed = await _until(world, 1, 5)
        assert elapsed < 5
        for _ in range(50):
            if (await world.lead(ann)).email_reply_count == 1:
                break
            await asyncio.sleep(0.05)
        assert (await world.lead(ann)).status == 3
    finally:
        await _stop(world.syncer)


async def test_polling_without_idle(world: InboxWorld) -> None:
    await world.mailbox(BOX)
    assert world.syncer is not None
    world.syncer.use_idle = False
    await _watch(world, world.syncer)
    try:
        await asyncio.sleep(0.2)
        world.deliver(BOX, message("p@else.example", BOX, "Poll", "x", message_id="<poll@else.example>"))
        await _until(world, 1, 5)
    finally:
        await _stop(world.syncer)


async def test_a_dropped_connection_reconnects(world: InboxWorld) -> None:
    await world.mailbox(BOX)
    assert world.syncer is not None and world.dovecot is not None and world.dovecot.directory is not None
    await _watch(world, world.syncer)
    try:
        [(watcher, _t)] = world.syncer.watchers.values()
        await asyncio.wait_for(watcher.idling.wait(), 10)
        config = Path(world.dovecot.directory) / "dovecot.conf"
        kick = await asyncio.create_subprocess_exec(
            "doveadm", "-c", str(config), "kick", BOX, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        _out, err = await kick.communicate()
        assert kick.returncode == 0, err
        await asyncio.sleep(0.3)
        world.deliver(BOX, message("d@else.example", BOX, "After the drop", "x", message_id="<drop@else.example>"))
        await _until(world, 1, 10)
    finally:
        await _stop(world.syncer)


async def test_a_refused_login_puts_the_account_in_error(world: InboxWorld) -> None:
    account = await world.mailbox(BOX)
    assert world.dovecot is not None
    world.dovecot.set_password(BOX, "changed")
    await asyncio.sleep(1.1)  # Dovecot re-reads its passwd-file at most once a second
    assert world.syncer is not None
    await world.syncer.tick()
    [(_watcher, task)] = world.syncer.watchers.values()
    await asyncio.wait_for(task, 10)
    row = await world.account_row(account)
    assert row.status == -1 and row.status_message["code"] == "EAUTH"

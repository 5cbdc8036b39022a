"""POST /emails/reply, /emails/forward and /emails/test against a real SMTP server: what the server
receives (threading headers, recipients, bodies), what is stored, and every failure."""

from __future__ import annotations

import email
import email.policy
import uuid
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.config import Settings
from coldsend.kit.ids import new_id
from tests.conftest import Tenant
from tests.emails.conftest import PASSWORD, SENDER
from tests.emails.helpers import EMAILS, add_email, add_received, add_sender, email_count
from tests.envelope import assert_envelope
from tests.lead_lists.helpers import add_lead
from tests.support.smtp_server import ReceivedMessage, SmtpTestServer, closed_port

LEAD = "ann@client.example.com"


def parsed(message: ReceivedMessage) -> EmailMessage:
    result: Any = email.message_from_bytes(message.data, policy=email.policy.default)
    assert isinstance(result, EmailMessage)
    return result


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def html_part(message: EmailMessage) -> str | None:
    part = message.get_body(preferencelist=("html",))
    if part is None or part.get_content_type() != "text/html":
        return None
    return str(part.get_content()).replace("\r\n", "\n")


async def campaign_thread(session: AsyncSession, tenant: Tenant) -> tuple[uuid.UUID, uuid.UUID]:
    """A campaign email to the lead and the lead's reply in its thread: (sent id, received id)."""
    lead_id = await add_lead(session, tenant.id, email=LEAD)
    sent = await add_email(
        session,
        tenant.id,
        campaign_id=new_id(),
        lead=LEAD,
        lead_id=lead_id,
        to_address_email_list=LEAD,
        eaccount=SENDER,
        from_address_email=SENDER,
        subject="Quick question",
        message_id="<first@acme.example.com>",
        references=None,
    )
    received = await add_received(
        session, tenant.id, answering=sent, message_id="<answer@client.example.com>", body_text="Tell me more"
    )
    return sent, received


async def stored(session: AsyncSession, email_id: str) -> Any:
    return (await session.execute(text("SELECT * FROM emails WHERE id = :i"), {"i": uuid.UUID(email_id)})).one()


# -- reply ---------------------------------------------------------------------------------------


async def test_reply_to_a_received_email_threads_it(
    tenant: Tenant, session: AsyncSession, smtp: SmtpTestServer, test_settings: Settings
) -> None:
    await add_sender(session, tenant.id, test_settings, SENDER, smtp, password=PASSWORD)
    sent, received = await campaign_thread(session, tenant)
    original = (await tenant.get(f"{EMAILS}/{received}")).json()
    response = await tenant.post(
        f"{EMAILS}/reply",
        json={
            "eaccount": SENDER.upper(),
            "reply_to_uuid": str(received),
            "subject": "Re: Quick question",
            "body": {"html": "Sure,<br/>here it is."},
        },
    )
    assert response.status_code == 200, response.text
    reply = response.json()
    assert len(smtp.messages) == 1
    delivered = smtp.messages[0]
    assert delivered.rcpt_tos == [LEAD] and delivered.mail_from == SENDER and delivered.login == SENDER
    message = parsed(delivered)
    assert message["In-Reply-To"] == "<answer@client.example.com>"
    assert message["References"].split() == ["<first@acme.example.com>", "<answer@client.example.com>"]
    assert message["Message-ID"] == reply["message_id"]
    assert message["To"] == LEAD and message["From"] == f"Sam Sender <{SENDER}>"
    assert message["Subject"] == "Re: Quick question"
    assert html_part(message) == "Sure,<br/>here it is.\n"
    assert text_part(message).strip() == "Sure,\nhere it is."
    # stored as a manual send (ue_type 3) in the same thread, with the lead and campaign of the thread
    assert reply["ue_type"] == 3 and reply["thread_id"] == original["thread_id"]
    assert reply["lead"] == LEAD and reply["lead_id"] == original["lead_id"]
    assert reply["campaign_id"] == original["campaign_id"]
    assert reply["eaccount"] == SENDER and reply["from_address_email"] == SENDER
    assert reply["to_address_email_list"] == LEAD and reply["is_unread"] == 0
    assert reply["body"] == {"text": "Sure,\nhere it is.", "html": "Sure,<br/>here it is."}
    assert reply["content_preview"] == "Sure, here it is."
    assert (await tenant.get(f"{EMAILS}/{reply['id']}")).json() == reply
    row = await stored(session, reply["id"])
    assert row.in_reply_to == "<answer@client.example.com>"
    assert row.references == ["<first@acme.example.com>", "<answer@client.example.com>"]
    thread = await tenant.get(EMAILS, params={"search": f"thread:{original['thread_id']}", "sort_order": "asc"})
    assert [e["id"] for e in thread.json()["items"]] == [str(sent), str(received), reply["id"]]


async def test_reply_to_a_sent_email_goes_to_its_recipient(
    tenant: Tenant, session: AsyncSession, smtp: SmtpTestServer, test_settings: Settings
) -> None:
    await add_sender(session, tenant.id, test_settings, SENDER, smtp, password=PASSWORD)
    sent, _received = await campaign_thread(session, tenant)
    response = await tenant.post(
        f"{EMAILS}/reply",
        json={"eaccount": SENDER, "reply_to_uuid": str(sent), "subject": "", "body": {"text": "Following up\non this"}},
    )
    assert response.status_code == 200, response.text
    message = parsed(smtp.messages[0])
    assert smtp.messages[0].rcpt_tos == [LEAD]
    assert message["In-Reply-To"] == "<first@acme.example.com>"
    assert message["References"] == "<first@acme.example.com>"
    assert message["Subject"] == "Re: Quick question"  # an empty subject answers the thread's
    assert message.get_content_type() == "text/plain"
    assert text_part(message) == "Following up\non this\n"
    assert response.json()["body"] == {"text": "Following up\non this"}


async def test_reply_recipients_cc_bcc_and_reply_to(
    tenant: Tenant, session: AsyncSession, smtp: SmtpTestServer, test_settings: Settings
) -> None:
    await add_sender(
        session, tenant.id, test_settings, SENDER, smtp, password=PASSWORD, reply_to="desk@acme.example.com"
    )
    received = await add_received(
        session, tenant.id, from_address_email=LEAD, reply_to='"Ann\'s Assistant" <assistant@client.example.com>'
    )
    response = await tenant.post(
        f"{EMAILS}/reply",
        json={
            "eaccount": SENDER,
            "reply_to_uuid": str(received),
            "subject": "Re: hi",
            "body": {"text": "Hello"},
            "additional_recipients": ["boss@client.example.com"],
            "cc_address_email_list": "team@acme.example.com, boss@client.example.com",
            "bcc_address_email_list": "archive@acme.example.com",
        },
    )
    assert response.status_code == 200, response.text
    delivered = smtp.messages[0]
    assert sorted(delivered.rcpt_tos) == sorted(
        ["assistant@client.example.com", "boss@client.example.com", "team@acme.example.com", "archive@acme.example.com"]
    )
    message = parsed(delivered)
    assert message["To"] == "Ann's Assistant <assistant@client.example.com>, boss@client.example.com"
    assert message["Cc"] == "team@acme.example.com"
    assert message["Bcc"] is None
    assert message["Reply-To"] == "desk@acme.example.com"
    reply = response.json()
    assert reply["to_address_email_list"] == "assistant@client.example.com,boss@client.example.com"
    assert reply["cc_address_email_list"] == "team@acme.example.com"
    assert reply["bcc_address_email_list"] == "archive@acme.example.com"
    assert reply["reply_to"] == "desk@acme.example.com"


async def test_reply_sets_reminder_and_assigns_the_lead(
    tenant: Tenant, session: AsyncSession, smtp: SmtpTestServer, test_settings: Settings
) -> None:
    await add_sender(session, tenant.id, test_settings, SENDER, smtp, password=PASSWORD)
    _sent, received = await campaign_thread(session, tenant)
    user = uuid.uuid4()
    response = await tenant.post(
        f"{EMAILS}/reply",
        json={
            "eaccount": SENDER,
            "reply_to_uuid": str(received),
            "subject": "Re",
            "body": {"text": "ok"},
            "reminder_ts": "2026-04-01T09:00:00Z",
            "assigned_to": str(user),
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["reminder_ts"] == "2026-04-01T09:00:00.000Z"
    lead = (await session.execute(text("SELECT assigned_to FROM leads WHERE email = :e"), {"e": LEAD})).one()
    assert lead.assigned_to == user
    listed = (await tenant.get(EMAILS, params={"assigned_to": str(user)})).json()["items"]
    assert response.json()["id"] in [e["id"] for e in listed]


async def test_reply_refusals_store_and_send_nothing(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession, smtp: SmtpTestServer, test_settings: Settings
) -> None:
    await add_sender(session, tenant.id, test_settings, SENDER, smtp, password=PASSWORD)
    await add_sender(session, other_tenant.id, test_settings, "rival@rival.example.com", smtp)
    _sent, received = await campaign_thread(session, tenant)
    theirs = await add_received(session, other_tenant.id)
    before = await email_count(session, tenant.id)
    good = {"eaccount": SENDER, "reply_to_uuid": str(received), "subject": "Re", "body": {"text": "x"}}
    cases: list[tuple[dict[str, Any], int]] = [
        ({**good, "reply_to_uuid": str(theirs)}, 404),  # another workspace's email
        ({**good, "reply_to_uuid": str(uuid.uuid4())}, 404),
        ({**good, "reply_to_uuid": "nope"}, 404),
        ({**good, "eaccount": "rival@rival.example.com"}, 404),  # another workspace's account
        ({**good, "eaccount": "nobody@acme.example.com"}, 404),
        ({**good, "body": {}}, 400),
        ({**good, "subject": "a\x00b"}, 400),
        ({**good, "body": {"text": "a\x00b"}}, 400),
        ({**good, "body": {"html": "  ", "text": ""}}, 400),
        ({**good, "cc_address_email_list": "not an address"}, 400),
        ({**good, "additional_recipients": ["x@"]}, 400),
        ({k: v for k, v in good.items() if k != "subject"}, 400),
        ({k: v for k, v in good.items() if k != "eaccount"}, 400),
        ({k: v for k, v in good.items() if k != "body"}, 400),
    ]
    for body, status in cases:
        assert_envelope(await tenant.post(f"{EMAILS}/reply", json=body), status)
    assert smtp.messages == [] and await email_count(session, tenant.id) == before
    # the other workspace cannot reply to ours either, with its own account
    assert_envelope(
        await other_tenant.post(f"{EMAILS}/reply", json={**good, "eaccount": "rival@rival.example.com"}), 404
    )


@pytest.mark.parametrize("failure", ["wrong-password", "recipient-refused", "message-refused", "server-down"])
async def test_smtp_failures_answer_502_and_store_nothing(
    failure: str, tenant: Tenant, session: AsyncSession, smtp: SmtpTestServer, test_settings: Settings
) -> None:
    password = "wrong" if failure == "wrong-password" else PASSWORD
    if failure == "server-down":
        await smtp.stop()
        smtp.port = closed_port()
    await add_sender(session, tenant.id, test_settings, SENDER, smtp, password=password)
    _sent, received = await campaign_thread(session, tenant)
    if failure == "recipient-refused":
        smtp.recipient_replies[LEAD] = "550 5.1.1 <ann@client.example.com>: user unknown"
    if failure == "message-refused":
        smtp.data_reply = "554 5.7.1 Message rejected as spam"
    before = await email_count(session, tenant.id)
    for path, extra in (("reply", {}), ("forward", {"to_address_email_list": LEAD})):
        response = await tenant.post(
            f"{EMAILS}/{path}",
            json={"eaccount": SENDER, "reply_to_uuid": str(received), "subject": "Re", "body": {"text": "x"}, **extra},
        )
        body = assert_envelope(response, 502)
        assert body["error"] == "Bad Gateway" and SENDER in body["message"]
        expected = {
            "wrong-password": "535",
            "recipient-refused": "550 5.1.1",
            "message-refused": "554 5.7.1",
            "server-down": "refused",
        }[failure]
        assert expected in body["message"], body["message"]
    assert smtp.messages == []
    assert await email_count(session, tenant.id) == before


async def test_account_without_smtp_settings_is_a_400(
    tenant: Tenant, session: AsyncSession, test_settings: Settings
) -> None:
    await add_sender(session, tenant.id, test_settings, SENDER, None)
    _sent, received = await campaign_thread(session, tenant)
    response = await tenant.post(
        f"{EMAILS}/reply",
        json={"eaccount": SENDER, "reply_to_uuid": str(received), "subject": "Re", "body": {"text": "x"}},
    )
    assert "SMTP settings incomplete" in assert_envelope(response, 400)["message"]


# -- forward -------------------------------------------------------------------------------------


async def test_forward_with_the_original_body(
    tenant: Tenant, session: AsyncSession, smtp: SmtpTestServer, test_settings: Settings
) -> None:
    await add_sender(session, tenant.id, test_settings, SENDER, smtp, password=PASSWORD)
    _sent, received = await campaign_thread(session, tenant)
    original = (await tenant.get(f"{EMAILS}/{received}")).json()
    response = await tenant.post(
        f"{EMAILS}/forward",
        json={
            "eaccount": SENDER,
            "reply_to_uuid": str(received),
            "to_address_email_list": "colleague@acme.example.com, second@acme.example.com",
            "subject": "",
            "body": {"text": "FYI, see below"},
            "include_original_body": True,
            "reply_to": "desk@acme.example.com",
            "forwarded_attachments": "[]",
        },
    )
    assert response.status_code == 200, response.text
    forward = response.json()
    delivered = smtp.messages[0]
    assert sorted(delivered.rcpt_tos) == ["colleague@acme.example.com", "second@acme.example.com"]
    message = parsed(delivered)
    assert message["To"] == "colleague@acme.example.com, second@acme.example.com" and message["Cc"] is None
    assert message["Subject"] == f"Fwd: {original['subject']}"
    assert message["In-Reply-To"] is None and message["References"] is None
    assert message["Reply-To"] == "desk@acme.example.com"
    body = text_part(message)
    assert body.startswith("FYI, see below\n\n---------- Forwarded message ---------\n")
    assert f"From: {LEAD}\n" in body and f"Subject: {original['subject']}\n" in body
    assert body.rstrip().endswith("Tell me more")
    html = html_part(message)
    assert html is not None and "FYI, see below" in html and original["body"]["html"] in html
    # a thread of its own, the original's lead and campaign
    assert forward["ue_type"] == 3 and forward["thread_id"] not in (None, original["thread_id"])
    assert forward["lead"] == LEAD and forward["campaign_id"] == original["campaign_id"]
    assert forward["to_address_email_list"] == "colleague@acme.example.com,second@acme.example.com"
    assert forward["cc_address_email_list"] is None
    assert forward["reply_to"] == "desk@acme.example.com"
    assert (await stored(session, forward["id"])).in_reply_to is None


async def test_forward_note_only_and_original_only(
    tenant: Tenant, session: AsyncSession, smtp: SmtpTestServer, test_settings: Settings
) -> None:
    await add_sender(session, tenant.id, test_settings, SENDER, smtp, password=PASSWORD)
    received = await add_received(session, tenant.id, body_text="Original words", body_html=None, subject="Hi")
    base = {"eaccount": SENDER, "reply_to_uuid": str(received), "to_address_email_list": "c@acme.example.com"}
    note = await tenant.post(f"{EMAILS}/forward", json={**base, "subject": "Look", "body": {"html": "<b>Look</b>"}})
    assert note.status_code == 200, note.text
    assert "Original words" not in smtp.messages[0].data.decode()
    only = await tenant.post(f"{EMAILS}/forward", json={**base, "subject": "Fwd: Hi", "include_original_body": True})
    assert only.status_code == 200, only.text
    message = parsed(smtp.messages[1])
    assert message.get_content_type() == "text/plain"  # neither side has HTML
    assert text_part(message).startswith("---------- Forwarded message ---------\n")
    assert "Original words" in text_part(message)
    for body in (
        {**base, "subject": "x"},
        {**base, "subject": "x", "body": {"text": ""}, "include_original_body": False},
    ):
        assert_envelope(await tenant.post(f"{EMAILS}/forward", json=body), 400)
    assert_envelope(
        await tenant.post(
            f"{EMAILS}/forward",
            json={**base, "to_address_email_list": " , ", "subject": "x", "include_original_body": True},
        ),
        400,
    )
    assert len(smtp.messages) == 2


# -- test emails ---------------------------------------------------------------------------------


async def test_test_email_is_sent_to_each_recipient_and_not_stored(
    tenant: Tenant, session: AsyncSession, smtp: SmtpTestServer, test_settings: Settings
) -> None:
    await add_sender(session, tenant.id, test_settings, SENDER, smtp, password=PASSWORD)
    response = await tenant.post(
        f"{EMAILS}/test",
        json={
            "eaccount": SENDER,
            "to_address_email_list": "one@client.example.com,two@client.example.com",
            "subject": "Preview",
            "body": {"html": "Hello<br/>there"},
        },
    )
    assert response.status_code == 200 and response.json() == {"status": "success"}
    assert [m.rcpt_tos for m in smtp.messages] == [["one@client.example.com"], ["two@client.example.com"]]
    message = parsed(smtp.messages[0])
    assert message["Subject"] == "Preview" and message["To"] == "one@client.example.com"
    assert text_part(message).strip() == "Hello\nthere"
    assert await email_count(session, tenant.id) == 0


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("unknown-account", "ACC_NOT_FOUND"),
        ("other-workspace-account", "ACC_NOT_FOUND"),
        ("wrong-password", "ACC_AUTH_ERROR"),
        ("no-smtp-settings", "ACC_AUTH_ERROR"),
        ("server-down", "ACC_UNKNOWN_ERROR"),
        ("refused", "ACC_UNKNOWN_ERROR"),
    ],
)
async def test_test_email_errors_are_inside_a_200(
    case: str,
    error: str,
    tenant: Tenant,
    other_tenant: Tenant,
    session: AsyncSession,
    smtp: SmtpTestServer,
    test_settings: Settings,
) -> None:
    if case == "server-down":
        await smtp.stop()
        smtp.port = closed_port()
    if case == "refused":
        smtp.data_reply = "554 5.7.1 rejected"
    owner = other_tenant if case == "other-workspace-account" else tenant
    if case != "unknown-account":
        server = None if case == "no-smtp-settings" else smtp
        await add_sender(
            session, owner.id, test_settings, SENDER, server, password="wrong" if case == "wrong-password" else PASSWORD
        )
    response = await tenant.post(
        f"{EMAILS}/test",
        json={"eaccount": SENDER, "to_address_email_list": LEAD, "subject": "s", "body": {"html": "b"}},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"error": error}
    assert smtp.messages == []


async def test_test_email_validation(tenant: Tenant) -> None:
    base = {"eaccount": SENDER, "to_address_email_list": LEAD, "subject": "s", "body": {"html": "b"}}
    for body in (
        {k: v for k, v in base.items() if k != "body"},
        {**base, "body": {"text": "no html"}},
        {**base, "to_address_email_list": "nope"},
        {**base, "to_address_email_list": ""},
        {**base, "to_address_email_list": ",".join(f"r{i}@client.example.com" for i in range(26))},
    ):
        assert_envelope(await tenant.post(f"{EMAILS}/test", json=body), 400)

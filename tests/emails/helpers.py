"""Rows the email tests need: emails written directly (as the sending engine and inbox sync store
them), and sending accounts whose SMTP server is a real test server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.config import Settings
from coldsend.kit.crypto import secret_box
from coldsend.kit.ids import new_id
from coldsend.sending.models import Email
from tests.factories import add_account
from tests.support.smtp_server import SmtpTestServer

EMAILS = "/api/v2/emails"
BASE_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_sequence = count()


async def add_email(session: AsyncSession, organization_id: uuid.UUID, **values: Any) -> uuid.UUID:
    """An email row; by default a campaign email (ue_type 1) one second after the previous one."""
    n = next(_sequence)
    created = values.pop("timestamp_created", BASE_TIME + timedelta(seconds=n))
    row: dict[str, Any] = {
        "organization_id": organization_id,
        "id": new_id(),
        "timestamp_created": created,
        "timestamp_email": created,
        "message_id": f"<m{n}.{uuid.uuid4().hex[:8]}@acme.example.com>",
        "subject": f"Subject {n}",
        "from_address_email": "sender@acme.example.com",
        "to_address_email_list": "lead@client.example.com",
        "body_text": f"Body {n}",
        "body_html": f"<p>Body {n}</p>",
        "lead": "lead@client.example.com",
        "eaccount": "sender@acme.example.com",
        "ue_type": 1,
        "step": "1",
        "thread_id": new_id(),
        "content_preview": f"Body {n}",
        **values,
    }
    await session.execute(insert(Email).values(**row))
    await session.flush()
    return uuid.UUID(str(row["id"]))


async def add_received(
    session: AsyncSession, organization_id: uuid.UUID, answering: uuid.UUID | None = None, **values: Any
) -> uuid.UUID:
    """A received email (ue_type 2, unread) as inbox sync stores it, in the thread of `answering`."""
    if answering is not None:
        original = (
            await session.execute(
                text("SELECT * FROM emails WHERE organization_id = :o AND id = :i"),
                {"o": organization_id, "i": answering},
            )
        ).one()
        values.setdefault("thread_id", original.thread_id)
        values.setdefault("campaign_id", original.campaign_id)
        values.setdefault("lead_id", original.lead_id)
        values.setdefault("in_reply_to", original.message_id)
        values.setdefault("references", [*(original.references or []), original.message_id])
        values.setdefault("subject", f"Re: {original.subject}")
        lead = original.lead
    else:
        lead = values.get("lead", "lead@client.example.com")
    values.setdefault("lead", lead)
    values.setdefault("from_address_email", lead)
    values = {"ue_type": 2, "is_unread": 1, "step": None, "to_address_email_list": "sender@acme.example.com", **values}
    return await add_email(session, organization_id, **values)


async def email_count(session: AsyncSession, organization_id: uuid.UUID) -> int:
    return int(
        (
            await session.execute(
                text("SELECT count(*) FROM emails WHERE organization_id = :o"), {"o": organization_id}
            )
        ).scalar_one()
    )


async def add_sender(
    session: AsyncSession,
    organization_id: uuid.UUID,
    settings: Settings,
    address: str,
    server: SmtpTestServer | None,
    *,
    password: str = "secret",
    **values: Any,
) -> uuid.UUID:
    """An active account whose SMTP settings point at `server` (None: no SMTP settings at all)."""
    smtp: dict[str, Any] = {}
    if server is not None:
        smtp = {
            "smtp_host": "127.0.0.1",
            "smtp_port": server.port,
            "smtp_username": address,
            "smtp_password_encrypted": secret_box(settings).encrypt(password),
        }
    account_id = await add_account(
        session, organization_id, address, first_name="Sam", last_name="Sender", status=1, **{**smtp, **values}
    )
    await session.flush()
    return account_id

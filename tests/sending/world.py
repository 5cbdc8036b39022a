"""A small world for sending-engine tests: committed rows, one real SMTP server (aiosmtpd with AUTH)
per account, an injectable clock, and the engine driven one pass at a time."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import insert, text

from coldsend.accounts.models import Account
from coldsend.campaigns.models import Campaign
from coldsend.config import Settings
from coldsend.kit.crypto import secret_box
from coldsend.kit.ids import new_id
from coldsend.leads.models import Lead
from coldsend.sending.engine import PassReport, SendingEngine
from tests.conftest import CommittedWorkspace
from tests.support.smtp_server import SmtpTestServer

ALL_DAYS = {str(d): True for d in range(7)}
ALWAYS = {
    "schedules": [{"name": "always", "timing": {"from": "00:00", "to": "23:59"}, "days": ALL_DAYS, "timezone": "UTC"}]
}


class FakeClock:
    """The engine's clock in tests: starts at `start` and moves only when told."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current

    def set(self, value: datetime) -> None:
        self.current = value


def step(
    subject: str, body: str, *, delay: float = 1, unit: str = "days", variants: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    return {
        "type": "email",
        "delay": delay,
        "delay_unit": unit,
        "variants": list(variants) or [{"subject": subject, "body": body}],
    }


@dataclass
class World:
    ws: CommittedWorkspace
    settings: Settings
    clock: FakeClock
    engine: SendingEngine
    servers: dict[str, SmtpTestServer] = field(default_factory=dict)

    @property
    def organization_id(self) -> uuid.UUID:
        return self.ws.id

    async def execute(self, sql: str, **params: Any) -> Any:
        async with self.ws.engine.begin() as conn:
            return await conn.execute(text(sql), params)

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.ws.engine.connect() as conn:
            return list((await conn.execute(text(sql), {"org": self.organization_id, **params})).all())

    async def account(self, address: str, *, password: str = "secret", **values: Any) -> uuid.UUID:
        """An active account with its own SMTP server that accepts `address` / `password`."""
        server = await SmtpTestServer(users={address: password}).start()
        self.servers[address] = server
        box = secret_box(self.settings)
        row = {
            "organization_id": self.organization_id,
            "id": new_id(),
            "email": address,
            "first_name": "Sam",
            "last_name": "Sender",
            "status": 1,
            "sending_gap": 0,
            "smtp_host": "127.0.0.1",
            "smtp_port": server.port,
            "smtp_username": address,
            "smtp_password_encrypted": box.encrypt(password),
            **values,
        }
        async with self.ws.engine.begin() as conn:
            await conn.execute(insert(Account).values(**row))
        return row["id"]

    async def campaign(
        self,
        steps: Sequence[Mapping[str, Any]],
        senders: Sequence[str],
        *,
        schedule: Mapping[str, Any] = ALWAYS,
        status: int = 1,
        **values: Any,
    ) -> uuid.UUID:
        row = {
            "organization_id": self.organization_id,
            "id": new_id(),
            "name": "Outreach",
            "status": status,
            "campaign_schedule": dict(schedule),
            "sequences": [{"steps": list(steps)}],
            "email_list": [s.lower() for s in senders],
            "stop_on_reply": True,
            **values,
        }
        async with self.ws.engine.begin() as conn:
            await conn.execute(insert(Campaign).values(**row))
        return row["id"]

    async def leads(
        self, campaign_id: uuid.UUID, *people: str | Mapping[str, Any], due: datetime | None = None
    ) -> list[uuid.UUID]:
        rows = []
        for person in people:
            values = {"email": person} if isinstance(person, str) else dict(person)
            address = str(values["email"]).lower()
            rows.append(
                {
                    "organization_id": self.organization_id,
                    "id": new_id(),
                    "campaign_id": campaign_id,
                    "company_domain": address.rpartition("@")[2],
                    "status": 1,
                    "next_send_at": due or self.clock.now(),
                    **values,
                    "email": address,
                }
            )
        keys = {k for r in rows for k in r}
        rows = [{k: r.get(k) for k in keys} for r in rows]  # one shape for the executemany
        async with self.ws.engine.begin() as conn:
            await conn.execute(insert(Lead), rows)
        return [r["id"] for r in rows]

    async def run(self) -> PassReport:
        return await self.engine.run_pass()

    async def run_until_idle(self, *, passes: int = 20) -> int:
        total = 0
        for _ in range(passes):
            report = await self.run()
            total += report.sent
            if report.sent == 0 and report.recovered == 0:
                break
        return total

    def inbox(self, address: str | None = None) -> list[EmailMessage]:
        """Messages the SMTP servers accepted (for `address` when given), parsed."""
        found = []
        for server in self.servers.values():
            for received in server.messages:
                if address is None or address.lower() in [r.lower() for r in received.rcpt_tos]:
                    found.append(email.message_from_bytes(received.data, policy=email.policy.default))
        return found  # type: ignore[return-value]

    async def lead(self, lead_id: uuid.UUID) -> Any:
        return (await self.rows("SELECT * FROM leads WHERE organization_id = :org AND id = :id", id=lead_id))[0]

    async def campaign_row(self, campaign_id: uuid.UUID) -> Any:
        return (await self.rows("SELECT * FROM campaigns WHERE organization_id = :org AND id = :id", id=campaign_id))[0]

    async def account_row(self, account_id: uuid.UUID) -> Any:
        return (await self.rows("SELECT * FROM accounts WHERE organization_id = :org AND id = :id", id=account_id))[0]

    async def emails(self) -> list[Any]:
        return await self.rows("SELECT * FROM emails WHERE organization_id = :org ORDER BY timestamp_created, id")

    async def outbox(self) -> list[Any]:
        return await self.rows("SELECT * FROM outbox WHERE organization_id = :org ORDER BY claimed_at, id")

    async def close(self) -> None:
        for server in self.servers.values():
            await server.stop()
        async with self.ws.engine.begin() as conn:
            # campaigns of this workspace must not be seen by the next test's engine passes
            await conn.execute(
                text("UPDATE campaigns SET status = 2 WHERE organization_id = :org"), {"org": self.organization_id}
            )


def start_time() -> datetime:
    """A Wednesday noon (UTC) after the real clock, so rows defaulting to now() are already due."""
    now = datetime.now(UTC) + timedelta(days=1)
    monday = now - timedelta(days=now.weekday())
    return (monday + timedelta(days=9)).replace(hour=12, minute=0, second=0, microsecond=0)

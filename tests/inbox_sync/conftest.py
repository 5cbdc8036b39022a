"""Inbox sync against a real Dovecot: accounts send with the engine (aiosmtpd) and receive on Dovecot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from coldsend.config import Settings
from coldsend.inbox.sync import InboxSync
from coldsend.kit.crypto import secret_box
from coldsend.sending.engine import SendingEngine
from tests.conftest import CommittedWorkspace
from tests.sending.world import FakeClock, World, start_time
from tests.support.imap_server import MISSING, DovecotServer, dovecot_available

PASSWORD = "imap-secret"
MAILBOXES = tuple(f"box{n}@inbox.example" for n in range(1, 5))


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    if not dovecot_available():
        pytest.skip(MISSING)
    server = DovecotServer(users={box: PASSWORD for box in MAILBOXES}, special_use={"Junk": "\\Junk"}).start()
    yield server
    server.stop()


@dataclass
class InboxWorld(World):
    dovecot: DovecotServer | None = None
    syncer: InboxSync | None = None

    async def mailbox(self, address: str = MAILBOXES[0], **values: object):
        """An account that sends through its own aiosmtpd and receives on Dovecot."""
        assert self.dovecot is not None
        box = secret_box(self.settings)
        return await self.account(
            address,
            imap_host="127.0.0.1",
            imap_port=self.dovecot.port,
            imap_username=address,
            imap_password_encrypted=box.encrypt(PASSWORD),
            **values,
        )

    def deliver(self, address: str, data: bytes, folder: str = "INBOX", *, seen: bool = False) -> None:
        assert self.dovecot is not None
        self.dovecot.deliver(address, folder, data, seen=seen)

    async def sync(self, account_id: object):
        assert self.syncer is not None
        return await self.syncer.sync_once(self.organization_id, account_id)  # type: ignore[arg-type]


@pytest.fixture
async def world(
    committed_workspace: CommittedWorkspace, test_settings: Settings, dovecot: DovecotServer
) -> AsyncIterator[InboxWorld]:
    clock = FakeClock(start_time())
    engine = SendingEngine(committed_workspace.engine, test_settings, clock=clock, lease_seconds=30)
    inbox = InboxSync(committed_workspace.engine, test_settings, clock=clock, poll_interval=0.5, step_timeout=5)
    w = InboxWorld(committed_workspace, test_settings, clock, engine, dovecot=dovecot, syncer=inbox)
    try:
        yield w
    finally:
        await w.close()


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Run finalizers of IMAP transports now, not inside a later `ast.parse` (CPython 3.11 raises
    "AST constructor recursion depth mismatch" when a finalizer runs during AST construction)."""
    yield
    import gc

    gc.collect()

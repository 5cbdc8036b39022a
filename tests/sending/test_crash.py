"""Exactly once across crashes: a real `coldsend worker` process is SIGKILLed twice while it sends,
restarted, and the recipients' mailboxes are checked for no duplicate and no missing message.

The SMTP servers run in a process of their own (they outlive the killed worker) and, like Gmail or
Microsoft 365, file a copy of every accepted message in the sender's Sent folder of a real Dovecot,
which the engine's recovery rule searches before it sends anything again. Each server waits 20 ms
between accepting a message and saying "250", so kills regularly land in the uncertain window.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from coldsend.config import Settings
from coldsend.kit.crypto import secret_box
from tests.conftest import REPO_ROOT, CommittedWorkspace
from tests.sending.world import World, step
from tests.support.imap_server import DovecotServer, dovecot_available
from tests.support.smtp_farm import FarmProcess

ACCOUNTS = 4
LEADS = 120


@pytest.fixture
def dovecot_farm(tmp_path: Path) -> Iterator[tuple[DovecotServer, FarmProcess]]:
    if not dovecot_available():
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd; .ci/run installs it)")
    users = {f"sender{n}@farm.coldsend.test": f"farm-password-{n}" for n in range(1, ACCOUNTS + 1)}
    dovecot = DovecotServer(users=users).start()
    farm = FarmProcess(ACCOUNTS, tmp_path / "spool", delay=0.02, dovecot=dovecot).start()
    try:
        yield dovecot, farm
    finally:
        farm.stop()
        dovecot.stop()


def _start_worker(database_url: str, settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "COLDSEND_HOME": str(settings.home),
        "COLDSEND_SEND_LEASE_SECONDS": "2",
        "COLDSEND_SEND_INTERVAL": "0.1",
        "COLDSEND_SEND_BATCH_SIZE": "4",
        "COLDSEND_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "coldsend", "worker"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


async def _wait_for(farm: FarmProcess, count: int, within: float) -> int:
    deadline = time.monotonic() + within
    while True:
        received = sum(len(v) for v in farm.messages().values())
        if received >= count or time.monotonic() > deadline:
            return received
        await asyncio.sleep(0.05)


async def test_a_killed_worker_loses_and_duplicates_nothing(
    world: World,
    dovecot_farm: tuple[DovecotServer, FarmProcess],
    database_url: str,
    test_settings: Settings,
    committed_workspace: CommittedWorkspace,
) -> None:
    dovecot, farm = dovecot_farm
    box = secret_box(test_settings)
    senders = []
    for account in farm.accounts:
        senders.append(account.login)
        await world.execute(
            "INSERT INTO accounts (organization_id, id, email, status, sending_gap, smtp_host, smtp_port, "
            "smtp_username, smtp_password_encrypted, imap_host, imap_port, imap_username, imap_password_encrypted, "
            "timestamp_created, timestamp_updated) VALUES (:org, gen_random_uuid(), :email, 1, 0, :host, :port, "
            ":email, :secret, :host, :imap_port, :email, :secret, now(), now())",
            org=world.organization_id,
            email=account.login,
            host=account.host,
            port=account.port,
            imap_port=dovecot.port,
            secret=box.encrypt(account.password),
        )
    campaign = await world.campaign(
        [step("Hello {{firstName}}", "First", delay=0, unit="minutes"), step("", "Second")], senders
    )
    leads = [f"lead{i:03}@recipient.example" for i in range(LEADS)]
    await world.leads(campaign, *leads, due=datetime.now(UTC))  # due by the real clock the worker uses
    expected = 2 * LEADS

    killed_at = []
    logs = []
    for threshold in (expected // 4, expected // 2):
        worker = _start_worker(database_url, test_settings)
        killed_at.append(await _wait_for(farm, threshold, within=60))
        worker.send_signal(signal.SIGKILL)
        logs.append(worker.communicate()[1].decode())
    final = _start_worker(database_url, test_settings)
    try:
        received = await _wait_for(farm, expected, within=90)
        # let recovery settle the last abandoned rows (lease 2 s), then check nothing else arrives
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            unsettled = await world.rows("SELECT count(*) FROM outbox WHERE organization_id = :org AND state <> 'done'")
            if unsettled[0][0] == 0:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
    finally:
        final.send_signal(signal.SIGTERM)
        try:
            _, stderr = final.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            final.kill()
            _, stderr = final.communicate()

    assert killed_at[0] < expected and killed_at[1] < expected, f"the kills came too late: {killed_at}"
    logs.append(stderr.decode())
    # the kills left sends mid-flight, and a restarted worker recovered them
    assert "recovering" in logs[1] + logs[2], logs
    messages = farm.messages()
    per_recipient = {address: len(items) for address, items in messages.items()}
    missing = [a for a in leads if per_recipient.get(a, 0) < 2]
    duplicated = {a: n for a, n in per_recipient.items() if n > 2}
    assert not missing, (
        f"{len(missing)} recipients lack a message (received {received}); worker said {stderr[-2000:]!r}"
    )
    assert not duplicated, f"duplicates: {duplicated}"
    ids = Counter(farm.message_ids())
    assert len(ids) == expected and max(ids.values()) == 1
    outbox = await world.rows("SELECT state, count(*) FROM outbox WHERE organization_id = :org GROUP BY state")
    assert dict(outbox) == {"done": expected}
    emails = await world.rows("SELECT count(*) FROM emails WHERE organization_id = :org")
    assert emails[0][0] == expected
    statuses = await world.rows("SELECT status, count(*) FROM leads WHERE organization_id = :org GROUP BY status")
    assert dict(statuses) == {3: LEADS}

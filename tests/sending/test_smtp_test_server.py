"""The test SMTP servers the sending tests stand on (tests/support/smtp_server.py, smtp_farm.py):
replies per recipient and after DATA, failing AUTH, a Sent copy before the 250, delays, the spool,
the in-loop farm and the farm in a process of its own that outlives a SIGKILLed client."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from coldsend.accounts.connectivity import CheckFailed, MailServer, open_smtp
from coldsend.sending.sent_folder import find_sent
from tests.support.imap_server import MISSING, DovecotServer, dovecot_available
from tests.support.smtp_farm import FarmAccount, FarmProcess, SmtpFarm
from tests.support.smtp_server import SmtpTestServer, read_spool

LOGIN = "sender@mail.example.com"
PASSWORD = "smtp test password"
REPO_ROOT = Path(__file__).resolve().parents[2]


def email(message_id: str, to: str | list[str] = "lead@example.org", sender: str = LOGIN) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to if isinstance(to, str) else ", ".join(to)
    message["Subject"] = "Quick question"
    message["Message-ID"] = message_id
    message.set_content("Hello there.")
    return message


async def connect(port: int, login: str = LOGIN, password: str = PASSWORD) -> aiosmtplib.SMTP:
    client, _ = await open_smtp(MailServer("127.0.0.1", port, login, password), step_timeout=5)
    return client


async def send(port: int, message: EmailMessage, login: str = LOGIN, password: str = PASSWORD) -> None:
    client = await connect(port, login, password)
    try:
        await client.send_message(message)
    finally:
        client.close()


@pytest.fixture
async def server() -> AsyncIterator[SmtpTestServer]:
    smtp = await SmtpTestServer(users={LOGIN: PASSWORD}).start()
    yield smtp
    await smtp.stop()


# -- replies ---------------------------------------------------------------------------------------------


async def test_recipients_get_their_own_reply_at_rcpt(server: SmtpTestServer) -> None:
    server.recipient_replies.update(
        {
            "Unknown@Example.org": "550 5.1.1 <unknown@example.org>: user unknown",
            "busy@example.org": "451 4.7.1 Try again later",
        }
    )
    client = await connect(server.port)
    try:
        refused, _ = await client.sendmail(
            LOGIN, ["lead@example.org", "UNKNOWN@example.org", "busy@example.org"], email("<r1@x>").as_bytes()
        )
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as all_refused:
            await client.sendmail(LOGIN, ["busy@example.org"], email("<r2@x>").as_bytes())
    finally:
        client.close()
    assert {address: (response.code, response.message) for address, response in refused.items()} == {
        "UNKNOWN@example.org": (550, "5.1.1 <unknown@example.org>: user unknown"),
        "busy@example.org": (451, "4.7.1 Try again later"),
    }
    assert [r.code for r in all_refused.value.recipients] == [451]
    assert [m.rcpt_tos for m in server.messages] == [["lead@example.org"]]
    assert server.refused_recipients == ["UNKNOWN@example.org", "busy@example.org", "busy@example.org"]
    assert server.messages_to("LEAD@example.org") == server.messages and server.messages_to("busy@example.org") == []


async def test_the_data_reply_refuses_the_message_and_no_sent_copy_is_kept(server: SmtpTestServer) -> None:
    copies: list[str] = []
    server.sent_folder = lambda login, data: copies.append(login)
    server.data_reply = "452 4.3.1 Insufficient system storage"
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(server.port, email("<d1@x>"))
    assert (refused.value.code, refused.value.message) == (452, "4.3.1 Insufficient system storage")
    assert server.messages == [] and [m.message_id for m in server.rejected] == ["<d1@x>"] and copies == []

    server.data_reply = "250 2.0.0 Ok: queued as 4F2A"
    await send(server.port, email("<d2@x>"))
    assert server.message_ids() == ["<d2@x>"] and copies == [LOGIN]
    server.reset()
    assert (server.data_reply, server.messages, server.rejected) == (None, [], [])


async def test_fail_next_auth_and_password_changes(server: SmtpTestServer) -> None:
    server.fail_next_auth = 2
    for _ in range(2):
        with pytest.raises(CheckFailed) as failed:
            await connect(server.port)
        assert failed.value.failure.code == "EAUTH" and failed.value.failure.response_code == 535
    (await connect(server.port)).close()
    assert server.fail_next_auth == 0

    server.set_password(LOGIN, "rotated")
    with pytest.raises(CheckFailed):
        await connect(server.port)
    (await connect(server.port, password="rotated")).close()
    server.remove_user(LOGIN)
    with pytest.raises(CheckFailed):
        await connect(server.port, password="rotated")


async def test_message_ids_and_messages_to(server: SmtpTestServer) -> None:
    await send(server.port, email("<a@x>", to="one@example.org"))
    await send(server.port, email("  <b@x>", to=["two@example.org", "one@example.org"]))
    no_id = email("<c@x>")
    del no_id["Message-ID"]
    await send(server.port, no_id)
    assert server.message_ids() == ["<a@x>", "<b@x>"]
    assert [m.message_id for m in server.messages_to("one@example.org")] == ["<a@x>", "<b@x>"]
    assert [m.login for m in server.messages] == [LOGIN] * 3
    assert server.messages[1].parsed()["To"] == "two@example.org, one@example.org"


# -- the Sent copy and the delay -------------------------------------------------------------------------


async def test_the_sent_copy_is_made_before_the_250(server: SmtpTestServer) -> None:
    copied = asyncio.Event()
    release = asyncio.Event()
    seen: list[tuple[str, bytes]] = []

    async def keep_copy(login: str, data: bytes) -> None:
        seen.append((login, data))
        copied.set()
        await release.wait()

    server.sent_folder = keep_copy
    sending = asyncio.ensure_future(send(server.port, email("<s1@x>")))
    await asyncio.wait_for(copied.wait(), 5)
    await asyncio.sleep(0.1)
    assert not sending.done(), "the client had its 250 before the Sent copy was made"
    release.set()
    await asyncio.wait_for(sending, 5)
    assert [login for login, _ in seen] == [LOGIN] and b"Message-ID: <s1@x>" in seen[0][1]


async def drop_mid_data(server: SmtpTestServer, message_id: str) -> None:
    """Send, and hang up while the server sits in its delay after DATA (a worker killed mid-send)."""
    client = await connect(server.port)
    sending = asyncio.ensure_future(client.send_message(email(message_id)))
    await asyncio.sleep(0.3)
    assert not sending.done()
    client.close()
    await asyncio.gather(sending, return_exceptions=True)


async def test_a_client_gone_during_the_delay_leaves_a_delivered_message(server: SmtpTestServer) -> None:
    server.delay = 1.0
    copies: list[str] = []
    server.sent_folder = lambda login, data: copies.append(login)
    started = time.monotonic()
    await drop_mid_data(server, "<k1@x>")
    assert time.monotonic() - started < 0.9
    assert server.message_ids() == ["<k1@x>"] and copies == [LOGIN]  # accepted; the 250 never arrived

    server.reset()
    server.delay, server.commit_before_delay = 1.0, False
    await drop_mid_data(server, "<k2@x>")
    await asyncio.sleep(1.0)
    assert server.messages == [] and copies == [LOGIN]  # gone before the server accepted it


async def test_a_delay_before_the_250(server: SmtpTestServer) -> None:
    server.delay = 0.4
    started = time.monotonic()
    await send(server.port, email("<late@x>"))
    assert time.monotonic() - started >= 0.4
    assert server.message_ids() == ["<late@x>"]


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


async def test_the_spool_keeps_one_file_per_recipient_and_message(tmp_path: Path) -> None:
    async with SmtpTestServer(users={LOGIN: PASSWORD}, spool=tmp_path) as smtp:
        await send(smtp.port, email("<p1@x>", to=["A@example.org", "b@example.org"]))
        await send(smtp.port, email("<p2@x>", to="a@example.org"))
    assert tree(tmp_path) == [
        "a@example.org",
        "a@example.org/1.eml",
        "a@example.org/2.eml",
        "b@example.org",
        "b@example.org/1.eml",
    ]
    spooled = read_spool(tmp_path)
    assert [b"Message-ID: <p1@x>" in d for d in spooled["a@example.org"]] == [True, False]
    assert read_spool(tmp_path, "B@example.org") == {"b@example.org": [spooled["b@example.org"][0]]}


# -- farms --------------------------------------------------------------------------------------------------


async def test_an_in_loop_farm_gives_each_account_its_own_server(tmp_path: Path) -> None:
    async with SmtpFarm(3, spool=tmp_path) as farm:
        accounts = farm.accounts
        assert len({a.port for a in accounts}) == 3 and len({a.login for a in accounts}) == 3
        for n, account in enumerate(accounts):
            await send(account.port, email(f"<f{n}@x>", sender=account.login), account.login, account.password)
        with pytest.raises(CheckFailed):  # a server knows only its own account
            await connect(accounts[0].port, accounts[1].login, accounts[1].password)
        assert farm.server_for(accounts[2].login).message_ids() == ["<f2@x>"]
        assert sorted(farm.message_ids()) == ["<f0@x>", "<f1@x>", "<f2@x>"]
        assert len(farm.messages_to("lead@example.org")) == 3
    assert len(read_spool(tmp_path)["lead@example.org"]) == 3
    with pytest.raises(CheckFailed) as failed:
        await connect(accounts[0].port, accounts[0].login, accounts[0].password)
    assert failed.value.failure.code == "ECONNECTION"


@pytest.fixture
def farm_process(tmp_path: Path) -> Iterator[FarmProcess]:
    with FarmProcess(2, tmp_path / "spool", delay=0.0) as farm:
        yield farm


KILLED_SENDER = textwrap.dedent(
    """
    import asyncio, sys
    import aiosmtplib

    async def main() -> None:
        port, login, password, message_id = sys.argv[1:5]
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=int(port), start_tls=False, timeout=60)
        await client.connect()
        await client.login(login, password)
        message = f"From: {login}\\r\\nTo: lead@example.org\\r\\nMessage-ID: {message_id}\\r\\n\\r\\nHi\\r\\n"
        print("sending", flush=True)
        await client.sendmail(login, ["lead@example.org"], message.encode())
        print("sent", flush=True)

    asyncio.run(main())
    """
)


def start_sender(account: FarmAccount, message_id: str) -> subprocess.Popen[bytes]:
    """A client in a process of its own (its own session, so it can be SIGKILLed as a group)."""
    return subprocess.Popen(
        [sys.executable, "-c", KILLED_SENDER, str(account.port), account.login, account.password, message_id],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )


async def wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_farm_process_spools_and_outlives_a_killed_client(tmp_path: Path) -> None:
    with FarmProcess(2, tmp_path / "spool", delay=30.0) as farm:
        first, second = farm.accounts
        client = start_sender(first, "<killed@x>")
        try:
            # the farm accepts (spools) the message, then sits 30 s before the 250: kill the client then
            await wait_for(lambda: farm.message_ids("lead@example.org") == ["<killed@x>"])
            os.killpg(client.pid, signal.SIGKILL)
            assert client.wait(timeout=5) == -signal.SIGKILL
            assert client.stdout is not None and client.stdout.read() == b"sending\n"
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
            if client.stdout is not None:
                client.stdout.close()
        assert farm.alive(), farm.errors()
        files = sorted(p.name for p in (tmp_path / "spool" / "lead@example.org").iterdir())
        assert files == ["1.eml"]
        # the survivor still works (with its delay, so bounded by a short client timeout: the spool decides)
        second_client = await connect(second.port, second.login, second.password)
        try:
            with pytest.raises(aiosmtplib.SMTPTimeoutError):
                await second_client.send_message(email("<after@x>", sender=second.login), timeout=0.5)
        finally:
            second_client.close()
        await wait_for(lambda: farm.message_ids("lead@example.org") == ["<killed@x>", "<after@x>"])
        assert farm.stop() == 0


async def test_a_farm_process_answers_at_once_without_delay(farm_process: FarmProcess) -> None:
    account = farm_process.accounts[1]
    await send(account.port, email("<quick@x>", to=["x@example.org", "y@example.org"]), account.login, account.password)
    assert farm_process.message_ids() == ["<quick@x>", "<quick@x>"]  # written before the 250
    assert set(farm_process.messages()) == {"x@example.org", "y@example.org"}
    assert farm_process.messages_to("X@example.org")[0].startswith(b"From: ")
    with pytest.raises(CheckFailed):
        await connect(account.port, account.login, "wrong")


async def test_a_farm_process_stops_when_its_parent_closes_stdin(farm_process: FarmProcess) -> None:
    process = farm_process.process
    assert process is not None and process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=5) == 0


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    if not dovecot_available():
        pytest.skip(MISSING)
    server = DovecotServer(users={"sender1@farm.coldsend.test": "farm-password-1", LOGIN: PASSWORD}).start()
    yield server
    server.stop()


async def test_the_sent_copy_lands_in_dovecot(server: SmtpTestServer, dovecot: DovecotServer) -> None:
    server.sent_folder = lambda login, data: dovecot.deliver(login, "Sent", data)
    await send(server.port, email("<copied@x>"))
    imap = MailServer("127.0.0.1", dovecot.port, LOGIN, PASSWORD)
    assert await find_sent(imap, ["<copied@x>", "<other@x>"]) == {"<copied@x>"}


async def test_a_farm_process_copies_into_dovecot(tmp_path: Path, dovecot: DovecotServer) -> None:
    with FarmProcess(1, tmp_path / "spool", dovecot=dovecot) as farm:
        account = farm.accounts[0]
        await send(account.port, email("<farm-copy@x>", sender=account.login), account.login, account.password)
    imap = MailServer("127.0.0.1", dovecot.port, account.login, account.password)
    assert await find_sent(imap, ["<farm-copy@x>"]) == {"<farm-copy@x>"}

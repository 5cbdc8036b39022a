"""`find_sent`, the recovery rule's look-up of Message-IDs in a mailbox's Sent folder(s): the pure
parsing helpers, then a real Dovecot (Maildir, plain and with RFC 6154 special-use folders), fed by
`DovecotServer.deliver` and by a test SMTP server that keeps a Sent copy like Gmail does."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aioimaplib import aioimaplib

from coldsend.accounts.connectivity import CheckFailed, MailServer, open_smtp
from coldsend.sending import sent_folder
from coldsend.sending.sent_folder import (
    ListedMailbox,
    find_sent,
    message_id_key,
    parse_fetched_message_ids,
    parse_list,
    parse_search,
    search_criteria,
    sent_folders,
)
from tests.support.imap_server import MISSING, DovecotServer, dovecot_available
from tests.support.smtp_server import SilentServer, SmtpTestServer, closed_port

PASSWORD = "sent folder password"


def message(message_id: str, subject: str = "Hello") -> bytes:
    return (
        f"From: Sender <sender@example.com>\r\nTo: lead@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\nHi there.\r\n"
    ).encode()


def new_id(label: str = "m") -> str:
    return f"<{label}.{uuid.uuid4().hex}@mail.example.com>"


# -- pure helpers ------------------------------------------------------------------------------------


def test_list_lines_are_parsed_with_quoted_atom_literal_and_nil_names() -> None:
    lines = [
        b'(\\HasNoChildren \\Sent) "." "Sent Items"',
        b'(\\HasNoChildren) "/" INBOX',
        b"(\\Noselect \\HasChildren) NIL Archive",
        b'(\\HasNoChildren) "/" {17}',
        bytearray(b"[Gmail]/Sent Mail"),
        b'(\\Sent) "/" "say \\"hi\\"" ("CHILDINFO" ("SUBSCRIBED"))',
        b"List completed (0.001 + 0.000 secs).",
    ]
    assert parse_list(lines) == [
        ListedMailbox("Sent Items", ".", frozenset({"\\hasnochildren", "\\sent"})),
        ListedMailbox("INBOX", "/", frozenset({"\\hasnochildren"})),
        ListedMailbox("Archive", None, frozenset({"\\noselect", "\\haschildren"})),
        ListedMailbox("[Gmail]/Sent Mail", "/", frozenset({"\\hasnochildren"})),
        ListedMailbox('say "hi"', "/", frozenset({"\\sent"})),
    ]


def test_sent_folders_put_special_use_first_then_known_names_and_skip_unselectable() -> None:
    mailboxes = [
        ListedMailbox("INBOX", ".", frozenset()),
        ListedMailbox("INBOX.Sent", ".", frozenset()),
        ListedMailbox("sent items", ".", frozenset()),
        ListedMailbox("Gesendet", ".", frozenset({"\\sent"})),
        ListedMailbox("Old", ".", frozenset({"\\sent", "\\noselect"})),
        ListedMailbox("[Gmail]/Sent Mail", "/", frozenset({"\\sent"})),
        ListedMailbox("Sent", ".", frozenset({"\\nonexistent"})),
        ListedMailbox("Sentimental", ".", frozenset()),
        ListedMailbox("INBOX/Sent", "/", frozenset()),
    ]
    assert sent_folders(mailboxes) == ["Gesendet", "[Gmail]/Sent Mail", "sent items", "INBOX.Sent", "INBOX/Sent"]
    assert sent_folders([ListedMailbox("INBOX", "/", frozenset())]) == []


def test_search_criteria_or_the_ids_in_a_balanced_tree() -> None:
    assert search_criteria(["<a@x>"]) == ["HEADER", "Message-ID", '"<a@x>"']
    assert search_criteria(['<a"b\\c@x>', "<d@x>", "<e@x>"]) == [
        "OR",
        *["HEADER", "Message-ID", '"<a\\"b\\\\c@x>"'],
        *["OR", "HEADER", "Message-ID", '"<d@x>"', "HEADER", "Message-ID", '"<e@x>"'],
    ]
    with pytest.raises(ValueError):
        search_criteria([])


def test_message_id_keys_and_response_parsing() -> None:
    assert message_id_key(" <abc@x> ") == message_id_key("abc@x") == message_id_key("<abc\r\n @x>") == "abc@x"
    assert message_id_key("<ABC@x>") != message_id_key("<abc@x>")
    assert parse_search([b"3 7 12", b"Search completed (0.001 + 0.000 secs)."]) == [3, 7, 12]
    assert parse_search([b"Search completed."]) == []
    fetched = [
        b"1 FETCH (UID 4 BODY[HEADER.FIELDS (MESSAGE-ID)] {20}",
        bytearray(b"Message-ID: <a@x>\r\n\r\n"),
        b")",
        b"2 FETCH (UID 9 BODY[HEADER.FIELDS (MESSAGE-ID)] {35}",
        bytearray(b"Message-Id:\r\n <folded.id@example.com>\r\n\r\n"),
        b")",
        b"3 FETCH (UID 11 BODY[HEADER.FIELDS (MESSAGE-ID)] {2}",
        bytearray(b"\r\n"),
        b")",
        b"Fetch completed.",
    ]
    assert parse_fetched_message_ids(fetched) == {"a@x", "folded.id@example.com"}


# -- against Dovecot ---------------------------------------------------------------------------------


LOGINS = [f"sender-{n}@mail.example.com" for n in range(40)]


def users() -> dict[str, str]:
    """Every mailbox a module's tests use, created at start: Dovecot reads a changed passwd-file at
    most once a second, so users added during the tests could be refused for a moment."""
    return dict.fromkeys(LOGINS, PASSWORD)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    """Dovecot's defaults: no special-use folders, hierarchy separator `.`."""
    if not dovecot_available():
        pytest.skip(MISSING)
    server = DovecotServer(users=users()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dovecot_special_use() -> Iterator[DovecotServer]:
    """A `Gesendet` folder marked \\Sent (a name no fallback knows) and `/` as separator, like Gmail."""
    if not dovecot_available():
        pytest.skip(MISSING)
    server = DovecotServer(users=users(), special_use={"Gesendet": "\\Sent"}, separator="/").start()
    yield server
    server.stop()


_used: dict[int, int] = {}


def account(server: DovecotServer) -> MailServer:
    """A mailbox of `server` no other test used."""
    n = _used.get(id(server), 0)
    _used[id(server)] = n + 1
    return MailServer("127.0.0.1", server.port, LOGINS[n], PASSWORD)


async def test_a_message_in_a_plain_sent_folder_is_found_and_another_is_not(dovecot: DovecotServer) -> None:
    mailbox = account(dovecot)
    assert mailbox.username is not None
    sent, missing = new_id("sent"), new_id("missing")
    dovecot.deliver(mailbox.username, "Sent", message(sent))
    dovecot.deliver(mailbox.username, "INBOX", message(missing))  # INBOX is not a Sent folder
    assert await find_sent(mailbox, [sent, missing]) == {sent}
    assert await find_sent(mailbox, [missing]) == set()


async def test_several_ids_at_once_across_batches(dovecot: DovecotServer) -> None:
    mailbox = account(dovecot)
    assert mailbox.username is not None
    ids = [new_id(f"n{i}") for i in range(3 * sent_folder.SEARCH_BATCH + 1)]
    present = set(ids[::2])
    for mid in ids:
        if mid in present:
            dovecot.deliver(mailbox.username, "Sent", message(mid))
    dovecot.deliver(mailbox.username, "Sent", message(next(iter(present))))  # a duplicate copy is fine
    started = time.monotonic()
    assert await find_sent(mailbox, ids) == present
    assert time.monotonic() - started < 5


async def test_ids_with_odd_characters_match_exactly(dovecot: DovecotServer) -> None:
    mailbox = account(dovecot)
    assert mailbox.username is not None
    odd = [
        '<a"quoted\\back.slash@example.com>',
        "<o'brien+tag/=?^_`{|}~!#$%&*@example.com>",
        "<(parens)[brackets]@example.com>",
        "<ünïcödé.ïd@exämple.com>",
    ]
    for mid in odd:
        dovecot.deliver(mailbox.username, "Sent", message(mid))
    upper = "<(PARENS)[BRACKETS]@EXAMPLE.COM>"  # IMAP matches case-insensitively; the id must match exactly
    prefix = '<a"quoted\\back.slash@example.co>'  # a substring of a stored id is not that id
    assert await find_sent(mailbox, [*odd, upper, prefix]) == set(odd)


async def test_ids_are_returned_as_given_whatever_the_spelling(dovecot: DovecotServer) -> None:
    mailbox = account(dovecot)
    assert mailbox.username is not None
    mid = new_id("spelling")
    dovecot.deliver(mailbox.username, "Sent", message(mid))
    bare, spaced = mid.strip("<>"), f"  {mid} "
    assert await find_sent(mailbox, [bare, spaced, "", "<bad\r\nid@x>"]) == {bare, spaced}


async def test_the_search_is_read_only(dovecot: DovecotServer) -> None:
    mailbox = account(dovecot)
    assert mailbox.username is not None
    mid = new_id("unseen")
    path = dovecot.deliver(mailbox.username, "Sent", message(mid), seen=False)
    assert await find_sent(mailbox, [mid]) == {mid}
    files = [p.name for p in path.parent.parent.glob("*/*") if p.parent.name in ("cur", "new")]
    assert len(files) == 1 and not files[0].partition(":2,")[2].count("S"), files


async def test_a_mailbox_without_sent_folder_finds_nothing(dovecot: DovecotServer) -> None:
    mailbox = account(dovecot)
    assert mailbox.username is not None
    mid = new_id("nowhere")
    dovecot.deliver(mailbox.username, "Archive", message(mid))
    assert await find_sent(mailbox, [mid]) == set()


async def test_the_session_is_logged_out(dovecot: DovecotServer) -> None:
    mailbox = account(dovecot)
    assert mailbox.username is not None
    await find_sent(mailbox, [new_id()])
    deadline = time.monotonic() + 3
    while f"imap({mailbox.username})" not in dovecot.log_path.read_text() or "Logged out" not in (
        dovecot.log_path.read_text()
    ):
        assert time.monotonic() < deadline, "no LOGOUT in Dovecot's log"
        await asyncio.sleep(0.05)
    lines = [line for line in dovecot.log_path.read_text().splitlines() if f"imap({mailbox.username})" in line]
    assert any("Logged out" in line for line in lines), lines


async def test_a_special_use_sent_folder_is_found_by_its_attribute(dovecot_special_use: DovecotServer) -> None:
    mailbox = account(dovecot_special_use)
    assert mailbox.username is not None
    mid = new_id("gesendet")
    dovecot_special_use.deliver(mailbox.username, "Gesendet", message(mid))
    assert await find_sent(mailbox, [mid]) == {mid}


async def test_known_names_are_searched_besides_the_special_use_folder(dovecot_special_use: DovecotServer) -> None:
    mailbox = account(dovecot_special_use)
    assert mailbox.username is not None
    in_gmail, in_items, in_special = new_id("gmail"), new_id("items"), new_id("special")
    dovecot_special_use.deliver(mailbox.username, "[Gmail]/Sent Mail", message(in_gmail))
    dovecot_special_use.deliver(mailbox.username, "Sent Items", message(in_items))
    dovecot_special_use.deliver(mailbox.username, "Gesendet", message(in_special))
    assert await find_sent(mailbox, [in_gmail, in_items, in_special, new_id()]) == {in_gmail, in_items, in_special}


async def test_a_server_refusing_list_return_special_use_gets_a_plain_list(
    dovecot_special_use: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Servers announcing SPECIAL-USE without LIST-EXTENDED answer BAD to `RETURN (SPECIAL-USE)`."""
    execute = sent_folder._SentSearch.execute
    sent: list[tuple[str, ...]] = []

    async def old_server(self: sent_folder._SentSearch, name: str, *args: str) -> Any:
        sent.append((name, *args))
        if "RETURN" in args:
            return aioimaplib.Response("BAD", [b"Error in IMAP command LIST: Unknown LIST option"])
        return await execute(self, name, *args)

    monkeypatch.setattr(sent_folder._SentSearch, "execute", old_server)
    mailbox = account(dovecot_special_use)
    assert mailbox.username is not None
    mid = new_id("old")
    dovecot_special_use.deliver(mailbox.username, "Gesendet", message(mid))
    assert await find_sent(mailbox, [mid]) == {mid}
    assert [args for args in sent if args[0] == "LIST"] == [
        ("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)"),
        ("LIST", '""', '"*"'),
    ]


# -- failures: the caller falls back to resending ------------------------------------------------------


async def test_a_wrong_password_raises_check_failed(dovecot: DovecotServer) -> None:
    mailbox = account(dovecot)
    wrong = MailServer(mailbox.host, mailbox.port, mailbox.username, "not the password")
    with pytest.raises(CheckFailed) as failed:
        await find_sent(wrong, [new_id()])
    assert failed.value.failure.code == "EAUTH" and failed.value.failure.command == "LOGIN"


async def test_an_unreachable_server_raises_check_failed() -> None:
    with pytest.raises(CheckFailed) as failed:
        await find_sent(MailServer("127.0.0.1", closed_port(), "me@example.com", PASSWORD), [new_id()])
    assert failed.value.failure.code == "ECONNECTION"


async def test_a_silent_server_times_out_within_the_step_timeout() -> None:
    silent = await SilentServer().start()
    try:
        started = time.monotonic()
        with pytest.raises(CheckFailed) as failed:
            await find_sent(
                MailServer("127.0.0.1", silent.port, "me@example.com", PASSWORD), [new_id()], step_timeout=0.5
            )
        assert time.monotonic() - started < 3
        assert failed.value.failure.code == "ETIMEDOUT"
    finally:
        await silent.stop()


async def test_no_ids_means_no_connection() -> None:
    assert await find_sent(MailServer("127.0.0.1", closed_port(), "me@example.com", PASSWORD), []) == set()


# -- the SMTP server's Sent copy is what recovery finds ---------------------------------------------------


@pytest.fixture
async def gmail_like(dovecot: DovecotServer) -> AsyncIterator[tuple[SmtpTestServer, MailServer]]:
    """An SMTP server that files a copy of each submitted message in the sender's Dovecot Sent folder."""
    imap = account(dovecot)
    assert imap.username is not None
    smtp = await SmtpTestServer(
        users={imap.username: PASSWORD}, sent_folder=lambda login, data: dovecot.deliver(login, "Sent", data)
    ).start()
    yield smtp, imap
    await smtp.stop()


async def test_a_message_accepted_by_smtp_is_found_in_sent(gmail_like: tuple[SmtpTestServer, MailServer]) -> None:
    smtp, imap = gmail_like
    client, _ = await open_smtp(MailServer("127.0.0.1", smtp.port, imap.username, PASSWORD))
    mid = new_id("smtp")
    email = EmailMessage()
    email["From"], email["To"], email["Subject"], email["Message-ID"] = imap.username, "lead@example.org", "Hi", mid
    email.set_content("Hello")
    try:
        await client.send_message(email)
    finally:
        client.close()
    assert smtp.message_ids() == [mid]
    assert await find_sent(imap, [mid, new_id()]) == {mid}

"""Reading a mailbox over IMAP for inbox sync: folders, new messages by UID, IDLE.

Every command goes through `ImapSession.step` (a timeout, and an immediate error when the server
hangs up); the caller owns the session and reconnects with backoff on any exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import aioimaplib

from coldsend.accounts.connectivity import CheckFailed, Failure, ImapSession
from coldsend.sending.sent_folder import ListedMailbox, parse_list, parse_search

# Spam folders by RFC 6154 attribute, else by the names providers use.
SPAM_FOLDER_NAMES = (
    "Spam",
    "Junk",
    "Junk E-mail",
    "Junk Email",
    "Junk Mail",
    "Bulk Mail",
    "[Gmail]/Spam",
    "[Google Mail]/Spam",
    "INBOX.Spam",
    "INBOX.Junk",
)
FETCH_CHUNK = 100  # messages per UID FETCH

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.I)
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]", re.I)
_EXISTS = re.compile(rb"^(\d+) EXISTS", re.I)
_FETCH_UID = re.compile(rb"UID (\d+)", re.I)
_LITERAL_END = re.compile(rb"\{(\d+)\}$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class FolderStatus:
    uidvalidity: int | None
    uidnext: int | None
    exists: int


def spam_folder(mailboxes: Sequence[ListedMailbox]) -> str | None:
    """The account's spam folder: the one marked `\\Junk`, else the first known name."""
    usable = [m for m in mailboxes if m.selectable]
    for mailbox in usable:
        if "\\junk" in mailbox.attributes:
            return mailbox.name
    by_name = {m.name.lower(): m.name for m in usable}
    for name in SPAM_FOLDER_NAMES:
        found = by_name.get(name.lower())
        if found is not None:
            return found
    return None


def parse_fetch(lines: Sequence[Any]) -> list[tuple[int, bytes]]:
    """(uid, message bytes) of a `UID FETCH ... (UID BODY.PEEK[])` answer, in server order. The UID
    may come before or after the literal, depending on the server."""
    found: list[tuple[int, bytes]] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if isinstance(line, bytes) and b"FETCH" in line.upper() and _LITERAL_END.search(line.rstrip()):
            literal = lines[index + 1] if index + 1 < len(lines) else None
            if isinstance(literal, bytearray | bytes):
                uid_match = _FETCH_UID.search(line)
                after = lines[index + 2] if index + 2 < len(lines) else b""
                if uid_match is None and isinstance(after, bytes):
                    uid_match = _FETCH_UID.search(after)
                if uid_match is not None:
                    found.append((int(uid_match.group(1)), bytes(literal)))
                index += 2
                continue
        index += 1
    return found


def imap_date(day: date) -> str:
    """`26-Nov-2026`, the date form of IMAP SEARCH SINCE."""
    return f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}"


class MailboxReader:
    """One logged-in session reading folders of one mailbox."""

    def __init__(self, session: ImapSession) -> None:
        self.session = session
        self.selected: str | None = None

    @property
    def protocol(self) -> aioimaplib.IMAP4ClientProtocol:
        return self.session.protocol

    def announces(self, capability: str) -> bool:
        return any(capability in token.upper() for token in self.protocol.capabilities)

    async def _execute(self, name: str, *args: str) -> Any:
        command = aioimaplib.Command(name, self.protocol.new_tag(), *args, loop=self.protocol.loop)
        return await self.session.step(self.protocol.execute(command))

    async def folders(self) -> list[tuple[str, str]]:
        """(folder, role) pairs to read: INBOX, and the spam folder when there is one."""
        response = None
        if self.announces("SPECIAL-USE"):
            response = await self._execute("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
        if response is None or response.result != "OK":
            response = await self._execute("LIST", '""', '"*"')
        folders = [("INBOX", "inbox")]
        if response.result == "OK":
            spam = spam_folder(parse_list(response.lines))
            if spam is not None:
                folders.append((spam, "spam"))
        return folders

    async def open(self, folder: str) -> FolderStatus:
        """SELECT the folder (reading with BODY.PEEK leaves \\Seen flags alone)."""
        response = await self.session.step(self.protocol.select(aioimaplib.quoted(folder)))
        if response.result != "OK":
            self.selected = None
            text = " ".join(str(line) for line in response.lines[-1:])
            raise CheckFailed(Failure("EPROTOCOL", f"SELECT {folder}", f"IMAP SELECT {folder} failed: {text}"))
        self.selected = folder
        joined = [bytes(line) for line in response.lines if isinstance(line, bytes | bytearray)]
        validity = next((int(m.group(1)) for line in joined if (m := _UIDVALIDITY.search(line))), None)
        uidnext = next((int(m.group(1)) for line in joined if (m := _UIDNEXT.search(line))), None)
        exists = next((int(m.group(1)) for line in joined if (m := _EXISTS.match(line.strip()))), 0)
        return FolderStatus(validity, uidnext, exists)

    async def uids_after(self, last_uid: int, since: date | None = None) -> list[int]:
        """UIDs greater than `last_uid` (and, on a first read, delivered since `since`), ascending."""
        criteria = [f"UID {last_uid + 1}:*"]
        if since is not None:
            criteria.append(f"SINCE {imap_date(since)}")
        response = await self.session.step(self.protocol.search(*criteria, charset=None, by_uid=True))
        if response.result != "OK":
            raise CheckFailed(Failure("EPROTOCOL", "UID SEARCH", f"IMAP UID SEARCH failed: {response.lines[-1:]}"))
        # "n:*" always matches the last message, even when its UID is below n (RFC 3501)
        return sorted(uid for uid in parse_search(response.lines) if uid > last_uid)

    async def fetch(self, uids: Sequence[int]) -> list[tuple[int, bytes]]:
        if not uids:
            return []
        uid_set = ",".join(str(uid) for uid in uids)
        response = await self.session.step(self.protocol.fetch(uid_set, "(UID BODY.PEEK[])", by_uid=True))
        if response.result != "OK":
            raise CheckFailed(Failure("EPROTOCOL", "UID FETCH", f"IMAP UID FETCH failed: {response.lines[-1:]}"))
        wanted = set(uids)
        return sorted((uid, data) for uid, data in parse_fetch(response.lines) if uid in wanted)

    @property
    def supports_idle(self) -> bool:
        return self.announces("IDLE")

    async def idle(self, seconds: float) -> bool:
        """Wait in IDLE on the selected folder up to `seconds`; True when the server announced new mail."""
        client = self.session.client
        idle = await self.session.step(client.idle_start(timeout=seconds + 30))
        news = False
        try:
            deadline = asyncio.get_running_loop().time() + seconds
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    pushed = await self._wait_push(left)
                except TimeoutError:
                    break
                if pushed is None:
                    break
                if any(b"EXISTS" in bytes(line).upper() for line in pushed if isinstance(line, bytes | bytearray)):
                    news = True
                    break
        finally:
            with contextlib.suppress(Exception):
                client.idle_done()
                await self.session.step(idle)
        return news

    async def _wait_push(self, seconds: float) -> list[Any] | None:
        waiter = asyncio.ensure_future(self.session.client.wait_server_push(timeout=seconds))
        done, _ = await asyncio.wait(
            {waiter, self.session.lost}, timeout=seconds + 1, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
            if self.session.lost in done:
                raise ConnectionResetError("connection closed by the server during IDLE")
            raise TimeoutError
        result = waiter.result()
        if result is aioimaplib.STOP_WAIT_SERVER_PUSH:
            return None
        return list(result) if isinstance(result, list | tuple) else [result]

    async def logout(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.protocol.logout(), 5)

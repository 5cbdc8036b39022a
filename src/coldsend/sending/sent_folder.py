"""Looking up Message-IDs in a mailbox's Sent folder(s) over IMAP: the sending engine's recovery rule.

The recovery rule (DESIGN "The engines" -> Sending): the only uncertain window of a send is between
the SMTP server's 250 and the commit that marks the outbox row `sent`. A worker killed there leaves
the row in state `sending`. Recovery decides such a row by its Message-ID (derived from the row, so a
resend carries the same one):

- when the account has IMAP, `find_sent` looks for the Message-ID in the account's Sent folder(s);
  found means the server accepted the message (Gmail, Outlook/Microsoft 365 and most hosted mail
  keep a copy of every submitted message there), so the row is completed as sent, never resent;
- not found, no IMAP, or IMAP unusable (`find_sent` raises `CheckFailed`): the message is resent
  with the same Message-ID, so a duplicate is at worst a second copy the recipient's client threads
  as the same message.

The dialogue: LOGIN (through `open_imap`, the TLS rule of the connection checks), LIST to find the
Sent folders, then per folder EXAMINE (read-only: nothing is marked seen or expunged), `UID SEARCH
HEADER Message-ID <id>` for the ids not found yet (batched with OR), and `UID FETCH` of the matching
messages' Message-ID headers to confirm exact matches (IMAP header search is a case-insensitive
substring match). Every command runs under `step_timeout`; the session is always logged out and
closed.

Sent folders: every selectable mailbox LIST marks `\\Sent` (RFC 6154; asked for with `RETURN
(SPECIAL-USE)` when the server announces SPECIAL-USE), then the mailboxes named like a Sent folder
(`SENT_FOLDER_NAMES`, compared case-insensitively, hierarchy separator `.` or `/`). Both kinds are
searched: a client may keep its copies in a folder the server does not mark.
"""

from __future__ import annotations

import contextlib
import logging
import re
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from email.policy import compat32
from typing import Any

from aioimaplib import aioimaplib

from coldsend.accounts.connectivity import (
    CheckFailed,
    Failure,
    ImapSession,
    MailServer,
    _network_failure,
    open_imap,
)

logger = logging.getLogger("coldsend.sending.sent_folder")

SENT_FOLDER_NAMES: tuple[str, ...] = (
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "[Gmail]/Sent Mail",
    "[Google Mail]/Sent Mail",
    "INBOX.Sent",
    "INBOX.Sent Items",
    "INBOX.Sent Messages",
)
SEARCH_BATCH = 10  # Message-IDs per UID SEARCH (OR-ed); keeps the command line well under server limits
FETCH_ITEMS = "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"

_CONTROL = re.compile(r"[\x00\r\n]")
_LIST_LINE = re.compile(rb'^\((?P<attributes>[^)]*)\)\s+(?P<delimiter>NIL|"(?:\\.|[^"\\])*")\s+(?P<name>.*)$', re.I)
_LITERAL = re.compile(rb"^\{(\d+)\+?\}$")


# -- pure helpers (tested without a server) ----------------------------------------------------------


@dataclass(frozen=True)
class ListedMailbox:
    """One LIST answer: the name as the server spells it (modified UTF-7, what EXAMINE takes back)."""

    name: str
    delimiter: str | None
    attributes: frozenset[str]  # lower-cased: {"\\sent", "\\hasnochildren", ...}

    @property
    def selectable(self) -> bool:
        return not ({"\\noselect", "\\nonexistent"} & self.attributes)

    @property
    def is_sent(self) -> bool:
        return "\\sent" in self.attributes

    def components(self) -> tuple[str, ...]:
        parts = self.name.split(self.delimiter) if self.delimiter else [self.name]
        return tuple(part.lower() for part in parts)


def _unquote(value: bytes) -> str:
    """The content of an IMAP quoted string (`"a\\"b"` -> `a"b`)."""
    return re.sub(rb'\\(["\\])', rb"\1", value[1:-1]).decode("utf-8", errors="replace")


def _quoted_prefix(value: bytes) -> bytes | None:
    """The leading quoted string of `value` (quotes included), or None."""
    match = re.match(rb'"(?:\\.|[^"\\])*"', value)
    return match.group(0) if match else None


def parse_list(lines: Sequence[Any]) -> list[ListedMailbox]:
    """Mailboxes of an aioimaplib LIST response (text lines after `* LIST `, literals as bytearray)."""
    mailboxes: list[ListedMailbox] = []
    for index, line in enumerate(lines):
        if isinstance(line, bytearray) or not isinstance(line, bytes):
            continue  # a literal, consumed with the line announcing it
        match = _LIST_LINE.match(line.strip())
        if match is None:
            continue  # the tagged completion text
        raw_delimiter = match.group("delimiter")
        delimiter = None if raw_delimiter.upper() == b"NIL" else _unquote(raw_delimiter)
        raw_name = match.group("name").strip()
        if (literal := _LITERAL.match(raw_name)) is not None:
            following = lines[index + 1] if index + 1 < len(lines) else None
            if not isinstance(following, bytearray | bytes):
                continue
            name = bytes(following[: int(literal.group(1))]).decode("utf-8", errors="replace")
        elif raw_name.startswith(b'"'):
            quoted = _quoted_prefix(raw_name)
            if quoted is None:
                continue
            name = _unquote(quoted)
        else:
            name = raw_name.split(b" ", 1)[0].decode("utf-8", errors="replace")
        attributes = frozenset(a.lower() for a in match.group("attributes").decode(errors="replace").split())
        mailboxes.append(ListedMailbox(name, delimiter, attributes))
    return mailboxes


def _name_components(name: str) -> tuple[str, ...]:
    return tuple(part.lower() for part in re.split(r"[./]", name))


_FALLBACK_NAMES = {name.lower(): rank for rank, name in enumerate(SENT_FOLDER_NAMES)}
_FALLBACK_COMPONENTS = {_name_components(name): rank for rank, name in enumerate(SENT_FOLDER_NAMES)}


def _fallback_rank(mailbox: ListedMailbox) -> int | None:
    rank = _FALLBACK_NAMES.get(mailbox.name.lower())
    if rank is None:
        rank = _FALLBACK_COMPONENTS.get(mailbox.components())
    return rank


def sent_folders(mailboxes: Iterable[ListedMailbox]) -> list[str]:
    """The folders to search, in order: those marked `\\Sent`, then those named like a Sent folder
    (in `SENT_FOLDER_NAMES` order). Unselectable mailboxes are left out; no name twice."""
    listed = [m for m in mailboxes if m.selectable]
    special = [m.name for m in listed if m.is_sent]
    named = sorted(
        ((rank, position, m.name) for position, m in enumerate(listed) if (rank := _fallback_rank(m)) is not None),
    )
    result: list[str] = []
    for name in [*special, *(name for _, _, name in named)]:
        if name not in result:
            result.append(name)
    return result


def message_id_key(value: str) -> str:
    """What two spellings of one Message-ID share: no whitespace, no surrounding angle brackets."""
    compact = "".join(value.split())
    if compact.startswith("<") and compact.endswith(">"):
        compact = compact[1:-1]
    return compact


def search_criteria(needles: Sequence[str]) -> list[str]:
    """`HEADER Message-ID "<id>"` keys for each needle, OR-ed into one balanced criterion."""
    if not needles:
        raise ValueError("no Message-ID to search for")
    if len(needles) == 1:
        return ["HEADER", "Message-ID", aioimaplib.quoted(needles[0])]
    middle = len(needles) // 2
    return ["OR", *search_criteria(needles[:middle]), *search_criteria(needles[middle:])]


def parse_search(lines: Sequence[Any]) -> list[int]:
    """UIDs of an aioimaplib SEARCH response (its last line is the tagged completion text)."""
    uids: list[int] = []
    for line in lines[:-1]:
        if isinstance(line, bytes | bytearray):
            uids.extend(int(token) for token in bytes(line).split() if token.isdigit())
    return uids


def parse_fetched_message_ids(lines: Sequence[Any]) -> set[str]:
    """Keys (`message_id_key`) of the Message-ID headers in a FETCH of HEADER.FIELDS (MESSAGE-ID)."""
    keys: set[str] = set()
    parser = HeaderParser(policy=compat32)
    for line in lines:
        if isinstance(line, bytearray):  # RFC 6532 allows UTF-8 in a Message-ID: decode it as such
            headers = parser.parsestr(bytes(line).decode("utf-8", errors="surrogateescape"))
            for value in headers.get_all("Message-ID") or []:
                if key := message_id_key(str(value)):
                    keys.add(key)
    return keys


# -- the dialogue ------------------------------------------------------------------------------------


class _SentSearch:
    def __init__(self, session: ImapSession, server: MailServer) -> None:
        self.session = session
        self.server = server
        self.command = "LIST"

    @property
    def protocol(self) -> aioimaplib.IMAP4ClientProtocol:
        return self.session.protocol

    def _announces(self, capability: str) -> bool:
        # aioimaplib keeps the LOGIN answer's [CAPABILITY ...] code as loose tokens ("[", "X]"): match loosely
        return any(capability in token.upper() for token in self.protocol.capabilities)

    async def execute(self, name: str, *args: str) -> Any:
        command = aioimaplib.Command(name, self.protocol.new_tag(), *args, loop=self.protocol.loop)
        return await self.session.step(self.protocol.execute(command))

    async def folders(self) -> list[str]:
        self.command = "LIST"
        response = None
        if self._announces("SPECIAL-USE"):
            response = await self.execute("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
        if response is None or response.result != "OK":
            response = await self.execute("LIST", '""', '"*"')
        if response.result != "OK":
            text = _text(response)
            raise CheckFailed(
                Failure("EPROTOCOL", "LIST", f"IMAP LIST failed: {response.result} {text}".rstrip(), text)
            )
        return sent_folders(parse_list(response.lines))

    async def examine(self, folder: str) -> bool:
        if _CONTROL.search(folder):
            return False
        self.command = f"EXAMINE {folder}"
        response = await self.execute("EXAMINE", aioimaplib.quoted(folder))
        if response.result != "OK":
            self.protocol.state = aioimaplib.AUTH  # a failed EXAMINE leaves no mailbox selected
            logger.info("IMAP EXAMINE %r on %s refused: %s", folder, self.server.address, _text(response))
            return False
        self.protocol.state = aioimaplib.SELECTED  # aioimaplib tracks SELECT only; UID commands need it
        return True

    async def search(self, folder: str, needles: dict[str, str]) -> set[str]:
        """Keys of `needles` (key -> search text) present in the selected folder."""
        ascii_keys = [key for key, text in needles.items() if text.isascii()]
        other_keys = [key for key in needles if key not in ascii_keys]
        batches = [ascii_keys[i : i + SEARCH_BATCH] for i in range(0, len(ascii_keys), SEARCH_BATCH)]
        batches += [[key] for key in other_keys]  # 8-bit: one at a time, under CHARSET UTF-8
        found: set[str] = set()
        for batch in batches:
            found |= await self._search_batch(folder, batch, needles)
        return found

    async def _search_batch(self, folder: str, batch: list[str], needles: dict[str, str]) -> set[str]:
        self.command = "UID SEARCH"
        charset = None if all(needles[key].isascii() for key in batch) else "UTF-8"
        criteria = search_criteria([needles[key] for key in batch])
        response = await self.session.step(self.protocol.search(*criteria, charset=charset, by_uid=True))
        if response.result != "OK":
            if len(batch) > 1:  # one odd id must not hide the others
                found: set[str] = set()
                for key in batch:
                    found |= await self._search_batch(folder, [key], needles)
                return found
            logger.warning(
                "IMAP UID SEARCH for %s in %r on %s refused (%s): counted as not found",
                needles[batch[0]],
                folder,
                self.server.address,
                _text(response),
            )
            return set()
        uids = parse_search(response.lines)
        if not uids:
            return set()
        self.command = "UID FETCH"
        uid_set = ",".join(str(uid) for uid in sorted(set(uids)))
        fetched = await self.session.step(self.protocol.fetch(uid_set, FETCH_ITEMS, by_uid=True))
        if fetched.result != "OK":
            text = _text(fetched)
            raise CheckFailed(
                Failure("EPROTOCOL", "UID FETCH", f"IMAP UID FETCH failed: {fetched.result} {text}".rstrip(), text)
            )
        return parse_fetched_message_ids(fetched.lines) & set(batch)


def _text(response: Any) -> str:
    lines = getattr(response, "lines", None) or []
    last = lines[-1] if lines else b""
    return (bytes(last).decode(errors="replace") if isinstance(last, bytes | bytearray) else str(last)).strip()


async def find_sent(
    server: MailServer,
    message_ids: Sequence[str],
    *,
    step_timeout: float = 10.0,
    tls_context: ssl.SSLContext | None = None,
) -> set[str]:
    """The subset of `message_ids` (the strings as given) present in the account's Sent folder(s).

    Raises `CheckFailed` when IMAP cannot be used (unreachable, TLS, login refused, a command timing
    out or failing mid-way): the caller then falls back to resending. An account without any Sent
    folder gives an empty set. Ids are compared without whitespace and surrounding angle brackets.
    """
    wanted: dict[str, list[str]] = {}
    needles: dict[str, str] = {}
    for original in message_ids:
        key = message_id_key(original)
        if not key or _CONTROL.search(original):
            continue  # cannot be in a header line
        wanted.setdefault(key, []).append(original)
        needles.setdefault(key, original.strip())
    if not wanted:
        return set()

    session, _ = await open_imap(server, step_timeout=step_timeout, tls_context=tls_context)
    search = _SentSearch(session, server)
    found: set[str] = set()
    try:
        folders = await search.folders()
        if not folders:
            logger.info("no Sent folder on %s for %s", server.address, server.username)
        for folder in folders:
            remaining = {key: needles[key] for key in needles if key not in found}
            if not remaining:
                break
            if await search.examine(folder):
                found |= await search.search(folder, remaining)
        search.command = "LOGOUT"
        with contextlib.suppress(Exception):  # the answer is known, however the goodbye goes
            await session.step(session.protocol.logout())
    except CheckFailed:
        raise
    except Exception as exc:
        raise CheckFailed(_network_failure("IMAP", exc, search.command, server, step_timeout)) from exc
    finally:
        session.close()
    return {original for key in found for original in wanted[key]}

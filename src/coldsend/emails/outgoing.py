"""Emails sent through the API: replies, forwards and test emails, over the account's own SMTP server.

The rules:

- The account (`eaccount`) must be an account of the workspace (any case), and the email replied to or
  forwarded (`reply_to_uuid`) an email of the workspace: otherwise 404. A test email from an unknown
  account answers 200 `{"error": "ACC_NOT_FOUND"}`, as the reference documents.
- The database is read first, on a short connection; the SMTP dialogue happens with no connection or
  transaction held; the sent email is stored (`ue_type` 3) in the request's unit of work afterwards.
  When the mail server does not take the message nothing is stored: the answer is 502 naming the step
  and the server's reply (400 when the account has no usable SMTP settings). A test email reports the
  same failures inside a 200, as the reference does: `ACC_AUTH_ERROR` for a refused login or unusable
  settings, `ACC_UNKNOWN_ERROR` for anything else (unreachable server, refused message).
- A reply goes to the sender of a received email (its Reply-To when it has one) or to the first
  recipient of a sent one, with `In-Reply-To` its Message-ID and `References` its references followed
  by its Message-ID, in its thread (`thread_id`). An empty subject becomes `Re: <subject>`.
- A forward starts a thread of its own (no threading headers: its recipients are not in the original
  conversation) but keeps the original's lead and campaign; `include_original_body` appends the
  original's headers and body under a "Forwarded message" line. An empty subject becomes `Fwd: ...`.
- Further addresses (`additional_recipients` of a reply, the second and later addresses of a
  forward's `to_address_email_list`) are To recipients too, sent and stored that way.
- `assigned_to` assigns the lead of the email to that user. `forwarded_attachments` is accepted and
  ignored: Coldsend stores no attachment content to forward.
- A test email goes to each recipient separately (at most `MAX_TEST_RECIPIENTS`) and is not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import html as html_lib
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, getaddresses, parseaddr
from typing import Any, Literal

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncConnection

from coldsend.accounts import connectivity
from coldsend.accounts.connectivity import CheckFailed, Failure, _ehlo_name, mail_servers, open_smtp
from coldsend.accounts.repository import AccountRepository
from coldsend.config import Settings
from coldsend.emails.repository import EmailRepository
from coldsend.emails.schemas import EmailBody, ForwardEmail, ReplyToEmail, SendTestEmail
from coldsend.kit.clock import utcnow
from coldsend.kit.crypto import secret_box
from coldsend.kit.errors import ApiError, BadRequest, NotFound
from coldsend.kit.ids import new_id, parse_uuid
from coldsend.kit.repository import Executor, Record
from coldsend.sending.mime import Mailbox, OutgoingMessage, build_message, envelope_recipients, make_message_id
from coldsend.sending.mime import thread_subject as reply_subject
from coldsend.sending.renderer import html_to_text

logger = logging.getLogger("coldsend.emails")

UE_SENT = 3
MAX_TEST_RECIPIENTS = 25
STEP_TIMEOUT = connectivity.DEFAULT_TIMEOUT  # seconds per SMTP step; the whole dialogue at most 4x
PREVIEW_LENGTH = 200

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+{_LABEL}")
_MESSAGE_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")

Reader = Callable[[], AbstractAsyncContextManager[AsyncConnection]]
FailureKind = Literal["config", "auth", "connection", "refused"]


class MailServerError(ApiError):
    """The account's mail server did not take the message (502: the failure is upstream)."""

    status_code = 502
    default_message = "The mail server did not accept the message"


class SendFailed(Exception):
    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


# -- addresses and bodies ----------------------------------------------------------------------------


def _address(raw: str) -> str | None:
    """The address lower-cased (IDN domains in their ASCII form), or None when it is not one."""
    local, at, domain = raw.strip().rpartition("@")
    if not at:
        return None
    try:
        domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        return None
    candidate = f"{local}@{domain}"
    if len(candidate) > 254 or len(local) > 64 or not _ADDRESS.fullmatch(candidate):
        return None
    return candidate.lower()


def refuse_nul(**fields: str | None) -> None:
    """Text PostgreSQL could not store (and no mail server should get) is refused before sending."""
    for name, value in fields.items():
        if value is not None and "\x00" in value:
            raise BadRequest(f"body/{name} must not contain the NUL character (\\u0000)")


def _split_addresses(value: str) -> list[str]:
    """Split a comma-separated address list at the commas outside quotes and angle brackets."""
    chunks: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    depth = 0
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "<" and not quoted:
            depth += 1
        elif char == ">" and not quoted and depth:
            depth -= 1
        elif char == "," and not quoted and not depth:
            chunks.append("".join(current))
            current = []
            continue
        current.append(char)
    chunks.append("".join(current))
    return [chunk.strip() for chunk in chunks if chunk.strip()]


def parse_addresses(field: str, values: str | Sequence[str] | None) -> list[Mailbox]:
    """`a@x.com, "Name" <b@y.com>` (or a list of such strings) -> mailboxes; a bad address is a 400."""
    if values is None:
        return []
    raw = [values] if isinstance(values, str) else list(values)
    if any("\x00" in value for value in raw):
        raise BadRequest(f"body/{field} must not contain the NUL character (\\u0000)")
    found: list[Mailbox] = []
    for chunk in (c for value in raw for c in _split_addresses(value)):
        name, address = parseaddr(chunk)
        checked = _address(address) if address else None
        if checked is None:
            raise BadRequest(f"body/{field} has an invalid email address: {chunk!r}")
        found.append(Mailbox(checked, " ".join(name.split())))
    return found


def _unique(boxes: Sequence[Mailbox], seen: set[str]) -> list[Mailbox]:
    out = []
    for box in boxes:
        if box.address not in seen:
            seen.add(box.address)
            out.append(box)
    return out


def _csv(recipients: Sequence[Mailbox | str]) -> str | None:
    return ",".join(r.address if isinstance(r, Mailbox) else r for r in recipients) or None


def _text_to_html(text: str) -> str:
    return html_lib.escape(text).replace("\n", "<br>\n")


@dataclass(frozen=True)
class Parts:
    text: str
    html: str | None

    @property
    def empty(self) -> bool:
        return not self.text.strip() and not (self.html or "").strip()


def body_parts(body: EmailBody | None) -> Parts:
    """The text and HTML to send: HTML as given with a text part derived from it, or text alone."""
    if body is None:
        return Parts("", None)
    html = body.html if body.html and body.html.strip() else None
    text = body.text if body.text and body.text.strip() else None
    if html is not None:
        return Parts(text if text is not None else html_to_text(html), html)
    return Parts(text or "", None)


def _forwarded(note: Parts, original: Record) -> Parts:
    """The note, then the original's headers and body (HTML when either side has HTML)."""
    headers = [
        ("From", original.from_address_email or original.eaccount),
        ("Date", format_datetime(original.timestamp_email.astimezone(UTC))),
        ("Subject", original.subject or ""),
        ("To", original.to_address_email_list or ""),
    ]
    if original.cc_address_email_list:
        headers.append(("Cc", original.cc_address_email_list))
    line = "---------- Forwarded message ---------"
    original_text = original.body_text or (html_to_text(original.body_html) if original.body_html else "")
    block = "\n".join([line, *(f"{k}: {v}" for k, v in headers)])
    text = f"{note.text}\n\n{block}\n\n{original_text}" if note.text.strip() else f"{block}\n\n{original_text}"
    if note.html is None and original.body_html is None:
        return Parts(text, None)
    note_html = note.html if note.html is not None else _text_to_html(note.text)
    original_html = original.body_html if original.body_html is not None else _text_to_html(original_text)
    header_html = "<br>\n".join([html_lib.escape(line), *(f"{k}: {html_lib.escape(v)}" for k, v in headers)])
    quoted = f'<div class="coldsend_forward">{header_html}<br>\n<br>\n{original_html}</div>'
    return Parts(text, f"{note_html}<br>\n<br>\n{quoted}" if note_html.strip() else quoted)


def _references(original: Record) -> list[str]:
    """The original's References followed by its Message-ID (well-formed ids only, no repeats)."""
    ids = [*(original.references or ()), original.message_id]
    return list(dict.fromkeys(i.strip() for i in ids if i and _MESSAGE_ID.fullmatch(i.strip())))


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().lower() or "localhost"


# -- SMTP ----------------------------------------------------------------------------------------


async def deliver(account: Record, messages: Sequence[tuple[OutgoingMessage, bytes]], settings: Settings) -> None:
    """Send the messages over one session with the account's SMTP server; raise `SendFailed`."""
    smtp, _imap = mail_servers(account, secret_box(settings))
    if isinstance(smtp, Failure):
        raise SendFailed("config", smtp.message)
    try:
        async with asyncio.timeout(STEP_TIMEOUT * 4):
            client, _tls = await open_smtp(
                smtp,
                step_timeout=STEP_TIMEOUT,
                tls_context=connectivity.tls_context_factory(),
                local_hostname=_ehlo_name(account),
            )
            try:
                for spec, data in messages:
                    await _send(client, spec, data)
                with contextlib.suppress(Exception):  # sent: however the goodbye goes
                    await client.quit()
            finally:
                client.close()
    except CheckFailed as failed:
        code = failed.failure.code
        kind: FailureKind = "auth" if code == "EAUTH" else "config" if code == "ECONFIG" else "connection"
        raise SendFailed(kind, failed.failure.message) from failed
    except TimeoutError as exc:
        raise SendFailed("connection", f"SMTP dialogue with {smtp.address} timed out") from exc


async def _send(client: aiosmtplib.SMTP, spec: OutgoingMessage, data: bytes) -> None:
    """One SMTP transaction. Sent when at least one recipient was taken (the others are logged)."""
    try:
        errors, _reply = await client.sendmail(spec.from_address, envelope_recipients(spec), data)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        raise SendFailed("refused", f"the SMTP server refused every recipient ({refused})") from exc
    except aiosmtplib.SMTPSenderRefused as exc:
        raise SendFailed("refused", f"the SMTP server refused the sender: {exc.code} {exc.message}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise SendFailed("refused", f"the SMTP server refused the message: {exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPException, ConnectionError, OSError) as exc:
        raise SendFailed("connection", f"the SMTP connection failed while sending: {exc}") from exc
    for recipient, response in (errors or {}).items():
        logger.info("message %s: recipient %s refused: %s", spec.message_id, recipient, response)


# -- the service ---------------------------------------------------------------------------------


class OutgoingService:
    def __init__(self, read: Reader, session: Executor, organization_id: uuid.UUID, settings: Settings) -> None:
        self.read = read
        self.session = session
        self.organization_id = organization_id
        self.settings = settings

    async def _account(self, conn: AsyncConnection, eaccount: str) -> Record | None:
        return await AccountRepository(conn, self.organization_id).by_email(eaccount)

    async def _load(self, reply_to_uuid: str, eaccount: str) -> tuple[Record, Record]:
        """The email answered or forwarded and the sending account, both of this workspace (else 404)."""
        email_id = parse_uuid(reply_to_uuid.strip())
        async with self.read() as conn:
            original = await EmailRepository(conn, self.organization_id).get(email_id) if email_id else None
            if original is None:
                raise NotFound(f"No email of this workspace has the id {reply_to_uuid!r} (reply_to_uuid)")
            account = await self._account(conn, eaccount)
        if account is None:
            raise NotFound(f"{eaccount!r} is not an email account of this workspace (eaccount)")
        return original, account

    def _message(
        self,
        account: Record,
        email_id: uuid.UUID,
        now: datetime,
        to: Mailbox,
        cc: Sequence[Mailbox],
        bcc: Sequence[Mailbox],
        subject: str,
        parts: Parts,
        *,
        also_to: Sequence[Mailbox] = (),
        reply_to: Mailbox | None,
        in_reply_to: str | None = None,
        references: Sequence[str] = (),
    ) -> tuple[OutgoingMessage, bytes]:
        try:
            spec = OutgoingMessage(
                from_address=account.email,
                from_name=f"{account.first_name or ''} {account.last_name or ''}".strip(),
                to_address=to.address,
                to_name=to.name,
                also_to=tuple(also_to),
                subject=subject,
                text=parts.text,
                html=parts.html,
                date=now,
                message_id=make_message_id(email_id.hex, _domain(account.email)),
                cc=tuple(cc),
                bcc=tuple(bcc),
                reply_to=reply_to,
                in_reply_to=in_reply_to,
                references=tuple(references),
            )
            return spec, build_message(spec)
        except ValueError as exc:  # an address or id the message format cannot carry
            raise BadRequest(f"The message cannot be built: {exc}") from exc

    async def _send(self, account: Record, messages: Sequence[tuple[OutgoingMessage, bytes]]) -> None:
        try:
            await deliver(account, messages, self.settings)
        except SendFailed as failed:
            logger.warning("sending from %s failed: %s", account.email, failed.message)
            if failed.kind == "config":
                raise BadRequest(f"The account {account.email} cannot send: {failed.message}") from failed
            raise MailServerError(f"Sending from {account.email} failed: {failed.message}") from failed

    async def _store(
        self,
        *,
        email_id: uuid.UUID,
        now: datetime,
        spec: OutgoingMessage,
        parts: Parts,
        account: Record,
        original: Record,
        thread_id: uuid.UUID,
        reminder_ts: datetime | None,
        assigned_to: uuid.UUID | None,
    ) -> Record:
        repo = EmailRepository(self.session, self.organization_id)
        row = await repo.insert(
            id=email_id,
            timestamp_created=now,
            timestamp_email=now,
            message_id=spec.message_id,
            subject=spec.subject,
            from_address_email=account.email,
            to_address_email_list=",".join(
                [spec.to_address, *(r.address if isinstance(r, Mailbox) else r for r in spec.also_to)]
            ),
            cc_address_email_list=_csv(spec.cc),
            bcc_address_email_list=_csv(spec.bcc),
            reply_to=_csv([spec.reply_to]) if spec.reply_to is not None else None,
            body_text=parts.text,
            body_html=parts.html,
            campaign_id=original.campaign_id,
            subsequence_id=original.subsequence_id,
            list_id=original.list_id,
            lead=original.lead,
            lead_id=original.lead_id,
            eaccount=account.email,
            account_id=account.id,
            ue_type=UE_SENT,
            is_unread=0,
            is_auto_reply=0,
            ai_assisted=0,
            is_focused=1,
            reminder_ts=reminder_ts if reminder_ts is None or reminder_ts.tzinfo else reminder_ts.replace(tzinfo=UTC),
            thread_id=thread_id,
            content_preview=" ".join(parts.text.split())[:PREVIEW_LENGTH] or None,
            in_reply_to=spec.in_reply_to,
            references=list(spec.references) or None,
        )
        if assigned_to is not None and original.lead_id is not None:
            await repo.assign_lead(original.lead_id, assigned_to)
        return row

    # -- operations ------------------------------------------------------------------------------

    async def reply(self, body: ReplyToEmail) -> Record:
        refuse_nul(subject=body.subject, **{"body/html": body.body.html, "body/text": body.body.text})
        parts = body_parts(body.body)
        if parts.empty:
            raise BadRequest("body must have a non-empty 'html' or 'text'")
        extra = parse_addresses("additional_recipients", body.additional_recipients)
        cc_given = parse_addresses("cc_address_email_list", body.cc_address_email_list)
        bcc_given = parse_addresses("bcc_address_email_list", body.bcc_address_email_list)
        original, account = await self._load(body.reply_to_uuid, body.eaccount)
        to = self._reply_recipient(original)
        seen = {to.address}
        also_to = _unique(extra, seen)
        cc = _unique(cc_given, seen)
        bcc = _unique(bcc_given, seen)
        email_id, now = new_id(), utcnow()
        subject = body.subject.strip() or reply_subject(original.subject or "")
        in_reply_to = original.message_id if _MESSAGE_ID.fullmatch((original.message_id or "").strip()) else None
        message = self._message(
            account,
            email_id,
            now,
            to,
            cc,
            bcc,
            subject,
            parts,
            also_to=also_to,
            reply_to=Mailbox(account.reply_to) if account.reply_to else None,
            in_reply_to=in_reply_to.strip() if in_reply_to else None,
            references=_references(original),
        )
        await self._send(account, [message])
        thread_id = original.thread_id or original.id
        if original.thread_id is None:
            await EmailRepository(self.session, self.organization_id).set_thread(original.id, thread_id)
        return await self._store(
            email_id=email_id,
            now=now,
            spec=message[0],
            parts=parts,
            account=account,
            original=original,
            thread_id=thread_id,
            reminder_ts=body.reminder_ts,
            assigned_to=body.assigned_to,
        )

    @staticmethod
    def _reply_recipient(original: Record) -> Mailbox:
        if original.ue_type == 2:
            candidates = [original.reply_to, original.from_address_email]
        else:
            candidates = [original.to_address_email_list]
        for candidate in candidates:
            for name, address in getaddresses([candidate or ""]):
                checked = _address(address)
                if checked is not None:
                    return Mailbox(checked, " ".join(name.split()))
        raise BadRequest("The email replied to has no address to send the reply to")

    async def forward(self, body: ForwardEmail) -> Record:
        note_fields = {"body/html": body.body.html, "body/text": body.body.text} if body.body else {}
        refuse_nul(subject=body.subject, **note_fields)
        note = body_parts(body.body)
        if note.empty and body.include_original_body is not True:
            raise BadRequest("body must have a non-empty 'html' or 'text', or include_original_body must be true")
        recipients = parse_addresses("to_address_email_list", body.to_address_email_list)
        if not recipients:
            raise BadRequest("body/to_address_email_list must name at least one recipient")
        cc_given = parse_addresses("cc_address_email_list", body.cc_address_email_list)
        bcc_given = parse_addresses("bcc_address_email_list", body.bcc_address_email_list)
        reply_to = parse_addresses("reply_to", body.reply_to)
        original, account = await self._load(body.reply_to_uuid, body.eaccount)
        parts = _forwarded(note, original) if body.include_original_body else note
        to = recipients[0]
        seen = {to.address}
        also_to = _unique(recipients[1:], seen)
        cc = _unique(cc_given, seen)
        bcc = _unique(bcc_given, seen)
        email_id, now = new_id(), utcnow()
        subject = body.subject.strip() or f"Fwd: {original.subject or ''}".strip()
        sender_reply_to = reply_to[0] if reply_to else (Mailbox(account.reply_to) if account.reply_to else None)
        message = self._message(
            account, email_id, now, to, cc, bcc, subject, parts, also_to=also_to, reply_to=sender_reply_to
        )
        await self._send(account, [message])
        return await self._store(
            email_id=email_id,
            now=now,
            spec=message[0],
            parts=parts,
            account=account,
            original=original,
            thread_id=new_id(),
            reminder_ts=None,
            assigned_to=body.assigned_to,
        )

    async def send_test(self, body: SendTestEmail) -> dict[str, Any]:
        refuse_nul(subject=body.subject, **{"body/html": body.body.html})
        recipients = parse_addresses("to_address_email_list", body.to_address_email_list)
        recipients = _unique(recipients, set())
        if not recipients:
            raise BadRequest("body/to_address_email_list must name at least one recipient")
        if len(recipients) > MAX_TEST_RECIPIENTS:
            raise BadRequest(f"body/to_address_email_list may name at most {MAX_TEST_RECIPIENTS} recipients")
        async with self.read() as conn:
            account = await self._account(conn, body.eaccount)
        if account is None:
            return {"error": "ACC_NOT_FOUND"}
        parts = Parts(html_to_text(body.body.html), body.body.html)
        now = utcnow()
        subject = body.subject.strip()
        reply_to = Mailbox(account.reply_to) if account.reply_to else None
        messages = [
            self._message(account, new_id(), now, to, (), (), subject, parts, reply_to=reply_to) for to in recipients
        ]
        try:
            await deliver(account, messages, self.settings)
        except SendFailed as failed:
            logger.info("test email from %s failed: %s", account.email, failed.message)
            return {"error": "ACC_AUTH_ERROR" if failed.kind in ("auth", "config") else "ACC_UNKNOWN_ERROR"}
        return {"status": "success"}

"""Email, field for field as the reference defines it, and the bodies of its operations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from coldsend.kit.schemas import Schema

Flag = Annotated[float | None, Field(description="0 (no) or 1 (yes)", examples=[1])]
AddressList = Annotated[str, Field(description="Comma-separated email addresses", examples=["recipient@example.com"])]


class EmailBody(Schema):
    text: str | None = Field(default=None, description="The plain-text part", examples=["Hello,\nThanks!"])
    html: str | None = Field(default=None, description="The HTML part", examples=["Hello,<br/>Thanks!"])


class AttachmentFile(Schema):
    filename: str
    size: float | None = None
    type: str | None = None
    url: str | None = None
    error: str | None = None


class Attachments(Schema):
    files: list[AttachmentFile]


class Email(Schema):
    id: uuid.UUID
    timestamp_created: datetime = Field(description="When Coldsend stored the email")
    timestamp_email: datetime = Field(description="When the email was sent, as its mail server dated it")
    message_id: str = Field(description="The Message-ID header", examples=["<0193a1b2c3d4@example.com>"])
    subject: str
    from_address_email: str | None = None
    to_address_email_list: str = Field(description="Comma-separated recipients")
    cc_address_email_list: str | None = None
    bcc_address_email_list: str | None = None
    reply_to: str | None = None
    body: EmailBody = Field(description="The email's parts; empty with `preview_only`")
    organization_id: uuid.UUID
    campaign_id: uuid.UUID | None = None
    subsequence_id: uuid.UUID | None = None
    list_id: uuid.UUID | None = None
    lead: str | None = Field(default=None, description="The lead's email address")
    lead_id: uuid.UUID | None = None
    eaccount: str = Field(description="The sending account (mailbox) the email belongs to")
    ue_type: float | None = Field(
        default=None, description="1 sent from a campaign, 2 received, 3 sent (reply or forward), 4 scheduled"
    )
    step: str | None = Field(default=None, description="The campaign step (1-based) of a campaign email")
    is_unread: Flag = None
    is_auto_reply: Flag = None
    reminder_ts: datetime | None = None
    ai_interest_value: float | None = None
    ai_assisted: Flag = None
    is_focused: Flag = None
    i_status: float | None = Field(default=None, description="The lead's interest status when the email arrived")
    thread_id: uuid.UUID | None = None
    content_preview: str | None = Field(default=None, description="The start of the text, whitespace collapsed")
    attachment_json: Attachments | None = None
    from_address_json: list[Any] | None = None
    to_address_json: list[Any] | None = None
    cc_address_json: list[Any] | None = None
    ai_agent_id: uuid.UUID | None = None


# -- request bodies ---------------------------------------------------------------------------------

Eaccount = Annotated[
    str, Field(description="The sending account of the workspace (its email address)", examples=["jon@acme.com"])
]
EmailId = Annotated[str, Field(description="The id of an email of the workspace", examples=[str(uuid.UUID(int=1))])]
Subject = Annotated[str, Field(description="Subject line", examples=["Re: Your inquiry"])]
Cc = Annotated[str | None, Field(description="Comma-separated Cc addresses", examples=["cc@example.com"])]
Bcc = Annotated[str | None, Field(description="Comma-separated Bcc addresses", examples=["bcc@example.com"])]
AssignedTo = Annotated[uuid.UUID | None, Field(description="Assign the email's lead to this user")]


class TestEmailBody(Schema):
    html: str = Field(description="The HTML body (a text part is derived from it)")


class SendTestEmail(Schema):
    eaccount: Eaccount
    to_address_email_list: AddressList
    subject: Subject
    body: TestEmailBody


class TestEmailSent(Schema):
    status: Literal["success"]


class TestEmailFailed(Schema):
    error: Literal["ACC_AUTH_ERROR", "ACC_NOT_FOUND", "ACC_UNKNOWN_ERROR"] = Field(
        description="ACC_NOT_FOUND: no such account in the workspace; ACC_AUTH_ERROR: its SMTP login or "
        "settings failed; ACC_UNKNOWN_ERROR: the server could not be reached or refused the message"
    )


class ReplyToEmail(Schema):
    eaccount: Eaccount
    reply_to_uuid: EmailId
    subject: Subject
    body: EmailBody = Field(description="`html`, `text` or both; at least one must not be empty")
    additional_recipients: list[str] | None = Field(
        default=None, description="More recipients besides the default one (sent as Cc)"
    )
    cc_address_email_list: Cc = None
    bcc_address_email_list: Bcc = None
    reminder_ts: datetime | None = Field(default=None, description="A reminder stored on the reply")
    assigned_to: AssignedTo = None


class ForwardEmail(Schema):
    eaccount: Eaccount
    reply_to_uuid: EmailId
    to_address_email_list: AddressList
    subject: Subject
    body: EmailBody | None = Field(
        default=None, description="The note to send; required unless `include_original_body` is true"
    )
    cc_address_email_list: Cc = None
    bcc_address_email_list: Bcc = None
    reply_to: str | None = Field(default=None, description="Reply-To address of the forward")
    forwarded_attachments: str | None = Field(
        default=None, description="Accepted for compatibility; Coldsend keeps no attachment content to forward"
    )
    include_original_body: bool | None = Field(
        default=None, description="Append the original's headers and body after the note"
    )
    assigned_to: AssignedTo = None


class PatchEmail(Schema):
    is_unread: float | None = Field(default=None, description="1 unread, 0 read (null: read)", examples=[0])
    reminder_ts: datetime | None = Field(default=None, description="A reminder; null removes it")


class UnreadCount(Schema):
    count: float = Field(description="Unread emails of the workspace")


class MarkedAsRead(Schema):
    success: bool

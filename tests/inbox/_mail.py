"""Building small raw messages for the inbox tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

MESSAGES = Path(__file__).parent / "messages"
OURS = "<01936d2e-4c1a-7b2f-9e3d-5a6b7c8d9e0f@sender.example.com>"


def fixture(name: str, *, crlf: bool = False) -> bytes:
    data = (MESSAGES / name).read_bytes()
    return data.replace(b"\n", b"\r\n") if crlf else data


def mail(headers: str, body: str = "Hello Alice,\n\nSounds good.\n\nBob\n", *, charset: str = "utf-8") -> bytes:
    """A message from dedented header lines and a body (LF line endings)."""
    head = textwrap.dedent(headers).strip("\n")
    return head.encode("utf-8") + b"\n\n" + body.encode(charset)


def reply(*extra_headers: str, subject: str = "Re: Quick question", body: str | None = None) -> bytes:
    """A plain human-looking reply with extra header lines."""
    lines = [
        "From: Bob Lead <bob@acme.example>",
        "To: Alice Sender <alice@sender.example.com>",
        f"Subject: {subject}",
        "Date: Tue, 24 Nov 2026 16:01:58 +0100",
        "Message-ID: <reply-1@acme.example>",
        f"In-Reply-To: {OURS}",
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        *extra_headers,
    ]
    text = body if body is not None else "Hi Alice,\n\nYes, let's talk on Thursday.\n\nBob\n"
    return "\n".join(lines).encode() + b"\n\n" + text.encode()

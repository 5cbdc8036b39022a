"""The outgoing-message builder: parse the bytes back with the stdlib parser and check everything."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coldsend.sending.mime import (
    Mailbox,
    OutgoingMessage,
    build_message,
    envelope_recipients,
    make_message_id,
    thread_subject,
)

DATE = datetime(2026, 11, 26, 9, 30, 5, tzinfo=UTC)


def _spec(**kw: Any) -> OutgoingMessage:
    base: dict[str, Any] = {
        "from_address": "alice@sender.example.com",
        "from_name": "Alice Sender",
        "to_address": "bob@example.com",
        "to_name": "Bob Lead",
        "subject": "Quick question",
        "text": "Hi Bob,\nplain text body.\n",
        "html": "<p>Hi Bob,</p><p>html body.</p>",
        "date": DATE,
        "message_id": make_message_id("outbox-42", "sender.example.com"),
    }
    base.update(kw)
    return OutgoingMessage(**base)


def _parse(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(raw))


def _body(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None
    return cast(str, part.get_content()).replace("\r\n", "\n")


def _assert_wire_format(raw: bytes) -> None:
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    raw.decode("ascii")  # everything is encoded
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert len(line) <= 78, line
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998


def test_headers_and_multipart_structure() -> None:
    spec = _spec(
        cc=[Mailbox("carol@example.com", "Carol"), "dave@example.com"],
        bcc=["secret@example.com", Mailbox("hidden@example.org", "Hidden Person")],
        reply_to=Mailbox("replies@sender.example.com", "Replies"),
        extra_headers=[("X-Campaign-Id", "camp-1"), ("X-Mailer", "Coldsend")],
    )
    raw = build_message(spec)
    _assert_wire_format(raw)
    msg = _parse(raw)
    assert msg["Date"] == "Thu, 26 Nov 2026 09:30:05 +0000"
    assert msg["Date"].datetime == DATE
    assert msg["From"].addresses[0].display_name == "Alice Sender"
    assert msg["From"].addresses[0].addr_spec == "alice@sender.example.com"
    assert msg["To"].addresses[0].display_name == "Bob Lead"
    assert msg["To"].addresses[0].addr_spec == "bob@example.com"
    assert [(a.display_name, a.addr_spec) for a in msg["Cc"].addresses] == [
        ("Carol", "carol@example.com"),
        ("", "dave@example.com"),
    ]
    assert msg["Reply-To"].addresses[0].addr_spec == "replies@sender.example.com"
    assert msg["Subject"] == "Quick question"
    assert msg["Message-ID"] == "<outbox-42@sender.example.com>"
    assert msg["MIME-Version"] == "1.0"
    assert msg["X-Campaign-Id"] == "camp-1"
    assert msg["X-Mailer"] == "Coldsend"
    assert msg["Bcc"] is None
    assert b"secret@" not in raw and b"hidden@" not in raw and b"Hidden" not in raw
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert _body(msg, "plain") == "Hi Bob,\nplain text body.\n"
    assert _body(msg, "html") == "<p>Hi Bob,</p><p>html body.</p>\n"
    assert msg.defects == [] and all(p.defects == [] for p in parts)
    assert envelope_recipients(spec) == [
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
        "secret@example.com",
        "hidden@example.org",
    ]


def test_text_only_flag_and_missing_html() -> None:
    for spec in (_spec(text_only=True), _spec(html=None)):
        msg = _parse(build_message(spec))
        assert msg.get_content_type() == "text/plain"
        assert not msg.is_multipart()
        assert _body(msg, "plain") == "Hi Bob,\nplain text body.\n"
        assert b"<p>" not in build_message(spec)


def test_non_ascii_headers_and_bodies() -> None:
    subject = "Grüße aus Köln — 東京で会いましょう? 🚀 " * 3
    spec = _spec(
        subject=subject,
        from_name="Zoë Ångström, CEO",
        to_name="José Müller",
        to_address="jose@bücher.example",
        cc=[Mailbox("x@example.com", 'Ünïcødé "quoted" <name>')],
        text="Hallo José,\nlange Zeile " + "Straße und mehr Text " * 40 + "\nEnde.\n",
        html="<p>" + "東京 " * 400 + "</p>",
        extra_headers=[("X-Note", "naïve café")],
    )
    raw = build_message(spec)
    _assert_wire_format(raw)
    msg = _parse(raw)
    assert msg["Subject"] == subject.strip()
    assert msg["From"].addresses[0].display_name == "Zoë Ångström, CEO"
    assert msg["To"].addresses[0].display_name == "José Müller"
    assert msg["To"].addresses[0].addr_spec == "jose@xn--bcher-kva.example"
    assert msg["Cc"].addresses[0].display_name == 'Ünïcødé "quoted" <name>'
    assert msg["X-Note"] == "naïve café"
    assert _body(msg, "plain") == spec.text
    assert _body(msg, "html") == cast(str, spec.html) + "\n"
    parts = list(msg.iter_parts())
    assert parts[0]["Content-Transfer-Encoding"] == "quoted-printable"
    assert parts[1]["Content-Transfer-Encoding"] == "base64"
    for line in raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n"):
        assert len(line) <= 76


def test_long_ascii_lines_use_quoted_printable_and_7bit_otherwise() -> None:
    long_line = "x" * 2000
    spec = _spec(text="short\n", html=f"<div>{long_line}</div>\r\nnext\rline")
    raw = build_message(spec)
    _assert_wire_format(raw)
    msg = _parse(raw)
    plain, html = msg.iter_parts()
    assert plain["Content-Transfer-Encoding"] == "7bit"
    assert html["Content-Transfer-Encoding"] == "quoted-printable"
    assert _body(msg, "html") == f"<div>{long_line}</div>\nnext\nline\n"
    assert _body(msg, "plain") == "short\n"


def test_threading_headers_and_subject() -> None:
    refs = [make_message_id(f"outbox-{i}-{'a' * 30}", "sender.example.com") for i in range(5)]
    spec = _spec(
        subject=thread_subject("Quick question"),
        in_reply_to=refs[-1],
        references=refs,
    )
    raw = build_message(spec)
    _assert_wire_format(raw)
    msg = _parse(raw)
    assert msg["Subject"] == "Re: Quick question"
    assert msg["In-Reply-To"] == refs[-1]
    assert str(msg["References"]).split() == refs
    # ids without brackets are accepted too
    msg2 = _parse(build_message(_spec(in_reply_to="abc@x.example.com", references=["abc@x.example.com"])))
    assert msg2["In-Reply-To"] == "<abc@x.example.com>"
    assert msg2["References"] == "<abc@x.example.com>"


def test_list_unsubscribe() -> None:
    url = "https://track.example.com/u/" + "t" * 120
    msg = _parse(build_message(_spec(list_unsubscribe=url, list_unsubscribe_one_click=True)))
    assert msg["List-Unsubscribe"] == f"<{url}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    msg = _parse(build_message(_spec(list_unsubscribe="mailto:unsub@example.com")))
    assert msg["List-Unsubscribe"] == "<mailto:unsub@example.com>"
    assert msg["List-Unsubscribe-Post"] is None
    with pytest.raises(ValueError):
        build_message(_spec(list_unsubscribe="mailto:u@example.com", list_unsubscribe_one_click=True))
    with pytest.raises(ValueError):
        build_message(_spec(list_unsubscribe="https://x.example.com/a b"))


def test_folding_of_long_headers() -> None:
    subject = " ".join(f"word{i}" for i in range(60))
    cc = [Mailbox(f"person{i}@example.com", f"Person Number {i}") for i in range(20)]
    raw = build_message(_spec(subject=subject, cc=cc, extra_headers=[("X-Long", "z" * 300)]))
    _assert_wire_format(raw)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\n " in head
    msg = _parse(raw)
    assert msg["Subject"] == subject
    assert [a.addr_spec for a in msg["Cc"].addresses] == [m.address for m in cc]
    assert [a.display_name for a in msg["Cc"].addresses] == [m.name for m in cc]
    assert msg["X-Long"] == "z" * 300
    # a single unbreakable ASCII token longer than a line is RFC 2047 encoded so it can be folded
    msg = _parse(build_message(_spec(subject="y" * 1500)))
    assert msg["Subject"] == "y" * 1500


def test_header_injection_is_neutralised() -> None:
    raw = build_message(_spec(subject="Hello\r\nBcc: evil@example.com", from_name="A\nB"))
    msg = _parse(raw)
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Hello Bcc: evil@example.com"
    assert msg["From"].addresses[0].display_name == "A B"
    for bad in ("bob@example.com\r\nBcc: x@y.z", "no-at-sign", "bób@example.com"):
        with pytest.raises(ValueError):
            build_message(_spec(to_address=bad))
    with pytest.raises(ValueError):
        build_message(_spec(extra_headers=[("Subject", "x")]))
    with pytest.raises(ValueError):
        build_message(_spec(extra_headers=[("Bad Name", "x")]))
    with pytest.raises(ValueError):
        build_message(_spec(date=datetime(2026, 1, 1)))


def test_date_keeps_offset() -> None:
    tz = timezone(timedelta(hours=-5, minutes=-30))
    msg = _parse(build_message(_spec(date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=tz))))
    assert msg["Date"] == "Fri, 02 Jan 2026 03:04:05 -0530"


def test_boundary_not_in_content_and_random() -> None:
    spec = _spec(text="--=_cs_ looks like a boundary\n--\n", html="<p>--=_cs_</p>")
    a, b = build_message(spec), build_message(spec)
    ma, mb = _parse(a), _parse(b)
    assert ma.get_boundary() != mb.get_boundary()
    boundary = cast(str, ma.get_boundary())
    for part in ma.iter_parts():
        assert boundary not in cast(str, part.get_content())
    assert _body(ma, "plain") == spec.text


def _rfc2047_display_name(raw: bytes, header: str) -> str:
    """Decode the raw display name of the first mailbox as an RFC 2047 decoder (e.g. Gmail) would."""
    value = raw.decode("ascii").split(f"\r\n{header}:", 1)[1]
    value = value.split("<", 1)[0].replace("\r\n", "").strip()
    return str(make_header(decode_header(value)))


def test_long_spaceless_display_name() -> None:
    name = "株式会社コールドセンド国際営業本部長" * 3
    raw = build_message(_spec(to_name=name))
    _assert_wire_format(raw)
    # An RFC 2047 decoder ignores the whitespace between the encoded words ...
    assert _rfc2047_display_name(raw, "To") == name
    # ... while Python's phrase parser keeps it; the characters themselves survive either way.
    assert _parse(raw)["To"].addresses[0].display_name.replace(" ", "") == name


def test_make_message_id() -> None:
    assert make_message_id("abc123", "mail.example.com") == "<abc123@mail.example.com>"
    assert make_message_id("abc", "bücher.example") == "<abc@xn--bcher-kva.example>"
    for token in ("", "a b", "a@b", "<a>"):
        with pytest.raises(ValueError):
            make_message_id(token, "example.com")


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Quick question", "Re: Quick question"),
        ("Re: Quick question", "Re: Quick question"),
        ("RE: re: Re:Quick question", "Re: Quick question"),
        ("Re[2]: Quick question", "Re: Quick question"),
        ("  Quick question  ", "Re: Quick question"),
        ("Regarding pricing", "Re: Regarding pricing"),
        ("", "Re:"),
    ],
)
def test_thread_subject(original: str, expected: str) -> None:
    assert thread_subject(original) == expected


def test_envelope_dedupes_case_insensitively() -> None:
    spec = _spec(cc=["BOB@example.com", "c@example.com"], bcc=["c@example.com", "d@example.com"])
    assert envelope_recipients(spec) == ["bob@example.com", "c@example.com", "d@example.com"]


_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=300)
# Python's phrase parser keeps the whitespace between adjacent encoded words (RFC 2047 says drop
# it), so only space-less runs of <= 11 characters (<= 45 UTF-8 bytes, one encoded word) round-trip
# exactly through it; longer runs are covered by test_long_spaceless_display_name.
_NAME = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=11),
    max_size=12,
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(subject=_TEXT, text=_TEXT, html=_TEXT, name=_NAME, text_only=st.booleans())
def test_round_trip_property(subject: str, text: str, html: str, name: str, text_only: bool) -> None:
    spec = _spec(subject=subject, text=text, html=html, to_name=name, text_only=text_only)
    raw = build_message(spec)
    _assert_wire_format(raw)
    msg = _parse(raw)
    assert msg["Subject"] == subject.strip()
    display = " ".join(name.split())
    assert " ".join(msg["To"].addresses[0].display_name.split()) == display
    if display and not (display.isascii() and display.isprintable() and "=?" not in display):
        assert _rfc2047_display_name(raw, "To") == display
    expected_text = text if text.endswith("\n") else text + "\n"
    assert _body(msg, "plain") == expected_text
    if not text_only:
        assert _body(msg, "html") == (html if html.endswith("\n") else html + "\n")


def test_build_speed() -> None:
    html = "<html><body>" + "<p>Hi {{firstName}}, we help teams like yours ship faster. Ünïcode ok.</p>\n" * 26
    html += "</body></html>"
    assert 1800 < len(html.encode()) < 2400
    spec = _spec(html=html, text="Hi there,\n" * 40, list_unsubscribe="https://t.example.com/u/abc")
    n = 10_000
    start = time.perf_counter()
    for i in range(n):
        build_message(dataclasses.replace(spec, message_id=f"<m{i}@sender.example.com>"))
    elapsed = time.perf_counter() - start
    print(f"built {n} messages in {elapsed:.3f}s = {n / elapsed:,.0f} msg/s")
    assert elapsed < 5.0

"""parse_message: headers, encodings, bodies, attachments, and robustness on malformed input."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coldsend.inbox.classify import Attachment, classify, html_to_text, parse_message, strip_quoted

from ._mail import MESSAGES, OURS, fixture, mail


def test_gmail_reply_headers() -> None:
    m = parse_message(fixture("gmail_reply.eml"))
    assert m.message_id == "<CAJx8Fq1kZ2m3N4o5P6q7R8s9T0u1V2w3X4y5Z6a7B8c9D0e1F@mail.gmail.com>"
    assert m.in_reply_to == (OURS,)
    assert m.references == (OURS,)
    assert m.from_address == "bob@acme.example"
    assert m.from_name == "Bob Lead"
    assert m.to == ("alice@sender.example.com",)
    assert m.cc == ()
    assert m.reply_to is None
    assert m.subject == "Re: Quick question"
    assert m.date == datetime(2026, 11, 24, 15, 1, 58, tzinfo=UTC)
    assert m.date is not None and m.date.utcoffset() == timedelta(hours=1)
    assert m.text.startswith("Hi Alice,\n\nThanks for reaching out.")
    assert "> Would you be open to a 15-minute call" in m.text
    assert m.html is not None and m.html.startswith('<div dir="ltr">Hi Alice,')
    assert m.attachments == ()
    assert dict(m.headers) == {
        "content-type": 'multipart/alternative; boundary="000000000000a1b2c3d4e5f60718"',
        "return-path": "<bob@acme.example>",
    }
    with pytest.raises(TypeError):
        m.headers["x-autoreply"] = "yes"  # type: ignore[index]


def test_classifier_headers_are_kept_with_lower_cased_names() -> None:
    m = parse_message(fixture("exchange_oof.eml"))
    assert m.headers["auto-submitted"] == "auto-generated"
    assert m.headers["x-auto-response-suppress"] == "All"
    assert m.headers["x-ms-exchange-inbox-rules-loop"] == "quentin@contoso.example"
    assert m.headers["thread-topic"] == "Quick question"
    assert "thread-index" not in m.headers and "received" not in m.headers


@pytest.mark.parametrize(
    ("raw_subject", "decoded"),
    [
        ("=?UTF-8?B?UmU6IEt1cnplIEZyYWdlIOKAkyBQcmVpc2xpc3RlIGFuYmVp?=", "Re: Kurze Frage \u2013 Preisliste anbei"),
        ("=?iso-8859-1?Q?Abwesenheitsnotiz:_Kurze_Frage?=", "Abwesenheitsnotiz: Kurze Frage"),
        ("Re: =?utf-8?q?Caf=C3=A9?= meeting", "Re: Caf\u00e9 meeting"),
        ("=?utf-8?q?one?= =?utf-8?q?two?=", "onetwo"),  # whitespace between adjacent words is dropped
        ("=?utf-8?q?one?= and =?utf-8?q?two?=", "one and two"),
        ("=?utf-8?B?4oI=?= =?utf-8?B?rA==?=", "\u20ac"),  # a character split across two encoded words
        ("=?utf-8*en?Q?Hello?=", "Hello"),  # RFC 2231 language suffix
        ("=?x-unknown?Q?Gr=FC=DFe?=", "Gr\u00fc\u00dfe"),  # unknown charset: UTF-8, else Windows-1252
        ("=?windows-1252?Q?=93Quoted=94?=", "\u201cQuoted\u201d"),
        ("=?koi8-r?B?8NLJ18XU?=", "\u041f\u0440\u0438\u0432\u0435\u0442"),
        ("Plain subject", "Plain subject"),
        ("", ""),
    ],
)
def test_encoded_subjects(raw_subject: str, decoded: str) -> None:
    m = parse_message(mail(f"From: bob@acme.example\nSubject: {raw_subject}"))
    assert m.subject == decoded


def test_iso_2022_jp_headers_and_body() -> None:
    m = parse_message(fixture("iso2022jp_reply.eml"))
    assert m.subject == "Re: Quick question \uff08\u691c\u8a0e\u3057\u307e\u3059\uff09"
    assert m.from_name == "\u7530\u4e2d \u592a\u90ce"
    assert "\u6765\u9031\u306e\u6728\u66dc\u65e5" in m.text


def test_folded_headers_and_multiple_references() -> None:
    m = parse_message(
        mail(
            """
            From: Bob Lead
             <bob@acme.example>
            To: Alice Sender <alice@sender.example.com>,
            \tCarol <carol@globex.example>
            Subject: Re: a subject that was folded
            \tacross two lines
            References: <first@sender.example.com>
             <second@sender.example.com>
            \t<third@acme.example> <second@sender.example.com>
            In-Reply-To: <third@acme.example> (Bob's message of Tue, 24 Nov 2026)
            Message-ID:
             <folded-id@acme.example>
            Date: Tue,
             24 Nov 2026 16:01:58 +0100
            """
        )
    )
    assert m.from_address == "bob@acme.example" and m.from_name == "Bob Lead"
    assert m.to == ("alice@sender.example.com", "carol@globex.example")
    assert m.subject == "Re: a subject that was folded across two lines"
    assert m.references == ("<first@sender.example.com>", "<second@sender.example.com>", "<third@acme.example>")
    assert m.in_reply_to == ("<third@acme.example>",)
    assert m.message_id == "<folded-id@acme.example>"
    assert m.date == datetime(2026, 11, 24, 15, 1, 58, tzinfo=UTC)


def test_thunderbird_references_span_lines() -> None:
    m = parse_message(fixture("thunderbird_flowed_reply.eml"))
    assert m.references == ("<01936d2e-0000-7000-8000-000000000001@sender.example.com>", OURS)


def test_unbracketed_message_ids_are_bracketed() -> None:
    m = parse_message(mail("From: bob@acme.example\nMessage-ID: abc@acme.example\nIn-Reply-To: x@y.example"))
    assert m.message_id == "<abc@acme.example>"
    assert m.in_reply_to == ("<x@y.example>",)


@pytest.mark.parametrize(
    ("date_header", "expected"),
    [
        (None, None),
        ("Date: ", None),
        ("Date: not a date at all", None),
        ("Date: Tue, 45 Nov 2026 99:99:99 +0100", None),
        ("Date: Mon, 99 Foo 2026 10:00:00 +9999", None),
        ("Date: Tue, 24 Nov 2026 16:01:58 -0000", datetime(2026, 11, 24, 16, 1, 58, tzinfo=UTC)),
        ("Date: 24 Nov 2026 08:30:12 -0000", datetime(2026, 11, 24, 8, 30, 12, tzinfo=UTC)),
        ("Date: Tue, 24 Nov 26 16:01:58 GMT", datetime(2026, 11, 24, 16, 1, 58, tzinfo=UTC)),
        ("Date: Tue, 24 Nov 2026 11:01:58 EST", datetime(2026, 11, 24, 16, 1, 58, tzinfo=UTC)),
        (
            "Date: Tue, 24 Nov 2026 00:30:09 -0800 (PST)",
            datetime(2026, 11, 24, 0, 30, 9, tzinfo=timezone(timedelta(hours=-8))),
        ),
    ],
)
def test_dates(date_header: str | None, expected: datetime | None) -> None:
    m = parse_message(mail("From: bob@acme.example\nSubject: x" + (f"\n{date_header}" if date_header else "")))
    assert m.date == expected
    if m.date is not None:
        assert m.date.tzinfo is not None


def test_windows_1252_text_part() -> None:
    m = parse_message(fixture("outlook_reply.eml"))
    assert "I\u2019m the right person for this. We\u2019re reviewing our outreach tooling in Q1 \u2013 can" in m.text
    assert m.html is not None and "I&#8217;m the right person" in m.html


def test_iso_8859_1_text_part() -> None:
    m = parse_message(fixture("german_abwesenheitsnotiz.eml"))
    assert "ich bin bis einschlie\u00dflich 04.12.2026 nicht im B\u00fcro" in m.text
    assert "In dringenden F\u00e4llen" in m.text


@pytest.mark.parametrize(
    ("charset", "payload", "expected"),
    [
        ("koi8-r", "\u041f\u0440\u0438\u0432\u0435\u0442".encode("koi8-r"), "\u041f\u0440\u0438\u0432\u0435\u0442"),
        ("gb2312", "\u4f60\u597d".encode("gb18030"), "\u4f60\u597d"),
        ("ks_c_5601-1987", "\uc548\ub155".encode("cp949"), "\uc548\ub155"),
        ("shift_jis", "\u3053\u3093\u306b\u3061\u306f".encode("cp932"), "\u3053\u3093\u306b\u3061\u306f"),
        ("iso-8859-1", b"Gr\xfc\xdfe \x93quoted\x94", "Gr\u00fc\u00dfe \u201cquoted\u201d"),  # read as Windows-1252
        ("us-ascii", "Gr\u00fc\u00dfe".encode(), "Gr\u00fc\u00dfe"),  # mislabelled UTF-8
        ("us-ascii", b"Gr\xfc\xdfe", "Gr\u00fc\u00dfe"),  # mislabelled Latin-1
        ("x-made-up", "Gr\u00fc\u00dfe".encode(), "Gr\u00fc\u00dfe"),  # unknown label
        ("utf-8", b"caf\xe9 ok", "caf\ufffd ok"),  # declared UTF-8 but broken: replacement character
        (None, "Gr\u00fc\u00dfe".encode(), "Gr\u00fc\u00dfe"),  # no charset parameter
    ],
)
def test_body_charsets(charset: str | None, payload: bytes, expected: str) -> None:
    ctype = f"text/plain; charset={charset}" if charset else "text/plain"
    raw = f"From: bob@acme.example\nContent-Type: {ctype}\nContent-Transfer-Encoding: 8bit\n\n".encode() + payload
    assert parse_message(raw).text == expected


def test_raw_8bit_headers() -> None:
    utf8 = parse_message("From: J\u00fcrgen <j@acme.example>\nSubject: Gr\u00fc\u00dfe\n\nx".encode())
    assert (utf8.subject, utf8.from_name) == ("Gr\u00fc\u00dfe", "J\u00fcrgen")
    latin1 = parse_message(b"From: bob@acme.example\nSubject: Gr\xfc\xdfe\n\nx")
    assert latin1.subject == "Gr\u00fc\u00dfe"


def test_base64_and_quoted_printable_bodies() -> None:
    text = "Hello \u2603 snowman\nSecond line\n"
    b64 = base64.encodebytes(text.encode()).decode()
    m = parse_message(mail("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64", b64))
    assert m.text == text
    qp = "Caf=C3=A9 soft=\nbreak =3D equals\n"
    m = parse_message(mail("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable", qp))
    assert m.text == "Caf\u00e9 softbreak = equals\n"
    broken = "SGVsbG8gd29ybGQ"  # missing padding
    m = parse_message(mail("Content-Type: text/plain\nContent-Transfer-Encoding: base64", broken))
    assert m.text == "Hello world"


def test_html_only_body_becomes_text() -> None:
    m = parse_message(fixture("html_only_reply.eml"))
    assert m.html is not None and m.html.startswith("<html><body>")
    assert m.subject == "R\u00e9p.\u00a0: Question rapide"
    assert m.from_name == "H\u00e9l\u00e8ne Dupr\u00e9" and m.from_address == "helene.dupre@lumiere.example"
    assert m.reply_to == "ventes@lumiere.example"
    assert m.text == html_to_text(m.html)
    assert m.text.startswith("Bonjour Alice,\n\nMerci pour votre message. Nous sommes int\u00e9ress\u00e9s : pouvez")
    assert "<" not in m.text.replace("<alice", "")
    assert "> Bonjour H\u00e9l\u00e8ne," in m.text  # the blockquote is quoted


def test_html_to_text() -> None:
    markup = """<!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style>
    <script>var x = "<p>not text</p>";</script></head><body>
    <!--[if mso]><xml><o:OfficeDocumentSettings></o:OfficeDocumentSettings></xml><![endif]-->
    <h1>Title</h1><p>First&nbsp;paragraph with <b>bold</b> and <a href="https://x.example">a link</a>.</p>
    <p>Second<br>line two &amp; &lt;three&gt;</p><ul><li>one</li><li>two</li></ul>
    <table><tr><td>A</td><td>B</td></tr><tr><td>C</td><td>D</td></tr></table>
    <div>On Tue, Alice wrote:</div><blockquote><p>quoted</p><blockquote>deeper</blockquote></blockquote>
    <div>after\ufeff</div></body></html>"""
    assert html_to_text(markup) == (
        "Title\n\nFirst paragraph with bold and a link.\n\nSecond\nline two & <three>\n\n- one\n- two\n\n"
        "A B\nC D\n\nOn Tue, Alice wrote:\n> quoted\n>> deeper\nafter"
    )
    assert html_to_text("") == ""
    assert html_to_text("plain text, no tags") == "plain text, no tags"
    assert html_to_text("<p>unclosed <b>tags") == "unclosed tags"


def test_attachments_are_measured_not_kept() -> None:
    m = parse_message(fixture("reply_with_attachment.eml"))
    assert m.attachments == (
        Attachment("Preisliste M\u00fcller 2027.pdf", 5136, "application/pdf"),
        Attachment("Organigramm \u00dcbersicht.png", 308, "image/png"),
    )
    assert m.text == (
        "Hallo Alice,\n\nanbei unsere aktuelle Preisliste und das Organigramm.\n\nViele Gr\u00fc\u00dfe\nJ\u00fcrgen\n"
    )
    assert m.from_name == "J\u00fcrgen M\u00fcller"
    assert m.cc == (
        "petra.schmidt@mueller-gmbh.example",
        "einkauf@mueller-gmbh.example",
        "bjoern.weiss@mueller-gmbh.example",
    )


def test_attached_messages_are_attachments_not_body() -> None:
    m = parse_message(fixture("postfix_bounce.eml"))
    assert [a.content_type for a in m.attachments] == ["message/delivery-status", "message/rfc822"]
    assert "Hi Hank" not in m.text  # the returned message is not descended into
    assert m.text.startswith("This is the mail system at host mail.sender.example.com.")


def test_rfc2231_continuations_and_name_fallback() -> None:
    raw = mail(
        'Content-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nsee attached\n"
        "--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment;\n"
        " filename*0*=UTF-8''Quarterly%20Report%20;\n filename*1*=%E2%80%93%20Q4.xlsx\n\nabc\n"
        '--b\nContent-Type: text/csv; name="leads.csv"\n\na,b\n1,2\n'
        "--b\nContent-Type: text/plain\nContent-Disposition: attachment\n\nnot the body\n--b--\n",
    )
    m = parse_message(raw)
    assert m.text == "see attached"
    assert m.attachments == (
        Attachment("Quarterly Report \u2013 Q4.xlsx", 3, "application/octet-stream"),
        Attachment("leads.csv", 7, "text/csv"),
        Attachment(None, 12, "text/plain"),
    )


def test_multipart_structures() -> None:
    # mixed: the inline text parts around an image are joined (Apple Mail, list footers); html is kept
    raw = mail(
        'Content-Type: multipart/mixed; boundary="outer"',
        "preamble\n--outer\n"
        'Content-Type: multipart/alternative; boundary="inner"\n\n'
        "--inner\nContent-Type: text/plain\n\nfirst plain\n"
        "--inner\nContent-Type: text/enriched\n\n<bold>first</bold> enriched\n"
        "--inner\nContent-Type: text/html\n\n<p>first html</p>\n--inner--\n"
        "--outer\nContent-Type: image/jpeg\nContent-Transfer-Encoding: base64\n\n/9j/4AAQ\n"
        "--outer\nContent-Type: text/plain\n\nfooter\n--outer--\nepilogue\n",
    )
    m = parse_message(raw)
    assert m.text == "first plain\nfooter"
    assert m.html == "<p>first html</p>"
    assert m.attachments == (Attachment(None, 6, "image/jpeg"),)


def test_unterminated_and_boundaryless_multiparts() -> None:
    unterminated = mail('Content-Type: multipart/alternative; boundary="x"', "--x\nContent-Type: text/plain\n\nhello\n")
    assert parse_message(unterminated).text == "hello\n"
    prefix = mail(
        'Content-Type: multipart/mixed; boundary="ab"',
        "--ab\nContent-Type: text/plain\n\none\n--abc not a delimiter\n--ab--\n",
    )
    assert parse_message(prefix).text == "one\n--abc not a delimiter"
    no_boundary = mail("Content-Type: multipart/mixed", "just text\n")
    assert parse_message(no_boundary).text == "just text\n"


def test_mbox_from_line_headers_only_and_empty() -> None:
    mbox = b"From bob@acme.example Tue Nov 24 16:01:58 2026\nFrom: Bob <bob@acme.example>\nSubject: hi\n\nbody\n"
    m = parse_message(mbox)
    assert (m.from_address, m.subject, m.text) == ("bob@acme.example", "hi", "body\n")
    headers_only = parse_message(b"From: bob@acme.example\nSubject: no body")
    assert (headers_only.subject, headers_only.text, headers_only.html) == ("no body", "", None)
    empty = parse_message(b"")
    assert (empty.message_id, empty.from_address, empty.subject, empty.date, empty.text) == (None, None, "", None, "")


@pytest.mark.parametrize(
    ("header", "expected_to", "expected_name"),
    [
        ('"Lead, Bob" <Bob@Acme.Example>, carol@globex.example', ("bob@acme.example", "carol@globex.example"), ""),
        ("undisclosed-recipients:;", (), ""),
        ("Team: a@x.example, b@y.example;", ("a@x.example", "b@y.example"), ""),
        ("<bob@acme.example>", ("bob@acme.example",), ""),
        ("bob@acme.example (Bob Lead)", ("bob@acme.example",), ""),
    ],
)
def test_address_lists(header: str, expected_to: tuple[str, ...], expected_name: str) -> None:
    m = parse_message(mail(f"From: bob@acme.example\nTo: {header}"))
    assert m.to == expected_to


def test_from_variants() -> None:
    def sender(value: str) -> tuple[str, str | None]:
        m = parse_message(mail(f"From: {value}"))
        return m.from_name, m.from_address

    assert sender('"O\'Brien, Liam" <Liam@SmallBiz.example>') == ("O'Brien, Liam", "liam@smallbiz.example")
    assert sender("MAILER-DAEMON@mail.sender.example.com (Mail Delivery System)") == (
        "Mail Delivery System",
        "mailer-daemon@mail.sender.example.com",
    )
    assert sender("=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <j@m.example>") == ("J\u00fcrgen M\u00fcller", "j@m.example")
    assert sender('"=?UTF-8?Q?J=C3=BCrgen?=" <j@m.example>') == ("J\u00fcrgen", "j@m.example")
    assert sender("") == ("", None)


_FIXTURE_BYTES = [path.read_bytes() for path in sorted(MESSAGES.glob("*.eml"))]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_never_raises_on_random_bytes(data: bytes) -> None:
    message = parse_message(data)
    classify(message, data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_FIXTURE_BYTES),
    st.integers(min_value=0, max_value=20000),
    st.lists(st.tuples(st.integers(min_value=0, max_value=20000), st.integers(0, 255)), max_size=8),
)
def test_never_raises_on_damaged_fixtures(data: bytes, cut: int, flips: list[tuple[int, int]]) -> None:
    damaged = bytearray(data[:cut] if cut < len(data) else data)
    for position, value in flips:
        if damaged:
            damaged[position % len(damaged)] = value
    raw = bytes(damaged)
    classify(parse_message(raw), raw)


_N = 200_000
_ADVERSARIAL = {
    "spaces before an address": b"From: " + b" " * _N + b"x\n\nbody",
    "a display name without an address": b"From: " + b"a" * _N + b"\n\nbody",
    "encoded-word openers": b"Subject: " + b"=?" * (_N // 2) + b"\n\nbody",
    "unclosed tags": b"Content-Type: text/html\n\n" + b"<a" * (_N // 2),
    "unclosed style": b"Content-Type: text/html\n\n" + b"<style>" * (_N // 7),
    "unclosed comments": b"Content-Type: text/html\n\n" + b"<!--" * (_N // 4),
    "bounce with one long token": b"From: MAILER-DAEMON@x.example\nSubject: Mail delivery failed\n\n" + b"a" * _N,
    "bounce with at-signs": b"From: MAILER-DAEMON@x.example\nSubject: Mail delivery failed\n\n" + b"x@" * (_N // 2),
    "attribution-like lines": b"From: a@b.example\n\n" + b"On x\n" * (_N // 5),
    "header-block-like lines": b"From: a@b.example\n\n" + b"From: x\n" * (_N // 8),
    "many parts": b"Content-Type: multipart/mixed; boundary=b\n\n" + b"--b\n\nx\n" * (_N // 8),
    "nested multiparts": b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(3000)
    ),
    "RFC 2231 sections": b"Content-Type: text/plain" + b";a*0*=x" * (_N // 7) + b"\n\nx",
}


@pytest.mark.parametrize("name", sorted(_ADVERSARIAL))
def test_hostile_inputs_take_linear_time(name: str) -> None:
    data = _ADVERSARIAL[name]
    started = time.perf_counter()
    message = parse_message(data)
    classify(message, data)
    strip_quoted(message.text)
    assert time.perf_counter() - started < 1.0  # ~200 KB each: tens of ms; anything quadratic takes seconds

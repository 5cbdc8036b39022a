"""Every fixture message under messages/ (see its README): classification, with LF and CRLF endings."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from coldsend.inbox.classify import Kind, classify, parse_message, strip_quoted

from ._mail import MESSAGES, OURS, fixture


@dataclass(frozen=True)
class Expected:
    kind: Kind
    reason: str | None = None
    out_of_office: bool = False
    hard: bool | None = None
    status: str | None = None
    recipient: str | None = None
    original: str | None = None
    diagnostic: str | None = None  # a substring
    new_text_starts: str | None = None  # strip_quoted(text) starts with
    new_text_ends: str | None = None  # ... and ends with


def _sent(n: int) -> str:
    return f"<01936d2e-4c1a-7b2f-9e3d-{n:012d}@sender.example.com>"


EXPECTED: dict[str, Expected] = {
    "gmail_reply.eml": Expected(Kind.REPLY, new_text_starts="Hi Alice,", new_text_ends="Best,\nBob"),
    "outlook_reply.eml": Expected(
        Kind.REPLY, new_text_starts="Hi Alice,\n\nI\u2019m the right person", new_text_ends="Globex Corporation"
    ),
    "apple_mail_reply.eml": Expected(
        Kind.REPLY, new_text_starts="Sounds good \u2014 Thursday", new_text_ends="Sent from my iPhone"
    ),
    "thunderbird_flowed_reply.eml": Expected(
        Kind.REPLY,
        new_text_starts="Hi Alice,\n\nnot right now, we signed a two-year contract with another vendor last month.",
        new_text_ends="Eve",
    ),
    "reply_quoting_bounce.eml": Expected(Kind.REPLY, new_text_ends="are you free Friday?\n\nErin"),
    "html_only_reply.eml": Expected(
        Kind.REPLY, new_text_starts="Bonjour Alice,", new_text_ends="Directrice commerciale"
    ),
    "reply_with_attachment.eml": Expected(Kind.REPLY, new_text_ends="Viele Gr\u00fc\u00dfe\nJ\u00fcrgen"),
    "iso2022jp_reply.eml": Expected(Kind.REPLY, new_text_ends="\u7530\u4e2d"),
    "exchange_oof.eml": Expected(Kind.AUTO_REPLY, "Auto-Submitted: auto-generated", out_of_office=True),
    "exchange_left_company.eml": Expected(Kind.AUTO_REPLY, "X-MS-Exchange-Inbox-Rules-Loop"),
    "gmail_vacation.eml": Expected(Kind.AUTO_REPLY, "Auto-Submitted: auto-replied", out_of_office=True),
    "german_abwesenheitsnotiz.eml": Expected(Kind.AUTO_REPLY, "subject: Abwesenheitsnotiz", out_of_office=True),
    "zimbra_french_autoreply.eml": Expected(
        Kind.AUTO_REPLY, "Auto-Submitted: auto-replied (zimbra; vacation)", out_of_office=True
    ),
    "cpanel_italian_autoresponder.eml": Expected(Kind.AUTO_REPLY, "X-Autorespond: Domanda veloce", out_of_office=True),
    "sieve_dutch_vacation.eml": Expected(
        Kind.AUTO_REPLY, "Auto-Submitted: auto-replied (vacation)", out_of_office=True
    ),
    "zendesk_ticket_ack.eml": Expected(Kind.AUTO_REPLY, "Auto-Submitted: auto-generated"),
    "body_only_oof.eml": Expected(Kind.AUTO_REPLY, "body: i am currently out of the office", out_of_office=True),
    "postfix_bounce.eml": Expected(
        Kind.BOUNCE,
        hard=True,
        status="5.1.1",
        recipient="hank@umbrella.example",
        original=OURS,
        diagnostic="smtp; 550 5.1.1 <hank@umbrella.example>: Recipient address rejected: User unknown in virtual",
    ),
    "gmail_dsn_failure.eml": Expected(
        Kind.BOUNCE,
        hard=True,
        status="5.1.1",
        recipient="ivy@stark.example",
        original=_sent(18),
        diagnostic="smtp; 550 5.1.1 The email account that you tried to reach does not exist.",
    ),
    "gmail_dsn_delay.eml": Expected(
        Kind.BOUNCE,
        hard=False,
        status="4.4.1",
        recipient="jack@wayne.example",
        original=_sent(19),
        diagnostic="did not accept our requests to connect",
    ),
    "exchange_ndr.eml": Expected(
        Kind.BOUNCE,
        hard=True,
        status="5.1.10",
        recipient="kate@oscorp.example",
        original=_sent(20),
        diagnostic="smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound",
    ),
    "exim_bounce.eml": Expected(
        Kind.BOUNCE,
        hard=True,
        status="5.1.1",
        recipient="leo@cyberdyne.example",
        original=_sent(21),
        diagnostic="550 5.1.1 <leo@cyberdyne.example>: Recipient address rejected: User unknown",
    ),
    "exim_delay_warning.eml": Expected(
        Kind.BOUNCE,
        hard=False,
        status="4.7.1",
        recipient="pat@massive.example",
        original=_sent(25),
        diagnostic="451 4.7.1 Greylisted",
    ),
    "qmail_bounce.eml": Expected(
        Kind.BOUNCE,
        hard=True,
        status="5.1.1",
        recipient="mia@tyrell.example",
        original=_sent(22),
        diagnostic="550 5.1.1 <mia@tyrell.example>... User unknown",
    ),
    "sendmail_mailbox_full.eml": Expected(
        Kind.BOUNCE,
        hard=False,
        status="5.2.2",
        recipient="ned@soylent.example",
        original=_sent(23),
        diagnostic="SMTP; 552 5.2.2 <ned@soylent.example>... Mailbox full",
    ),
    "yahoo_failure.eml": Expected(
        Kind.BOUNCE,
        hard=True,
        status=None,
        recipient="olga@initrode.example",
        original="<1234567890.1234567.1795509012345@mail.yahoo.com>",
        diagnostic="554: delivery error: dd Requested mail action aborted",
    ),
    "newsletter.eml": Expected(Kind.OTHER),
}


def test_every_fixture_has_an_expectation_and_a_readme_line() -> None:
    files = {path.name for path in MESSAGES.glob("*.eml")}
    assert files == set(EXPECTED)
    readme = (MESSAGES / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in files)


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name: str, crlf: bool) -> None:
    raw = fixture(name, crlf=crlf)
    expected = EXPECTED[name]
    message = parse_message(raw)
    result = classify(message, raw)

    assert result.kind is expected.kind
    assert result.out_of_office is expected.out_of_office
    assert result.auto_reply_reason == expected.reason
    if expected.kind is Kind.BOUNCE:
        bounce = result.bounce
        assert bounce is not None
        assert bounce.hard is expected.hard
        assert bounce.status == expected.status
        assert bounce.recipient == expected.recipient
        assert bounce.original_message_id == expected.original
        assert bounce.diagnostic is not None
        assert expected.diagnostic is not None and expected.diagnostic in bounce.diagnostic
    else:
        assert result.bounce is None
    new_text = strip_quoted(message.text)
    if expected.new_text_starts is not None:
        assert new_text.startswith(expected.new_text_starts)
    if expected.new_text_ends is not None:
        assert new_text.endswith(expected.new_text_ends)


# Without the raw bytes, classify() still recognises a bounce and its severity from the headers and the
# human-readable text; the status comes from the text (where there is one).
WITHOUT_RAW = {
    "postfix_bounce.eml": (True, "5.1.1", "hank@umbrella.example", None),
    "gmail_dsn_failure.eml": (True, "5.1.1", "ivy@stark.example", _sent(18)),  # X-Failed-Recipients, In-Reply-To
    "gmail_dsn_delay.eml": (False, None, "jack@wayne.example", None),  # "temporary problem", "will retry"
    "exchange_ndr.eml": (True, "5.1.10", "kate@oscorp.example", _sent(20)),
    "exim_bounce.eml": (True, "5.1.1", "leo@cyberdyne.example", _sent(21)),
    "exim_delay_warning.eml": (False, "4.7.1", "pat@massive.example", _sent(25)),
    "qmail_bounce.eml": (True, "5.1.1", "mia@tyrell.example", _sent(22)),
    "sendmail_mailbox_full.eml": (False, "5.2.2", "ned@soylent.example", None),
    "yahoo_failure.eml": (True, None, "olga@initrode.example", "<1234567890.1234567.1795509012345@mail.yahoo.com>"),
}


@pytest.mark.parametrize("name", sorted(WITHOUT_RAW))
def test_bounce_without_raw_bytes(name: str) -> None:
    hard, status, recipient, original = WITHOUT_RAW[name]
    result = classify(parse_message(fixture(name)))
    assert result.kind is Kind.BOUNCE
    assert result.bounce is not None
    assert (result.bounce.hard, result.bounce.status, result.bounce.recipient) == (hard, status, recipient)
    assert result.bounce.original_message_id == original


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e.kind is not Kind.BOUNCE))
def test_non_bounces_classify_the_same_without_raw(name: str) -> None:
    raw = fixture(name)
    message = parse_message(raw)
    assert classify(message) == classify(message, raw)

"""strip_quoted: the new part of a reply, for Gmail, Outlook, Apple Mail and other quoting styles."""

from __future__ import annotations

import pytest

from coldsend.inbox.classify import html_to_text, parse_message, strip_quoted

from ._mail import fixture

ORIGINAL = "> Hi Bob,\n>\n> Would you be open to a call?\n>\n> Alice\n"


@pytest.mark.parametrize(
    "attribution",
    [
        # Gmail, on one line and wrapped the way Gmail's plain-text part wraps it
        "On Tue, Nov 24, 2026 at 9:30\u202fAM Alice Sender <alice@sender.example.com> wrote:",
        "On Tue, Nov 24, 2026 at 9:30\u202fAM Alice Sender <alice@sender.example.com>\nwrote:",
        "On Tue, Nov 24, 2026 at 9:30 AM Alice Sender <\nalice@sender.example.com> wrote:",
        # Gmail in other languages
        "Am Di., 24. Nov. 2026 um 09:30 Uhr schrieb Alice Sender <\nalice@sender.example.com>:",
        "Le mar. 24 nov. 2026 \u00e0 09:30, Alice Sender <alice@sender.example.com> a \u00e9crit :",
        "El mar, 24 nov 2026 a las 9:30, Alice Sender (<alice@sender.example.com>)\nescribi\u00f3:",
        "Il giorno mar 24 nov 2026 alle ore 09:30 Alice Sender <\nalice@sender.example.com> ha scritto:",
        "Op di 24 nov. 2026 om 09:30 schreef Alice Sender <alice@sender.example.com>:",
        "Em ter., 24 de nov. de 2026 \u00e0s 09:30, Alice Sender <alice@sender.example.com> escreveu:",
        "W dniu wt., 24.11.2026 o 09:30 Alice Sender <alice@sender.example.com> napisa\u0142(a):",
        # Apple Mail (macOS) and Thunderbird
        "On 24 Nov 2026, at 09:30, Alice Sender <alice@sender.example.com> wrote:",
        "On 11/24/26 09:30, Alice Sender wrote:",
        "24.11.2026 09:30, Alice Sender wrote:",
        # A bare "someone wrote:" / "<address>:" line right above the quote
        "Alice Sender <alice@sender.example.com> wrote:",
        "2026\u5e7411\u670824\u65e5(\u706b) 9:30 Alice Sender <alice@sender.example.com>:",
    ],
)
def test_attribution_and_quote_are_removed(attribution: str) -> None:
    text = f"Thursday works for me.\n\nBob\n\n{attribution}\n\n{ORIGINAL}"
    assert strip_quoted(text) == "Thursday works for me.\n\nBob"


def test_attribution_without_quote_marks_still_cuts() -> None:
    # Some clients quote by indentation only; the attribution line is enough.
    text = (
        "Yes please.\n\nOn Tue, Nov 24, 2026 at 9:30 AM Alice Sender <alice@sender.example.com> wrote:\n\n  Hi Bob,\n"
    )
    assert strip_quoted(text) == "Yes please."


@pytest.mark.parametrize(
    "header_block",
    [
        # Outlook on the web / new Outlook
        "________________________________\nFrom: Alice Sender <alice@sender.example.com>\n"
        "Sent: Tuesday, November 24, 2026 9:30 AM\nTo: Bob Lead <bob@acme.example>\nSubject: Quick question",
        # Outlook desktop
        "-----Original Message-----\nFrom: Alice Sender <alice@sender.example.com>\n"
        "Sent: Tuesday, November 24, 2026 9:30 AM\nTo: Bob Lead <bob@acme.example>\nSubject: Quick question",
        # Outlook desktop, HTML rendered to text (bold labels)
        "*From:* Alice Sender <alice@sender.example.com>\n*Sent:* Tuesday, November 24, 2026 9:30 AM\n"
        "*To:* Bob Lead <bob@acme.example>\n*Subject:* Quick question",
        # Outlook for Mac / mobile: Date instead of Sent
        "From: Alice Sender <alice@sender.example.com>\nDate: Tuesday, 24 November 2026 at 09:30\n"
        "To: Bob Lead <bob@acme.example>\nSubject: Quick question",
        # German and French Outlook
        "Von: Alice Sender <alice@sender.example.com>\nGesendet: Dienstag, 24. November 2026 09:30\n"
        "An: Bob Lead <bob@acme.example>\nBetreff: Kurze Frage",
        "De : Alice Sender <alice@sender.example.com>\nEnvoy\u00e9 : mardi 24 novembre 2026 09:30\n"
        "\u00c0 : Bob Lead <bob@acme.example>\nObjet : Question rapide",
        # Outlook with a long From line wrapped
        "From: Alice Sender\n<alice@sender.example.com>\nSent: Tuesday, November 24, 2026 9:30 AM\nTo: Bob",
        # Thunderbird / Exchange "Original Message" separators
        "-------- Original Message --------\nSubject: Quick question\nDate: Tue, 24 Nov 2026 09:30:05 +0100",
        "----- Urspr\u00fcngliche Nachricht -----\nVon: Alice Sender",
    ],
)
def test_outlook_header_blocks(header_block: str) -> None:
    text = f"Thursday works for me.\n\nBob\n\n{header_block}\n\nHi Bob,\n\nWould you be open to a call?\n"
    assert strip_quoted(text) == "Thursday works for me.\n\nBob"
    assert strip_quoted(text.replace("\n", "\r\n")) == "Thursday works for me.\n\nBob"


def test_apple_mail_iphone_quoted_attribution() -> None:
    text = (
        "Sounds good.\n\nSent from my iPhone\n\n"
        "> On Nov 24, 2026, at 9:30\u202fAM, Alice Sender <alice@sender.example.com> wrote:\n>\n" + ORIGINAL
    )
    assert strip_quoted(text) == "Sounds good.\n\nSent from my iPhone"


def test_inline_answers_between_quotes_are_kept() -> None:
    text = (
        "Answers inline.\n\nOn Tue, Nov 24, 2026 at 9:30 AM Alice <alice@sender.example.com> wrote:\n"
        "> How many reps?\n25\n> Which CRM?\nHubSpot\n"
    )
    # The attribution ends the new part; inline answers below an attribution are part of the history.
    assert strip_quoted(text) == "Answers inline."
    interleaved = "> How many reps?\n25 reps.\n\n> Which CRM?\nHubSpot.\n"
    assert strip_quoted(interleaved) == "25 reps.\n\nHubSpot."


def test_bottom_posting() -> None:
    text = "Alice Sender <alice@sender.example.com> wrote:\n> Would you be open to a call?\n\nYes, Thursday.\n"
    assert strip_quoted(text) == "Yes, Thursday."


@pytest.mark.parametrize(
    "text",
    [
        "On Monday I can do a call.\nOn Tuesday I am out.",
        "From: our side, all good.\nThe contract goes out today.",
        "Here are my questions:\n1. Price?\n2. Timing?",
        "Le projet nous int\u00e9resse.\nEl equipo tambi\u00e9n.",
        "",
    ],
)
def test_text_without_history_is_unchanged(text: str) -> None:
    assert strip_quoted(text) == text.strip()


def test_everything_quoted() -> None:
    assert strip_quoted(ORIGINAL) == ""


def test_gmail_fixture_text_and_html_agree() -> None:
    m = parse_message(fixture("gmail_reply.eml"))
    assert m.html is not None
    expected = (
        "Hi Alice,\n\nThanks for reaching out. We are actually evaluating a few vendors for this right now, so the "
        "timing is good. Could you send over pricing for a team of about 25 people? Also, do you integrate with "
        "HubSpot?\n\nBest,\nBob"
    )
    assert " ".join(strip_quoted(m.text).split()) == " ".join(expected.split())
    assert strip_quoted(html_to_text(m.html)) == expected


def test_outlook_fixture_html_and_text_agree() -> None:
    m = parse_message(fixture("outlook_reply.eml"))
    assert m.html is not None
    assert strip_quoted(html_to_text(m.html)) == strip_quoted(m.text)


def test_apple_fixture_html() -> None:
    m = parse_message(fixture("apple_mail_reply.eml"))
    assert m.html is not None
    assert strip_quoted(html_to_text(m.html)) == (
        "Sounds good \u2014 Thursday 2pm works. Send the invite to dan@initech.example.\n\nSent from my iPhone"
    )

"""Benchmark of inbox sync and the Unibox (issue 6): ingest rate, reply latency with IDLE, and the
emails list at depth.

Figures (issue text), one process, one Dovecot, one PostgreSQL, all on this machine:
1. Ingest: `InboxSync.sync_once` over 100 mailboxes holding 100 received messages each (10,000), with
   bounded concurrency -> messages stored per second; beside it Dovecot's own APPEND rate for the same
   10,000 messages in the same run (aioimaplib, one connection per mailbox at a time), and the ratio.
2. Reply latency with IDLE (target <= 5 s): watchers of `InboxSync.run()` (the worker's loop) idle on
   100 mailboxes, `poll_interval` 600 s so news can only come from IDLE; a reply to one of our sent
   emails arrives in a random mailbox (over IMAP APPEND as an MTA hands it over, and by a Maildir write
   as an MDA does) and the clock runs until the lead row has `timestamp_last_reply` (the DB is polled
   every 10 ms). Median, p95, max.
3. `GET /api/v2/emails` over 1,000,000 stored emails (target: the page at depth within 1.5x of the
   first page): default list (limit 100, newest first), first page against the page after the email
   at position N-100 (cursor from SQL in the endpoint's own order), and the same for
   `email_type=received` and `is_unread=true`; median of --page-samples requests each.

What it does, talking to 127.0.0.1 only (database, servers and page timing: bench/harness.py):

1. Waits until no older benchmark of bench/ runs (pgrep, at most --wait-others s; only benchmarks started
   before this one count, so two scripts never wait for each other); opens a database (a
   fresh embedded PostgreSQL in a temporary COLDSEND_HOME, or --database-url) and a workspace with the
   CLI; starts Debian's Dovecot (tests/support/imap_server.DovecotServer, `Junk` marked `\\Junk`) with
   --accounts users.
2. Seeds --accounts accounts with IMAP on that Dovecot (password encrypted with the workspace's key),
   --campaigns active campaign(s) (stop_on_reply; account a's leads in campaign a mod N; 1 by default, so
   every mailbox's replies count on the same campaign row) holding --sent-per-account leads per account,
   and for each lead one sent campaign email (`emails` ue_type 1, a Message-ID, a thread id, the lead;
   COPY), and the campaigns' `sent` counters. Of each account's leads, 3 are kept for the latency part, 10 are the
   bounce targets and the rest get the replies and auto-replies.
3. Builds --messages-per-box messages per mailbox, 2-6 KB each: 60% human replies (In-Reply-To and
   References = our Message-ID, text + HTML with the quoted original), 15% auto-replies (Exchange-style
   out-of-office with Auto-Submitted, and ticket acknowledgements with X-Autoreply), 10% RFC 3464 DSNs
   (8 hard 5.1.1, 2 soft 4.2.2 delayed; the returned message attached), 15% unrelated mail (bulk
   newsletters, new conversations from strangers); 5% of each mailbox lands in Junk. Every message is
   classified once with `coldsend.inbox.classify` before anything is timed, to check the mix. They are
   written into the Maildirs with `DovecotServer.deliver` (unseen, in new/), untimed, and each folder is
   EXAMINEd once so Dovecot's index is built, as a delivery agent keeps it.
4. Ingest, for each --concurrency value, --ingest-runs times: a fresh `InboxSync` (its own pool, default
   settings), then on a quiet machine `sync_once` for every account under an asyncio.Semaphore; checks
   that every message was stored once and that replies / auto-replies / bounces match the mix, and in
   the database the received emails, the replied and the bounced leads. Between runs everything the
   sync wrote is undone (received emails, folder states, lead and counter changes; VACUUM ANALYZE).
   Then, for each --append-connections value, the same messages are APPENDed over IMAP into a fresh
   folder of each mailbox (one connection per mailbox, connect + LOGIN + 100 APPENDs + LOGOUT, that
   many mailboxes at once), timed the same way. CPU of this process, PostgreSQL, Dovecot and the rest.
5. Latency: `InboxSync(poll_interval=600).run(interval=5)` as a task (the worker's loop; one tick
   leases every mailbox); once every watcher idles, --latency-samples replies per method, each to a
   random reserved lead of a random mailbox, one at a time, each after the previous watcher is back in
   IDLE and a 0.3-0.8 s pause. The Dovecot log is searched for inotify warnings afterwards (without
   inotify Dovecot falls back to polling every 30 s).
6. Emails list: the workspace's emails are deleted, --emails emails seeded by COPY (72% sent ue_type 1,
   24% received ue_type 2 of which 40% unread, 4% manual ue_type 3; HTML and text bodies; UUIDv7 ids of
   their creation time, spread over a year), VACUUM ANALYZE; `coldsend serve --no-worker` starts with
   rate limits off and COLDSEND_EMAILS_LIST_PER_MINUTE=0; each shape is timed with
   `BenchRun.time_pages` (sequential httpx on one connection, first and deep page interleaved, the
   first pair checks the ids of both pages) and EXPLAIN ANALYZE of the server's own statement.
7. Prints the tables; stops Dovecot and the servers and removes the temporary data, also on error.

With --profile OUT, two more ingest runs (unmeasured): one samples pg_stat_activity of the sync's sessions
every 20 ms (state and wait event, and the statements that wait on locks), one runs under cProfile and
writes OUT (pstats) and OUT.txt.

    .venv/bin/python bench/bench_inbox.py --wait-idle 1800                # full sizes (about 10 minutes)
    .venv/bin/python bench/bench_inbox.py --quick                         # smoke run (about 2 minutes)
    .venv/bin/python bench/bench_inbox.py --skip-list --profile /tmp/ingest.pstats
    .venv/bin/python bench/bench_inbox.py --campaigns 100 --skip-latency --skip-list   # no shared counter row
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import logging
import pstats
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar

from harness import (
    PAGE_LIMIT,
    PAGE_TABLE_HEAD,
    BenchRun,
    CpuUse,
    PageProbe,
    PageTimes,
    PeerMeter,
    add_server_arguments,
    disturbed,
    explain_medians,
    log,
    machine_cpu_seconds,
    page_rows,
    quantile,
    run_benchmark,
    verdict,
    wait_for_quiet,
    with_connection,
    write_rotation_script,
)

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR.parent) not in sys.path:  # `tests.support` (the Dovecot the tests use)
    sys.path.insert(0, str(BENCH_DIR.parent))

T = TypeVar("T")

HOST = "127.0.0.1"
PASSWORD = "bench-imap-secret"
TARGET_LATENCY_S = 5.0
TARGET_PAGE_RATIO = 1.5
OTHER_BENCHMARKS = "bench_custom_tags.py|bench_accounts_campaigns.py|bench_leads.py|bench_sending.py"
COPY_CHUNK = 20_000
RESERVED_PER_ACCOUNT = 3  # leads of each account kept for the latency part
BOUNCE_LEADS_PER_ACCOUNT = 10  # leads of each account the DSNs are about
LATENCY_TIMEOUT_S = 30.0
LATENCY_POLL_S = 0.01
IDLE_POLL_INTERVAL_S = 600.0
RUN_TIMEOUT_S = 1800.0
EMAILS_PATH = "/api/v2/emails"
EPOCH = datetime(2025, 11, 26, 8, 0, tzinfo=UTC)

FIRST_NAMES = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth")
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Wilson")

LEAD_COLUMNS = (
    "organization_id",
    "id",
    "campaign_id",
    "email",
    "status",
    "first_name",
    "last_name",
    "company_name",
    "company_domain",
    "upload_method",
    "status_summary",
    "timestamp_created",
    "timestamp_updated",
    "timestamp_last_contact",
    "next_step",
    "next_send_at",
)

EMAIL_COLUMNS = (
    "organization_id",
    "id",
    "timestamp_created",
    "timestamp_email",
    "message_id",
    "subject",
    "from_address_email",
    "to_address_email_list",
    "body_text",
    "body_html",
    "campaign_id",
    "lead",
    "lead_id",
    "eaccount",
    "account_id",
    "ue_type",
    "step",
    "variant",
    "is_unread",
    "is_auto_reply",
    "i_status",
    "thread_id",
    "content_preview",
    "from_address_json",
    "to_address_json",
    "in_reply_to",
    "references",
)

# The text of our first step (what a reply quotes); ~1.3 KB.
SENT_TEXT = """Hi {first},

I was looking at how {company} handles outbound this quarter and had a thought. Most teams we talk to
spend the first hour of every day cleaning lists, checking which mailboxes are warm enough to send from,
and copying replies back into their CRM by hand. We built a small tool that does all three while you
sleep, and teams like yours usually get that hour back within a week.

A quick bit of context on us: we are a small team that spent years running outbound for other
companies, so we know how much of the work is plumbing rather than selling. Everything we ship is meant
to take plumbing off your plate, and nothing in it needs a new process or a long onboarding call.

Three things it does that {company} might care about:
- it rotates sending across every mailbox you own and keeps each one under its daily limit;
- it stops a sequence the moment a lead (or anyone at the same company) replies;
- it shows opens, clicks and replies per step and per variant, so you can see what works.

If it looks useful, pick a time that suits you for a short call, or simply reply to this email.

Best regards,
Sam
"""

REPLY_OPENINGS = (
    "Thanks for reaching out. We are actually reviewing our outbound tooling this month, so the timing is good.",
    "Interesting. How does this compare with what we use today? We have about 40 mailboxes across three domains.",
    "Not a priority for us right now, but feel free to check back next quarter.",
    "Can you send over pricing for a team of 12? Our sales lead will want to see it before a call.",
    "Please remove me from your list.",
    "Happy to take a look. Tuesday or Wednesday afternoon works for me, send an invite.",
    "We already have something in place for this, thanks.",
    "Who else in our space uses it? A couple of references would help me pitch it internally.",
    "Looping in my colleague who owns our outbound process; she is the right person to talk to.",
    "Sounds good. What does onboarding look like, and do you support Google Workspace and Microsoft 365?",
)
DISCLAIMER = (
    "This e-mail and any attachments are confidential and may be privileged. If you are not the intended "
    "recipient, please notify the sender immediately and delete it from your system; any use, disclosure or "
    "copying of it is prohibited. E-mail transmission cannot be guaranteed to be secure or error-free. "
)
NEWS_PARAGRAPH = (
    '<tr><td style="padding:12px 24px;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:22px;'
    'color:#333333"><h2 style="margin:0 0 8px 0;font-size:18px">{title}</h2><p style="margin:0">{text} '
    '<a href="https://news.vendor{n}.example/read/{k}?utm_source=newsletter&amp;utm_medium=email" '
    'style="color:#1a73e8">Read more</a></p></td></tr>\n'
)

_SPACES = re.compile(r"\s+")


# -- messages ---------------------------------------------------------------------------------------


def account_email(i: int) -> str:
    return f"sender{i:03d}@outreach{i % 10}.coldsend.test"


def lead_email(i: int) -> str:
    return f"lead{i}@company{i % 997}.com"


def lead_name(i: int) -> tuple[str, str]:
    return FIRST_NAMES[i % len(FIRST_NAMES)], LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)]


def company_of(i: int) -> str:
    return f"Company {i % 997}"


def mail_date(moment: datetime) -> str:
    return format_datetime(moment)


def received_headers(rng: random.Random, sender_domain: str, to: str, moment: datetime) -> list[str]:
    """Trace and authentication headers of a message that crossed two MTAs (about 1 KB)."""
    relay = f"mail-{rng.randrange(10, 99)}.{sender_domain}"
    queue = "".join(rng.choice("0123456789ABCDEF") for _ in range(10))
    signature = "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(344)
    )
    folded = "\r\n\t ".join(signature[k : k + 72] for k in range(0, len(signature), 72))
    return [
        f"Return-Path: <bounces+{rng.randrange(10**6)}@{sender_domain}>",
        f"Delivered-To: {to}",
        f"Received: from mx.coldsend.test (mx.coldsend.test [10.0.0.25])\r\n\tby imap.coldsend.test with LMTP"
        f"\r\n\tid {queue}; {mail_date(moment)}",
        f"Received: from {relay} ({relay} [198.51.100.{rng.randrange(1, 254)}])\r\n\tby mx.coldsend.test "
        f"(Postfix) with ESMTPS id {queue}\r\n\tfor <{to}>; {mail_date(moment)}",
        f"Authentication-Results: mx.coldsend.test; dkim=pass header.d={sender_domain}; spf=pass "
        f"smtp.mailfrom={sender_domain}; dmarc=pass header.from={sender_domain}",
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={sender_domain}; s=s1;\r\n\t h=from:to:subject:"
        f"date:message-id:in-reply-to:references;\r\n\t bh={signature[:44]}=;\r\n\t b={folded}",
    ]


def quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def padded(text: str, size: int) -> str:
    """`text` followed by disclaimer sentences up to about `size` characters."""
    if len(text) >= size:
        return text
    missing = size - len(text)
    repeats = DISCLAIMER * (missing // len(DISCLAIMER) + 1)
    return text + "\n\n" + repeats[:missing]


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def alternative(rng: random.Random, text: str, html: str) -> tuple[str, str]:
    boundary = f"000000000000{rng.getrandbits(48):012x}"
    body = (
        f'--{boundary}\nContent-Type: text/plain; charset="UTF-8"\nContent-Transfer-Encoding: 8bit\n\n{text}\n\n'
        f'--{boundary}\nContent-Type: text/html; charset="UTF-8"\nContent-Transfer-Encoding: 8bit\n\n{html}\n\n'
        f"--{boundary}--\n"
    )
    return f'multipart/alternative; boundary="{boundary}"', body


def assemble(headers: list[str], content_type: str, body: str) -> bytes:
    head = "\r\n".join([*headers, "MIME-Version: 1.0", f"Content-Type: {content_type}"])
    return (head + "\r\n\r\n" + crlf(body)).encode()


@dataclass(frozen=True)
class Sent:
    """One of our sent campaign emails: what a reply answers."""

    account: int
    lead_index: int
    lead_id: uuid.UUID
    lead: str
    message_id: str
    subject: str
    text: str
    sent_at: datetime


def reply_message(rng: random.Random, sent: Sent, account: str, size: int, moment: datetime) -> bytes:
    first, last = lead_name(sent.lead_index)
    domain = sent.lead.split("@")[1]
    opening = rng.choice(REPLY_OPENINGS)
    attribution = f"On {mail_date(sent.sent_at)}, Sam Sender <{account}> wrote:"
    signature = f"{first} {last}\nHead of Sales, {company_of(sent.lead_index)}\n+1 555 {rng.randrange(1000, 9999)}"
    headers = [
        *received_headers(rng, domain, account, moment),
        f"From: {first} {last} <{sent.lead}>",
        f"To: Sam Sender <{account}>",
        f"Subject: Re: {sent.subject}",
        f"Date: {mail_date(moment)}",
        f"Message-ID: <CA+{rng.getrandbits(96):024x}@mail.{domain}>",
        f"In-Reply-To: {sent.message_id}",
        f"References: {sent.message_id}",
    ]
    overhead = sum(len(h) + 2 for h in headers) + 400
    head = f"{opening}\n\n{signature}\n\n{attribution}\n"
    text_size = max(len(head) + 200, (size - overhead) * 10 // 21)
    quoted = sent.text[: max(200, text_size - len(head))].rpartition("\n")[0]  # what fits, in whole lines
    text = padded(head + quote(quoted), text_size)
    html = (
        f'<div dir="ltr">{opening}<br><br>{first} {last}<br>Head of Sales, {company_of(sent.lead_index)}</div>'
        f'<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">{attribution}<br></div>'
        f'<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);'
        f'padding-left:1ex">{quoted.replace(chr(10), "<br>")}</blockquote></div>'
    )
    html = padded(html, text_size)
    content_type, body = alternative(rng, text, html)
    return assemble(headers, content_type, body)


def auto_reply_message(rng: random.Random, sent: Sent, account: str, size: int, moment: datetime) -> bytes:
    first, last = lead_name(sent.lead_index)
    domain = sent.lead.split("@")[1]
    base = [
        *received_headers(rng, domain, account, moment),
        f"From: {first} {last} <{sent.lead}>",
        f"To: Sam Sender <{account}>",
        f"Date: {mail_date(moment)}",
        f"Message-ID: <{rng.getrandbits(128):032x}@{domain}>",
        f"In-Reply-To: {sent.message_id}",
        f"References: {sent.message_id}",
    ]
    if rng.random() < 0.67:  # Exchange out-of-office
        headers = [
            *base,
            f"Subject: Automatic reply: {sent.subject}",
            "Auto-Submitted: auto-replied",
            "X-Auto-Response-Suppress: All",
            "X-MS-Exchange-Inbox-Rules-Loop: " + sent.lead,
            f"Thread-Topic: {sent.subject}",
            "X-MS-Has-Attach:",
            "X-MS-TNEF-Correlator:",
        ]
        text = (
            f"Thank you for your email. I am out of the office until Monday {rng.randrange(1, 28)} December with "
            "limited access to email. For urgent matters please contact my colleague at "
            f"office@{domain}.\n\nKind regards,\n{first} {last}"
        )
    else:  # a helpdesk acknowledgement
        headers = [
            *base,
            f"Subject: [Ticket #{rng.randrange(10**5, 10**6)}] Re: {sent.subject}",
            "X-Autoreply: yes",
            "Precedence: auto_reply",
        ]
        text = (
            "Thank you for contacting us. This is an automatic reply to confirm that we received your message; "
            "a member of our team will get back to you within two business days.\n\n"
            f"The {company_of(sent.lead_index)} support team"
        )
    overhead = sum(len(h) + 2 for h in headers) + 400
    target = max(len(text), (size - overhead) * 10 // 21)
    style = (
        "<style><!-- p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm; font-size:11.0pt; "
        'font-family:"Calibri",sans-serif;} span.EmailStyle17 {mso-style-type:personal-compose;} --></style>'
    )
    html = f'<html><head>{style}</head><body><p class="MsoNormal">{text.replace(chr(10), "<br>")}</p></body></html>'
    text = padded(text, target)
    html = padded(html, target)
    content_type, body = alternative(rng, text, html)
    return assemble(headers, content_type, body)


def dsn_message(rng: random.Random, sent: Sent, account: str, hard: bool, moment: datetime, original: str) -> bytes:
    boundary = f"{rng.getrandbits(64):016X}.{int(moment.timestamp())}/mx.coldsend.test"
    status, action, code = ("5.1.1", "failed", "550") if hard else ("4.2.2", "delayed", "452")
    explanation = (
        "I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients."
        if hard
        else "This is a warning only; delivery will be attempted again for up to 5 days."
    )
    queue = f"{rng.getrandbits(40):010X}"
    headers = [
        f"Return-Path: <MAILER-DAEMON@mx.{sent.lead.split('@')[1]}>",
        f"Delivered-To: {account}",
        f"Received: by mx.coldsend.test (Postfix)\r\n\tid {queue}; {mail_date(moment)}",
        f"Date: {mail_date(moment)}",
        "From: Mail Delivery System <MAILER-DAEMON@mx.coldsend.test>",
        f"To: {account}",
        "Subject: " + ("Undelivered Mail Returned to Sender" if hard else "Delayed Mail (still being retried)"),
        "Auto-Submitted: auto-replied",
        f"Message-ID: <{queue}.{rng.getrandbits(32):08X}@mx.coldsend.test>",
    ]
    body = (
        f"This is a MIME-encapsulated message.\n\n--{boundary}\nContent-Description: Notification\n"
        f"Content-Type: text/plain; charset=us-ascii\n\nThis is the mail system at host mx.coldsend.test.\n\n"
        f"{explanation}\n\n<{sent.lead}>: host mx.{sent.lead.split('@')[1]}[203.0.113.7] said: {code} {status}\n"
        f"    mailbox problem (in reply to RCPT TO command)\n\n"
        f"--{boundary}\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; mx.coldsend.test\nX-Postfix-Queue-ID: {queue}\nX-Postfix-Sender: rfc822; {account}\n"
        f"Arrival-Date: {mail_date(sent.sent_at)}\n\nFinal-Recipient: rfc822; {sent.lead}\n"
        f"Original-Recipient: rfc822;{sent.lead}\nAction: {action}\nStatus: {status}\n"
        f"Remote-MTA: dns; mx.{sent.lead.split('@')[1]}\nDiagnostic-Code: smtp; {code} {status} mailbox problem\n\n"
        f"--{boundary}\nContent-Description: Undelivered Message\nContent-Type: message/rfc822\n\n{original}\n"
        f"--{boundary}--\n"
    )
    return assemble(headers, f'multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"', body)


def original_message(sent: Sent, account: str) -> str:
    """The headers and text of our sent email, as a DSN returns it."""
    first, _ = lead_name(sent.lead_index)
    return (
        f"Received: from outreach.coldsend.test (localhost [127.0.0.1])\n\tby mx.coldsend.test (Postfix)\n"
        f"From: Sam Sender <{account}>\nTo: {first} <{sent.lead}>\nSubject: {sent.subject}\n"
        f"Date: {mail_date(sent.sent_at)}\nMessage-ID: {sent.message_id}\nMIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset=utf-8\n\n{sent.text}"
    )


def newsletter_message(rng: random.Random, account: str, size: int, moment: datetime) -> bytes:
    n = rng.randrange(1, 40)
    domain = f"vendor{n}.example"
    headers = [
        *received_headers(rng, f"news.{domain}", account, moment),
        f"From: Vendor {n} Weekly <news@news.{domain}>",
        f"To: {account}",
        f"Subject: This week at Vendor {n}: {rng.choice(('pricing update', 'new integrations', 'webinar'))}",
        f"Date: {mail_date(moment)}",
        f"Message-ID: <{rng.getrandbits(128):032x}@news.{domain}>",
        "Precedence: bulk",
        f"List-Id: Vendor {n} Weekly <weekly.news.{domain}>",
        f"List-Unsubscribe: <https://news.{domain}/u/{rng.getrandbits(64):016x}>, <mailto:unsubscribe@news.{domain}>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    ]
    rows: list[str] = []
    k = 0
    overhead = sum(len(h) + 2 for h in headers) + 600
    while overhead + sum(len(r) for r in rows) * 15 // 10 < size:
        k += 1
        rows.append(
            NEWS_PARAGRAPH.format(
                title=f"Story {k}",
                text="A short summary of what changed this week and why it matters to teams like yours. " * 2,
                n=n,
                k=k,
            )
        )
    html = (
        '<html><body><table width="100%" cellpadding="0" cellspacing="0">\n' + "".join(rows) + "</table></body></html>"
    )
    text = _SPACES.sub(" ", re.sub(r"<[^>]+>", " ", "".join(rows)))[: max(200, len(html) // 3)]
    content_type, body = alternative(rng, text, html)
    return assemble(headers, content_type, body)


def stranger_message(rng: random.Random, account: str, size: int, moment: datetime) -> bytes:
    n = rng.randrange(1, 500)
    domain = f"partner{n}.example"
    headers = [
        *received_headers(rng, domain, account, moment),
        f"From: Alex Partner{n} <alex@{domain}>",
        f"To: {account}",
        f"Subject: {rng.choice(('Partnership idea', 'Quick question about your product', 'Intro'))}",
        f"Date: {mail_date(moment)}",
        f"Message-ID: <{rng.getrandbits(128):032x}@{domain}>",
        "Content-Transfer-Encoding: 8bit",
    ]
    text = (
        "Hi there,\n\nI came across your company and wanted to ask whether you would be open to a partnership. "
        f"We work with about {rng.randrange(20, 400)} sales teams and think there is overlap.\n\nBest,\nAlex"
    )
    overhead = sum(len(h) + 2 for h in headers) + 100
    return assemble(headers, 'text/plain; charset="UTF-8"', padded(text, max(len(text), size - overhead)))


@dataclass(frozen=True)
class Planned:
    """A message to put in a mailbox, and what ingesting it must do."""

    account: int
    folder: str
    data: bytes
    kind: str  # reply | auto_reply | bounce_hard | bounce_soft | newsletter | stranger
    lead_id: uuid.UUID | None


def plan_mailbox(account: int, sent: Sequence[Sent], count: int, rng: random.Random, now: datetime) -> list[Planned]:
    """`count` messages for one mailbox: 60% replies, 15% auto-replies, 10% DSNs, 15% unrelated."""
    address = account_email(account)
    bounce_targets = sent[RESERVED_PER_ACCOUNT : RESERVED_PER_ACCOUNT + BOUNCE_LEADS_PER_ACCOUNT]
    talkers = sent[RESERVED_PER_ACCOUNT + BOUNCE_LEADS_PER_ACCOUNT :] or sent[RESERVED_PER_ACCOUNT:]
    replies, autos, dsns = count * 60 // 100, count * 15 // 100, count * 10 // 100
    kinds = ["reply"] * replies + ["auto_reply"] * autos + ["dsn"] * dsns
    others = count - len(kinds)
    kinds += ["newsletter"] * (others // 2) + ["stranger"] * (others - others // 2)
    rng.shuffle(kinds)
    junk = set(rng.sample(range(count), max(0, count // 20)))
    planned: list[Planned] = []
    dsn_seen = 0
    for j, kind in enumerate(kinds):
        size = rng.randrange(2000, 6000)
        moment = now - timedelta(minutes=(count - j) * 3)
        lead: uuid.UUID | None = None
        if kind == "reply":
            target = rng.choice(talkers)
            data, lead = reply_message(rng, target, address, size, moment), target.lead_id
        elif kind == "auto_reply":
            target = rng.choice(talkers)
            data, lead = auto_reply_message(rng, target, address, size, moment), target.lead_id
        elif kind == "dsn":
            target = bounce_targets[dsn_seen % len(bounce_targets)]
            hard = dsn_seen % 5 != 4  # 8 hard, 2 soft of 10
            dsn_seen += 1
            data = dsn_message(rng, target, address, hard, moment, original_message(target, address))
            kind, lead = ("bounce_hard" if hard else "bounce_soft"), target.lead_id
        elif kind == "newsletter":
            data = newsletter_message(rng, address, size, moment)
        else:
            data = stranger_message(rng, address, size, moment)
        planned.append(Planned(account, "Junk" if j in junk else "INBOX", data, kind, lead))
    return planned


def check_mix(planned: Sequence[Planned]) -> dict[str, Any]:
    """Classify every planned message once (untimed): the mix must be what the ingest is checked against."""
    from coldsend.inbox.classify import Kind, classify, parse_message

    wrong: list[str] = []
    for p in planned:
        verdict_ = classify(parse_message(p.data), p.data)
        ok = {
            "reply": verdict_.kind == Kind.REPLY,
            "auto_reply": verdict_.kind == Kind.AUTO_REPLY,
            "bounce_hard": verdict_.kind == Kind.BOUNCE and verdict_.bounce is not None and verdict_.bounce.hard,
            "bounce_soft": verdict_.kind == Kind.BOUNCE and verdict_.bounce is not None and not verdict_.bounce.hard,
            "newsletter": verdict_.kind == Kind.OTHER,
            "stranger": verdict_.kind == Kind.REPLY,  # a human message that answers nothing of ours
        }[p.kind]
        if not ok:
            wrong.append(f"{p.kind} classified {verdict_}")
    if wrong:
        raise RuntimeError(f"{len(wrong)} generated messages are not classified as intended, e.g. {wrong[:3]}")
    sizes = [len(p.data) for p in planned]
    return {
        "kinds": dict(Counter(p.kind for p in planned)),
        "junk": sum(p.folder == "Junk" for p in planned),
        "size_min": min(sizes),
        "size_median": statistics.median(sizes),
        "size_max": max(sizes),
        "bytes": sum(sizes),
    }


# -- processes, CPU, waiting ------------------------------------------------------------------------


def cpu_cells(cpu: CpuUse) -> str:
    postgres = "n/a" if cpu.postgres is None else f"{cpu.postgres:.2f}"
    return f"{cpu.server:.2f} | {postgres} | {cpu.wrk:.2f} | {cpu.others:.2f}"


def cpu_text(cpu: CpuUse) -> str:
    postgres = "n/a" if cpu.postgres is None else f"{cpu.postgres:.2f}"
    return (
        f"this process {cpu.server:.2f}, PostgreSQL {postgres}, Dovecot {cpu.wrk:.2f}, others {cpu.others:.2f}, "
        f"machine {cpu.machine:.2f}/{cpu.cores}"
    )


def other_benchmarks() -> list[str]:
    """Command lines of the other bench/ benchmarks that started before this one (the oldest goes first, so
    two benchmarks that wait for each other cannot both wait); never this process or its ancestors."""
    import psutil

    me = psutil.Process()
    mine = {me.pid, *(p.pid for p in me.parents())}
    done = subprocess.run(["pgrep", "-af", OTHER_BENCHMARKS], capture_output=True, text=True, timeout=30, check=False)
    older: list[str] = []
    for line in done.stdout.splitlines():
        pid_text, _, _command = line.strip().partition(" ")
        if not pid_text.isdigit() or int(pid_text) in mine:
            continue
        with contextlib.suppress(psutil.Error):
            if psutil.Process(int(pid_text)).create_time() <= me.create_time():
                older.append(line.strip())
    return older


def wait_quiet(args: argparse.Namespace) -> None:
    """No older bench/ benchmark running (up to --wait-others s), then a quiet machine (harness)."""
    deadline = time.monotonic() + args.wait_others
    running = other_benchmarks()
    if running:
        log(f"waiting for other benchmarks to finish: {running}")
    while running and time.monotonic() < deadline:
        time.sleep(10)
        running = other_benchmarks()
    if running:
        log(f"WARNING: other benchmarks still run: {running}")
    wait_for_quiet(args.wait_idle, args.idle_threshold, args.quiet_for)


async def wait_quiet_async(args: argparse.Namespace) -> None:
    """`wait_quiet` without blocking the event loop (and without a thread a Ctrl-C would have to wait for)."""
    deadline = time.monotonic() + args.wait_others
    running = other_benchmarks()
    if running:
        log(f"waiting for other benchmarks to finish: {running}")
    while running and time.monotonic() < deadline:
        await asyncio.sleep(10)
        running = other_benchmarks()
    if running:
        log(f"WARNING: other benchmarks still run: {running}")
    deadline = time.monotonic() + args.wait_idle
    needed, streak, waited, busy = max(1, round(args.quiet_for)), 0, False, 0.0
    while True:
        total0, idle0 = machine_cpu_seconds()
        await asyncio.sleep(1.0)
        total1, idle1 = machine_cpu_seconds()
        total = total1 - total0
        busy = min(1.0, max(0.0, 1.0 - (idle1 - idle0) / total)) if total > 0 else 0.0
        streak = streak + 1 if busy <= args.idle_threshold else 0
        if streak >= needed or time.monotonic() >= deadline:
            break
        if busy > args.idle_threshold and not waited:
            log(f"the machine is {busy:.0%} busy with other work; waiting (up to {args.wait_idle:.0f}s in all)")
            waited = True
    if streak < needed:
        log(f"WARNING: the machine did not stay idle for {needed}s (last {busy:.0%} busy); results will be low")
    elif waited:
        log(f"the machine has been quiet for {needed}s ({busy:.0%} busy)")


class Problems(logging.Handler):
    """Collects coldsend's warnings and errors (a failed sync is logged by the watchers, not raised)."""

    EXPECTED = ("paused by bounce protection",)

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not any(text in record.getMessage() for text in self.EXPECTED):
            self.records.append(record)

    def take(self) -> list[str]:
        texts = [logging.Formatter().format(r) for r in self.records]
        self.records.clear()
        return texts


# -- the benchmark's world ------------------------------------------------------------------------


@dataclass
class Ctx:
    args: argparse.Namespace
    dsn: str
    url: str  # SQLAlchemy URL
    settings: Any
    organization_id: uuid.UUID
    dovecot: Any
    postmaster_pid: int | None
    problems: Problems
    account_ids: list[uuid.UUID] = field(default_factory=list)
    campaign_id: uuid.UUID | None = None
    sent: list[list[Sent]] = field(default_factory=list)  # per account
    planned: list[Planned] = field(default_factory=list)

    def meter(self) -> PeerMeter:
        assert self.dovecot._process is not None
        return PeerMeter(self.postmaster_pid, self.dovecot._process.pid, peer_with_children=True)


async def pg(ctx: Ctx) -> Any:
    import asyncpg

    return await asyncpg.connect(ctx.dsn, timeout=60)


def new_db(ctx: Ctx) -> Any:
    from coldsend.kit.db import create_engine

    return create_engine(ctx.url, ctx.settings, application_name="coldsend-bench-inbox")


async def copy_records(conn: Any, table: str, columns: Sequence[str], records: Iterator[tuple[Any, ...]]) -> int:
    """COPY `records` in chunks (the caller's transaction); the rows copied."""
    rows = 0
    chunk: list[tuple[Any, ...]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= COPY_CHUNK:
            await conn.copy_records_to_table(table, records=chunk, columns=list(columns))
            rows += len(chunk)
            chunk = []
    if chunk:
        await conn.copy_records_to_table(table, records=chunk, columns=list(columns))
        rows += len(chunk)
    return rows


async def seed_inbox(ctx: Ctx) -> dict[str, Any]:
    """Accounts with IMAP on the Dovecot, one campaign, its leads and our sent emails (ue_type 1)."""
    from sqlalchemy import insert

    from coldsend.accounts.models import Account
    from coldsend.campaigns.models import Campaign
    from coldsend.kit.crypto import secret_box
    from coldsend.kit.ids import new_id
    from coldsend.sending.mime import make_message_id

    args = ctx.args
    box = secret_box(ctx.settings)
    org = ctx.organization_id
    now = datetime.now(UTC)
    accounts = []
    for i in range(args.accounts):
        address = account_email(i)
        account_id = new_id()
        ctx.account_ids.append(account_id)
        accounts.append(
            {
                "organization_id": org,
                "id": account_id,
                "email": address,
                "first_name": "Sam",
                "last_name": f"Sender{i}",
                "status": 1,
                "sending_gap": 0,
                "smtp_host": HOST,
                "smtp_port": 2525,
                "smtp_username": address,
                "smtp_password_encrypted": box.encrypt(PASSWORD),
                "imap_host": HOST,
                "imap_port": ctx.dovecot.port,
                "imap_username": address,
                "imap_password_encrypted": box.encrypt(PASSWORD),
            }
        )
    campaign_ids = [new_id() for _ in range(args.campaigns)]
    ctx.campaign_id = campaign_ids[0]
    template = {
        "organization_id": org,
        "name": "Bench inbox",
        "status": 1,
        "campaign_schedule": {
            "schedules": [
                {
                    "name": "always",
                    "timing": {"from": "00:00", "to": "23:59"},
                    "days": {str(d): True for d in range(7)},
                    "timezone": "UTC",
                }
            ]
        },
        "sequences": [{"steps": [{"type": "email", "delay": 2, "variants": [{"subject": "s", "body": "b"}]}]}],
        "email_gap": 0,
        "stop_on_reply": True,
        "stop_on_auto_reply": False,
    }
    campaigns = [
        {
            **template,
            "id": cid,
            "name": f"Bench inbox {k}",
            "email_list": [a["email"] for i, a in enumerate(accounts) if i % args.campaigns == k],
        }
        for k, cid in enumerate(campaign_ids)
    ]
    db = new_db(ctx)
    try:
        async with db.begin() as conn:
            await conn.execute(insert(Account), accounts)
            await conn.execute(insert(Campaign), campaigns)
    finally:
        await db.dispose()

    leads: list[tuple[Any, ...]] = []
    emails: list[tuple[Any, ...]] = []
    ctx.sent = []
    for a in range(args.accounts):
        address = account_email(a)
        campaign_id = campaign_ids[a % args.campaigns]
        mine: list[Sent] = []
        for k in range(args.sent_per_account):
            i = a * args.sent_per_account + k
            first, last = lead_name(i)
            lead_id, email_id, thread_id = new_id(), new_id(), new_id()
            sent_at = now - timedelta(days=2, minutes=i)
            company = company_of(i)
            subject = f"{first}, a question about {company}"
            text = SENT_TEXT.format(first=first, company=company)
            message_id = make_message_id(uuid.uuid4().hex, address.split("@")[1])
            mine.append(Sent(a, i, lead_id, lead_email(i), message_id, subject, text, sent_at))
            leads.append(
                (
                    org,
                    lead_id,
                    campaign_id,
                    lead_email(i),
                    1,
                    first,
                    last,
                    company,
                    lead_email(i).split("@")[1],
                    "api",
                    "{}",
                    sent_at - timedelta(days=1),
                    sent_at,
                    sent_at,
                    1,
                    sent_at + timedelta(days=2),
                )
            )
            emails.append(
                (
                    org,
                    email_id,
                    sent_at,
                    sent_at,
                    message_id,
                    subject,
                    address,
                    lead_email(i),
                    text,
                    "<html><body>" + text.replace("\n", "<br>") + "</body></html>",
                    campaign_id,
                    lead_email(i),
                    lead_id,
                    address,
                    ctx.account_ids[a],
                    1,
                    "1",
                    0,
                    0,
                    0,
                    None,
                    thread_id,
                    _SPACES.sub(" ", text)[:200],
                    json.dumps([{"address": address, "name": "Sam Sender"}]),
                    json.dumps([{"address": lead_email(i), "name": first}]),
                    None,
                    None,
                )
            )
        ctx.sent.append(mine)
    conn = await pg(ctx)
    try:
        async with conn.transaction():
            await copy_records(conn, "leads", LEAD_COLUMNS, iter(leads))
            await copy_records(conn, "emails", EMAIL_COLUMNS, iter(emails))
            for k, cid in enumerate(campaign_ids):
                await conn.execute(
                    "INSERT INTO campaign_daily_stats (organization_id, campaign_id, day, sent, new_leads_contacted) "
                    "VALUES ($1, $2, $3, $4, $4)",
                    org,
                    cid,
                    (now - timedelta(days=2)).date(),
                    sum(1 for a in range(args.accounts) if a % args.campaigns == k) * args.sent_per_account,
                )
        await conn.execute("VACUUM ANALYZE leads, emails, accounts, campaigns, campaign_daily_stats")
    finally:
        await conn.close()
    return {"accounts": args.accounts, "campaigns": args.campaigns, "leads": len(leads), "sent_emails": len(emails)}


def deliver_all(ctx: Ctx) -> float:
    """Write every planned message into its Maildir (unseen, as an MDA does); the seconds it took."""
    began = time.perf_counter()
    for a in range(ctx.args.accounts):
        ctx.dovecot.create_folder(account_email(a), "Junk")
    for p in ctx.planned:
        ctx.dovecot.deliver(account_email(p.account), p.folder, p.data, seen=False)
    return time.perf_counter() - began


async def imap_client(login: str, port: int) -> Any:
    import aioimaplib

    client = aioimaplib.IMAP4(host=HOST, port=port, timeout=60)
    await client.wait_hello_from_server()
    response = await client.login(login, PASSWORD)
    if response.result != "OK":
        raise RuntimeError(f"IMAP LOGIN {login} failed: {response.lines}")
    return client


async def build_indexes(ctx: Ctx) -> float:
    """EXAMINE each folder once, so Dovecot's index is built (a delivery agent keeps it up to date)."""
    began = time.perf_counter()
    semaphore = asyncio.Semaphore(10)

    async def one(a: int) -> None:
        async with semaphore:
            client = await imap_client(account_email(a), ctx.dovecot.port)
            try:
                for folder in ("INBOX", "Junk"):
                    response = await client.examine(folder)
                    if response.result != "OK":
                        raise RuntimeError(f"EXAMINE {folder} of {account_email(a)}: {response.lines}")
            finally:
                await client.logout()

    await asyncio.gather(*(one(a) for a in range(ctx.args.accounts)))
    return time.perf_counter() - began


# -- 1. ingest --------------------------------------------------------------------------------------


@dataclass
class IngestResult:
    label: str
    concurrency: int
    messages: int
    seconds: float
    cpu: CpuUse
    stored: int = 0
    replies: int = 0
    auto_replies: int = 0
    bounces: int = 0
    per_account_s: list[float] = field(default_factory=list)
    attempts: int = 1

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rate"] = self.rate
        data["per_account_s"] = {
            "median": statistics.median(self.per_account_s) if self.per_account_s else None,
            "max": max(self.per_account_s, default=None),
        }
        return data


async def reset_ingest(ctx: Ctx) -> None:
    """Undo everything a sync wrote, so the next run starts from the same state (then VACUUM ANALYZE)."""
    conn = await pg(ctx)
    org = ctx.organization_id
    try:
        async with conn.transaction():
            await conn.execute("DELETE FROM emails WHERE organization_id = $1 AND ue_type = 2", org)
            await conn.execute("DELETE FROM mailbox_sync_state WHERE organization_id = $1", org)
            await conn.execute("DELETE FROM account_daily_stats WHERE organization_id = $1", org)
            await conn.execute(
                "UPDATE campaign_daily_stats SET replies = 0, unique_replies = 0, bounced = 0 "
                "WHERE organization_id = $1",
                org,
            )
            await conn.execute(
                "UPDATE campaigns SET status = 1, not_sending_status = NULL WHERE organization_id = $1", org
            )
            await conn.execute(
                """UPDATE leads SET email_reply_count = 0, timestamp_last_reply = NULL, timestamp_last_touch = NULL,
                    email_replied_step = NULL, email_replied_variant = NULL, status = 1, lt_interest_status = NULL,
                    timestamp_last_interest_change = NULL, next_send_at = timestamp_last_contact + interval '2 days',
                    timestamp_updated = timestamp_last_contact
                WHERE organization_id = $1""",
                org,
            )
            await conn.execute(
                "UPDATE accounts SET inbox_synced_at = NULL, inbox_lease_owner = NULL, inbox_lease_until = NULL "
                "WHERE organization_id = $1",
                org,
            )
        await conn.execute(
            "VACUUM ANALYZE emails, leads, mailbox_sync_state, account_daily_stats, campaign_daily_stats"
        )
    finally:
        await conn.close()


def expected_counts(planned: Sequence[Planned]) -> dict[str, int]:
    kinds = Counter(p.kind for p in planned)
    return {
        "stored": len(planned),
        "replies": kinds["reply"],
        "auto_replies": kinds["auto_reply"],
        "bounces": kinds["bounce_hard"] + kinds["bounce_soft"],
        "replied_leads": len({p.lead_id for p in planned if p.kind == "reply"}),
        "bounced_leads": len({p.lead_id for p in planned if p.kind == "bounce_hard"}),
    }


async def check_ingest(ctx: Ctx, result: IngestResult) -> None:
    want = expected_counts(ctx.planned)
    got = {"stored": result.stored, "replies": result.replies, "auto_replies": result.auto_replies}
    got["bounces"] = result.bounces
    conn = await pg(ctx)
    org = ctx.organization_id
    try:
        received = await conn.fetchval("SELECT count(*) FROM emails WHERE organization_id = $1 AND ue_type = 2", org)
        replied = await conn.fetchval(
            "SELECT count(*) FROM leads WHERE organization_id = $1 AND timestamp_last_reply IS NOT NULL", org
        )
        bounced = await conn.fetchval("SELECT count(*) FROM leads WHERE organization_id = $1 AND status = -1", org)
    finally:
        await conn.close()
    got.update(replied_leads=replied, bounced_leads=bounced)
    problems = [f"{k}: {got[k]} (expected {want[k]})" for k in want if got[k] != want[k]]
    if received != want["stored"]:
        problems.append(f"received emails in the database: {received} (expected {want['stored']})")
    if problems:
        raise RuntimeError(f"{result.label}: " + "; ".join(problems))


class WaitSampler:
    """Samples what the sync's database sessions are doing (pg_stat_activity) every 20 ms: the share of
    samples per state and wait event, and for lock waits the statement that waits (a diagnostic run)."""

    SQL = """SELECT state, coalesce(wait_event_type || ':' || wait_event, 'running') AS wait,
        left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query
        FROM pg_stat_activity WHERE application_name = 'coldsend-bench-inbox' AND pid <> pg_backend_pid()"""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.samples = 0
        self.states: Counter[str] = Counter()
        self.lock_waits: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        conn = await pg(self.ctx)
        try:
            while True:
                rows = await conn.fetch(self.SQL)
                self.samples += 1
                for row in rows:
                    state = row["state"] or "?"
                    key = state if state.startswith("idle") else f"{state} ({row['wait']})"
                    self.states[key] += 1
                    if str(row["wait"]).startswith("Lock:"):
                        self.lock_waits[f"{row['wait']}: {row['query']}"] += 1
                await asyncio.sleep(0.02)
        finally:
            await conn.close()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def as_json(self) -> dict[str, Any]:
        per = max(1, self.samples)
        return {
            "samples": self.samples,
            "sessions_by_state": {k: round(v / per, 2) for k, v in self.states.most_common()},
            "lock_waits": {k: round(v / per, 2) for k, v in self.lock_waits.most_common(5)},
        }


async def ingest_run(
    ctx: Ctx,
    concurrency: int,
    label: str,
    profiler: cProfile.Profile | None = None,
    sampler: WaitSampler | None = None,
) -> IngestResult:
    from coldsend.inbox.sync import InboxSync

    db = new_db(ctx)
    sync = InboxSync(db, ctx.settings, poll_interval=IDLE_POLL_INTERVAL_S, step_timeout=60)
    semaphore = asyncio.Semaphore(concurrency)
    durations: list[float] = []

    async def one(account_id: uuid.UUID) -> Any:
        async with semaphore:
            began = time.perf_counter()
            outcome = await sync.sync_once(ctx.organization_id, account_id)
            durations.append(time.perf_counter() - began)
            return outcome

    try:
        async with db.connect():  # the pool's first connection exists before the clock starts
            pass
        await wait_quiet_async(ctx.args)
        log(f"ingest {label}: syncing {len(ctx.account_ids)} mailboxes, {concurrency} at a time")
        meter = ctx.meter()
        meter.start()
        began = time.perf_counter()
        if sampler is not None:
            sampler.start()
        if profiler is not None:
            profiler.enable()
        try:
            outcomes = await asyncio.wait_for(asyncio.gather(*(one(a) for a in ctx.account_ids)), timeout=RUN_TIMEOUT_S)
        finally:
            if profiler is not None:
                profiler.disable()
            if sampler is not None:
                await sampler.stop()
        seconds = time.perf_counter() - began
        cpu = meter.stop()
    finally:
        await db.dispose()
    result = IngestResult(label, concurrency, len(ctx.planned), seconds, cpu, per_account_s=durations)
    for outcome in outcomes:
        result.stored += outcome.stored
        result.replies += outcome.replies
        result.auto_replies += outcome.auto_replies
        result.bounces += outcome.bounces
    log(
        f"ingest {label}: {result.stored:,} stored in {seconds:.2f} s = {result.rate:,.0f} msg/s "
        f"({result.replies} replies, {result.auto_replies} auto-replies, {result.bounces} bounces); {cpu_text(cpu)}"
    )
    problems = ctx.problems.take()
    if problems:
        raise RuntimeError(f"inbox sync logged {len(problems)} warning(s) during {label}; the first: {problems[0]}")
    await check_ingest(ctx, result)
    return result


async def append_run(ctx: Ctx, connections: int, folder: str) -> IngestResult:
    """The same messages APPENDed over IMAP: `connections` mailboxes at a time, one connection each
    (connect, LOGIN, one APPEND per message, LOGOUT)."""
    by_account: dict[int, list[bytes]] = {}
    for p in ctx.planned:
        by_account.setdefault(p.account, []).append(p.data)
    for a in by_account:
        ctx.dovecot.create_folder(account_email(a), folder)
    semaphore = asyncio.Semaphore(connections)
    durations: list[float] = []

    async def one(a: int, messages: list[bytes]) -> int:
        async with semaphore:
            began = time.perf_counter()
            client = await imap_client(account_email(a), ctx.dovecot.port)
            try:
                for data in messages:
                    response = await client.append(data, mailbox=folder)
                    if response.result != "OK":
                        raise RuntimeError(f"APPEND to {account_email(a)}/{folder}: {response.lines}")
            finally:
                await client.logout()
            durations.append(time.perf_counter() - began)
            return len(messages)

    await wait_quiet_async(ctx.args)
    log(f"APPEND: {len(ctx.planned):,} messages into {folder}, {connections} connection(s) at a time")
    meter = ctx.meter()
    meter.start()
    began = time.perf_counter()
    counts = await asyncio.wait_for(asyncio.gather(*(one(a, m) for a, m in by_account.items())), timeout=RUN_TIMEOUT_S)
    seconds = time.perf_counter() - began
    cpu = meter.stop()
    result = IngestResult(f"Dovecot APPEND, {connections} connections", connections, sum(counts), seconds, cpu)
    result.stored, result.per_account_s = sum(counts), durations
    log(f"APPEND {connections}: {result.messages:,} in {seconds:.2f} s = {result.rate:,.0f} msg/s; {cpu_text(cpu)}")
    return result


async def measured(ctx: Ctx, name: str, work: Callable[[int], Awaitable[T]], cpu_of: Callable[[T], CpuUse]) -> T:
    """`work(attempt)`; again (up to --retries times) while other processes disturbed it."""
    attempt = 1
    while True:
        result = await work(attempt)
        cpu = cpu_of(result)
        if not disturbed(cpu) or attempt > ctx.args.retries:
            if disturbed(cpu):
                log(f"WARNING: {name} still disturbed by other processes ({cpu.others:.2f} cores)")
            if hasattr(result, "attempts"):
                setattr(result, "attempts", attempt)  # noqa: B010 - the results share no base class
            return result
        log(f"WARNING: other processes used {cpu.others:.2f} cores during {name}; measuring again")
        attempt += 1


def write_profile(profiler: cProfile.Profile, out: Path, result: IngestResult) -> None:
    profiler.dump_stats(str(out))
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    buffer.write(
        f"Profiled ingest run (cProfile, not a measurement): {result.messages:,} messages in {result.seconds:.2f} s "
        f"= {result.rate:,.0f} msg/s, concurrency {result.concurrency}\n\n"
    )
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)
    Path(str(out) + ".txt").write_text(buffer.getvalue())
    log(f"profile written to {out} and {out}.txt")


# -- 2. latency -------------------------------------------------------------------------------------


@dataclass
class LatencyResult:
    method: str
    samples_s: list[float]
    misses: int
    cpu: CpuUse
    append_s: list[float] = field(default_factory=list)  # APPEND round trips (the MTA's hand-over)
    attempts: int = 1

    @property
    def median(self) -> float:
        return statistics.median(self.samples_s)

    @property
    def p95(self) -> float:
        return quantile(self.samples_s, 0.95)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "median": self.median, "p95": self.p95, "max": max(self.samples_s)}


async def latency_phase(ctx: Ctx) -> tuple[list[LatencyResult], dict[str, Any]]:
    from coldsend.inbox.sync import InboxSync

    args = ctx.args
    rng = random.Random(4242)
    reserved = [s for per in ctx.sent for s in per[:RESERVED_PER_ACCOUNT]]
    rng.shuffle(reserved)
    methods = ["append", "maildir"]
    needed = args.latency_samples * len(methods) * (args.retries + 1)
    if needed > len(reserved):
        raise RuntimeError(f"{needed} latency samples need more reserved leads than the {len(reserved)} seeded")
    db = new_db(ctx)
    sync = InboxSync(db, ctx.settings, poll_interval=IDLE_POLL_INTERVAL_S, step_timeout=60)
    runner = asyncio.create_task(sync.run(interval=5.0), name="inbox-sync-run")
    conn = await pg(ctx)
    info: dict[str, Any] = {}
    results: list[LatencyResult] = []
    try:
        began = time.perf_counter()
        while True:
            watchers = [w for w, _t in sync.watchers.values()]
            if len(watchers) == len(ctx.account_ids) and all(w.idling.is_set() for w in watchers):
                break
            if runner.done():
                runner.result()
            if time.perf_counter() - began > 300:
                idle = sum(w.idling.is_set() for w in watchers)
                raise RuntimeError(f"only {idle} of {len(ctx.account_ids)} watchers idle after 300 s")
            await asyncio.sleep(0.05)
        info["all_idle_after_s"] = time.perf_counter() - began
        log(f"latency: {len(watchers)} watchers in IDLE after {info['all_idle_after_s']:.1f} s")
        watcher_of = {account_id: w for account_id, (w, _t) in sync.watchers.items()}

        async def sample(method: str, sent: Sent) -> tuple[float | None, float | None]:
            account = account_email(sent.account)
            watcher = watcher_of[ctx.account_ids[sent.account]]
            await asyncio.wait_for(watcher.idling.wait(), 60)
            await asyncio.sleep(rng.uniform(0.3, 0.8))
            raw = reply_message(rng, sent, account, rng.randrange(2000, 6000), datetime.now(UTC))
            client = await imap_client(account, ctx.dovecot.port) if method == "append" else None
            append_s: float | None = None
            try:
                t0 = time.perf_counter()
                if client is not None:
                    response = await client.append(raw, mailbox="INBOX")
                    append_s = time.perf_counter() - t0
                    if response.result != "OK":
                        raise RuntimeError(f"APPEND to {account}: {response.lines}")
                else:
                    ctx.dovecot.deliver(account, "INBOX", raw, seen=False)
                while time.perf_counter() - t0 < LATENCY_TIMEOUT_S:
                    if await conn.fetchval(
                        "SELECT timestamp_last_reply IS NOT NULL FROM leads WHERE organization_id = $1 AND id = $2",
                        ctx.organization_id,
                        sent.lead_id,
                    ):
                        return time.perf_counter() - t0, append_s
                    await asyncio.sleep(LATENCY_POLL_S)
                log(f"WARNING: no reply recorded for {sent.lead} in {account} after {LATENCY_TIMEOUT_S:.0f} s")
                return None, append_s
            finally:
                if client is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(client.logout(), 5)

        for method in methods:

            async def one_method(attempt: int, method: str = method) -> LatencyResult:
                await wait_quiet_async(args)
                log(f"latency ({method}): {args.latency_samples} replies, one at a time")
                meter = ctx.meter()
                meter.start()
                times: list[float] = []
                appends: list[float] = []
                misses = 0
                for _ in range(args.latency_samples):
                    seconds, append_s = await sample(method, reserved.pop())
                    if seconds is None:
                        misses += 1
                    else:
                        times.append(seconds)
                    if append_s is not None:
                        appends.append(append_s)
                result = LatencyResult(method, times, misses, meter.stop(), appends)
                if not result.samples_s:
                    raise RuntimeError(f"no {method} reply was recorded within {LATENCY_TIMEOUT_S:.0f} s")
                log(
                    f"latency ({method}): median {result.median * 1000:.0f} ms, p95 {result.p95 * 1000:.0f} ms, "
                    f"max {max(result.samples_s) * 1000:.0f} ms, {result.misses} missed; {cpu_text(result.cpu)}"
                )
                return result

            results.append(await measured(ctx, f"latency ({method})", one_method, lambda r: r.cpu))
        info["watchers"] = len(sync.watchers)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await conn.close()
        await db.dispose()
    log_text = ctx.dovecot.log_path.read_text(errors="replace") if ctx.dovecot.log_path.exists() else ""
    info["dovecot_inotify_warnings"] = [line for line in log_text.splitlines() if "notify" in line.lower()][:5]
    flagged = [line for line in log_text.splitlines() if "Warning" in line or "Error" in line or "Fatal" in line]
    info["dovecot_warnings"] = len(flagged)
    info["dovecot_warning_lines"] = flagged[:5]
    problems = ctx.problems.take()
    info["coldsend_warnings"] = problems[:5]
    if problems:
        log(f"WARNING: coldsend logged {len(problems)} warning(s) during the latency part; the first: {problems[0]}")
    return results, info


# -- 3. the emails list -----------------------------------------------------------------------------


def uuid7_at(ms: int, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 carrying millisecond `ms` (what `new_id` makes at that moment)."""
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62)
    return uuid.UUID(int=value)


def email_records(ctx: Ctx, count: int) -> Iterator[tuple[Any, ...]]:
    """`count` emails of one workspace over the year before the run: 72% sent (ue_type 1), 24% received (2,
    40% of them unread), 4% manual replies (3); strictly increasing creation times."""
    rng = random.Random(9001)
    org = ctx.organization_id
    accounts = ctx.account_ids or [uuid.uuid4() for _ in range(100)]
    campaigns = [uuid.UUID(int=(ctx.campaign_id or uuid.uuid4()).int ^ k) for k in range(10)]
    span_ms = 365 * 24 * 3600 * 1000
    start_ms = int(EPOCH.timestamp() * 1000)
    html_template = "<html><body>" + SENT_TEXT.replace("\n", "<br>\n") + "</body></html>"
    leads = max(1, count // 10)
    for n in range(count):
        ms = start_ms + n * span_ms // count + 1
        created = datetime.fromtimestamp(ms / 1000, UTC)
        a = n % len(accounts)
        address = account_email(a)
        li = rng.randrange(leads)
        lead = lead_email(li)
        first, _last = lead_name(li)
        company = company_of(li)
        campaign = campaigns[li % len(campaigns)]
        lead_id = uuid.UUID(int=(org.int ^ (li + 1)))
        thread = uuid.UUID(int=(org.int ^ ((li + 1) << 64)))
        r = rng.random()
        if r < 0.72:
            ue_type, unread, auto = 1, 0, 0
            text = SENT_TEXT.format(first=first, company=company)
            html: str | None = html_template.format(first=first, company=company)
            sender, to, subject = address, lead, f"{first}, a question about {company}"
            step = str(1 + rng.randrange(3))
        elif r < 0.96:
            ue_type, unread, auto = 2, int(rng.random() < 0.4), int(rng.random() < 0.15)
            opening = rng.choice(REPLY_OPENINGS)
            original = SENT_TEXT.format(first=first, company=company)[:600]
            text = f"{opening}\n\nOn a previous day, Sam Sender <{address}> wrote:\n{quote(original)}"
            html = None if rng.random() < 0.5 else f'<div dir="ltr">{opening}</div><blockquote>{original}</blockquote>'
            sender, to, subject = lead, address, f"Re: {first}, a question about {company}"
            step = "1"
        else:
            ue_type, unread, auto = 3, 0, 0
            text = "Thanks for getting back to me. I have sent an invite for Tuesday at 2pm; talk then."
            html = f"<div>{text}</div>"
            sender, to, subject = address, lead, f"Re: {first}, a question about {company}"
            step = None
        yield (
            org,
            uuid7_at(ms, rng),
            created,
            created,
            f"<{rng.getrandbits(96):024x}@{sender.split('@')[1]}>",
            subject,
            sender,
            to,
            text,
            html,
            campaign if ue_type != 3 else None,
            lead,
            lead_id,
            address,
            accounts[a],
            ue_type,
            step,
            0 if ue_type == 1 else None,
            unread,
            auto,
            None if ue_type != 2 else rng.choice((None, 1, 2, 0, -1)),
            thread,
            _SPACES.sub(" ", text)[:200],
            json.dumps([{"address": sender, "name": ""}]),
            json.dumps([{"address": to, "name": ""}]),
            None,
            None,
        )


def seed_emails(ctx: Ctx) -> dict[str, Any]:
    async def work(conn: Any) -> dict[str, Any]:
        await conn.execute("DELETE FROM emails WHERE organization_id = $1", ctx.organization_id)
        began = time.perf_counter()
        async with conn.transaction():
            rows = await copy_records(conn, "emails", EMAIL_COLUMNS, email_records(ctx, ctx.args.emails))
        copy_s = time.perf_counter() - began
        began = time.perf_counter()
        await conn.execute("VACUUM ANALYZE emails")
        vacuum_s = time.perf_counter() - began
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('emails'))")
        counts = await conn.fetch(
            "SELECT ue_type, count(*) AS n, sum(is_unread) AS unread FROM emails WHERE organization_id = $1 "
            "GROUP BY ue_type ORDER BY ue_type",
            ctx.organization_id,
        )
        return {
            "rows": rows,
            "copy_s": copy_s,
            "vacuum_s": vacuum_s,
            "size": size,
            "by_type": {int(r["ue_type"]): (int(r["n"]), int(r["unread"])) for r in counts},
        }

    log(f"seeding {ctx.args.emails:,} emails by COPY")
    seeded = with_connection(ctx.dsn, work)
    log(f"seeded {seeded['rows']:,} emails in {seeded['copy_s']:.1f} s (VACUUM ANALYZE {seeded['vacuum_s']:.1f} s)")
    return seeded


@dataclass(frozen=True)
class Shape:
    label: str
    params: dict[str, str]
    where: str  # the same filter in SQL, to find the expected pages


SHAPES = (
    Shape("default (all emails)", {}, ""),
    Shape("`email_type=received`", {"email_type": "received"}, "AND ue_type = 2"),
    Shape("`is_unread=true`", {"is_unread": "true"}, "AND is_unread = 1"),
)


def expected_pages(ctx: Ctx, shape: Shape) -> tuple[int, list[str], str, list[str]]:
    """(matching emails, first page ids, the deep cursor id, deep page ids), in the endpoint's order."""

    async def work(conn: Any) -> tuple[int, list[str], str, list[str]]:
        org = ctx.organization_id
        total = int(await conn.fetchval(f"SELECT count(*) FROM emails WHERE organization_id = $1 {shape.where}", org))
        order = "ORDER BY timestamp_created DESC, id DESC"
        first = await conn.fetch(
            f"SELECT id FROM emails WHERE organization_id = $1 {shape.where} {order} LIMIT $2", org, PAGE_LIMIT
        )
        deep = await conn.fetch(
            f"SELECT id FROM emails WHERE organization_id = $1 {shape.where} {order} OFFSET $2 LIMIT $3",
            org,
            total - PAGE_LIMIT - 1,
            PAGE_LIMIT + 1,
        )
        return total, [str(r["id"]) for r in first], str(deep[0]["id"]), [str(r["id"]) for r in deep[1:]]

    return with_connection(ctx.dsn, work)


def server_sql(ctx: Ctx, shape: Shape, cursor: str | None) -> str:
    """The SELECT the server runs for this page (coldsend.emails), values inlined."""
    from typing import cast

    from sqlalchemy.dialects import postgresql

    from coldsend.emails.repository import Anchor, EmailRepository
    from coldsend.emails.service import EmailType, ListQuery, build_filter

    email_type: EmailType | None = "received" if shape.params.get("email_type") == "received" else None
    query = ListQuery(email_type=email_type, is_unread=True if shape.params.get("is_unread") == "true" else None)
    anchor = None
    if cursor is not None:

        async def created(conn: Any) -> datetime:
            value: datetime = await conn.fetchval(
                "SELECT timestamp_created FROM emails WHERE organization_id = $1 AND id = $2",
                ctx.organization_id,
                uuid.UUID(cursor),
            )
            return value

        anchor = Anchor(with_connection(ctx.dsn, created), uuid.UUID(cursor))
    repo = EmailRepository(cast(Any, None), ctx.organization_id)  # builds statements only
    statement = repo.list_statement(build_filter(query), anchor, PAGE_LIMIT, descending=True, preview_only=False)
    return str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def plan_of(ctx: Ctx, sql: str) -> str:
    async def work(conn: Any) -> str:
        plan = json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}"))[0]["Plan"]
        names = []
        node: dict[str, Any] | None = plan
        while node is not None:
            name = node["Node Type"] + (f" ({node['Index Name']})" if "Index Name" in node else "")
            names.append(name)
            children = node.get("Plans") or []
            node = children[0] if children else None
        return " > ".join(names)

    return with_connection(ctx.dsn, work)


@dataclass
class ListShapeResult:
    shape: str
    matching: int
    pages: PageTimes
    db_first_ms: float
    db_deep_ms: float
    plan_first: str
    plan_deep: str
    first_bytes: int
    deep_bytes: int

    def as_json(self) -> dict[str, Any]:
        return {
            **self.pages.as_json(),
            "shape": self.shape,
            "matching": self.matching,
            "db_first_ms": self.db_first_ms,
            "db_deep_ms": self.db_deep_ms,
            "plan_first": self.plan_first,
            "plan_deep": self.plan_deep,
            "first_bytes": self.first_bytes,
            "deep_bytes": self.deep_bytes,
        }


def list_phase(run: BenchRun, ctx: Ctx) -> tuple[dict[str, Any], list[ListShapeResult]]:
    wait_for_others(run.args)  # the seed keeps both cores busy for minutes
    seeded = seed_emails(ctx)
    run.args.server_env.append("COLDSEND_EMAILS_LIST_PER_MINUTE=0")
    run.start_servers()
    results: list[ListShapeResult] = []
    for shape in SHAPES:
        total, first_ids, cursor, deep_ids = expected_pages(ctx, shape)
        first = PageProbe({**shape.params, "limit": str(PAGE_LIMIT)}, first_ids)
        deep = PageProbe({**shape.params, "limit": str(PAGE_LIMIT), "starting_after": cursor}, deep_ids)
        sizes = [len(run.get(EMAILS_PATH, probe.params).content) for probe in (first, deep)]
        wait_quiet(run.args)
        pages = run.time_pages(EMAILS_PATH, first, deep)
        sql_first, sql_deep = server_sql(ctx, shape, None), server_sql(ctx, shape, cursor)
        db_first, db_deep = explain_medians(run.dsn, [(sql_first, []), (sql_deep, [])], 20)
        results.append(
            ListShapeResult(
                shape.label,
                total,
                pages,
                db_first,
                db_deep,
                plan_of(ctx, sql_first),
                plan_of(ctx, sql_deep),
                sizes[0],
                sizes[1],
            )
        )
        if run.args.py_spy and pages.ratio > TARGET_PAGE_RATIO:
            from urllib.parse import urlencode

            script = run.work / f"deep_{len(results)}.lua"
            prefix = f"{EMAILS_PATH}?{urlencode({**shape.params, 'limit': str(PAGE_LIMIT)})}&starting_after="
            write_rotation_script(script, [cursor], prefix)
            run.profile(prefix, script)
    return seeded, results


# -- report -----------------------------------------------------------------------------------------


def report(
    ctx: Ctx,
    seeded: dict[str, Any],
    mix: dict[str, Any],
    ingests: Sequence[IngestResult],
    appends: Sequence[IngestResult],
    latency: Sequence[LatencyResult],
    latency_info: dict[str, Any],
    listed: dict[str, Any] | None,
    lists: Sequence[ListShapeResult],
) -> str:
    args = ctx.args
    lines: list[str] = []
    flagged = [r.label for r in [*ingests, *appends] if disturbed(r.cpu)]
    flagged += [f"latency ({r.method})" for r in latency if disturbed(r.cpu)]
    flagged += [r.shape for r in lists if disturbed(r.pages.cpu)]
    if flagged:
        lines += [f"WARNING: other processes disturbed: {', '.join(flagged)}; do not report this run.", ""]
    messages = len(ctx.planned)
    lines += ["| Figure | Measured | Target | Verdict |", "|---|---|---|---|"]
    by_conc: dict[int, list[IngestResult]] = {}
    for r in ingests:
        by_conc.setdefault(r.concurrency, []).append(r)
    best_append = max(appends, key=lambda r: r.rate) if appends else None
    for conc, runs in by_conc.items():
        rate = statistics.median(r.rate for r in runs)
        spread = f" ({min(r.rate for r in runs):,.0f}-{max(r.rate for r in runs):,.0f} over {len(runs)} runs)"
        share = f"; {rate / best_append.rate:.0%} of Dovecot's APPEND rate" if best_append else ""
        lines.append(
            f"| Ingest of {messages:,} messages across {args.accounts} mailboxes, {args.campaigns} campaign(s) "
            f"(`sync_once`, {conc} at a time) "
            f"| **{rate:,.0f} msg/s**{spread if len(runs) > 1 else ''}{share} | (none set) | reported |"
        )
    for r in appends:
        lines.append(
            f"| Dovecot APPEND of the same {r.messages:,} messages, {r.concurrency} connection(s) "
            f"| {r.rate:,.0f} msg/s | (reference) | reported |"
        )
    for lat in latency:
        how = "IMAP APPEND (as an MTA hands over)" if lat.method == "append" else "Maildir write (as an MDA delivers)"
        lines.append(
            f"| Reply latency with IDLE, {latency_info.get('watchers', args.accounts)} watched mailboxes, delivered by "
            f"{how}: until the lead has `timestamp_last_reply` | **{lat.median:.2f} s median**, {lat.p95:.2f} s p95, "
            f"{max(lat.samples_s):.2f} s max ({len(lat.samples_s)} replies, {lat.misses} missed) "
            f"| ≤ {TARGET_LATENCY_S:.0f} s "
            f"| {verdict(lat.misses == 0 and max(lat.samples_s) <= TARGET_LATENCY_S)} |"
        )
    for lst in lists:
        lines.append(
            f"| `GET /api/v2/emails` {lst.shape}, page after position {lst.matching - PAGE_LIMIT:,} of "
            f"{lst.matching:,} vs first page | **{lst.pages.ratio:.2f}x** ({lst.pages.deep_median:.1f} vs "
            f"{lst.pages.first_median:.1f} ms) "
            f"| ≤ {TARGET_PAGE_RATIO}x | {verdict(lst.pages.ratio <= TARGET_PAGE_RATIO)} |"
        )
    kinds = mix["kinds"]
    lines += [
        "",
        f"Seeded {seeded['accounts']} accounts (IMAP on one Dovecot {dovecot_version()}), "
        f"{seeded['campaigns']} active campaign(s) (account a's leads in campaign a mod {seeded['campaigns']}), "
        f"{seeded['leads']:,} leads and {seeded['sent_emails']:,} sent emails (ue_type 1). Received mix: "
        f"{messages:,} messages, {kinds.get('reply', 0):,} replies, {kinds.get('auto_reply', 0):,} auto-replies, "
        f"{kinds.get('bounce_hard', 0):,} hard + {kinds.get('bounce_soft', 0):,} soft DSNs, "
        f"{kinds.get('newsletter', 0):,} newsletters and {kinds.get('stranger', 0):,} new conversations; "
        f"{mix['junk']:,} in Junk; {mix['size_min']:,}-{mix['size_max']:,} bytes (median {mix['size_median']:,.0f}), "
        f"{mix['bytes'] / 1e6:.1f} MB in all. Maildir writes: {mix.get('deliver_s', 0):.1f} s; index build "
        f"(EXAMINE): {mix.get('index_s', 0):.1f} s.",
        "",
        "CPU in cores over each run: this process (the sync, or the APPEND client), PostgreSQL (postmaster and "
        "backends), Dovecot (master and every child), everything else.",
        "",
        "| Run | messages | seconds | msg/s | stored / replies / auto / bounces | mailbox sync median / max "
        "| this process | PostgreSQL | Dovecot | others |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in [*ingests, *appends]:
        synced = any(r is x for x in ingests)
        counts = f"{r.stored:,} / {r.replies:,} / {r.auto_replies:,} / {r.bounces:,}" if synced else "(APPEND)"
        per = f"{statistics.median(r.per_account_s):.2f} / {max(r.per_account_s):.2f} s" if r.per_account_s else "n/a"
        lines.append(
            f"| {r.label} | {r.messages:,} | {r.seconds:.2f} | {r.rate:,.0f} | {counts} | {per} | {cpu_cells(r.cpu)} |"
        )
    if latency:
        lines += [
            "",
            f"Reply latency: `InboxSync(poll_interval={IDLE_POLL_INTERVAL_S:.0f}).run(interval=5)`; all watchers idle "
            f"{latency_info.get('all_idle_after_s', 0):.1f} s after the start. Each reply goes to a random reserved "
            "lead of a random mailbox, after that mailbox's watcher is back in IDLE and a 0.3-0.8 s pause; the clock "
            "starts just before the APPEND (on an already logged-in connection) or the Maildir write, and stops when "
            f"a query polling every {LATENCY_POLL_S * 1000:.0f} ms sees `timestamp_last_reply`.",
            "",
            "| Delivery | replies | median | p90 | p95 | max | min | APPEND round trip (median) | this process "
            "| PostgreSQL | Dovecot | others |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for lat in latency:
            append = f"{statistics.median(lat.append_s) * 1000:.1f} ms" if lat.append_s else "n/a"
            lines.append(
                f"| {lat.method} | {len(lat.samples_s)} | {lat.median * 1000:.0f} ms "
                f"| {quantile(lat.samples_s, 0.9) * 1000:.0f} ms "
                f"| {lat.p95 * 1000:.0f} ms | {max(lat.samples_s) * 1000:.0f} ms | {min(lat.samples_s) * 1000:.0f} ms "
                f"| {append} | {cpu_cells(lat.cpu)} |"
            )
        warnings = latency_info.get("dovecot_inotify_warnings") or []
        lines += [
            "",
            f"Dovecot log: {latency_info.get('dovecot_warnings', 0)} warning/error line(s)"
            + (f"; inotify: {warnings[0]}" if warnings else "; no inotify warning (IDLE is pushed, not polled)."),
        ]
        for line in latency_info.get("dovecot_warning_lines") or []:
            lines.append(f"    {line}")
    if listed is not None:
        by_type = listed["by_type"]
        lines += [
            "",
            f"Emails list: {listed['rows']:,} emails in one workspace by COPY in {listed['copy_s']:.0f} s (VACUUM "
            f"ANALYZE {listed['vacuum_s']:.0f} s; table with TOAST and indexes {listed['size']}); by ue_type (count, "
            "unread): " + ", ".join(f"{t}: {n:,} ({u:,})" for t, (n, u) in sorted(by_type.items())) + ". "
            f"`limit={PAGE_LIMIT}`, newest first, full bodies; {args.page_samples} samples of each page (first and "
            "deep interleaved, after 5 warm-up pairs); PostgreSQL execution is EXPLAIN ANALYZE of the server's own "
            "statement (median of 20).",
            "",
            *PAGE_TABLE_HEAD,
        ]
        for lst in lists:
            lines += page_rows(
                f"{lst.shape}, first page ({lst.first_bytes / 1024:.0f} KB)",
                f"{lst.shape}, after position {lst.matching - PAGE_LIMIT:,} of {lst.matching:,} "
                f"({lst.deep_bytes / 1024:.0f} KB)",
                lst.pages,
                lst.db_first_ms,
                lst.db_deep_ms,
            )
        lines += ["", "| Shape | plan, first page | plan, deep page | CPU while timing |", "|---|---|---|---|"]
        for lst in lists:
            cpu = lst.pages.cpu
            cells = (
                f"server {cpu.server:.2f}, PostgreSQL {cpu.postgres or 0:.2f}, client {cpu.wrk:.2f}, others "
                f"{cpu.others:.2f}"
                if cpu
                else "n/a"
            )
            lines.append(f"| {lst.shape} | {lst.plan_first} | {lst.plan_deep} | {cells} |")
    return "\n".join(lines)


def dovecot_version() -> str:
    with contextlib.suppress(Exception):
        done = subprocess.run(["/usr/sbin/dovecot", "--version"], capture_output=True, text=True, timeout=10)
        return done.stdout.split()[0]
    return "?"


# -- main -----------------------------------------------------------------------------------------


def parse_list(parser: argparse.ArgumentParser, value: str, name: str, low: int, high: int) -> list[int]:
    try:
        values = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        parser.error(f"{name} wants integers, e.g. 20,100")
    if not values or not all(low <= v <= high for v in values):
        parser.error(f"{name} must be in {low}..{high}")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark inbox sync (ingest rate against Dovecot's APPEND rate, reply latency with IDLE) "
        "and GET /api/v2/emails at depth over 1,000,000 emails.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes (overrides the sizes below)")
    parser.add_argument("--accounts", type=int, default=100, help="mailboxes (Dovecot users and accounts)")
    parser.add_argument("--messages-per-box", type=int, default=100, help="received messages per mailbox")
    parser.add_argument("--sent-per-account", type=int, default=30, help="sent campaign emails (leads) per account")
    parser.add_argument(
        "--campaigns", type=int, default=1, help="campaigns the accounts' leads are spread over (account a: a %% N)"
    )
    parser.add_argument("--concurrency", default="20,100", help="mailboxes synced at once (comma-separated values)")
    parser.add_argument("--ingest-runs", type=int, default=3, help="measured ingest runs per concurrency value")
    parser.add_argument("--append-connections", default="4,20", help="APPEND connections at once (comma-separated)")
    parser.add_argument("--latency-samples", type=int, default=30, help="replies timed per delivery method")
    parser.add_argument("--emails", type=int, default=1_000_000, help="emails seeded for the list part")
    parser.add_argument("--page-samples", type=int, default=50, help="timed requests per page (first and deep)")
    parser.add_argument("--skip-ingest", action="store_true", help="no ingest or APPEND runs")
    parser.add_argument("--skip-latency", action="store_true", help="no latency part")
    parser.add_argument("--skip-list", action="store_true", help="no emails-list part")
    parser.add_argument("--profile", default=None, metavar="OUT", help="extra ingest run under cProfile -> OUT")
    parser.add_argument("--py-spy", default=None, metavar="OUT", help="py-spy the server on a deep page over 1.5x")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the py-spy recording")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (py-spy load only)")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections (py-spy load only)")
    parser.add_argument(
        "--wait-others", type=float, default=1800.0, help="wait up to this long for other bench/ benchmarks to end"
    )
    add_server_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.accounts, args.messages_per_box, args.ingest_runs = 10, 40, 1
        args.concurrency, args.append_connections = "5", "4"
        args.latency_samples, args.emails, args.page_samples = 5, 20_000, 10
    args.concurrency = parse_list(parser, str(args.concurrency), "--concurrency", 1, 1000)
    args.append_connections = parse_list(parser, str(args.append_connections), "--append-connections", 1, 1000)
    if not 1 <= args.accounts <= 1000 or not 20 <= args.messages_per_box <= 10_000:
        parser.error("--accounts must be in 1..1000 and --messages-per-box in 20..10000")
    if not 1 <= args.campaigns <= args.accounts:
        parser.error("--campaigns must be in 1..--accounts")
    if not RESERVED_PER_ACCOUNT + BOUNCE_LEADS_PER_ACCOUNT + 1 <= args.sent_per_account <= 1000:
        parser.error(f"--sent-per-account must be in {RESERVED_PER_ACCOUNT + BOUNCE_LEADS_PER_ACCOUNT + 1}..1000")
    if not 1 <= args.ingest_runs <= 20 or not 1 <= args.latency_samples <= 1000:
        parser.error("--ingest-runs must be in 1..20 and --latency-samples in 1..1000")
    if not 1_000 <= args.emails <= 10_000_000 or not 1 <= args.page_samples <= 10_000:
        parser.error("--emails must be in 1000..10000000 and --page-samples in 1..10000")
    if not 0 <= args.wait_idle <= 3600 or not 0 < args.idle_threshold <= 1 or not 1 <= args.quiet_for <= 600:
        parser.error("--wait-idle must be in 0..3600, --idle-threshold in (0, 1], --quiet-for in 1..600")
    return args


def benchmark(run: BenchRun) -> str:
    from tests.support.imap_server import MISSING, DovecotServer, dovecot_available

    from coldsend.config import Settings
    from coldsend.kit.crypto import secret_box
    from coldsend.kit.db import database_url

    if not dovecot_available():
        sys.exit(MISSING)
    args = run.args
    url = args.database_url or (run.embedded.url if run.embedded is not None else "")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        home=run.work / "home",
        database_url=url,
        log_level="WARNING",
    )
    url = database_url(settings)
    secret_box(settings)  # the workspace's secret key exists (and its "generated" warning is out of the way)
    problems = Problems()
    coldsend_logger = logging.getLogger("coldsend")
    coldsend_logger.addHandler(problems)
    coldsend_logger.setLevel(logging.WARNING)
    users = {account_email(i): PASSWORD for i in range(args.accounts)}
    dovecot = DovecotServer(users=users, special_use={"Junk": "\\Junk"}).start()
    log(f"Dovecot on port {dovecot.port} with {len(users)} users ({dovecot.directory})")
    ctx = Ctx(args, run.dsn, url, settings, run.organization_id, dovecot, run.postmaster_pid, problems)
    try:

        async def inbox() -> tuple[Any, ...]:
            seeded = await seed_inbox(ctx)
            now = datetime.now(UTC)
            rng = random.Random(1234)
            ctx.planned = [
                p for a in range(args.accounts) for p in plan_mailbox(a, ctx.sent[a], args.messages_per_box, rng, now)
            ]
            mix = check_mix(ctx.planned)
            mix["deliver_s"] = await asyncio.to_thread(deliver_all, ctx)
            mix["index_s"] = await build_indexes(ctx)
            log(
                f"seeded {seeded['accounts']} accounts, {seeded['sent_emails']:,} sent emails; delivered "
                f"{len(ctx.planned):,} messages ({mix['bytes'] / 1e6:.1f} MB) in {mix['deliver_s']:.1f} s; "
                f"index built in {mix['index_s']:.1f} s"
            )
            ingests: list[IngestResult] = []
            appends: list[IngestResult] = []
            diagnostics: dict[str, Any] = {}
            if not args.skip_ingest:
                for conc in args.concurrency:
                    for k in range(args.ingest_runs):
                        label = f"sync_once x {args.accounts}, {conc} at a time, run {k + 1}"

                        async def one(attempt: int, conc: int = conc, label: str = label) -> IngestResult:
                            if ingests or attempt > 1:
                                await reset_ingest(ctx)
                            return await ingest_run(ctx, conc, label)

                        ingests.append(await measured(ctx, label, one, lambda r: r.cpu))
                for n, conn_count in enumerate(args.append_connections):

                    async def append(attempt: int, n: int = n, conn_count: int = conn_count) -> IngestResult:
                        return await append_run(ctx, conn_count, f"Appended{n}x{attempt}")

                    appends.append(await measured(ctx, f"APPEND {conn_count}", append, lambda r: r.cpu))
                if args.profile:
                    await reset_ingest(ctx)
                    sampler = WaitSampler(ctx)
                    sampled = await ingest_run(ctx, args.concurrency[0], "diagnostic (pg_stat_activity)", None, sampler)
                    diagnostics["waits"] = {**sampler.as_json(), "rate": sampled.rate}
                    log(f"database sessions of the sync (average per sample): {sampler.as_json()}")
                    await reset_ingest(ctx)
                    profiler = cProfile.Profile()
                    result = await ingest_run(ctx, args.concurrency[0], "profiled (cProfile)", profiler)
                    write_profile(profiler, Path(args.profile), result)
                    diagnostics["profiled_rate"] = result.rate
            latency: list[LatencyResult] = []
            latency_info: dict[str, Any] = {}
            if not args.skip_latency:
                if not ingests:  # the latency part watches mailboxes already read up to their last message
                    await ingest_run(ctx, args.concurrency[0], "initial sync (not measured)")
                latency, latency_info = await latency_phase(ctx)
            return seeded, mix, ingests, appends, latency, latency_info, diagnostics

        seeded, mix, ingests, appends, latency, latency_info, diagnostics = asyncio.run(inbox())
    finally:
        dovecot.stop()
    listed: dict[str, Any] | None = None
    lists: list[ListShapeResult] = []
    if not args.skip_list:
        listed, lists = list_phase(run, ctx)
    run.write_json(
        {
            "seeded": seeded,
            "mix": mix,
            "ingest": [r.as_json() for r in ingests],
            "append": [r.as_json() for r in appends],
            "latency": [r.as_json() for r in latency],
            "latency_info": latency_info,
            "ingest_diagnostics": diagnostics,
            "list_seed": listed,
            "list": [r.as_json() for r in lists],
        }
    )
    text = report(ctx, seeded, mix, ingests, appends, latency, latency_info, listed, lists)
    waits = diagnostics.get("waits")
    if waits:
        text += (
            f"\n\nDiagnostic ingest run (unmeasured, {waits['rate']:,.0f} msg/s): database sessions of the sync by "
            "state, average count per 20 ms sample of pg_stat_activity: "
            + ", ".join(f"{k} {v}" for k, v in waits["sessions_by_state"].items())
            + "; lock waits: "
            + ("; ".join(f"{k} ({v})" for k, v in waits["lock_waits"].items()) or "none")
        )
    return text


def wait_for_others(args: argparse.Namespace) -> None:
    """Before anything (even the database), until no other bench/ benchmark runs: seeding would disturb it."""
    deadline = time.monotonic() + args.wait_others
    running = other_benchmarks()
    if running:
        log(f"waiting (up to {args.wait_others:.0f} s) for other benchmarks to finish: {running}")
    while running and time.monotonic() < deadline:
        time.sleep(10)
        running = other_benchmarks()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wait_for_others(args)
    return run_benchmark(args, benchmark)


if __name__ == "__main__":
    sys.exit(main())

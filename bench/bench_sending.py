"""Benchmark of the sending engine (issue 5): messages/s of one worker process, and the scheduler pass time.

Targets (issue text):
- one worker process sends >= 1,000 messages/s to loopback SMTP servers across 100 accounts, with
  rendering (`{{firstName}}`, `{{companyName}}`, a `{{RANDOM|Hi|Hello|Hey}}` spintax, a ~2 KB HTML body
  with 5 links) and tracking on (open and link tracking, List-Unsubscribe header);
- the scheduler's "find due sends" (`SendingEngine.find_ready`: active campaigns, schedule check, one
  due-lead probe per open campaign, ready sending accounts) over 1,000 active campaigns holding
  1,000,000 leads takes <= 100 ms.

What it does, talking to 127.0.0.1 only (database machinery: bench/harness.py):

1. Opens a database (a fresh embedded PostgreSQL in a temporary COLDSEND_HOME, or --database-url) and
   creates a workspace with the `coldsend` CLI; starts bench/smtp_sink.py in a process of its own (so the
   sinks' CPU is not the engine's), listening on --accounts loopback ports, and waits for its ready file.
2. Seeds --accounts accounts (`sender042@outreach2.coldsend.test`, one sink port each, username = email,
   the password encrypted with the workspace's secret key as the API does; sending_gap 0, daily_limit
   NULL), a warm-up campaign and --send-campaigns campaign(s) (every account in their `email_list`,
   open all day every day, email_gap 0, no daily limits, open_tracking, link_tracking,
   insert_unsubscribe_header and stop_on_reply on; 3 steps of 2 variants, the first step's HTML body
   ~2 KB rendered (~2.6 KB tracked) with 5 links, spintax and variables), and --messages +
   --warmup-messages leads by COPY, all due (next_send_at in the past), then ANALYZE.
3. Throughput, for each --batch-sizes value: the outbox, emails and daily counters of the workspace are
   deleted and the leads made due again (VACUUM ANALYZE after), so every run starts alike. A fresh
   `SendingEngine(batch_size=B)` (its own connection pool, default settings: pool 20, concurrency 200,
   real clock, no TLS context given: as `coldsend worker` builds it; on the worker's event loop, uvloop
   when installed, --loop) first drains the warm-up campaign; then `gc.collect(); gc.freeze()` as the
   worker does after start-up (--no-gc-freeze), and on a quiet machine, `await engine.run_pass(wait=True)`
   runs in a loop until --messages messages are sent. Measured: wall time from the first pass to the last,
   CPU of this process (the engine), of PostgreSQL, of the sink process and of everything else; the sink's
   own count must equal the engine's, and every outbox row must be `done` with its Email record. A run
   disturbed by other processes (more than 0.25 cores) is measured again (--retries). Also a steady-state
   rate (between 10% and 90% of the messages, from the sink's count sampled every 0.2 s).
4. Beside it, the bare aiosmtplib loop: --messages pre-built messages (built once per account with
   `coldsend.sending.mime.build_message`, same size as the engine's) sent with `aiosmtplib.SMTP.sendmail`
   over --accounts concurrent authenticated connections (one per sink port, connected before the clock
   starts), on the same event loop type as the engine.
5. Scheduler pass: --campaigns more active campaigns of --leads-per-campaign leads each (COPY): every
   campaign has 3 of the accounts in `email_list` (each account serves ~30 campaigns); --closed-share of
   them are outside their schedule window now; in --due-share of the open ones 5% of the leads are due,
   the rest of the leads (and all leads of the other campaigns) are due within the next 3 days, and 10%
   of all leads have finished (status 3, next_send_at NULL). 10 accounts are resting (send_available_at
   in the future) and 5 leased by another worker. The throughput campaigns are paused. VACUUM ANALYZE.
   Then `engine.find_ready(now)` of a fresh engine, 3 warm-up calls and --scheduler-reps timed ones
   (real clock): median, p95, min, max; the same steps timed one by one; and
   `EXPLAIN (ANALYZE, BUFFERS)` of the due-leads probe and of the ready-senders query.
6. Prints markdown tables and the verdicts; stops the sink and removes the temporary data, also on error
   or Ctrl-C. With --profile OUT, one more (unmeasured) throughput run under cProfile writes OUT (pstats)
   and OUT.txt (top functions by own time and by cumulative time).

    .venv/bin/python bench/bench_sending.py                 # full sizes (about 6 minutes on a quiet machine)
    .venv/bin/python bench/bench_sending.py --quick         # smoke run (about 1 minute)
    .venv/bin/python bench/bench_sending.py --profile /tmp/sending.pstats
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import logging
import pstats
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from harness import (
    CpuUse,
    PeerMeter,
    add_common_arguments,
    check_common_arguments,
    disturbed,
    log,
    quantile,
    run_benchmark,
    verdict,
    wait_for_quiet,
)

T = TypeVar("T")

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
TARGET_RATE = 1_000.0  # messages/s
TARGET_PASS_MS = 100.0
OTHER_BENCHMARKS = "bench_custom_tags.py|bench_accounts_campaigns.py|bench_leads.py|bench_inbox.py"
COPY_CHUNK = 20_000
DOMAINS = 5000
SINK_READY_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 1800.0  # one throughput run (or drain) gives up after this long
SAMPLE_EVERY_S = 0.2
COUNTERS = "campaign_daily_stats, account_daily_stats, campaign_step_rotation"
WARMUP_CALLS = 3
STEPS = ("active campaigns", "schedule check", "due probe", "ready senders")

ALL_DAYS = {str(d): True for d in range(7)}
# open all day (as tests/sending/world.py ALWAYS): closed only in the last minute of a UTC day
ALWAYS = {
    "schedules": [{"name": "always", "timing": {"from": "00:00", "to": "23:59"}, "days": ALL_DAYS, "timezone": "UTC"}]
}

FIRST_NAMES = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth")
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Wilson")
JOB_TITLES = ("Head of Sales", "VP Marketing", "Founder", "CTO", "Operations Manager", "Account Executive")

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
    "job_title",
    "upload_method",
    "status_summary",
    "timestamp_created",
    "timestamp_updated",
    "next_step",
    "next_send_at",
)

# The first step's body: ~2 KB of HTML once rendered, 5 links, variables and a spintax (the variants differ
# slightly); ~2.6 KB once the links are tracked and the open pixel added.
BODY = """<html><body>
<p>{{RANDOM|Hi|Hello|Hey}} {{firstName}},</p>
<p>I was looking at how {{companyName}} handles outbound this quarter and had a thought %(variant)s.
Most teams we talk to spend the first hour of every day cleaning lists, checking which mailboxes are
warm enough to send from, and copying replies back into their CRM by hand. We built a small tool that
does all three while you sleep, and teams like yours usually get that hour back within a week.</p>
<p>A quick bit of context on us: we are a small team that spent years running outbound for other
companies, so we know how much of the work is plumbing rather than selling. Everything we ship is meant
to take plumbing off your plate, and nothing in it needs a new process or a long onboarding call, which
is why most teams have their first campaign out on the day they sign up.</p>
<p>Three things it does that {{companyName}} might care about:</p>
<ul>
<li>it rotates sending across every mailbox you own and keeps each one under its daily limit;</li>
<li>it stops a sequence the moment a lead (or anyone at the same company) replies;</li>
<li>it shows opens, clicks and replies per step and per variant, so you can see what works.</li>
</ul>
<p>There is a two-minute overview <a href="https://www.example.com/overview?utm_source=email">here</a>,
a customer story from a team of your size <a href="https://www.example.com/customers/acme">here</a>,
and our pricing is public <a href="https://www.example.com/pricing">on this page</a>.</p>
<p>If it looks useful, you can <a href="https://calendar.example.com/meet/sam">pick a time</a> that
suits you for a short call, or simply reply to this email with a question and I will answer it.</p>
<p>Either way, thanks for reading this far, {{firstName}}. I hope the rest of the week treats the
{{companyName}} team well.</p>
<p>Best regards,<br>{{sendingAccountFirstName}}<br>
<a href="https://www.example.com/">www.example.com</a></p>
</body></html>"""

FOLLOW_UP = """<html><body><p>{{RANDOM|Hi|Hello}} {{firstName}}, just bringing this back to the top of your
inbox in case it got buried. Would a short call next week make sense for {{companyName}}?</p>
<p>{{sendingAccountFirstName}} &middot; <a href="https://www.example.com/">www.example.com</a></p>
</body></html>"""


def sequence() -> list[dict[str, Any]]:
    """One sequence of 3 steps x 2 variants; the follow-ups have empty subjects (replies in the thread)."""

    def variants(subjects: Sequence[str], body: str) -> list[dict[str, str]]:
        return [
            {"subject": s, "body": body % {"variant": name} if "%(variant)s" in body else body}
            for s, name in zip(subjects, ("about your pipeline", "about your sending"), strict=True)
        ]

    first = variants(
        ("{{RANDOM|Hi|Hello|Hey}} {{firstName}}, a question about {{companyName}}", "{{companyName}} + outbound"),
        BODY,
    )
    return [
        {
            "steps": [
                {"type": "email", "delay": 2, "delay_unit": "days", "variants": first},
                {"type": "email", "delay": 3, "delay_unit": "days", "variants": variants(("", ""), FOLLOW_UP)},
                {"type": "email", "delay": 4, "delay_unit": "days", "variants": variants(("", ""), FOLLOW_UP)},
            ]
        }
    ]


def closed_schedule(now: datetime) -> dict[str, Any]:
    """A schedule whose only window (1 hour, UTC) is at least 6 hours away from `now`."""
    start = 18 if now.hour < 12 else 2
    return {
        "schedules": [
            {
                "name": "later",
                "timing": {"from": f"{start:02d}:00", "to": f"{start + 1:02d}:00"},
                "days": ALL_DAYS,
                "timezone": "UTC",
            }
        ]
    }


def account_email(i: int) -> str:
    return f"sender{i:03d}@outreach{i % 10}.coldsend.test"


def lead_record(
    organization_id: uuid.UUID,
    campaign_id: uuid.UUID,
    i: int,
    created: datetime,
    status: int,
    next_step: int,
    next_send_at: datetime | None,
) -> tuple[Any, ...]:
    from coldsend.kit.ids import new_id

    company = i % DOMAINS
    return (
        organization_id,
        new_id(),
        campaign_id,
        f"lead{i}@company{company}.com",
        status,
        FIRST_NAMES[i % len(FIRST_NAMES)],
        LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)],
        f"Company {company}",
        f"company{company}.com",
        JOB_TITLES[i % len(JOB_TITLES)],
        "api",
        "{}",
        created,
        created,
        next_step,
        next_send_at,
    )


# -- processes, CPU, other benchmarks ---------------------------------------------------------------


@dataclass
class Sink:
    pid: int
    ports: list[int]
    control: int

    async def stats(self, command: str = "STATS") -> dict[str, Any]:
        reader, writer = await asyncio.open_connection(HOST, self.control)
        try:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            return dict(json.loads(await asyncio.wait_for(reader.readline(), 10.0)))
        finally:
            writer.close()


def start_sink(run: Any, ports: int) -> Sink:
    ready = run.work / "sink.json"
    proc = run.procs.start(
        "smtp-sink",
        [sys.executable, str(BENCH_DIR / "smtp_sink.py"), "--ports", str(ports), "--ready-file", str(ready)],
        run.env,
        run.work,
        run.work / "sink.log",
    )
    deadline = time.monotonic() + SINK_READY_TIMEOUT_S
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"the SMTP sink exited with {proc.returncode}:\n{(run.work / 'sink.log').read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError("the SMTP sink did not start in time")
        time.sleep(0.05)
    info = json.loads(ready.read_text())
    return Sink(pid=proc.pid, ports=[int(p) for p in info["ports"]], control=int(info["control"]))


def cpu_text(cpu: CpuUse) -> str:
    postgres = "n/a" if cpu.postgres is None else f"{cpu.postgres:.2f}"
    return (
        f"engine {cpu.server:.2f}, PostgreSQL {postgres}, sink {cpu.wrk:.2f}, others {cpu.others:.2f}, "
        f"machine {cpu.machine:.2f}/{cpu.cores}"
    )


def other_benchmarks() -> list[str]:
    done = subprocess.run(["pgrep", "-af", OTHER_BENCHMARKS], capture_output=True, text=True, timeout=30, check=False)
    return [line for line in done.stdout.splitlines() if line.strip()]


def wait_quiet(args: argparse.Namespace) -> None:
    """No other bench/ benchmark running (up to --wait-others s), then a quiet machine (harness).
    Blocks the event loop on purpose: nothing else runs meanwhile, and a signal interrupts the sleep."""
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


class GcWatch:
    """Garbage-collector pauses of this process while installed (`with GcWatch() as gc_watch:`)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses.append((int(info["generation"]), time.perf_counter() - self._began))

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    def summary(self) -> dict[str, float]:
        full = [s for g, s in self.pauses if g == 2]
        return {
            "collections": len(self.pauses),
            "seconds": sum(s for _, s in self.pauses),
            "gen2": len(full),
            "gen2_seconds": sum(full),
            "gen2_max_ms": max(full, default=0.0) * 1000,
        }


def gc_text(summary: dict[str, float]) -> str:
    return (
        f"{summary['gen2']:.0f} full (gen 2) collections, {summary['gen2_seconds'] * 1000:,.0f} ms in all, longest "
        f"{summary['gen2_max_ms']:.0f} ms; all collections {summary['seconds'] * 1000:,.0f} ms"
    )


class Problems(logging.Handler):
    """Collects the engine's warnings and errors (a failed turn is logged, not raised)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def check(self, what: str) -> None:
        if self.records:
            first = "\n".join(logging.Formatter().format(r) for r in self.records[:3])
            count = len(self.records)
            self.records.clear()
            raise RuntimeError(f"the engine logged {count} warning(s)/error(s) during {what}; the first:\n{first}")


# -- the benchmark's world ------------------------------------------------------------------------


@dataclass
class Accounts:
    ids: list[uuid.UUID]
    emails: list[str]
    passwords: list[str]


@dataclass
class Ctx:
    args: argparse.Namespace
    dsn: str
    url: str  # SQLAlchemy URL
    settings: Any
    organization_id: uuid.UUID
    sink: Sink
    postmaster_pid: int | None
    problems: Problems
    accounts: Accounts | None = None
    warm_campaign: uuid.UUID | None = None
    send_campaigns: list[uuid.UUID] = field(default_factory=list)


async def pg(ctx: Ctx) -> Any:
    import asyncpg

    return await asyncpg.connect(ctx.dsn, timeout=60)


def new_db(ctx: Ctx) -> Any:
    from coldsend.kit.db import create_engine

    return create_engine(ctx.url, ctx.settings, application_name="coldsend-bench-sending")


async def copy_leads(ctx: Ctx, records: Iterator[tuple[Any, ...]]) -> tuple[int, float]:
    """COPY leads from `records` in chunks, one transaction; (rows, seconds)."""
    conn = await pg(ctx)
    began = time.perf_counter()
    rows = 0
    try:
        async with conn.transaction():
            chunk: list[tuple[Any, ...]] = []
            for record in records:
                chunk.append(record)
                if len(chunk) >= COPY_CHUNK:
                    await conn.copy_records_to_table("leads", records=chunk, columns=list(LEAD_COLUMNS))
                    rows += len(chunk)
                    chunk = []
            if chunk:
                await conn.copy_records_to_table("leads", records=chunk, columns=list(LEAD_COLUMNS))
                rows += len(chunk)
    finally:
        await conn.close()
    return rows, time.perf_counter() - began


async def vacuum(ctx: Ctx, tables: str) -> float:
    conn = await pg(ctx)
    try:
        began = time.perf_counter()
        await conn.execute(f"VACUUM (ANALYZE) {tables}")
        return time.perf_counter() - began
    finally:
        await conn.close()


async def seed_accounts(ctx: Ctx, db: Any) -> Accounts:
    from sqlalchemy import insert

    from coldsend.accounts.models import Account
    from coldsend.kit.crypto import secret_box
    from coldsend.kit.ids import new_id

    box = secret_box(ctx.settings)
    accounts = Accounts([], [], [])
    rows = []
    for i, port in enumerate(ctx.sink.ports):
        address = account_email(i)
        password = f"bench-password-{i}"
        account_id = new_id()
        accounts.ids.append(account_id)
        accounts.emails.append(address)
        accounts.passwords.append(password)
        rows.append(
            {
                "organization_id": ctx.organization_id,
                "id": account_id,
                "email": address,
                "first_name": "Sam",
                "last_name": f"Sender{i}",
                "status": 1,
                "sending_gap": 0,
                "daily_limit": None,
                "smtp_host": HOST,
                "smtp_port": port,
                "smtp_username": address,
                "smtp_password_encrypted": box.encrypt(password),
            }
        )
    async with db.begin() as conn:
        await conn.execute(insert(Account), rows)
    return accounts


async def insert_campaigns(ctx: Ctx, db: Any, rows: list[dict[str, Any]]) -> None:
    from sqlalchemy import insert

    from coldsend.campaigns.models import Campaign

    for row in rows:
        row.setdefault("organization_id", ctx.organization_id)
    async with db.begin() as conn:
        for start in range(0, len(rows), 500):
            await conn.execute(insert(Campaign), rows[start : start + 500])


def send_campaign_row(name: str, senders: Sequence[str], status: int) -> dict[str, Any]:
    from coldsend.kit.ids import new_id

    return {
        "id": new_id(),
        "name": name,
        "status": status,
        "campaign_schedule": ALWAYS,
        "sequences": sequence(),
        "email_list": [s.lower() for s in senders],
        "email_gap": 0,
        "daily_limit": None,
        "daily_max_leads": None,
        "random_wait_max": None,
        "open_tracking": True,
        "link_tracking": True,
        "insert_unsubscribe_header": True,
        "stop_on_reply": True,
    }


async def seed_sending(ctx: Ctx) -> dict[str, Any]:
    """Accounts, the warm-up campaign and the throughput campaign(s) with their due leads (COPY)."""
    args = ctx.args
    db = new_db(ctx)
    try:
        ctx.accounts = await seed_accounts(ctx, db)
        warm = send_campaign_row("Bench warm-up", ctx.accounts.emails, 2)
        sends = [send_campaign_row(f"Bench send {k}", ctx.accounts.emails, 2) for k in range(args.send_campaigns)]
        await insert_campaigns(ctx, db, [warm, *sends])
    finally:
        await db.dispose()
    ctx.warm_campaign = warm["id"]
    ctx.send_campaigns = [row["id"] for row in sends]
    now = datetime.now(UTC)
    org = ctx.organization_id
    warm_id = warm["id"]

    def records() -> Iterator[tuple[Any, ...]]:
        for i in range(args.warmup_messages):
            yield lead_record(org, warm_id, i, now, 1, 0, now - timedelta(hours=2) + timedelta(seconds=i))
        for i in range(args.messages):
            campaign = ctx.send_campaigns[i % len(ctx.send_campaigns)]
            due = now - timedelta(hours=1) + timedelta(milliseconds=i)
            yield lead_record(org, campaign, args.warmup_messages + i, now, 1, 0, due)

    rows, seconds = await copy_leads(ctx, records())
    analyze_s = await vacuum(ctx, "leads, accounts, campaigns")
    log(
        f"seeded {len(ctx.accounts.ids)} accounts and {rows:,} due leads "
        f"(COPY {seconds:.1f} s, ANALYZE {analyze_s:.1f} s)"
    )
    return {"accounts": len(ctx.accounts.ids), "leads": rows, "copy_s": seconds}


async def set_status(ctx: Ctx, ids: Sequence[uuid.UUID], status: int) -> None:
    conn = await pg(ctx)
    try:
        await conn.execute(
            "UPDATE campaigns SET status = $2 WHERE organization_id = $1 AND id = ANY($3::uuid[])",
            ctx.organization_id,
            status,
            list(ids),
        )
    finally:
        await conn.close()


async def reset_sending(ctx: Ctx) -> None:
    """Forget every send of the workspace and make the throughput leads due again (then VACUUM ANALYZE)."""
    assert ctx.warm_campaign is not None
    conn = await pg(ctx)
    org = ctx.organization_id
    try:
        async with conn.transaction():
            for table in ("outbox", "emails", "campaign_daily_stats", "account_daily_stats", "campaign_step_rotation"):
                await conn.execute(f"DELETE FROM {table} WHERE organization_id = $1", org)
            await conn.execute(
                """UPDATE leads SET next_step = 0, status = 1,
                    next_send_at = $3::timestamptz - random() * interval '1 hour',
                    timestamp_last_contact = NULL, last_step_from = NULL, last_contacted_from = NULL
                WHERE organization_id = $1 AND campaign_id = ANY($2::uuid[])""",
                org,
                [ctx.warm_campaign, *ctx.send_campaigns],
                datetime.now(UTC),
            )
            await conn.execute(
                """UPDATE accounts SET status = 1, send_available_at = NULL, send_lease_until = NULL,
                    send_lease_owner = NULL WHERE organization_id = $1""",
                org,
            )
            await conn.execute(
                "UPDATE campaigns SET status = 2, timestamp_last_sent = NULL WHERE organization_id = $1 "
                "AND id = ANY($2::uuid[])",
                org,
                [ctx.warm_campaign, *ctx.send_campaigns],
            )
    finally:
        await conn.close()
    await vacuum(ctx, "leads, outbox, emails, accounts, campaigns, " + COUNTERS)


STAT_TABLES = ("outbox", "leads", "emails", "accounts", "campaign_daily_stats")


async def table_stats(ctx: Ctx) -> dict[str, dict[str, int]]:
    """Row counters of the engine's tables (pg_stat_user_tables; backends that exited have flushed theirs)."""
    conn = await pg(ctx)
    try:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        rows = await conn.fetch(
            """SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, autovacuum_count, autoanalyze_count
            FROM pg_stat_user_tables WHERE relname = ANY($1::text[])""",
            list(STAT_TABLES),
        )
    finally:
        await conn.close()
    return {r["relname"]: {k: int(r[k]) for k in list(r.keys())[1:]} for r in rows}


async def flush_pool_stats(db: Any, size: int) -> None:
    """Every (idle) pooled connection flushes its pending table statistics now, not within ~10 s."""
    from sqlalchemy import text

    conns = [await db.connect() for _ in range(size)]
    try:
        for conn in conns:
            await conn.execute(text("SELECT pg_stat_force_next_flush()"))
            await conn.commit()
    finally:
        for conn in conns:
            await conn.close()
    await asyncio.sleep(0.2)


def stats_delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {t: {k: v - before.get(t, {}).get(k, 0) for k, v in after[t].items()} for t in after}


async def check_sent(ctx: Ctx, expected: int) -> dict[str, int]:
    """Outbox rows done, Email records and leads moved to step 2 of the throughput campaigns."""
    conn = await pg(ctx)
    try:
        row = await conn.fetchrow(
            """SELECT
                (SELECT count(*) FROM outbox WHERE organization_id = $1 AND campaign_id = ANY($2::uuid[])
                    AND state = 'done') AS done,
                (SELECT count(*) FROM outbox WHERE organization_id = $1 AND campaign_id = ANY($2::uuid[])
                    AND state <> 'done') AS other,
                (SELECT count(*) FROM emails WHERE organization_id = $1 AND campaign_id = ANY($2::uuid[])) AS emails,
                (SELECT count(*) FROM leads WHERE organization_id = $1 AND campaign_id = ANY($2::uuid[])
                    AND next_step = 1 AND status = 1) AS advanced""",
            ctx.organization_id,
            ctx.send_campaigns,
        )
    finally:
        await conn.close()
    found = {k: int(row[k]) for k in ("done", "other", "emails", "advanced")}
    if found["done"] != expected or found["other"] or found["emails"] != expected or found["advanced"] != expected:
        raise RuntimeError(f"after sending {expected:,} messages the database holds {found}")
    return found


# -- throughput -----------------------------------------------------------------------------------


@dataclass
class SendResult:
    label: str
    batch_size: int
    messages: int
    seconds: float
    passes: int
    steady_rate: float
    sink_messages: int
    sink_connections: int
    cpu: CpuUse
    attempts: int = 1
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, messages sent)
    gc: dict[str, float] = field(default_factory=dict)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)  # pg_stat_user_tables deltas

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate, "disturbed": disturbed(self.cpu)}


def steady_rate(samples: Sequence[tuple[float, int]], total: int) -> float:
    """Messages/s between the samples where 10% and 90% of `total` had been sent."""
    low = next((s for s in samples if s[1] >= total * 0.1), None)
    high = next((s for s in samples if s[1] >= total * 0.9), None)
    if low is None or high is None or high[0] <= low[0]:
        return 0.0
    return (high[1] - low[1]) / (high[0] - low[0])


async def drain(engine: Any, limit: int, what: str) -> tuple[int, int]:
    """run_pass(wait=True) until `limit` messages went out (or a pass sends nothing); (sent, passes)."""
    sent = passes = idle = 0
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while sent < limit:
        report = await engine.run_pass(wait=True)
        passes += 1
        sent += report.sent
        idle = idle + 1 if report.sent == 0 else 0
        if idle >= 3:
            raise RuntimeError(f"{what}: 3 passes in a row sent nothing after {sent:,} of {limit:,} messages")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: {sent:,} of {limit:,} messages after {RUN_TIMEOUT_S:.0f} s; giving up")
    return sent, passes


async def throughput_run(ctx: Ctx, batch_size: int, profiler: cProfile.Profile | None = None) -> SendResult:
    from coldsend.sending.engine import SendingEngine

    args = ctx.args
    await reset_sending(ctx)
    db = new_db(ctx)
    engine = SendingEngine(
        db,
        ctx.settings,
        batch_size=batch_size,
        lease_seconds=ctx.settings.send_lease_seconds,
        concurrency=ctx.settings.send_concurrency,
    )
    label = f"engine, batch_size {batch_size}" + (" (under cProfile)" if profiler else "")
    try:
        assert ctx.warm_campaign is not None
        await set_status(ctx, [ctx.warm_campaign], 1)
        warm, _ = await drain(engine, args.warmup_messages, f"{label} warm-up")
        await set_status(ctx, [ctx.warm_campaign], 2)
        await set_status(ctx, ctx.send_campaigns, 1)
        ctx.problems.check(f"{label} warm-up")
        log(f"{label}: warm-up sent {warm:,}")
        freeze_heap(args)
        if profiler is None:
            wait_quiet(args)  # on the loop's thread: Ctrl-C / SIGTERM interrupt it at once
        log(f"{label}: sending {args.messages:,} messages")
        samples: list[tuple[float, int]] = []
        await flush_pool_stats(db, ctx.settings.db_pool_size)  # the warm-up's counters are in before
        tables_before = await table_stats(ctx)
        before = await ctx.sink.stats()
        base = int(before["messages"])

        async def sample() -> None:  # messages the sink accepted so far (the engine counts a turn once settled)
            while True:
                stats = await ctx.sink.stats()
                samples.append((time.perf_counter(), int(stats["messages"]) - base))
                await asyncio.sleep(SAMPLE_EVERY_S)

        meter = PeerMeter(ctx.postmaster_pid, ctx.sink.pid)
        sampler = asyncio.create_task(sample())
        meter.start()
        began = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        try:
            with GcWatch() as gc_watch:
                sent, passes = await drain(engine, args.messages, label)
        finally:
            if profiler is not None:
                profiler.disable()
        seconds = time.perf_counter() - began
        cpu = meter.stop()
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        after = await ctx.sink.stats()
        samples.append((time.perf_counter(), int(after["messages"]) - base))
    finally:
        await db.dispose()
    await asyncio.sleep(0.5)  # the pool's backends exit and flush their statistics
    tables = stats_delta(tables_before, await table_stats(ctx))
    ctx.problems.check(label)
    sink_messages = int(after["messages"]) - int(before["messages"])
    if sink_messages != sent:
        raise RuntimeError(f"{label}: the engine reports {sent:,} messages sent, the sink counted {sink_messages:,}")
    await check_sent(ctx, sent)
    result = SendResult(
        label=label,
        batch_size=batch_size,
        messages=sent,
        seconds=seconds,
        passes=passes,
        steady_rate=steady_rate(samples, sent),
        sink_messages=sink_messages,
        sink_connections=int(after["connections"]) - int(before["connections"]),
        cpu=cpu,
        timeline=[(round(t - began, 3), n) for t, n in samples],
        gc=gc_watch.summary(),
        tables=tables,
    )
    log(
        f"{label}: {sent:,} messages in {seconds:.2f} s = {result.rate:,.0f} msg/s (steady {result.steady_rate:,.0f}), "
        f"{passes} passes, {result.sink_connections:,} SMTP connections; CPU cores: {cpu_text(cpu)}; "
        f"GC: {gc_text(result.gc)}"
    )
    return result


async def measured(ctx: Ctx, name: str, work: Callable[[], Awaitable[T]], cpu_of: Callable[[T], CpuUse]) -> T:
    """`work()` again (at most --retries times) while other processes disturbed it."""
    attempt = 0
    while True:
        attempt += 1
        result = await work()
        cpu = cpu_of(result)
        if hasattr(result, "attempts"):
            result.attempts = attempt
        if not disturbed(cpu):
            return result
        log(f"WARNING: other processes used {cpu.others:.2f} cores during {name}; the figure is disturbed")
        if attempt > ctx.args.retries:
            return result


def bare_messages(ctx: Ctx) -> list[bytes]:
    """One message per account, built like the engine builds its messages (same template, tracking, size)."""
    from coldsend.sending.mime import OutgoingMessage, build_message
    from coldsend.sending.renderer import build_context, compile_template, html_to_text
    from coldsend.tracking.links import instrument_html, tracking_base_url, unsubscribe_url
    from coldsend.tracking.tokens import tracking_key

    assert ctx.accounts is not None
    key = tracking_key(ctx.settings)
    base = tracking_base_url(ctx.settings.public_url, None)
    variant = sequence()[0]["steps"][0]["variants"][0]
    subject_t, body_t = compile_template(variant["subject"]), compile_template(variant["body"])
    out = []
    for i, address in enumerate(ctx.accounts.emails):
        outbox_id = uuid.uuid4()
        lead = {"email": f"lead{i}@company{i}.com", "first_name": "James", "company_name": f"Company {i}"}
        context = build_context(lead, {"email": address, "first_name": "Sam", "last_name": "Sender"})
        rng = random.Random(i)
        html = body_t.render(context, rng, html=True)
        spec = OutgoingMessage(
            from_address=address,
            from_name="Sam Sender",
            to_address=str(lead["email"]),
            to_name="James",
            subject=subject_t.render(context, rng),
            text=html_to_text(html),
            html=instrument_html(
                html, base_url=base, key=key, outbox_id=outbox_id, open_tracking=True, link_tracking=True
            ),
            date=datetime.now(UTC),
            message_id=f"<{outbox_id.hex}@{address.rpartition('@')[2]}>",
            list_unsubscribe=unsubscribe_url(base, key, outbox_id),
            list_unsubscribe_one_click=True,
        )
        out.append(build_message(spec))
    return out


async def bare_run(ctx: Ctx, messages: list[bytes]) -> SendResult:
    """--messages pre-built messages over one authenticated aiosmtplib connection per account."""
    import aiosmtplib

    args = ctx.args
    assert ctx.accounts is not None
    accounts = ctx.accounts
    count = len(ctx.sink.ports)
    shares = [args.messages // count + (1 if i < args.messages % count else 0) for i in range(count)]

    async def connect(i: int) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=HOST,
            port=ctx.sink.ports[i],
            timeout=30,
            start_tls=False,
            local_hostname=accounts.emails[i].rpartition("@")[2],
        )
        await client.connect()
        await client.login(accounts.emails[i], accounts.passwords[i])
        return client

    async def send(client: aiosmtplib.SMTP, i: int) -> int:
        sender, recipient = accounts.emails[i], f"lead{i}@company{i}.com"
        for _ in range(shares[i]):
            await client.sendmail(sender, [recipient], messages[i])
        return shares[i]

    wait_quiet(args)  # on the loop's thread: Ctrl-C / SIGTERM interrupt it at once
    log(f"bare aiosmtplib loop: {args.messages:,} messages over {count} connections")
    clients = await asyncio.gather(*(connect(i) for i in range(count)))
    try:
        before = await ctx.sink.stats()
        meter = PeerMeter(ctx.postmaster_pid, ctx.sink.pid)
        meter.start()
        began = time.perf_counter()
        sent = sum(await asyncio.gather(*(send(c, i) for i, c in enumerate(clients))))
        seconds = time.perf_counter() - began
        cpu = meter.stop()
        after = await ctx.sink.stats()
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.quit()
    sink_messages = int(after["messages"]) - int(before["messages"])
    if sink_messages != sent:
        raise RuntimeError(f"bare loop: {sent:,} messages sent, the sink counted {sink_messages:,}")
    result = SendResult("bare aiosmtplib loop", 0, sent, seconds, 0, sent / seconds, sink_messages, 0, cpu)
    log(f"bare aiosmtplib loop: {sent:,} messages in {seconds:.2f} s = {result.rate:,.0f} msg/s; CPU {cpu_text(cpu)}")
    return result


# Where a function's own time goes, by the first matching fragment of its file name (builtins: by name, or
# shared out among their callers in proportion to the time each caller spent in them).
AREAS = (
    ("/sqlalchemy/", "SQLAlchemy (async engine, greenlet bridge, result rows)"),
    ("greenlet", "SQLAlchemy (async engine, greenlet bridge, result rows)"),
    ("/asyncpg/", "asyncpg driver"),
    ("/aiosmtplib/", "aiosmtplib (SMTP client)"),
    ("/email/", "stdlib email (address parsing in aiosmtplib / mime)"),
    ("/html/parser.py", "html.parser (renderer.html_to_text)"),
    ("_markupbase.py", "html.parser (renderer.html_to_text)"),
    ("/coldsend/sending/renderer.py", "coldsend renderer (templates, context, html_to_text)"),
    ("/coldsend/tracking/", "coldsend tracking (instrument_html, tokens)"),
    ("/coldsend/sending/mime.py", "coldsend mime (build_message)"),
    ("/coldsend/sending/engine.py", "coldsend engine (compose, deliver, claim, settle)"),
    ("/coldsend/sending/repository.py", "coldsend sending repository"),
    ("/coldsend/", "coldsend, other modules"),
    ("/asyncio/", "asyncio event loop and transports"),
    ("/ssl.py", "ssl (contexts)"),
)
BUILTIN_AREAS = (
    ("_socket.socket", "socket send/recv (system calls)"),
    ("select.epoll", "epoll wait (idle)"),
    ("_ssl.", "ssl (contexts)"),
)


def profile_areas(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own time by area (see AREAS), largest first."""
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]

    def area_of(key: tuple[str, int, str]) -> str | None:
        filename, _line, name = key
        if filename == "~":
            return next((label for fragment, label in BUILTIN_AREAS if fragment in name), None)
        return next((label for fragment, label in AREAS if fragment in filename), "other Python")

    totals: dict[str, float] = {}
    for key, (_cc, _nc, tt, _ct, callers) in table.items():
        area = area_of(key)
        if area is not None:
            totals[area] = totals.get(area, 0.0) + tt
            continue
        # a builtin (regex, hashing, str methods ...): charged to its callers' areas
        spent = sum(edge[2] for edge in callers.values()) or 1.0
        for caller, edge in callers.items():
            owner = area_of(caller) or "other builtins"
            totals[owner] = totals.get(owner, 0.0) + tt * edge[2] / spent
        if not callers:
            totals["other builtins"] = totals.get("other builtins", 0.0) + tt
    return sorted(totals.items(), key=lambda item: -item[1])


def write_profile(profiler: cProfile.Profile, out: Path, result: SendResult) -> None:
    profiler.dump_stats(str(out))
    text = io.StringIO()
    text.write(
        f"{result.label}: {result.messages:,} messages in {result.seconds:.2f} s ({result.rate:,.0f} msg/s "
        "under the profiler)\n\n"
    )
    stats = pstats.Stats(profiler, stream=text)
    areas = profile_areas(stats)
    total = sum(seconds for _, seconds in areas) or 1.0
    text.write("Own time by area (builtins charged to their callers):\n")
    for label, seconds in areas:
        text.write(f"  {seconds:8.2f} s  {seconds / total:6.1%}  {label}\n")
    text.write("\n")
    stats.sort_stats("tottime").print_stats(45)
    stats.sort_stats("cumulative").print_stats(70)
    Path(str(out) + ".txt").write_text(text.getvalue())
    log(f"profile written to {out} and {out}.txt")


# -- scheduler pass -------------------------------------------------------------------------------


@dataclass
class SchedulerResult:
    campaigns_active: int
    campaigns_open: int
    campaigns_due: int
    accounts_ready: int
    leads: int
    times_ms: list[float]
    steps_ms: dict[str, float]
    explain: dict[str, dict[str, Any]]
    cpu: CpuUse
    seed_s: float
    gc: dict[str, float]
    attempts: int = 1

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        return quantile(self.times_ms, 0.95)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "median_ms": self.median, "p95_ms": self.p95, "disturbed": disturbed(self.cpu)}


async def seed_scheduler(ctx: Ctx) -> tuple[int, float]:
    """--campaigns active campaigns of --leads-per-campaign leads (see the module docstring)."""
    args = ctx.args
    assert ctx.accounts is not None
    emails = ctx.accounts.emails
    now = datetime.now(UTC)
    closed = closed_schedule(now)
    rows = []
    n_accounts = len(emails)
    closed_every = round(1 / args.closed_share) if args.closed_share > 0 else 0
    for c in range(args.campaigns):
        is_closed = closed_every > 0 and c % closed_every == closed_every - 1
        senders = [emails[(c * 3 + k) % n_accounts] for k in range(min(3, n_accounts))]
        row = send_campaign_row(f"Scheduled {c}", senders, 1)
        row["campaign_schedule"] = closed if is_closed else ALWAYS
        rows.append(row)
    db = new_db(ctx)
    try:
        await insert_campaigns(ctx, db, rows)
    finally:
        await db.dispose()
    due_every = round(1 / args.due_share) if args.due_share > 0 else 0
    org = ctx.organization_id
    per = args.leads_per_campaign
    first = args.warmup_messages + args.messages
    rng = random.Random(5)

    def records() -> Iterator[tuple[Any, ...]]:
        for c, row in enumerate(rows):
            has_due = due_every > 0 and c % due_every == 0
            for j in range(per):
                i = first + c * per + j
                if j % 10 == 9:  # finished its sequence
                    yield lead_record(org, row["id"], i, now, 3, 3, None)
                elif has_due and j % 20 == 0:  # 5% due now
                    yield lead_record(org, row["id"], i, now, 1, j % 3, now - timedelta(minutes=rng.uniform(1, 600)))
                else:  # due within the next 3 days
                    later = now + timedelta(minutes=rng.uniform(10, 3 * 24 * 60))
                    yield lead_record(org, row["id"], i, now, 1, j % 3, later)

    rows_copied, seconds = await copy_leads(ctx, records())
    conn = await pg(ctx)
    try:
        ids = ctx.accounts.ids
        await conn.execute(
            "UPDATE accounts SET send_available_at = $3 WHERE organization_id = $1 AND id = ANY($2::uuid[])",
            org,
            ids[:10],
            now + timedelta(hours=1),
        )
        await conn.execute(
            """UPDATE accounts SET send_lease_until = $3, send_lease_owner = 'another-worker'
            WHERE organization_id = $1 AND id = ANY($2::uuid[])""",
            org,
            ids[10:15],
            now + timedelta(hours=1),
        )
    finally:
        await conn.close()
    await set_status(ctx, [*ctx.send_campaigns], 2)
    vacuum_s = await vacuum(ctx, "leads, campaigns, accounts")
    log(
        f"seeded {len(rows):,} active campaigns and {rows_copied:,} leads (COPY {seconds:.1f} s, "
        f"VACUUM ANALYZE {vacuum_s:.1f} s)"
    )
    return rows_copied, seconds


def plan_shape(node: dict[str, Any]) -> str:
    label = node["Node Type"]
    if "Index Name" in node:
        label += f" ({node['Index Name']})"
    if node.get("Actual Loops", 1) > 1:
        label += f" x{node['Actual Loops']:,}"
    children = node.get("Plans") or []
    if not children:
        return label
    inner = " + ".join(plan_shape(child) for child in children)
    return f"{label} > {inner}" if len(children) == 1 else f"{label} > [{inner}]"


async def explain(conn: Any, sql: str, params: Sequence[Any], samples: int = 5) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of `sql` ($1, $2 ...): median execution time, planning, buffers, shape."""
    runs = []
    for _ in range(samples + 1):
        plan = json.loads(await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", *params))[0]
        runs.append(plan)
    runs = runs[1:]
    last = runs[-1]
    root = last["Plan"]
    return {
        "execution_ms": statistics.median(float(r["Execution Time"]) for r in runs),
        "planning_ms": statistics.median(float(r["Planning Time"]) for r in runs),
        "shared_hit": int(root.get("Shared Hit Blocks", 0)),
        "shared_read": int(root.get("Shared Read Blocks", 0)),
        "rows": int(root.get("Actual Rows", 0)),
        "shape": plan_shape(root),
    }


def positional(sql: str, names: Sequence[str]) -> str:
    for n, name in enumerate(names, 1):
        sql = sql.replace(f":{name}", f"${n}")
    return sql


async def scheduler_phase(ctx: Ctx) -> SchedulerResult:
    from coldsend.campaigns.schedule import is_open, parse_schedule
    from coldsend.sending.engine import PassReport, SendingEngine
    from coldsend.sending.repository import _CAMPAIGNS_WITH_DUE, _READY_SENDERS, SchedulerQueries

    args = ctx.args
    leads, seed_s = await seed_scheduler(ctx)

    async def once() -> SchedulerResult:
        db = new_db(ctx)
        engine = SendingEngine(db, ctx.settings)
        try:
            report = PassReport()
            for _ in range(WARMUP_CALLS):
                await engine.find_ready(datetime.now(UTC), report)
            freeze_heap(args)
            wait_quiet(args)  # on the loop's thread: Ctrl-C / SIGTERM interrupt it at once
            log(f"find_ready: {args.scheduler_reps} timed calls")
            meter = PeerMeter(ctx.postmaster_pid, ctx.sink.pid)
            meter.start()
            times = []
            with GcWatch() as gc_watch:
                for _ in range(args.scheduler_reps):
                    report = PassReport()
                    began = time.perf_counter()
                    await engine.find_ready(datetime.now(UTC), report)
                    times.append((time.perf_counter() - began) * 1000)
            cpu = meter.stop()
            # the same steps, one by one (as find_ready runs them, with a fresh engine's schedule parsing)
            steps: dict[str, list[float]] = {name: [] for name in STEPS}
            open_ids: list[uuid.UUID] = []
            now = datetime.now(UTC)
            for _ in range(args.scheduler_reps):
                now = datetime.now(UTC)
                async with db.connect() as conn:
                    queries = SchedulerQueries(conn)
                    t0 = time.perf_counter()
                    campaigns = await queries.active_campaigns()
                    t1 = time.perf_counter()
                    open_ids = [c.id for c in campaigns if is_open(parse_schedule(c.campaign_schedule or {}), now)]
                    t2 = time.perf_counter()
                    due = await queries.campaigns_with_due_leads(open_ids, now)
                    t3 = time.perf_counter()
                    await queries.ready_senders(due, now)
                    t4 = time.perf_counter()
                for name, a, b in zip(steps, (t0, t1, t2, t3), (t1, t2, t3, t4), strict=True):
                    steps[name].append((b - a) * 1000)
        finally:
            await db.dispose()
        conn = await pg(ctx)
        try:
            due_sql = positional(_CAMPAIGNS_WITH_DUE.text, ("ids", "now"))
            due_ids = [r[0] for r in await conn.fetch(due_sql, open_ids, now)]
            plans = {
                "due probe": await explain(conn, due_sql, (open_ids, now)),
                "ready senders": await explain(conn, positional(_READY_SENDERS.text, ("ids", "now")), (due_ids, now)),
            }
        finally:
            await conn.close()
        result = SchedulerResult(
            campaigns_active=report.campaigns_active,
            campaigns_open=report.campaigns_open,
            campaigns_due=report.campaigns_due,
            accounts_ready=report.accounts_ready,
            leads=leads,
            times_ms=times,
            steps_ms={name: statistics.median(values) for name, values in steps.items()},
            explain=plans,
            cpu=cpu,
            seed_s=seed_s,
            gc=gc_watch.summary(),
        )
        log(
            f"find_ready: median {result.median:.1f} ms, p95 {result.p95:.1f} ms ({report.campaigns_active} active, "
            f"{report.campaigns_open} open, {report.campaigns_due} with due leads, {report.accounts_ready} accounts "
            f"ready); CPU {cpu_text(cpu)}; GC: {gc_text(result.gc)}"
        )
        return result

    return await measured(ctx, "find_ready", once, lambda r: r.cpu)


# -- report ---------------------------------------------------------------------------------------


def cpu_cells(cpu: CpuUse) -> str:
    postgres = "n/a" if cpu.postgres is None else f"{cpu.postgres:.2f}"
    return f"{cpu.server:.2f} | {postgres} | {cpu.wrk:.2f} | {cpu.others:.2f}"


def report(
    ctx: Ctx,
    seeded: dict[str, Any],
    runs: Sequence[SendResult],
    bare: SendResult | None,
    sched: SchedulerResult | None,
    loop_name: str,
) -> str:
    args = ctx.args
    lines: list[str] = []
    flagged = [r.label for r in runs if disturbed(r.cpu)]
    if bare is not None and disturbed(bare.cpu):
        flagged.append(bare.label)
    if sched is not None and disturbed(sched.cpu):
        flagged.append("find_ready")
    if flagged:
        lines += [f"WARNING: other processes disturbed: {', '.join(flagged)}; do not report this run.", ""]
    best = max(runs, key=lambda r: r.rate) if runs else None
    lines += ["| Figure | Measured | Target | Verdict |", "|---|---|---|---|"]
    for r in runs:
        lines.append(
            f"| Engine throughput, `batch_size={r.batch_size}` ({r.messages:,} messages, {len(ctx.sink.ports)} "
            f"accounts) | **{r.rate:,.0f} msg/s** (steady state {r.steady_rate:,.0f}) | ≥ {TARGET_RATE:,.0f} msg/s "
            f"| {verdict(r.rate >= TARGET_RATE)} |"
        )
    if bare is not None:
        lines.append(
            f"| Bare aiosmtplib loop, pre-built messages, {len(ctx.sink.ports)} connections | {bare.rate:,.0f} msg/s "
            "| (reference) | reported |"
        )
        if best is not None:
            lines.append(
                f"| Engine (best batch size) / bare loop | {best.rate / bare.rate:.1%} | (reference) | reported |"
            )
    if sched is not None:
        lines.append(
            f"| `find_ready` over {sched.campaigns_active:,} active campaigns, {sched.leads:,} leads | "
            f"**{sched.median:.1f} ms** median, {sched.p95:.1f} ms p95 | ≤ {TARGET_PASS_MS:.0f} ms "
            f"| {verdict(sched.median <= TARGET_PASS_MS)} |"
        )
    lines += [
        "",
        f"Event loop of this process (engine and bare loop): {loop_name}; "
        + (
            "no gc.freeze"
            if args.no_gc_freeze
            else "`gc.collect(); gc.freeze()` before each measurement (as the worker"
        )
        + (" after start-up); " if not args.no_gc_freeze else "; ")
        + "SMTP sink: bench/smtp_sink.py, one "
        f"process (uvloop), {len(ctx.sink.ports)} ports. Seeded {seeded['accounts']} accounts and "
        f"{seeded['leads']:,} due leads ({args.warmup_messages:,} of them for the warm-up) in "
        f"{args.send_campaigns} campaign(s).",
        "",
        "| Run | messages | seconds | msg/s | steady msg/s | passes | SMTP connections | engine CPU | PostgreSQL "
        "| sink | others | engine CPU per message | GC (full collections) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in [*runs, *([bare] if bare else [])]:
        per_message = r.cpu.server * r.seconds / r.messages * 1e6
        gc_cell = f"{r.gc['gen2']:.0f}, {r.gc['gen2_seconds'] * 1000:,.0f} ms" if r.gc else "n/a"
        lines.append(
            f"| {r.label} | {r.messages:,} | {r.seconds:.2f} | {r.rate:,.0f} | {r.steady_rate:,.0f} | {r.passes} "
            f"| {r.sink_connections:,} | {cpu_cells(r.cpu)} | {per_message:,.0f} µs | {gc_cell} |"
        )
    if runs and runs[0].tables:
        lines += [
            "",
            "Rows written per message sent during each run (pg_stat_user_tables; the warm-up and reset excluded), "
            "and autovacuum runs:",
            "",
            "| Run | outbox updated (HOT) | leads updated (HOT) | emails inserted | accounts updated "
            "| campaign_daily_stats updated | autovacuum runs (outbox, leads, emails) |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for r in runs:
            t, n = r.tables, r.messages

            def per(table: str, key: str, t: dict[str, dict[str, int]] = t, n: int = n) -> str:
                return f"{t.get(table, {}).get(key, 0) / n:.2f}"

            vacuums = ", ".join(
                str(t.get(name, {}).get("autovacuum_count", 0)) for name in ("outbox", "leads", "emails")
            )
            lines.append(
                f"| {r.label} | {per('outbox', 'n_tup_upd')} ({per('outbox', 'n_tup_hot_upd')}) "
                f"| {per('leads', 'n_tup_upd')} ({per('leads', 'n_tup_hot_upd')}) | {per('emails', 'n_tup_ins')} "
                f"| {per('accounts', 'n_tup_upd')} | {per('campaign_daily_stats', 'n_tup_upd')} | {vacuums} |"
            )
    if sched is not None:
        lines += [
            "",
            f"Scheduler: {sched.campaigns_active:,} active campaigns ({sched.campaigns_open:,} open now, "
            f"{sched.campaigns_due:,} with due leads), {sched.accounts_ready} accounts ready; {sched.leads:,} leads "
            f"seeded by COPY in {sched.seed_s:.1f} s. `find_ready`, {len(sched.times_ms)} calls after {WARMUP_CALLS} "
            f"warm-up ones: median {sched.median:.1f} ms, p95 {sched.p95:.1f} ms, min {min(sched.times_ms):.1f} ms, "
            f"max {max(sched.times_ms):.1f} ms; CPU {cpu_text(sched.cpu)}; GC during the timed calls: "
            f"{gc_text(sched.gc)}.",
            "",
            "| Step (timed one by one, median) | ms |",
            "|---|---:|",
            *(f"| {name} | {ms:.2f} |" for name, ms in sched.steps_ms.items()),
            "",
            "| Query | PostgreSQL execution (median of 5) | planning | shared hit / read blocks | rows | plan |",
            "|---|---:|---:|---:|---:|---|",
            *(
                f"| {name} | {p['execution_ms']:.2f} ms | {p['planning_ms']:.2f} ms | {p['shared_hit']:,} / "
                f"{p['shared_read']:,} | {p['rows']:,} | {p['shape']} |"
                for name, p in sched.explain.items()
            ),
        ]
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the sending engine: messages/s of one worker to loopback SMTP sinks (with the bare "
        "aiosmtplib loop beside it), and the scheduler's find-due-sends time over 1,000 campaigns / 1M leads.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes (overrides the sizes below)")
    parser.add_argument("--accounts", type=int, default=100, help="sending accounts, one sink port each")
    parser.add_argument("--messages", type=int, default=50_000, help="messages per measured throughput run")
    parser.add_argument("--warmup-messages", type=int, default=2_000, help="messages sent before each run")
    parser.add_argument("--batch-sizes", default="50,200", help="engine batch sizes to measure, comma-separated")
    parser.add_argument("--send-campaigns", type=int, default=1, help="campaigns the throughput leads are split over")
    parser.add_argument("--campaigns", type=int, default=1000, help="active campaigns of the scheduler part")
    parser.add_argument("--leads-per-campaign", type=int, default=1000, help="leads of each scheduler campaign")
    parser.add_argument("--closed-share", type=float, default=0.2, help="share of campaigns outside their window")
    parser.add_argument("--due-share", type=float, default=0.5, help="share of campaigns with due leads")
    parser.add_argument("--scheduler-reps", type=int, default=20, help="timed find_ready calls")
    parser.add_argument(
        "--loop",
        choices=("worker", "asyncio", "uvloop"),
        default="worker",
        help="event loop of the engine: worker = the one `coldsend worker` uses (coldsend.cli.fast_event_loop: "
        "uvloop when installed)",
    )
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="do not gc.collect() + gc.freeze() before each measurement (the worker does it after start-up)",
    )
    parser.add_argument("--skip-throughput", action="store_true", help="only the scheduler part")
    parser.add_argument("--skip-scheduler", action="store_true", help="only the throughput part")
    parser.add_argument("--profile", default=None, metavar="OUT", help="extra throughput run under cProfile -> OUT")
    parser.add_argument("--profile-batch-size", type=int, default=50, help="batch size of the profiled run")
    parser.add_argument(
        "--wait-others", type=float, default=1800.0, help="wait up to this long for other bench/ benchmarks to end"
    )
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    check_common_arguments(parser, args)
    if args.quick:
        args.messages, args.warmup_messages = 3_000, 300
        args.campaigns, args.leads_per_campaign, args.scheduler_reps = 100, 1000, 5
    try:
        args.batch_sizes = [int(b) for b in str(args.batch_sizes).split(",") if b.strip()]
    except ValueError:
        parser.error("--batch-sizes wants integers, e.g. 50,200")
    if not args.batch_sizes or not all(1 <= b <= 1000 for b in args.batch_sizes):
        parser.error("--batch-sizes must be in 1..1000")
    if not 1 <= args.accounts <= 1000:
        parser.error("--accounts must be in 1..1000")
    if not 100 <= args.messages <= 1_000_000 or not 1 <= args.warmup_messages <= 100_000:
        parser.error("--messages must be in 100..1000000 and --warmup-messages in 1..100000")
    if not 1 <= args.send_campaigns <= 100 or not 1 <= args.campaigns <= 10_000:
        parser.error("--send-campaigns must be in 1..100 and --campaigns in 1..10000")
    if not 20 <= args.leads_per_campaign <= 10_000 or not 1 <= args.scheduler_reps <= 1000:
        parser.error("--leads-per-campaign must be in 20..10000 and --scheduler-reps in 1..1000")
    if not 0 <= args.closed_share <= 1 or not 0 <= args.due_share <= 1:
        parser.error("--closed-share and --due-share must be in 0..1")
    return args


def event_loop(choice: str) -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    """(loop factory, description) for --loop."""
    if choice == "asyncio":
        return None, "asyncio's default loop"
    if choice == "uvloop":
        import uvloop

        return uvloop.new_event_loop, "uvloop"
    try:
        from coldsend.cli import fast_event_loop
    except ImportError:  # a version of coldsend before the worker chose its loop: asyncio.run
        return None, "asyncio's default loop (as `coldsend worker`)"
    factory = fast_event_loop()
    name = "asyncio's default loop" if factory is None else f"{factory.__module__.split('.')[0]}"
    return factory, f"{name} (as `coldsend worker`: `coldsend.cli.fast_event_loop`)"


def freeze_heap(args: argparse.Namespace) -> None:
    """What `coldsend worker` does after start-up: objects alive now are never walked by a full collection."""
    if not args.no_gc_freeze:
        gc.collect()
        gc.freeze()


def benchmark(run: Any) -> str:
    from coldsend.config import Settings

    args = run.args
    url = args.database_url or (run.embedded.url if run.embedded is not None else "")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        home=run.work / "home",
        database_url=url,
        log_level="WARNING",
    )
    from coldsend.kit.db import database_url

    url = database_url(settings)
    from coldsend.kit.crypto import secret_box

    secret_box(settings)  # the workspace's secret key exists (and its "generated" warning is out of the way)
    sink = start_sink(run, args.accounts)
    log(f"SMTP sink pid {sink.pid} on {len(sink.ports)} ports")
    problems = Problems()
    coldsend_logger = logging.getLogger("coldsend")
    coldsend_logger.addHandler(problems)
    coldsend_logger.setLevel(logging.WARNING)
    ctx = Ctx(
        args=args,
        dsn=run.dsn,
        url=url,
        settings=settings,
        organization_id=run.organization_id,
        sink=sink,
        postmaster_pid=run.postmaster_pid,
        problems=problems,
    )
    factory, loop_name = event_loop(args.loop)

    async def main() -> str:
        seeded = await seed_sending(ctx)
        runs: list[SendResult] = []
        bare: SendResult | None = None
        sched: SchedulerResult | None = None
        if not args.skip_throughput:
            messages = bare_messages(ctx)
            log(f"bare loop message: {len(messages[0]):,} bytes")
            for size in args.batch_sizes:

                def one(size: int = size) -> Awaitable[SendResult]:
                    return throughput_run(ctx, size)

                runs.append(await measured(ctx, f"batch_size {size}", one, lambda r: r.cpu))
            bare = await measured(ctx, "bare loop", lambda: bare_run(ctx, messages), lambda r: r.cpu)
            if args.profile:
                profiler = cProfile.Profile()
                result = await throughput_run(ctx, args.profile_batch_size, profiler)
                write_profile(profiler, Path(args.profile), result)
        if not args.skip_scheduler:
            sched = await scheduler_phase(ctx)
        run.write_json(
            {
                "seeded": seeded,
                "loop": loop_name,
                "runs": [r.as_json() for r in runs],
                "bare": bare.as_json() if bare else None,
                "scheduler": sched.as_json() if sched else None,
            }
        )
        return report(ctx, seeded, runs, bare, sched, loop_name)

    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(args, benchmark)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of the leads issue: bulk import into a campaign of a million leads, deep pages of
POST /api/v2/leads/list, and `search` over a million leads; with PostgreSQL's own COPY rate for scale.

Targets (issue text), with one server process on this machine:
- `POST /leads/add` in 1,000-lead batches into a campaign that already holds 1,000,000 leads, with
  `skip_if_in_workspace` on, at >= 10,000 leads/s end to end;
- `POST /leads/list` page time at the millionth lead within 1.5x of the first page;
- `search` by email or name over 1,000,000 leads answering in <= 50 ms.
Also the PostgreSQL COPY rate on the same machine, so the import rate reads as a fraction of the limit.

What it does, end to end, talking to 127.0.0.1 only (the machinery is bench/harness.py):

1. Waits until no other benchmark of bench/ runs (pgrep, every 10 s, at most --wait-others s); opens a
   database (a fresh embedded PostgreSQL in a temporary COLDSEND_HOME, or --database-url), creates a
   workspace and an all:all key with the `coldsend` CLI, starts `python -m coldsend serve --no-worker`
   (rate limits off; bench/bare_starlette.py starts too, idle) and creates two campaigns through the API.
2. Seeds --leads leads into the first campaign with COPY (asyncpg `copy_records_to_table`, one
   transaction, 20,000-row chunks): UUIDv7 ids, unique lower-case emails `lead{i}@company{i % 5000}.com`,
   first and last names drawn from small pools (so a name matches ~1% of the leads, like real data),
   company name and domain, job title, status 1, upload_method 'api', status_summary '{}'. The COPY is
   timed on its own ("PostgreSQL COPY rate": the table's 7 indexes, the GIN trigram index among them,
   and its foreign key are maintained during it). The same rows are then COPYed into an index-less
   scratch table (the raw ceiling), which is dropped again. Then VACUUM (ANALYZE) leads, so no
   autovacuum starts in the middle of a measurement.
3. POST /api/v2/leads/list `{"campaign": id, "limit": 100}`: the first page against the page after the
   lead at position N-100 (leads N-99..N, cursor = that lead's id); the same without the campaign
   (the whole workspace). Sequential requests on one keep-alive connection, first and deep alternating,
   5 warm-up pairs then --page-samples pairs; the first pair checks the ids of both pages. Plus
   PostgreSQL's execution time of the server's own statement (EXPLAIN ANALYZE).
4. POST /api/v2/leads/list `{"search": ..., "limit": 100}` (the whole workspace) for an exact email, an
   email fragment, a first name, "first last", a company domain, a 2-letter fragment and a fragment that
   matches nothing: --search-samples requests each (the cases interleaved, after 3 warm-up rounds),
   median and p95; every answer is checked against the ids expected from the seeded data (the first 100
   matches in id order). Plus EXPLAIN ANALYZE of the server's own statement and its plan's shape.
5. POST /api/v2/leads/add, each batch --batch-size NEW leads into the seeded campaign with
   `skip_if_in_workspace: true`, bodies serialized before timing, measured end to end (request sent to
   answer parsed): --batches batches one at a time, then --batches batches from --concurrency concurrent
   clients (httpx.AsyncClient); every answer must report all leads uploaded. Then the dedupe path:
   --dedupe-batches batches of leads that already exist (into the same campaign: `duplicated_leads`;
   into the second campaign: `skipped_count`).
6. The database part of one import batch without HTTP or Python web layers: the server's own
   statements (advisory lock, block-list lookup, presence query, INSERT ... unnest, COMMIT) run with
   asyncpg, --db-batches batches; and --copy-batches COPYs of --batch-size new leads into the same
   table (one transaction each): the like-for-like COPY ceiling of an import batch.
7. Prints markdown tables and the verdicts; stops the servers and removes the temporary data, also on
   error or Ctrl-C.

Each measured phase waits for a quiet machine first and meters CPU (server, PostgreSQL, this client, the
rest); a phase that other processes disturbed is measured again (--retries); one still disturbed is
flagged in the report, and must not be reported.

    .venv/bin/python bench/bench_leads.py                     # the full run (about 10 minutes)
    .venv/bin/python bench/bench_leads.py --leads 20000 --batches 5 --search-samples 5 --page-samples 5
    .venv/bin/python bench/bench_leads.py --py-spy /tmp/leads-add.svg   # and a flamegraph of the import
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import orjson

from harness import (
    HTTP_TIMEOUT_S,
    PAGE_LIMIT,
    PAGE_TABLE_HEAD,
    PAGE_WARMUP_PAIRS,
    BenchRun,
    CpuMeter,
    CpuUse,
    PageTimes,
    add_server_arguments,
    disturbed,
    log,
    page_rows,
    quantile,
    run_benchmark,
    stop_process,
    verdict,
    wait_for_quiet,
    with_connection,
)

T = TypeVar("T")

TARGET_IMPORT_RATE = 10_000.0  # leads/s
TARGET_PAGE_RATIO = 1.5
TARGET_SEARCH_MS = 50.0

ADD_PATH = "/api/v2/leads/add"
LIST_PATH = "/api/v2/leads/list"
CAMPAIGNS_PATH = "/api/v2/campaigns"
OTHER_BENCHMARKS = "bench_custom_tags.py|bench_accounts_campaigns.py"
COPY_CHUNK = 20_000
DOMAINS = 5000
SEARCH_WARMUP_ROUNDS = 3
EPOCH = datetime(2025, 11, 26, 8, 0, tzinfo=UTC)  # seeded leads were created over the year before the run

# fmt: off
FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William",
    "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Christopher",
    "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Margaret", "Donald", "Ashley",
    "Steven", "Kimberly", "Andrew", "Emily", "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin",
    "Amanda", "Brian", "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca", "Jason",
    "Sharon", "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan", "Dorothy", "Jacob", "Amy", "Gary", "Kathleen",
    "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Emma", "Stephen", "Brenda", "Larry", "Pamela", "Justin",
    "Nicole", "Scott", "Anna", "Brandon", "Samantha",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
    "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker",
    "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz",
    "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers",
    "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim",
    "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza",
    "Ruiz", "Hughes", "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster",
    "Jimenez", "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson",
    "Barnes", "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton",
    "Graham", "Reynolds",
)
# fmt: on
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
)


# -- data -------------------------------------------------------------------------------------------


def lead_email(i: int) -> str:
    return f"lead{i}@company{i % DOMAINS}.com"


def lead_names(i: int) -> tuple[str, str]:
    """A deterministic, well-spread draw from the name pools (the same for the seed and the imports)."""
    rng = random.Random(i * 7919 + 17)
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


@dataclass
class Seed:
    ids: list[uuid.UUID]  # in id (= keyset) order; ids[i] is lead i
    haystacks: list[str]  # lower(email || ' ' || first_name || ' ' || last_name) of lead i
    records: list[tuple[Any, ...]] = field(repr=False)


def build_seed(organization_id: uuid.UUID, campaign_id: uuid.UUID, count: int) -> Seed:
    from coldsend.kit.ids import new_id

    ids = sorted(new_id() for _ in range(count))
    step = timedelta(seconds=365 * 24 * 3600 / count)
    records: list[tuple[Any, ...]] = []
    haystacks: list[str] = []
    for i, lead_id in enumerate(ids):
        email = lead_email(i)
        first, last = lead_names(i)
        company = i % DOMAINS
        created = EPOCH + i * step
        records.append(
            (
                organization_id,
                lead_id,
                campaign_id,
                email,
                1,
                first,
                last,
                f"Company {company}",
                f"company{company}.com",
                JOB_TITLES[i % len(JOB_TITLES)],
                "api",
                "{}",
                created,
                created,
            )
        )
        haystacks.append(f"{email} {first} {last}".lower())
    return Seed(ids, haystacks, records)


def import_body(campaign_id: uuid.UUID, indexes: Sequence[int]) -> bytes:
    """A POST /leads/add body for the leads `indexes` (new ones past the seed, or seeded ones)."""
    leads = []
    for i in indexes:
        first, last = lead_names(i)
        leads.append(
            {
                "email": lead_email(i),
                "first_name": first,
                "last_name": last,
                "company_name": f"Company {i % DOMAINS}",
                "job_title": JOB_TITLES[i % len(JOB_TITLES)],
            }
        )
    return orjson.dumps({"campaign_id": str(campaign_id), "skip_if_in_workspace": True, "leads": leads})


class NewLeads:
    """Hands out indexes of leads not in the database yet (past the seed), so every batch is new."""

    def __init__(self, start: int) -> None:
        self.next = start

    def take(self, count: int) -> range:
        taken = range(self.next, self.next + count)
        self.next += count
        return taken


# -- waiting and metering ---------------------------------------------------------------------------


def other_benchmarks() -> list[str]:
    """Command lines of the other bench/ benchmarks running now (pgrep without a shell never lists itself)."""
    done = subprocess.run(["pgrep", "-af", OTHER_BENCHMARKS], capture_output=True, text=True, timeout=30, check=False)
    return [line for line in done.stdout.splitlines() if line.strip()]


@dataclass
class Waiter:
    """Waits for other benchmarks to finish (one budget for the whole run) and for a quiet machine."""

    args: argparse.Namespace
    deadline: float = 0.0
    gave_up: bool = False

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.args.wait_others

    def others_done(self) -> None:
        running = other_benchmarks()
        if running:
            log(f"waiting for other benchmarks to finish: {running}")
        while running and time.monotonic() < self.deadline:
            time.sleep(10)
            running = other_benchmarks()
        if running:
            self.gave_up = True
            log(f"WARNING: other benchmarks still run after the --wait-others budget: {running}")

    def quiet(self) -> None:
        self.others_done()
        wait_for_quiet(self.args.wait_idle, self.args.idle_threshold, self.args.quiet_for)


@dataclass
class Metered:
    """One measured phase: its CPU, and how many times it was measured (earlier attempts were disturbed)."""

    cpu: CpuUse
    attempts: int

    @property
    def disturbed(self) -> bool:
        return disturbed(self.cpu)

    def as_json(self) -> dict[str, Any]:
        return {"cpu": asdict(self.cpu), "attempts": self.attempts, "disturbed": self.disturbed}


def metered(run: BenchRun, waiter: Waiter, name: str, work: Callable[[], T], retries: int) -> tuple[T, Metered]:
    """Quiet machine, then `work()` with the CPU metered; again (at most `retries` times) when disturbed."""
    attempt = 0
    while True:
        attempt += 1
        waiter.quiet()
        log(f"{name}: measuring" + (f" (attempt {attempt})" if attempt > 1 else ""))
        meter = CpuMeter(run.server_pid, run.postmaster_pid)
        meter.start()
        result = work()
        cpu = meter.stop()
        info = Metered(cpu, attempt)
        postgres = "n/a" if cpu.postgres is None else f"{cpu.postgres:.2f}"
        log(
            f"{name}: CPU cores: server {cpu.server:.2f}, PostgreSQL {postgres}, client {cpu.wrk:.2f}, "
            f"others {cpu.others:.2f}, machine {cpu.machine:.2f}/{cpu.cores}"
        )
        if not info.disturbed:
            return result, info
        log(f"WARNING: other processes used {cpu.others:.2f} cores during {name}; the figure is disturbed")
        if attempt > retries:
            return result, info


# -- database ---------------------------------------------------------------------------------------


@dataclass
class CopyResult:
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def copy_timed(dsn: str, table: str, records: Sequence[tuple[Any, ...]], *, create_scratch: bool = False) -> float:
    """COPY `records` into `table` in one transaction (20,000-row chunks); the seconds of the COPY alone.
    The table is emptied first (TRUNCATE, so a disturbed COPY can be measured again); with `create_scratch`
    it is (re)created as an index-less copy of `leads`' columns."""

    async def copy(conn: Any) -> float:
        if create_scratch:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
            await conn.execute(f"CREATE TABLE {table} (LIKE leads INCLUDING DEFAULTS)")
        else:
            await conn.execute(f"TRUNCATE {table}")
        # earlier work's dirty pages are not this COPY's to write (needs superuser or pg_checkpoint)
        with contextlib.suppress(Exception):
            await conn.execute("CHECKPOINT")
        began = time.perf_counter()
        async with conn.transaction():
            for start_at in range(0, len(records), COPY_CHUNK):
                await conn.copy_records_to_table(
                    table, records=records[start_at : start_at + COPY_CHUNK], columns=list(LEAD_COLUMNS)
                )
        return time.perf_counter() - began

    return with_connection(dsn, copy)


def execute(dsn: str, sql: str) -> float:
    async def run(conn: Any) -> float:
        began = time.perf_counter()
        await conn.execute(sql)
        return time.perf_counter() - began

    return with_connection(dsn, run)


def copy_batches(dsn: str, records: Sequence[Sequence[tuple[Any, ...]]]) -> list[float]:
    """Each batch COPYed into `leads` in its own transaction; the seconds of each (COPY + COMMIT)."""

    async def copy(conn: Any) -> list[float]:
        times = []
        for batch in records:
            began = time.perf_counter()
            async with conn.transaction():
                await conn.copy_records_to_table("leads", records=batch, columns=list(LEAD_COLUMNS))
            times.append(time.perf_counter() - began)
        return times

    return with_connection(dsn, copy)


@dataclass
class DbBatch:
    """Milliseconds of each statement of one import batch, run with asyncpg as the server runs them."""

    lock: float
    block_list: float
    presence: float
    insert: float
    commit: float

    @property
    def total(self) -> float:
        return self.lock + self.block_list + self.presence + self.insert + self.commit


def db_import_batches(
    dsn: str, organization_id: uuid.UUID, campaign_id: uuid.UUID, batches: Sequence[range]
) -> list[DbBatch]:
    """The statements of `LeadService._import` for a campaign with skip_if_in_workspace (the server's own
    SQL from coldsend.leads.repository), without HTTP, FastAPI, pydantic or SQLAlchemy."""
    from coldsend.kit.ids import new_id
    from coldsend.leads.repository import _INSERT, _PRESENCE_IN_CAMPAIGN, IMPORT_LOCK_CLASS

    async def run(conn: Any) -> list[DbBatch]:
        out = []
        for indexes in batches:
            emails = [lead_email(i) for i in indexes]
            names = [lead_names(i) for i in indexes]
            domains = [e.rpartition("@")[2] for e in emails]
            n = len(emails)
            marks = [time.perf_counter()]
            tx = conn.transaction()
            await tx.start()
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", IMPORT_LOCK_CLASS, str(organization_id)
            )
            marks.append(time.perf_counter())
            await conn.fetch(
                "SELECT bl_value FROM block_list_entries WHERE organization_id = $1 AND bl_value = ANY($2::text[])",
                organization_id,
                sorted(set(emails) | set(domains)),
            )
            marks.append(time.perf_counter())
            await conn.fetch(_PRESENCE_IN_CAMPAIGN, organization_id, emails, campaign_id)
            marks.append(time.perf_counter())
            rows = await conn.fetch(
                _INSERT,
                organization_id,
                campaign_id,
                None,
                datetime.now(UTC),
                None,
                [new_id() for _ in range(n)],
                emails,
                [f for f, _ in names],
                [last for _, last in names],
                [f"Company {i % DOMAINS}" for i in indexes],
                domains,
                [JOB_TITLES[i % len(JOB_TITLES)] for i in indexes],
                [None] * n,
                [None] * n,
                [None] * n,
                [None] * n,
                [None] * n,
                [None] * n,
                [None] * n,
            )
            marks.append(time.perf_counter())
            await tx.commit()
            marks.append(time.perf_counter())
            if len(rows) != n:
                raise RuntimeError(f"the direct INSERT stored {len(rows)} of {n} new leads")
            ms = [(b - a) * 1000 for a, b in itertools.pairwise(marks)]
            out.append(DbBatch(*ms))
        return out

    return with_connection(dsn, run)


def plan_shape(node: dict[str, Any]) -> str:
    """`Limit > Index Scan (leads_pkey)`-style summary of an EXPLAIN (FORMAT JSON) plan."""
    label = node["Node Type"]
    if "Index Name" in node:
        label += f" ({node['Index Name']})"
    children = node.get("Plans") or []
    if not children:
        return label
    inner = " + ".join(plan_shape(child) for child in children)
    return f"{label} > {inner}" if len(children) == 1 else f"{label} > [{inner}]"


def explain(dsn: str, queries: Sequence[str], samples: int) -> list[tuple[float, str]]:
    """Median execution time (ms) and plan shape of each query, EXPLAIN ANALYZE (SERIALIZE on 17+),
    interleaved, the first round a warm-up."""

    async def run(conn: Any) -> list[tuple[float, str]]:
        major = int(str(await conn.fetchval("SHOW server_version_num"))) // 10_000
        options = "ANALYZE, SERIALIZE, FORMAT JSON" if major >= 17 else "ANALYZE, FORMAT JSON"
        times: list[list[float]] = [[] for _ in queries]
        shapes = [""] * len(queries)
        for i in range(samples + 1):
            for k, sql in enumerate(queries):
                plan = json.loads(await conn.fetchval(f"EXPLAIN ({options}) {sql}"))
                if i > 0:
                    times[k].append(float(plan[0]["Execution Time"]))
                shapes[k] = plan_shape(plan[0]["Plan"])
        return [(statistics.median(t), s) for t, s in zip(times, shapes, strict=True)]

    return with_connection(dsn, run)


def server_sql(organization_id: uuid.UUID, body: dict[str, Any]) -> str:
    """The SELECT the server runs for a POST /leads/list body (coldsend.leads.listing), values inlined."""
    from sqlalchemy.dialects import postgresql

    from coldsend.kit.clock import utcnow
    from coldsend.leads.listing import LEADS, LeadSearchRepository
    from coldsend.leads.listing_schemas import ListLeadsBody

    parsed = ListLeadsBody.model_validate(body)
    repo = LeadSearchRepository(cast(Any, None), organization_id)  # builds statements only
    statement = repo.select(*repo.conditions(parsed, utcnow()))
    if parsed.starting_after:
        statement = statement.where(LEADS.c.id > uuid.UUID(parsed.starting_after))
    statement = statement.order_by(LEADS.c.id).limit(parsed.limit + 1)
    return str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


# -- HTTP -------------------------------------------------------------------------------------------

JSON_HEADERS = {"Content-Type": "application/json"}


def post_json(run: BenchRun, path: str, body: dict[str, Any]) -> Any:
    response = httpx.post(
        run.base + path, content=orjson.dumps(body), headers={**run.auth_headers, **JSON_HEADERS}, timeout=60.0
    )
    if response.status_code not in (200, 201):
        raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text[:500]}")
    return orjson.loads(response.content)


def create_campaign(run: BenchRun, name: str) -> uuid.UUID:
    schedule = {
        "schedules": [
            {
                "name": "Office hours",
                "timing": {"from": "09:00", "to": "17:00"},
                "days": {"1": True},
                "timezone": "America/Chicago",
            }
        ]
    }
    return uuid.UUID(post_json(run, CAMPAIGNS_PATH, {"name": name, "campaign_schedule": schedule})["id"])


def ids_of(payload: Any) -> list[str]:
    return [str(item["id"]) for item in payload["items"]]


@dataclass
class Probe:
    """A POST /leads/list body to time and the ids its page must hold, in order."""

    label: str
    body: dict[str, Any]
    expected: list[str]
    matches: int = 0  # leads matching the search in the whole workspace (search probes)


def time_probes(run: BenchRun, probes: Sequence[Probe], samples: int, warmup: int) -> list[list[float]]:
    """Sequential POSTs on one keep-alive connection, the probes interleaved (drift hits all alike), after
    `warmup` rounds; the first round checks every answer. Milliseconds per probe."""
    times: list[list[float]] = [[] for _ in probes]
    bodies = [orjson.dumps(p.body) for p in probes]
    headers = {**run.auth_headers, **JSON_HEADERS}
    with httpx.Client(base_url=run.base, headers=headers, timeout=HTTP_TIMEOUT_S) as client:
        for i in range(warmup + samples):
            for probe, body, bucket in zip(probes, bodies, times, strict=True):
                began = time.perf_counter()
                response = client.post(LIST_PATH, content=body)
                payload = orjson.loads(response.content)
                elapsed = (time.perf_counter() - began) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{probe.label} answered {response.status_code}: {response.text[:500]}")
                if i == 0 and ids_of(payload) != probe.expected:
                    got = ids_of(payload)
                    raise RuntimeError(
                        f"{probe.label}: {len(got)} unexpected items {got[:3]}... instead of "
                        f"{len(probe.expected)}: {probe.expected[:3]}..."
                    )
                if i >= warmup:
                    bucket.append(elapsed)
    return times


@dataclass
class ImportRun:
    """Batches of POST /leads/add: the wall time of all of them and each batch's latency (ms)."""

    label: str
    batches: int
    leads_per_batch: int
    concurrency: int
    wall_s: float
    latencies_ms: list[float]
    metered: Metered | None = None

    @property
    def rate(self) -> float:
        return self.batches * self.leads_per_batch / self.wall_s

    def as_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "metered"}
        out["leads_per_s"] = self.rate
        out["metered"] = None if self.metered is None else self.metered.as_json()
        return out


Check = Callable[[dict[str, Any]], str | None]


def post_batches(run: BenchRun, bodies: Sequence[bytes], concurrency: int, check: Check) -> tuple[float, list[float]]:
    """POST every body to /leads/add from `concurrency` clients sharing the queue; the wall seconds and
    each batch's latency in ms (request sent to answer parsed). `check` names what is wrong with an answer."""

    async def go() -> tuple[float, list[float]]:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        headers = {**run.auth_headers, **JSON_HEADERS}
        latencies = [0.0] * len(bodies)
        queue = iter(range(len(bodies)))
        async with httpx.AsyncClient(base_url=run.base, headers=headers, timeout=60.0, limits=limits) as client:

            async def worker() -> None:
                for index in queue:
                    began = time.perf_counter()
                    response = await client.post(ADD_PATH, content=bodies[index])
                    payload = orjson.loads(response.content)
                    latencies[index] = (time.perf_counter() - began) * 1000
                    if response.status_code != 200:
                        raise RuntimeError(f"POST {ADD_PATH} answered {response.status_code}: {response.text[:500]}")
                    problem = check(payload)
                    if problem is not None:
                        raise RuntimeError(f"POST {ADD_PATH}: {problem}: {response.text[:300]}")

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - began, latencies

    return asyncio.run(go())


def expect(field_name: str, count: int) -> Check:
    def check(payload: dict[str, Any]) -> str | None:
        if payload.get(field_name) != count or payload.get("total_sent") != count:
            return f"expected {field_name} = {count} of {count}"
        return None

    return check


# -- the phases -------------------------------------------------------------------------------------


@dataclass
class SeedResult:
    seed_copy: CopyResult
    seed_metered: Metered
    scratch_copy: CopyResult
    scratch_metered: Metered
    vacuum_s: float
    table_mb: float
    indexes_mb: float


def seed_phase(run: BenchRun, waiter: Waiter, campaign_id: uuid.UUID) -> tuple[Seed, SeedResult]:
    args = run.args
    log(f"generating {args.leads:,} leads")
    seed = build_seed(run.organization_id, campaign_id, args.leads)

    def copy_seed() -> float:
        return copy_timed(run.dsn, "leads", seed.records)

    seconds, seed_metered = metered(run, waiter, f"COPY {args.leads:,} leads into leads", copy_seed, args.retries)
    log(f"COPY into leads: {seconds:.1f}s, {args.leads / seconds:,.0f} rows/s")

    def copy_scratch() -> float:
        return copy_timed(run.dsn, "bench_copy_ceiling", seed.records, create_scratch=True)

    scratch_s, scratch_metered = metered(run, waiter, "COPY into an index-less table", copy_scratch, args.retries)
    log(f"COPY into the index-less table: {scratch_s:.1f}s, {args.leads / scratch_s:,.0f} rows/s")
    execute(run.dsn, "DROP TABLE bench_copy_ceiling")
    seed.records = []  # free the rows: the ids and the search haystacks are kept

    log("VACUUM (ANALYZE) leads")
    vacuum_s = execute(run.dsn, "VACUUM (ANALYZE) leads")

    async def sizes(conn: Any) -> tuple[float, float]:
        table = await conn.fetchval("SELECT pg_table_size('leads')")
        indexes = await conn.fetchval("SELECT pg_indexes_size('leads')")
        return table / 2**20, indexes / 2**20

    table_mb, indexes_mb = with_connection(run.dsn, sizes)
    result = SeedResult(
        CopyResult(args.leads, seconds),
        seed_metered,
        CopyResult(args.leads, scratch_s),
        scratch_metered,
        vacuum_s,
        table_mb,
        indexes_mb,
    )
    return seed, result


@dataclass
class PagesResult:
    label: str
    pages: PageTimes
    db_first_ms: float
    db_deep_ms: float
    metered: Metered

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            **self.pages.as_json(),
            "db_first_ms": self.db_first_ms,
            "db_deep_ms": self.db_deep_ms,
            "metered": self.metered.as_json(),
        }


def pages_phase(run: BenchRun, waiter: Waiter, seed: Seed, campaign_id: uuid.UUID) -> list[PagesResult]:
    args = run.args
    count = len(seed.ids)
    deep_index = count - PAGE_LIMIT - 1  # 0-based index of the cursor lead
    cursor = str(seed.ids[deep_index])
    first_ids = [str(i) for i in seed.ids[:PAGE_LIMIT]]
    deep_ids = [str(i) for i in seed.ids[deep_index + 1 :]]
    results = []
    for label, scope in (("campaign", {"campaign": str(campaign_id)}), ("workspace", {})):
        first = Probe(f"{label} first page", {**scope, "limit": PAGE_LIMIT}, first_ids)
        deep = Probe(f"{label} deep page", {**scope, "limit": PAGE_LIMIT, "starting_after": cursor}, deep_ids)

        def work(first: Probe = first, deep: Probe = deep) -> list[list[float]]:
            return time_probes(run, [first, deep], args.page_samples, PAGE_WARMUP_PAIRS)

        (first_ms, deep_ms), info = metered(run, waiter, f"POST /leads/list pages ({label})", work, args.retries)
        pages = PageTimes(first_ms, deep_ms, info.cpu, info.attempts)
        explained = explain(
            run.dsn, [server_sql(run.organization_id, p.body) for p in (first, deep)], args.explain_samples
        )
        log(
            f"pages ({label}): first {pages.first_median:.2f} ms, deep {pages.deep_median:.2f} ms "
            f"({pages.ratio:.2f}x); plans: {explained[0][1]} | {explained[1][1]}"
        )
        results.append(PagesResult(label, pages, explained[0][0], explained[1][0], info))
    return results


@dataclass
class SearchResult:
    probe: Probe
    times_ms: list[float]
    db_ms: float
    plan: str

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        return quantile(self.times_ms, 0.95)

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.probe.label,
            "search": self.probe.body["search"],
            "matches": self.probe.matches,
            "returned": len(self.probe.expected),
            "median_ms": self.median,
            "p95_ms": self.p95,
            "min_ms": min(self.times_ms),
            "db_ms": self.db_ms,
            "plan": self.plan,
            "times_ms": self.times_ms,
        }


def search_cases(count: int) -> list[tuple[str, str]]:
    """(label, search) for the seeded leads: each names something that exists in a seed of `count`."""
    i = count * 7 // 9  # 777,777 for a million
    first, last = lead_names(i)
    domain_index = (i + 1440) % DOMAINS
    return [
        ("exact email", lead_email(i)),
        ("email fragment (local part)", f"lead{i // 10}"),
        ("first name", first.lower()),
        ('"first last"', f"{first} {last}".lower()),
        ("company domain", f"company{domain_index}.com"),
        ("2-letter fragment", "ma"),
        ("no match", "zqxj"),
    ]


def expected_matches(seed: Seed, search: str) -> list[int]:
    """Indexes of the seeded leads the server's `search` matches (see coldsend.leads.listing)."""
    fragment = search.strip().lower()
    if len(fragment) >= 3:
        return [i for i, h in enumerate(seed.haystacks) if fragment in h]
    spaced = " " + fragment
    return [i for i, h in enumerate(seed.haystacks) if h.startswith(fragment) or spaced in h]


def search_phase(run: BenchRun, waiter: Waiter, seed: Seed) -> tuple[list[SearchResult], Metered]:
    args = run.args
    probes = []
    for label, search in search_cases(len(seed.ids)):
        matched = expected_matches(seed, search)
        expected = [str(seed.ids[i]) for i in matched[:PAGE_LIMIT]]
        probes.append(Probe(label, {"search": search, "limit": PAGE_LIMIT}, expected, len(matched)))
        log(f"search {search!r}: {len(matched):,} matching leads")

    def work() -> list[list[float]]:
        return time_probes(run, probes, args.search_samples, SEARCH_WARMUP_ROUNDS)

    times, info = metered(run, waiter, "search", work, args.retries)
    explained = explain(run.dsn, [server_sql(run.organization_id, p.body) for p in probes], args.explain_samples)
    results = [SearchResult(p, t, db, plan) for p, t, (db, plan) in zip(probes, times, explained, strict=True)]
    for r in results:
        log(f"search {r.probe.body['search']!r}: median {r.median:.1f} ms, p95 {r.p95:.1f} ms, DB {r.db_ms:.2f} ms")
    return results, info


@dataclass
class ImportResults:
    sequential: ImportRun
    concurrent: ImportRun
    duplicated: ImportRun
    skipped: ImportRun
    db_batches: list[DbBatch]
    copy_batch_s: list[float]
    copy_metered: Metered
    db_metered: Metered

    @property
    def copy_rate(self) -> float:
        return len(self.copy_batch_s) * self.sequential.leads_per_batch / sum(self.copy_batch_s)

    def as_json(self) -> dict[str, Any]:
        return {
            "sequential": self.sequential.as_json(),
            "concurrent": self.concurrent.as_json(),
            "dedupe_same_campaign": self.duplicated.as_json(),
            "dedupe_other_campaign": self.skipped.as_json(),
            "db_batches_ms": [asdict(b) for b in self.db_batches],
            "db_metered": self.db_metered.as_json(),
            "copy_batches_s": self.copy_batch_s,
            "copy_batches_rows_per_s": self.copy_rate,
            "copy_metered": self.copy_metered.as_json(),
        }


def import_run(
    run: BenchRun, waiter: Waiter, label: str, make: Callable[[], list[bytes]], concurrency: int, check: Check
) -> ImportRun:
    """Warm-up batches (one per client, unmeasured), then the measured batches; fresh leads per attempt."""
    args = run.args

    def work() -> ImportRun:
        bodies = make()
        warmup, measured = bodies[:concurrency], bodies[concurrency:]
        post_batches(run, warmup, concurrency, check)
        wall, latencies = post_batches(run, measured, concurrency, check)
        return ImportRun(label, len(measured), args.batch_size, concurrency, wall, latencies)

    result, info = metered(run, waiter, label, work, args.retries)
    result.metered = info
    log(
        f"{label}: {result.rate:,.0f} leads/s, batch p50 {statistics.median(result.latencies_ms):.1f} ms, "
        f"p95 {quantile(result.latencies_ms, 0.95):.1f} ms"
    )
    return result


def imports_phase(run: BenchRun, waiter: Waiter, campaign_id: uuid.UUID, other_campaign_id: uuid.UUID) -> ImportResults:
    args = run.args
    size = args.batch_size
    fresh = NewLeads(args.leads)

    def new_bodies(count: int) -> Callable[[], list[bytes]]:
        return lambda: [import_body(campaign_id, fresh.take(size)) for _ in range(count)]

    uploaded = expect("leads_uploaded", size)
    sequential = import_run(run, waiter, "sequential", new_bodies(args.batches + 1), 1, uploaded)
    concurrent = import_run(
        run, waiter, f"{args.concurrency} concurrent clients", new_bodies(args.batches + args.concurrency),
        args.concurrency, uploaded,
    )  # fmt: skip

    # already there: slices of seeded leads spread over the seed, taken in turn
    existing = itertools.cycle(range(0, args.leads - size, max(size, (args.leads - size) // 64)))

    def old_bodies(target: uuid.UUID) -> Callable[[], list[bytes]]:
        def make() -> list[bytes]:
            starts = [next(existing) for _ in range(args.dedupe_batches + 1)]
            return [import_body(target, range(start, start + size)) for start in starts]

        return make

    duplicated = import_run(
        run, waiter, "existing leads, same campaign", old_bodies(campaign_id), 1, expect("duplicated_leads", size)
    )
    skipped = import_run(
        run, waiter, "existing leads, other campaign", old_bodies(other_campaign_id), 1, expect("skipped_count", size)
    )

    def db_work() -> list[DbBatch]:
        batches = [fresh.take(size) for _ in range(args.db_batches + 1)]
        return db_import_batches(run.dsn, run.organization_id, campaign_id, batches)[1:]  # the first warms up

    db_batches, db_metered = metered(run, waiter, "import statements via asyncpg", db_work, args.retries)

    def copy_work() -> list[float]:
        from coldsend.kit.ids import new_id

        now = datetime.now(UTC)
        batches = []
        for _ in range(args.copy_batches + 1):
            rows = []
            for i in fresh.take(size):
                first, last = lead_names(i)
                company = i % DOMAINS
                rows.append(
                    (run.organization_id, new_id(), campaign_id, lead_email(i), 1, first, last, f"Company {company}",
                     f"company{company}.com", JOB_TITLES[i % len(JOB_TITLES)], "api", "{}", now, now)
                )  # fmt: skip
            batches.append(rows)
        return copy_batches(run.dsn, batches)[1:]  # the first warms up

    copy_s, copy_metered = metered(run, waiter, f"COPY {size:,}-lead batches into leads", copy_work, args.retries)
    results = ImportResults(
        sequential,
        concurrent,
        duplicated,
        skipped,
        db_batches=db_batches,
        copy_batch_s=copy_s,
        copy_metered=copy_metered,
        db_metered=db_metered,
    )
    log(f"COPY batches: {results.copy_rate:,.0f} rows/s")
    return results


def profile_imports(run: BenchRun, campaign_id: uuid.UUID, fresh_start: int) -> None:
    """py-spy the server while it imports batches of new leads one at a time (not a measurement)."""
    args = run.args
    pyspy = args.py_spy_bin or shutil.which("py-spy")
    if pyspy is None:
        log("py-spy not found (pip install py-spy, or pass --py-spy-bin); skipping the profile")
        return
    out = Path(args.py_spy).resolve()
    fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(out.suffix, "raw")
    fresh = NewLeads(fresh_start)
    bodies = [import_body(campaign_id, fresh.take(args.batch_size)) for _ in range(args.profile_batches)]
    cmd = [pyspy, "record", "--pid", str(run.server_pid), "--rate", "200", "--format", fmt, "--output", str(out)]
    log(f"profiling the server with py-spy over {len(bodies)} import batches -> {out}")
    recorder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        wall, _ = post_batches(run, bodies, 1, expect("leads_uploaded", args.batch_size))
        log(f"under py-spy: {len(bodies) * args.batch_size / wall:,.0f} leads/s (not a measurement)")
    finally:
        stop_process("py-spy", recorder)  # SIGINT: py-spy writes its output and exits


# -- report -----------------------------------------------------------------------------------------


def cores(info: Metered | None) -> tuple[str, str, str, str]:
    if info is None:
        return "n/a", "n/a", "n/a", "n/a"
    cpu = info.cpu
    postgres = "n/a" if cpu.postgres is None else f"{cpu.postgres:.2f}"
    return f"{cpu.server:.2f}", postgres, f"{cpu.wrk:.2f}", f"{cpu.others:.2f}"


def import_row(name: str, result: ImportRun, ceiling: float) -> str:
    lat = result.latencies_ms
    server, postgres, client, others = cores(result.metered)
    return (
        f"| {name} | {result.batches} x {result.leads_per_batch:,} | **{result.rate:,.0f}** "
        f"| {statistics.median(lat):.1f} ms | {quantile(lat, 0.95):.1f} ms | {max(lat):.1f} ms "
        f"| {result.rate / ceiling:.0%} | {server} | {postgres} | {client} | {others} |"
    )


def dedupe_row(name: str, result: ImportRun) -> str:
    lat = result.latencies_ms
    server, postgres, client, others = cores(result.metered)
    return (
        f"| {name} | {result.batches} x {result.leads_per_batch:,} | {result.rate:,.0f} "
        f"| {statistics.median(lat):.1f} ms | {quantile(lat, 0.95):.1f} ms | {max(lat):.1f} ms "
        f"| | {server} | {postgres} | {client} | {others} |"
    )


def report(
    args: argparse.Namespace,
    run: BenchRun,
    seeded: SeedResult,
    pages: Sequence[PagesResult],
    searches: Sequence[SearchResult],
    search_info: Metered,
    imports: ImportResults,
    waiter: Waiter,
) -> str:
    n = args.leads
    size = args.batch_size
    seq, conc = imports.sequential, imports.concurrent
    best = max(seq, conc, key=lambda r: r.rate)
    import_ok = best.rate >= TARGET_IMPORT_RATE
    campaign_pages = pages[0]
    pages_ok = campaign_pages.pages.ratio <= TARGET_PAGE_RATIO
    search_ok = all(s.median <= TARGET_SEARCH_MS for s in searches)
    worst = max(searches, key=lambda s: s.median)
    copy_rate = imports.copy_rate
    db = imports.db_batches

    def db_med(name: str) -> float:
        return statistics.median(getattr(b, name) for b in db)

    db_total = statistics.median(b.total for b in db)
    db_mean = statistics.fmean(b.total for b in db)
    phases: list[tuple[str, Metered | None]] = [
        ("seed COPY", seeded.seed_metered),
        ("scratch COPY", seeded.scratch_metered),
        *((f"{p.label} pages", p.metered) for p in pages),
        ("search", search_info),
        (seq.label, seq.metered),
        (conc.label, conc.metered),
        (imports.duplicated.label, imports.duplicated.metered),
        (imports.skipped.label, imports.skipped.metered),
        ("import statements", imports.db_metered),
        ("COPY batches", imports.copy_metered),
    ]
    flagged = ", ".join(f"{name} {m.cpu.others:.2f} cores" for name, m in phases if m is not None and m.disturbed)
    warnings = []
    if flagged:
        warnings += [f"WARNING: other processes used CPU during: {flagged}; do not report this run.", ""]
    if waiter.gave_up:
        warnings += ["WARNING: other benchmarks were still running at some point; do not report this run.", ""]

    lines = [
        f"Headline: `POST /api/v2/leads/add` ({size:,}-lead batches, `skip_if_in_workspace`, campaign of "
        f"{n:,} leads): {seq.rate:,.0f} leads/s sequential, {conc.rate:,.0f} leads/s with {conc.concurrency} "
        f"clients (target ≥ {TARGET_IMPORT_RATE:,.0f}: {verdict(import_ok)}); {best.rate / copy_rate:.0%} of "
        f"PostgreSQL's COPY rate for the same batches ({copy_rate:,.0f} rows/s). `POST /leads/list` page at "
        f"lead {n:,}: {campaign_pages.pages.ratio:.2f}x the first (target ≤ {TARGET_PAGE_RATIO}x: "
        f"{verdict(pages_ok)}). `search`: slowest median {worst.median:.1f} ms ({worst.probe.label}; target "
        f"≤ {TARGET_SEARCH_MS:.0f} ms: {verdict(search_ok)}).",
        "",
        *warnings,
        f"{run.database_label}; one `coldsend serve --no-worker` process, rate limits off; the client is this "
        "script (httpx) on the same machine. CPU columns are in cores (1.00 = one core busy for the whole "
        "phase): the server process, PostgreSQL (postmaster and every backend), this client, everything else.",
        "",
        "PostgreSQL COPY rate (asyncpg `copy_records_to_table`, binary; the seconds of the COPY alone):",
        "",
        "| COPY | rows | seconds | rows/s | PostgreSQL CPU | client CPU | others |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result, info in (
        (
            f"seed: {n:,} leads into the empty `leads` table (its 7 indexes incl. the GIN trigram index, "
            "and the foreign key to campaigns, maintained), one transaction",
            seeded.seed_copy,
            seeded.seed_metered,
        ),
        (
            "the same rows into an index-less scratch table `(LIKE leads INCLUDING DEFAULTS)` (raw ceiling)",
            seeded.scratch_copy,
            seeded.scratch_metered,
        ),
    ):
        _, postgres, client, others = cores(info)
        lines.append(
            f"| {name} | {result.rows:,} | {result.seconds:.1f} | {result.rate:,.0f} | {postgres} | {client} "
            f"| {others} |"
        )
    _, postgres, client, others = cores(imports.copy_metered)
    lines += [
        f"| {len(imports.copy_batch_s)} batches of {size:,} new leads into `leads` holding {n:,}+ (all indexes), "
        f"one transaction each (the like-for-like ceiling of an import batch) | {len(imports.copy_batch_s) * size:,} "
        f"| {sum(imports.copy_batch_s):.2f} | **{copy_rate:,.0f}** | {postgres} | {client} | {others} |",
        "",
        f"Then `VACUUM (ANALYZE) leads`: {seeded.vacuum_s:.1f} s. Table {seeded.table_mb:,.0f} MB, its indexes "
        f"{seeded.indexes_mb:,.0f} MB.",
        "",
        f"`POST /api/v2/leads/add`, {size:,} new leads per batch (email, first/last name, company, job title) into "
        f"the campaign of {n:,} leads, `skip_if_in_workspace: true`, bodies serialized before timing, each "
        "batch timed from request sent to answer parsed; every answer checked (`leads_uploaded` = "
        f'{size:,}). One warm-up batch per client first. "vs COPY" = leads/s over the COPY-batch rate above:',
        "",
        "| Run | batches | leads/s | batch p50 | batch p95 | batch max | vs COPY | server | PostgreSQL | client "
        "| others |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        import_row("one client, one batch at a time", seq, copy_rate),
        import_row(f"{conc.concurrency} concurrent clients", conc, copy_rate),
        dedupe_row("dedupe: leads already in the campaign (all `duplicated_leads`), one at a time", imports.duplicated),
        dedupe_row(
            "dedupe: leads already in the workspace, into a 2nd campaign (all `skipped_count`), one at a time",
            imports.skipped,
        ),
        "",
        f"The database's part of one batch: the server's own statements (from `coldsend.leads.repository`) run "
        f"directly with asyncpg, {len(db)} batches of {size:,} new leads, ms (statements: median):",
        "",
        "| advisory lock | block list | presence (`skip_if_in_workspace`) | INSERT ... unnest RETURNING | COMMIT "
        "| total, median | total, mean | total, max | leads/s at the mean |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {db_med('lock'):.2f} | {db_med('block_list'):.2f} | {db_med('presence'):.2f} | {db_med('insert'):.2f} "
        f"| {db_med('commit'):.2f} | {db_total:.1f} | **{db_mean:.1f}** | {max(b.total for b in db):.1f} "
        f"| {size / db_mean * 1000:,.0f} |",
        "",
        f"`POST /api/v2/leads/list`, `limit={PAGE_LIMIT}`, sequential httpx on one connection, "
        f"{args.page_samples} samples each (first and deep page interleaved, after {PAGE_WARMUP_PAIRS} warm-up "
        f"pairs); the deep page holds leads {n - PAGE_LIMIT + 1:,}-{n:,}; PostgreSQL execution is EXPLAIN "
        "ANALYZE of the server's statement:",
        "",
        *PAGE_TABLE_HEAD,
    ]
    for p in pages:
        scope = "`campaign`" if p.label == "campaign" else "no filter (the whole workspace)"
        lines += page_rows(
            f"{scope}, first page (leads 1-{PAGE_LIMIT})",
            f"{scope}, after lead {n - PAGE_LIMIT:,}",
            p.pages,
            p.db_first_ms,
            p.db_deep_ms,
        )
    lines += [
        "",
        f"`search` over the workspace ({n:,} leads), `limit={PAGE_LIMIT}`, {args.search_samples} sequential "
        f"requests per search (interleaved, after {SEARCH_WARMUP_ROUNDS} warm-up rounds), answers checked "
        "against the seeded data; plan and execution time from EXPLAIN ANALYZE of the server's statement:",
        "",
        "| search | matching leads | median | p95 | min | PostgreSQL execution | plan | ≤ 50 ms (median) |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for s in searches:
        lines.append(
            f"| {s.probe.label}: `{s.probe.body['search']}` | {s.probe.matches:,} | {s.median:.1f} ms "
            f"| {s.p95:.1f} ms | {min(s.times_ms):.1f} ms | {s.db_ms:.2f} ms | {s.plan} "
            f"| {verdict(s.median <= TARGET_SEARCH_MS)} |"
        )
    server, postgres, client, others = cores(search_info)
    lines += [
        "",
        f"CPU while searching: server {server}, PostgreSQL {postgres}, client {client}, others {others} cores.",
        "",
        "| Target | Measured | Verdict |",
        "|---|---|---|",
        f"| `POST /leads/add` ≥ {TARGET_IMPORT_RATE:,.0f} leads/s ({size:,}-lead batches, `skip_if_in_workspace`, "
        f"campaign of {n:,}) | {seq.rate:,.0f} leads/s sequential, {conc.rate:,.0f} with {conc.concurrency} "
        f"clients ({best.rate / TARGET_IMPORT_RATE:.0%} of target) | {verdict(import_ok)} |",
        f"| PostgreSQL COPY rate, same batches into the same table (reported) | {copy_rate:,.0f} rows/s; import at "
        f"{best.rate / copy_rate:.0%} of it | reported |",
        f"| `POST /leads/list` page at lead {n:,} ≤ {TARGET_PAGE_RATIO}x first page (campaign) "
        f"| {campaign_pages.pages.ratio:.2f}x ({campaign_pages.pages.deep_median:.2f} vs "
        f"{campaign_pages.pages.first_median:.2f} ms) | {verdict(pages_ok)} |",
    ]
    if len(pages) > 1:
        ws = pages[1].pages
        lines.append(
            f"| the same without a campaign (whole workspace) | {ws.ratio:.2f}x ({ws.deep_median:.2f} vs "
            f"{ws.first_median:.2f} ms) | {verdict(ws.ratio <= TARGET_PAGE_RATIO)} |"
        )
    lines.append(
        f"| `search` over {n:,} leads ≤ {TARGET_SEARCH_MS:.0f} ms (median of each search) | slowest "
        f"{worst.median:.1f} ms median, {max(s.p95 for s in searches):.1f} ms worst p95 | {verdict(search_ok)} |"
    )
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark POST /api/v2/leads/add into a campaign of a million leads, the deep pages and the "
        "search of POST /api/v2/leads/list, against PostgreSQL's COPY rate on the same machine.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads seeded into the campaign")
    parser.add_argument("--batch-size", type=int, default=1000, help="leads per POST /leads/add batch (<= 1000)")
    parser.add_argument("--batches", type=int, default=30, help="measured import batches, sequential and concurrent")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent clients of the concurrent import run")
    parser.add_argument("--dedupe-batches", type=int, default=10, help="batches of existing leads, per dedupe run")
    parser.add_argument("--db-batches", type=int, default=10, help="batches of the import statements via asyncpg")
    parser.add_argument("--copy-batches", type=int, default=30, help="COPY batches of --batch-size into leads")
    parser.add_argument("--page-samples", type=int, default=50, help="timed requests per page (first and deep)")
    parser.add_argument("--search-samples", type=int, default=30, help="timed requests per search")
    parser.add_argument("--explain-samples", type=int, default=10, help="EXPLAIN ANALYZE runs per query (median)")
    parser.add_argument(
        "--py-spy",
        default=None,
        metavar="OUT",
        help="after measuring, profile the server with py-spy while it imports --profile-batches batches into OUT "
        "(.svg flamegraph, .json speedscope, anything else: collapsed stacks)",
    )
    parser.add_argument("--profile-batches", type=int, default=60, help="import batches under py-spy")
    parser.add_argument(
        "--wait-others",
        type=float,
        default=2400.0,
        help=f"wait up to this many seconds in all for other benchmarks ({OTHER_BENCHMARKS}) to finish",
    )
    add_server_arguments(parser)
    args = parser.parse_args(argv)
    if not 2 * PAGE_LIMIT + 1 <= args.leads <= 10_000_000:
        parser.error(f"--leads must be in {2 * PAGE_LIMIT + 1}..10000000")
    if not 1 <= args.batch_size <= 1000:
        parser.error("--batch-size must be in 1..1000 (the API's limit)")
    for name in ("batches", "concurrency", "dedupe_batches", "db_batches", "copy_batches", "profile_batches"):
        if not 1 <= getattr(args, name) <= 1000:
            parser.error(f"--{name.replace('_', '-')} must be in 1..1000")
    for name in ("page_samples", "search_samples", "explain_samples"):
        if not 1 <= getattr(args, name) <= 10_000:
            parser.error(f"--{name.replace('_', '-')} must be in 1..10000")
    if args.leads < (args.dedupe_batches + 1) * args.batch_size * 2:
        parser.error("--leads must hold at least 2 x (--dedupe-batches + 1) x --batch-size leads")
    if not 0 <= args.wait_others <= 4 * 3600 or not 0 <= args.wait_idle <= 3600:
        parser.error("--wait-others must be in 0..14400 and --wait-idle in 0..3600")
    if not 0 < args.idle_threshold <= 1 or not 1 <= args.quiet_for <= 600 or not 0 <= args.retries <= 20:
        parser.error("need 0 < --idle-threshold <= 1, 1 <= --quiet-for <= 600, 0 <= --retries <= 20")
    for item in args.server_env:
        if "=" not in item or not item.partition("=")[0]:
            parser.error(f"--server-env wants NAME=VALUE, not {item!r}")
    return args


def benchmark(run: BenchRun, waiter: Waiter) -> str:
    args = run.args
    run.start_servers()
    campaign_id = create_campaign(run, "Bench leads")
    other_campaign_id = create_campaign(run, "Bench leads (second)")
    log(f"campaigns {campaign_id} (seeded) and {other_campaign_id}")

    seed, seeded = seed_phase(run, waiter, campaign_id)
    pages = pages_phase(run, waiter, seed, campaign_id)
    searches, search_info = search_phase(run, waiter, seed)
    imports = imports_phase(run, waiter, campaign_id, other_campaign_id)
    if args.py_spy:
        profile_imports(run, campaign_id, args.leads * 10)
    run.write_json(
        {
            "leads": args.leads,
            "copy": {
                "seed": {**asdict(seeded.seed_copy), "rate": seeded.seed_copy.rate, **seeded.seed_metered.as_json()},
                "scratch": {
                    **asdict(seeded.scratch_copy),
                    "rate": seeded.scratch_copy.rate,
                    **seeded.scratch_metered.as_json(),
                },
                "vacuum_s": seeded.vacuum_s,
                "table_mb": seeded.table_mb,
                "indexes_mb": seeded.indexes_mb,
            },
            "pages": [p.as_json() for p in pages],
            "search": [s.as_json() for s in searches],
            "search_metered": search_info.as_json(),
            "imports": imports.as_json(),
        }
    )
    return report(args, run, seeded, pages, searches, search_info, imports, waiter)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    waiter = Waiter(args)
    waiter.others_done()  # before the database even starts
    return run_benchmark(args, lambda run: benchmark(run, waiter))


if __name__ == "__main__":
    sys.exit(main())

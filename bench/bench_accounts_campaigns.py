"""Benchmark of the accounts and campaigns issue: deep pages of both lists, and GET /api/v2/campaigns/{id}.

Targets (issue text): `GET /api/v2/accounts` with 10,000 accounts and `GET /api/v2/campaigns` with 10,000
campaigns, page time at the last page within 1.5x of the first; `GET /api/v2/campaigns/{id}` for a campaign
with 5 steps x 3 variants at >= 1,500 requests/s with one server process.

What it does, end to end, talking to 127.0.0.1 only (the machinery is bench/harness.py):

1. Opens a database (a fresh embedded PostgreSQL in a temporary COLDSEND_HOME, or --database-url), creates
   a workspace and an all:all API key with the `coldsend` CLI.
2. Seeds --accounts accounts and --campaigns campaigns into it with COPY, then ANALYZE:
   - accounts: unique lower-case emails on 40 domains, timestamp_created spread over a year at millisecond
     precision, about one in four sharing its millisecond with the previous one (bulk imports), so the
     `timestamp_created&email` cursor needs its email part; the account just before the last page and the
     first one on it always share their timestamp;
   - campaigns: one schedule (09:00-17:00, Monday-Friday, America/Chicago) and one sequence of 5 email
     steps (delay 2 days) x 3 variants, each with a subject and an HTML body of about 1 KB, different in
     every campaign; 3 of the seeded accounts in email_list. The schedule and sequence of the first
     campaign are validated with the API's own request models.
3. Starts `python -m coldsend serve --no-worker` (rate limits off) and bench/bare_starlette.py.
4. wrk -t1 -c50: bare Starlette, then GET /api/v2/campaigns/{id} cycling over --rotate-ids campaign ids
   (warm-up, then a measured run; quiet machine first, CPU metered, disturbed runs measured again).
5. Times, with sequential requests (limit=100, first and deep page interleaved, median of --page-samples):
   - GET /api/v2/accounts: the first page, and the last one. Its cursor is built like the server's own
     `next_starting_after` (checked against the first page's), from the account at position N-100 in
     (timestamp_created, email) order as PostgreSQL sorts it;
   - GET /api/v2/campaigns: the first page, and the page after the campaign at position N-100 in id order.
   Both pages must hold exactly the expected items. Also PostgreSQL's execution time of the same keyset
   queries (EXPLAIN ANALYZE, with SERIALIZE on PostgreSQL 17+).
6. Prints markdown tables and the verdicts; stops the servers and removes the temporary data.

    .venv/bin/python bench/bench_accounts_campaigns.py             # the full run (about 1.5 minutes when quiet)
    .venv/bin/python bench/bench_accounts_campaigns.py --accounts 2000 --campaigns 2000 --duration 3 --warmup 1
    .venv/bin/python bench/bench_accounts_campaigns.py --py-spy /tmp/campaign.svg   # and a flamegraph
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import harness
from harness import PAGE_LIMIT, BenchRun, PageProbe, PageTimes, WrkResult, log, verdict

TARGET_RPS = 1500.0
TARGET_PAGE_RATIO = 1.5

ACCOUNTS_PATH = "/api/v2/accounts"
CAMPAIGNS_PATH = "/api/v2/campaigns"
STEPS = 5
VARIANTS = 3
BODY_BYTES = 1024
TIMEZONE = "America/Chicago"
EPOCH = datetime(2025, 11, 26, 8, 0, tzinfo=UTC)  # a year before the run date: timestamps spread from here

FIRST_NAMES = ("anna", "ben", "carla", "dmitri", "elena", "farid", "grace", "hugo", "ines", "jonas", "kira", "liam")
LAST_NAMES = ("meyer", "novak", "okafor", "perez", "quinn", "rossi", "silva", "tanaka", "usman", "vogel", "wright")
WORDS_TEXT = (
    "pipeline quarter outreach revenue team growth meeting calendar results customers launch product "
    "feedback onboarding integration workflow pricing demo trial budget roadmap report insight partner "
    "market region campaign channel inbound outbound follow-up question idea minutes value process"
)
WORDS = tuple(WORDS_TEXT.split())

ACCOUNT_COLUMNS = (
    "organization_id",
    "id",
    "email",
    "first_name",
    "last_name",
    "provider_code",
    "status",
    "warmup_status",
    "setup_pending",
    "is_managed_account",
    "is_prewarmed",
    "warmup",
    "daily_limit",
    "sending_gap",
    "stat_warmup_score",
    "timestamp_warmup_start",
    "signature",
    "smtp_host",
    "smtp_port",
    "smtp_username",
    "smtp_password_encrypted",
    "imap_host",
    "imap_port",
    "imap_username",
    "imap_password_encrypted",
    "timestamp_created",
    "timestamp_updated",
)
CAMPAIGN_COLUMNS = (
    "organization_id",
    "id",
    "name",
    "status",
    "campaign_schedule",
    "sequences",
    "email_gap",
    "random_wait_max",
    "text_only",
    "first_email_text_only",
    "email_list",
    "daily_limit",
    "stop_on_reply",
    "link_tracking",
    "open_tracking",
    "stop_on_auto_reply",
    "daily_max_leads",
    "prioritize_new_leads",
    "match_lead_esp",
    "stop_for_company",
    "insert_unsubscribe_header",
    "allow_risky_contacts",
    "disable_bounce_protect",
    "timestamp_launched",
    "timestamp_created",
    "timestamp_updated",
)


# -- seeding ----------------------------------------------------------------------------------------


def account_timestamps(count: int, rng: random.Random) -> list[datetime]:
    """Ascending creation times over a year, at millisecond precision; about 1 in 4 repeats the previous
    one, and the last two before the final page (indexes count-101 and count-100) always share theirs."""
    year_ms = 365 * 24 * 3600 * 1000
    offsets = sorted(rng.randrange(year_ms) for _ in range(count))
    for i in range(1, count):
        if rng.random() < 0.25:
            offsets[i] = offsets[i - 1]
    deep = count - PAGE_LIMIT - 1
    offsets[deep + 1] = offsets[deep]
    return [EPOCH + timedelta(milliseconds=ms) for ms in offsets]


def seed_accounts(dsn: str, organization_id: uuid.UUID, count: int) -> tuple[list[str], float]:
    """COPY `count` accounts (see the module docstring), ANALYZE; their emails (as created) and the seconds."""
    from coldsend.kit.ids import new_id

    rng = random.Random(11)
    warmup = json.dumps(
        {
            "limit": 20,
            "increment": "disabled",
            "reply_rate": 30,
            "advanced": {"warm_ctd": False, "open_rate": 40, "read_emulation": True, "weekday_only": True},
        }
    )
    records: list[tuple[Any, ...]] = []
    emails: list[str] = []
    for i, created in enumerate(account_timestamps(count, rng)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        domain = f"outreach{i % 40:02d}.example"
        email = f"{first}.{last}{i:05d}@{domain}"
        warming = i % 2 == 0
        records.append(
            (
                organization_id,
                new_id(),
                email,
                first.title(),
                last.title(),
                (1, 2, 3)[i % 3],  # custom IMAP/SMTP, Google, Microsoft
                1,
                1 if warming else 0,
                False,
                False,
                False,
                warmup,
                50,
                10,
                round(rng.uniform(60, 100), 1) if warming else None,
                created + timedelta(days=1) if warming else None,
                f"<div>{first.title()} {last.title()}</div><div>Outreach team</div>",
                f"smtp.{domain}",
                587,
                email,
                "bench-placeholder-not-a-ciphertext",
                f"imap.{domain}",
                993,
                email,
                "bench-placeholder-not-a-ciphertext",
                created,
                created,
            )
        )
        emails.append(email)
    return emails, harness.copy_rows(dsn, "accounts", ACCOUNT_COLUMNS, records)


def campaign_schedule() -> dict[str, Any]:
    days = {str(d): 1 <= d <= 5 for d in range(7)}  # "0" = Sunday
    return {
        "schedules": [
            {"name": "Weekdays", "timing": {"from": "09:00", "to": "17:00"}, "days": days, "timezone": TIMEZONE}
        ]
    }


def paragraphs(rng: random.Random, count: int = 300) -> list[str]:
    """A pool of ~250-byte HTML paragraphs the variant bodies are drawn from."""
    pool = []
    for _ in range(count):
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < 230:
            words.append(rng.choice(WORDS))
        pool.append(f"<div>{' '.join(words).capitalize()}.</div>")
    return pool


def sequences(number: int, rng: random.Random, pool: Sequence[str]) -> list[dict[str, Any]]:
    """One sequence of STEPS email steps x VARIANTS variants, bodies of about BODY_BYTES, unique per campaign."""
    steps = []
    for step in range(STEPS):
        variants = []
        for variant in range(VARIANTS):
            body = "<div>Hi {{firstName}},</div><div><br /></div>"
            while len(body) < BODY_BYTES - 120:
                body += rng.choice(pool)
            signature = f"{{{{sendingAccountFirstName}}}} (c{number} s{step}v{variant})"
            body += f"<div><br /></div><div>Best,</div><div>{signature}</div>"
            subject = f"{{{{companyName}}}} x outreach, idea {variant + 1}" if step == 0 else ""
            variants.append({"subject": subject, "body": body})
        steps.append({"type": "email", "delay": 2, "delay_unit": "days", "variants": variants})
    return [{"steps": steps}]


def validate_campaign_shape(schedule: dict[str, Any], sequence: list[dict[str, Any]]) -> None:
    """The seeded JSON must be what the API itself would accept (its request models)."""
    from coldsend.campaigns.schemas import CampaignSchedule, EmailSequence

    CampaignSchedule.model_validate(schedule)
    for item in sequence:
        EmailSequence.model_validate(item)


def seed_campaigns(
    dsn: str, organization_id: uuid.UUID, count: int, account_emails: Sequence[str]
) -> tuple[list[uuid.UUID], float]:
    """COPY `count` campaigns, ANALYZE; their ids in id (= keyset) order and the seconds."""
    from coldsend.kit.ids import new_id

    rng = random.Random(13)
    pool = paragraphs(rng)
    schedule = json.dumps(campaign_schedule())
    ids = sorted(new_id() for _ in range(count))
    step_ms = 365 * 24 * 3600 * 1000 // count
    records: list[tuple[Any, ...]] = []
    for i, campaign_id in enumerate(ids):
        sequence = sequences(i, rng, pool)
        if i == 0:
            validate_campaign_shape(campaign_schedule(), sequence)
        created = EPOCH + timedelta(milliseconds=i * step_ms + rng.randrange(step_ms))
        active = i % 3 != 0
        senders = [account_emails[(3 * i + k) % len(account_emails)] for k in range(3)]
        records.append(
            (
                organization_id,
                campaign_id,
                f"Bench campaign {i:05d}",
                1 if active else 0,
                schedule,
                json.dumps(sequence),
                10,
                10,
                False,
                False,
                senders,
                50,
                True,
                False,
                False,
                True,
                20,
                False,
                False,
                False,
                True,
                False,
                False,
                created + timedelta(hours=1) if active else None,
                created,
                created,
            )
        )
    return ids, harness.copy_rows(dsn, "campaigns", CAMPAIGN_COLUMNS, records)


def accounts_in_list_order(dsn: str, organization_id: uuid.UUID) -> list[tuple[datetime, str]]:
    """(timestamp_created, email) of every account in the list's order, as PostgreSQL sorts (its collation)."""

    async def query(conn: Any) -> list[tuple[datetime, str]]:
        rows = await conn.fetch(
            "SELECT timestamp_created, email FROM accounts WHERE organization_id = $1 "
            "ORDER BY timestamp_created, email",
            organization_id,
        )
        return [(row[0], row[1]) for row in rows]

    return harness.with_connection(dsn, query)


def account_cursor(created: datetime, email: str) -> str:
    """`<timestamp_created, UTC, milliseconds, Z>&<email>`: next_starting_after of GET /api/v2/accounts."""
    stamp = created.astimezone(UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z&{email}"


# -- measuring --------------------------------------------------------------------------------------


@dataclass
class ListResult:
    """One list's first and deep page: times, PostgreSQL execution times, response sizes."""

    pages: PageTimes
    db_first_ms: float
    db_deep_ms: float
    first_bytes: int
    deep_bytes: int

    def as_json(self) -> dict[str, Any]:
        return {
            **self.pages.as_json(),
            "db_first_ms": self.db_first_ms,
            "db_deep_ms": self.db_deep_ms,
            "first_bytes": self.first_bytes,
            "deep_bytes": self.deep_bytes,
        }


def time_list(
    run: BenchRun,
    path: str,
    first: PageProbe,
    deep: PageProbe,
    item_key: str,
    queries: Sequence[tuple[str, Sequence[Any]]],
) -> ListResult:
    sizes = [len(run.get(path, probe.params).content) for probe in (first, deep)]
    pages = run.time_pages(path, first, deep, item_key)
    db_first, db_deep = harness.explain_medians(run.dsn, queries, min(run.args.page_samples, 20))
    return ListResult(pages, db_first, db_deep, sizes[0], sizes[1])


def measure_accounts(run: BenchRun) -> ListResult:
    order = accounts_in_list_order(run.dsn, run.organization_id)
    count = len(order)
    deep_index = count - PAGE_LIMIT - 1  # 0-based index of the cursor account
    first_page = run.get_json(ACCOUNTS_PATH, {"limit": str(PAGE_LIMIT)})
    served = first_page.get("next_starting_after")
    ours = account_cursor(*order[PAGE_LIMIT - 1])
    if served != ours:
        raise RuntimeError(f"the server's account cursor {served!r} is not built like ours {ours!r}; update the bench")
    created, email = order[deep_index]
    cursor = account_cursor(created, email)
    if order[deep_index + 1][0] != created:
        raise RuntimeError("the seeded accounts around the last page should share a timestamp")
    log(f"accounts: last-page cursor {cursor!r} (the next account shares its timestamp)")
    limit = PAGE_LIMIT + 1
    select = "SELECT * FROM accounts WHERE organization_id = $1"
    order_by = f"ORDER BY timestamp_created, email LIMIT {limit}"
    return time_list(
        run,
        ACCOUNTS_PATH,
        PageProbe({"limit": str(PAGE_LIMIT)}, [e for _, e in order[:PAGE_LIMIT]]),
        PageProbe({"limit": str(PAGE_LIMIT), "starting_after": cursor}, [e for _, e in order[deep_index + 1 :]]),
        "email",
        [
            (f"{select} {order_by}", [run.organization_id]),
            (f"{select} AND (timestamp_created, email) > ($2, $3) {order_by}", [run.organization_id, created, email]),
        ],
    )


def measure_campaign_pages(run: BenchRun, ids: Sequence[uuid.UUID]) -> ListResult:
    deep_index = len(ids) - PAGE_LIMIT - 1
    cursor = ids[deep_index]
    select = "SELECT * FROM campaigns WHERE organization_id = $1"
    order_by = f"ORDER BY id LIMIT {PAGE_LIMIT + 1}"
    return time_list(
        run,
        CAMPAIGNS_PATH,
        PageProbe({"limit": str(PAGE_LIMIT)}, [str(i) for i in ids[:PAGE_LIMIT]]),
        PageProbe({"limit": str(PAGE_LIMIT), "starting_after": str(cursor)}, [str(i) for i in ids[deep_index + 1 :]]),
        "id",
        [
            (f"{select} {order_by}", [run.organization_id]),
            (f"{select} AND id > $2 {order_by}", [run.organization_id, cursor]),
        ],
    )


def check_campaign(run: BenchRun, campaign_id: uuid.UUID) -> int:
    """GET one campaign: the right one, 5 steps x 3 variants; the size of its body in bytes."""
    response = run.get(f"{CAMPAIGNS_PATH}/{campaign_id}")
    body = response.json()
    steps = body.get("sequences", [{}])[0].get("steps", [])
    if body.get("id") != str(campaign_id) or [len(s["variants"]) for s in steps] != [VARIANTS] * STEPS:
        raise RuntimeError(f"GET campaign answered an unexpected campaign: {response.text[:500]}")
    return len(response.content)


# -- report -----------------------------------------------------------------------------------------


def others(pages: PageTimes) -> str:
    return "n/a" if pages.cpu is None else f"{pages.cpu.others:.2f}"


def report(
    args: argparse.Namespace,
    bare: WrkResult,
    campaign: WrkResult,
    campaign_bytes: int,
    accounts: ListResult,
    campaigns: ListResult,
) -> str:
    share = campaign.requests_per_second / bare.requests_per_second
    rps_ok = campaign.requests_per_second >= TARGET_RPS and campaign.non_2xx == 0
    accounts_ok = accounts.pages.ratio <= TARGET_PAGE_RATIO
    campaigns_ok = campaigns.pages.ratio <= TARGET_PAGE_RATIO
    n_acc, n_camp = args.accounts, args.campaigns
    deep_acc, deep_camp = n_acc - PAGE_LIMIT, n_camp - PAGE_LIMIT
    lines = [
        f"Headline: GET /api/v2/campaigns/{{id}} ({STEPS} steps x {VARIANTS} variants): "
        f"{campaign.requests_per_second:,.0f} req/s, p99 {campaign.p99_ms:.1f} ms (target ≥ {TARGET_RPS:,.0f} "
        f"req/s: {verdict(rps_ok)}) — {share:.1%} of bare Starlette. Last page / first page: accounts "
        f"{accounts.pages.ratio:.2f}x, campaigns {campaigns.pages.ratio:.2f}x (target ≤ {TARGET_PAGE_RATIO}x: "
        f"{verdict(accounts_ok)}, {verdict(campaigns_ok)}).",
        "",
        *harness.disturbance_warning(
            [
                ("bare", bare.cpu),
                ("campaign", campaign.cpu),
                ("account pages", accounts.pages.cpu),
                ("campaign pages", campaigns.pages.cpu),
            ]
        ),
        *harness.throughput_tables(
            args,
            f"{n_acc:,} accounts and {n_camp:,} campaigns in the workspace",
            bare,
            f"`GET /api/v2/campaigns/{{id}}`, {STEPS} steps x {VARIANTS} variants, {campaign_bytes:,} B "
            f"({args.rotate_ids:,} ids in rotation)",
            "`GET /api/v2/campaigns/{id}`",
            campaign,
        ),
        "",
        f"Pagination, `limit={PAGE_LIMIT}`, sequential httpx on one connection, {args.page_samples} samples each "
        "(first and last page interleaved, after 5 warm-up pairs); other processes used "
        f"{others(accounts.pages)} cores while the account pages were timed, {others(campaigns.pages)} "
        "during the campaign pages:",
        "",
        *harness.PAGE_TABLE_HEAD,
        *harness.page_rows(
            f"`GET /api/v2/accounts`, first page (accounts 1-{PAGE_LIMIT}, {accounts.first_bytes:,} B)",
            f"`GET /api/v2/accounts`, after account {deep_acc:,} (accounts {deep_acc + 1:,}-{n_acc:,}, "
            f"{accounts.deep_bytes:,} B)",
            accounts.pages,
            accounts.db_first_ms,
            accounts.db_deep_ms,
        ),
        *harness.page_rows(
            f"`GET /api/v2/campaigns`, first page (campaigns 1-{PAGE_LIMIT}, {campaigns.first_bytes:,} B)",
            f"`GET /api/v2/campaigns`, after campaign {deep_camp:,} (campaigns {deep_camp + 1:,}-{n_camp:,}, "
            f"{campaigns.deep_bytes:,} B)",
            campaigns.pages,
            campaigns.db_first_ms,
            campaigns.db_deep_ms,
        ),
        "",
        "| Target | Measured | Verdict |",
        "|---|---|---|",
        f"| `GET /api/v2/accounts` ({n_acc:,} accounts): last page ≤ {TARGET_PAGE_RATIO}x first page "
        f"| {accounts.pages.ratio:.2f}x ({accounts.pages.deep_median:.2f} vs {accounts.pages.first_median:.2f} ms) "
        f"| {verdict(accounts_ok)} |",
        f"| `GET /api/v2/campaigns` ({n_camp:,} campaigns): last page ≤ {TARGET_PAGE_RATIO}x first page "
        f"| {campaigns.pages.ratio:.2f}x ({campaigns.pages.deep_median:.2f} vs "
        f"{campaigns.pages.first_median:.2f} ms) | {verdict(campaigns_ok)} |",
        f"| `GET /api/v2/campaigns/{{id}}` ({STEPS}x{VARIANTS}) ≥ {TARGET_RPS:,.0f} req/s, 1 process "
        f"| {campaign.requests_per_second:,.0f} req/s (p99 {campaign.p99_ms:.1f} ms) | {verdict(rps_ok)} |",
        f"| GET campaign throughput vs bare Starlette (reported) | {share:.1%} | reported |",
    ]
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the last page against the first of GET /api/v2/accounts and GET /api/v2/campaigns, "
        "and GET /api/v2/campaigns/{id} (5 steps x 3 variants) against a bare Starlette endpoint. Needs wrk.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts to seed in the workspace")
    parser.add_argument("--campaigns", type=int, default=10_000, help="campaigns to seed in the workspace")
    harness.add_common_arguments(parser)
    args = parser.parse_args(argv)
    for name in ("accounts", "campaigns"):
        if not 2 * PAGE_LIMIT + 1 <= getattr(args, name) <= 1_000_000:
            parser.error(f"--{name} must be in {2 * PAGE_LIMIT + 1}..1000000")
    harness.check_common_arguments(parser, args)
    args.rotate_ids = min(args.rotate_ids, args.campaigns)
    return args


def benchmark(run: BenchRun) -> str:
    args = run.args
    log(f"seeding {args.accounts:,} accounts with COPY")
    emails, seconds = seed_accounts(run.dsn, run.organization_id, args.accounts)
    log(f"seeded accounts in {seconds:.1f}s")
    log(f"seeding {args.campaigns:,} campaigns ({STEPS} steps x {VARIANTS} variants each) with COPY")
    ids, seconds = seed_campaigns(run.dsn, run.organization_id, args.campaigns, emails)
    log(f"seeded campaigns in {seconds:.1f}s")

    run.start_servers()
    campaign_bytes = check_campaign(run, ids[0])
    script = run.rotation_script(f"{CAMPAIGNS_PATH}/", random.Random(7).sample(ids, args.rotate_ids))
    bare = run.measure_bare()
    campaign = run.measure_get("GET /api/v2/campaigns/{id}", f"{CAMPAIGNS_PATH}/", script)

    accounts = measure_accounts(run)
    campaigns = measure_campaign_pages(run, ids)

    run.profile(f"{CAMPAIGNS_PATH}/", script)
    run.write_json(
        {
            "bare": bare.as_json(),
            "get_campaign": {**campaign.as_json(), "response_bytes": campaign_bytes},
            "accounts_pages": accounts.as_json(),
            "campaigns_pages": campaigns.as_json(),
        }
    )
    return report(args, bare, campaign, campaign_bytes, accounts, campaigns)


def main(argv: Sequence[str] | None = None) -> int:
    return harness.run_benchmark(parse_args(argv), benchmark)


if __name__ == "__main__":
    sys.exit(main())

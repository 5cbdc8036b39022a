"""Benchmark of the foundation issue: custom tag reads against a bare Starlette baseline, and deep pages.

What it does, end to end, talking to 127.0.0.1 only (the machinery is bench/harness.py):

1. Opens a database: a fresh embedded PostgreSQL in a temporary COLDSEND_HOME (the default), or the
   server named by --database-url.
2. Creates a workspace and an all:all API key with the `coldsend` CLI.
3. Seeds --tags custom tags (100,000 by default) into that workspace with COPY, then ANALYZE.
4. Starts `python -m coldsend serve --no-worker` (rate limits off, log level WARNING) and the bare
   Starlette app of bench/bare_starlette.py, each a single uvicorn process.
5. wrk -t1 -c50 (by default): a warm-up run, then a measured run with --latency, first against the bare
   app, then against GET /api/v2/custom-tags/{id} rotating over --rotate-ids existing ids (lua script).
   Before each, it waits (up to --wait-idle s) for other processes to leave the CPU idle; during each it
   records the CPU the server, PostgreSQL and wrk used, and how many PostgreSQL sessions came and went;
   a run other processes disturbed is measured again (--retries).
6. Times GET /api/v2/custom-tags?limit=100 sequentially (httpx): the first page, and the page after the
   tag at position N-100 (the page holding the N-th, i.e. 100,000th, tag); median of --page-samples each.
   Also the PostgreSQL execution time of the same two queries (EXPLAIN ANALYZE).
7. Prints a markdown table and the verdict on each target; stops both servers and removes the temporary
   data, also on error or Ctrl-C.

    .venv/bin/python bench/bench_custom_tags.py                 # the full run (about a minute)
    .venv/bin/python bench/bench_custom_tags.py --tags 5000 --duration 3 --warmup 1   # a smoke run
    .venv/bin/python bench/bench_custom_tags.py --server-env COLDSEND_DB_MAX_OVERFLOW=0  # try a setting
    .venv/bin/python bench/bench_custom_tags.py --py-spy /tmp/profile.svg   # and a flamegraph afterwards
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from harness import (
    PAGE_LIMIT,
    PAGE_TABLE_HEAD,
    BenchRun,
    PageProbe,
    PageTimes,
    WrkResult,
    add_common_arguments,
    check_common_arguments,
    copy_rows,
    disturbance_warning,
    explain_medians,
    log,
    page_rows,
    run_benchmark,
    throughput_tables,
    verdict,
)

TARGET_RPS = 2000.0
TARGET_P99_MS = 50.0
TARGET_PAGE_RATIO = 1.5

TAG_PATH = "/api/v2/custom-tags"
TAG_COLUMNS = ("organization_id", "id", "label", "label_key", "description", "timestamp_created", "timestamp_updated")


def seed_tags(dsn: str, organization_id: uuid.UUID, count: int) -> tuple[list[uuid.UUID], float]:
    """COPY `count` tags into the workspace, ANALYZE; return their ids in id (= keyset) order and the seconds."""
    from coldsend.custom_tags.repository import normalize_label
    from coldsend.kit.ids import new_id

    ids = sorted(new_id() for _ in range(count))
    start = datetime.now(UTC) - timedelta(milliseconds=count)
    records = []
    for i, tag_id in enumerate(ids):
        label = f"Bench Tag {i:07d}"
        created = start + timedelta(milliseconds=i)
        description = f"Seeded tag number {i}" if i % 2 == 0 else None
        records.append((organization_id, tag_id, label, normalize_label(label), description, created, created))
    return ids, copy_rows(dsn, "custom_tags", TAG_COLUMNS, records)


def explain_pages(dsn: str, organization_id: uuid.UUID, cursor: uuid.UUID, samples: int) -> list[float]:
    """Median PostgreSQL execution time (ms) of the first page and of the page after `cursor`."""
    limit = PAGE_LIMIT + 1
    return explain_medians(
        dsn,
        [
            (f"SELECT * FROM custom_tags WHERE organization_id = $1 ORDER BY id LIMIT {limit}", [organization_id]),
            (
                f"SELECT * FROM custom_tags WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT {limit}",
                [organization_id, cursor],
            ),
        ],
        samples,
    )


def report(
    args: argparse.Namespace,
    bare: WrkResult,
    tag: WrkResult,
    pages: PageTimes,
    db_first_ms: float,
    db_deep_ms: float,
    deep_position: int,
) -> str:
    share = tag.requests_per_second / bare.requests_per_second
    rps_ok = tag.requests_per_second >= TARGET_RPS and tag.non_2xx == 0
    p99_ok = tag.p99_ms <= TARGET_P99_MS
    page_ok = pages.ratio <= TARGET_PAGE_RATIO
    lines = [
        f"Headline: GET /api/v2/custom-tags/{{id}}: {tag.requests_per_second:,.0f} req/s, p99 {tag.p99_ms:.1f} ms "
        f"(target ≥ {TARGET_RPS:,.0f} req/s, p99 ≤ {TARGET_P99_MS:.0f} ms) — {share:.0%} of bare Starlette",
        "",
        *disturbance_warning([("bare", bare.cpu), ("custom tag", tag.cpu), ("pages", pages.cpu)]),
        *throughput_tables(
            args,
            f"{args.tags:,} tags in the workspace",
            bare,
            f"`GET /api/v2/custom-tags/{{id}}` ({args.rotate_ids:,} ids in rotation)",
            "`GET /api/v2/custom-tags/{id}`",
            tag,
        ),
        "",
        f"Pagination, `GET /api/v2/custom-tags?limit={PAGE_LIMIT}`, sequential httpx, {args.page_samples} "
        "samples each (interleaved, after 5 warm-up pairs):",
        "",
        *PAGE_TABLE_HEAD,
        *page_rows(
            f"First page (tags 1-{PAGE_LIMIT})",
            f"Page after tag {deep_position:,} (tags {deep_position + 1:,}-{args.tags:,})",
            pages,
            db_first_ms,
            db_deep_ms,
        ),
        "",
        "| Target | Measured | Verdict |",
        "|---|---|---|",
        f"| GET by id ≥ {TARGET_RPS:,.0f} req/s | {tag.requests_per_second:,.0f} req/s | {verdict(rps_ok)} |",
        f"| GET by id p99 ≤ {TARGET_P99_MS:.0f} ms | {tag.p99_ms:.1f} ms | {verdict(p99_ok)} |",
        f"| GET by id throughput vs bare Starlette (reported) | {share:.1%} | reported |",
        f"| Page at tag {args.tags:,} ≤ {TARGET_PAGE_RATIO}x first page | {pages.ratio:.2f}x | {verdict(page_ok)} |",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark GET /api/v2/custom-tags/{id} against a bare Starlette endpoint, and the "
        "page time of GET /api/v2/custom-tags deep into a large workspace. Needs wrk.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--tags", type=int, default=100_000, help="custom tags to seed in the workspace")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.tags < 2 * PAGE_LIMIT + 1:
        parser.error(f"--tags must be at least {2 * PAGE_LIMIT + 1}")
    check_common_arguments(parser, args)
    args.rotate_ids = min(args.rotate_ids, args.tags)
    return args


def benchmark(run: BenchRun) -> str:
    args = run.args
    log(f"seeding {args.tags:,} custom tags with COPY")
    ids, seed_seconds = seed_tags(run.dsn, run.organization_id, args.tags)
    log(f"seeded in {seed_seconds:.1f}s ({args.tags / seed_seconds:,.0f} rows/s)")

    run.start_servers()
    check = run.get_json(f"{TAG_PATH}/{ids[0]}")
    if check.get("id") != str(ids[0]):
        raise RuntimeError(f"GET custom tag answered another tag: {check}")

    script = run.rotation_script(f"{TAG_PATH}/", random.Random(7).sample(ids, args.rotate_ids))
    bare = run.measure_bare()
    tag = run.measure_get("GET /api/v2/custom-tags/{id}", f"{TAG_PATH}/", script)

    deep_index = args.tags - PAGE_LIMIT - 1  # 0-based index of the cursor tag
    cursor = ids[deep_index]
    first = PageProbe({"limit": str(PAGE_LIMIT)}, [str(i) for i in ids[:PAGE_LIMIT]])
    deep = PageProbe({"limit": str(PAGE_LIMIT), "starting_after": str(cursor)}, [str(i) for i in ids[deep_index + 1 :]])
    pages = run.time_pages(TAG_PATH, first, deep)
    db_first, db_deep = explain_pages(run.dsn, run.organization_id, cursor, min(args.page_samples, 20))

    run.profile(f"{TAG_PATH}/", script)
    run.write_json(
        {
            "bare": bare.as_json(),
            "get_custom_tag": tag.as_json(),
            "pages": {**pages.as_json(), "db_first_ms": db_first, "db_deep_ms": db_deep},
            "seed_seconds": seed_seconds,
        }
    )
    return report(args, bare, tag, pages, db_first, db_deep, deep_index + 1)


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(parse_args(argv), benchmark)


if __name__ == "__main__":
    sys.exit(main())

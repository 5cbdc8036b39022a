"""Test fixtures: a real embedded PostgreSQL, one database per xdist worker built by the migrations,
and one rolled-back transaction per test."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from coldsend.api_keys.service import ApiKeyService
from coldsend.app import create_app, install_database
from coldsend.config import Settings
from coldsend.kit.db import create_engine, migrate
from coldsend.kit.ratelimit import RateLimiter
from coldsend.workspaces.repository import create_workspace

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_HOME = Path(
    os.environ.get("COLDSEND_TEST_HOME", f"/tmp/coldsend-tests-{hashlib.sha1(str(REPO_ROOT).encode()).hexdigest()[:8]}")
)


def reference_spec_path() -> Path | None:
    """Instantly's OpenAPI document, if this checkout has the shared reference beside it."""
    candidates = [
        os.environ.get("COLDSEND_REFERENCE_SPEC"),
        str(REPO_ROOT.parent / "shared/reference/instantly-openapi.json"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _server_socket_url() -> str:
    """Start (or join) the test cluster; tune it for tests (no fsync) on first start."""
    from coldsend.kit.embedded import embedded_database_url

    TEST_HOME.mkdir(parents=True, exist_ok=True)
    url = embedded_database_url(TEST_HOME, database="postgres")
    return url


@pytest.fixture(scope="session")
def worker_id_name(request: pytest.FixtureRequest) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session")
def admin_url() -> str:
    return _server_socket_url()


@pytest.fixture(scope="session")
def test_settings() -> Settings:
    return Settings(COLDSEND_HOME=TEST_HOME, COLDSEND_RATE_LIMIT_PER_SECOND=0, COLDSEND_RATE_LIMIT_PER_MINUTE=0)


async def _recreate_database(admin_url: str, name: str) -> str:
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text("ALTER SYSTEM SET fsync = off"))
        await conn.execute(text("ALTER SYSTEM SET synchronous_commit = off"))
        await conn.execute(text("ALTER SYSTEM SET full_page_writes = off"))
        await conn.execute(text("SELECT pg_reload_conf()"))
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return admin_url.replace("/postgres?", f"/{name}?")


@pytest.fixture(scope="session")
def test_run_id(request: pytest.FixtureRequest) -> str:
    """Unique per pytest run (shared by its xdist workers), so concurrent runs never share databases."""
    run = getattr(request.config, "workerinput", {}).get("testrunuid") or f"{os.getpid()}"
    return hashlib.sha1(run.encode()).hexdigest()[:8]


@pytest.fixture(scope="session")
async def database_url(admin_url: str, worker_id_name: str, test_run_id: str) -> AsyncIterator[str]:
    name = f"coldsend_test_{worker_id_name}_{test_run_id}"
    url = await _recreate_database(admin_url, name)
    yield url
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(scope="session")
async def engine(database_url: str, test_settings: Settings) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url, test_settings, application_name="coldsend-tests")
    await migrate(eng)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
async def app(engine: AsyncEngine, test_settings: Settings) -> Any:
    application = create_app(test_settings, manage_db=False)
    install_database(application, engine, test_settings)
    return application


class TestDatabase:
    """The app's Database, but every session and read goes through the test's one connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.sessionmaker = async_sessionmaker(
            bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        yield self.conn


@pytest.fixture
async def connection(engine: AsyncEngine, app: Any) -> AsyncIterator[AsyncConnection]:
    """One connection in an outer transaction for the whole test; every request joins it."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        app.state.db = TestDatabase(conn)
        app.state.sessionmaker = app.state.db.sessionmaker
        app.state.key_cache.forget()
        app.state.rate_limiter = RateLimiter(None, 0, 0)
        try:
            yield conn
        finally:
            await outer.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint") as s:
        yield s


@pytest.fixture
async def client(app: Any, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://coldsend.test") as c:
        yield c


@dataclass
class Tenant:
    """A workspace with an all:all key, and a way to mint more keys in it."""

    id: uuid.UUID
    key: str
    session: AsyncSession
    client: httpx.AsyncClient

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def key_with(self, *scopes: str) -> str:
        created = await ApiKeyService(self.session, self.id).create("test", list(scopes), creator_scopes=None)
        await self.session.flush()
        return created.plaintext

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)


TenantFactory = Callable[[str], Awaitable[Tenant]]


@pytest.fixture
async def make_tenant(session: AsyncSession, client: httpx.AsyncClient) -> TenantFactory:
    async def make(name: str = "Acme") -> Tenant:
        workspace = await create_workspace(session, name)
        created = await ApiKeyService(session, workspace.id).create("all", ["all:all"], creator_scopes=None)
        await session.flush()
        return Tenant(workspace.id, created.plaintext, session, client)

    return make


@pytest.fixture
async def tenant(make_tenant: TenantFactory) -> Tenant:
    return await make_tenant("Acme")


@pytest.fixture
async def other_tenant(make_tenant: TenantFactory) -> Tenant:
    return await make_tenant("Rival")


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `coldsend` command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "coldsend", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


@dataclass
class CommittedWorkspace:
    """A workspace whose rows really commit (for workers, queues and races); deleted afterwards."""

    id: uuid.UUID
    key: str
    engine: AsyncEngine
    client: httpx.AsyncClient

    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return async_sessionmaker(self.engine, expire_on_commit=False)


@pytest.fixture
async def committed_workspace(engine: AsyncEngine, test_settings: Settings) -> AsyncIterator[CommittedWorkspace]:
    application: Any = create_app(test_settings, manage_db=False)
    install_database(application, engine, test_settings)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as s, s.begin():
        workspace = await create_workspace(s, "committed")
        key = (await ApiKeyService(s, workspace.id).create("k", ["all:all"], creator_scopes=None)).plaintext
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://coldsend.test", headers={"Authorization": f"Bearer {key}"}
        ) as c:
            yield CommittedWorkspace(workspace.id, key, engine, c)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM workspaces WHERE id = :id"), {"id": workspace.id})

"""Database access: the engine, the per-request unit of work, and the migration runner."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import orjson
from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from coldsend.config import Settings

logger = logging.getLogger("coldsend.db")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION_LOCK_KEY = 0x636F6C64  # "cold": serialises concurrent `migrate` runs across processes


class Base(DeclarativeBase):
    """Declarative base of every table."""


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL: DATABASE_URL when set, else the embedded server under COLDSEND_HOME."""
    if settings.database_url:
        url = settings.database_url
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        return url
    from coldsend.kit.embedded import embedded_database_url

    return embedded_database_url(settings.home)


def json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def create_engine(url: str, settings: Settings, *, application_name: str = "coldsend") -> AsyncEngine:
    return create_async_engine(
        url,
        json_serializer=json_dumps,  # JSONB in and out through orjson (the stdlib's was 7% of a campaign GET)
        json_deserializer=orjson.loads,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,
        connect_args={"server_settings": {"application_name": application_name}},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class Database:
    """How requests reach PostgreSQL: a unit-of-work session for anything that writes, and a bare
    autocommit connection for single-statement reads (no BEGIN/COMMIT round trips, no ORM session)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessionmaker = create_sessionmaker(engine)
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._autocommit.connect() as conn:
            yield conn


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: commit when the endpoint returns, roll back when it raises.

    Services only flush; this is the single place a request's work becomes durable.
    """
    async with request.app.state.db.session() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


async def get_reader(request: Request) -> AsyncIterator[AsyncConnection]:
    """A connection for endpoints that only read (one statement, so no transaction is needed)."""
    async with request.app.state.db.read() as conn:
        yield conn


# `scope="function"` commits before the response is sent, so a failed commit becomes an error response.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReaderDep = Annotated[AsyncConnection, Depends(get_reader, scope="function")]


async def migrate(engine: AsyncEngine) -> None:
    """Apply every Alembic migration; concurrent callers (serve, worker, CLI) queue on an advisory lock."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        await conn.commit()
        try:
            await conn.run_sync(_upgrade_on_connection)
            await conn.commit()
        except BaseException:
            await conn.rollback()
            raise
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
            await conn.commit()


def _upgrade_on_connection(connection: object) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")

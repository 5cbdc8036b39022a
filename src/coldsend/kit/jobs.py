"""Background jobs: a row clients poll (`background_jobs`) plus a PgQueuer queue entry a worker runs.

Both are written in the caller's transaction, so a job exists exactly when the request that created
it committed. Workers claim queue entries with `FOR UPDATE SKIP LOCKED` and keep a heartbeat; a job
whose worker died (heartbeat older than `HEARTBEAT_TIMEOUT`) is claimed again by another worker and
runs again from the start, so handlers must be idempotent.

Domains register handlers in their `tasks.py`:

    @job_handler("update-warmup-accounts")
    async def update_warmup(ctx: JobContext) -> None: ...
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Table, insert, select, text, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from coldsend.background_jobs.models import BackgroundJob
from coldsend.kit.clock import utcnow
from coldsend.kit.repository import Record

logger = logging.getLogger("coldsend.jobs")

JOBS: Table = BackgroundJob.__table__  # type: ignore[assignment]
ENTRYPOINT = "coldsend.background-job"
HEARTBEAT_TIMEOUT = timedelta(seconds=30)

Handler = Callable[["JobContext"], Awaitable[None]]
_HANDLERS: dict[str, Handler] = {}

# Internal tasks: queued work clients never see as a BackgroundJob (e.g. testing a mailbox's connection).
TaskHandler = Callable[[dict[str, Any], async_sessionmaker[AsyncSession]], Awaitable[None]]
_TASKS: dict[str, TaskHandler] = {}
TASK_PREFIX = "coldsend.task."


def task_handler(name: str) -> Callable[[TaskHandler], TaskHandler]:
    """Register the coroutine that runs internal tasks called `name` (payload: a JSON object)."""

    def register(func: TaskHandler) -> TaskHandler:
        _TASKS[name] = func
        return func

    return register


async def enqueue_task(
    session: AsyncSession,
    name: str,
    payload: dict[str, Any],
    *,
    delay: timedelta | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Queue an internal task in the caller's transaction; a worker runs it after commit.

    With `dedupe_key`, a task with the same key still waiting is not queued twice.
    """
    from pgqueuer import Queries
    from pgqueuer.db import AsyncpgDriver

    if name not in _TASKS:
        raise ValueError(f"no handler registered for task {name!r}")
    queries = Queries(AsyncpgDriver(await _raw_connection(session)))
    await queries.enqueue(
        TASK_PREFIX + name, orjson.dumps(payload), execute_after=delay, dedupe_key=dedupe_key, on_conflict="skip"
    )


def job_handler(job_type: str) -> Callable[[Handler], Handler]:
    """Register the coroutine that runs jobs of `job_type` (one handler per type)."""

    def register(func: Handler) -> Handler:
        _HANDLERS[job_type] = func
        return func

    return register


def registered_job_types() -> list[str]:
    return sorted(_HANDLERS)


async def _raw_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the session's open transaction."""
    await session.execute(text("SELECT 1"))  # makes SQLAlchemy open the transaction first
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def enqueue_job(
    session: AsyncSession,
    organization_id: uuid.UUID,
    job_type: str,
    *,
    entity_id: uuid.UUID | None = None,
    entity_type: str | None = None,
    data: dict[str, Any] | None = None,
    user_id: uuid.UUID | None = None,
) -> Record:
    """Create a pending job in the caller's transaction; a worker runs it after commit."""
    from pgqueuer import Queries
    from pgqueuer.db import AsyncpgDriver

    if job_type not in _HANDLERS:
        raise ValueError(f"no handler registered for job type {job_type!r}")
    statement = (
        insert(JOBS)
        .values(
            organization_id=organization_id,
            type=job_type,
            entity_id=entity_id,
            entity_type=entity_type,
            data=data or {},
            user_id=user_id,
        )
        .returning(*JOBS.c)
    )
    row = (await session.execute(statement)).one()
    payload = orjson.dumps({"organization_id": str(organization_id), "job_id": row.id})
    queries = Queries(AsyncpgDriver(await _raw_connection(session)))
    await queries.enqueue(ENTRYPOINT, payload)
    return row


@dataclass
class JobContext:
    """What a handler gets: its job, a way to open sessions, and a way to report progress."""

    organization_id: uuid.UUID
    job: Record
    sessionmaker: async_sessionmaker[AsyncSession]

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.job.data or {})

    def session(self) -> AsyncSession:
        """A new session; `async with ctx.session() as s, s.begin(): ...` commits the block."""
        return self.sessionmaker()

    async def progress(self, percent: int, data: dict[str, Any] | None = None) -> None:
        """Record progress (0..100) and merge `data` into the job's data, committed at once."""
        await _update_job(
            self.sessionmaker, self.organization_id, self.job.id, progress=max(0, min(100, percent)), merge_data=data
        )


async def _update_job(
    maker: async_sessionmaker[AsyncSession],
    organization_id: uuid.UUID,
    job_id: str,
    *,
    merge_data: dict[str, Any] | None = None,
    **values: Any,
) -> None:
    values["updated_at"] = utcnow()
    if merge_data:
        values["data"] = JOBS.c.data.op("||")(type_coerce(merge_data, JSONB))
    statement = update(JOBS).where(JOBS.c.organization_id == organization_id, JOBS.c.id == job_id).values(**values)
    async with maker() as session, session.begin():
        await session.execute(statement)


async def run_job(maker: async_sessionmaker[AsyncSession], payload: bytes | None) -> None:
    """Run one queued job: pending/in-progress -> in-progress -> success | failed."""
    if not payload:
        return
    message = orjson.loads(payload)
    organization_id = uuid.UUID(message["organization_id"])
    job_id = message["job_id"]
    async with maker() as session:
        row = (
            await session.execute(select(JOBS).where(JOBS.c.organization_id == organization_id, JOBS.c.id == job_id))
        ).first()
    if row is None:  # its workspace was deleted meanwhile
        logger.info("job %s vanished before it ran", job_id)
        return
    if row.status in ("success", "failed", "cancelled"):
        return
    handler = _HANDLERS.get(row.type)
    if handler is None:
        await _update_job(maker, organization_id, job_id, status="failed", error=f"no handler for {row.type}")
        logger.error("job %s has type %s, which no handler runs", job_id, row.type)
        return
    if row.status == "in-progress":
        logger.warning("job %s (%s) was interrupted; running it again", job_id, row.type)
    await _update_job(maker, organization_id, job_id, status="in-progress")
    logger.info("job %s (%s) started for workspace %s", job_id, row.type, organization_id)
    try:
        await handler(JobContext(organization_id, row, maker))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        logger.exception("job %s (%s) failed", job_id, row.type)
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        await _update_job(maker, organization_id, job_id, status="failed", error=detail[:2000])
        return
    await _update_job(maker, organization_id, job_id, status="success", progress=100)
    logger.info("job %s (%s) succeeded", job_id, row.type)


def _task_runner(
    name: str, func: TaskHandler, maker: async_sessionmaker[AsyncSession]
) -> Callable[[Any], Awaitable[None]]:
    async def run(job: Any) -> None:
        try:
            await func(orjson.loads(job.payload or b"{}"), maker)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("task %s failed", name)

    return run


class JobRunner:
    """Runs queued jobs in this process on its own LISTEN connection until stopped."""

    def __init__(
        self, engine: AsyncEngine, *, concurrency: int = 4, heartbeat_timeout: timedelta = HEARTBEAT_TIMEOUT
    ) -> None:
        self.engine = engine
        self.concurrency = concurrency
        self.heartbeat_timeout = heartbeat_timeout
        self.maker = async_sessionmaker(engine, expire_on_commit=False)
        self._task: asyncio.Task[None] | None = None
        self._manager: Any = None
        self._connection: Any = None

    def _dsn(self) -> str:
        url = self.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def start(self) -> None:
        import asyncpg
        from pgqueuer import Queries, QueueManager
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.models import Job

        self._connection = await asyncpg.connect(self._dsn())
        manager = QueueManager(Queries(AsyncpgDriver(self._connection)))
        maker = self.maker

        @manager.entrypoint(ENTRYPOINT, concurrency_limit=0)
        async def background_job(job: Job) -> None:
            await run_job(maker, job.payload)

        for name, func in _TASKS.items():
            manager.entrypoint(TASK_PREFIX + name)(_task_runner(name, func, maker))

        self._manager = manager
        self._task = asyncio.create_task(
            manager.run(
                dequeue_timeout=timedelta(seconds=5),
                batch_size=self.concurrency,
                heartbeat_timeout=self.heartbeat_timeout,
                log_aggregation_interval=timedelta(0),
            ),
            name="coldsend-job-runner",
        )
        logger.info(
            "job runner started (%d at a time; handlers: %s)",
            self.concurrency,
            ", ".join(registered_job_types()) or "none",
        )

    async def stop(self) -> None:
        if self._manager is not None:
            self._manager.shutdown.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=30)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            except Exception:
                logger.exception("job runner stopped with an error")
        if self._connection is not None and not self._connection.is_closed():
            await self._connection.close()

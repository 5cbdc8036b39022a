"""The worker: background work that runs beside the API (in `coldsend serve`) or alone (`coldsend worker`).

It keeps no state another process needs; any number of workers can share one PostgreSQL.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coldsend.config import Settings
from coldsend.inbox.sync import InboxSync
from coldsend.kit.jobs import JobRunner
from coldsend.sending.engine import SendingEngine

logger = logging.getLogger("coldsend.worker")

PeriodicTask = Callable[[AsyncEngine], Awaitable[None]]


async def purge_idle_rate_limit_counters(engine: AsyncEngine) -> None:
    """Drop counters of workspaces idle for an hour; the table stays as small as the active set."""
    async with engine.begin() as conn:
        result = await conn.execute(
            text("DELETE FROM rate_limit_counters WHERE window_start < extract(epoch FROM now())::bigint - 3600")
        )
    if result.rowcount:
        logger.info("purged %d idle rate-limit counters", result.rowcount)


async def purge_old_queue_log(engine: AsyncEngine) -> None:
    """The queue library logs every job state change and never deletes the log: keep a week of it."""
    async with engine.begin() as conn:
        result = await conn.execute(text("DELETE FROM pgqueuer_log WHERE created < now() - interval '7 days'"))
    if result.rowcount:
        logger.info("purged %d queue log rows older than 7 days", result.rowcount)


# Modules whose import registers job handlers (`@job_handler`); API processes load them too, so that
# enqueueing can check the type.
TASK_MODULES: tuple[str, ...] = (
    "coldsend.accounts.tasks",
    "coldsend.accounts.connectivity",
    "coldsend.leads.tasks",
    "coldsend.leads.imports",
    "coldsend.leads.service",
)


def load_task_modules() -> None:
    for name in TASK_MODULES:
        importlib.import_module(name)


class Worker:
    """Runs queued background jobs, and each periodic task on its own interval, until stopped."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        load_task_modules()
        self.engine = engine
        self.settings = settings
        self.jobs = JobRunner(engine)
        self.tasks: list[tuple[str, float, PeriodicTask]] = [
            ("purge-rate-limit-counters", 600.0, purge_idle_rate_limit_counters),
            ("purge-queue-log", 3600.0, purge_old_queue_log),
        ]
        self._running: list[asyncio.Task[None]] = []
        self.sending: SendingEngine | None = None
        if settings.sending_enabled:
            self.sending = SendingEngine(
                engine,
                settings,
                batch_size=settings.send_batch_size,
                lease_seconds=settings.send_lease_seconds,
                concurrency=settings.send_concurrency,
            )

        self.inbox: InboxSync | None = None
        if settings.inbox_sync_enabled:
            self.inbox = InboxSync(
                engine,
                settings,
                poll_interval=settings.inbox_poll_seconds,
                lease_seconds=settings.inbox_lease_seconds,
                capacity=settings.inbox_capacity,
            )

    async def start(self) -> None:
        await self.jobs.start()
        if self.inbox is not None:
            interval = min(5.0, self.settings.inbox_lease_seconds / 4)
            self._running.append(asyncio.create_task(self.inbox.run(interval), name="worker:inbox"))
        if self.sending is not None:
            self._running.append(
                asyncio.create_task(self.sending.run(self.settings.send_interval), name="worker:sending")
            )
        for name, interval, func in self.tasks:
            self._running.append(asyncio.create_task(self._loop(name, interval, func), name=f"worker:{name}"))
        logger.info("worker started with %d periodic task(s)", len(self.tasks))

    async def _loop(self, name: str, interval: float, func: PeriodicTask) -> None:
        while True:
            try:
                await func(self.engine)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("periodic task %s failed; retrying in %.0fs", name, interval)
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        self._running.clear()
        await self.jobs.stop()
        logger.info("worker stopped")

    async def run_forever(self) -> None:
        await self.start()
        # Objects alive after start-up are permanent: keep full collections from walking them again
        # (they stalled the sending loop for ~100 ms each).
        gc.collect()
        gc.freeze()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

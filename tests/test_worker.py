"""The worker's housekeeping really deletes what it should, and only that."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coldsend.worker import purge_idle_rate_limit_counters, purge_old_queue_log

STALE = uuid.uuid4()
FRESH = uuid.uuid4()


async def test_housekeeping_deletes_only_stale_rows(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM pgqueuer_log"))
        await conn.execute(text(
            "INSERT INTO pgqueuer_log (created, job_id, status, priority, entrypoint) VALUES "
            "(now() - interval '8 days', 1, 'successful', 0, 'x'), (now() - interval '1 day', 2, 'successful', 0, 'x')"
        ))
        await conn.execute(
            text(
                "INSERT INTO rate_limit_counters VALUES (:stale, 60, 0, 5), "
                "(:fresh, 60, extract(epoch FROM now())::bigint, 5)"
            ),
            {"stale": STALE, "fresh": FRESH},
        )
    try:
        await purge_old_queue_log(engine)
        await purge_idle_rate_limit_counters(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT job_id FROM pgqueuer_log"))).scalars().all() == [2]
            # only this test's rows: other tests of this database may count requests meanwhile
            left = (
                await conn.execute(
                    text("SELECT organization_id FROM rate_limit_counters WHERE organization_id IN (:stale, :fresh)"),
                    {"stale": STALE, "fresh": FRESH},
                )
            ).scalars().all()
            assert left == [FRESH]
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM pgqueuer_log"))
            await conn.execute(
                text("DELETE FROM rate_limit_counters WHERE organization_id IN (:stale, :fresh)"),
                {"stale": STALE, "fresh": FRESH},
            )

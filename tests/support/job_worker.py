"""A worker process for crash tests: registers a slow test job type, then runs the real JobRunner.

Run as `python -m tests.support.job_worker DATABASE_URL`; it runs until killed.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from sqlalchemy.ext.asyncio import create_async_engine

from coldsend.kit.jobs import JobContext, JobRunner, job_handler

SLOW_JOB = "coldsend-test-slow"


@job_handler(SLOW_JOB)
async def slow_job(ctx: JobContext) -> None:
    """Counts its runs in the job's data, then works for `seconds`, reporting progress."""
    runs = int(ctx.data.get("runs", 0)) + 1
    await ctx.progress(1, {"runs": runs})
    seconds = float(ctx.data.get("seconds", 0))
    steps = 10
    for step in range(steps):
        await asyncio.sleep(seconds / steps)
        await ctx.progress(int((step + 1) * 100 / steps) - 1)


async def main(url: str) -> None:
    engine = create_async_engine(url)
    runner = JobRunner(engine, heartbeat_timeout=timedelta(seconds=2))
    await runner.start()
    print("worker ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))

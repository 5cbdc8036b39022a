"""The job framework for real: jobs commit with their request, workers run them, failures are
recorded, and a job whose worker was killed mid-run is finished by another worker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from coldsend.background_jobs.models import BackgroundJob
from coldsend.kit.jobs import JobContext, JobRunner, enqueue_job, job_handler, registered_job_types
from tests.conftest import REPO_ROOT, CommittedWorkspace
from tests.support.job_worker import SLOW_JOB

FAILING_JOB = "coldsend-test-failing"


@job_handler(FAILING_JOB)
async def failing_job(ctx: JobContext) -> None:
    await ctx.progress(40, {"reached": "the middle"})
    raise RuntimeError("the mailbox provider said no")


async def job_row(workspace: CommittedWorkspace, job_id: str) -> Any:
    async with workspace.sessionmaker()() as s:
        return (await s.execute(select(BackgroundJob).where(BackgroundJob.id == job_id))).scalar_one_or_none()


async def wait_for_status(workspace: CommittedWorkspace, job_id: str, statuses: set[str], within: float = 20) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        row = await job_row(workspace, job_id)
        if row is not None and row.status in statuses:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {statuses}; last: {row.status if row else None}")


async def enqueue(workspace: CommittedWorkspace, job_type: str, data: dict[str, Any]) -> str:
    async with workspace.sessionmaker()() as s, s.begin():
        row = await enqueue_job(s, workspace.id, job_type, entity_type="workspace", entity_id=workspace.id, data=data)
    return str(row.id)


async def test_a_committed_job_runs_and_reports_progress(committed_workspace: CommittedWorkspace) -> None:
    job_id = await enqueue(committed_workspace, SLOW_JOB, {"seconds": 0.2})
    assert (await job_row(committed_workspace, job_id)).status == "pending"
    runner = JobRunner(committed_workspace.engine)
    await runner.start()
    try:
        row = await wait_for_status(committed_workspace, job_id, {"success"})
    finally:
        await runner.stop()
    assert row.progress == 100
    assert row.data["runs"] == 1 and row.data["seconds"] == 0.2
    body = (await committed_workspace.client.get(f"/api/v2/background-jobs/{job_id}")).json()
    assert body["status"] == "success" and body["progress"] == 100


async def test_a_rolled_back_request_leaves_no_job(committed_workspace: CommittedWorkspace) -> None:
    maker = committed_workspace.sessionmaker()
    async with maker() as s:
        await s.begin()
        row = await enqueue_job(s, committed_workspace.id, SLOW_JOB, data={})
        await s.rollback()
    assert await job_row(committed_workspace, str(row.id)) is None
    async with maker() as s:
        queued = (await s.execute(text("SELECT count(*) FROM pgqueuer WHERE payload::text LIKE :p"),
                                  {"p": f"%{row.id}%"})).scalar_one()
    assert queued == 0


async def test_a_failing_job_is_marked_failed_with_its_reason(committed_workspace: CommittedWorkspace) -> None:
    job_id = await enqueue(committed_workspace, FAILING_JOB, {})
    runner = JobRunner(committed_workspace.engine)
    await runner.start()
    try:
        row = await wait_for_status(committed_workspace, job_id, {"failed"})
    finally:
        await runner.stop()
    assert row.progress == 40 and row.data == {"reached": "the middle"}
    assert "the mailbox provider said no" in row.error


def test_enqueue_refuses_unknown_types() -> None:
    assert SLOW_JOB in registered_job_types()

    async def attempt() -> None:
        await enqueue_job(None, None, "no-such-type")  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="no handler"):
        asyncio.run(attempt())


async def test_a_job_whose_worker_was_killed_is_finished_by_another(
    committed_workspace: CommittedWorkspace, database_url: str
) -> None:
    job_id = await enqueue(committed_workspace, SLOW_JOB, {"seconds": 3})
    worker = subprocess.Popen(  # noqa: ASYNC220 - a real process to SIGKILL
        [sys.executable, "-m", "tests.support.job_worker", database_url],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        row = await wait_for_status(committed_workspace, job_id, {"in-progress"}, within=30)
        while row.progress < 20:  # well inside the job
            await asyncio.sleep(0.05)
            row = await job_row(committed_workspace, job_id)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        stuck = await job_row(committed_workspace, job_id)
        assert stuck.status == "in-progress" and stuck.progress < 100
        rescuer = JobRunner(committed_workspace.engine, heartbeat_timeout=timedelta(seconds=2))
        await rescuer.start()
        try:
            done = await wait_for_status(committed_workspace, job_id, {"success"}, within=30)
        finally:
            await rescuer.stop()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
    assert done.progress == 100
    assert done.data["runs"] == 2  # it ran again from the start: handlers are idempotent
    async with committed_workspace.sessionmaker()() as s:
        left = (await s.execute(select(func.count()).select_from(text("pgqueuer")))).scalar_one()
    assert left == 0

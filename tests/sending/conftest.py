from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from coldsend.config import Settings
from coldsend.sending.engine import SendingEngine
from tests.conftest import CommittedWorkspace
from tests.sending.world import FakeClock, World, start_time


@pytest.fixture
async def world(committed_workspace: CommittedWorkspace, test_settings: Settings) -> AsyncIterator[World]:
    clock = FakeClock(start_time())
    engine = SendingEngine(committed_workspace.engine, test_settings, clock=clock, lease_seconds=30)
    w = World(committed_workspace, test_settings, clock, engine)
    try:
        yield w
    finally:
        await w.close()

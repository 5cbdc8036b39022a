"""A batch costs a constant number of statements, whatever its size: never one query per lead."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from coldsend.leads.imports import VERIFY_TASK
from coldsend.leads.repository import LeadRepository
from tests.conftest import Tenant
from tests.factories import add_campaign
from tests.leads.helpers import add_label, add_lead, added, block, queued_tasks


class CountingDriver:
    def __init__(self, driver: Any, log: list[str]) -> None:
        self._driver, self._log = driver, log

    async def fetch(self, sql: str, *args: Any) -> Any:
        self._log.append(sql)
        return await self._driver.fetch(sql, *args)


async def _statements(
    tenant: Tenant, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch, size: int, **body: Any
) -> list[str]:
    log: list[str] = []
    original = LeadRepository._driver

    async def counting(self: LeadRepository) -> Any:
        return CountingDriver(await original(self), log)

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        log.append(statement)

    monkeypatch.setattr(LeadRepository, "_driver", counting)
    event.listen(connection.sync_connection, "before_cursor_execute", on_execute)
    try:
        leads = [
            {"email": f"lead{size}-{i}@acme.com", "lt_interest_status": 77, "custom_variables": {f"v{i % 3}": i}}
            for i in range(size)
        ]
        result = await added(tenant, leads, **body)
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", on_execute)
    assert result["leads_uploaded"] == size - 1
    # leave out the transaction's savepoints, the API key lookup (cached after the first request) and the
    # `SELECT 1` that opens the transaction before the task is queued
    return [s for s in log if "SAVEPOINT" not in s and "api_keys" not in s and s.strip() != "SELECT 1"]


async def test_statement_count_does_not_grow_with_the_batch(
    tenant: Tenant, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = await add_campaign(tenant.session, tenant.id, "C")
    await add_label(tenant.session, tenant.id, 77)
    await block(tenant.session, tenant.id, "nobody.io")
    await add_lead(tenant.session, tenant.id, "lead10-0@acme.com")
    await add_lead(tenant.session, tenant.id, "lead1000-0@acme.com")
    flags = {"campaign_id": str(campaign), "skip_if_in_workspace": True, "verify_leads_on_import": True}
    small = await _statements(tenant, connection, monkeypatch, 10, **flags)
    large = await _statements(tenant, connection, monkeypatch, 1000, **flags)
    assert len(large) == len(small) - 1, (small, large)  # the first batch also taught the campaign its variables
    # campaign, labels, block list, lock, presence, insert (+ teaching the campaign its variables)
    assert len(large) == 6, large
    tasks = [t for t in await queued_tasks(tenant.session, VERIFY_TASK) if t["organization_id"] == str(tenant.id)]
    assert [len(t["lead_ids"]) for t in tasks] == [9, 999]  # one verification task per batch

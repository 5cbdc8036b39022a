"""The reference's own limits: GET /emails 20 and POST /emails/test 10 requests per minute per
workspace, on top of the workspace-wide limits, counted in PostgreSQL like them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from coldsend.config import Settings
from coldsend.kit.ratelimit import EMAILS_LIST, EMAILS_TEST, RateLimiter, endpoint_limits
from tests.conftest import Tenant
from tests.emails.helpers import EMAILS
from tests.envelope import assert_envelope

TEST_BODY = {"eaccount": "nobody@acme.example.com", "to_address_email_list": "a@client.example.com", "subject": "s"}


async def same_minute(requests: int) -> None:
    """Wait for a fresh minute when the next `requests` might straddle two (windows are aligned)."""
    if time.time() % 60 > 60 - max(5, requests * 0.25):
        await asyncio.sleep(60 - time.time() % 60 + 0.05)


async def test_list_is_limited_to_20_per_minute(
    app: Any, engine: AsyncEngine, tenant: Tenant, other_tenant: Tenant, test_settings: Settings
) -> None:
    app.state.rate_limiter = RateLimiter(engine, 0, 0, endpoint_limits(test_settings))
    await same_minute(25)
    for i in range(20):
        response = await tenant.get(EMAILS)
        assert response.status_code == 200, (i, response.text)
        assert response.headers["x-ratelimit-limit"] == "20"
        assert response.headers["x-ratelimit-remaining"] == str(19 - i)
    over = await tenant.get(EMAILS, params={"limit": 1})
    body = assert_envelope(over, 429)
    assert body["error"] == "Too Many Requests"
    assert "20 requests per minute" in body["message"] and "GET /api/v2/emails" in body["message"]
    assert 1 <= int(over.headers["retry-after"]) <= 60
    assert over.headers["x-ratelimit-remaining"] == "0"
    # the other email operations are not held by the list's budget
    assert (await tenant.get(f"{EMAILS}/unread/count")).status_code == 200
    assert (await tenant.post(f"{EMAILS}/test", json={**TEST_BODY, "body": {"html": "x"}})).status_code == 200
    # and another workspace has its own
    assert (await other_tenant.get(EMAILS)).status_code == 200


async def test_test_email_is_limited_to_10_per_minute(
    app: Any, engine: AsyncEngine, tenant: Tenant, test_settings: Settings
) -> None:
    app.state.rate_limiter = RateLimiter(engine, 0, 0, endpoint_limits(test_settings))
    await same_minute(12)
    for _ in range(10):
        response = await tenant.post(f"{EMAILS}/test", json={**TEST_BODY, "body": {"html": "x"}})
        assert response.json() == {"error": "ACC_NOT_FOUND"}
    over = await tenant.post(f"{EMAILS}/test", json={**TEST_BODY, "body": {"html": "x"}})
    assert "10 requests per minute" in assert_envelope(over, 429)["message"]
    assert (await tenant.get(EMAILS)).status_code == 200


async def test_endpoint_budget_adds_to_the_workspace_budget(app: Any, engine: AsyncEngine, tenant: Tenant) -> None:
    app.state.rate_limiter = RateLimiter(engine, 0, 5, {EMAILS_LIST: 3})
    await same_minute(8)
    first = await tenant.get(EMAILS)
    assert first.headers["x-ratelimit-limit"] == "3"  # the tighter budget is the one shown
    await tenant.get(EMAILS)
    await tenant.get(EMAILS)
    assert "GET /api/v2/emails" in assert_envelope(await tenant.get(EMAILS), 429)["message"]
    # every request drew on the workspace's 5 as well: one more anywhere is the last
    assert (await tenant.get("/api/v2/workspaces/current")).status_code == 200
    over = await tenant.get("/api/v2/workspaces/current")
    assert "for this workspace" in assert_envelope(over, 429)["message"]


async def test_limits_off(app: Any, engine: AsyncEngine, tenant: Tenant) -> None:
    app.state.rate_limiter = RateLimiter(engine, 0, 0, {EMAILS_LIST: 0, EMAILS_TEST: 0})
    for _ in range(25):
        response = await tenant.get(EMAILS)
        assert response.status_code == 200
    assert "x-ratelimit-limit" not in response.headers
    # no database at all (the tests' default): nothing is counted either
    app.state.rate_limiter = RateLimiter(None, 0, 0, {EMAILS_LIST: 1})
    assert (await tenant.get(EMAILS)).status_code == 200
    assert (await tenant.get(EMAILS)).status_code == 200


def test_settings_name_the_endpoint_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLDSEND_EMAILS_LIST_PER_MINUTE", raising=False)
    monkeypatch.delenv("COLDSEND_EMAILS_TEST_PER_MINUTE", raising=False)
    assert endpoint_limits(Settings()) == {EMAILS_LIST: 20, EMAILS_TEST: 10}
    monkeypatch.setenv("COLDSEND_EMAILS_LIST_PER_MINUTE", "5")
    monkeypatch.setenv("COLDSEND_EMAILS_TEST_PER_MINUTE", "0")
    limiter = RateLimiter(None, 0, 0, endpoint_limits(Settings()))
    assert limiter.endpoint_limits == {EMAILS_LIST: 5}

"""Cross-cutting wire behaviour: the error envelope, authentication, rate limits, docs and health."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from coldsend.app import create_app
from coldsend.config import Settings
from coldsend.kit.ratelimit import RateLimiter
from tests.conftest import Tenant
from tests.custom_tags.test_endpoints import assert_envelope


async def test_unknown_route_is_404_envelope(client: httpx.AsyncClient) -> None:
    body = assert_envelope(await client.get("/api/v2/no-such-thing"), 404)
    assert body["error"] == "Not Found"


async def test_wrong_method_is_405_envelope(tenant: Tenant) -> None:
    body = assert_envelope(await tenant.request("PUT", "/api/v2/custom-tags"), 405)
    assert body["error"] == "Method Not Allowed"


async def test_unexpected_errors_are_500_without_details(test_settings: Settings) -> None:
    app = create_app(test_settings, manage_db=False)

    @app.get("/api/v2/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals at /srv/db password=hunter2")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        response = await c.get("/api/v2/boom")
    body = assert_envelope(response, 500)
    assert body == {"statusCode": 500, "error": "Internal Server Error", "message": "Internal Server Error"}
    assert "hunter2" not in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
async def test_missing_or_bad_keys_are_401(client: httpx.AsyncClient, tenant: Tenant, headers: dict) -> None:
    body = assert_envelope(await client.get("/api/v2/custom-tags", headers=headers), 401)
    assert body["error"] == "Unauthorized"


async def test_bare_key_without_bearer_prefix_is_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/api/v2/workspaces/current", headers={"Authorization": tenant.key})
    assert response.status_code == 200


async def test_lowercase_bearer_is_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/api/v2/workspaces/current", headers={"Authorization": f"bearer {tenant.key}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (["custom_tags:read"], True),
        (["custom_tags:all"], True),
        (["all:read"], True),
        (["all:all"], True),
        (["custom_tags:create"], False),
        (["custom_tag_mappings:read"], False),
        (["all:create", "leads:all"], False),
    ],
)
async def test_scope_rule(tenant: Tenant, scopes: list[str], allowed: bool) -> None:
    key = await tenant.key_with(*scopes)
    response = await tenant.client.get("/api/v2/custom-tags", headers={"Authorization": f"Bearer {key}"})
    if allowed:
        assert response.status_code == 200
    else:
        body = assert_envelope(response, 403)
        assert "custom_tags:read" in body["message"]


async def test_validation_errors_never_use_422(tenant: Tenant) -> None:
    response = await tenant.post("/api/v2/custom-tags", json=[1, 2])
    assert response.status_code == 400
    assert "detail" not in response.json()


# -- rate limits -------------------------------------------------------------------------------


async def test_per_second_limit_answers_429_with_headers(
    app: Any, engine: AsyncEngine, tenant: Tenant, other_tenant: Tenant
) -> None:
    app.state.rate_limiter = RateLimiter(engine, per_second=5, per_minute=0)
    # align to the start of a second so the 7 requests share one window
    await asyncio.sleep(1 - (time.time() % 1) + 0.02)
    statuses = []
    last: httpx.Response | None = None
    for _ in range(7):
        last = await tenant.get("/api/v2/workspaces/current")
        statuses.append(last.status_code)
    assert statuses[:5] == [200] * 5, statuses
    assert statuses[5:] == [429, 429]
    assert last is not None
    body = assert_envelope(last, 429)
    assert body["error"] == "Too Many Requests"
    assert last.headers["retry-after"] == "1"
    assert last.headers["x-ratelimit-limit"] == "5"
    assert last.headers["x-ratelimit-remaining"] == "0"
    assert int(last.headers["x-ratelimit-reset"]) >= int(time.time())
    # another workspace has its own budget
    assert (await other_tenant.get("/api/v2/workspaces/current")).status_code == 200
    # and the window moves on
    await asyncio.sleep(1.05)
    ok = await tenant.get("/api/v2/workspaces/current")
    assert ok.status_code == 200
    assert ok.headers["x-ratelimit-remaining"] == "4"


async def test_per_minute_limit_and_successful_responses_carry_headers(
    app: Any, engine: AsyncEngine, tenant: Tenant
) -> None:
    app.state.rate_limiter = RateLimiter(engine, per_second=0, per_minute=3)
    first = await tenant.get("/api/v2/workspaces/current")
    assert first.headers["x-ratelimit-limit"] == "3"
    assert first.headers["x-ratelimit-remaining"] == "2"
    await tenant.get("/api/v2/workspaces/current")
    await tenant.get("/api/v2/workspaces/current")
    over = await tenant.get("/api/v2/workspaces/current")
    assert_envelope(over, 429)
    assert 1 <= int(over.headers["retry-after"]) <= 60
    assert "per minute" in over.json()["message"]


async def test_keys_of_one_workspace_share_its_budget(app: Any, engine: AsyncEngine, tenant: Tenant) -> None:
    app.state.rate_limiter = RateLimiter(engine, per_second=0, per_minute=2)
    second_key = await tenant.key_with("all:all")
    assert (await tenant.get("/api/v2/workspaces/current")).status_code == 200
    assert (
        await tenant.get("/api/v2/workspaces/current", headers={"Authorization": f"Bearer {second_key}"})
    ).status_code == 200
    assert_envelope(
        await tenant.get("/api/v2/workspaces/current", headers={"Authorization": f"Bearer {second_key}"}), 429
    )


async def test_limits_off_means_no_rate_limit_headers(tenant: Tenant) -> None:
    response = await tenant.get("/api/v2/workspaces/current")
    assert "x-ratelimit-limit" not in response.headers


def test_settings_read_rate_limits_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLDSEND_RATE_LIMIT_PER_SECOND", "7")
    monkeypatch.setenv("COLDSEND_RATE_LIMIT_PER_MINUTE", "0")
    settings = Settings()
    assert settings.rate_limit_per_second == 7
    assert settings.rate_limit_per_minute == 0
    limiter = RateLimiter(None, settings.rate_limit_per_second, settings.rate_limit_per_minute)
    assert limiter.limits == {1: 7}


def test_default_rate_limits_are_instantlys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLDSEND_RATE_LIMIT_PER_SECOND", raising=False)
    monkeypatch.delenv("COLDSEND_RATE_LIMIT_PER_MINUTE", raising=False)
    settings = Settings()
    assert (settings.rate_limit_per_second, settings.rate_limit_per_minute) == (100, 6000)


# -- docs and health ---------------------------------------------------------------------------


async def test_docs_page_is_served_offline_with_authorize(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/docs-static/swagger-ui-bundle.js" in page.text
    assert "persistAuthorization" in page.text
    asset = await client.get("/docs-static/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["ApiKeyAuth"] == {"type": "http", "scheme": "bearer"}
    op = spec["paths"]["/api/v2/custom-tags"]["get"]
    assert op["security"] == [{"ApiKeyAuth": []}]
    assert "`custom_tags:read`" in op["description"]


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_startup_freezes_long_lived_objects_out_of_the_gc(database_url: str, test_settings: Settings) -> None:
    """Full collections over start-up objects stalled requests ~100 ms (BENCHMARKS.md); serve freezes them."""
    import gc

    settings = test_settings.model_copy(update={"database_url": database_url})
    app = create_app(settings)
    gc.unfreeze()
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 0
            response = await httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ).get("/healthz")
            assert response.status_code == 200
    finally:
        gc.unfreeze()

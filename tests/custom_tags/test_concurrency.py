"""Races that only committed transactions can show: two requests creating the same label at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coldsend.api_keys.service import ApiKeyService
from coldsend.app import create_app, install_database
from coldsend.config import Settings
from coldsend.kit.db import create_sessionmaker
from coldsend.workspaces.repository import create_workspace


@pytest.fixture
async def committed(engine: AsyncEngine, test_settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """An app whose requests really commit, with a workspace deleted (cascading) afterwards."""
    app: Any = create_app(test_settings, manage_db=False)
    install_database(app, engine, test_settings)
    async with create_sessionmaker(engine)() as session, session.begin():
        workspace = await create_workspace(session, "race")
        key = (await ApiKeyService(session, workspace.id).create("k", ["all:all"], creator_scopes=None)).plaintext
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            yield client, str(workspace.id)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM workspaces WHERE id = :id"), {"id": workspace.id})


async def test_parallel_creates_of_one_label_store_it_once(committed: tuple[httpx.AsyncClient, str]) -> None:
    client, _ = committed
    labels = ["Race", "race", " RACE ", "Race", "rAce", "Race "]
    responses = await asyncio.gather(*(client.post("/api/v2/custom-tags", json={"label": lb}) for lb in labels))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409, 409, 409], [r.text for r in responses]
    items = (await client.get("/api/v2/custom-tags")).json()["items"]
    assert len(items) == 1


async def test_parallel_toggles_never_duplicate_mappings(committed: tuple[httpx.AsyncClient, str],
                                                         engine: AsyncEngine) -> None:
    client, workspace_id = committed
    tag = (await client.post("/api/v2/custom-tags", json={"label": "t"})).json()
    async with engine.begin() as conn:
        campaign_id = (await conn.execute(
            text("INSERT INTO campaigns (organization_id, id, name, status, timestamp_created, timestamp_updated) "
                 "VALUES (:o, gen_random_uuid(), 'c', 0, now(), now()) RETURNING id"), {"o": workspace_id}
        )).scalar_one()
    body = {"tag_ids": [tag["id"]], "resource_type": 2, "resource_ids": [str(campaign_id)], "assign": True}
    responses = await asyncio.gather(*(client.post("/api/v2/custom-tags/toggle-resource", json=body) for _ in range(8)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert len((await client.get("/api/v2/custom-tag-mappings")).json()["items"]) == 1

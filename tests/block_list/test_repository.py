"""The block list API other domains use: `blocked_among` (lead imports) and `add_to_block_list`
(unsubscribes), and the value rules they share with the endpoints."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.block_list.repository import BlockListRepository
from coldsend.block_list.service import add_to_block_list
from coldsend.block_list.values import normalize_block_value
from coldsend.kit.errors import BadRequest
from tests.conftest import Tenant


async def test_blocked_among_matches_emails_and_domains_of_this_workspace_only(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    for value in ("blocked@example.com", "spam.net"):
        await add_to_block_list(session, tenant.id, value)
    await add_to_block_list(session, other_tenant.id, "theirs.org")
    await add_to_block_list(session, other_tenant.id, "free@example.com")
    emails = [
        "blocked@example.com",
        "free@example.com",
        "anyone@spam.net",
        "someone@sub.spam.net",  # a domain entry blocks that domain, not its subdomains
        "x@theirs.org",
        "spam.net",  # no @: not an address, never blocked by the domain entry
    ]
    blocked = await BlockListRepository(session, tenant.id).blocked_among(emails)
    assert blocked == {"blocked@example.com", "anyone@spam.net"}
    assert await BlockListRepository(session, other_tenant.id).blocked_among(emails) == {
        "free@example.com",
        "x@theirs.org",
    }


async def test_blocked_among_of_nothing_is_nothing(tenant: Tenant, session: AsyncSession) -> None:
    assert await BlockListRepository(session, tenant.id).blocked_among([]) == set()


async def test_blocked_among_1000_emails_is_one_fast_query(tenant: Tenant, session: AsyncSession) -> None:
    await session.execute(
        text(
            "INSERT INTO block_list_entries (organization_id, id, bl_value, is_domain, timestamp_created) "
            "SELECT :org, gen_random_uuid(), 'user' || i || '@domain' || (i % 500) || '.com', false, now() "
            "FROM generate_series(1, 50000) i"
        ),
        {"org": tenant.id},
    )
    await add_to_block_list(session, tenant.id, "domain8.com")
    await session.execute(text("ANALYZE block_list_entries"))
    emails = [f"user{i}@domain{i % 500}.com" for i in range(0, 2000, 2)] + ["fresh@domain8.com", "fresh@domain9.com"]
    repository = BlockListRepository(session, tenant.id)
    started = time.perf_counter()
    blocked = await repository.blocked_among(emails)
    elapsed = time.perf_counter() - started
    assert blocked == set(emails) - {"user0@domain0.com", "fresh@domain9.com"}
    assert elapsed < 1.0, f"blocked_among took {elapsed:.3f}s for 1000 emails"


async def test_add_to_block_list_is_idempotent(tenant: Tenant, session: AsyncSession) -> None:
    await add_to_block_list(session, tenant.id, "Leaver@Example.com")
    await add_to_block_list(session, tenant.id, " leaver@example.com ")
    rows = (
        await session.execute(
            text("SELECT bl_value, is_domain FROM block_list_entries WHERE organization_id = :o"), {"o": tenant.id}
        )
    ).all()
    assert [tuple(r) for r in rows] == [("leaver@example.com", False)]
    listed = (await tenant.get("/api/v2/block-lists-entries")).json()["items"]
    assert [e["bl_value"] for e in listed] == ["leaver@example.com"]


async def test_add_to_block_list_refuses_a_value_that_is_no_address(tenant: Tenant, session: AsyncSession) -> None:
    with pytest.raises(BadRequest):
        await add_to_block_list(session, tenant.id, "not an address")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("User@Example.com", ("user@example.com", False)),
        (" example.com ", ("example.com", True)),
        ("@example.com", ("example.com", True)),
        ("example.com.", ("example.com", True)),
        ("a.b-c.d.example", ("a.b-c.d.example", True)),
        ("first.last+tag@mail.example.org", ("first.last+tag@mail.example.org", False)),
        ("example", None),
        ("example.c0m", None),
        (".example.com", None),
        ("a@b@example.com", None),
        ("user.@example.com", None),
        ("user@example..com", None),
        ("x" * 63 + ".com", ("x" * 63 + ".com", True)),
        ("x" * 64 + ".com", None),
    ],
)
def test_normalize_block_value(raw: str, expected: tuple[str, bool] | None) -> None:
    result = normalize_block_value(raw)
    assert (tuple(result) if result else None) == expected

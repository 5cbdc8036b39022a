"""`search` of `POST /leads/list` (the trigram index's expression, short fragments, literal characters)
and `GET /campaigns/search-by-contact`."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from coldsend.leads.listing import LEADS, search_condition
from tests.conftest import Tenant
from tests.leads._listing_helpers import BY_CONTACT, add_campaign, add_lead, add_list, emails

pytestmark = pytest.mark.asyncio


async def _people(tenant: Tenant, session: AsyncSession) -> None:
    await add_lead(session, tenant.id, "john.smith@acme.com", first_name="John", last_name="Smith")
    await add_lead(session, tenant.id, "jdoe@globex.com", first_name="John", last_name="Doe")
    await add_lead(session, tenant.id, "mary@initech.com", first_name="Mary", last_name="Johnson")
    await add_lead(session, tenant.id, "o'brien@pub.ie", first_name="Sean", last_name="O'Brien")
    await add_lead(session, tenant.id, "odd_name%@weird.org", first_name="Per\\cent", last_name=None)
    await add_lead(session, tenant.id, None, first_name="Anne", last_name="Nomail")


SEARCHES: list[tuple[str, list[str | None]]] = [
    ("john", ["john.smith@acme.com", "jdoe@globex.com", "mary@initech.com"]),  # Johnson too
    ("JOHN DOE", ["jdoe@globex.com"]),
    ("john smith", ["john.smith@acme.com"]),
    ("globex", ["jdoe@globex.com"]),
    ("jdoe@globex.com", ["jdoe@globex.com"]),
    ("  initech  ", ["mary@initech.com"]),
    ("o'brien", ["o'brien@pub.ie"]),
    ("_name%", ["odd_name%@weird.org"]),  # LIKE wildcards are literal characters
    ("e_n", []),
    ("%", []),  # short: nothing starts with a percent sign
    ("r\\c", ["odd_name%@weird.org"]),
    ("nomail", [None]),
    ("nobody", []),
    # under 3 characters: the email, first name or last name starts with it
    ("jo", ["john.smith@acme.com", "jdoe@globex.com", "mary@initech.com"]),
    ("jd", ["jdoe@globex.com"]),
    ("sm", ["john.smith@acme.com"]),
    ("mi", []),  # inside "smith", not at its start
    ("a", [None]),  # "Anne"; "acme" follows an "@", not the start of the email or a name
    ("", ["john.smith@acme.com", "jdoe@globex.com", "mary@initech.com", "o'brien@pub.ie", "odd_name%@weird.org", None]),
]


@pytest.mark.parametrize(("search", "expected"), SEARCHES, ids=[repr(s[0]) for s in SEARCHES])
async def test_search(search: str, expected: list[str | None], tenant: Tenant, session: AsyncSession) -> None:
    await _people(tenant, session)
    assert await emails(tenant, search=search) == expected


async def test_search_within_a_campaign_and_paged(tenant: Tenant, session: AsyncSession) -> None:
    campaign = await add_campaign(session, tenant.id, "C")
    for i in range(5):
        await add_lead(session, tenant.id, f"target{i}@example.com", campaign_id=campaign)
        await add_lead(session, tenant.id, f"other{i}@example.com", campaign_id=campaign)
        await add_lead(session, tenant.id, f"target{i}@elsewhere.com")
    found = await emails(tenant, search="target", campaign=str(campaign), limit=2)
    assert found == [f"target{i}@example.com" for i in range(5)]


async def _plan(session: AsyncSession, search: str) -> str:
    """EXPLAIN of the search condition as the app compiles it, with table and plain index scans
    disabled (a handful of test rows would otherwise be read straight from the table)."""
    condition = search_condition(search)
    assert condition is not None
    statement = select(LEADS.c.id).where(condition)
    sql = str(statement.compile(dialect=asyncpg.dialect(), compile_kwargs={"literal_binds": True}))
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    await session.execute(text("SET LOCAL enable_indexscan = off"))
    rows = (await session.execute(text("EXPLAIN " + sql))).all()
    return "\n".join(r[0] for r in rows)


@pytest.mark.parametrize("search", ["john smith", "acme.com", "jo", "x"])
async def test_search_is_served_by_the_trigram_index(search: str, tenant: Tenant, session: AsyncSession) -> None:
    await _people(tenant, session)
    plan = await _plan(session, search)
    assert "ix_leads_search_trgm" in plan, plan


async def test_the_search_pattern_is_inlined_so_each_search_gets_its_own_plan(
    tenant: Tenant, session: AsyncSession, engine: AsyncEngine
) -> None:
    """A bound pattern would let PostgreSQL switch the prepared statement to a generic plan that
    cannot know how selective the pattern is; the pattern is in the SQL text instead (quoted)."""
    await add_lead(session, tenant.id, "it's@example.com", first_name="100%")
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "FROM leads" in statement and "LIKE" in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        assert await emails(tenant, search="it's@example.com 100%") == ["it's@example.com"]
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    assert seen, "the search statement was not seen"
    statement, parameters = seen[0]
    assert "LIKE '%it''s@example.com 100\\%%'" in statement, statement
    assert not any("it's" in str(p) for p in (parameters or ())), parameters


# -- GET /campaigns/search-by-contact -----------------------------------------------------------------


async def test_campaigns_of_a_contact(tenant: Tenant, other_tenant: Tenant, session: AsyncSession) -> None:
    beta = await add_campaign(session, tenant.id, "Beta")
    alpha = await add_campaign(session, tenant.id, "Alpha")
    unrelated = await add_campaign(session, tenant.id, "Unrelated")
    theirs = await add_campaign(session, other_tenant.id, "Theirs")
    lst = await add_list(session, tenant.id)
    for campaign in (beta, alpha, theirs):
        await add_lead(
            session, tenant.id if campaign != theirs else other_tenant.id, "pat@example.com", campaign_id=campaign
        )
    await add_lead(session, tenant.id, "pat@example.com", list_id=lst)
    await add_lead(session, tenant.id, "someone@example.com", campaign_id=unrelated)

    async def names(**params: Any) -> list[str]:
        response = await tenant.get(BY_CONTACT, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items"}
        return [c["name"] for c in body["items"]]

    assert await names(search="pat@example.com") == ["Beta", "Alpha"]  # created first, first
    assert await names(search="PAT@Example.com ") == ["Beta", "Alpha"]
    assert await names(search="pat@example.com", sort_order="desc") == ["Alpha", "Beta"]
    assert await names(search="pat@example.com", sort_column="name") == ["Alpha", "Beta"]
    assert await names(search="pat@example.com", sort_column="name", sort_order="desc") == ["Beta", "Alpha"]
    assert await names(search="nobody@example.com") == []
    assert await names(search="pat") == []  # the whole address, not a fragment
    # the other workspace sees only its own campaign
    response = await other_tenant.get(BY_CONTACT, params={"search": "pat@example.com"})
    assert [c["name"] for c in response.json()["items"]] == ["Theirs"]
    full = (await tenant.get(BY_CONTACT, params={"search": "pat@example.com"})).json()["items"][0]
    assert full["id"] == str(beta) and full["organization"] == str(tenant.id)


async def test_a_plus_sign_turned_into_a_space_still_finds_the_contact(tenant: Tenant, session: AsyncSession) -> None:
    campaign = await add_campaign(session, tenant.id, "C")
    await add_lead(session, tenant.id, "pat+news@example.com", campaign_id=campaign)
    for raw in ("pat+news@example.com", "pat news@example.com"):
        response = await tenant.get(BY_CONTACT, params={"search": raw})
        assert [c["name"] for c in response.json()["items"]] == ["C"], raw
    # unencoded `+` in a hand-written query string
    response = await tenant.get(BY_CONTACT + "?search=pat+news@example.com")
    assert [c["name"] for c in response.json()["items"]] == ["C"]


async def test_search_by_contact_is_not_shadowed_by_campaign_ids(tenant: Tenant) -> None:
    response = await tenant.get(BY_CONTACT, params={"search": "x@example.com"})
    assert response.status_code == 200 and response.json() == {"items": []}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "querystring/search"),
        ({"search": "  "}, "querystring/search"),
        ({"search": "a@b.c", "sort_column": "password"}, "querystring/sort_column"),
        ({"search": "a@b.c", "sort_order": "sideways"}, "querystring/sort_order"),
    ],
)
async def test_search_by_contact_400s(params: dict[str, str], field: str, tenant: Tenant) -> None:
    response = await tenant.get(BY_CONTACT, params=params)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]


async def test_search_by_contact_scopes(tenant: Tenant) -> None:
    for scope in ("campaigns:read", "campaigns:all", "all:read", "all:all"):
        key = await tenant.key_with(scope)
        response = await tenant.client.get(
            BY_CONTACT, params={"search": "a@b.co"}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200, (scope, response.text)
    for scope in ("leads:read", "campaigns:update"):
        key = await tenant.key_with(scope)
        response = await tenant.client.get(
            BY_CONTACT, params={"search": "a@b.co"}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 403, (scope, response.text)

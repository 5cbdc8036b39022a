"""Real responses of every implemented operation, validated against the reference's response schemas
(formats `uuid` and `date-time` checked), errors included where the reference documents the status."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

import tests.conformance.scenarios_account_checks  # registers scenarios
import tests.conformance.scenarios_accounts  # registers scenarios
import tests.conformance.scenarios_background_jobs  # registers scenarios
import tests.conformance.scenarios_block_list  # registers scenarios
import tests.conformance.scenarios_campaigns as scenarios_campaigns  # noqa: F401  (registers scenarios)
import tests.conformance.scenarios_emails  # registers scenarios
import tests.conformance.scenarios_lead_labels  # registers scenarios
import tests.conformance.scenarios_lead_listing  # registers scenarios
import tests.conformance.scenarios_lead_lists  # registers scenarios
import tests.conformance.scenarios_leads  # noqa: F401  (each import registers scenarios)
from tests.conformance import scenarios_foundation  # noqa: F401  (registers scenarios)
from tests.conformance._scenario_kit import SCENARIOS, expect
from tests.conformance._spec import (
    fill_path,
    implemented_operations,
    op_ids,
    reference,
)
from tests.conftest import Tenant

OPERATIONS = implemented_operations()
by_op = pytest.mark.parametrize("op", OPERATIONS, ids=op_ids())


def test_every_implemented_operation_has_a_scenario() -> None:
    assert sorted(SCENARIOS) == sorted(o.operation_id for o in OPERATIONS)


@pytest.mark.parametrize("operation_id", sorted(o.operation_id for o in OPERATIONS))
async def test_responses_match_the_reference(
    operation_id: str, tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    reference()
    if operation_id not in SCENARIOS:
        pytest.fail(f"no scenario exercises {operation_id}: add one to {__name__}.SCENARIOS")
    await SCENARIOS[operation_id](tenant, other_tenant, session)


@by_op
async def test_401_matches_the_reference(op: Any, tenant: Tenant) -> None:
    reference()
    kwargs: dict[str, Any] = {"json": {}} if "requestBody" in op.spec else {}
    response = await tenant.client.request(op.method.upper(), fill_path(op.path), **kwargs)
    expect(response, 401, op.operation_id)
    garbage = await tenant.client.request(
        op.method.upper(), fill_path(op.path), headers={"Authorization": "Bearer nope"}, **kwargs
    )
    expect(garbage, 401, op.operation_id)


WITH_ID = [o for o in OPERATIONS if "{" in o.path]


@pytest.mark.parametrize("op", WITH_ID, ids=[o.operation_id for o in WITH_ID])
@pytest.mark.parametrize("path_id", ["random-uuid", "not-a-uuid"])
async def test_404_for_unknown_ids_matches_the_reference(op: Any, path_id: str, tenant: Tenant) -> None:
    reference()
    value = str(uuid.uuid4()) if path_id == "random-uuid" else "not-a-uuid"
    kwargs: dict[str, Any] = {"json": {"label": "x"}} if op.method == "patch" else {}
    response = await tenant.request(op.method.upper(), re.sub(r"\{[^}]+\}", value, op.path), **kwargs)
    expect(response, 404, op.operation_id)


"""Shared pieces of the response-schema scenarios: the registry, `expect`, and row helpers.

Each domain registers its scenarios with `@scenario("operationId")` in a `scenarios_<domain>.py`
module; `test_response_schemas.py` imports them all."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from jsonschema.exceptions import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conformance._spec import (
    describe,
    operation_by_id,
    reference_response_schema,
    schema_errors,
)
from tests.conftest import Tenant
from tests.factories import add_account, add_campaign  # noqa: F401  (re-exported for scenarios)

WIRE_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
Tolerate = Callable[[ValidationError], bool]


def timestamp_problems(node: Any, where: str = "") -> list[str]:
    """Wire rule: every timestamp is UTC ISO-8601 with milliseconds and `Z`."""
    problems: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and (key.startswith("timestamp") or key.endswith("_at")):
                if key != "next_starting_after" and not WIRE_TIMESTAMP.match(value):
                    problems.append(f"{where}/{key} = {value!r}")
            else:
                problems.extend(timestamp_problems(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            problems.extend(timestamp_problems(value, f"{where}/{i}"))
    return problems


def expect(response: httpx.Response, status: int, operation_id: str, tolerate: Tolerate | None = None) -> Any:
    """Assert the status, then validate the body against the reference's schema for that status.

    Error statuses the reference does not document for the operation are checked for the envelope only.
    """
    op = operation_by_id(operation_id)
    assert response.status_code == status, f"{op.operation_id}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if status >= 400 and reference_response_schema(op.method, op.path, status) is None:
        assert set(body) == {"statusCode", "error", "message"} and body["statusCode"] == status, body
        return body
    errors = schema_errors(op.method, op.path, status, body)
    if tolerate is not None:
        errors = [e for e in errors if not tolerate(e)]
    assert not errors, f"{op.operation_id} {status} does not match the reference:\n{describe(errors)}\n{body}"
    assert not timestamp_problems(body), f"timestamps not in wire format: {timestamp_problems(body)}"
    return body


async def new_tag(tenant: Tenant, label: str, description: str | None = None) -> dict[str, Any]:
    return expect(
        await tenant.post("/api/v2/custom-tags", json={"label": label, "description": description}),
        200,
        "createCustomTag",
    )


# -- one scenario per operation -------------------------------------------------------------------

Scenario = Callable[[Tenant, Tenant, AsyncSession], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(operation_id: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[operation_id] = fn
        return fn

    return register

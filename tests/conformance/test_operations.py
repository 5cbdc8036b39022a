"""Every operation we serve exists in the reference with its method, path, operationId, query
parameters and scopes; and the scopes are enforced as the reference states them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conformance._spec import (
    DOCUMENTED_SCOPE_DECISIONS,
    NOT_IMPLEMENTED,
    Operation,
    expected_scopes,
    fill_path,
    implemented_operations,
    op_ids,
    our_openapi,
    reference,
    reference_operation,
    reference_parameters,
    reference_scopes,
    resolve_pointer,
)
from tests.conftest import Tenant

OPERATIONS = implemented_operations()
by_op = pytest.mark.parametrize("op", OPERATIONS, ids=op_ids())

UNRELATED_SCOPE = "webhooks:read"  # no implemented operation accepts it (checked in the test)


def test_we_serve_operations() -> None:
    assert OPERATIONS, "our OpenAPI lists no operation under /api/v2"
    assert len({o.operation_id for o in OPERATIONS}) == len(OPERATIONS), "operationIds must be unique"


@by_op
def test_operation_exists_in_reference(op: Operation) -> None:
    reference()
    ref_op = reference_operation(op.method, op.path)
    assert ref_op is not None, f"{op.label} ({op.operation_id}) is not an operation of the reference"
    assert op.operation_id == ref_op.get("operationId"), (
        f"{op.label}: operationId {op.operation_id!r}, the reference says {ref_op.get('operationId')!r}"
    )


@by_op
def test_query_parameters_cover_the_reference(op: Operation) -> None:
    reference()
    if reference_operation(op.method, op.path) is None:
        pytest.fail(f"{op.label} is not in the reference")
    ours = {p["name"] for p in op.spec.get("parameters", []) if p.get("in") == "query"}
    missing = [n for n in reference_parameters(op.method, op.path, "query") if n not in ours]
    assert not missing, f"{op.operation_id} lacks the reference's query parameters {missing}"


@by_op
def test_path_parameters_match_the_reference(op: Operation) -> None:
    reference()
    if reference_operation(op.method, op.path) is None:
        pytest.fail(f"{op.label} is not in the reference")
    ours = sorted(p["name"] for p in op.spec.get("parameters", []) if p.get("in") == "path")
    assert ours == sorted(reference_parameters(op.method, op.path, "path"))


@by_op
def test_required_scopes_match_the_reference(op: Operation) -> None:
    """Our OpenAPI's `x-required-scopes` lists exactly the reference's scopes, in its order."""
    reference()
    expected = expected_scopes(op)
    assert op.spec.get("x-required-scopes") == expected, (
        f"{op.operation_id}: x-required-scopes is {op.spec.get('x-required-scopes')!r}, expected {expected!r}"
    )
    assert op.spec.get("security") == [{"ApiKeyAuth": []}], f"{op.operation_id} does not declare bearer auth"


def test_scope_decisions_are_for_operations_the_reference_leaves_open() -> None:
    """A documented decision must not silently override scopes the reference does state."""
    reference()
    for op in OPERATIONS:
        if op.operation_id in DOCUMENTED_SCOPE_DECISIONS:
            ref_op = reference_operation(op.method, op.path)
            assert ref_op is not None
            assert reference_scopes(ref_op) is None, f"the reference now states scopes for {op.operation_id}"


def _ours_resolved(node: Any) -> Any:
    """Follow `$ref`s of OUR document (components only)."""
    while isinstance(node, dict) and "$ref" in node:
        node = our_openapi()["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _reference_resolved(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = resolve_pointer(node["$ref"])
    return node


def _non_null(node: Any, resolve: Any) -> Any:
    """The one non-null branch of an `anyOf`/`oneOf` (Optional fields), else the node itself."""
    for key in ("anyOf", "oneOf"):
        if isinstance(node, dict) and key in node:
            branches = [resolve(b) for b in node[key] if b.get("type") != "null"]
            if len(branches) == 1:
                return branches[0]
    return node


def _shape_differences(ours: Any, theirs: Any, where: str) -> list[str]:
    """Property names (and required ones) of two object schemas, compared down through arrays."""
    ours, theirs = (
        _non_null(_ours_resolved(ours), _ours_resolved),
        _non_null(_reference_resolved(theirs), _reference_resolved),
    )
    if theirs.get("type") == "array" or "items" in theirs:
        if ours.get("type") != "array":
            return [f"{where}: reference has an array, ours is {ours}"]
        return _shape_differences(ours.get("items", {}), theirs.get("items", {}), f"{where}[]")
    if "properties" not in theirs:
        return []
    if "properties" not in ours:
        return [f"{where}: reference has an object with {sorted(theirs['properties'])}, ours is {ours}"]
    problems = []
    if set(ours["properties"]) != set(theirs["properties"]):
        problems.append(
            f"{where}: properties differ: only ours {sorted(set(ours['properties']) - set(theirs['properties']))}, "
            f"only reference {sorted(set(theirs['properties']) - set(ours['properties']))}"
        )
    missing_required = set(theirs.get("required", [])) - set(ours.get("required", []))
    if missing_required:
        problems.append(f"{where}: the reference requires {sorted(missing_required)}, ours does not")
    for name in set(ours["properties"]) & set(theirs["properties"]):
        problems.extend(_shape_differences(ours["properties"][name], theirs["properties"][name], f"{where}.{name}"))
    return problems


@by_op
def test_documented_success_body_has_the_reference_shape(op: Operation) -> None:
    """Our OpenAPI documents the 200 body with the reference's fields (what clients and fuzzers read)."""
    reference()
    ref_op = reference_operation(op.method, op.path)
    assert ref_op is not None
    if "200" not in ref_op["responses"] and "204" in ref_op["responses"]:  # no body (shareCampaign)
        assert "204" in op.spec["responses"] and "200" not in op.spec["responses"]
        return
    success = "200" if "200" in ref_op["responses"] else "202"  # 202: accepted for later (interest status)
    if "application/json" not in ref_op["responses"][success].get("content", {}):  # e.g. a CSV download
        documented = set(op.spec["responses"].get(success, {}).get("content", {}))
        assert documented == set(ref_op["responses"][success]["content"])
        return
    theirs = ref_op["responses"][success]["content"]["application/json"]["schema"]
    ours = op.spec["responses"].get(success, {}).get("content", {}).get("application/json", {}).get("schema")
    assert ours is not None, f"{op.operation_id} documents no JSON {success} body"
    problems = _shape_differences(ours, theirs, op.operation_id)
    assert not problems, "\n".join(problems)


@by_op
def test_documented_status_codes(op: Operation) -> None:
    """We document every status the reference does (but 402: no billing here), and never 422: validation
    errors are 400 in the envelope."""
    reference()
    ref_op = reference_operation(op.method, op.path)
    assert ref_op is not None
    ours = set(op.spec["responses"])
    missing = set(ref_op["responses"]) - {"402"} - ours
    assert not missing, f"{op.operation_id} does not document {sorted(missing)}"
    assert "422" not in ours, f"{op.operation_id} documents a 422 it never sends (errors are 400)"
    for status in {s for s in ours if not s.startswith("2")}:
        content = op.spec["responses"][status].get("content", {}).get("application/json", {})
        assert _ours_resolved(content.get("schema", {})).get("required") == ["statusCode", "error", "message"], (
            f"{op.operation_id} {status} is not documented as the error envelope"
        )


# -- behaviour ------------------------------------------------------------------------------------


async def call(tenant: Tenant, op: Operation, headers: dict[str, str]) -> httpx.Response:
    """A minimal request for `op`: random UUIDs for path ids, `{}` for a body."""
    kwargs: dict[str, Any] = {"headers": headers}
    if "requestBody" in op.spec:
        kwargs["json"] = {}
    return await tenant.client.request(op.method.upper(), fill_path(op.path), **kwargs)


def assert_envelope(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = response.json()
    assert set(body) == {"statusCode", "error", "message"}, body
    assert body["statusCode"] == status and body["error"] == error, body
    assert isinstance(body["message"], str) and body["message"], body


@by_op
async def test_unrelated_scope_is_forbidden(op: Operation, tenant: Tenant) -> None:
    reference()
    assert UNRELATED_SCOPE not in expected_scopes(op)
    key = await tenant.key_with(UNRELATED_SCOPE)
    response = await call(tenant, op, {"Authorization": f"Bearer {key}"})
    assert_envelope(response, 403, "Forbidden")


@by_op
async def test_every_accepted_scope_is_allowed(op: Operation, tenant: Tenant) -> None:
    reference()
    refused = {}
    for scope in expected_scopes(op):
        key = await tenant.key_with(scope)
        response = await call(tenant, op, {"Authorization": f"Bearer {key}"})
        if response.status_code in (401, 403) or response.status_code >= 500:
            refused[scope] = f"{response.status_code} {response.text}"
        else:
            assert response.status_code in (200, 400, 404, 409), f"{scope}: {response.status_code} {response.text}"
    assert not refused, f"{op.operation_id} refused scopes it must accept: {refused}"


@by_op
async def test_a_neighbouring_action_is_forbidden(op: Operation, tenant: Tenant) -> None:
    """The same resource with another action (e.g. `custom_tags:read` for a create) is not enough."""
    reference()
    specific = expected_scopes(op)[0]
    resource, _, action = specific.partition(":")
    other = f"{resource}:{'read' if action != 'read' else 'delete'}"
    assert other not in expected_scopes(op)
    key = await tenant.key_with(other)
    response = await call(tenant, op, {"Authorization": f"Bearer {key}"})
    assert_envelope(response, 403, "Forbidden")


AUTH_HEADERS = {
    "missing": {},
    "garbage-key": {"Authorization": "Bearer not-a-real-key-0123456789"},
    "empty-bearer": {"Authorization": "Bearer "},
    "bare-garbage": {"Authorization": "garbage"},
    "wrong-scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
}


@by_op
@pytest.mark.parametrize("case", list(AUTH_HEADERS))
async def test_unauthenticated_is_401(op: Operation, case: str, tenant: Tenant) -> None:
    response = await call(tenant, op, AUTH_HEADERS[case])
    assert_envelope(response, 401, "Unauthorized")


@by_op
async def test_revoked_key_is_401(op: Operation, tenant: Tenant) -> None:
    key = await tenant.key_with("all:all")
    listed = (await tenant.get("/api/v2/api-keys", params={"limit": 100})).json()["items"]
    key_id = next(k["id"] for k in listed if k["key"] == f"{key[:4]}…{key[-4:]}")
    assert (await tenant.delete(f"/api/v2/api-keys/{key_id}")).status_code == 200
    response = await call(tenant, op, {"Authorization": f"Bearer {key}"})
    assert_envelope(response, 401, "Unauthorized")


def _example(schema: dict[str, Any]) -> Any:
    """A value built from the reference's `example`s (first branch of a oneOf)."""
    schema = _reference_resolved(schema)
    if "example" in schema:
        return schema["example"]
    if "properties" in schema:  # an object that also lists alternatives (anyOf of required sets)
        return {name: _example(sub) for name, sub in schema["properties"].items()}
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return _example(schema[key][0])
    if schema.get("type") == "object":
        return {}
    if schema.get("type") == "array":
        return [_example(schema.get("items", {}))]
    return None


def _reference_object_body(op: Operation) -> dict[str, Any] | None:
    ref_op = reference_operation(op.method, op.path) or {}
    schema = ref_op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    schema = _reference_resolved(schema) if schema else None
    return schema if schema and (schema.get("type") == "object" or "properties" in schema) else None


WITH_BODY = [o for o in OPERATIONS if "requestBody" in o.spec]


@pytest.mark.parametrize("op", WITH_BODY, ids=[o.operation_id for o in WITH_BODY])
async def test_the_reference_example_body_is_accepted(op: Operation, tenant: Tenant) -> None:
    """A body made of the reference's own examples (every documented field) passes our validation."""
    reference()
    schema = _reference_object_body(op)
    if schema is None:
        pytest.fail(f"{op.operation_id} takes a body; the reference has no JSON object body for it")
    body = _example(schema)
    response = await tenant.request(op.method.upper(), fill_path(op.path), json=body)
    # The examples name resources that do not exist here (a sender `john@doe.com`, random ids): refusing
    # those is an existence check, not a shape problem, and the message says so.
    missing_reference = response.status_code == 400 and "in this workspace" in response.json()["message"]
    not_yet = response.status_code == 501 and op.operation_id in NOT_IMPLEMENTED
    assert response.status_code in (200, 404, 409) or missing_reference or not_yet, (
        f"{op.operation_id} refused {body}: {response.text}"
    )

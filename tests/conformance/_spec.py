"""Shared helpers of the conformance tests: our OpenAPI, the reference's, and matching between them.

The reference (Instantly's OpenAPI 3.1 document) is never copied into the repository: it is read from
`reference_spec_path()` and every test that needs it skips with a clear message when it is absent.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from coldsend.app import API_PREFIX, create_app
from coldsend.config import Settings
from tests.conftest import TEST_HOME, reference_spec_path

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
REFERENCE_URI = "urn:instantly:openapi"
MISSING_REFERENCE = (
    "Instantly's OpenAPI reference is absent: put it at ../shared/reference/instantly-openapi.json "
    "beside the repository or point $COLDSEND_REFERENCE_SPEC at it"
)

# Operations whose reference entry states no scopes: the scopes we chose, and why.
# toggleTagResource changes which tags a resource carries, i.e. it updates custom tags.
# Operations that answer the 501 envelope on purpose until their engine exists (README says so).
NOT_IMPLEMENTED: frozenset[str] = frozenset({"testAiReplyLabelLeadLabels"})

# Operations whose reference text states no scopes: what we require (README "The API" says why).
DOCUMENTED_SCOPE_DECISIONS: dict[str, list[str]] = {
    "toggleTagResource": ["custom_tags:update", "custom_tags:all", "all:update", "all:all"],
    "enableWarmupForAccounts": ["accounts:update", "accounts:all", "all:update", "all:all"],
    "disableWarmupForAccounts": ["accounts:update", "accounts:all", "all:update", "all:all"],
    "getDailyAccountAnalytics": ["accounts:read", "accounts:all", "all:read", "all:all"],
    "shareCampaign": ["campaigns:update", "campaigns:all", "all:update", "all:all"],
    # a list's verification statistics are read from the list
    "getVerificationStats": ["lead_lists:read", "lead_lists:all", "all:read", "all:all"],
    # setting a lead's interest status and sharing leads out to users both change leads
    "updateLeadInterestStatus": ["leads:update", "leads:all", "all:update", "all:all"],
    "bulkAssignLeads": ["leads:update", "leads:all", "all:update", "all:all"],
}

_SCOPES_SENTENCE = re.compile(r"Requires one of the following scopes:\s*((?:`[^`]+`(?:,\s*)?)+)")


@dataclass(frozen=True)
class Operation:
    """One operation of OUR OpenAPI document."""

    method: str  # lower case
    path: str
    operation_id: str
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"


@cache
def our_openapi() -> dict[str, Any]:
    """Our OpenAPI document, built from an app that needs no database (usable at collection time)."""
    settings = Settings(COLDSEND_HOME=TEST_HOME, COLDSEND_RATE_LIMIT_PER_SECOND=0, COLDSEND_RATE_LIMIT_PER_MINUTE=0)
    return create_app(settings, manage_db=False).openapi()


@cache
def implemented_operations() -> tuple[Operation, ...]:
    """Every operation we serve under /api/v2, in a stable order (xdist needs identical collection)."""
    ops = []
    for path, item in our_openapi()["paths"].items():
        if not path.startswith(API_PREFIX + "/"):
            continue
        for method, op in item.items():
            if method in HTTP_METHODS:
                ops.append(Operation(method, path, op.get("operationId", ""), op))
    return tuple(sorted(ops, key=lambda o: (o.path, o.method)))


def operation_by_id(operation_id: str) -> Operation:
    return next(o for o in implemented_operations() if o.operation_id == operation_id)


def op_ids() -> list[str]:
    return [o.operation_id or o.label for o in implemented_operations()]


@cache
def _load_reference() -> dict[str, Any] | None:
    path = reference_spec_path()
    if path is None:
        return None
    return json.loads(path.read_text())


def reference() -> dict[str, Any]:
    """The reference document, or skip the calling test."""
    spec = _load_reference()
    if spec is None:
        pytest.skip(MISSING_REFERENCE)
    return spec


def reference_operation(method: str, path: str) -> dict[str, Any] | None:
    item = reference()["paths"].get(path)
    if item is None:
        return None
    op = item.get(method.lower())
    return op if isinstance(op, dict) else None


def reference_parameters(method: str, path: str, location: str) -> list[str]:
    """Names of the reference's parameters in `location`, path-level ones included."""
    item = reference()["paths"][path]
    params = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
    resolved = [resolve_pointer(p["$ref"]) if "$ref" in p else p for p in params]
    return [p["name"] for p in resolved if p.get("in") == location]


def reference_scopes(ref_op: dict[str, Any]) -> list[str] | None:
    """The scopes the reference's description lists, in its order; None when it states none."""
    match = _SCOPES_SENTENCE.search(ref_op.get("description") or "")
    if match is None:
        return None
    return re.findall(r"`([^`]+)`", match.group(1))


def expected_scopes(op: Operation) -> list[str]:
    """The scopes an implemented operation must accept: the reference's, else our documented decision."""
    ref_op = reference_operation(op.method, op.path)
    assert ref_op is not None, f"{op.label} is not in the reference"
    scopes = reference_scopes(ref_op)
    if scopes is not None:
        return scopes
    decision = DOCUMENTED_SCOPE_DECISIONS.get(op.operation_id)
    assert decision is not None, (
        f"the reference states no scopes for {op.operation_id}: record the scopes we chose in "
        "DOCUMENTED_SCOPE_DECISIONS (tests/conformance/_spec.py) and in the code"
    )
    return decision


def resolve_pointer(ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = reference()
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


# -- response validation --------------------------------------------------------------------------

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
format_checker = FormatChecker(formats=("uuid",))  # jsonschema's own uuid check


@format_checker.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    # jsonschema only checks date-time with the optional rfc3339-validator installed: check it here
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    return True


@cache
def _registry() -> Registry:
    return Registry().with_resource(REFERENCE_URI, DRAFT202012.create_resource(reference()))


def reference_response_schema(method: str, path: str, status: int) -> dict[str, Any] | None:
    """A `$ref` to the reference's JSON response schema for this status, or None if undocumented."""
    ref_op = reference_operation(method, path)
    assert ref_op is not None, f"{method.upper()} {path} is not in the reference"
    response = ref_op.get("responses", {}).get(str(status))
    if response is None:
        return None
    if "$ref" in response:
        response = resolve_pointer(response["$ref"])
    if "application/json" not in response.get("content", {}):
        return None
    pointer = "/".join(
        _escape(t)
        for t in ("paths", path, method.lower(), "responses", str(status), "content", "application/json", "schema")
    )
    return {"$ref": f"{REFERENCE_URI}#/{pointer}"}


def reference_validator(method: str, path: str, status: int) -> Draft202012Validator | None:
    schema = reference_response_schema(method, path, status)
    if schema is None:
        return None
    return Draft202012Validator(schema, registry=_registry(), format_checker=format_checker)


def schema_errors(method: str, path: str, status: int, body: Any) -> list[Any]:
    """Validation errors of `body` against the reference's schema for this response (must exist)."""
    validator = reference_validator(method, path, status)
    assert validator is not None, f"the reference documents no JSON {status} response for {method.upper()} {path}"
    return sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))


def describe(errors: list[Any]) -> str:
    return "\n".join(f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def fill_path(path: str, **values: str) -> str:
    """Replace `{name}` placeholders; unnamed ones get a fresh random UUID."""
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), str(uuid.uuid4())), path)

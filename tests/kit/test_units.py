"""Pure helpers of the kit: timestamps, ids, scopes, pagination, validation messages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from coldsend.kit.clock import isoformat, utcnow
from coldsend.kit.errors import describe_validation_errors, error_body
from coldsend.kit.ids import new_id, new_job_id, parse_uuid
from coldsend.kit.pagination import page, split_csv
from coldsend.kit.scopes import KNOWN_SCOPES, accepted_scopes, grants, unknown_scopes


def test_isoformat_is_utc_milliseconds_z() -> None:
    value = datetime(2026, 11, 26, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert isoformat(value) == "2026-11-26T08:00:00.123Z"
    assert isoformat(None) is None
    assert utcnow().microsecond % 1000 == 0
    assert utcnow().tzinfo is UTC


def test_ids() -> None:
    ids = [new_id() for _ in range(1000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)  # time-ordered, so keyset pages follow creation
    job = new_job_id()
    assert len(job) == 24 and int(job, 16) >= 0
    assert parse_uuid(str(ids[0])) == ids[0]
    assert parse_uuid("nope") is None


def test_scope_rule() -> None:
    assert accepted_scopes("custom_tags", "read") == ("custom_tags:read", "custom_tags:all", "all:read", "all:all")
    assert grants({"custom_tags:all"}, "custom_tags", "delete")
    assert grants(["all:delete"], "custom_tags", "delete")
    assert not grants({"custom_tags:read"}, "custom_tags", "delete")
    assert not grants({"custom_tag_mappings:all"}, "custom_tags", "read")
    assert "background-jobs:read" in KNOWN_SCOPES and "lead-labels:all" in KNOWN_SCOPES
    assert "email_verifications:update" not in KNOWN_SCOPES
    assert unknown_scopes(["all:all", "x:y"]) == ["x:y"]
    assert len(KNOWN_SCOPES) == 181  # the reference's 178 plus supersearch_enrichments used by its operations


def test_page_sets_cursor_only_when_more_rows_exist() -> None:
    rows = list(range(6))
    body = page(rows, 5, lambda r: {"n": r}, str)
    assert body == {"items": [{"n": i} for i in range(5)], "next_starting_after": "4"}
    assert page(rows[:5], 5, lambda r: {"n": r}, str) == {"items": [{"n": i} for i in range(5)]}
    assert page([], 5, lambda r: {"n": r}, str) == {"items": []}


def test_split_csv() -> None:
    assert split_csv(" a, b,,c ") == ["a", "b", "c"]
    assert split_csv(None) == [] and split_csv("") == []


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {"loc": ("body", "label"), "type": "missing", "msg": "Field required"},
            "body must have required property 'label'",
        ),
        (
            {"loc": ("query", "limit"), "type": "less_than_equal", "msg": "Input should be less than or equal to 100"},
            "querystring/limit should be less than or equal to 100",
        ),
        (
            {
                "loc": ("body", 0),
                "type": "json_invalid",
                "msg": "JSON decode error",
                "ctx": {"error": "Expecting value"},
            },
            "body is not valid JSON: Expecting value",
        ),
    ],
)
def test_validation_messages_name_the_field(error: dict, expected: str) -> None:
    assert describe_validation_errors([error]) == expected


def test_error_body() -> None:
    assert error_body(409, "dup") == {"statusCode": 409, "error": "Conflict", "message": "dup"}
    assert uuid.UUID(str(new_id()))

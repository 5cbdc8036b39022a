"""Bodies and calls shared by the campaign tests."""

from __future__ import annotations

import copy
from typing import Any

from tests.conftest import Tenant
from tests.envelope import assert_envelope as envelope  # noqa: F401

CAMPAIGNS = "/api/v2/campaigns"
ALL_WEEK = {str(d): True for d in range(7)}
WEEKDAYS = {"1": True, "2": True, "3": True, "4": True, "5": True, "0": False, "6": False}

# Two all-day schedules whose local midnights differ: at any instant at least one of them is open.
ALWAYS_OPEN: dict[str, Any] = {
    "schedules": [
        {"name": "West", "timing": {"from": "00:00", "to": "23:59"}, "days": ALL_WEEK, "timezone": "Etc/GMT+12"},
        {"name": "India", "timing": {"from": "00:00", "to": "23:59"}, "days": ALL_WEEK, "timezone": "Asia/Kolkata"},
    ]
}
OFFICE_HOURS: dict[str, Any] = {
    "schedules": [
        {"name": "Office", "timing": {"from": "09:00", "to": "17:00"}, "days": WEEKDAYS, "timezone": "America/Chicago"}
    ]
}


def steps(count: int = 2, variants: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "steps": [
                {
                    "type": "email",
                    "delay": 2,
                    "variants": [
                        {"subject": f"Step {s} variant {v}" if s == 0 else "", "body": f"Body {s}.{v}<br/>"}
                        for v in range(variants)
                    ],
                }
                for s in range(count)
            ]
        }
    ]


def body(name: str = "Launch", **fields: Any) -> dict[str, Any]:
    return {"name": name, "campaign_schedule": copy.deepcopy(ALWAYS_OPEN), **fields}


async def create(tenant: Tenant, name: str = "Launch", **fields: Any) -> dict[str, Any]:
    response = await tenant.post(CAMPAIGNS, json=body(name, **fields))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result

"""Time: one place that says what "now" is and how timestamps look on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


def utcnow() -> datetime:
    """The current time in UTC, truncated to milliseconds (the precision the API shows)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def isoformat(value: datetime | None) -> str | None:
    """`2026-11-26T08:00:00.000Z`: UTC, milliseconds, a `Z` suffix."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class Clock(Protocol):
    """Where the engines read the time: injectable, so tests run days of schedule in seconds."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

"""The schedule window arithmetic, as pure functions of `now` (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from coldsend.campaigns.schedule import (
    TIMEZONES,
    is_open,
    next_open,
    parse_schedule,
    sunday_based_weekday,
    wall_to_instant,
)

WEEKDAYS = {str(d): d in (1, 2, 3, 4, 5) for d in range(7)}  # Monday..Friday


def schedule(
    tz: str = "America/Chicago",
    start: str = "09:00",
    end: str = "17:00",
    days: dict[str, bool] | None = None,
    **dates: Any,
) -> Any:
    return parse_schedule(
        {
            **dates,
            "schedules": [
                {"name": "Work", "timing": {"from": start, "to": end}, "days": days or WEEKDAYS, "timezone": tz}
            ],
        }
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_timezone_list_is_the_references_and_every_name_resolves() -> None:
    assert len(TIMEZONES) == len(set(TIMEZONES)) == 102
    assert TIMEZONES[0] == "Etc/GMT+12" and TIMEZONES[-1] == "Pacific/Apia"
    for name in TIMEZONES:
        ZoneInfo(name)


@pytest.mark.parametrize(
    ("day", "expected"),
    [(date(2026, 11, 22), 0), (date(2026, 11, 23), 1), (date(2026, 11, 27), 5), (date(2026, 11, 28), 6)],
)
def test_day_keys_count_from_sunday(day: date, expected: int) -> None:
    assert sunday_based_weekday(day) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 11, 24, 14, 59), False),  # Tuesday 08:59 in Chicago (UTC-6)
        (utc(2026, 11, 24, 15, 0), True),  # 09:00: `from` is inclusive
        (utc(2026, 11, 24, 22, 59), True),  # 16:59
        (utc(2026, 11, 24, 23, 0), False),  # 17:00: `to` is exclusive
        (utc(2026, 11, 28, 16, 0), False),  # Saturday 10:00
        (utc(2026, 11, 23, 2, 0), False),  # Sunday 20:00 in Chicago, though Monday in UTC
    ],
)
def test_window_is_read_on_the_local_wall_clock(now: datetime, expected: bool) -> None:
    assert is_open(schedule(), now) is expected


def test_days_of_the_week_follow_the_local_date() -> None:
    only_sunday = schedule("Asia/Kolkata", "00:00", "23:59", {"0": True, "1": False})
    # 2026-11-22 is a Sunday; 19:00 UTC Saturday is already 00:30 Sunday in Kolkata (UTC+5:30)
    assert is_open(only_sunday, utc(2026, 11, 21, 19, 0))
    assert not is_open(only_sunday, utc(2026, 11, 21, 18, 0))
    assert not is_open(only_sunday, utc(2026, 11, 22, 18, 30))  # Monday 00:00 in Kolkata


def test_etc_zones_have_posix_inverted_signs() -> None:
    friday_21_utc = utc(2026, 11, 27, 21, 0)
    assert is_open(schedule("Etc/GMT+12"), friday_21_utc)  # UTC-12: Friday 09:00
    assert not is_open(schedule("Etc/GMT-12"), friday_21_utc)  # UTC+12: Saturday 09:00
    assert is_open(schedule("Etc/GMT-12"), friday_21_utc - timedelta(days=1))  # Friday 09:00 there


def test_daylight_saving_moves_the_window_in_utc_with_the_local_clock() -> None:
    chicago = schedule()
    # Friday 2026-03-06 (CST, UTC-6): 09:00 local is 15:00 UTC
    assert not is_open(chicago, utc(2026, 3, 6, 14, 30))
    assert is_open(chicago, utc(2026, 3, 6, 15, 0))
    # Monday 2026-03-09 after the change (CDT, UTC-5): 09:00 local is 14:00 UTC
    assert is_open(chicago, utc(2026, 3, 9, 14, 30))
    assert not is_open(chicago, utc(2026, 3, 9, 22, 30))  # 17:30 local
    assert next_open(chicago, utc(2026, 3, 7, 12, 0)) == utc(2026, 3, 9, 14, 0)


def test_spring_forward_day_a_window_opening_in_the_skipped_hour_opens_at_the_jump() -> None:
    # 2026-03-08 (Sunday) in Chicago: 02:00 CST jumps to 03:00 CDT (08:00 UTC)
    sunday = schedule(start="02:30", end="05:00", days={"0": True})
    assert not is_open(sunday, utc(2026, 3, 8, 7, 59))  # 01:59 CST
    assert is_open(sunday, utc(2026, 3, 8, 8, 0))  # 03:00 CDT is past 02:30
    assert next_open(sunday, utc(2026, 3, 8, 6, 0)) == utc(2026, 3, 8, 8, 0)
    assert wall_to_instant(datetime(2026, 3, 8, 2, 30), ZoneInfo("America/Chicago")) == utc(2026, 3, 8, 8, 0)


def test_fall_back_day_the_repeated_hour_is_in_the_window_twice() -> None:
    # 2026-11-01 (Sunday) in Chicago: 02:00 CDT falls back to 01:00 CST (07:00 UTC)
    sunday = schedule(start="01:00", end="02:00", days={"0": True})
    assert is_open(sunday, utc(2026, 11, 1, 6, 30))  # 01:30 CDT
    assert is_open(sunday, utc(2026, 11, 1, 7, 30))  # 01:30 CST, again
    assert not is_open(sunday, utc(2026, 11, 1, 8, 0))  # 02:00 CST
    # the first occurrence is the opening
    assert next_open(sunday, utc(2026, 11, 1, 5, 0)) == utc(2026, 11, 1, 6, 0)
    assert wall_to_instant(datetime(2026, 11, 1, 1, 30), ZoneInfo("America/Chicago")) == utc(2026, 11, 1, 6, 30)


def test_start_and_end_dates_bound_the_local_date_inclusively() -> None:
    bounded = schedule(start_date="2026-11-24", end_date="2026-11-25")
    assert not is_open(bounded, utc(2026, 11, 23, 16, 0))  # Monday, before start_date
    assert is_open(bounded, utc(2026, 11, 24, 16, 0))
    assert is_open(bounded, utc(2026, 11, 25, 22, 59))  # last minute of the end date
    assert not is_open(bounded, utc(2026, 11, 26, 16, 0))
    assert next_open(bounded, utc(2026, 11, 20, 0, 0)) == utc(2026, 11, 24, 15, 0)
    assert next_open(bounded, utc(2026, 11, 26, 0, 0)) is None


def test_any_of_several_schedules_opens_the_campaign() -> None:
    both = parse_schedule(
        {
            "schedules": [
                {"name": "Morning", "timing": {"from": "08:00", "to": "10:00"}, "days": WEEKDAYS, "timezone": "UTC"},
                {
                    "name": "Sydney",
                    "timing": {"from": "09:00", "to": "11:00"},
                    "days": WEEKDAYS,
                    "timezone": "Australia/Melbourne",
                },
            ]
        }
    )
    assert is_open(both, utc(2026, 11, 24, 9, 0))  # UTC window
    assert is_open(both, utc(2026, 11, 24, 22, 30))  # Wednesday 09:30 in Melbourne (UTC+11)
    assert not is_open(both, utc(2026, 11, 24, 12, 0))
    assert next_open(both, utc(2026, 11, 24, 12, 0)) == utc(2026, 11, 24, 22, 0)


def test_next_open_is_now_inside_a_window_and_skips_closed_days() -> None:
    chicago = schedule()
    inside = utc(2026, 11, 24, 16, 0)
    assert next_open(chicago, inside) == inside
    assert next_open(chicago, utc(2026, 11, 27, 23, 30)) == utc(2026, 11, 30, 15, 0)  # Friday evening -> Monday


def test_no_schedules_never_opens() -> None:
    empty = parse_schedule({})
    assert not is_open(empty, utc(2026, 11, 24, 16, 0))
    assert next_open(empty, utc(2026, 11, 24, 16, 0)) is None

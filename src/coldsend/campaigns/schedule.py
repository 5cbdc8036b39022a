"""Campaign schedules as pure functions of an injectable `now`: is a schedule open, and when does it open next.

Semantics (the sending engine relies on them):

- `campaign_schedule.schedules[]` are alternatives: the campaign may send while ANY of them is open.
- Each schedule is read on the wall clock of its own `timezone`: it is open on the days flagged true in
  `days` (keys "0".."6", 0 = Sunday) while the local time `t` satisfies `from <= t < to`. Because the
  comparison is on the wall clock, a daylight-saving change moves the window in UTC with the local
  clock: 09:00-17:00 stays 09:00-17:00 local on both sides of the change. On the day the clock jumps
  forward a window opening inside the skipped hour opens at the jump; on the day it falls back the
  repeated hour is inside the window both times (the window is longer by that hour).
- `start_date` / `end_date` (inclusive, `YYYY-MM-DD`) bound the local date of each schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The reference's `timezone` enum (shared enum E1 of the catalog): the only names a schedule may use.
TIMEZONES: tuple[str, ...] = (
    "Etc/GMT+12",
    "Etc/GMT+11",
    "Etc/GMT+10",
    "America/Anchorage",
    "America/Dawson",
    "America/Creston",
    "America/Chihuahua",
    "America/Boise",
    "America/Belize",
    "America/Chicago",
    "America/Bahia_Banderas",
    "America/Regina",
    "America/Bogota",
    "America/Detroit",
    "America/Indiana/Marengo",
    "America/Caracas",
    "America/Asuncion",
    "America/Glace_Bay",
    "America/Campo_Grande",
    "America/Anguilla",
    "America/Santiago",
    "America/St_Johns",
    "America/Sao_Paulo",
    "America/Argentina/La_Rioja",
    "America/Araguaina",
    "America/Godthab",
    "America/Montevideo",
    "America/Bahia",
    "America/Noronha",
    "America/Scoresbysund",
    "Atlantic/Cape_Verde",
    "Africa/Casablanca",
    "America/Danmarkshavn",
    "Europe/Isle_of_Man",
    "Atlantic/Canary",
    "Africa/Abidjan",
    "Arctic/Longyearbyen",
    "Europe/Belgrade",
    "Africa/Ceuta",
    "Europe/Sarajevo",
    "Africa/Algiers",
    "Africa/Windhoek",
    "Asia/Nicosia",
    "Asia/Beirut",
    "Africa/Cairo",
    "Asia/Damascus",
    "Europe/Bucharest",
    "Africa/Blantyre",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Asia/Jerusalem",
    "Africa/Tripoli",
    "Asia/Amman",
    "Asia/Baghdad",
    "Europe/Kaliningrad",
    "Asia/Aden",
    "Africa/Addis_Ababa",
    "Europe/Kirov",
    "Europe/Astrakhan",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Baku",
    "Indian/Mahe",
    "Asia/Tbilisi",
    "Asia/Yerevan",
    "Asia/Kabul",
    "Antarctica/Mawson",
    "Asia/Yekaterinburg",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Colombo",
    "Asia/Kathmandu",
    "Antarctica/Vostok",
    "Asia/Dhaka",
    "Asia/Rangoon",
    "Antarctica/Davis",
    "Asia/Novokuznetsk",
    "Asia/Hong_Kong",
    "Asia/Krasnoyarsk",
    "Asia/Brunei",
    "Australia/Perth",
    "Asia/Taipei",
    "Asia/Choibalsan",
    "Asia/Irkutsk",
    "Asia/Dili",
    "Asia/Pyongyang",
    "Australia/Adelaide",
    "Australia/Darwin",
    "Australia/Brisbane",
    "Australia/Melbourne",
    "Antarctica/DumontDUrville",
    "Australia/Currie",
    "Asia/Chita",
    "Antarctica/Macquarie",
    "Asia/Sakhalin",
    "Pacific/Auckland",
    "Etc/GMT-12",
    "Pacific/Fiji",
    "Asia/Anadyr",
    "Asia/Kamchatka",
    "Etc/GMT-13",
    "Pacific/Apia",
)
TIMEZONE_SET: frozenset[str] = frozenset(TIMEZONES)

DAY_KEYS: tuple[str, ...] = ("0", "1", "2", "3", "4", "5", "6")  # 0 = Sunday ... 6 = Saturday


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def primary_timezone(campaign_schedule: Mapping[str, Any] | None) -> str | None:
    """The first schedule's timezone: the campaign's calendar (its daily limits and counters)."""
    schedules = (campaign_schedule or {}).get("schedules") or []
    return schedules[0].get("timezone") if schedules else None


def campaign_day(now: datetime, timezone: str | None) -> date:
    """The date of `now` on the campaign's wall clock (UTC when it has no known timezone)."""
    try:
        return now.astimezone(zone(timezone)).date() if timezone else now.astimezone(UTC).date()
    except (ZoneInfoNotFoundError, ValueError):
        return now.astimezone(UTC).date()


def sunday_based_weekday(day: date) -> int:
    """0 = Sunday ... 6 = Saturday (the numbering of the `days` keys)."""
    return (day.weekday() + 1) % 7


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Window:
    """One entry of `schedules[]`: days of the week and a wall-clock range in a timezone."""

    zone: ZoneInfo
    start: time
    end: time
    days: frozenset[int]

    def open_at(self, local: datetime) -> bool:
        wall = local.time().replace(tzinfo=None)
        return sunday_based_weekday(local.date()) in self.days and self.start <= wall < self.end


@dataclass(frozen=True)
class Schedule:
    windows: tuple[Window, ...]
    start_date: date | None = None
    end_date: date | None = None

    def in_dates(self, day: date) -> bool:
        return (self.start_date is None or day >= self.start_date) and (self.end_date is None or day <= self.end_date)


def parse_schedule(campaign_schedule: Mapping[str, Any]) -> Schedule:
    """The stored `campaign_schedule` object (already validated) as a `Schedule`."""
    windows = []
    for item in campaign_schedule.get("schedules") or ():
        timing = item["timing"]
        days = frozenset(int(k) for k, on in (item.get("days") or {}).items() if on)
        windows.append(Window(zone(item["timezone"]), parse_hhmm(timing["from"]), parse_hhmm(timing["to"]), days))
    return Schedule(
        tuple(windows),
        _date_or_none(campaign_schedule.get("start_date")),
        _date_or_none(campaign_schedule.get("end_date")),
    )


def _date_or_none(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def is_open(schedule: Schedule, now: datetime) -> bool:
    """Whether the campaign may send at the instant `now` (an aware datetime)."""
    for window in schedule.windows:
        local = now.astimezone(window.zone)
        if schedule.in_dates(local.date()) and window.open_at(local):
            return True
    return False


def next_open(schedule: Schedule, now: datetime, horizon_days: int = 8) -> datetime | None:
    """The first instant at or after `now` (UTC) when the schedule is open; None if not within the horizon
    (counted from `now`, or from `start_date` when that is later) or never again (past `end_date`)."""
    best: datetime | None = None
    for window in schedule.windows:
        found = _next_open_window(schedule, window, now, horizon_days)
        if found is not None and (best is None or found < best):
            best = found
    return best


def _next_open_window(schedule: Schedule, window: Window, now: datetime, horizon_days: int) -> datetime | None:
    local_now = now.astimezone(window.zone)
    first = local_now.date()
    if schedule.start_date is not None and schedule.start_date > first:
        first = schedule.start_date
    for offset in range(horizon_days):
        day = first + timedelta(days=offset)
        if schedule.end_date is not None and day > schedule.end_date:
            return None
        if sunday_based_weekday(day) not in window.days:
            continue
        if day == local_now.date() and window.open_at(local_now):
            return now.astimezone(UTC)
        opening = wall_to_instant(datetime.combine(day, window.start), window.zone)
        closing = wall_to_instant(datetime.combine(day, window.end), window.zone)
        if opening >= now and opening < closing:
            return opening
    return None


def wall_to_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the wall clock of `tz` shows `wall` or later.

    For an ambiguous wall time (the repeated hour when clocks fall back) that is its first occurrence;
    for a wall time that does not exist (skipped when clocks jump forward) it is the instant of the jump.
    """
    candidate = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if candidate.astimezone(tz).replace(tzinfo=None) == wall:
        return candidate
    # In a gap: fold=0 maps after the jump, fold=1 before it; the jump lies between the two.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = candidate
    if low > high:
        low, high = high, low
    after = high.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)

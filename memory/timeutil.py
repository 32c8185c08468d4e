"""Time in the elder's terms: naive times are read in the elder's timezone, stored in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from memory.errors import InvalidInput


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"'{name}' is not a timezone this server knows; use an IANA name such as Asia/Taipei."
        ) from exc


def to_utc(value: datetime, timezone: str) -> datetime:
    """An aware UTC datetime; a naive one is taken as wall-clock time in `timezone`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(timezone))
    return value.astimezone(UTC)


def parse_clock(value: str, what: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            f"{what} '{value}' is not a time of day; write it as HH:MM, e.g. 07:30."
        ) from exc


def in_quiet_hours(local: datetime, start: str, end: str) -> bool:
    """Whether a wall-clock time falls in quiet hours [start, end), which may wrap midnight."""
    begin, finish, now = (
        parse_clock(start, "quiet_hours_start"),
        parse_clock(end, "quiet_hours_end"),
        local.time(),
    )
    if begin == finish:
        return False
    if begin < finish:
        return begin <= now < finish
    return now >= begin or now < finish


def local_day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC start and end of a calendar day in the elder's timezone."""
    tz = zone(timezone)
    start = datetime.combine(day, time(), tzinfo=tz)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)

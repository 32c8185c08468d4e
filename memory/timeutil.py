"""Time in the elder's terms: naive times are read in the elder's timezone, stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
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

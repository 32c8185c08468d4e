"""Reminders: schedules in the elder's timezone (daylight saving included), occurrences that
exist once per due time, acknowledgement, adherence and the calendar feed.

A reminder keeps `next_due_at`, the first occurrence not yet handled, so the scheduler finds
what is due with one indexed query however many reminders there are. Each occurrence is a
row unique per (reminder, due time): two schedulers racing for the same one cannot both
insert it, so it is said to the elder once.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from math import gcd
from time import monotonic
from types import FunctionType
from zoneinfo import ZoneInfo

import dateutil.rrule as dateutil_rrule
import sqlalchemy as sa
from dateutil.rrule import rrule, rrulestr
from sqlmodel import Session, select

from memory.access import ElderScope, record, record_access
from memory.errors import Conflict, InvalidInput, NotFound
from memory.models import (
    Elder,
    OccurrenceStatus,
    Reminder,
    ReminderKind,
    ReminderOccurrence,
    utcnow,
)
from memory.timeutil import in_quiet_hours, zone

log = logging.getLogger(__name__)

REPEATS = ("once", "daily", "weekly", "rrule")
_FREQ = {"daily": "FREQ=DAILY", "weekly": "FREQ=WEEKLY"}
# After the service was away: an occurrence at most this late is still said (marked late);
# an older one is recorded as missed ("not delivered") and the family is told.
GRACE = timedelta(minutes=30)
LATE_AFTER = timedelta(minutes=2)
# What a repeating rule may be (README "Reminders"): said at most once an hour, so at most
# 24 times a day; INTERVAL from 1 to MAX_INTERVAL; one line of RFC 5545 parts. Working out its
# times never runs away: a walk through a rule goes at most HORIZON_YEARS past the time asked
# about, in at most _WALK_STEPS steps and _WALK_SECONDS.
RULE_PARTS = (
    "FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYSETPOS", "BYMONTH", "BYMONTHDAY",
    "BYYEARDAY", "BYWEEKNO", "BYDAY", "BYHOUR", "BYMINUTE", "BYSECOND",
)  # fmt: skip
FREQUENCIES = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
MAX_INTERVAL = 1000
HORIZON_YEARS = 30
_WALK_STEPS = 1_000_000
_WALK_SECONDS = 1.0
# A reminder's first time lies in these years (from FIRST_YEAR to YEARS_AHEAD from now).
FIRST_YEAR = 2000
YEARS_AHEAD = 5
_EXAMPLES = "e.g. FREQ=DAILY or FREQ=WEEKLY;BYDAY=MO,TH or FREQ=DAILY;BYHOUR=8,20"


def _audit(session: Session, scope: ElderScope, action: str, detail: dict) -> None:
    record(session, actor=scope.actor, action=action, elder_id=scope.elder_id, detail=detail)


# --- schedules ------------------------------------------------------------------------------


def _wall_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time to UTC. A time skipped by a daylight-saving jump (02:30 on the night
    clocks go forward) is said at the same distance after the jump; a repeated one (the night
    they go back) at its first instance."""
    # PEP 495: fold=0 reads a skipped time with the offset before the jump (02:30 -> 03:30)
    # and a repeated one as its first instance.
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


# --- repeating rules, held to what a reminder may be -------------------------------------------


def _unreadable(text: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"The rrule '{text}' could not be read ({why}). Write it as in RFC 5545, {_EXAMPLES}."
    )


def _too_often(text: str, what: str) -> InvalidInput:
    return InvalidInput(
        f"The rrule '{text}' is too often: 智安 says a reminder at most once an hour "
        f"({what}). For several times a day, list the hours: FREQ=DAILY;BYHOUR=8,12,18."
    )


def _numbers(text: str, name: str, value: str, low: int, high: int) -> list[int]:
    """A BYxxx list of whole numbers within [low, high] (a minus sign allowed when low < 0)."""
    found = []
    for item in value.split(","):
        number = int(item) if re.fullmatch(r"[+-]?[0-9]{1,4}", item) else None
        if number is None or not low <= number <= high or (low < 0 and number == 0):
            raise _unreadable(text, f"{name} takes whole numbers from {low} to {high}")
        found.append(number)
    return found


def rule_parts(text: str) -> dict[str, str]:
    """A rule's NAME=VALUE parts, names and values in capitals; raises InvalidInput saying what
    to change when a part is one a reminder may not have."""
    if any(unicodedata.category(c)[0] in "CZ" for c in text):
        raise InvalidInput(
            "The rrule has a line break, a space or another invisible character in it: write it "
            f"on one line with no spaces, {_EXAMPLES}."
        )
    parts: dict[str, str] = {}
    for part in text.upper().split(";"):
        name, equals, value = part.partition("=")
        if not equals or not name or not value:
            raise _unreadable(text, f"'{part}' is not NAME=VALUE")
        if name not in RULE_PARTS:
            raise _unreadable(text, f"{name} is not one of {', '.join(RULE_PARTS)}")
        if name in parts:
            raise _unreadable(text, f"{name} is given twice")
        parts[name] = value
    freq = parts.get("FREQ")
    if freq in ("SECONDLY", "MINUTELY"):
        raise _too_often(text, f"FREQ={freq}")
    if freq not in FREQUENCIES:
        raise _unreadable(text, f"FREQ is one of {', '.join(FREQUENCIES)}")
    interval = parts.get("INTERVAL", "1")
    if not re.fullmatch(r"[0-9]{1,6}", interval) or not 1 <= int(interval) <= MAX_INTERVAL:
        raise InvalidInput(
            f"INTERVAL must be a whole number from 1 to {MAX_INTERVAL} (1: every time, 2: every "
            f"other time), not '{interval}'."
        )
    if parts.get("UNTIL", "").endswith("Z"):
        raise InvalidInput(
            "Give UNTIL in the reminder's own time, without the Z: UNTIL=20271231T235900."
        )
    if "COUNT" in parts and not re.fullmatch(r"[0-9]{1,6}", parts["COUNT"]):
        raise _unreadable(text, "COUNT is a whole number of times")
    if "BYHOUR" in parts:
        _numbers(text, "BYHOUR", parts["BYHOUR"], 0, 23)
    minutes = _numbers(text, "BYMINUTE", parts["BYMINUTE"], 0, 59) if "BYMINUTE" in parts else []
    if len(minutes) > 1:
        raise _too_often(text, f"BYMINUTE={parts['BYMINUTE']} is more than once in an hour")
    if "BYSECOND" in parts and set(parts["BYSECOND"].split(",")) != {"0"}:
        raise _too_often(text, "reminders are set to the minute: leave out BYSECOND")
    for name, low, high in (
        ("BYMONTH", 1, 12),
        ("BYMONTHDAY", -31, 31),
        ("BYYEARDAY", -366, 366),
        ("BYWEEKNO", -53, 53),
        ("BYSETPOS", -366, 366),
    ):
        if name in parts:
            _numbers(text, name, parts[name], low, high)
    return parts


def check_rule(text: str, start: datetime) -> rrule:
    """The rule from `start` (wall-clock time), read and held to what a reminder may be."""
    rule_parts(text)
    try:
        rule = rrulestr(text, dtstart=start)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _unreadable(text, str(exc)) from exc
    if not isinstance(rule, rrule):
        raise _unreadable(text, "it is more than one rule")
    return rule


class _Walk:
    """The steps of one walk through a rule: past the horizon, too many or too long, it stops
    with a message instead of searching on (dateutil looks for FREQ=DAILY;BYMONTH=2;
    BYMONTHDAY=30 until the year 9999 without a word)."""

    def __init__(self, text: str, last_year: int) -> None:
        self.text = text
        self.last_year = last_year
        self.steps = 0
        self.deadline = monotonic() + _WALK_SECONDS

    def step(self, year: int) -> None:
        self.steps += 1
        if year > self.last_year:
            raise InvalidInput(
                f"The rule '{self.text}' never happens: no day in the next {HORIZON_YEARS} years "
                "matches it (there is no 30 February, for example). Check BYMONTH, BYMONTHDAY, "
                "BYYEARDAY, BYWEEKNO, BYDAY and BYSETPOS."
            )
        if self.steps > _WALK_STEPS or (self.steps % 1024 == 0 and monotonic() > self.deadline):
            raise InvalidInput(
                f"The rule '{self.text}' takes too long to work out: make it simpler, {_EXAMPLES}."
            )

    def through(self, rule: rrule) -> Iterator[datetime]:
        """dateutil's own walk through the rule (its `_iter`), each day it looks at counted."""
        walk = self

        class Counted(dateutil_rrule._iterinfo):  # type: ignore[name-defined,misc]
            def ydayset(self, year: int, month: int, day: int):  # type: ignore[no-untyped-def]
                walk.step(year)
                return super().ydayset(year, month, day)

            def mdayset(self, year: int, month: int, day: int):  # type: ignore[no-untyped-def]
                walk.step(year)
                return super().mdayset(year, month, day)

            def wdayset(self, year: int, month: int, day: int):  # type: ignore[no-untyped-def]
                walk.step(year)
                return super().wdayset(year, month, day)

            def ddayset(self, year: int, month: int, day: int):  # type: ignore[no-untyped-def]
                walk.step(year)
                return super().ddayset(year, month, day)

        counted = FunctionType(
            rrule._iter.__code__,  # type: ignore[attr-defined]
            {**vars(dateutil_rrule), "_iterinfo": Counted},
        )
        return counted(rule)


_BEAT = {"HOURLY": timedelta(hours=1), "DAILY": timedelta(days=1), "WEEKLY": timedelta(weeks=1)}


def _rule(reminder: Reminder, *, near: datetime) -> rrule | None:
    """The reminder's rule, its first time moved on by whole beats (INTERVAL hours, days or
    weeks) to just before `near`: the same times follow, without a walk through every hour
    since a start years ago. A rule with COUNT counts from its real start."""
    if reminder.rrule is None:
        return None
    start = datetime.fromisoformat(reminder.starts_at)
    parts = rule_parts(reminder.rrule)
    if "COUNT" not in parts and parts["FREQ"] in _BEAT and near > start:
        beat = _BEAT[parts["FREQ"]] * int(parts.get("INTERVAL", "1"))
        start += beat * ((near - start) // beat)
    return check_rule(reminder.rrule, start)


def occurrences(
    reminder: Reminder, after: datetime, *, inclusive: bool = False
) -> Iterator[datetime]:
    """Due times (UTC) after `after`, in order; a rule a reminder may not have (one stored
    before these checks), or one whose times cannot be worked out within the walk's bounds,
    raises InvalidInput."""
    tz = zone(reminder.timezone)
    start = datetime.fromisoformat(reminder.starts_at)
    try:
        # Walk from a day before in wall-clock time: around a clock change the UTC order decides.
        local_after = after.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
        rule = _rule(reminder, near=local_after)
        if rule is None:
            due = _wall_to_utc(start, tz)
            if due > after or (inclusive and due == after):
                yield due
            return
        walk = _Walk(reminder.rrule or "", after.year + HORIZON_YEARS)
        for local in walk.through(rule):
            if local < local_after:
                continue
            due = _wall_to_utc(local, tz)
            if due > after or (inclusive and due == after):
                yield due
    except (ValueError, TypeError, OverflowError, IndexError) as exc:
        raise InvalidInput(
            f"The times of reminder {reminder.id} ({reminder.starts_at}, "
            f"{reminder.rrule or 'once'}) cannot be worked out ({exc}): set its time again, "
            f"{_EXAMPLES}."
        ) from exc


def next_due(reminder: Reminder, after: datetime, *, inclusive: bool = False) -> datetime | None:
    return next(occurrences(reminder, after, inclusive=inclusive), None)


def times_of_day(reminder: Reminder) -> list[time]:
    """Every wall-clock time of day the reminder can be said at: the rule's hours (BYHOUR, or
    those an hourly rule steps through, or the first time's) at its minute."""
    start = datetime.fromisoformat(reminder.starts_at)
    if reminder.rrule is None:
        return [start.time()]
    parts = rule_parts(reminder.rrule)
    minute = int(parts["BYMINUTE"]) if "BYMINUTE" in parts else start.minute
    hours = (
        {int(h) for h in parts["BYHOUR"].split(",")}
        if "BYHOUR" in parts
        else set(range(24))
        if parts["FREQ"] == "HOURLY"
        else {start.hour}
    )
    if parts["FREQ"] == "HOURLY":  # every INTERVAL hours from the first: these hours only
        step = gcd(int(parts.get("INTERVAL", "1")), 24)
        hours = {h for h in hours if (h - start.hour) % step == 0}
    return [time(h, minute) for h in sorted(hours)]


def _normalise_rule(repeat: str, rule_text: str | None, start: datetime) -> str | None:
    if repeat == "once":
        if rule_text:
            raise InvalidInput(
                "A one-off reminder takes no 'rrule'; set repeat to 'rrule' to use one."
            )
        return None
    if repeat in _FREQ:
        return _FREQ[repeat]
    if repeat != "rrule":
        raise InvalidInput(f"repeat '{repeat}' is not one of: {', '.join(REPEATS)}.")
    text = (rule_text or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text:
        raise InvalidInput(
            "repeat is 'rrule' but no rrule was given, e.g. FREQ=WEEKLY;BYDAY=MO,TH."
        )
    if "DTSTART" in text.upper():
        raise InvalidInput("Give the first time as 'starts_at', not inside the rrule.")
    check_rule(text, start)
    return text


@dataclass
class ReminderDraft:
    title: str
    kind: str
    starts_at: datetime  # wall-clock time in `timezone` (an aware time is converted)
    repeat: str = "once"
    rrule: str | None = None
    timezone: str | None = None  # default: the elder's
    ack_window_minutes: int = 60
    notes: str | None = None


def _validate(
    session: Session, scope: ElderScope, draft: ReminderDraft, reminder: Reminder, now: datetime
) -> None:
    title = draft.title.strip()
    if not title:
        raise InvalidInput("A reminder needs a title, e.g. '吃降血壓的藥'.")
    if draft.kind not in {k.value for k in ReminderKind}:
        raise InvalidInput(
            f"kind '{draft.kind}' is not one of: {', '.join(k.value for k in ReminderKind)}."
        )
    if not 5 <= draft.ack_window_minutes <= 24 * 60:
        raise InvalidInput("ack_window_minutes must be between 5 and 1440 (a day).")
    tz_name = draft.timezone or scope.elder_timezone
    tz = zone(tz_name)
    start = draft.starts_at
    if start.tzinfo is not None:
        start = start.astimezone(tz).replace(tzinfo=None)
    start = start.replace(second=0, microsecond=0)
    if not FIRST_YEAR <= start.year <= now.year + YEARS_AHEAD:
        raise InvalidInput(
            f"starts_at {start:%Y-%m-%d} is not in the years {FIRST_YEAR} to "
            f"{now.year + YEARS_AHEAD}: give the first time the reminder is for."
        )
    reminder.title = title
    reminder.kind = draft.kind
    reminder.timezone = tz_name
    reminder.starts_at = start.isoformat(timespec="minutes")
    reminder.rrule = _normalise_rule(draft.repeat, draft.rrule, start)
    reminder.ack_window_minutes = draft.ack_window_minutes
    reminder.notes = draft.notes.strip() if draft.notes else None
    upcoming = next_due(reminder, now)
    if upcoming is None:
        when = f"{start:%Y-%m-%d %H:%M} ({tz_name})"
        if reminder.rrule is None:
            raise InvalidInput(f"The time {when} has already passed: choose a time in the future.")
        raise InvalidInput(
            f"The rule '{reminder.rrule}' from {when} has no time left in the future."
        )
    elder = session.get(Elder, scope.elder_id)
    assert elder is not None
    for at in times_of_day(reminder):  # the rule's own hours, however far ahead they come
        if in_quiet_hours(
            datetime.combine(start.date(), at), elder.quiet_hours_start, elder.quiet_hours_end
        ):
            raise InvalidInput(
                f"{at:%H:%M} falls in {elder.display_name}'s quiet hours "
                f"({elder.quiet_hours_start}-{elder.quiet_hours_end}), when 智安 stays silent: "
                "choose another time, or change the quiet hours first."
            )
    reminder.next_due_at = upcoming


def create_reminder(session: Session, scope: ElderScope, draft: ReminderDraft) -> Reminder:
    now = utcnow()
    reminder = Reminder(
        elder_id=scope.elder_id,
        title="",
        kind=draft.kind,
        starts_at="",
        timezone="",
        created_by=scope.actor.account_id,
    )
    _validate(session, scope, draft, reminder, now)
    session.add(reminder)
    session.flush()
    _audit(session, scope, "reminder.create", {"reminder_id": reminder.id})
    return reminder


def get_reminder(session: Session, scope: ElderScope, reminder_id: int) -> Reminder:
    reminder = session.get(Reminder, reminder_id)
    if reminder is None or reminder.elder_id != scope.elder_id or reminder.deleted_at is not None:
        raise NotFound(f"No reminder {reminder_id} for this elder.")
    return reminder


def list_reminders(session: Session, scope: ElderScope) -> list[Reminder]:
    return list(
        session.exec(
            select(Reminder)
            .where(Reminder.elder_id == scope.elder_id, Reminder.deleted_at.is_(None))  # type: ignore[union-attr]
            .order_by(Reminder.id)
        )
    )


def update_reminder(
    session: Session,
    scope: ElderScope,
    reminder: Reminder,
    draft: ReminderDraft,
    *,
    paused: bool | None,
) -> Reminder:
    now = utcnow()
    _validate(session, scope, draft, reminder, now)
    if paused is not None:
        reminder.paused = paused
    reminder.updated_at = now
    session.add(reminder)
    _audit(
        session, scope, "reminder.update", {"reminder_id": reminder.id, "paused": reminder.paused}
    )
    return reminder


def set_paused(session: Session, scope: ElderScope, reminder: Reminder, paused: bool) -> Reminder:
    """Pause (nothing is said) or resume (from the next time after now)."""
    now = utcnow()
    if reminder.paused != paused:
        reminder.paused = paused
        reminder.next_due_at = None if paused else next_due(reminder, now)
        reminder.updated_at = now
        session.add(reminder)
        record(
            session,
            actor=scope.actor,
            action="reminder.update",
            elder_id=scope.elder_id,
            detail={"reminder_id": reminder.id, "paused": paused},
        )
    return reminder


def draft_of(reminder: Reminder) -> ReminderDraft:
    return ReminderDraft(
        title=reminder.title,
        kind=reminder.kind,
        starts_at=datetime.fromisoformat(reminder.starts_at),
        repeat="once" if reminder.rrule is None else "rrule",
        rrule=reminder.rrule,
        timezone=reminder.timezone,
        ack_window_minutes=reminder.ack_window_minutes,
        notes=reminder.notes,
    )


def delete_reminder(session: Session, scope: ElderScope, reminder: Reminder) -> None:
    """Stops it; its occurrences stay, so adherence keeps its history."""
    reminder.deleted_at = utcnow()
    reminder.next_due_at = None
    session.add(reminder)
    _audit(session, scope, "reminder.delete", {"reminder_id": reminder.id})


# --- occurrences ---------------------------------------------------------------------------


def due_reminder_ids(session: Session, now: datetime, limit: int) -> list[int]:
    """The reminders with a time due by `now`, soonest first (ids only: each is then handled
    in its own transaction)."""
    return list(
        session.exec(
            select(Reminder.id)
            .where(
                Reminder.next_due_at <= now,  # type: ignore[operator]
                Reminder.deleted_at.is_(None),  # type: ignore[union-attr]
            )
            .order_by(Reminder.next_due_at)
            .limit(limit)
        )
    )


def open_occurrences(session: Session, elder_id: str) -> list[tuple[ReminderOccurrence, Reminder]]:
    """Said to the elder and not yet done, newest first."""
    rows = session.exec(
        select(ReminderOccurrence, Reminder)
        .join(Reminder, Reminder.id == ReminderOccurrence.reminder_id)
        .where(
            ReminderOccurrence.elder_id == elder_id,
            ReminderOccurrence.status == OccurrenceStatus.delivered.value,
        )
        .order_by(sa.desc(ReminderOccurrence.due_at))
    )
    return list(rows)  # type: ignore[arg-type]


def get_occurrence(session: Session, scope: ElderScope, occurrence_id: int) -> ReminderOccurrence:
    occurrence = session.get(ReminderOccurrence, occurrence_id)
    if occurrence is None or occurrence.elder_id != scope.elder_id:
        raise NotFound(f"No reminder occurrence {occurrence_id} for this elder.")
    return occurrence


def mark_done(
    session: Session,
    occurrence: ReminderOccurrence,
    *,
    by: str,
    now: datetime,
    message_id: int | None = None,
) -> bool:
    """Record the occurrence as done; False when it was already done or missed."""
    changed = session.execute(
        sa.update(ReminderOccurrence)
        .where(
            ReminderOccurrence.id == occurrence.id,
            ReminderOccurrence.status == OccurrenceStatus.delivered.value,
        )
        .values(
            status=OccurrenceStatus.done.value, done_at=now, done_by=by, done_message_id=message_id
        )
    ).rowcount
    session.refresh(occurrence)
    return bool(changed)


def done_by_caller(session: Session, scope: ElderScope, occurrence_id: int) -> ReminderOccurrence:
    """The elder taps "done" on their page, or a family member records it."""
    occurrence = get_occurrence(session, scope, occurrence_id)
    if occurrence.status == OccurrenceStatus.done.value:
        return occurrence
    if occurrence.status != OccurrenceStatus.delivered.value:
        raise Conflict(
            f"This reminder was already recorded as {occurrence.status} at "
            f"{(occurrence.missed_at or occurrence.due_at):%Y-%m-%d %H:%M} UTC; it can no longer be marked done."
        )
    by = "elder (button)" if scope.by_elder else scope.actor.display_name
    mark_done(session, occurrence, by=by, now=utcnow())
    _audit(session, scope, "reminder.done", {"occurrence_id": occurrence.id})
    return occurrence


def list_occurrences(
    session: Session,
    scope: ElderScope,
    *,
    since: datetime,
    until: datetime,
    reminder_id: int | None = None,
) -> list[ReminderOccurrence]:
    query = select(ReminderOccurrence).where(
        ReminderOccurrence.elder_id == scope.elder_id,
        ReminderOccurrence.due_at >= since,  # type: ignore[operator]
        ReminderOccurrence.due_at < until,  # type: ignore[operator]
    )
    if reminder_id is not None:
        query = query.where(ReminderOccurrence.reminder_id == reminder_id)
    return list(session.exec(query.order_by(ReminderOccurrence.due_at)))


# --- adherence -----------------------------------------------------------------------------


@dataclass
class Tally:
    due: int = 0
    done: int = 0
    late: int = 0  # done, but after the follow-up or delivered late
    missed: int = 0
    waiting: int = 0  # said, not yet done, window still open

    @property
    def rate(self) -> float | None:
        decided = self.done + self.missed
        return round(self.done / decided, 3) if decided else None

    def add(self, occurrence: ReminderOccurrence) -> None:
        self.due += 1
        if occurrence.status == OccurrenceStatus.done.value:
            self.done += 1
            if occurrence.late or occurrence.followed_up_at is not None:
                self.late += 1
        elif occurrence.status == OccurrenceStatus.missed.value:
            self.missed += 1
        else:
            self.waiting += 1


@dataclass
class Adherence:
    since: datetime
    until: datetime
    total: Tally = field(default_factory=Tally)
    by_reminder: dict[int, tuple[Reminder, Tally]] = field(default_factory=dict)
    by_kind: dict[str, Tally] = field(default_factory=dict)


def adherence(
    session: Session, scope: ElderScope, *, since: datetime, until: datetime
) -> Adherence:
    if until <= since:
        raise InvalidInput("'until' must be after 'since'.")
    result = Adherence(since=since, until=until)
    rows = session.exec(
        select(ReminderOccurrence, Reminder)
        .join(Reminder, Reminder.id == ReminderOccurrence.reminder_id)
        .where(
            ReminderOccurrence.elder_id == scope.elder_id,
            ReminderOccurrence.due_at >= since,  # type: ignore[operator]
            ReminderOccurrence.due_at < until,  # type: ignore[operator]
        )
        .order_by(ReminderOccurrence.due_at)
    )
    for occurrence, reminder in rows:
        result.total.add(occurrence)
        result.by_reminder.setdefault(reminder.id, (reminder, Tally()))[1].add(occurrence)  # type: ignore[index]
        result.by_kind.setdefault(reminder.kind, Tally()).add(occurrence)
    record_access(
        session,
        scope,
        action="reminders.adherence.read",
        detail={"since": since.isoformat(), "until": until.isoformat()},
    )
    return result


# --- the calendar feed ---------------------------------------------------------------------


def calendar(elder: Elder, reminders: Sequence[Reminder]) -> bytes:
    """An iCalendar (RFC 5545) feed of the elder's reminders, for the family's calendars."""
    from icalendar import Calendar, Event, vRecur

    cal = Calendar()
    cal.add("prodid", "-//zhian//reminders//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{elder.display_name} – 智安")
    for reminder in reminders:
        if reminder.paused:
            continue
        if reminder.rrule:
            try:
                rule_parts(reminder.rrule)
            except InvalidInput as exc:  # stored before these checks: left out, not the feed
                log.warning("Reminder %s is left out of the calendar: %s", reminder.id, exc)
                continue
        tz = zone(reminder.timezone)
        event = Event()
        event.add("uid", f"reminder-{reminder.id}@zhian")
        event.add("summary", reminder.title)
        event.add("dtstart", datetime.fromisoformat(reminder.starts_at).replace(tzinfo=tz))
        event.add("duration", timedelta(minutes=15))
        event.add("dtstamp", reminder.updated_at)
        event.add("categories", [reminder.kind])
        if reminder.notes:
            event.add("description", reminder.notes)
        if reminder.rrule:
            event.add("rrule", vRecur.from_ical(reminder.rrule))
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()

"""The companion speaking first: a morning greeting with the day's reminders and weather, a
warm note on a birthday or an anniversary held in memory, and a gentle reminiscence prompt
when the elder has been quiet. Never in quiet hours, at most `proactive_per_day` a day, each
once (a `job_runs` row unique per elder, job and day)."""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime, time, timedelta
from itertools import takewhile

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from companion.persona import Voice, voice
from companion.reminders import schedule
from companion.reminders.firing import clock, reminder_title, say_on_its_own
from memory import facts, timeutil
from memory.access import ElderScope, system_scope
from memory.db import session_scope
from memory.errors import InvalidInput
from memory.models import (
    FACT_KINDS,
    DayNote,
    Elder,
    FactStatus,
    JobRun,
    Memory,
    Message,
    MessageRole,
    Reminder,
    ReminderOccurrence,
    utcnow,
)
from memory.timeutil import zone

log = logging.getLogger(__name__)

KINDS = ("greeting", "birthday", "anniversary", "reminisce")  # what counts towards the daily limit
GREETING_LATEST = timedelta(hours=3)  # after downtime, a greeting later than this is skipped
BIRTHDAY_FROM = time(9, 0)  # without a greeting time, the birthday note comes at 09:00


def _said_today(session: Session, elder: Elder, day_start: datetime) -> int:
    return session.exec(
        select(sa.func.count())
        .select_from(Message)
        .where(
            Message.elder_id == elder.id,
            Message.proactive.in_(KINDS),  # type: ignore[union-attr]
            Message.said_at >= day_start,  # type: ignore[operator]
        )
    ).one()


def _once(engine: sa.Engine, elder_id: str, job: str, key: str, text_for) -> bool:  # type: ignore[no-untyped-def]
    """Say `text_for` (a sentence, or a function of the session and the elder that makes one)
    once for (elder, job, key); False when already said, or when there is nothing to say."""
    try:
        with session_scope(engine) as session:
            said = select(JobRun.id).where(
                JobRun.elder_id == elder_id, JobRun.job == job, JobRun.key == key
            )
            if session.exec(said).first() is not None:
                return False
            run = JobRun(elder_id=elder_id, job=job, key=key)
            session.add(run)
            session.flush()  # a second scheduler stops here: the row is unique
            elder = session.get(Elder, elder_id)
            assert elder is not None
            text = text_for(session, elder) if callable(text_for) else text_for
            if not text:
                return False
            run.message_id = say_on_its_own(
                session, elder, text, job, voice(elder.language).language
            ).id
            return True
    except (IntegrityError, OperationalError):
        return False


def _greeting(day: date, v: Voice):  # type: ignore[no-untyped-def]
    def text(session: Session, elder: Elder) -> str:
        parts = [v.say("greeting", date=v.date(day))]
        note = session.exec(
            select(DayNote).where(DayNote.elder_id == elder.id, DayNote.day == day)
        ).first()
        if note and note.weather:
            parts.append(v.say("greeting_weather", weather=v.in_script(note.weather)))
        start, end = timeutil.local_day_bounds(day, elder.timezone)
        items = []
        reminders = session.exec(
            select(Reminder).where(
                Reminder.elder_id == elder.id,
                Reminder.deleted_at.is_(None),  # type: ignore[union-attr]
                Reminder.paused.is_(False),  # type: ignore[attr-defined]
            )
        )
        for reminder in reminders:
            try:
                dues = list(
                    takewhile(
                        lambda due: due < end,
                        schedule.occurrences(reminder, start, inclusive=True),
                    )
                )
            except InvalidInput:  # a rule that cannot be worked out: the scheduler pauses it
                continue
            for due in dues:
                local = due.astimezone(zone(reminder.timezone))
                items.append(
                    (
                        local,
                        f"{clock(local, v.language)}{' ' if v.language == 'en' else ''}{reminder_title(reminder, v)}",
                    )
                )
        if items:
            items.sort()
            parts.append(
                v.say("greeting_reminders", items=v.say("list_separator").join(i for _, i in items))
            )
        parts.append(v.say("greeting_end"))
        return ("" if v.language.startswith("zh") else " ").join(parts)

    return text


def _facts(session: Session, elder_id: str) -> list[Memory]:
    """Confirmed, current, neither private nor sensitive: what the companion may raise itself."""
    return facts.current_facts(
        session,
        system_scope(session, elder_id),
        statuses=[FactStatus.confirmed],
        private=False,
        sensitive=False,
    )


def run_proactive(engine: sa.Engine, now: datetime | None = None) -> dict[str, int]:
    """One pass over the elders who have any proactive setting; returns what was said."""
    now = now or utcnow()
    said = dict.fromkeys(KINDS, 0)
    with session_scope(engine) as session:
        elders = list(
            session.exec(
                select(Elder).where(
                    sa.or_(
                        Elder.greeting_time.is_not(None),  # type: ignore[union-attr]
                        Elder.birthday.is_not(None),  # type: ignore[union-attr]
                        Elder.reminisce_after_hours.is_not(None),  # type: ignore[union-attr]
                        Elder.id.in_(  # type: ignore[attr-defined]
                            select(Memory.elder_id).where(
                                Memory.kind.in_(FACT_KINDS),  # type: ignore[attr-defined]
                                Memory.event_time.is_not(None),  # type: ignore[union-attr]
                                Memory.status == FactStatus.confirmed.value,
                            )
                        ),
                    )
                )
            )
        )
        session.expunge_all()
    for elder in elders:
        tz = zone(elder.timezone)
        local = now.astimezone(tz)
        if timeutil.in_quiet_hours(local, elder.quiet_hours_start, elder.quiet_hours_end):
            continue
        day = local.date()
        day_start = datetime.combine(day, time(), tzinfo=tz)
        with session_scope(engine) as session:
            budget = elder.proactive_per_day - _said_today(session, elder, day_start)
        v = voice(elder.language)
        if budget <= 0:
            continue
        if elder.greeting_time:
            at = datetime.combine(
                day, timeutil.parse_clock(elder.greeting_time, "greeting_time"), tzinfo=tz
            )
            if at <= local < at + GREETING_LATEST and _once(
                engine, elder.id, "greeting", day.isoformat(), _greeting(day, v)
            ):
                said["greeting"] += 1
                budget -= 1
        greeted_by = (
            timeutil.parse_clock(elder.greeting_time, "greeting_time")
            if elder.greeting_time
            else BIRTHDAY_FROM
        )
        if (
            budget > 0
            and elder.birthday
            and (elder.birthday.month, elder.birthday.day) == (day.month, day.day)
            and local.time() >= greeted_by
        ) and _once(engine, elder.id, "birthday", str(day.year), v.say("birthday")):
            said["birthday"] += 1
            budget -= 1
        if budget > 0 and local.time() >= greeted_by:
            budget -= _anniversaries(engine, elder, day, v, said)
        if budget > 0 and elder.reminisce_after_hours:
            _reminisce(engine, elder, now, day, v, said)
    return said


def _anniversaries(
    engine: sa.Engine, elder: Elder, day: date, v: Voice, said: dict[str, int]
) -> int:
    tz = zone(elder.timezone)
    with session_scope(engine) as session:
        today = [
            f
            for f in _facts(session, elder.id)
            if f.event_time is not None
            and (lambda t: (t.month, t.day) == (day.month, day.day) and t.year < day.year)(
                f.event_time.astimezone(tz)
            )
        ]
    for fact in today[:1]:
        words = v.in_script(fact.text)
        if _once(
            engine,
            elder.id,
            "anniversary",
            f"{fact.id}:{day.year}",
            v.say("anniversary", words=words),
        ):
            said["anniversary"] += 1
            return 1
    return 0


def _reminisce(
    engine: sa.Engine, elder: Elder, now: datetime, day: date, v: Voice, said: dict[str, int]
) -> None:
    quiet_for = timedelta(hours=elder.reminisce_after_hours or 0)
    with session_scope(engine) as session:
        last_word = session.exec(
            select(sa.func.max(Message.said_at)).where(
                Message.elder_id == elder.id, Message.role == MessageRole.elder.value
            )
        ).one()
        last_prompt = session.exec(
            select(sa.func.max(JobRun.at)).where(
                JobRun.elder_id == elder.id, JobRun.job == "reminisce"
            )
        ).one()
        if last_word is None or now - _aware(last_word) < quiet_for:
            return
        if last_prompt is not None and now - _aware(last_prompt) < quiet_for:
            return
        known = sorted(_facts(session, elder.id), key=lambda f: f.id or 0)
    if not known:
        return
    # A different memory each day, the same one however many schedulers ask.
    pick = known[int(hashlib.sha256(f"{elder.id}{day}".encode()).hexdigest(), 16) % len(known)]
    words = v.in_script(pick.text)
    if _once(
        engine,
        elder.id,
        "reminisce",
        day.isoformat(),
        v.say("reminisce", words=words),
    ):
        said["reminisce"] += 1


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def set_weather(
    session: Session, scope: ElderScope, day: date, weather: str, *, set_by: str | None
) -> DayNote:
    """The weather of the elder's day, as the family sets it: the morning greeting says it."""
    note = session.exec(
        select(DayNote).where(DayNote.elder_id == scope.elder_id, DayNote.day == day)
    ).first()
    note = note or DayNote(elder_id=scope.elder_id, day=day)
    note.weather, note.set_by = weather, set_by
    session.add(note)
    return note


def live_start(session: Session, elder_id: str) -> int:
    """Where a page that just opened starts listening: after the latest message, or before
    the first reminder still waiting for "done"."""
    latest = session.exec(select(sa.func.max(Message.id)).where(Message.elder_id == elder_id)).one()
    waiting = session.exec(
        select(sa.func.min(ReminderOccurrence.delivery_message_id)).where(
            ReminderOccurrence.elder_id == elder_id,
            ReminderOccurrence.status == "delivered",
        )
    ).one()
    return min(latest or 0, waiting - 1 if waiting else latest or 0)


def said_since(engine: sa.Engine, elder_id: str, after_id: int) -> list[dict]:
    """What the companion said on its own after `after_id`; a reminder still waiting for
    "done" carries its occurrence id, for the page's button."""
    with Session(engine) as session:
        rows = session.exec(
            select(Message, ReminderOccurrence)
            .outerjoin(
                ReminderOccurrence,
                sa.and_(
                    ReminderOccurrence.delivery_message_id == Message.id,
                    ReminderOccurrence.status == "delivered",
                ),
            )
            .where(
                Message.elder_id == elder_id,
                Message.id > after_id,  # type: ignore[operator]
                Message.proactive.is_not(None),  # type: ignore[union-attr]
            )
            .order_by(Message.id)
        )
        return [
            {
                "id": message.id,
                "text": message.text,
                "kind": message.proactive,
                "language": message.language,
                "said_at": message.said_at.isoformat(),
                "occurrence_id": occurrence.id if occurrence else None,
            }
            for message, occurrence in rows
        ]

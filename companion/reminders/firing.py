"""Reminders, said by the companion: the gentle line at the due time, one follow-up, "done"
heard in the elder's own words, and a missed occurrence told to the family.

Every step is one short transaction guarded by the database: an occurrence row is unique
per (reminder, due time), and a follow-up or a miss is recorded by a conditional UPDATE, so
two schedulers running the same step at once cannot both act.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import monotonic

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlmodel import Session, select

from companion.alerts.concerns import raise_flag
from companion.alerts.outbox import notify_family
from companion.persona import Voice, voice
from companion.reminders import schedule
from memory import store, timeutil
from memory.access import ElderScope, record, system_scope
from memory.db import session_scope
from memory.errors import ZhianError
from memory.language import in_script
from memory.models import (
    Elder,
    Message,
    MessageRole,
    OccurrenceStatus,
    Reminder,
    ReminderKind,
    ReminderOccurrence,
    utcnow,
)
from memory.timeutil import zone

log = logging.getLogger(__name__)

# --- the elder's words ----------------------------------------------------------------------

_DONE_ZH = re.compile(
    r"(吃|服|喝|量|測|测|做|去|弄|擦|點|点|打|用|換|换)(過|过|好|完)?了"
    r"|已[經经]|做完|好了|完成|搞定"
)
_NOT_YET_ZH = re.compile(
    r"還沒|还没|沒有|没有|沒吃|没吃|不要|不想|忘了|等[一下會会]|待[會会]|晚[點点]|不吃|別|别|嗎|吗|\?|？"
)
_DONE_EN = re.compile(
    r"\b(i\s+)?(took|taken|have\s+taken|'ve\s+taken|done|did\s+it|finished|had\s+(it|them|my)|"
    r"went|been|all\s+set|got\s+it|checked)\b",
    re.IGNORECASE,
)
_NOT_YET_EN = re.compile(
    r"\b(not|haven'?t|hasn'?t|didn'?t|don'?t|won'?t|forgot|later|yet|no)\b|\?", re.IGNORECASE
)
# A meal is not the medicine: "我吃了早餐" does not answer a medicine reminder.
_MEAL = re.compile(
    r"早餐|午餐|晚餐|早飯|早饭|午飯|午饭|晚飯|晚饭|飯|饭|麵|面條|breakfast|lunch|dinner|meal", re.I
)
_MEDICINE = re.compile(r"藥|药|medicine|pill|tablet|meds", re.I)
_KIND_WORDS = {
    ReminderKind.medicine.value: _MEDICINE,
    ReminderKind.appointment.value: re.compile(
        r"醫生|医生|醫院|医院|診|诊|doctor|clinic|hospital|appointment", re.I
    ),
}


def says_done(text: str, kind: str) -> bool:
    """Whether the elder's words say the reminder is done ("我吃過藥了", "I took it")."""
    words = text.strip()
    if not words:
        return False
    if re.search(r"[\u4e00-\u9fff]", words):
        done, not_yet = _DONE_ZH.search(words), _NOT_YET_ZH.search(words)
    else:
        done, not_yet = _DONE_EN.search(words), _NOT_YET_EN.search(words)
    if not done or not_yet:
        return False
    meal_only = _MEAL.search(words) and not _MEDICINE.search(words)
    return not (kind == ReminderKind.medicine.value and meal_only)


def _pick(
    open_: list[tuple[ReminderOccurrence, Reminder]], text: str
) -> tuple[ReminderOccurrence, Reminder] | None:
    """The occurrence the words answer: one of the kind they name, else the latest said."""
    for occurrence, reminder in open_:
        pattern = _KIND_WORDS.get(reminder.kind)
        if pattern and pattern.search(text) and says_done(text, reminder.kind):
            return occurrence, reminder
    for occurrence, reminder in open_:
        if says_done(text, reminder.kind):
            return occurrence, reminder
    return None


def acknowledge(session: Session, scope: ElderScope, message: Message) -> Reminder | None:
    """If the elder's message says an open reminder is done, record it (with the time and the
    message) and return the reminder."""
    open_ = schedule.open_occurrences(session, scope.elder_id)
    if not open_:
        return None
    chosen = _pick(open_, message.text)
    if chosen is None:
        return None
    occurrence, reminder = chosen
    if not schedule.mark_done(
        session, occurrence, by="elder (in chat)", now=message.said_at, message_id=message.id
    ):
        return None
    return reminder


# --- what the companion says ----------------------------------------------------------------


def clock(local: datetime, language: str) -> str:
    if language == "en":
        return f"{local.hour % 12 or 12}:{local.minute:02d} {'am' if local.hour < 12 else 'pm'}"
    h, m = local.hour, local.minute
    part = (
        "凌晨"
        if h < 5
        else "早上"
        if h < 9
        else "上午"
        if h < 12
        else "中午"
        if h < 13
        else "下午"
        if h < 18
        else "晚上"
    )
    dot = "點" if language == "zh-Hant" else "点"
    minutes = "" if m == 0 else "半" if m == 30 else f"{m}分"
    return f"{part}{h % 12 or 12}{dot}{minutes}"


def reminder_title(reminder: Reminder, v: Voice) -> str:
    return in_script(reminder.title, v.language) if v.language.startswith("zh") else reminder.title


def reminder_line(reminder: Reminder, due_local: datetime, v: Voice) -> str:
    key = {
        ReminderKind.medicine.value: "reminder_medicine",
        ReminderKind.appointment.value: "reminder_appointment",
    }.get(reminder.kind, "reminder_other")
    return v.say(key, time=clock(due_local, v.language), title=reminder_title(reminder, v))


def say_on_its_own(session: Session, elder: Elder, text: str, kind: str, language: str) -> Message:
    message, _ = store.add_message(
        session,
        system_scope(session, elder.id),
        store.MessageDraft(
            text=text, role=MessageRole.companion, speaker="智安", language=language, proactive=kind
        ),
    )
    return message


# --- the scheduler's steps ------------------------------------------------------------------


@dataclass
class Report:
    fired: int = 0
    late: int = 0
    not_delivered: int = 0
    followed_up: int = 0
    missed: int = 0
    taken_by_another: int = 0
    set_aside: int = 0  # reminders paused because their times cannot be worked out
    postponed: int = 0  # due reminders left for the next tick: this one ran out of time
    lags: list[float] = field(default_factory=list)  # seconds from due time to the elder's chat

    def merge(self, other: Report) -> None:
        for name in (
            "fired",
            "late",
            "not_delivered",
            "followed_up",
            "missed",
            "taken_by_another",
            "set_aside",
            "postponed",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lags += other.lags


def _missed(
    session: Session,
    elder: Elder,
    reminder: Reminder,
    occurrence: ReminderOccurrence,
    reason: str,
    email: bool,
) -> None:
    v = voice(elder.language)
    local = occurrence.due_at.astimezone(zone(reminder.timezone))
    key = "family_not_delivered" if reason == "not_delivered" else "family_missed"
    summary = v.say(
        key,
        name=elder.preferred_name or elder.display_name,
        date=v.date(local.date()),
        time=clock(local, v.language),
        title=reminder_title(reminder, v),
    )
    flag = raise_flag(
        session,
        elder.id,
        kind="missed_medicine"
        if reminder.kind == ReminderKind.medicine.value
        else "missed_reminder",
        severity="warning",
        summary=summary,
        occurrence_id=occurrence.id,
        email=email,
    )
    notify_family(
        session,
        elder.id,
        "reminder.missed",
        {
            "reminder": {"id": reminder.id, "title": reminder.title, "kind": reminder.kind},
            "occurrence": {
                "id": occurrence.id,
                "due_at": occurrence.due_at.isoformat(),
                "reason": reason,
            },
            "concern_id": flag.id,
            "subject": f"智安: {summary}",
            "text": summary,
        },
        email=False,  # the concern's e-mail says it already
    )


def _due_times(
    reminder: Reminder, first: datetime, now: datetime, deadline: float | None
) -> tuple[list[datetime], datetime | None]:
    """The due times from `first` up to `now` (at most 100; the rest next tick) and the one
    after them, worked out before anything is written, so no lock waits on the rule."""
    times: list[datetime] = []
    due: datetime | None = first
    while due is not None and due <= now and len(times) < 100:
        if deadline is not None and times and monotonic() > deadline:
            break  # the tick's time is up: the next tick goes on from `due`
        times.append(due)
        due = schedule.next_due(reminder, due)
    return times, due


def _fire_one(
    engine: sa.Engine,
    reminder_id: int,
    now: datetime,
    grace: timedelta,
    email: bool,
    deadline: float | None = None,
) -> Report:
    """Handle every due time of one reminder up to `now`, in one short transaction."""
    report = Report()
    try:
        with session_scope(engine) as session:
            reminder = session.get(Reminder, reminder_id)
            if reminder is None or reminder.next_due_at is None or reminder.next_due_at > now:
                return report  # another scheduler got here first
            elder = session.get(Elder, reminder.elder_id)
            assert elder is not None
            was = reminder.next_due_at
            if reminder.paused or reminder.deleted_at is not None:
                following = None if reminder.deleted_at else schedule.next_due(reminder, now)
            else:
                due_times, following = _due_times(reminder, was, now, deadline)
                v = voice(elder.language)
                tz = zone(reminder.timezone)
                for due in due_times:
                    occurrence = ReminderOccurrence(
                        reminder_id=reminder.id,
                        elder_id=elder.id,
                        due_at=due,
                        status=OccurrenceStatus.delivered.value,
                    )  # type: ignore[arg-type]
                    if now - due > grace:
                        occurrence.status = OccurrenceStatus.missed.value
                        occurrence.missed_at, occurrence.missed_reason = now, "not_delivered"
                        session.add(occurrence)
                        session.flush()
                        _missed(session, elder, reminder, occurrence, "not_delivered", email)
                        report.not_delivered += 1
                    else:
                        message = say_on_its_own(
                            session,
                            elder,
                            reminder_line(reminder, due.astimezone(tz), v),
                            "reminder",
                            v.language,
                        )
                        occurrence.delivered_at, occurrence.delivery_message_id = now, message.id
                        occurrence.late = now - due > schedule.LATE_AFTER
                        session.add(occurrence)
                        session.flush()
                        report.fired += 1
                        report.late += occurrence.late
                        report.lags.append((now - due).total_seconds())
            # Move on only from where we started: a scheduler that lost the race changes nothing.
            moved = session.execute(
                sa.update(Reminder)
                .where(Reminder.id == reminder.id, Reminder.next_due_at == was)
                .values(next_due_at=following)
                .execution_options(synchronize_session=False)
            ).rowcount
            if not moved:
                raise _Lost()
    except (IntegrityError, _Lost):
        return Report(taken_by_another=1)
    except OperationalError as exc:  # SQLite: another writer went first; nothing was kept
        log.info("Reminder %s is busy, trying again on the next tick: %s", reminder_id, exc)
        return Report(taken_by_another=1)
    return report


class _Lost(Exception):
    """Another scheduler handled this reminder at the same moment."""


def set_aside(engine: sa.Engine, reminder_id: int, problem: Exception, *, email: bool) -> bool:
    """Pause a reminder whose times cannot be worked out (a rule stored before today's checks,
    or one that fails), so that no tick tries it again, and tell the family what to change."""
    reason = problem.message if isinstance(problem, ZhianError) else f"{type(problem).__name__}"
    log.error("Reminder %s is paused: its times cannot be worked out (%s)", reminder_id, reason)
    with session_scope(engine) as session:
        paused = session.execute(
            sa.update(Reminder)
            .where(Reminder.id == reminder_id, Reminder.next_due_at.is_not(None))  # type: ignore[union-attr]
            .values(paused=True, next_due_at=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        reminder = session.get(Reminder, reminder_id)
        elder = session.get(Elder, reminder.elder_id) if reminder else None
        if not paused or reminder is None or elder is None:
            return False  # another scheduler set it aside, or it is gone
        v = voice(elder.language)
        raise_flag(
            session,
            elder.id,
            kind="reminder_paused",
            severity="warning",
            summary=v.say(
                "family_reminder_paused", title=reminder_title(reminder, v), reason=reason
            ),
            email=email,
        )
        record(
            session,
            actor=None,
            action="reminder.paused",
            elder_id=elder.id,
            detail={"reminder_id": reminder_id, "reason": reason},
        )
    return True


def fire_due(
    engine: sa.Engine,
    now: datetime,
    *,
    grace: timedelta = schedule.GRACE,
    email: bool = False,
    limit: int = 2000,
    deadline: float | None = None,
) -> Report:
    """Say every reminder due by `now` (late ones within `grace`; older ones are missed), each
    in its own transaction; one whose times cannot be worked out is set aside, never holding
    up the others. Past `deadline` (time.monotonic()) the rest wait for the next tick."""
    with session_scope(engine) as session:
        ids = schedule.due_reminder_ids(session, now, limit)
    report = Report()
    for n, reminder_id in enumerate(ids):
        if deadline is not None and monotonic() > deadline:
            report.postponed += len(ids) - n
            log.warning("The tick ran out of time: %d due reminders wait", len(ids) - n)
            break
        try:
            report.merge(_fire_one(engine, reminder_id, now, grace, email, deadline))
        except SQLAlchemyError as exc:  # the database, not the reminder: the next tick retries
            log.warning("Reminder %s could not be handled, trying again: %s", reminder_id, exc)
        except Exception as exc:  # this reminder's own fault: set aside, the others go on
            if not isinstance(exc, ZhianError):
                log.exception("Reminder %s failed", reminder_id)
            try:
                report.set_aside += set_aside(engine, reminder_id, exc, email=email)
            except SQLAlchemyError as again:
                log.warning("Reminder %s could not be set aside yet: %s", reminder_id, again)
    return report


def _claim(
    session: Session, occurrence_id: int, values: dict, *, first_follow_up: bool = False
) -> tuple[Elder, Reminder, ReminderOccurrence] | None:
    """Change a waiting occurrence if it still waits (and, for a follow-up, has had none):
    the conditional UPDATE makes sure only one scheduler acts on it."""
    query = sa.update(ReminderOccurrence).where(
        ReminderOccurrence.id == occurrence_id,
        ReminderOccurrence.status == OccurrenceStatus.delivered.value,
    )
    if first_follow_up:
        query = query.where(ReminderOccurrence.followed_up_at.is_(None))  # type: ignore[union-attr]
    if not session.execute(query.values(**values)).rowcount:
        return None
    occurrence = session.get(ReminderOccurrence, occurrence_id)
    assert occurrence is not None
    reminder, elder = (
        session.get(Reminder, occurrence.reminder_id),
        session.get(Elder, occurrence.elder_id),
    )
    assert reminder is not None and elder is not None
    return elder, reminder, occurrence


def sweep(
    engine: sa.Engine, now: datetime, *, email: bool = False, deadline: float | None = None
) -> Report:
    """One gentle follow-up half way through the window; at its end, missed: a concern flag
    and the family told. Past `deadline` the rest wait for the next tick."""
    report = Report()
    with session_scope(engine) as session:
        rows = list(
            session.exec(
                select(
                    ReminderOccurrence.id,
                    Reminder.ack_window_minutes,
                    ReminderOccurrence.delivered_at,
                    ReminderOccurrence.followed_up_at,
                )
                .join(Reminder, Reminder.id == ReminderOccurrence.reminder_id)
                .where(ReminderOccurrence.status == OccurrenceStatus.delivered.value)
            )
        )
    for occurrence_id, window_minutes, delivered_at, followed_up_at in rows:
        if deadline is not None and monotonic() > deadline:
            break
        window = timedelta(minutes=window_minutes)
        if now >= delivered_at + window:
            with session_scope(engine) as session:
                claimed = _claim(
                    session,
                    occurrence_id,
                    dict(
                        status=OccurrenceStatus.missed.value,
                        missed_at=now,
                        missed_reason="no_answer",
                    ),
                )
                if claimed:
                    _missed(session, *claimed, "no_answer", email)
                    report.missed += 1
        elif followed_up_at is None and now >= delivered_at + window / 2:
            with session_scope(engine) as session:
                claimed = _claim(
                    session, occurrence_id, dict(followed_up_at=now), first_follow_up=True
                )
                if claimed:
                    elder, reminder, _ = claimed
                    local = now.astimezone(zone(elder.timezone))
                    if not timeutil.in_quiet_hours(
                        local, elder.quiet_hours_start, elder.quiet_hours_end
                    ):
                        v = voice(elder.language)
                        say_on_its_own(
                            session,
                            elder,
                            v.say("follow_up", title=reminder_title(reminder, v)),
                            "follow_up",
                            v.language,
                        )
                        report.followed_up += 1
    return report

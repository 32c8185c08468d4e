"""The family's digests: a day or a week of the elder's life, from that period's messages only.

Each line carries the messages it comes from. The summary at the top is written by the
language model when one is configured, in the family member's language, and every sentence
must cite the numbered messages it rests on (a sentence that cites none is dropped); without
a model, or when it fails, the elder's own words stand in. Private memories never appear:
a message that a private memory came from is left out altogether.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from sqlmodel import Session, select

from companion.alerts.concerns import without_private_words
from companion.reminders import schedule
from memory import chatmodel, facts, prompts, visibility
from memory.access import ElderScope, system_scope
from memory.models import (
    ConcernFlag,
    Digest,
    Elder,
    FactStatus,
    Message,
    MessageRole,
    MessageSignal,
    OccurrenceStatus,
    Reminder,
    ReminderOccurrence,
    utcnow,
)
from memory.timeutil import zone

log = logging.getLogger(__name__)

PERIODS = {"day": 1, "week": 7}
_WORRY_MOODS = ("sad", "anxious", "lonely", "in_pain", "confused", "angry")
_LANGUAGE_NAMES = {
    "zh-Hant": "Traditional Chinese (Taiwan)",
    "zh-Hans": "Simplified Chinese",
    "en": "English",
}


def period_start(day: date, period: str) -> date:
    """A week is the seven days that end with `day` (the nightly job writes one each Sunday)."""
    return day - timedelta(days=6) if period == "week" else day


def bounds(elder: Elder, start: date, period: str) -> tuple[datetime, datetime]:
    tz = zone(elder.timezone)
    begin = datetime.combine(start, time(), tzinfo=tz)
    return begin, begin + timedelta(days=PERIODS[period])


def _source(message: Message) -> dict:
    return {"id": message.id, "text": message.text, "said_at": message.said_at.isoformat()}


def _line(message: Message, **extra: object) -> dict:
    """A line in the elder's own words, with its source (itself)."""
    return {
        "text": message.text,
        "message_ids": [message.id],
        "said_at": message.said_at.isoformat(),
        "sources": [_source(message)],
        **extra,
    }


def _summary(
    model: BaseChatModel | None, elder: Elder, said: list[Message], language: str
) -> tuple[list[dict], str]:
    """Sentences with their sources: by the model (each must cite), else the elder's words."""
    if chatmodel.available(model) and said:
        numbered = said[:40]
        lines = "\n".join(f"[{n}] {m.text}" for n, m in enumerate(numbered, 1))
        prompt = [
            SystemMessage(
                content=prompts.text(
                    "digest",
                    language,
                    language_name=_LANGUAGE_NAMES.get(language, "English"),
                    name=elder.preferred_name or elder.display_name,
                )
            ),
            HumanMessage(content=lines),
        ]
        try:
            text = str(model.invoke(prompt, max_tokens=220, temperature=0.2).content)
            sentences = []
            for sentence in re.split(r"(?<=[。！？.!?\]])\s*(?=\S)", text.strip()):
                cited = [int(n) for n in re.findall(r"\[(\d+)\]", sentence)]
                chosen = {n: numbered[n - 1] for n in cited if 1 <= n <= len(numbered)}
                used = sorted(chosen.values(), key=lambda m: m.id or 0)
                words = re.sub(r"\s*\[\d+\]", "", sentence).strip()
                if used and words:
                    sentences.append(
                        {
                            "text": words,
                            "message_ids": [m.id for m in used],
                            "sources": [_source(m) for m in used],
                            "generated": True,
                        }
                    )
            if sentences:
                return sentences, "model"
        except Exception as exc:  # the elder's own words stand in
            log.warning("The digest could not be written by the model: %s", exc)
    # Extractive: the longest things said, one per day, in the elder's words.
    by_day: dict[date, Message] = {}
    for m in said:
        day = m.said_at.astimezone(zone(elder.timezone)).date()
        if day not in by_day or len(m.text) > len(by_day[day].text):
            by_day[day] = m
    return [_line(m) for _, m in sorted(by_day.items())][:7], "extract"


def _words_said(
    session: Session, shared: ElderScope, begin: datetime, end: datetime
) -> list[Message]:
    """The elder's messages in the period that the family may read."""
    messages = list(
        session.exec(
            select(Message)
            .where(
                visibility.message_clause(shared),
                Message.role == MessageRole.elder.value,
                Message.said_at >= begin,  # type: ignore[operator]
                Message.said_at < end,  # type: ignore[operator]
            )
            .order_by(Message.said_at, Message.id)
        )
    )
    return visibility.withhold_messages(session, shared, messages)


def _signals_of(session: Session, said: list[Message]) -> dict[int, MessageSignal]:
    return {
        s.message_id: s
        for s in session.exec(
            select(MessageSignal).where(
                MessageSignal.message_id.in_([m.id for m in said])  # type: ignore[attr-defined]
            )
        )
    }


def _moments(said: list[Message], signals: dict[int, MessageSignal], tz) -> dict:  # type: ignore[no-untyped-def]
    """Joys, worries and the moods of each day, each line with the message it comes from."""
    joys = [_line(m) for m in said if m.id in signals and signals[m.id].mood == "happy"][:3]
    worries = [
        _line(m, concerns=signals[m.id].concerns, mood=signals[m.id].mood)
        for m in said
        if m.id in signals and (signals[m.id].concerns or signals[m.id].mood in _WORRY_MOODS)
    ][:6]
    moods: dict[str, Counter] = {}
    for m in said:
        if m.id in signals:
            day = m.said_at.astimezone(tz).date().isoformat()
            moods.setdefault(day, Counter())[signals[m.id].mood] += 1
    return {
        "joys": joys,
        "worries": worries,
        "moods": {day: dict(c) for day, c in sorted(moods.items())},
    }


def _concerns(session: Session, shared: ElderScope, begin: datetime, end: datetime) -> list[dict]:
    """The period's concern flags; a quote of private words is left out."""
    flags = without_private_words(
        session,
        shared,
        list(
            session.exec(
                select(ConcernFlag)
                .where(
                    ConcernFlag.elder_id == shared.elder_id,
                    ConcernFlag.created_at >= begin,  # type: ignore[operator]
                    ConcernFlag.created_at < end,  # type: ignore[operator]
                )
                .order_by(ConcernFlag.id)
            ),
        ),
    )
    return [
        {
            "id": f.id,
            "kind": f.kind,
            "severity": f.severity,
            "state": f.state,
            "summary": f.summary,
            "message_ids": [f.message_id] if f.message_id else [],
            "at": f.created_at.isoformat(),
        }
        for f in flags
    ]


def _reminders(session: Session, elder_id: str, begin: datetime, end: datetime) -> dict:
    """Reminders due in the period: done, late, missed (with what was missed), the rate."""
    tally = schedule.Tally()
    missed = []
    for occurrence, reminder in session.exec(
        select(ReminderOccurrence, Reminder)
        .join(Reminder, Reminder.id == ReminderOccurrence.reminder_id)
        .where(
            ReminderOccurrence.elder_id == elder_id,
            ReminderOccurrence.due_at >= begin,  # type: ignore[operator]
            ReminderOccurrence.due_at < end,  # type: ignore[operator]
        )
        .order_by(ReminderOccurrence.due_at)
    ):
        tally.add(occurrence)
        if occurrence.status == OccurrenceStatus.missed:
            missed.append(
                {
                    "title": reminder.title,
                    "kind": reminder.kind,
                    "due_at": occurrence.due_at.isoformat(),
                }
            )
    return {
        "due": tally.due,
        "done": tally.done,
        "late": tally.late,
        "missed": tally.missed,
        "rate": tally.rate,
        "missed_items": missed,
    }


def _to_review(session: Session, shared: ElderScope) -> dict:
    waiting = facts.current_facts(session, shared, statuses=[FactStatus.unconfirmed])
    return {"count": len(waiting), "facts": [{"id": f.id, "text": f.text} for f in waiting[:5]]}


def build_digest(
    session: Session,
    scope: ElderScope,
    period: str,
    start: date,
    language: str,
    model: BaseChatModel | None = None,
) -> Digest:
    """The digest is read by the family: it is built from what they may see, whoever asks."""
    shared = visibility.shared_view(scope)
    elder = session.get(Elder, scope.elder_id)
    assert elder is not None
    begin, end = bounds(elder, start, period)
    said = _words_said(session, shared, begin, end)
    summary, written_by = _summary(model, elder, said, language)
    moments = _moments(said, _signals_of(session, said), zone(elder.timezone))
    sections = {
        "summary": summary,
        "joys": moments["joys"],
        "worries": moments["worries"],
        "concerns": _concerns(session, shared, begin, end),
        "reminders": _reminders(session, elder.id, begin, end),
        "to_review": _to_review(session, shared),
        "moods": moments["moods"],
        "messages": len(said),
        "last_said_at": said[-1].said_at.isoformat() if said else None,
    }
    digest = stored_digest(session, elder.id, period, start, language) or Digest(
        elder_id=elder.id, period=period, start=start, language=language, sections={}, written_by=""
    )
    digest.sections, digest.written_by, digest.built_at = sections, written_by, utcnow()
    session.add(digest)
    session.flush()
    return digest


def stored_digest(
    session: Session, elder_id: str, period: str, start: date, language: str
) -> Digest | None:
    return session.exec(
        select(Digest).where(
            Digest.elder_id == elder_id,
            Digest.period == period,
            Digest.start == start,
            Digest.language == language,
        )
    ).first()


def digest_for(
    session: Session, scope: ElderScope, *, period: str, day: date | None, language: str
) -> Digest:
    """The digest of the period holding `day` (default today): the stored one, or one made
    now from the elder's words when none is stored or the period is still going on and the
    stored one is more than ten minutes old."""
    elder = session.get(Elder, scope.elder_id)
    assert elder is not None
    today = utcnow().astimezone(zone(elder.timezone)).date()
    start = period_start(day or today, period)
    stored = stored_digest(session, scope.elder_id, period, start, language)
    period_end = start + timedelta(days=PERIODS[period])
    if stored is None or (
        today < period_end and stored.built_at < utcnow() - timedelta(minutes=10)
    ):
        stored = build_digest(session, scope, period, start, language, None)
    return stored


def moods_by_day(session: Session, scope: ElderScope, *, days: int) -> dict[date, dict[str, int]]:
    """How many of the elder's messages had each mood, per day of the elder's calendar."""
    tz = zone(scope.elder_timezone)
    since = utcnow() - timedelta(days=days)
    by_day: dict[date, dict[str, int]] = {}
    for said_at, mood in session.exec(
        select(MessageSignal.said_at, MessageSignal.mood).where(
            MessageSignal.elder_id == scope.elder_id,
            MessageSignal.said_at >= since,  # type: ignore[operator]
        )
    ):
        counts = by_day.setdefault(said_at.astimezone(tz).date(), {})
        counts[mood] = counts.get(mood, 0) + 1
    return dict(sorted(by_day.items()))


def last_said_at(session: Session, scope: ElderScope) -> datetime | None:
    """When the elder last said something."""
    return session.exec(
        select(sa.func.max(Message.said_at)).where(
            Message.elder_id == scope.elder_id, Message.role == MessageRole.elder.value
        )
    ).one()


def family_languages(session: Session, elder: Elder) -> set[str]:
    from memory.models import Account, Role

    languages = {elder.language}
    for account in session.exec(
        select(Account).where(Account.elder_id == elder.id, Account.role == Role.family.value)
    ):
        if account.language:
            languages.add(account.language)
    return languages


def nightly_digests(session: Session, elder_id: str, day: date, model: BaseChatModel | None) -> int:
    """Yesterday's digest, and on Monday night last week's, in every family member's language."""
    elder = session.get(Elder, elder_id)
    assert elder is not None
    scope = system_scope(session, elder_id)
    made = 0
    for language in sorted(family_languages(session, elder)):
        build_digest(session, scope, "day", day, language, model)
        made += 1
        if day.weekday() == 6:  # the night after Sunday: the week is complete
            build_digest(session, scope, "week", period_start(day, "week"), language, model)
            made += 1
    return made

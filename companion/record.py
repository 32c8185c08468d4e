"""An elder's whole record, theirs to keep: everything stored about them as documented JSON
(zhian.record/1, schema at /v1/schemas/record.json) or a page a person can read.

The elder receives everything, private memories included. Their guardian receives what the
project's visibility rule lets anyone but the elder see (`memory.visibility`): no private
memory, none of the words it came from, no reply of the companion's that used one.
"""

from __future__ import annotations

import html
from collections import defaultdict
from datetime import date, datetime
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from companion.alerts.concerns import without_private_words
from memory import visibility
from memory.access import ElderScope, record_access
from memory.errors import NotFound
from memory.models import (
    Account,
    AuditEvent,
    ConcernFlag,
    DayNote,
    DaySummary,
    Digest,
    Elder,
    Grant,
    Memory,
    MemoryEvent,
    MemoryKind,
    MemorySource,
    Message,
    MessageSignal,
    Profile,
    Reminder,
    ReminderOccurrence,
    StoryExportRun,
    utcnow,
)

VERSION = "zhian.record/1"
FORMATS = ("json", "html")


# --- the schema (served at /v1/schemas/record.json) -----------------------------------------


class RecordElder(BaseModel):
    id: str
    name: str
    preferred_name: str | None
    languages: list[str]
    timezone: str
    birthday: date | None
    quiet_hours: tuple[str, str] = Field(description="Local HH:MM start and end.")
    greeting_time: str | None
    created_at: datetime


class RecordPerson(BaseModel):
    """An account of this elder's: the elder's own, family members, creators."""

    id: str
    role: str
    name: str
    relation: str | None
    guardian: bool
    created_at: datetime


class RecordGrant(BaseModel):
    account_id: str
    scopes: list[str]
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RecordMessage(BaseModel):
    id: int
    said_at: datetime
    role: str = Field(description="elder, companion, family or other.")
    speaker: str | None
    text: str = Field(description="Verbatim.")
    language: str | None
    conversation_id: str | None
    external_id: str | None
    proactive: str | None = Field(description="Said by the companion on its own: why.")
    used_memory_ids: list[int] | None = Field(description="On the companion's replies.")


class RecordChange(BaseModel):
    action: str = Field(description="created, merged, retired, edited, approved, rejected, deleted")
    at: datetime
    actor_role: str | None
    actor_name: str | None
    before: dict | None
    after: dict | None


class RecordFact(BaseModel):
    id: int
    kind: str
    text: str
    subject: str | None
    attribute: str | None
    value: str | None
    status: str | None = Field(description="unconfirmed, confirmed or rejected.")
    private: bool
    sensitive: bool
    said_at: datetime
    event_time: datetime | None
    valid_to: datetime | None = Field(description="Retired then (replaced by superseded_by).")
    superseded_by: int | None
    deleted_at: datetime | None
    author_role: str | None
    source_message_ids: list[int]
    history: list[RecordChange]


class RecordRemovedFact(BaseModel):
    """A fact no longer stored; its history stays readable."""

    memory_id: int
    history: list[RecordChange]


class RecordOccurrence(BaseModel):
    due_at: datetime
    status: str = Field(description="delivered, done or missed.")
    delivered_at: datetime | None
    late: bool
    done_at: datetime | None
    done_by: str | None
    missed_at: datetime | None
    missed_reason: str | None


class RecordReminder(BaseModel):
    id: int
    title: str
    kind: str
    rrule: str | None
    starts_at: str = Field(description="Wall-clock time of the first occurrence, in `timezone`.")
    timezone: str
    notes: str | None
    paused: bool
    created_at: datetime
    deleted_at: datetime | None
    occurrences: list[RecordOccurrence]


class RecordConcern(BaseModel):
    id: int
    kind: str
    severity: str
    state: str
    summary: str
    message_id: int | None
    created_at: datetime
    seen_at: datetime | None
    resolved_at: datetime | None


class RecordMood(BaseModel):
    message_id: int
    said_at: datetime
    mood: str
    concerns: list[str]


class RecordDaySummary(BaseModel):
    day: date
    text: str
    message_ids: list[int]
    written_by: str


class RecordDigest(BaseModel):
    period: str
    start: date
    language: str
    sections: dict


class RecordDayNote(BaseModel):
    day: date
    weather: str | None


class RecordStoryExport(BaseModel):
    id: int
    requested_at: datetime
    account_name: str
    format: str
    status: str
    filters: dict


class RecordAudit(BaseModel):
    at: datetime
    actor_role: str | None
    actor_name: str | None
    action: str
    detail: dict


class ElderRecord(BaseModel):
    """Everything stored about one elder (zhian.record/1)."""

    version: Literal["zhian.record/1"] = VERSION
    generated_at: datetime
    reader: Literal["elder", "guardian", "admin"]
    note: str = Field(description="What this copy holds, and what it leaves out.")
    elder: RecordElder
    people: list[RecordPerson]
    grants: list[RecordGrant]
    messages: list[RecordMessage] = Field(description="Every turn, oldest first.")
    facts: list[RecordFact] = Field(description="What the companion knows, with its history.")
    removed_facts: list[RecordRemovedFact]
    profile: dict | None = Field(description='The "this is me" profile, by section.')
    day_summaries: list[RecordDaySummary]
    reminders: list[RecordReminder]
    day_notes: list[RecordDayNote]
    moods: list[RecordMood]
    concerns: list[RecordConcern]
    digests: list[RecordDigest]
    story_exports: list[RecordStoryExport]
    audit: list[RecordAudit] = Field(description="Who read or changed the record, and when.")


def schema() -> dict:
    return {"$id": VERSION, **ElderRecord.model_json_schema()}


# --- building it ------------------------------------------------------------------------------

_NOTE_ELDER = (
    "Everything stored about you: every message, what 智安 knows and its history, reminders, "
    "concerns, digests and who read your record. Private memories included."
)
_NOTE_OTHERS = (
    "Everything stored about {name} that anyone but {name} may see: private memories, the "
    "words they came from and the companion's replies that used them stay in {name}'s own copy."
)


def _reader(scope: ElderScope) -> Literal["elder", "guardian", "admin"]:
    if scope.by_elder:
        return "elder"
    return "admin" if scope.actor.is_admin else "guardian"


def build_record(session: Session, scope: ElderScope) -> ElderRecord:
    """The elder's whole record as the caller may receive it (audited for anyone but the elder)."""
    elder = session.get(Elder, scope.elder_id)
    if elder is None:
        raise NotFound(f"No elder with id {scope.elder_id}.")
    elder_id = elder.id
    messages = list(
        session.exec(
            select(Message)
            .where(visibility.message_clause(scope))
            .order_by(Message.said_at, Message.id)  # type: ignore[arg-type]
        )
    )
    messages = visibility.withhold_messages(session, scope, messages)
    shown_messages = {m.id for m in messages}
    facts = list(
        session.exec(
            select(Memory)
            .where(visibility.memory_clause(scope), Memory.kind != MemoryKind.turn.value)
            .order_by(Memory.said_at, Memory.id)  # type: ignore[arg-type]
        )
    )
    facts = visibility.withhold_memories(session, scope, facts)
    events = _events_by_memory(session, elder_id)
    sources = _sources_by_memory(session, [f.id for f in facts if f.id is not None])
    stored_ids = set(
        session.exec(select(Memory.id).where(Memory.elder_id == elder_id))  # type: ignore[arg-type]
    )
    removed = [
        RecordRemovedFact(memory_id=memory_id, history=[_change(e) for e in history])
        for memory_id, history in sorted(events.items())
        if memory_id not in stored_ids
        and (visibility.shows_private(scope) or not visibility.last_known_private(history))
    ]
    record_access(session, scope, action="record.export", detail={"messages": len(messages)})
    return ElderRecord(
        generated_at=utcnow(),
        reader=_reader(scope),
        note=(_NOTE_ELDER if scope.by_elder else _NOTE_OTHERS.format(name=elder.display_name)),
        elder=RecordElder(
            id=elder_id,
            name=elder.display_name,
            preferred_name=elder.preferred_name,
            languages=list(elder.languages),
            timezone=elder.timezone,
            birthday=elder.birthday,
            quiet_hours=(elder.quiet_hours_start, elder.quiet_hours_end),
            greeting_time=elder.greeting_time,
            created_at=elder.created_at,
        ),
        people=[
            RecordPerson(
                id=a.id,
                role=a.role,
                name=a.display_name,
                relation=a.relation,
                guardian=a.is_guardian,
                created_at=a.created_at,
            )
            for a in _rows(session, Account, Account.elder_id == elder_id, Account.created_at)
        ],
        grants=[
            RecordGrant.model_validate(g, from_attributes=True)
            for g in _rows(session, Grant, Grant.elder_id == elder_id, Grant.created_at)
        ],
        messages=[RecordMessage.model_validate(m, from_attributes=True) for m in messages],
        facts=[
            RecordFact(
                **{k: getattr(f, k) for k in _FACT_FIELDS},
                source_message_ids=sorted(sources.get(f.id or 0, [])),
                history=[_change(e) for e in events.get(f.id or 0, [])],
            )
            for f in facts
        ],
        removed_facts=removed,
        profile=_profile(session, scope),
        day_summaries=_day_summaries(session, scope),
        reminders=_reminders(session, elder_id),
        day_notes=[
            RecordDayNote.model_validate(n, from_attributes=True)
            for n in _rows(session, DayNote, DayNote.elder_id == elder_id, DayNote.day)
        ],
        moods=[
            RecordMood.model_validate(s, from_attributes=True)
            for s in _rows(
                session, MessageSignal, MessageSignal.elder_id == elder_id, MessageSignal.said_at
            )
            if s.message_id in shown_messages
        ],
        concerns=[
            RecordConcern.model_validate(c, from_attributes=True)
            for c in without_private_words(
                session,
                scope,
                _rows(session, ConcernFlag, ConcernFlag.elder_id == elder_id, ConcernFlag.id),
            )
        ],
        digests=[
            RecordDigest.model_validate(d, from_attributes=True)
            for d in _rows(session, Digest, Digest.elder_id == elder_id, Digest.start)
        ],
        story_exports=[
            RecordStoryExport.model_validate(s, from_attributes=True)
            for s in _rows(
                session, StoryExportRun, StoryExportRun.elder_id == elder_id, StoryExportRun.id
            )
        ],
        audit=[
            RecordAudit.model_validate(a, from_attributes=True)
            for a in _rows(session, AuditEvent, AuditEvent.elder_id == elder_id, AuditEvent.id)
        ],
    )


_FACT_FIELDS = (
    "id",
    "kind",
    "text",
    "subject",
    "attribute",
    "value",
    "status",
    "private",
    "sensitive",
    "said_at",
    "event_time",
    "valid_to",
    "superseded_by",
    "deleted_at",
    "author_role",
)


def _rows(session: Session, model, clause, order) -> list:  # type: ignore[no-untyped-def]
    return list(session.exec(select(model).where(clause).order_by(order)))


def _change(event: MemoryEvent) -> RecordChange:
    return RecordChange.model_validate(event, from_attributes=True)


def _events_by_memory(session: Session, elder_id: str) -> dict[int, list[MemoryEvent]]:
    found: dict[int, list[MemoryEvent]] = defaultdict(list)
    for event in _rows(session, MemoryEvent, MemoryEvent.elder_id == elder_id, MemoryEvent.id):
        found[event.memory_id].append(event)
    return found


def _sources_by_memory(session: Session, memory_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    if not memory_ids:
        return found
    links = session.exec(
        select(MemorySource.memory_id, MemorySource.message_id).where(
            MemorySource.memory_id.in_(memory_ids)  # type: ignore[attr-defined]
        )
    )
    for memory_id, message_id in links:
        found[memory_id].append(message_id)
    return found


def _day_summaries(session: Session, scope: ElderScope) -> list[RecordDaySummary]:
    """The summaries this reader may see: none written from words that have since become
    private."""
    summaries = _rows(session, DaySummary, DaySummary.elder_id == scope.elder_id, DaySummary.day)
    hidden = visibility.withheld_message_ids(
        session, scope, {i for d in summaries for i in d.message_ids}
    )
    return [
        RecordDaySummary.model_validate(d, from_attributes=True)
        for d in summaries
        if not hidden.intersection(d.message_ids)
    ]


def _profile(session: Session, scope: ElderScope) -> dict | None:
    profile = session.get(Profile, scope.elder_id)
    if profile is None:
        return None
    if visibility.withheld_memory_ids(session, scope, profile.fact_ids):
        return None  # built from a memory this reader may not see
    return dict(profile.sections)


def _reminders(session: Session, elder_id: str) -> list[RecordReminder]:
    occurrences: dict[int, list[RecordOccurrence]] = defaultdict(list)
    for occurrence in _rows(
        session,
        ReminderOccurrence,
        ReminderOccurrence.elder_id == elder_id,
        sa.asc(ReminderOccurrence.due_at),
    ):
        occurrences[occurrence.reminder_id].append(
            RecordOccurrence.model_validate(occurrence, from_attributes=True)
        )
    return [
        RecordReminder(
            **{k: getattr(r, k) for k in _REMINDER_FIELDS}, occurrences=occurrences[r.id or 0]
        )
        for r in _rows(session, Reminder, Reminder.elder_id == elder_id, Reminder.id)
    ]


_REMINDER_FIELDS = (
    "id",
    "title",
    "kind",
    "rrule",
    "starts_at",
    "timezone",
    "notes",
    "paused",
    "created_at",
    "deleted_at",
)


# --- a page to read -----------------------------------------------------------------------------


def _when(moment: datetime | date | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.isoformat()


def render_html(record: ElderRecord) -> str:
    """The record as one page, in large type, every word escaped."""
    e = html.escape
    elder = record.elder
    lang = elder.languages[0] if elder.languages else "en"
    out = [
        f'<!doctype html><html lang="{e(lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(elder.name)}: {e(VERSION)}</title>",
        "<style>body{font:18px/1.5 system-ui,sans-serif;max-width:48em;margin:2em auto;"
        "padding:0 1em}h2{margin-top:2em}table{border-collapse:collapse;width:100%}"
        "td,th{border-bottom:1px solid #ccc;padding:.3em;text-align:left;vertical-align:top}"
        ".who{color:#555;white-space:nowrap}</style></head><body>",
        f"<h1>{e(elder.name)}</h1>",
        f"<p>{e(record.note)}</p>",
        f"<p class=who>{e(VERSION)} · {e(_when(record.generated_at))}</p>",
        "<h2>Profile</h2><ul>",
        f"<li>Preferred name: {e(elder.preferred_name or '')}</li>",
        f"<li>Languages: {e(', '.join(elder.languages))}</li>",
        f"<li>Timezone: {e(elder.timezone)}</li>",
        f"<li>Birthday: {e(_when(elder.birthday))}</li></ul>",
    ]
    if record.profile:
        out.append("<h2>This is me</h2><ul>")
        for section, items in record.profile.items():
            listed = "; ".join(str(i) for i in items) if isinstance(items, list) else str(items)
            out.append(f"<li><b>{e(section)}</b>: {e(listed)}</li>")
        out.append("</ul>")
    out.append("<h2>People</h2><ul>")
    for person in record.people:
        relation = f", {person.relation}" if person.relation else ""
        guardian = ", guardian" if person.guardian else ""
        out.append(f"<li>{e(person.name)} ({e(person.role)}{e(relation)}{guardian})</li>")
    out.append(f"</ul><h2>Conversation ({len(record.messages)} messages)</h2><table>")
    for m in record.messages:
        out.append(
            f"<tr><td class=who>{e(_when(m.said_at))}<br>{e(m.speaker or m.role)}</td>"
            f"<td>{e(m.text)}</td></tr>"
        )
    out.append(f"</table><h2>What 智安 knows ({len(record.facts)} facts)</h2><table>")
    for f in record.facts:
        marks = [f.kind, f.status or ""]
        marks += ["private"] if f.private else []
        marks += ["retired"] if f.valid_to else []
        marks += ["deleted"] if f.deleted_at else []
        changes = "; ".join(
            f"{c.action} {_when(c.at)} by {c.actor_name or c.actor_role or ''}" for c in f.history
        )
        out.append(
            f"<tr><td>{e(f.text)}<br><small class=who>{e(changes)}</small></td>"
            f"<td class=who>{e(' · '.join(m for m in marks if m))}</td></tr>"
        )
    out.append(f"</table><h2>Reminders ({len(record.reminders)})</h2><ul>")
    for r in record.reminders:
        done = sum(1 for o in r.occurrences if o.status == "done")
        out.append(
            f"<li>{e(r.title)} ({e(r.rrule or 'once')} from {e(r.starts_at)}): "
            f"{done} of {len(r.occurrences)} done</li>"
        )
    out.append(f"</ul><h2>Concerns ({len(record.concerns)})</h2><ul>")
    for c in record.concerns:
        out.append(f"<li>{e(_when(c.created_at))} {e(c.kind)} ({e(c.state)}): {e(c.summary)}</li>")
    out.append(f"</ul><h2>Day summaries ({len(record.day_summaries)})</h2><ul>")
    for d in record.day_summaries:
        out.append(f"<li>{e(_when(d.day))}: {e(d.text)}</li>")
    out.append(f"</ul><h2>Who read or changed this record ({len(record.audit)})</h2><table>")
    for a in record.audit:
        out.append(
            f"<tr><td class=who>{e(_when(a.at))}</td><td>{e(a.actor_name or '')}</td>"
            f"<td>{e(a.action)}</td></tr>"
        )
    out.append("</table></body></html>")
    return "".join(out)

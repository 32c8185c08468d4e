"""Reminders the family sets, the elder's "done", adherence, the calendar feed, the weather of
the elder's day, the family's webhooks and concern flags, and the elder page's live events."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Header, Path, Query, Request, status
from fastapi.responses import Response, StreamingResponse
from pydantic import AfterValidator, BaseModel, Field
from sqlmodel import Session, select

from api.deps import CurrentCaller, SessionDep, SettingsDep
from api.schemas import Day, Input, Timestamp, _storable
from companion.alerts import concerns
from companion.alerts import outbox as notify
from companion.reminders import schedule
from memory.access import authenticate, get_account, issue_token, record, resolve_scope
from memory.db import session_scope
from memory.errors import Forbidden, InvalidInput
from memory.models import (
    ConcernFlag,
    DayNote,
    Elder,
    Message,
    Permission,
    Reminder,
    ReminderKind,
    ReminderOccurrence,
    utcnow,
)
from memory.timeutil import to_utc

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["reminders"])

RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Kind = Literal[tuple(k.value for k in ReminderKind)]  # type: ignore[valid-type]
Title = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_storable)]
Notes = Annotated[str, Field(max_length=2000), AfterValidator(_storable)]
Zone = Annotated[str, Field(max_length=64), AfterValidator(_storable)]
Rule = Annotated[str, Field(max_length=500), AfterValidator(_storable)]


class ReminderCreate(Input):
    title: Title = Field(description="What to do, in the elder's language: 吃降血壓的藥.")
    kind: Kind = Field(description="medicine, appointment, routine or other.")
    starts_at: datetime = Field(
        description="The first time, as wall-clock time in the timezone (2026-11-26T08:00)."
    )
    repeat: Literal["once", "daily", "weekly", "rrule"] = "once"
    rrule: Rule | None = Field(
        default=None, description="With repeat=rrule: RFC 5545, e.g. FREQ=WEEKLY;BYDAY=MO,TH."
    )
    timezone: Zone | None = Field(default=None, description="IANA name; default: the elder's.")
    ack_window_minutes: int = Field(
        default=60,
        ge=5,
        le=24 * 60,
        description="How long 智安 waits for 'done' (one follow-up half way) before it is "
        "missed and the family is told.",
    )
    notes: Notes | None = None


class ReminderUpdate(Input):
    title: Title | None = None
    kind: Kind | None = None
    starts_at: datetime | None = None
    repeat: Literal["once", "daily", "weekly", "rrule"] | None = None
    rrule: Rule | None = None
    timezone: Zone | None = None
    ack_window_minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    notes: Notes | None = None
    paused: bool | None = Field(default=None, description="Paused: nothing is said until resumed.")


class ReminderPublic(BaseModel):
    id: int
    title: str
    kind: str
    starts_at: str = Field(description="Wall-clock time of the first occurrence, in `timezone`.")
    rrule: str | None
    timezone: str
    ack_window_minutes: int
    notes: str | None
    paused: bool
    next_due_at: datetime | None
    created_at: datetime


class OccurrencePublic(BaseModel):
    id: int
    reminder_id: int
    due_at: datetime
    status: str = Field(description="delivered (waiting for done), done or missed")
    delivered_at: datetime | None
    late: bool
    followed_up_at: datetime | None
    done_at: datetime | None
    done_by: str | None
    missed_reason: str | None


class TallyPublic(BaseModel):
    due: int
    done: int
    late: int
    missed: int
    waiting: int
    rate: float | None = Field(description="done / (done + missed); null when none decided yet")


class ReminderAdherence(TallyPublic):
    reminder_id: int
    title: str
    kind: str


class AdherencePublic(BaseModel):
    since: datetime
    until: datetime
    total: TallyPublic
    by_kind: dict[str, TallyPublic]
    reminders: list[ReminderAdherence]


class CalendarLink(BaseModel):
    url: str
    token_prefix: str


class WeatherBody(Input):
    weather: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_storable)]


class WebhookCreate(Input):
    url: Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_storable)]
    events: list[Literal[notify.EVENTS]] | None = Field(  # type: ignore[valid-type]
        default=None, description=f"Default: all of {', '.join(notify.EVENTS)}."
    )


class WebhookPublic(BaseModel):
    id: int
    url: str
    events: list[str]
    created_at: datetime
    secret: str | None = Field(
        default=None, description="Shown once, when made: verify X-Zhian-Signature with it."
    )


class ConcernPublic(BaseModel):
    id: int
    kind: str
    severity: str
    state: str
    summary: str
    message_id: int | None
    occurrence_id: int | None
    created_at: datetime
    seen_by: str | None
    resolved_by: str | None


def _public(reminder: Reminder) -> ReminderPublic:
    return ReminderPublic.model_validate(reminder, from_attributes=True)


def _occurrence(o: ReminderOccurrence) -> OccurrencePublic:
    return OccurrencePublic.model_validate(o, from_attributes=True)


def _tally(t: schedule.Tally) -> dict:
    return {
        "due": t.due,
        "done": t.done,
        "late": t.late,
        "missed": t.missed,
        "waiting": t.waiting,
        "rate": t.rate,
    }


def _period(
    since: datetime | None, until: datetime | None, timezone: str
) -> tuple[datetime, datetime]:
    end = to_utc(until, timezone) if until else utcnow()
    start = to_utc(since, timezone) if since else end - timedelta(days=30)
    return start, end


# --- reminders -------------------------------------------------------------------------------


@router.post("/reminders", status_code=status.HTTP_201_CREATED, response_model=ReminderPublic)
def create_reminder(
    elder_id: str, body: ReminderCreate, caller: CurrentCaller, session: SessionDep
) -> ReminderPublic:
    """Schedule a reminder (family with `reminders:write`, the guardian, the elder). 智安 says
    it in the elder's chat at each time, in the elder's language."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    draft = schedule.ReminderDraft(**body.model_dump())
    return _public(schedule.create_reminder(session, scope, draft))


@router.get("/reminders", response_model=list[ReminderPublic])
def list_reminders(
    elder_id: str, caller: CurrentCaller, session: SessionDep
) -> list[ReminderPublic]:
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_read)
    return [_public(r) for r in schedule.list_reminders(session, scope)]


@router.get("/reminders/adherence", response_model=AdherencePublic)
def adherence(
    elder_id: str,
    caller: CurrentCaller,
    session: SessionDep,
    since: Annotated[
        Timestamp | None, Query(description="Default: 30 days before 'until'.")
    ] = None,
    until: Annotated[Timestamp | None, Query(description="Default: now.")] = None,
) -> AdherencePublic:
    """Per reminder and per kind: due, done, late (done after the follow-up, or said late),
    missed, and the rate."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_read)
    start, end = _period(since, until, scope.elder_timezone)
    result = schedule.adherence(session, scope, since=start, until=end)
    return AdherencePublic(
        since=start,
        until=end,
        total=TallyPublic(**_tally(result.total)),
        by_kind={k: TallyPublic(**_tally(t)) for k, t in result.by_kind.items()},
        reminders=[
            ReminderAdherence(reminder_id=r.id, title=r.title, kind=r.kind, **_tally(t))  # type: ignore[arg-type]
            for r, t in result.by_reminder.values()
        ],
    )


@router.get("/reminders/open", response_model=list[OccurrencePublic])
def open_reminders(
    elder_id: str, caller: CurrentCaller, session: SessionDep
) -> list[OccurrencePublic]:
    """What has been said and waits for "done" (the elder's page shows a button for each)."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_read)
    return [_occurrence(o) for o, _ in schedule.open_occurrences(session, scope.elder_id)]


@router.post("/reminders/occurrences/{occurrence_id}:done", response_model=OccurrencePublic)
def occurrence_done(
    elder_id: str, occurrence_id: RowId, caller: CurrentCaller, session: SessionDep
) -> OccurrencePublic:
    """The elder taps "done", or a family member records it (`reminders:write`)."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    return _occurrence(schedule.done_by_caller(session, scope, occurrence_id))


@router.post("/reminders/calendar-link", response_model=CalendarLink, status_code=201)
def calendar_link(
    elder_id: str, caller: CurrentCaller, session: SessionDep, request: Request
) -> CalendarLink:
    """A link to the elder's reminders for a family calendar (Google, Apple, Outlook), for
    `reminders:write` (it issues a token). The token in it opens this feed only; revoke it like
    any token."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    if caller.is_admin:
        raise Forbidden("Calendar links are for the elder and their family; use a family account.")
    issued = issue_token(
        session,
        get_account(session, caller.account_id),
        label=f"calendar feed for {scope.elder_id}",
        issued_by=caller,
        purpose="calendar",
    )
    base = request.app.state.settings.public_url or str(request.base_url).rstrip("/")
    return CalendarLink(
        url=f"{base.rstrip('/')}/v1/elders/{elder_id}/reminders.ics?token={issued.secret}",
        token_prefix=issued.token.prefix,
    )


@router.get(
    "/reminders.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def calendar_feed(
    elder_id: str,
    session: SessionDep,
    token: Annotated[str, Query(description="The token from the calendar link.")],
) -> Response:
    """The elder's reminders as iCalendar, for the link a family calendar subscribes to."""
    caller = authenticate(session, token, purpose="calendar")
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_read)
    elder = session.get(Elder, scope.elder_id)
    assert elder is not None
    body = schedule.calendar(elder, schedule.list_reminders(session, scope))
    record(session, actor=caller, action="reminders.calendar.read", elder_id=elder_id, detail={})
    return Response(content=body, media_type="text/calendar; charset=utf-8")


@router.get("/reminders/{reminder_id:int}", response_model=ReminderPublic)
def get_reminder(
    elder_id: str, reminder_id: RowId, caller: CurrentCaller, session: SessionDep
) -> ReminderPublic:
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_read)
    return _public(schedule.get_reminder(session, scope, reminder_id))


@router.patch("/reminders/{reminder_id:int}", response_model=ReminderPublic)
def update_reminder(
    elder_id: str,
    reminder_id: RowId,
    body: ReminderUpdate,
    caller: CurrentCaller,
    session: SessionDep,
) -> ReminderPublic:
    """Change, pause (paused: true) or resume a reminder; the next time is worked out again."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    reminder = schedule.get_reminder(session, scope, reminder_id)
    changes = body.model_dump(exclude_unset=True)
    paused = changes.pop("paused", None)
    if not changes:  # pause or resume only: the schedule stays as it is
        if paused is not None:
            schedule.set_paused(session, scope, reminder, paused)
        return _public(reminder)
    for required in ("title", "kind", "starts_at", "repeat", "ack_window_minutes"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"'{required}' cannot be emptied; leave it out to keep it.")
    draft = schedule.draft_of(reminder)
    if (
        "repeat" in changes
        and changes["repeat"] in ("once", "daily", "weekly")
        and "rrule" not in changes
    ):
        draft.rrule = None
    for key, value in changes.items():
        setattr(draft, key, value)
    return _public(schedule.update_reminder(session, scope, reminder, draft, paused=paused))


@router.delete("/reminders/{reminder_id:int}", status_code=status.HTTP_204_NO_CONTENT)
def delete_reminder(
    elder_id: str, reminder_id: RowId, caller: CurrentCaller, session: SessionDep
) -> None:
    """Stop a reminder; what already happened stays in adherence."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    schedule.delete_reminder(session, scope, schedule.get_reminder(session, scope, reminder_id))


@router.get("/reminders/{reminder_id}/occurrences", response_model=list[OccurrencePublic])
def occurrences(
    elder_id: str,
    reminder_id: RowId,
    caller: CurrentCaller,
    session: SessionDep,
    since: Timestamp | None = None,
    until: Timestamp | None = None,
) -> list[OccurrencePublic]:
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_read)
    schedule.get_reminder(session, scope, reminder_id)
    start, end = _period(since, until, scope.elder_timezone)
    return [
        _occurrence(o)
        for o in schedule.list_occurrences(
            session, scope, since=start, until=end, reminder_id=reminder_id
        )
    ]


# --- the elder's day -------------------------------------------------------------------------


@router.put("/days/{day}/weather", status_code=status.HTTP_204_NO_CONTENT)
def set_weather(
    elder_id: str, day: Day, body: WeatherBody, caller: CurrentCaller, session: SessionDep
) -> None:
    """The weather of the elder's day, as the family sets it: the morning greeting says it."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    note = session.exec(
        select(DayNote).where(DayNote.elder_id == scope.elder_id, DayNote.day == day)
    ).first()
    note = note or DayNote(elder_id=scope.elder_id, day=day)
    note.weather, note.set_by = body.weather, caller.account_id
    session.add(note)
    record(
        session,
        actor=caller,
        action="day.weather",
        elder_id=elder_id,
        detail={"day": day.isoformat()},
    )


# --- webhooks and concerns -------------------------------------------------------------------


def _webhook(w, secret: bool = False) -> WebhookPublic:  # type: ignore[no-untyped-def]
    return WebhookPublic(
        id=w.id,
        url=w.url,
        events=w.events,
        created_at=w.created_at,
        secret=w.secret if secret else None,
    )


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, response_model=WebhookPublic)
def add_webhook(
    elder_id: str,
    body: WebhookCreate,
    caller: CurrentCaller,
    session: SessionDep,
    settings: SettingsDep,
) -> WebhookPublic:
    """Send events about the elder (a missed reminder, a concern) to a family integration,
    signed (X-Zhian-Signature) and retried with backoff until it answers 2xx. Only public
    addresses, unless the operator allows private ones (ZHIAN_WEBHOOK_ALLOW_PRIVATE)."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    webhook = notify.add_webhook(
        session, scope, body.url, body.events, allow_private=settings.webhook_allow_private
    )
    return _webhook(webhook, secret=True)


@router.get("/webhooks", response_model=list[WebhookPublic])
def list_webhooks(elder_id: str, caller: CurrentCaller, session: SessionDep) -> list[WebhookPublic]:
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_read)
    return [_webhook(w) for w in notify.list_webhooks(session, scope)]


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_webhook(
    elder_id: str, webhook_id: RowId, caller: CurrentCaller, session: SessionDep
) -> None:
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    notify.remove_webhook(session, scope, webhook_id)


def _concern(flag: ConcernFlag) -> ConcernPublic:
    return ConcernPublic.model_validate(flag, from_attributes=True)


@router.get("/concerns", response_model=list[ConcernPublic])
def list_concerns(
    elder_id: str,
    caller: CurrentCaller,
    session: SessionDep,
    state: Literal["open", "seen", "resolved"] | None = None,
) -> list[ConcernPublic]:
    """Concern flags, newest first (family with `digests:read`)."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.digests_read)
    return [_concern(f) for f in concerns.list_flags(session, scope, state=state)]


@router.post("/concerns/{flag_id}:{action}", response_model=ConcernPublic)
def change_concern(
    elder_id: str,
    flag_id: RowId,
    action: Literal["seen", "resolve"],
    caller: CurrentCaller,
    session: SessionDep,
) -> ConcernPublic:
    """Mark a concern seen, or resolved (with who did it): `reminders:write`, the permission to
    act on the elder's care (reminders done, alerts), since `digests:read` only reads."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    state = "resolved" if action == "resolve" else "seen"
    return _concern(concerns.set_state(session, scope, flag_id, state))


# --- live events for the elder's page --------------------------------------------------------


def _said_since(engine, elder_id: str, after_id: int) -> list[dict]:  # type: ignore[no-untyped-def]
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


@router.get("/events", response_class=StreamingResponse)
async def events(
    elder_id: str,
    caller: CurrentCaller,
    request: Request,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[int | None, Query(ge=0, description="Only messages after this id.")] = None,
    wait: Annotated[
        float, Query(ge=1, le=600, description="Seconds to hold the stream open.")
    ] = 300,
) -> StreamingResponse:
    """What 智安 says on its own (reminders, greetings), pushed to the elder's open page as
    server-sent events: `event: message`, `id:` the message id. Reconnect with
    Last-Event-ID (or ?after=) to miss nothing."""
    engine = request.app.state.engine
    with session_scope(engine) as session:
        scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_read)
        if not scope.by_elder:
            raise Forbidden("Only the elder's own page listens to the companion's messages.")
        start = last_event_id if last_event_id is not None else after
        if start is None:  # a page just opened: from now, and any reminder still waiting
            latest = session.exec(
                select(sa.func.max(Message.id)).where(Message.elder_id == elder_id)
            ).one()
            waiting = session.exec(
                select(sa.func.min(ReminderOccurrence.delivery_message_id)).where(
                    ReminderOccurrence.elder_id == elder_id,
                    ReminderOccurrence.status == "delivered",
                )
            ).one()
            start = min(latest or 0, waiting - 1 if waiting else latest or 0)

    async def stream():  # type: ignore[no-untyped-def]
        seen = start
        deadline = asyncio.get_running_loop().time() + wait
        yield ": connected\nretry: 3000\n\n"
        while asyncio.get_running_loop().time() < deadline:
            if await request.is_disconnected():
                return
            for data in await asyncio.to_thread(_said_since, engine, elder_id, seen):
                seen = data["id"]
                yield f"id: {seen}\nevent: message\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            await asyncio.sleep(1.0)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )

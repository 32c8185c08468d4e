"""Reminders the family sets, the elder's "done", adherence and the calendar feed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import Response

from api.deps import CurrentCaller, SessionDep
from api.schemas import (
    AdherencePublic,
    CalendarLink,
    OccurrencePublic,
    ReminderAdherence,
    ReminderCreate,
    ReminderPublic,
    ReminderUpdate,
    TallyPublic,
    Timestamp,
)
from companion.reminders import schedule
from memory.access import authenticate, get_account, issue_token, record, resolve_scope
from memory.errors import Forbidden, InvalidInput
from memory.models import (
    Elder,
    Permission,
    Reminder,
    ReminderOccurrence,
    utcnow,
)
from memory.timeutil import to_utc

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["reminders"])

RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


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

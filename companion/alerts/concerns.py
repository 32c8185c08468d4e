"""Concern flags: what the family should look at (a missed medicine, a fall...), each with its
severity, its source and a state (open, seen, resolved by whom)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from companion.alerts.outbox import notify_family
from memory import visibility
from memory.access import ElderScope, record, record_access
from memory.errors import InvalidInput, NotFound
from memory.models import ConcernFlag, ConcernState, utcnow

SEVERITIES = ("info", "warning", "urgent")
STATES = tuple(ConcernState)


def raise_flag(
    session: Session,
    elder_id: str,
    *,
    kind: str,
    severity: str,
    summary: str,
    message_id: int | None = None,
    occurrence_id: int | None = None,
    email: bool = False,
    not_before: datetime | None = None,
) -> ConcernFlag:
    """Open a flag and tell the family (webhook; e-mail when set up), at once or, for what is
    not urgent, from `not_before` (the end of the elder's quiet hours)."""
    assert severity in SEVERITIES
    flag = ConcernFlag(
        elder_id=elder_id,
        kind=kind,
        severity=severity,
        summary=summary,
        message_id=message_id,
        occurrence_id=occurrence_id,
    )
    session.add(flag)
    session.flush()
    notify_family(
        session,
        elder_id,
        "concern.raised",
        {
            "concern": {
                "id": flag.id,
                "kind": kind,
                "severity": severity,
                "summary": summary,
                "message_id": message_id,
                "occurrence_id": occurrence_id,
            },
            "subject": f"智安: {summary}",
            "text": summary,
        },
        email=email,
        not_before=None if severity == "urgent" else not_before,
    )
    return flag


# Not urgent, and one of the same kind open within this time: the family has it already.
REPEAT_WINDOW = timedelta(hours=12)


def open_recently(session: Session, elder_id: str, kind: str, now: datetime) -> bool:
    return (
        session.exec(
            select(ConcernFlag.id).where(
                ConcernFlag.elder_id == elder_id,
                ConcernFlag.kind == kind,
                ConcernFlag.state != ConcernState.resolved.value,
                ConcernFlag.created_at >= now - REPEAT_WINDOW,  # type: ignore[operator]
            )
        ).first()
        is not None
    )


def list_flags(
    session: Session, scope: ElderScope, *, state: str | None = None
) -> list[ConcernFlag]:
    query = select(ConcernFlag).where(ConcernFlag.elder_id == scope.elder_id)
    if state is not None:
        if state not in STATES:
            raise InvalidInput(f"state '{state}' is not one of: {', '.join(STATES)}.")
        query = query.where(ConcernFlag.state == state)
    flags = without_private_words(
        session, scope, list(session.exec(query.order_by(sa.desc(ConcernFlag.id))))
    )
    record_access(session, scope, action="concerns.read", detail={"count": len(flags)})
    return flags


def without_private_words(
    session: Session, scope: ElderScope, flags: list[ConcernFlag]
) -> list[ConcernFlag]:
    """The flags as this caller may read them: a flag raised on words that are now private
    still says what the concern is, but no longer quotes them (detached copies, never saved)."""
    hidden = visibility.withheld_message_ids(
        session, scope, [f.message_id for f in flags if f.message_id is not None]
    )
    return [
        ConcernFlag.model_validate(
            {
                **f.model_dump(),
                "summary": _WORDS.split(f.summary, maxsplit=1)[0],
                "message_id": None,
            }
        )
        if f.message_id in hidden
        else f
        for f in flags
    ]


# A summary is "<what>: "<the elder's words>"" (prompts/*/replies.toml concern_summary).
_WORDS = re.compile(r"[:：]\s*[\"“「]")


def set_state(
    session: Session, scope: ElderScope, flag_id: int, state: ConcernState
) -> ConcernFlag:
    flag = session.get(ConcernFlag, flag_id)
    if flag is None or flag.elder_id != scope.elder_id:
        raise NotFound(f"No concern {flag_id} for this elder.")
    now, who = utcnow(), scope.actor.display_name
    if state == ConcernState.seen and flag.state == ConcernState.open:
        flag.state, flag.seen_at, flag.seen_by = ConcernState.seen.value, now, who
    elif state == ConcernState.resolved and flag.state != ConcernState.resolved:
        flag.state, flag.resolved_at, flag.resolved_by = ConcernState.resolved.value, now, who
        flag.seen_at, flag.seen_by = flag.seen_at or now, flag.seen_by or who
    session.add(flag)
    record(
        session,
        actor=scope.actor,
        action=f"concern.{state}",
        elder_id=scope.elder_id,
        detail={"concern_id": flag_id},
    )
    [shown] = without_private_words(session, scope, [flag])  # as the caller may read it
    return shown

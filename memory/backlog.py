"""What is waiting, for an operator's metrics: memories not yet indexed, messages not yet read
for facts, alerts not yet sent, and how the scheduler keeps time. Counts only, never words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from memory.models import Memory, Message, Notification, ReminderOccurrence, SchedulerLease

RECENT = timedelta(hours=1)


@dataclass(frozen=True)
class Backlog:
    index_pending: int
    extraction_pending: int
    notifications_waiting: int  # not sent yet, still being tried
    notifications_failing: int  # of those, tried and failed at least once
    notifications_given_up: int
    reminder_delay_seconds: float  # the latest a reminder was said in the last hour
    scheduler_lease_seconds_left: float | None  # None: no scheduler has ever run


def _count(session: Session, *where: sa.ColumnElement[bool], of: type) -> int:
    return session.exec(select(sa.func.count()).select_from(of).where(*where)).one()


def read_backlog(session: Session, now: datetime) -> Backlog:
    waiting = (Notification.delivered_at.is_(None), Notification.gave_up_at.is_(None))  # type: ignore[union-attr]
    delays = session.exec(
        select(ReminderOccurrence.due_at, ReminderOccurrence.delivered_at).where(
            ReminderOccurrence.delivered_at >= now - RECENT  # type: ignore[operator]
        )
    ).all()
    worst = max(
        ((said - due).total_seconds() for due, said in delays if said is not None), default=0.0
    )
    leases = session.exec(select(SchedulerLease.expires_at)).all()
    return Backlog(
        index_pending=_count(session, Memory.index_pending == sa.true(), of=Memory),
        extraction_pending=_count(session, Message.extraction_pending == sa.true(), of=Message),
        notifications_waiting=_count(session, *waiting, of=Notification),
        notifications_failing=_count(session, *waiting, Notification.attempts > 0, of=Notification),
        notifications_given_up=_count(
            session,
            Notification.gave_up_at.is_not(None),  # type: ignore[union-attr]
            of=Notification,
        ),
        reminder_delay_seconds=max(worst, 0.0),
        scheduler_lease_seconds_left=(
            max((e - now).total_seconds() for e in leases) if leases else None
        ),
    )

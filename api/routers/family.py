"""The family's window: digests (a day or a week), mood over time, and the dashboard's
summary of how the elder is doing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import select

from api.deps import CurrentCaller, SessionDep
from api.schemas import Day
from companion.digest import build_digest, period_start
from memory.access import get_account, record_access, resolve_scope
from memory.models import Digest, Elder, Message, MessageRole, MessageSignal, Permission, utcnow
from memory.timeutil import zone

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["family"])


class DigestPublic(BaseModel):
    period: str
    start: date
    language: str
    written_by: str = Field(description="model (the language model, citing) or extract")
    built_at: datetime
    sections: dict = Field(
        description="summary, joys, worries (each line with message_ids), concerns, reminders, "
        "to_review, moods (per day), messages, last_said_at"
    )


class MoodDay(BaseModel):
    day: date
    moods: dict[str, int]


@router.get("/digests", response_model=DigestPublic)
def digest(
    elder_id: str,
    caller: CurrentCaller,
    session: SessionDep,
    period: Literal["day", "week"] = "week",
    day: Annotated[
        Day | None, Query(alias="date", description="Any day in it; default today")
    ] = None,
    language: Literal["zh-Hant", "zh-Hans", "en"] | None = None,
) -> DigestPublic:
    """The digest of a day or a week (`digests:read`): what the elder talked about, moments of
    joy and worry, concerns, reminders done and missed, facts awaiting review; each line links
    to the elder's own words. In your language (or `language`). The nightly job writes it;
    asked for before, it is made now from the elder's words."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.digests_read)
    elder = session.get(Elder, elder_id)
    assert elder is not None
    today = utcnow().astimezone(zone(elder.timezone)).date()
    start = period_start(day or today, period)
    account = get_account(session, caller.account_id) if not caller.is_admin else None
    chosen = language or (account.language if account and account.language else elder.language)
    stored = session.exec(
        select(Digest).where(
            Digest.elder_id == elder_id,
            Digest.period == period,
            Digest.start == start,
            Digest.language == chosen,
        )
    ).first()
    period_end = start + timedelta(days=7 if period == "week" else 1)
    if stored is None or (
        today < period_end and stored.built_at < utcnow() - timedelta(minutes=10)
    ):
        stored = build_digest(session, scope, period, start, chosen, None)
    record_access(
        session, scope, action="digest.read", detail={"period": period, "start": start.isoformat()}
    )
    return DigestPublic.model_validate(stored, from_attributes=True)


@router.get("/moods", response_model=list[MoodDay])
def moods(
    elder_id: str,
    caller: CurrentCaller,
    session: SessionDep,
    days: Annotated[int, Query(ge=1, le=366)] = 14,
) -> list[MoodDay]:
    """How the elder seemed, per day: how many of their messages had each mood (`digests:read`)."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.digests_read)
    tz = zone(scope.elder_timezone)
    since = utcnow() - timedelta(days=days)
    by_day: dict[date, dict[str, int]] = {}
    for said_at, mood in session.exec(
        select(MessageSignal.said_at, MessageSignal.mood).where(
            MessageSignal.elder_id == elder_id,
            MessageSignal.said_at >= since,  # type: ignore[operator]
        )
    ):
        day = said_at.astimezone(tz).date()
        by_day.setdefault(day, {})
        by_day[day][mood] = by_day[day].get(mood, 0) + 1
    record_access(session, scope, action="moods.read", detail={"days": days})
    return [MoodDay(day=d, moods=m) for d, m in sorted(by_day.items())]


class LastWords(BaseModel):
    last_said_at: datetime | None


@router.get("/last-conversation", response_model=LastWords)
def last_conversation(elder_id: str, caller: CurrentCaller, session: SessionDep) -> LastWords:
    """When the elder last said something (`digests:read`)."""
    resolve_scope(session, caller, elder_id, permission=Permission.digests_read)
    last = session.exec(
        select(sa.func.max(Message.said_at)).where(
            Message.elder_id == elder_id, Message.role == MessageRole.elder.value
        )
    ).one()
    return LastWords(last_said_at=last)

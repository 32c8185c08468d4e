"""The family's window: digests (a day or a week), mood over time, and the dashboard's
summary of how the elder is doing."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import CurrentCaller, SessionDep
from api.schemas import Day, DigestPublic, LastWords, MoodDay
from companion.digest import digest_for, last_said_at, moods_by_day
from memory.access import get_account, record_access, resolve_scope
from memory.models import Permission

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["family"])


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
    account = get_account(session, caller.account_id) if not caller.is_admin else None
    chosen = language or (account.language if account and account.language else None)
    stored = digest_for(
        session, scope, period=period, day=day, language=chosen or scope.elder_language
    )
    start = stored.start
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
    by_day = moods_by_day(session, scope, days=days)
    record_access(session, scope, action="moods.read", detail={"days": days})
    return [MoodDay(day=d, moods=m) for d, m in by_day.items()]


@router.get("/last-conversation", response_model=LastWords)
def last_conversation(elder_id: str, caller: CurrentCaller, session: SessionDep) -> LastWords:
    """When the elder last said something (`digests:read`)."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.digests_read)
    return LastWords(last_said_at=last_said_at(session, scope))

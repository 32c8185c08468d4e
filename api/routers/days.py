"""The elder's day as the family describes it: the weather the morning greeting says."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import CurrentCaller, SessionDep
from api.schemas import Day, WeatherBody
from companion import proactive
from memory.access import record, resolve_scope
from memory.models import Permission

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["reminders"])


@router.put("/days/{day}/weather", status_code=status.HTTP_204_NO_CONTENT)
def set_weather(
    elder_id: str, day: Day, body: WeatherBody, caller: CurrentCaller, session: SessionDep
) -> None:
    """The weather of the elder's day, as the family sets it: the morning greeting says it."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    proactive.set_weather(session, scope, day, body.weather, set_by=caller.account_id)
    record(
        session,
        actor=caller,
        action="day.weather",
        elder_id=elder_id,
        detail={"day": day.isoformat()},
    )

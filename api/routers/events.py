"""Live events for the elder's page: what 智安 says on its own, as server-sent events."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import CurrentCaller
from companion import proactive
from memory.access import resolve_scope
from memory.db import session_scope
from memory.errors import Forbidden
from memory.models import Permission

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["chat"])


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
            start = proactive.live_start(session, elder_id)

    async def stream():  # type: ignore[no-untyped-def]
        seen = start
        deadline = asyncio.get_running_loop().time() + wait
        yield ": connected\nretry: 3000\n\n"
        while asyncio.get_running_loop().time() < deadline:
            if await request.is_disconnected():
                return
            for data in await asyncio.to_thread(proactive.said_since, engine, elder_id, seen):
                seen = data["id"]
                yield f"id: {seen}\nevent: message\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            await asyncio.sleep(1.0)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )

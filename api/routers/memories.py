"""Memories: what the companion can recall, how to find it, and how much the index holds."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request

from api.deps import CurrentCaller, SessionDep
from api.schemas import (
    IndexStatusPublic,
    MemoryHitPublic,
    MemorySearch,
    PeriodPublic,
    SearchPublic,
    SourcePublic,
)
from memory import store
from memory.access import record_access, resolve_scope
from memory.models import Permission
from memory.search import Query, search
from memory.timeutil import to_utc

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["memories"])


@router.get("/index-status", response_model=IndexStatusPublic)
def index_status(elder_id: str, caller: CurrentCaller, session: SessionDep) -> IndexStatusPublic:
    """How many of the elder's memories wait to enter the search index, and how many are in it."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_read)
    status = store.index_status(session, scope)
    return IndexStatusPublic(pending=status.pending, indexed=status.indexed)


@router.post("/memories:search", response_model=SearchPublic)
def search_memories(
    elder_id: str, body: MemorySearch, caller: CurrentCaller, session: SessionDep, request: Request
) -> SearchPublic:
    """Recall the elder's memories that best answer a question, by words and by meaning, with
    time words read in the elder's timezone. Private memories only reach the elder."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_read)

    def utc(value: datetime | None) -> datetime | None:
        return None if value is None else to_utc(value, scope.elder_timezone)

    result = search(
        session,
        scope,
        request.app.state.vector_index,
        Query(
            text=body.query,
            k=body.k,
            as_of=utc(body.as_of),
            since=utc(body.since),
            until=utc(body.until),
            kinds=[k.value for k in body.kinds] if body.kinds else None,
        ),
    )
    record_access(session, scope, action="memories.search", detail={"results": len(result.hits)})
    return SearchPublic(
        results=[
            MemoryHitPublic(
                id=h.memory.id,
                text=h.memory.text,
                kind=h.memory.kind,
                score=h.score,
                said_at=h.memory.said_at,
                event_time=h.memory.event_time,
                speaker=h.memory.speaker,
                role=h.memory.role,
                language=h.memory.language,
                sources=[SourcePublic(message_id=m, external_id=e) for m, e in h.sources],
            )
            for h in result.hits
        ],
        degraded=result.degraded,
        period=(
            PeriodPublic(
                words=result.period_words or "", start=result.period.start, end=result.period.end
            )
            if result.period and result.period.start and result.period.end
            else None
        ),
    )

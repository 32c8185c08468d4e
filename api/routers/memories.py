"""Memories: what the companion can recall, how to find it, and how much the index holds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator

from api.deps import CurrentCaller, SessionDep
from api.schemas import Input, Timestamp
from memory import store
from memory.access import record_access, resolve_scope
from memory.models import MemoryKind, Permission
from memory.search import MAX_K, Query, search
from memory.timeutil import to_utc

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["memories"])


class IndexStatusPublic(BaseModel):
    pending: int = Field(description="Memories stored but not yet in the vector index.")
    indexed: int


class MemorySearch(Input):
    query: Annotated[str, Field(max_length=2000)] = Field(
        description="What to recall, in the elder's words or yours; time words such as "
        "'last week' or '去年春節' narrow it to that period."
    )
    k: int = Field(default=10, description=f"How many memories to return (1 to {MAX_K}).")
    as_of: Timestamp | None = Field(
        default=None,
        description="The moment the question is asked from (default: now); time words are "
        "read from it and nothing said after it is returned. Without offset: elder's timezone.",
    )
    since: Timestamp | None = Field(default=None, description="Only what was said from then on.")
    until: Timestamp | None = Field(default=None, description="Only what was said before then.")
    kinds: list[MemoryKind] | None = Field(default=None, max_length=len(MemoryKind))

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("The query is empty: say what to look for.")
        if "\x00" in value:
            raise ValueError("The query contains a NUL character.")
        return value

    @field_validator("k")
    @classmethod
    def _k_in_range(cls, value: int) -> int:
        if not 1 <= value <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}; ask for at most {MAX_K} memories.")
        return value


class SourcePublic(BaseModel):
    message_id: int
    external_id: str | None


class MemoryHitPublic(BaseModel):
    id: int
    text: str
    kind: str
    score: float = Field(description="Fused relevance, 0 to about 1.5; higher is better.")
    said_at: datetime
    event_time: datetime | None
    speaker: str | None
    role: str | None
    language: str | None
    sources: list[SourcePublic]


class PeriodPublic(BaseModel):
    words: str
    start: datetime
    end: datetime


class SearchPublic(BaseModel):
    results: list[MemoryHitPublic]
    degraded: bool = Field(
        description="True when the vector index could not be reached and only words matched."
    )
    period: PeriodPublic | None = Field(
        default=None, description="The period the query's time words were read as."
    )


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

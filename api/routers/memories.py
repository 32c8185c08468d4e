"""Memories: what the companion can recall, and how much of it the search index holds."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentCaller, SessionDep
from memory import store
from memory.access import resolve_scope
from memory.models import Permission

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["memories"])


class IndexStatusPublic(BaseModel):
    pending: int
    indexed: int


@router.get("/index-status", response_model=IndexStatusPublic)
def index_status(elder_id: str, caller: CurrentCaller, session: SessionDep) -> IndexStatusPublic:
    """How many of the elder's memories wait to enter the search index, and how many are in it."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.memories_read)
    status = store.index_status(session, scope)
    return IndexStatusPublic(pending=status.pending, indexed=status.indexed)

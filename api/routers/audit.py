"""The audit log: every access to an elder's data by someone other than the elder."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentCaller, SessionDep
from api.schemas import AuditEventPublic, AuditPage
from memory.access import list_audit, resolve_scope

router = APIRouter(prefix="/v1/elders/{elder_id}/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
def read_audit(
    elder_id: str,
    caller: CurrentCaller,
    session: SessionDep,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Newest first (the elder, their guardian or an administrator)."""
    scope = resolve_scope(session, caller, elder_id, manage=True)
    events = list_audit(session, scope, limit=limit + 1, before_id=before)
    items = events[:limit]
    return AuditPage(
        items=[AuditEventPublic.model_validate(e, from_attributes=True) for e in items],
        next=items[-1].id if len(events) > limit else None,
    )

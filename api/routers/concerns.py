"""Concern flags: what the family is told to look at, and who has seen or resolved it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path

from api.deps import CurrentCaller, SessionDep
from api.schemas import ConcernPublic
from companion.alerts import concerns
from memory.access import resolve_scope
from memory.models import ConcernFlag, ConcernState, Permission

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["family"])

RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _concern(flag: ConcernFlag) -> ConcernPublic:
    return ConcernPublic.model_validate(flag, from_attributes=True)


@router.get("/concerns", response_model=list[ConcernPublic])
def list_concerns(
    elder_id: str,
    caller: CurrentCaller,
    session: SessionDep,
    state: Literal["open", "seen", "resolved"] | None = None,
) -> list[ConcernPublic]:
    """Concern flags, newest first (family with `digests:read`)."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.digests_read)
    return [_concern(f) for f in concerns.list_flags(session, scope, state=state)]


@router.post("/concerns/{flag_id}:{action}", response_model=ConcernPublic)
def change_concern(
    elder_id: str,
    flag_id: RowId,
    action: Literal["seen", "resolve"],
    caller: CurrentCaller,
    session: SessionDep,
) -> ConcernPublic:
    """Mark a concern seen, or resolved (with who did it): `reminders:write`, the permission to
    act on the elder's care (reminders done, alerts), since `digests:read` only reads."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    state = ConcernState.resolved if action == "resolve" else ConcernState.seen
    return _concern(concerns.set_state(session, scope, flag_id, state))

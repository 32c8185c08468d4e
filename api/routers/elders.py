"""Elders: created and managed by an administrator; each elder reads their own profile."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AdminCaller, CurrentCaller, SessionDep, SettingsDep
from api.schemas import ElderCreate, ElderPublic, ElderUpdate
from memory import store
from memory.access import resolve_scope
from memory.errors import InvalidInput
from memory.models import Elder

router = APIRouter(prefix="/v1/elders", tags=["elders"])


def elder_public(elder: Elder) -> ElderPublic:
    return ElderPublic(
        id=elder.id,
        name=elder.display_name,
        preferred_name=elder.preferred_name,
        language=elder.language,
        languages=elder.languages,
        timezone=elder.timezone,
        birthday=elder.birthday,
        quiet_hours_start=elder.quiet_hours_start,
        quiet_hours_end=elder.quiet_hours_end,
        greeting_time=elder.greeting_time,
        proactive_per_day=elder.proactive_per_day,
        reminisce_after_hours=elder.reminisce_after_hours,
        created_at=elder.created_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ElderPublic)
def create_elder(
    body: ElderCreate, caller: AdminCaller, session: SessionDep, settings: SettingsDep
) -> ElderPublic:
    """Register an elder (administrators). Their own account is made with them."""
    elder = store.create_elder(
        session,
        display_name=body.name,
        preferred_name=body.preferred_name,
        languages=[body.language, *body.other_languages],
        timezone=body.timezone or settings.default_timezone,
        birthday=body.birthday,
        created_by=caller,
    )
    return elder_public(elder)


@router.get("", response_model=list[ElderPublic])
def list_elders(caller: CurrentCaller, session: SessionDep) -> list[ElderPublic]:
    """Every elder for an administrator; the caller's own elder for everyone else."""
    return [elder_public(e) for e in store.list_elders(session, caller)]


@router.get("/{elder_id}", response_model=ElderPublic)
def get_elder(elder_id: str, caller: CurrentCaller, session: SessionDep) -> ElderPublic:
    scope = resolve_scope(session, caller, elder_id)
    return elder_public(store.get_elder(session, scope))


@router.patch("/{elder_id}", response_model=ElderPublic)
def update_elder(
    elder_id: str, body: ElderUpdate, caller: CurrentCaller, session: SessionDep
) -> ElderPublic:
    """Change the profile (the elder, their guardian or an administrator)."""
    scope = resolve_scope(session, caller, elder_id, manage=True)
    changes = body.model_dump(exclude_unset=True)
    for required in (
        "name",
        "language",
        "timezone",
        "quiet_hours_start",
        "quiet_hours_end",
        "proactive_per_day",
    ):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"'{required}' cannot be emptied; leave it out to keep it.")
    if "name" in changes:
        changes["display_name"] = changes.pop("name")
    return elder_public(store.update_elder(session, scope, changes))

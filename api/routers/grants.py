"""Grants: what the elder (or their guardian, or an administrator) lets others see and do."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import CurrentCaller, SessionDep
from api.schemas import GrantPublic, GrantSet
from memory import access
from memory.errors import InvalidInput
from memory.models import Grant

router = APIRouter(prefix="/v1/elders/{elder_id}/grants", tags=["grants"])


def grant_public(session: SessionDep, grant: Grant) -> GrantPublic:
    account = access.get_account(session, grant.account_id)
    return GrantPublic(
        account_id=grant.account_id,
        display_name=account.display_name,
        role=account.role,
        relation=account.relation,
        scopes=grant.scopes,
        expires_at=grant.expires_at,
        updated_at=grant.updated_at,
        granted_by=grant.granted_by,
        story_limits=grant.story_limits,
    )


@router.get("", response_model=list[GrantPublic])
def list_grants(elder_id: str, caller: CurrentCaller, session: SessionDep) -> list[GrantPublic]:
    scope = access.resolve_scope(session, caller, elder_id, manage=True)
    return [grant_public(session, g) for g in access.list_grants(session, scope)]


@router.put("/{account_id}", response_model=GrantPublic)
def set_grant(
    elder_id: str, account_id: str, body: GrantSet, caller: CurrentCaller, session: SessionDep
) -> GrantPublic:
    """Set exactly which scopes a family member or creator holds (replaces what they had)."""
    scope = access.resolve_scope(session, caller, elder_id, manage=True)
    if body.story and body.story.since and body.story.until and body.story.since > body.story.until:
        raise InvalidInput("story.since is after story.until: give the earlier day first.")
    grant = access.set_grant(
        session,
        scope,
        account_id,
        scopes=body.scopes,
        expires_at=body.expires_at,
        story_limits=body.story.model_dump(mode="json") if body.story else None,
    )
    return grant_public(session, grant)


@router.delete("/{account_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_grant(
    elder_id: str, account_id: str, caller: CurrentCaller, session: SessionDep
) -> None:
    """Take all access away from a family member or creator, at once."""
    scope = access.resolve_scope(session, caller, elder_id, manage=True)
    access.revoke_grant(session, scope, account_id)

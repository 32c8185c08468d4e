"""Accounts and their tokens (administrators), and `/v1/me` for every caller."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Query, status

from api.deps import AdminCaller, CurrentCaller, SessionDep
from api.routers.elders import elder_public
from api.schemas import (
    AccountCreate,
    AccountPublic,
    AccountUpdate,
    Me,
    TokenCreate,
    TokenIssued,
    TokenPublic,
)
from memory import access, store
from memory.errors import NotFound
from memory.models import Account, Token, utcnow

router = APIRouter(prefix="/v1", tags=["accounts and tokens"])


def account_public(account: Account) -> AccountPublic:
    return AccountPublic.model_validate(account, from_attributes=True)


def token_public(token: Token) -> TokenPublic:
    return TokenPublic.model_validate(token, from_attributes=True)


@router.get("/me", response_model=Me)
def me(caller: CurrentCaller, session: SessionDep) -> Me:
    """Who this token belongs to, the elders it reaches and what it may do for each."""
    account = access.get_account(session, caller.account_id)
    elders = store.list_elders(session, caller)
    return Me(
        account=account_public(account),
        elders=[elder_public(e) for e in elders],
        permissions={
            e.id: sorted(access.granted_permissions(session, caller, e.id)) for e in elders
        },
    )


@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=AccountPublic)
def create_account(body: AccountCreate, caller: AdminCaller, session: SessionDep) -> AccountPublic:
    """Add a family member, creator, elder or administrator account (administrators)."""
    account = access.create_account(
        session,
        role=body.role,
        display_name=body.display_name,
        elder_id=body.elder_id,
        relation=body.relation,
        is_guardian=body.is_guardian,
        language=body.language,
        created_by=caller,
    )
    account.email = body.email
    return account_public(account)


@router.patch("/me", response_model=AccountPublic)
def update_me(body: AccountUpdate, caller: CurrentCaller, session: SessionDep) -> AccountPublic:
    """Your own language and e-mail address (for alerts)."""
    account = access.get_account(session, caller.account_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(account, key, value)
    session.add(account)
    access.record(
        session,
        actor=caller,
        action="account.update",
        elder_id=account.elder_id,
        detail={"account_id": account.id, "changed": sorted(body.model_fields_set)},
    )
    return account_public(account)


@router.get("/accounts", response_model=list[AccountPublic])
def list_accounts(
    caller: AdminCaller,
    session: SessionDep,
    elder_id: str | None = Query(default=None, max_length=32),
) -> list[AccountPublic]:
    return [account_public(a) for a in access.list_accounts(session, elder_id=elder_id)]


@router.get("/accounts/{account_id}", response_model=AccountPublic)
def get_account(account_id: str, caller: CurrentCaller, session: SessionDep) -> AccountPublic:
    """An administrator sees any account; everyone else their own."""
    if not caller.is_admin and account_id != caller.account_id:
        raise NotFound(f"No account with id {account_id}.")
    return account_public(access.get_account(session, account_id))


@router.post(
    "/accounts/{account_id}/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenIssued,
)
def create_token(
    account_id: str, body: TokenCreate, caller: AdminCaller, session: SessionDep
) -> TokenIssued:
    """Issue a token for an account; the token is in this answer only, never again."""
    account = access.get_account(session, account_id)
    expires_at = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    issued = access.issue_token(
        session, account, label=body.label, expires_at=expires_at, issued_by=caller
    )
    return TokenIssued(**token_public(issued.token).model_dump(), token=issued.secret)


@router.get("/accounts/{account_id}/tokens", response_model=list[TokenPublic])
def list_tokens(account_id: str, caller: CurrentCaller, session: SessionDep) -> list[TokenPublic]:
    """Tokens of an account (prefixes only); an account may list its own."""
    if not caller.is_admin and account_id != caller.account_id:
        raise NotFound(f"No account with id {account_id}.")
    access.get_account(session, account_id)
    return [token_public(t) for t in access.list_tokens(session, account_id)]


@router.delete("/tokens/{token_id}", response_model=TokenPublic)
def revoke_token(token_id: str, caller: CurrentCaller, session: SessionDep) -> TokenPublic:
    """Revoke a token at once (an administrator any, an account its own)."""
    token = access.get_token(session, token_id)
    return token_public(access.revoke_token(session, caller, token))

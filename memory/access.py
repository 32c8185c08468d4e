"""Who is asking and what they may reach: accounts, tokens, grants, the audit log.

`resolve_scope` is the one place an `ElderScope` is made. Every function that reads or
writes an elder's data takes one, so there is no query path that is not scoped to an
elder the caller may reach.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from memory.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from memory.models import (
    Account,
    AuditEvent,
    Elder,
    Grant,
    Permission,
    Role,
    Token,
    utcnow,
)
from memory.timeutil import to_utc

TOKEN_PREFIX = "zhian_"
# Writing last_used_at on every request would turn every read into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True)
class Caller:
    """An authenticated account, as resolved from its token."""

    account_id: str
    role: Role
    display_name: str
    elder_id: str | None = None
    is_guardian: bool = False
    token_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin


@dataclass(frozen=True)
class ElderScope:
    """Proof that `actor` may act on `elder_id` with `permission`; made only by `resolve_scope`."""

    elder_id: str
    actor: Caller
    elder_language: str
    elder_timezone: str

    @property
    def by_elder(self) -> bool:
        return self.actor.role is Role.elder


# --- tokens -----------------------------------------------------------------------------


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A new token: `secret` is shown once and never stored."""

    token: Token
    secret: str


def issue_token(
    session: Session,
    account: Account,
    *,
    label: str | None = None,
    expires_at: datetime | None = None,
    issued_by: Caller | None = None,
    purpose: str = "api",
) -> IssuedToken:
    public_part = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}{public_part}_{secrets.token_urlsafe(32)}"
    token = Token(
        account_id=account.id,
        label=label,
        prefix=f"{TOKEN_PREFIX}{public_part}",
        secret_hash=_hash(secret),
        expires_at=expires_at,
        purpose=purpose,
    )
    session.add(token)
    session.flush()
    record(
        session,
        actor=issued_by,
        action="token.create",
        elder_id=account.elder_id,
        detail={"token_id": token.id, "account_id": account.id, "prefix": token.prefix},
    )
    return IssuedToken(token=token, secret=secret)


def authenticate(session: Session, secret: str, *, purpose: str = "api") -> Caller:
    """The caller a bearer token stands for, or `Unauthorized` saying why not. A calendar
    token opens its calendar feed and nothing else."""
    token = _find_token(session, secret)
    if token is not None and token.purpose != purpose:
        raise Unauthorized(
            f"This token ({token.prefix}…) is for a {token.purpose} link only; "
            f"use an API token here."
            if purpose == "api"
            else f"This token ({token.prefix}…) cannot open a {purpose} link; make one with "
            "POST /v1/elders/{id}/reminders/calendar-link."
        )
    if token is None:
        raise Unauthorized(
            "This token is not known. Check that it was copied whole, or ask an administrator for a new one."
        )
    now = utcnow()
    if token.revoked_at is not None:
        raise Unauthorized(
            f"This token ({token.prefix}…) was revoked on {token.revoked_at:%Y-%m-%d}. Ask an administrator for a new one."
        )
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized(
            f"This token ({token.prefix}…) expired on {token.expires_at:%Y-%m-%d}. Ask an administrator for a new one."
        )
    account = session.get(Account, token.account_id)
    if account is None:
        raise Unauthorized("The account this token belonged to no longer exists.")
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        token.last_used_at = now
        session.add(token)
        session.commit()
    return caller_for(account, token_id=token.id)


def caller_for(account: Account, *, token_id: str | None = None) -> Caller:
    return Caller(
        account_id=account.id,
        role=Role(account.role),
        display_name=account.display_name,
        elder_id=account.elder_id,
        is_guardian=account.is_guardian,
        token_id=token_id,
    )


def _find_token(session: Session, secret: str) -> Token | None:
    return session.exec(select(Token).where(Token.secret_hash == _hash(secret))).first()


def token_by_secret(session: Session, secret: str) -> Token:
    token = _find_token(session, secret)
    if token is None:
        raise NotFound("No such token. Check that it was copied whole.")
    return token


def get_token(session: Session, token_id: str) -> Token:
    token = session.get(Token, token_id)
    if token is None:
        raise NotFound(f"No token with id {token_id}.")
    return token


def revoke_token(session: Session, caller: Caller | None, token: Token) -> Token:
    """Revoke a token; an account may revoke its own tokens, an admin any. Idempotent."""
    if caller is not None and not caller.is_admin:
        account = session.get(Account, token.account_id)
        if account is None or account.id != caller.account_id:
            raise NotFound(f"No token with id {token.id}.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        account = session.get(Account, token.account_id)
        record(
            session,
            actor=caller,
            action="token.revoke",
            elder_id=account.elder_id if account else None,
            detail={"token_id": token.id, "prefix": token.prefix},
        )
    return token


def list_tokens(session: Session, account_id: str) -> list[Token]:
    return list(
        session.exec(select(Token).where(Token.account_id == account_id).order_by(Token.created_at))
    )


# --- accounts ---------------------------------------------------------------------------


def create_account(
    session: Session,
    *,
    role: Role,
    display_name: str,
    elder_id: str | None = None,
    relation: str | None = None,
    is_guardian: bool = False,
    language: str | None = None,
    created_by: Caller | None = None,
) -> Account:
    if role is Role.admin:
        if elder_id is not None:
            raise InvalidInput("An admin account belongs to no elder: leave elder_id out.")
        if is_guardian:
            raise InvalidInput("Only a family account can be an elder's guardian.")
    else:
        if elder_id is None:
            raise InvalidInput(f"A {role.value} account belongs to one elder: give elder_id.")
        if session.get(Elder, elder_id) is None:
            raise NotFound(f"No elder with id {elder_id}. Create the elder first.")
        if is_guardian and role is not Role.family:
            raise InvalidInput("Only a family account can be an elder's guardian.")
    account = Account(
        role=role.value,
        display_name=display_name,
        elder_id=elder_id,
        relation=relation,
        is_guardian=is_guardian,
        language=language,
    )
    session.add(account)
    session.flush()
    record(
        session,
        actor=created_by,
        action="account.create",
        elder_id=elder_id,
        detail={"account_id": account.id, "role": role.value, "display_name": display_name},
    )
    return account


def get_account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"No account with id {account_id}.")
    return account


def elder_account(session: Session, elder_id: str) -> Account | None:
    """The elder's own account (made with the elder), used for their token links."""
    return session.exec(
        select(Account).where(Account.elder_id == elder_id, Account.role == Role.elder.value)
    ).first()


def list_accounts(session: Session, *, elder_id: str | None = None) -> list[Account]:
    query = select(Account).order_by(Account.created_at)
    if elder_id is not None:
        query = query.where(Account.elder_id == elder_id)
    return list(session.exec(query))


def any_admin_exists(session: Session) -> bool:
    return (
        session.exec(select(Account.id).where(Account.role == Role.admin.value)).first() is not None
    )


# --- scopes and grants ------------------------------------------------------------------


def _not_reachable(elder_id: str) -> NotFound:
    # The same answer for "does not exist" and "not yours", so ids cannot be probed.
    return NotFound(f"No elder with id {elder_id} that this token can reach.")


def resolve_scope(
    session: Session,
    caller: Caller,
    elder_id: str,
    *,
    permission: Permission | None = None,
    manage: bool = False,
) -> ElderScope:
    """Check that `caller` may act on `elder_id` and return the scope to do it with.

    `permission` is what a family member or creator needs granted; `manage` asks for the
    rights of the elder, their guardian or an admin (grants, the audit log).
    """
    elder = session.get(Elder, elder_id)
    if not caller.is_admin and caller.elder_id != elder_id:
        raise _not_reachable(elder_id)
    if elder is None:
        raise (
            NotFound(f"No elder with id {elder_id}.")
            if caller.is_admin
            else _not_reachable(elder_id)
        )
    scope = ElderScope(
        elder_id=elder_id,
        actor=caller,
        elder_language=elder.language,
        elder_timezone=elder.timezone,
    )
    if caller.is_admin or caller.role is Role.elder or caller.is_guardian:
        return scope
    if manage:
        raise Forbidden(
            f"Only {elder.display_name}, their guardian or an administrator can do this."
        )
    if permission is not None and permission.value not in granted_permissions(
        session, caller, elder_id
    ):
        raise Forbidden(
            f"Your account has not been granted '{permission.value}' for {elder.display_name}. "
            f"Ask {elder.display_name} or their guardian to grant it."
        )
    return scope


def granted_permissions(session: Session, caller: Caller, elder_id: str) -> set[str]:
    """What `caller` holds for `elder_id` right now (everything for the elder, guardian, admin)."""
    if not caller.is_admin and caller.elder_id != elder_id:
        return set()
    if caller.is_admin or caller.is_guardian or caller.role is Role.elder:
        return {p.value for p in Permission}
    grant = _grant(session, elder_id, caller.account_id)
    if grant is None or (grant.expires_at is not None and grant.expires_at <= utcnow()):
        return set()
    return set(grant.scopes)


def grant_of(session: Session, caller: Caller, elder_id: str) -> Grant | None:
    """The caller's grant for this elder (none for the elder, guardians and admins)."""
    if caller.is_admin or caller.is_guardian or caller.role is Role.elder:
        return None
    return _grant(session, elder_id, caller.account_id)


def _grant(session: Session, elder_id: str, account_id: str) -> Grant | None:
    return session.exec(
        select(Grant).where(Grant.elder_id == elder_id, Grant.account_id == account_id)
    ).first()


def list_grants(session: Session, scope: ElderScope) -> list[Grant]:
    return list(
        session.exec(
            select(Grant).where(Grant.elder_id == scope.elder_id).order_by(Grant.created_at)
        )
    )


def set_grant(
    session: Session,
    scope: ElderScope,
    account_id: str,
    *,
    scopes: Iterable[Permission],
    expires_at: datetime | None,
    story_limits: dict | None = None,
) -> Grant:
    """Grant (or change) what a family member or creator of this elder may see and do."""
    account = session.get(Account, account_id)
    if account is None or account.elder_id != scope.elder_id:
        raise NotFound(f"No account with id {account_id} belongs to this elder.")
    if account.role not in (Role.family.value, Role.creator.value):
        raise InvalidInput(
            f"Grants are for family members and creators; this account is a {account.role}."
        )
    if expires_at is not None:
        expires_at = to_utc(expires_at, scope.elder_timezone)
        if expires_at <= utcnow():
            raise InvalidInput("expires_at is in the past; give a future time or leave it out.")
    values = sorted({p.value for p in scopes})
    grant = _grant(session, scope.elder_id, account_id)
    before = (
        None if grant is None else {"scopes": grant.scopes, "expires_at": _iso(grant.expires_at)}
    )
    if grant is None:
        grant = Grant(elder_id=scope.elder_id, account_id=account_id, scopes=values)
    grant.scopes = values
    grant.expires_at = expires_at
    grant.story_limits = story_limits
    grant.granted_by = scope.actor.account_id
    grant.updated_at = utcnow()
    session.add(grant)
    session.flush()
    record(
        session,
        actor=scope.actor,
        action="grant.set",
        elder_id=scope.elder_id,
        detail={
            "account_id": account_id,
            "before": before,
            "after": {
                "scopes": values,
                "expires_at": _iso(expires_at),
                "story_limits": story_limits,
            },
        },
    )
    return grant


def revoke_grant(session: Session, scope: ElderScope, account_id: str) -> None:
    grant = _grant(session, scope.elder_id, account_id)
    if grant is None:
        raise NotFound(f"Account {account_id} holds no grant for this elder.")
    record(
        session,
        actor=scope.actor,
        action="grant.revoke",
        elder_id=scope.elder_id,
        detail={"account_id": account_id, "before": {"scopes": grant.scopes}},
    )
    session.delete(grant)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- audit ------------------------------------------------------------------------------


def record(
    session: Session,
    *,
    actor: Caller | None,
    action: str,
    elder_id: str | None,
    detail: dict | None = None,
) -> None:
    """Add an audit event in the caller's transaction (it commits or rolls back with the change)."""
    session.add(
        AuditEvent(
            actor_account_id=actor.account_id if actor else None,
            actor_role=actor.role.value if actor else "operator",
            actor_name=actor.display_name if actor else "operator (command line)",
            action=action,
            elder_id=elder_id,
            detail=detail or {},
        )
    )


def record_access(session: Session, scope: ElderScope, *, action: str, detail: dict) -> None:
    """Audit a read of the elder's data by anyone but the elder."""
    if not scope.by_elder:
        record(session, actor=scope.actor, action=action, elder_id=scope.elder_id, detail=detail)


def list_audit(
    session: Session, scope: ElderScope, *, limit: int, before_id: int | None = None
) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.elder_id == scope.elder_id)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(session.exec(query.order_by(sa.desc(AuditEvent.id)).limit(limit)))


# --- the service acting on its own --------------------------------------------------------

SYSTEM = Caller(account_id="system", role=Role.admin, display_name="智安 (scheduler)")


def system_scope(session: Session, elder_id: str) -> ElderScope:
    """The scope the scheduler acts in: delivering reminders, raising concerns."""
    return resolve_scope(session, SYSTEM, elder_id)


def elder_scope(session: Session, elder_id: str) -> ElderScope:
    """Acting as the elder (their own words, their own chat)."""
    account = elder_account(session, elder_id)
    if account is None:
        raise NotFound(f"Elder {elder_id} has no account to act as.")
    return resolve_scope(session, caller_for(account), elder_id)

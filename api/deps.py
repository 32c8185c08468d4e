"""Request dependencies: the database session and the authenticated caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from api.settings import Settings
from memory.access import Caller, authenticate
from memory.db import session_scope
from memory.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="A zhian token: zhian_xxxxxxxx_…")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """A session per request: committed when the handler returns, rolled back if it raises."""
    with session_scope(request.app.state.engine) as session:
        yield session


# "function" scope: the commit happens before the response is sent, so a 2xx means saved.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_caller(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "This endpoint needs a token: send the header 'Authorization: Bearer <token>'."
        )
    if credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send the token as 'Authorization: Bearer <token>'.")
    return authenticate(session, credentials.credentials)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


def require_admin(caller: CurrentCaller) -> Caller:
    if not caller.is_admin:
        raise Forbidden("Only an administrator can do this.")
    return caller


AdminCaller = Annotated[Caller, Depends(require_admin)]

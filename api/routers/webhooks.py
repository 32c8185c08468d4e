"""The family's webhooks: where events about the elder (a missed reminder, a concern) are sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from api.deps import CurrentCaller, SessionDep, SettingsDep
from api.schemas import WebhookCreate, WebhookPublic
from companion.alerts import outbox
from memory.access import resolve_scope
from memory.models import Permission

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["family"])

RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _webhook(w, secret: bool = False) -> WebhookPublic:  # type: ignore[no-untyped-def]
    return WebhookPublic(
        id=w.id,
        url=w.url,
        events=w.events,
        created_at=w.created_at,
        secret=w.secret if secret else None,
    )


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, response_model=WebhookPublic)
def add_webhook(
    elder_id: str,
    body: WebhookCreate,
    caller: CurrentCaller,
    session: SessionDep,
    settings: SettingsDep,
) -> WebhookPublic:
    """Send events about the elder (a missed reminder, a concern) to a family integration,
    signed (X-Zhian-Signature) and retried with backoff until it answers 2xx. Only public
    addresses, unless the operator allows private ones (ZHIAN_WEBHOOK_ALLOW_PRIVATE)."""
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    webhook = outbox.add_webhook(
        session, scope, body.url, body.events, allow_private=settings.webhook_allow_private
    )
    return _webhook(webhook, secret=True)


@router.get("/webhooks", response_model=list[WebhookPublic])
def list_webhooks(elder_id: str, caller: CurrentCaller, session: SessionDep) -> list[WebhookPublic]:
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_read)
    return [_webhook(w) for w in outbox.list_webhooks(session, scope)]


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_webhook(
    elder_id: str, webhook_id: RowId, caller: CurrentCaller, session: SessionDep
) -> None:
    scope = resolve_scope(session, caller, elder_id, permission=Permission.reminders_write)
    outbox.remove_webhook(session, scope, webhook_id)

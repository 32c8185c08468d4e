"""An elder's whole record: exported for the elder or their guardian, or erased; and an
account erased."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import CurrentCaller, SessionDep, SettingsDep
from api.schemas import ErasureConfirm, ErasurePublic
from companion import record
from memory import erase
from memory.access import resolve_scope
from memory.errors import Forbidden

router = APIRouter(tags=["an elder's record"])


@router.get(
    "/v1/elders/{elder_id}/export",
    response_model=record.ElderRecord,
    responses={200: {"content": {"text/html": {}}}},
)
def export_record(
    elder_id: str,
    caller: CurrentCaller,
    session: SessionDep,
    format: Literal["json", "html"] = Query(
        default="json", description="json (schema /v1/schemas/record.json) or html, to read"
    ),
) -> Response | record.ElderRecord:
    """Everything stored about the elder (the elder, or their guardian: private memories reach
    the elder only)."""
    scope = resolve_scope(session, caller, elder_id, manage=True)
    if caller.is_admin:
        raise Forbidden(
            "An elder's record is theirs: only the elder or their guardian can export it."
        )
    built = record.build_record(session, scope)
    if format == "html":
        return HTMLResponse(record.render_html(built))
    return built


@router.get("/v1/schemas/record.json")
def record_schema(caller: CurrentCaller) -> dict:
    """The JSON schema of an elder's exported record (version zhian.record/1)."""
    return record.schema()


@router.delete("/v1/elders/{elder_id}", response_model=ErasurePublic)
def erase_elder(
    elder_id: str,
    caller: CurrentCaller,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    body: ErasureConfirm | None = None,
) -> ErasurePublic:
    """Erase the elder's whole record, every row and vector, for good (their guardian or an
    administrator), confirmed with {"confirm": "<the elder's name>"}. One audit record stays,
    without their words."""
    scope = resolve_scope(session, caller, elder_id, manage=True)
    done = erase.erase_elder(
        session,
        scope,
        confirm=body.confirm if body else None,
        index=request.app.state.vector_index,
        data_dir=settings.data_dir,
    )
    return ErasurePublic(erased=done.erased, audit_id=done.audit_id)


@router.delete("/v1/accounts/{account_id}", response_model=ErasurePublic)
def erase_account(
    account_id: str,
    caller: CurrentCaller,
    session: SessionDep,
    body: ErasureConfirm | None = None,
) -> ErasurePublic:
    """Erase an account (an administrator, or the account itself), confirmed with
    {"confirm": "<the account's name>"}: its tokens, grants, story exports and webhooks. What
    they said to the elder stays in the elder's record."""
    done = erase.erase_account(session, caller, account_id, confirm=body.confirm if body else None)
    return ErasurePublic(erased=done.erased, audit_id=done.audit_id)

"""Story material for creators, with the elder's consent: export, the jobs of large exports,
the list of exports for the family, and the schema."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from api.deps import CurrentCaller, SessionDep
from api.schemas import ExportRunPublic, StoryRequest
from companion import story
from companion.story import jobs
from memory.access import ElderScope, grant_of, record, resolve_scope
from memory.errors import Conflict, Forbidden, NotFound
from memory.models import ExportStatus, Grant, Permission, Role, StoryExportRun

router = APIRouter(tags=["story"])

RunId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_DOCUMENT = {
    "content": {
        "application/json": {},
        "text/markdown": {},
        "text/html": {},
        "text/plain": {},
        "text/csv": {},
    }
}


def _scope(session: Session, caller, elder_id: str) -> tuple[ElderScope, Grant | None]:  # type: ignore[no-untyped-def]
    scope = resolve_scope(session, caller, elder_id, permission=Permission.story_export)
    grant = grant_of(session, caller, elder_id)
    return scope, grant


def _public(run: StoryExportRun, elder_id: str) -> ExportRunPublic:
    return ExportRunPublic(
        id=run.id or 0,
        account_name=run.account_name,
        requested_at=run.requested_at.isoformat(),
        format=run.format,
        status=run.status,
        progress=run.progress,
        filters=run.filters,
        counts=run.counts,
        download=f"/v1/elders/{elder_id}/story-exports/{run.id}/download"
        if run.status == ExportStatus.done
        else None,
    )


@router.post(
    "/v1/elders/{elder_id}/story:export",
    response_model=None,
    responses={
        200: {"description": "The export, in the format asked for.", **_DOCUMENT},
        202: {"description": "A large export, started as a job.", "model": ExportRunPublic},
    },
)
def export_story(
    elder_id: str, body: StoryRequest, caller: CurrentCaller, session: SessionDep, request: Request
) -> Response:
    """Export the elder's story material (`story:export`, within what the grant covers): a
    timeline dated to its era, the elder's own words, characters with their looks, places,
    emotional beats, scene cards and prompts; as JSON, Markdown, a printable book, a Fountain
    screenplay treatment or a shot list (CSV). Private memories never; sensitive ones only
    when the grant allows. Large exports run as a job: 202 with its address, then download.
    Every export is in the audit log and listed to the family (`GET
    /v1/elders/{id}/story-exports`)."""
    scope, grant = _scope(session, caller, elder_id)
    asked = story.Filters(**body.model_dump(exclude={"format"}))
    filters = story.combine(grant.story_limits if grant else None, asked)
    companion = getattr(request.app.state, "companion", None)
    started = jobs.start_export(
        session,
        scope,
        caller=caller,
        filters=filters,
        fmt=body.format,
        engine=request.app.state.engine,
        model=getattr(companion, "model", None) if body.format == "fountain" else None,
    )
    run = started.run
    if started.document is None:
        url = f"/v1/elders/{elder_id}/story-exports/{run.id}"
        return JSONResponse(
            _public(run, elder_id).model_dump(),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )
    return Response(
        content=started.document,
        media_type=started.media_type,
        headers={
            "X-Zhian-Export": str(run.id),
            "Content-Location": f"/v1/elders/{elder_id}/story-exports/{run.id}/download",
        },
    )


def _own_run(session: Session, caller, elder_id: str, run_id: int) -> StoryExportRun:  # type: ignore[no-untyped-def]
    run = session.get(StoryExportRun, run_id)
    if run is None or run.elder_id != elder_id:
        raise NotFound(f"No story export {run_id} for this elder.")
    if run.account_id != caller.account_id and not (
        caller.is_guardian or caller.is_admin or caller.role is Role.elder
    ):
        raise Forbidden("This export was made by someone else; ask them, or the elder's guardian.")
    return run


@router.get("/v1/elders/{elder_id}/story-exports/{run_id}", response_model=ExportRunPublic)
def export_status(
    elder_id: str, run_id: RunId, caller: CurrentCaller, session: SessionDep
) -> ExportRunPublic:
    """A large export's progress (0 to 1) and, when done, its download address."""
    _scope(session, caller, elder_id)
    return _public(_own_run(session, caller, elder_id, run_id), elder_id)


@router.get(
    "/v1/elders/{elder_id}/story-exports/{run_id}/download",
    response_model=None,
    responses={200: {"description": "The export, in the format it was asked for.", **_DOCUMENT}},
)
def download(elder_id: str, run_id: RunId, caller: CurrentCaller, session: SessionDep) -> Response:
    """The finished export (the grant must still hold)."""
    _scope(session, caller, elder_id)
    run = _own_run(session, caller, elder_id, run_id)
    if run.status == ExportStatus.running:
        raise Conflict(
            f"Export {run_id} is still running ({run.progress:.0%}); download it once "
            f"/v1/elders/{elder_id}/story-exports/{run_id} says it is done."
        )
    if run.status != ExportStatus.done:
        raise Conflict(f"Export {run_id} failed ({run.error or 'no reason kept'}); export again.")
    if run.result is None:  # made before exports were kept: it was given only in the reply
        raise NotFound(
            f"Export {run_id} was given in the reply to the export request and not kept; "
            "export again to get it."
        )
    media = story.MEDIA_TYPES[run.format]
    record(
        session,
        actor=caller,
        action="story.download",
        elder_id=elder_id,
        detail={"export_id": run_id},
    )
    return Response(content=run.result, media_type=media)


@router.get("/v1/elders/{elder_id}/story-exports", response_model=list[ExportRunPublic])
def list_exports(
    elder_id: str, caller: CurrentCaller, session: SessionDep
) -> list[ExportRunPublic]:
    """Every export of the elder's story, who made it and when (family with `digests:read`,
    the elder, the guardian)."""
    resolve_scope(session, caller, elder_id, permission=Permission.digests_read)
    return [_public(r, elder_id) for r in jobs.list_runs(session, elder_id)]


@router.get("/v1/schemas/story.json")
def story_schema(caller: CurrentCaller) -> dict:
    """The JSON schema of an export (version zhian.story/2)."""
    return {"$id": story.VERSION, **story.schema()}

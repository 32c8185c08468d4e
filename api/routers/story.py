"""Story material for creators, with the elder's consent: export, the jobs of large exports,
the list of exports for the family, and the schema."""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from api.deps import CurrentCaller, SessionDep
from api.schemas import Day, Input, Name
from companion import story
from memory.access import ElderScope, grant_of, record, resolve_scope, system_scope
from memory.db import session_scope
from memory.errors import Conflict, Forbidden, NotFound
from memory.models import Grant, Memory, Message, Permission, Role, StoryExportRun, utcnow

log = logging.getLogger(__name__)

router = APIRouter(tags=["story"])

# More than this many memories and messages: the export runs as a job (202, then download).
JOB_THRESHOLD = 3000


class StoryRequest(Input):
    format: Literal["json", "markdown", "html"] = Field(
        default="json",
        description="json (schema /v1/schemas/story.json), markdown, or html "
        "(a printable life-story book)",
    )
    since: Day | None = Field(default=None, description="Only what happened from this day.")
    until: Day | None = Field(default=None, description="...until this day.")
    people: list[Name] = Field(default_factory=list, max_length=50)
    places: list[Name] = Field(default_factory=list, max_length=50)
    topics: list[Name] = Field(default_factory=list, max_length=50)
    style: Literal["cinematic", "documentary", "watercolour", "black-and-white"] = "cinematic"
    sensitive: bool = Field(
        default=False, description="Include sensitive memories, if the grant allows."
    )


class ExportRunPublic(BaseModel):
    id: int
    account_name: str
    requested_at: str
    format: str
    status: str
    progress: float
    filters: dict
    counts: dict | None
    download: str | None


RunId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_MEDIA = {
    "json": "application/json",
    "markdown": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
_DOCUMENT = {"content": {"application/json": {}, "text/markdown": {}, "text/html": {}}}


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
        if run.status == "done"
        else None,
    )


def _counts(export: story.StoryExport) -> dict:
    return {
        "timeline": len(export.timeline),
        "quotes": len(export.quotes),
        "people": len(export.people),
        "places": len(export.places),
        "beats": len(export.beats),
        "scene_prompts": len(export.scene_prompts),
    }


def _run_job(
    engine: sa.Engine, run_id: int, elder_id: str, filters: story.Filters, fmt: str
) -> None:
    def progress(share: float) -> None:
        with session_scope(engine) as session:
            session.execute(
                sa.update(StoryExportRun)
                .where(StoryExportRun.id == run_id)
                .values(progress=round(share, 2))
            )

    try:
        with Session(engine) as session:
            export = story.build(session, system_scope(session, elder_id), filters, progress)
        document, _ = story.render(export, fmt)
        values = {"status": "done", "result": document, "counts": _counts(export)}
    except Exception as exc:  # the job says so; the operator's log has the rest
        log.exception("Story export %s failed", run_id)
        values = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:1000]}
    with session_scope(engine) as session:
        session.execute(
            sa.update(StoryExportRun)
            .where(StoryExportRun.id == run_id)
            .values(finished_at=utcnow(), **values)
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
    timeline, the elder's own words, people and places, emotional beats and scene prompts.
    Private memories never; sensitive ones only when the grant allows. Large exports run as a
    job: 202 with its address, then download. Every export is in the audit log and listed to
    the family (`GET /v1/elders/{id}/story-exports`)."""
    scope, grant = _scope(session, caller, elder_id)
    asked = story.Filters(**body.model_dump(exclude={"format"}))
    filters = story.combine(grant.story_limits if grant else None, asked)
    run = StoryExportRun(
        elder_id=elder_id,
        account_id=caller.account_id,
        account_name=caller.display_name,
        filters=filters.model_dump(mode="json"),
        format=body.format,
    )
    session.add(run)
    session.flush()
    record(
        session,
        actor=caller,
        action="story.export",
        elder_id=elder_id,
        detail={"export_id": run.id, "filters": run.filters, "format": body.format},
    )
    size = (
        session.exec(
            select(sa.func.count()).select_from(Memory).where(Memory.elder_id == elder_id)
        ).one()
        + session.exec(
            select(sa.func.count()).select_from(Message).where(Message.elder_id == elder_id)
        ).one()
    )
    if size > JOB_THRESHOLD:
        session.commit()
        threading.Thread(
            target=_run_job,
            args=(request.app.state.engine, run.id, elder_id, filters, body.format),
            daemon=True,
            name=f"story-export-{run.id}",
        ).start()
        url = f"/v1/elders/{elder_id}/story-exports/{run.id}"
        return JSONResponse(
            _public(run, elder_id).model_dump(),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )
    export = story.build(session, scope, filters)
    document, media_type = story.render(export, body.format)
    run.status, run.progress, run.counts, run.finished_at = "done", 1.0, _counts(export), utcnow()
    run.result = document  # kept, like a job's, so that its download address works too
    session.add(run)
    return Response(
        content=document,
        media_type=media_type,
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
    if run.status == "running":
        raise Conflict(
            f"Export {run_id} is still running ({run.progress:.0%}); download it once "
            f"/v1/elders/{elder_id}/story-exports/{run_id} says it is done."
        )
    if run.status != "done":
        raise Conflict(f"Export {run_id} failed ({run.error or 'no reason kept'}); export again.")
    if run.result is None:  # made before exports were kept: it was given only in the reply
        raise NotFound(
            f"Export {run_id} was given in the reply to the export request and not kept; "
            "export again to get it."
        )
    media = _MEDIA[run.format]
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
    runs = session.exec(
        select(StoryExportRun)
        .where(StoryExportRun.elder_id == elder_id)
        .order_by(sa.desc(StoryExportRun.id))
    )
    return [_public(r, elder_id) for r in runs]


@router.get("/v1/schemas/story.json")
def story_schema(caller: CurrentCaller) -> dict:
    """The JSON schema of an export (version zhian.story/1)."""
    return {"$id": "zhian.story/1", **story.schema()}

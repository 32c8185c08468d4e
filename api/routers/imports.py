"""Chat histories brought in (LINE, WhatsApp, CSV): a job per file, with its progress."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Path, Request, status
from fastapi.responses import JSONResponse

from api.deps import CurrentCaller, SessionDep
from api.schemas import ChatImportForm, ChatImportPage, ChatImportProblem, ChatImportPublic
from companion import chat_imports
from memory.errors import InvalidInput
from memory.models import ChatImportJob

router = APIRouter(prefix="/v1/elders/{elder_id}", tags=["imports"])

JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _public(job: ChatImportJob) -> ChatImportPublic:
    written = chat_imports.live_written(job)
    return ChatImportPublic(
        id=job.id or 0,
        format=job.format,
        filename=job.filename,
        status=job.status,  # type: ignore[arg-type]
        progress=chat_imports.progress(job, written),
        requested_by=job.account_name,
        requested_at=job.requested_at,
        finished_at=job.finished_at,
        lines=job.lines_total,
        messages=job.messages_total,
        written=written,
        counts=job.counts,
        message=job.error,
        errors=[ChatImportProblem(**problem) for problem in job.errors or []],
    )


@router.post(
    "/imports",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ChatImportPublic,
    responses={202: {"description": "The import has started; follow it at `Location`."}},
)
def start_import(
    elder_id: str,
    caller: CurrentCaller,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
    form: Annotated[ChatImportForm, Form(media_type="multipart/form-data")],
) -> JSONResponse:
    """Bring in a chat history (the elder, their guardian or an administrator): the whole file
    is read and checked, then written at once, or nothing is. Importing the same file again
    adds nothing. Follow the job at `GET /v1/elders/{id}/imports/{job_id}`."""
    scope = chat_imports.import_scope(session, caller, elder_id)
    senders = chat_imports.prepare(session, scope, form.senders, date_order=form.date_order)
    content = form.file.file.read()
    if not content.strip():
        raise InvalidInput("The file is empty; send the exported chat as the file.")
    job = chat_imports.create_job(
        session,
        scope,
        chat_imports.ImportRequest(
            format=form.format,
            senders=senders,
            keep_others=form.keep_others,
            date_order=form.date_order,
            filename=form.file.filename,
        ),
    )
    background.add_task(
        chat_imports.run_job,
        request.app.state.engine,
        job.id,
        caller,
        content,
        email=request.app.state.settings.smtp is not None,
    )
    indexer = request.app.state.indexer
    if indexer is not None:
        background.add_task(indexer.wake)
    return JSONResponse(
        _public(job).model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/v1/elders/{elder_id}/imports/{job.id}"},
        background=background,
    )


@router.get("/imports/{job_id}", response_model=ChatImportPublic)
def import_status(
    elder_id: str, job_id: JobId, caller: CurrentCaller, session: SessionDep
) -> ChatImportPublic:
    """An import's state, progress, and what came of it: counts, or the lines not read."""
    scope = chat_imports.import_scope(session, caller, elder_id)
    return _public(chat_imports.get_job(session, scope, job_id))


@router.get("/imports", response_model=ChatImportPage)
def list_imports(elder_id: str, caller: CurrentCaller, session: SessionDep) -> ChatImportPage:
    """The elder's chat imports, newest first (the last 50)."""
    scope = chat_imports.import_scope(session, caller, elder_id)
    return ChatImportPage(items=[_public(j) for j in chat_imports.list_jobs(session, scope)])

"""An export as a run the family can see: recorded (and audited) when asked for, made at once
when small, or as a background job with its progress when large."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import sqlalchemy as sa
from langchain_core.language_models import BaseChatModel
from sqlmodel import Session, select

from companion.story.build import Filters, build
from companion.story.render import render
from companion.story.schema import StoryExport
from memory.access import Caller, ElderScope, record, system_scope
from memory.chatmodel import available
from memory.db import session_scope
from memory.models import ExportStatus, Memory, Message, StoryExportRun, utcnow

log = logging.getLogger(__name__)

# More than this many memories and messages: the export runs as a job (202, then download).
JOB_THRESHOLD = 3000


def counts(export: StoryExport) -> dict:
    return {
        "timeline": len(export.timeline),
        "quotes": len(export.quotes),
        "characters": len(export.characters),
        "people": len(export.people),
        "places": len(export.places),
        "beats": len(export.beats),
        "scenes": len(export.scenes),
        "scene_prompts": len(export.scene_prompts),
    }


def export_size(session: Session, elder_id: str) -> int:
    """How much an export has to read: the elder's memories and messages."""
    return (
        session.exec(
            select(sa.func.count()).select_from(Memory).where(Memory.elder_id == elder_id)
        ).one()
        + session.exec(
            select(sa.func.count()).select_from(Message).where(Message.elder_id == elder_id)
        ).one()
    )


def list_runs(session: Session, elder_id: str) -> list[StoryExportRun]:
    return list(
        session.exec(
            select(StoryExportRun)
            .where(StoryExportRun.elder_id == elder_id)
            .order_by(sa.desc(StoryExportRun.id))
        )
    )


@dataclass
class Started:
    run: StoryExportRun
    document: str | None  # None: running as a job
    media_type: str | None


def run_job(
    engine: sa.Engine,
    run_id: int,
    elder_id: str,
    filters: Filters,
    fmt: str,
    model: BaseChatModel | None = None,
) -> None:
    """Make the export in the background, saying how far it has got."""

    def progress(share: float) -> None:
        with session_scope(engine) as session:
            session.execute(
                sa.update(StoryExportRun)
                .where(StoryExportRun.id == run_id)
                .values(progress=round(share, 2))
            )

    try:
        with Session(engine) as session:
            export = build(session, system_scope(session, elder_id), filters, progress, model=model)
        document, _ = render(export, fmt)
        values = {"status": ExportStatus.done.value, "result": document, "counts": counts(export)}
    except Exception as exc:  # the job says so; the operator's log has the rest
        log.exception("Story export %s failed", run_id)
        values = {
            "status": ExportStatus.failed.value,
            "error": f"{type(exc).__name__}: {exc}"[:1000],
        }
    with session_scope(engine) as session:
        session.execute(
            sa.update(StoryExportRun)
            .where(StoryExportRun.id == run_id)
            .values(finished_at=utcnow(), **values)
        )


def start_export(
    session: Session,
    scope: ElderScope,
    *,
    caller: Caller,
    filters: Filters,
    fmt: str,
    engine: sa.Engine,
    model: BaseChatModel | None = None,
) -> Started:
    """Record (and audit) the export; make it now when small, else start it as a job."""
    elder_id = scope.elder_id
    run = StoryExportRun(
        elder_id=elder_id,
        account_id=caller.account_id,
        account_name=caller.display_name,
        filters=filters.model_dump(mode="json"),
        format=fmt,
    )
    session.add(run)
    session.flush()
    record(
        session,
        actor=caller,
        action="story.export",
        elder_id=elder_id,
        detail={"export_id": run.id, "filters": run.filters, "format": fmt},
    )
    if not available(model):
        model = None
    # A model writing the treatment's prose takes a while: a job, with its progress.
    if export_size(session, elder_id) > JOB_THRESHOLD or model is not None:
        session.commit()
        threading.Thread(
            target=run_job,
            args=(engine, run.id, elder_id, filters, fmt, model),
            daemon=True,
            name=f"story-export-{run.id}",
        ).start()
        return Started(run, None, None)
    export = build(session, scope, filters, model=model)
    document, media_type = render(export, fmt)
    run.status, run.progress, run.counts, run.finished_at = (
        ExportStatus.done.value,
        1.0,
        counts(export),
        utcnow(),
    )
    run.result = document  # kept, like a job's, so that its download address works too
    session.add(run)
    return Started(run, document, media_type)

"""Chat histories brought in as jobs: read the whole file, map its senders, then write every
message in one transaction through the same path as `messages:import` (turn memories, fact
extraction, mood), so a failure anywhere leaves nothing half-imported."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from companion.signals import observe
from memory import chat_import, store
from memory.access import Caller, ElderScope, record, resolve_scope
from memory.db import session_scope
from memory.errors import InvalidInput, NotFound, ZhianError
from memory.models import Account, ChatImportJob, MessageRole, Role, utcnow

log = logging.getLogger(__name__)

# Messages written per step: the progress moves, the transaction stays one.
WRITE_CHUNK = 1000
# A job still "running" this long after it was asked for was cut off (the service stopped).
STALE_AFTER = timedelta(hours=6)
_RUNNING = ("queued", "reading", "writing")
MAX_ERRORS_KEPT = 200
OPERATOR = Caller(account_id="operator", role=Role.admin, display_name="operator (command line)")

_ROLES = {
    chat_import.Speaker.elder: MessageRole.elder,
    chat_import.Speaker.family: MessageRole.family,
    chat_import.Speaker.other: MessageRole.other,
}

# Messages written so far by the jobs running in this process (the write is one transaction,
# so its progress cannot be read from the database until it commits).
_live: dict[int, int] = {}
_live_lock = threading.Lock()

Progress = Callable[[str, int, int], None]  # phase, done, total


@dataclass(frozen=True)
class ImportRequest:
    format: str
    senders: dict[str, str]
    keep_others: bool = False
    date_order: str = "auto"
    filename: str | None = None


def import_scope(session: Session, caller: Caller, elder_id: str) -> ElderScope:
    """Bringing in a chat history writes words in the family's names too: the elder, their
    guardian or an administrator may do it."""
    return resolve_scope(session, caller, elder_id, manage=True)


def _people(session: Session, scope: ElderScope) -> tuple[chat_import.Person, dict]:
    accounts = session.exec(select(Account).where(Account.elder_id == scope.elder_id)).all()
    elder = next((a for a in accounts if a.role == Role.elder.value), None)
    if elder is None:
        raise NotFound(f"Elder {scope.elder_id} has no account to import as.")
    family = {
        a.id: chat_import.Person(a.id, a.display_name, chat_import.Speaker.family)
        for a in accounts
        if a.role == Role.family.value
    }
    return chat_import.Person(elder.id, elder.display_name, chat_import.Speaker.elder), family


def prepare(
    session: Session, scope: ElderScope, senders: Sequence[str], *, date_order: str = "auto"
) -> dict[str, str]:
    """Check what can be checked before the file is read: the sender mapping and the options."""
    if date_order not in chat_import.DATE_ORDERS:
        raise InvalidInput(f"Unknown date order {date_order!r}; choose dmy, mdy or ymd.")
    mapping = chat_import.parse_sender_mapping(senders)
    elder, family = _people(session, scope)
    for target in mapping.values():
        if target not in (chat_import.ELDER, elder.account_id) and target not in family:
            raise InvalidInput(
                f"{target!r} is neither 'elder' nor the id of a family account of this elder; "
                "'zhian admin list-accounts --elder ID' lists them."
            )
    return mapping


def create_job(session: Session, scope: ElderScope, request: ImportRequest) -> ChatImportJob:
    if request.format not in chat_import.FORMATS:
        raise InvalidInput(f"Unknown format {request.format!r}; choose line, whatsapp or csv.")
    job = ChatImportJob(
        elder_id=scope.elder_id,
        account_id=None if scope.actor is OPERATOR else scope.actor.account_id,
        account_name=scope.actor.display_name,
        format=request.format,
        filename=(request.filename or None) and request.filename[:255],
        options={
            "senders": request.senders,
            "keep_others": request.keep_others,
            "date_order": request.date_order,
        },
    )
    session.add(job)
    session.flush()
    record(
        session,
        actor=scope.actor,
        action="chat_import.start",
        elder_id=scope.elder_id,
        detail={"job_id": job.id, "format": request.format},
    )
    return job


def get_job(session: Session, scope: ElderScope, job_id: int) -> ChatImportJob:
    job = session.get(ChatImportJob, job_id)
    if job is None or job.elder_id != scope.elder_id:
        raise NotFound(f"No chat import {job_id} for this elder.")
    return _settled(session, job)


def _settled(session: Session, job: ChatImportJob) -> ChatImportJob:
    """A job cut off by a stop of the service says so, instead of running for ever."""
    with _live_lock:
        live = (job.id or 0) in _live
    if job.status in _RUNNING and not live and utcnow() - job.requested_at > STALE_AFTER:
        job.status, job.finished_at = "failed", utcnow()
        job.error = (
            "This import was cut off (the service stopped while it ran). Import the file again: "
            "whatever it had written is not written twice."
        )
        session.add(job)
    return job


def live_written(job: ChatImportJob) -> int:
    """Messages written so far, counting a write still under way in this process."""
    with _live_lock:
        return _live.get(job.id or 0, job.messages_written)


def list_jobs(session: Session, scope: ElderScope, *, limit: int = 50) -> list[ChatImportJob]:
    query = (
        select(ChatImportJob)
        .where(ChatImportJob.elder_id == scope.elder_id)
        .order_by(sa.desc(ChatImportJob.id))
        .limit(limit)
    )
    return [_settled(session, job) for job in session.exec(query)]


def _update(engine: sa.Engine, job_id: int, **values: object) -> None:
    with session_scope(engine) as session:
        session.execute(sa.update(ChatImportJob).where(ChatImportJob.id == job_id).values(**values))


def _fail(engine: sa.Engine, job_id: int, exc: ZhianError) -> None:
    problems = getattr(exc, "problems", None) or []
    _update(
        engine,
        job_id,
        status="failed",
        error=exc.message[:2000],
        errors=[{"line": p.line, "message": p.message} for p in problems[:MAX_ERRORS_KEPT]],
        finished_at=utcnow(),
    )


def run_job(
    engine: sa.Engine,
    job_id: int,
    caller: Caller,
    content: bytes,
    *,
    email: bool = False,
    on_progress: Progress | None = None,
) -> ChatImportJob:
    """Read, map and write one import; the job row says how it went (also when it failed)."""
    try:
        _run(engine, job_id, caller, content, email=email, on_progress=on_progress)
    except ZhianError as exc:
        _fail(engine, job_id, exc)
    except Exception as exc:  # the job says so in plain words; the operator's log has the rest
        log.exception("Chat import %s stopped", job_id)
        _fail(
            engine,
            job_id,
            ZhianError(
                f"The import stopped on an unexpected error ({type(exc).__name__}); nothing "
                "was imported. Try again, and report it if it happens again."
            ),
        )
    finally:
        with _live_lock:
            _live.pop(job_id, None)
    with Session(engine) as session:
        job = session.get(ChatImportJob, job_id)
        assert job is not None
        session.expunge(job)
        return job


def _run(
    engine: sa.Engine,
    job_id: int,
    caller: Caller,
    content: bytes,
    *,
    email: bool,
    on_progress: Progress | None,
) -> None:
    with Session(engine) as session:
        job = session.get(ChatImportJob, job_id)
        if job is None:
            raise NotFound(f"No chat import {job_id}.")
        elder_id, fmt, options, filename = job.elder_id, job.format, dict(job.options), job.filename
    _update(engine, job_id, status="reading")
    chat = chat_import.read_chat(content, fmt, date_order=options.get("date_order", "auto"))
    _update(engine, job_id, lines_total=chat.lines, lines_read=chat.lines)
    if on_progress:
        on_progress("reading", chat.lines, chat.lines)
    with Session(engine) as session:
        scope = import_scope(session, caller, elder_id)
        elder, family = _people(session, scope)
        plan = chat_import.plan_import(
            chat,
            options.get("senders", {}),
            people=family,
            elder=elder,
            timezone=scope.elder_timezone,
            keep_others=bool(options.get("keep_others")),
            now=utcnow(),
        )
    total = len(plan.messages)
    _update(engine, job_id, status="writing", messages_total=total)
    with _live_lock:
        _live[job_id] = 0
    conversation = f"{fmt}:{chat.title or (filename or 'chat')}"[:100]
    imported = 0
    with session_scope(engine) as session:
        scope = import_scope(session, caller, elder_id)
        for start in range(0, total, WRITE_CHUNK):
            chunk = plan.messages[start : start + WRITE_CHUNK]
            imported += _write(session, scope, chunk, conversation=conversation, email=email)
            done = start + len(chunk)
            with _live_lock:
                _live[job_id] = done
            if on_progress:
                on_progress("writing", done, total)
        counts = {
            "imported": imported,
            "already_there": total - imported,
            "system_lines": dict(plan.system),
            "senders": plan.senders,
            "mapped_but_not_in_file": plan.not_in_file,
            "date_order": chat.date_order,
        }
        record(
            session,
            actor=scope.actor,
            action="chat_import.done",
            elder_id=elder_id,
            detail={
                "job_id": job_id,
                "format": fmt,
                "imported": imported,
                "skipped": total - imported,
            },
        )
    _update(
        engine,
        job_id,
        status="done",
        messages_written=total,
        counts=counts,
        finished_at=utcnow(),
    )


def _write(
    session: Session,
    scope: ElderScope,
    chunk: Sequence[chat_import.PlannedMessage],
    *,
    conversation: str,
    email: bool,
) -> int:
    drafts = [
        store.MessageDraft(
            text=m.text,
            role=_ROLES[m.speaker],
            speaker=m.speaker_name,
            said_at=m.said_at,
            conversation_id=conversation,
            external_id=m.external_id,
        )
        for m in chunk
    ]
    result = store.import_messages(session, scope, drafts)
    authors = {m.external_id: m.account_id for m in chunk}
    for message in result.created:
        # The person who said it, not the one who brought the file in.
        message.author_account_id = authors.get(message.external_id or "") or (
            None if scope.actor is OPERATOR else scope.actor.account_id
        )
        session.add(message)
        observe(session, message, email=email)  # history gets a mood; old words raise nothing
    return len(result.created)


def progress(job: ChatImportJob, written: int) -> float:
    """0 to 1: reading the file is the first tenth, writing the rest; a failed job, 0."""
    if job.status == "done":
        return 1.0
    if job.status == "failed":
        return 0.0  # nothing of it was written
    if job.status in ("queued", "reading") or not job.messages_total:
        return 0.1 if job.lines_read else 0.0
    # Not done until the one transaction commits.
    return min(0.99, round(0.1 + 0.9 * written / job.messages_total, 3))

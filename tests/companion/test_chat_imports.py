"""An import job's progress while it writes, and a failure half way that leaves nothing."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from companion import chat_imports
from memory import db
from memory.access import resolve_scope
from memory.models import ChatImportJob, Memory, Message
from tests.conftest import World

MESSAGES = 2 * chat_imports.WRITE_CHUNK + 500


def _csv(count: int) -> bytes:
    rows = ["timestamp,sender,text"]
    rows += [
        f"2024-01-{1 + i // 1440:02d} {i // 60 % 24:02d}:{i % 60:02d},Mum,今天第{i}句話"
        for i in range(count)
    ]
    return "\n".join(rows).encode()


def _job(engine, world: World) -> int:
    with db.session_scope(engine) as session:
        scope = resolve_scope(session, chat_imports.OPERATOR, world.a.elder_id)
        request = chat_imports.ImportRequest(format="csv", senders={"mum": "elder"})
        return chat_imports.create_job(session, scope, request).id or 0


def _count(engine, table, elder_id: str) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(table).where(table.elder_id == elder_id)
        ).one()


def test_progress_is_seen_while_the_messages_are_written(engine, world):
    job_id = _job(engine, world)
    seen: list[tuple[str, int, int, str, float]] = []

    def watch(phase: str, done: int, total: int) -> None:
        with Session(engine) as session:  # as GET /imports/{id} reads it, from another session
            job = session.get(ChatImportJob, job_id)
            written = chat_imports.live_written(job)
            seen.append((phase, done, written, job.status, chat_imports.progress(job, written)))

    job = chat_imports.run_job(
        engine, job_id, chat_imports.OPERATOR, _csv(MESSAGES), on_progress=watch
    )
    assert job.status == "done", job.error
    assert [(phase, done, written, status) for phase, done, written, status, _ in seen] == [
        ("reading", MESSAGES + 1, 0, "reading"),
        ("writing", 1000, 1000, "writing"),
        ("writing", 2000, 2000, "writing"),
        ("writing", MESSAGES, MESSAGES, "writing"),
    ]
    shares = [share for *_, share in seen]
    assert shares == sorted(shares) and 0 < shares[0] < shares[-1] < 1
    assert job.counts["imported"] == MESSAGES and job.messages_written == MESSAGES
    assert _count(engine, Message, world.a.elder_id) == MESSAGES
    assert chat_imports.live_written(job) == MESSAGES  # from the row, once the job is over


def test_a_failure_after_the_first_chunks_leaves_nothing(engine, world, monkeypatch):
    job_id = _job(engine, world)
    heard = 0
    real = chat_imports.observe

    def fails_late(session, message, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal heard
        heard += 1
        if heard > chat_imports.WRITE_CHUNK + 10:
            raise RuntimeError("the disk went away")
        return real(session, message, **kwargs)

    monkeypatch.setattr(chat_imports, "observe", fails_late)
    job = chat_imports.run_job(engine, job_id, chat_imports.OPERATOR, _csv(MESSAGES))
    assert job.status == "failed"
    assert "nothing was imported" in job.error
    assert _count(engine, Message, world.a.elder_id) == 0
    assert _count(engine, Memory, world.a.elder_id) == 0


@pytest.mark.parametrize("status", ["done", "failed"])
def test_a_finished_job_is_not_counted_as_running(engine, world, status):
    job_id = _job(engine, world)
    content = _csv(3) if status == "done" else b"timestamp,sender,text\nsoon,Mum,hi\n"
    job = chat_imports.run_job(engine, job_id, chat_imports.OPERATOR, content)
    assert job.status == status
    assert chat_imports.progress(job, chat_imports.live_written(job)) == (
        1.0 if status == "done" else 0.0
    )

"""Backups: `zhian backup` of a database the service is writing, `zhian restore` into an empty
data directory, and a restored service whose every row, token and search answer equals the
original's. On SQLite + embedded Chroma and on PostgreSQL (pg_dump) + a Chroma server, with
the real e5-small embedder."""

from __future__ import annotations

import json
import tarfile
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import SQLModel

from api.cli import main
from memory import access, db, facts, store
from memory.backup import FORMAT, create_backup, read_manifest, restore_backup
from memory.embed import make_embedder
from memory.errors import Conflict, InvalidInput
from memory.index import VectorIndex
from memory.indexer import drain
from memory.models import (
    ConcernFlag,
    DaySummary,
    MessageRole,
    Reminder,
    ReminderOccurrence,
)
from memory.search import Query, search
from tests.conftest import PG_URL_VAR, Household, index_location

QUESTIONS = ["我女兒叫什麼名字?", "Who played chess on Sundays?", "血压", "日月潭"]


def fill_record(engine: sa.Engine, household: Household, words: str = "") -> dict:
    """Messages, facts with history, a private fact, a reminder with occurrences, a concern
    and a day summary for this household's elder; `words` marks every sentence."""
    said = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    lines = [
        (MessageRole.elder, f"我女兒叫美玲，她住在台中，每個禮拜天會打電話給我{words}"),
        (MessageRole.companion, f"美玲每個禮拜天打電話給您，真好。{words}"),
        (MessageRole.elder, f"My husband Robert loved playing chess on Sunday afternoons {words}"),
        (MessageRole.family, f"医生说妈妈的血压有点高，要少吃咸的东西{words}"),
        (MessageRole.elder, f"上個月我們去日月潭玩，坐了船，風景很漂亮{words}"),
    ]
    with db.session_scope(engine) as session:
        scope = access.elder_scope(session, household.elder_id)
        ids = []
        for position, (role, text) in enumerate(lines):
            message, _ = store.add_message(
                session,
                scope,
                store.MessageDraft(
                    text=text,
                    role=role,
                    said_at=said + timedelta(hours=position),
                    external_id=f"m{position}",
                ),
            )
            ids.append(message.id)
        kept = facts.add_fact(
            session,
            scope,
            facts.FactDraft(kind="person", text=f"女兒叫美玲{words}", subject="美玲"),
        ).fact
        facts.edit_fact(session, scope, kept.id, {"text": f"女兒美玲住在台中{words}"})
        secret = facts.add_fact(
            session,
            scope,
            facts.FactDraft(kind="health", text=f"私下吃安眠藥{words}", private=True),
        ).fact
        reminder = Reminder(
            elder_id=household.elder_id,
            title=f"吃降血壓的藥{words}",
            kind="medicine",
            rrule="FREQ=DAILY",
            starts_at="2026-11-20T08:00",
            timezone="Asia/Taipei",
            next_due_at=said + timedelta(days=2),
        )
        session.add(reminder)
        session.flush()
        for day, status in ((0, "done"), (1, "missed")):
            session.add(
                ReminderOccurrence(
                    reminder_id=reminder.id,
                    elder_id=household.elder_id,
                    due_at=said + timedelta(days=day),
                    status=status,
                    delivered_at=said + timedelta(days=day),
                    done_at=said + timedelta(days=day, minutes=5) if status == "done" else None,
                    missed_reason=None if status == "done" else "no_answer",
                )
            )
        session.add(
            ConcernFlag(
                elder_id=household.elder_id,
                kind="pain",
                severity="warning",
                summary=f"膝蓋痛{words}",
                message_id=ids[0],
            )
        )
        session.add(
            DaySummary(
                elder_id=household.elder_id,
                day=said.date(),
                text=f"談到女兒美玲{words}",
                message_ids=ids[:2],
                written_by="extract",
            )
        )
    return {"message_ids": ids, "fact_id": kept.id, "private_fact_id": secret.id}


def all_rows(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order (the index outbox flag left out: the
    index is rebuilt on restore)."""
    found: dict[str, list[tuple]] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.c if c.name != "index_pending"]
            order = list(table.primary_key.columns) or columns
            found[table.name] = [
                tuple(row) for row in conn.execute(sa.select(*columns).order_by(*order))
            ]
    return found


def answers(engine: sa.Engine, index: VectorIndex, elder_id: str) -> list[list[tuple]]:
    with db.session_scope(engine) as session:
        scope = access.elder_scope(session, elder_id)
        return [
            [
                (hit.memory.id, round(hit.score, 4))
                for hit in search(session, scope, index, Query(text=q, k=5)).hits
            ]
            for q in QUESTIONS
        ]


class CountingEmbedder:
    """The real embedder, counting the memories it is asked to embed."""

    def __init__(self) -> None:
        self.inner = make_embedder("e5-small")
        self.documents = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents += len(texts)
        return self.inner.embed_documents(texts)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


def _index(
    engine: sa.Engine,
    request: pytest.FixtureRequest,
    data_dir: Path,
    collection: str | None = None,
) -> VectorIndex:
    return VectorIndex(
        index_location(engine, request),
        CountingEmbedder(),  # type: ignore[arg-type]
        data_dir=data_dir,
        collection=collection or f"test-{uuid.uuid4().hex[:12]}",
    )


@pytest.fixture
def restore_target(engine: sa.Engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Where a backup of `engine` is restored: a new SQLite file in an empty data directory, or
    an emptied PostgreSQL database beside the test database."""
    data_dir = tmp_path / "restored"
    if engine.dialect.name == "sqlite":
        yield data_dir, f"sqlite:///{data_dir / 'zhian.db'}"
        return
    url = engine.url.set(database=f"{engine.url.database}_restore")
    admin = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    yield data_dir, url.render_as_string(hide_password=False)


def test_a_restored_service_equals_the_original(engine, world, tmp_path, request, restore_target):
    fill_record(engine, world.a)
    fill_record(engine, world.b, words=" (b)")
    original_index = _index(engine, request, tmp_path / "data")
    drain(engine, original_index)
    before_rows = all_rows(engine)
    before_answers = answers(engine, original_index, world.a.elder_id)

    archive = tmp_path / "zhian-backup.tar.gz"
    steps: list[str] = []
    manifest = create_backup(
        engine,
        archive,
        index=original_index,
        progress=lambda step, done, total: steps.append(step),
    )
    assert manifest.format == FORMAT and "Copying the memory index" in steps
    assert manifest.schema_revision == db.known_revisions()[0]
    assert manifest.counts["messages"] == 10 and manifest.counts["reminder_occurrences"] == 4
    memories = manifest.counts["memories"]
    assert manifest.vectors == {"collection": original_index.collection_name, "count": memories}
    assert read_manifest(archive) == manifest

    data_dir, url = restore_target
    restored_index = _index(engine, request, data_dir, original_index.collection_name)
    restore_backup(archive, data_dir=data_dir, database_url=url, index=restored_index)
    restored = db.make_engine(url)
    try:
        assert all_rows(restored) == before_rows
        # The vectors came back from the archive: not one memory was embedded again.
        assert restored_index.embedder.documents == 0
        assert restored_index.count(world.a.elder_id) == original_index.count(world.a.elder_id)
        with restored.connect() as conn:
            waiting = conn.execute(
                sa.text("SELECT count(*) FROM memories WHERE index_pending")
            ).scalar_one()
        assert waiting == 0
        assert answers(restored, restored_index, world.a.elder_id) == before_answers
        assert any(before_answers), "the questions found nothing: the comparison shows nothing"
        with db.session_scope(restored) as session:
            caller = access.authenticate(session, world.a.guardian)
            assert caller.is_guardian and caller.elder_id == world.a.elder_id
    finally:
        restored.dispose()


def test_without_the_carried_vectors_restore_embeds_every_memory_again(
    engine, world, tmp_path, request
):
    if engine.dialect.name != "sqlite":
        pytest.skip("the same code on PostgreSQL; the round trip above runs there")
    fill_record(engine, world.a)
    archive = tmp_path / "no-index.tar.gz"
    manifest = create_backup(engine, archive)  # no index given: nothing carried
    assert manifest.vectors is None
    data_dir = tmp_path / "restored"
    index = _index(engine, request, data_dir)
    restore_backup(
        archive, data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'zhian.db'}", index=index
    )
    assert index.embedder.documents == manifest.counts["memories"] > 0
    assert index.count(world.a.elder_id) == manifest.counts["memories"]


def test_a_backup_taken_while_the_service_writes_is_consistent(engine, world, tmp_path):
    stop = threading.Event()
    written: list[int] = []

    def keep_talking() -> None:
        n = 0
        while not stop.is_set():
            with db.session_scope(engine) as session:
                scope = access.elder_scope(session, world.a.elder_id)
                store.add_message(session, scope, store.MessageDraft(text=f"第{n}句話"))
            n += 1
            written.append(n)

    writer = threading.Thread(target=keep_talking)
    writer.start()
    try:
        while len(written) < 20:
            stop.wait(0.01)
        archive = tmp_path / "live.tar.gz"
        manifest = create_backup(engine, archive)
    finally:
        stop.set()
        writer.join()
    data_dir = tmp_path / "restored"
    if engine.dialect.name != "sqlite":
        pytest.skip("pg_dump's snapshot is PostgreSQL's own; the SQLite copy is zhian's")
    restore_backup(archive, data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'zhian.db'}")
    restored = db.make_engine(f"sqlite:///{data_dir / 'zhian.db'}")
    try:
        with restored.connect() as conn:
            messages = conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one()
            turns = conn.execute(
                sa.text("SELECT count(*) FROM memories WHERE kind = 'turn'")
            ).scalar_one()
        # Each message and its turn memory are written in one transaction: a torn copy
        # would hold one without the other.
        assert messages == turns == manifest.counts["messages"] >= 20
        assert manifest.counts["messages"] <= len(written) + 1
    finally:
        restored.dispose()


def test_restore_refuses_a_data_directory_that_holds_anything(engine, world, tmp_path):
    fill_record(engine, world.a)
    archive = tmp_path / "b.tar.gz"
    create_backup(engine, archive)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    with pytest.raises(Conflict, match="not empty"):
        restore_backup(archive, data_dir=busy, database_url=f"sqlite:///{busy / 'zhian.db'}")
    assert (busy / "notes.txt").read_text() == "keep me"
    with pytest.raises(Conflict, match="already exists"):
        create_backup(engine, archive)


def test_restore_refuses_a_damaged_or_foreign_archive(tmp_path):
    not_a_backup = tmp_path / "x.tar.gz"
    not_a_backup.write_bytes(b"hello")
    with pytest.raises(InvalidInput, match="not a zhian backup"):
        read_manifest(not_a_backup)
    newer = tmp_path / "newer.tar.gz"
    body = json.dumps(
        {
            "format": FORMAT,
            "zhian_version": "9.0",
            "created_at": "2030-01-01T00:00:00+00:00",
            "schema_revision": "0999",
            "database": "sqlite",
            "counts": {},
            "files": {},
        }
    ).encode()
    with tarfile.open(newer, "w:gz") as archive:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        import io

        archive.addfile(info, io.BytesIO(body))
    with pytest.raises(InvalidInput, match="does not know"):
        restore_backup(newer, data_dir=tmp_path / "d", database_url="sqlite:///unused.db")


def test_the_commands_back_up_and_restore_with_a_clear_refusal(
    engine, world, tmp_path, monkeypatch
):
    if engine.dialect.name != "sqlite":
        pytest.skip("the commands on PostgreSQL are the same functions, tested above")
    for key in ("ZHIAN_DATABASE_URL", "ZHIAN_VECTOR_INDEX"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv(PG_URL_VAR, raising=False)
    source = tmp_path / "source"
    source.mkdir()
    with engine.connect() as conn:  # the test database as the source's database file
        path = Path(conn.engine.url.database)
    monkeypatch.setenv("ZHIAN_DATA_DIR", str(source))
    monkeypatch.setenv("ZHIAN_DATABASE_URL", f"sqlite:///{path}")
    fill_record(engine, world.a)
    archive = tmp_path / "cli.tar.gz"
    runner = CliRunner()
    made = runner.invoke(main, ["backup", str(archive)])
    assert made.exit_code == 0, made.output
    assert "Backup written" in made.output and archive.exists()

    monkeypatch.delenv("ZHIAN_DATABASE_URL")
    target = tmp_path / "new-home"
    monkeypatch.setenv("ZHIAN_DATA_DIR", str(target))
    done = runner.invoke(main, ["restore", str(archive)])
    assert done.exit_code == 0, done.output
    assert "Restored the backup" in done.output and "memories are indexed" in done.output
    restored = db.make_engine(f"sqlite:///{target / 'zhian.db'}")
    try:
        assert all_rows(restored)["messages"] == all_rows(engine)["messages"]
    finally:
        restored.dispose()

    again = runner.invoke(main, ["restore", str(archive)])
    assert again.exit_code != 0
    said = " ".join(again.output.split())
    assert "is not empty" in said and "new, empty folder" in said


@pytest.mark.postgres
def test_without_pg_dump_the_backup_says_what_to_run(tmp_path, monkeypatch):
    import shutil

    from memory.backup import BackupUnavailable
    from tests.conftest import _postgres_url

    engine = db.make_engine(_postgres_url())
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name: None if name == "pg_dump" else real_which(name)
    )
    try:
        with pytest.raises(BackupUnavailable) as refused:
            create_backup(engine, tmp_path / "pg.tar.gz")
    finally:
        engine.dispose()
    said = refused.value.message
    assert "apt-get install postgresql-client" in said and "pg_dump --format=custom" in said
    password = sa.engine.make_url(_postgres_url()).password
    assert f":{password}@" not in said and "postgresql://postgres@" in said
    assert not (tmp_path / "pg.tar.gz").exists()

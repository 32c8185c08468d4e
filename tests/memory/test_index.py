"""The vector index under stress: many elders in one collection, crashes between the SQL commit
and the Chroma write, a Chroma server that goes away and comes back, a change of embedder.

SQLite runs with embedded Chroma, PostgreSQL with a Chroma server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from memory import store
from memory.access import Caller, resolve_scope
from memory.db import session_scope
from memory.index import IndexUnavailable, VectorIndex
from memory.indexer import adopt_new_collection, drain, drain_batch, pending_count
from memory.models import Memory, Permission, Role
from memory.search import Query, search
from tests.conftest import ChromaServer, bearer

ADMIN = Caller(account_id="admin", role=Role.admin, display_name="admin")
TOPICS = [
    "我女兒叫{name}，她住在台中",
    "I grew tomatoes in the garden with {name}",
    "今天{name}帶我去公園散步",
    "我的藥是早上吃一顆降血壓的",
    "My favourite song is the one {name} sings",
]


def _elders(engine, count: int, per_elder: int = len(TOPICS)) -> dict[str, list[int]]:
    """`count` elders, each with the same kinds of memories (and a name of their own)."""
    made: dict[str, list[int]] = {}
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        for n in range(count):
            elder = store.create_elder(
                session, display_name=f"Elder {n}", languages=["zh-Hant"], timezone="Asia/Taipei"
            )
            scope = resolve_scope(session, ADMIN, elder.id, permission=Permission.memories_write)
            drafts = [
                store.MessageDraft(
                    text=TOPICS[i % len(TOPICS)].format(name=f"名{n}"),
                    said_at=now - timedelta(hours=i),
                    external_id=f"{n}-{i}",
                )
                for i in range(per_elder)
            ]
            store.import_messages(session, scope, drafts)
            made[elder.id] = []
        for memory in session.exec(select(Memory)):
            made[memory.elder_id].append(memory.id)
    return made


def _scope(session, elder_id: str, caller: Caller = ADMIN):
    return resolve_scope(session, caller, elder_id, permission=Permission.memories_read)


def test_many_elders_in_one_index_never_see_each_other(engine, vector_index):
    elders = _elders(engine, 40)
    assert drain(engine, vector_index) == 40 * len(TOPICS)
    assert vector_index.count() == 40 * len(TOPICS)
    queries = ["我女兒住在哪裡", "tomatoes garden", "降血壓的藥", "名7", "song", "公園"]
    with session_scope(engine) as session:
        for elder_id, own in elders.items():
            for text in queries:
                result = search(
                    session, _scope(session, elder_id), vector_index, Query(text=text, k=100)
                )
                assert result.hits, (elder_id, text)
                assert {h.memory.elder_id for h in result.hits} == {elder_id}
                assert {h.memory.id for h in result.hits} <= set(own)
            # The index layer itself keeps elders apart: asked with another elder's words,
            # still only its own, and its collection holds nothing else.
            vector = vector_index.embedder.embed_query("我女兒叫名3")
            hits = vector_index.query(elder_id, vector, k=100)
            assert {h.memory_id for h in hits} == set(own)
            stored = vector_index.collection(elder_id).get(include=["metadatas"])
            assert {m["elder_id"] for m in stored["metadatas"]} == {elder_id}


def test_a_failed_index_write_loses_nothing(engine, vector_index, monkeypatch):
    _elders(engine, 2)
    real_upsert = vector_index.upsert

    def down(*args, **kwargs):
        raise IndexUnavailable("the vector index is down")

    monkeypatch.setattr(vector_index, "upsert", down)
    with pytest.raises(IndexUnavailable):
        drain(engine, vector_index)
    assert pending_count(engine) == 2 * len(TOPICS)
    monkeypatch.setattr(vector_index, "upsert", real_upsert)
    assert drain(engine, vector_index) == 2 * len(TOPICS)
    assert pending_count(engine) == 0
    assert vector_index.count() == 2 * len(TOPICS)


def test_a_crash_after_the_index_write_indexes_again_without_duplicates(engine, vector_index):
    _elders(engine, 1)
    with session_scope(engine) as session:
        pending = list(session.exec(select(Memory)))
    vector_index.upsert(pending)  # written to Chroma, then the process died before the SQL flip
    assert pending_count(engine) == len(TOPICS)
    assert drain(engine, vector_index) == len(TOPICS)
    assert vector_index.count() == len(TOPICS)


_DRAINER = """
import sys, time
import sqlalchemy as sa
from memory.db import make_engine
from memory.embed import make_embedder
from memory.index import VectorIndex
from memory import indexer

engine = make_engine(sys.argv[1])
index = VectorIndex(sys.argv[2], make_embedder("e5-small"), data_dir=__import__("pathlib").Path(sys.argv[3]),
                    collection=sys.argv[4])
real_upsert = index.upsert
def slow_upsert(memories, vectors=None):
    real_upsert(memories, vectors)
    print("batch", flush=True)
    time.sleep(0.5)
index.upsert = slow_upsert
indexer.drain(engine, index, batch=4)
print("finished", flush=True)
"""


def test_a_killed_indexer_resumes_where_it_stopped(engine, vector_index, settings, tmp_path):
    _elders(engine, 6)  # 30 memories: 8 batches of 4
    url = engine.url.render_as_string(hide_password=False)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(_DRAINER),
            url,
            vector_index.location,
            str(settings.data_dir),
            vector_index.collection_name,
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "batch"
    assert process.stdout.readline().strip() == "batch"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    left = pending_count(engine)
    assert 0 < left < 30
    assert drain(engine, vector_index) == left
    assert pending_count(engine) == 0
    assert vector_index.count() == 30


def test_a_new_embedder_collection_fills_itself(engine, vector_index, settings):
    _elders(engine, 2)
    drain(engine, vector_index)
    renamed = VectorIndex(
        vector_index.location,
        vector_index.embedder,
        data_dir=settings.data_dir,
        collection=f"test-{uuid.uuid4().hex[:12]}",
    )
    assert adopt_new_collection(engine, renamed) == 2 * len(TOPICS)
    assert drain(engine, renamed) == 2 * len(TOPICS)
    assert renamed.count() == 2 * len(TOPICS)
    assert adopt_new_collection(engine, renamed) == 0  # not empty any more: nothing to do


def _wait_for(predicate, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError("timed out waiting")


def test_the_background_indexer_indexes_new_messages(engine, settings, world, vector_index):
    app = create_app(settings.model_copy(update={"index_in_background": True}), engine=engine)
    app.state.vector_index = vector_index
    with TestClient(app) as client:
        r = client.post(
            f"/v1/elders/{world.a.elder_id}/messages",
            json={"text": "孫子下個月要結婚了", "role": "elder"},
            headers=bearer(world.a.elder),
        )
        assert r.status_code == 201
        status = f"/v1/elders/{world.a.elder_id}/index-status"
        _wait_for(lambda: client.get(status, headers=bearer(world.a.elder)).json()["indexed"] == 1)


@pytest.mark.postgres
def test_chroma_server_down_then_back(engine, settings, world, tmp_path):
    if engine.dialect.name != "postgresql":
        pytest.skip("the Chroma server runs beside PostgreSQL")
    server = ChromaServer(tmp_path / "chroma")
    server.start()
    try:
        app = create_app(
            settings.model_copy(update={"index_in_background": True, "vector_index": server.url}),
            engine=engine,
        )
        with TestClient(app, raise_server_exceptions=False) as client:
            elder = world.a
            base = f"/v1/elders/{elder.elder_id}"
            status = lambda: client.get(f"{base}/index-status", headers=bearer(elder.elder)).json()  # noqa: E731
            first = client.post(
                f"{base}/messages", json={"text": "我今天去市場買了魚"}, headers=bearer(elder.elder)
            )
            assert first.status_code == 201
            _wait_for(lambda: status()["indexed"] == 1)

            server.stop()
            for text in ("下午我跟老朋友阿雄下棋", "晚上女兒打電話來問我吃藥了沒"):
                r = client.post(
                    f"{base}/messages", json={"text": text}, headers=bearer(elder.elder)
                )
                assert r.status_code == 201, r.text
            assert status() == {"pending": 2, "indexed": 1}
            found = client.post(
                f"{base}/memories:search", json={"query": "阿雄下棋"}, headers=bearer(elder.elder)
            )
            assert found.status_code == 200, found.text
            assert found.json()["degraded"] is True
            assert "阿雄" in found.json()["results"][0]["text"]

            server.start()  # same port, same data: nobody tells zhian
            _wait_for(lambda: status() == {"pending": 0, "indexed": 3}, seconds=90)
            again = client.post(
                f"{base}/memories:search", json={"query": "阿雄下棋"}, headers=bearer(elder.elder)
            ).json()
            assert again["degraded"] is False and "阿雄" in again["results"][0]["text"]
    finally:
        server.stop()


def test_drain_batch_for_one_elder_leaves_the_others(engine, vector_index):
    elders = list(_elders(engine, 3))
    while drain_batch(engine, vector_index, elder_id=elders[0]):
        pass
    assert pending_count(engine, elders[0]) == 0
    assert pending_count(engine, elders[1]) == len(TOPICS)
    with session_scope(engine) as session:
        assert session.exec(select(sa.func.count()).select_from(Memory)).one() == 3 * len(TOPICS)

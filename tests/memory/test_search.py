"""Hybrid recall through the API, on SQLite + embedded Chroma and PostgreSQL + a Chroma server,
with the real e5-small embedder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from memory.db import session_scope
from memory.indexer import drain
from memory.models import Memory
from tests.conftest import World, bearer

AS_OF = "2026-11-25T20:00:00+08:00"


def _add(
    client, world: World, text: str, said_at: str, *, elder: str = "a", external_id=None
) -> dict:
    household = getattr(world, elder)
    body = {"text": text, "said_at": said_at, "role": "elder"}
    if external_id:
        body["external_id"] = external_id
    r = client.post(
        f"/v1/elders/{household.elder_id}/messages", json=body, headers=bearer(world.admin)
    )
    assert r.status_code == 201, r.text
    return r.json()


def _search(
    client, world: World, query: str, *, token: str | None = None, elder: str = "a", **extra
):
    household = getattr(world, elder)
    r = client.post(
        f"/v1/elders/{household.elder_id}/memories:search",
        json={"query": query, **extra},
        headers=bearer(token or household.elder),
    )
    assert r.status_code == 200, r.text
    return r.json()


LIFE = [
    ("我女兒叫美玲，她住在台中，每個禮拜天會打電話給我", "2026-03-02T10:00:00", "m1"),
    ("民國五十七年我們從台南搬到台北，那時候我二十歲", "2026-04-11T15:30:00", "m2"),
    (
        "I used to grow tomatoes and roses in the garden behind our house",
        "2026-06-20T09:00:00",
        "m3",
    ),
    ("医生说我的血压有点高，要少吃咸的东西", "2026-10-28T11:00:00", "m4"),
    ("上個月我們去日月潭玩，坐了船，風景很漂亮", "2026-11-20T19:00:00", "m5"),
    ("My husband Robert loved playing chess on Sunday afternoons", "2026-11-24T16:00:00", "m6"),
]


@pytest.fixture
def life(search_client, world, engine, vector_index) -> dict[str, int]:
    ids = {
        ext: _add(search_client, world, text, said, external_id=ext)["id"]
        for text, said, ext in LIFE
    }
    assert drain(engine, vector_index) == len(LIFE)
    return ids


def _texts(result: dict) -> list[str]:
    return [hit["text"] for hit in result["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("我女兒叫什麼名字？", "美玲"),  # zh-Hant, same words
        ("我女儿住在哪里", "美玲"),  # zh-Hans question, Traditional memory
        ("我的血壓怎麼樣", "血压"),  # zh-Hant question, Simplified memory
        ("what flowers did I grow?", "roses"),
        ("Who liked chess?", "Robert"),
        ("我們什麼時候搬到台北的", "台南"),
    ],
)
def test_finds_the_right_memory_in_three_languages(search_client, world, life, query, expected):
    result = _search(search_client, world, query, k=3, as_of=AS_OF)
    assert result["degraded"] is False
    assert expected in result["results"][0]["text"], _texts(result)


def test_a_result_carries_its_source_and_times(search_client, world, life):
    result = _search(search_client, world, "garden tomatoes", k=1)
    hit = result["results"][0]
    assert hit["id"] and hit["kind"] == "turn" and hit["score"] > 0
    assert hit["sources"] == [{"message_id": life["m3"], "external_id": "m3"}]
    assert hit["said_at"].startswith("2026-06-20T01:00:00")  # 09:00 in Taipei, stored in UTC
    assert hit["event_time"] is None
    assert hit["language"] == "en" and hit["role"] == "elder"


def test_index_status_counts_pending_until_indexed(search_client, world, engine, vector_index):
    _add(search_client, world, "今天下雨，我在家裡看電視", "2026-11-25T10:00:00")
    _add(search_client, world, "下午孫子來看我", "2026-11-25T15:00:00")
    url = f"/v1/elders/{world.a.elder_id}/index-status"
    assert search_client.get(url, headers=bearer(world.a.elder)).json() == {
        "pending": 2,
        "indexed": 0,
    }
    # Not yet indexed, still found by its words.
    assert "孫子" in _texts(_search(search_client, world, "孫子"))[0]
    drain(engine, vector_index)
    assert search_client.get(url, headers=bearer(world.a.elder)).json() == {
        "pending": 0,
        "indexed": 2,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("上個月我跟醫生說了什麼", "血压"),  # October, as seen from 25 November
        ("what did I say last week?", "日月潭"),  # 16-23 November
        ("昨天我說了什麼", "Robert"),
        ("what did I talk about in March?", "美玲"),
    ],
)
def test_time_words_pick_the_period(search_client, world, life, query, expected):
    result = _search(search_client, world, query, k=3, as_of=AS_OF)
    assert expected in result["results"][0]["text"], _texts(result)
    assert result["period"] is not None


def test_as_of_hides_what_was_said_later(search_client, world, life):
    result = _search(
        search_client, world, "chess Robert husband", k=10, as_of="2026-07-01T00:00:00"
    )
    assert all("Robert" not in text for text in _texts(result))
    assert all(hit["said_at"] < "2026-07-01" for hit in result["results"])


def test_as_of_can_read_time_words_without_hiding_what_came_later(search_client, world, life):
    from memory.access import caller_for, elder_account, resolve_scope
    from memory.search import Query, search

    app = search_client.app
    as_of = datetime(2026, 7, 1, tzinfo=UTC)
    with session_scope(app.state.engine) as session:
        scope = resolve_scope(
            session, caller_for(elder_account(session, world.a.elder_id)), world.a.elder_id
        )
        index = app.state.vector_index
        hidden = search(session, scope, index, Query("chess Robert husband", k=10, as_of=as_of))
        shown = search(
            session,
            scope,
            index,
            Query("chess Robert husband", k=10, as_of=as_of, hide_later=False),
        )
    assert all("Robert" not in h.memory.text for h in hidden.hits)
    assert "Robert" in shown.hits[0].memory.text


def test_since_until_and_kinds_filter(search_client, world, life):
    result = _search(
        search_client,
        world,
        "我",
        k=10,
        since="2026-04-01T00:00:00",
        until="2026-07-01T00:00:00",
        kinds=["turn"],
    )
    said = [hit["said_at"] for hit in result["results"]]
    assert said and all("2026-03-31T16" <= s < "2026-06-30T16:00:01" for s in said)


def test_private_memories_reach_only_the_elder(search_client, world, life, engine, vector_index):
    with session_scope(engine) as session:
        session.execute(
            sa.update(Memory)
            .where(Memory.id == _memory_of(engine, life["m1"]))
            .values(private=True, index_pending=True)
        )
    drain(engine, vector_index)
    for token in (world.a.guardian, world.a.family_full, world.a.family_reader, world.admin):
        result = _search(search_client, world, "我女兒美玲住在台中", token=token, k=10)
        assert all("美玲" not in text for text in _texts(result)), token
    assert "美玲" in _texts(_search(search_client, world, "我女兒美玲住在台中", k=1))[0]


def _memory_of(engine, message_id: int) -> int:
    from memory.models import MemorySource

    with session_scope(engine) as session:
        return session.execute(
            sa.select(MemorySource.memory_id).where(MemorySource.message_id == message_id)
        ).scalar_one()


def test_deleting_a_message_removes_its_memory_from_sql_and_index(
    search_client, world, life, engine, vector_index
):
    memory_id = _memory_of(engine, life["m6"])
    r = search_client.delete(
        f"/v1/elders/{world.a.elder_id}/messages/{life['m6']}", headers=bearer(world.admin)
    )
    assert r.status_code == 204
    assert all("Robert" not in t for t in _texts(_search(search_client, world, "Robert chess")))
    drain(engine, vector_index)
    assert vector_index.collection(world.a.elder_id).get(ids=[str(memory_id)])["ids"] == []
    with session_scope(engine) as session:
        assert session.get(Memory, memory_id) is None


def test_another_household_sees_nothing(search_client, world, life):
    # Household B's elder asks its own elder: nothing of A's.
    result = _search(search_client, world, "美玲 台中 Robert chess", elder="b", k=10)
    assert result["results"] == []
    # B's people asking about A: the same 404 as a missing elder.
    r = search_client.post(
        f"/v1/elders/{world.a.elder_id}/memories:search",
        json={"query": "美玲"},
        headers=bearer(world.b.elder),
    )
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"query": ""}, "query"),
        ({"query": "   "}, "empty"),
        ({"query": "美玲", "k": 101}, "at most 100"),
        ({"query": "美玲", "k": 0}, "between 1 and 100"),
        ({"query": "美玲", "kinds": ["dream"]}, "kinds"),
        ({"query": "美玲", "as_of": "yesterday-ish"}, "as_of"),
        ({"query": "美玲", "colour": "blue"}, "colour"),
        ({"k": 3}, "query"),
    ],
)
def test_bad_search_requests_are_explained(search_client, world, body, fragment):
    r = search_client.post(
        f"/v1/elders/{world.a.elder_id}/memories:search", json=body, headers=bearer(world.a.elder)
    )
    assert r.status_code == 422, r.text
    assert fragment in r.json()["message"]


def test_unknown_elder_is_404(search_client, world):
    r = search_client.post(
        "/v1/elders/0123456789abcdef0123456789abcdef/memories:search",
        json={"query": "美玲"},
        headers=bearer(world.admin),
    )
    assert r.status_code == 404


def test_search_by_family_is_audited_without_the_words(search_client, world, life):
    _search(search_client, world, "美玲的秘密", token=world.a.family_reader)
    audit = search_client.get(
        f"/v1/elders/{world.a.elder_id}/audit", headers=bearer(world.a.guardian)
    ).json()
    events = [e for e in audit["items"] if e["action"] == "memories.search"]
    assert events and "秘密" not in str(events)


def test_recent_beats_old_when_otherwise_equal(search_client, world, engine, vector_index):
    now = datetime.now(UTC)
    old = (now - timedelta(days=400)).isoformat()
    new = (now - timedelta(days=1)).isoformat()
    _add(search_client, world, "我今天吃了藥", old)
    _add(search_client, world, "我今天吃了藥", new)
    drain(engine, vector_index)
    hits = _search(search_client, world, "吃藥", k=2)["results"]
    assert hits[0]["said_at"] > hits[1]["said_at"]

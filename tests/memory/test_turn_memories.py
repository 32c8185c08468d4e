"""Every message becomes a turn-level memory at once; deleting the message deletes it."""

from __future__ import annotations

from sqlmodel import select

from memory import access, db, store
from memory.models import IndexTombstone, Memory
from tests.conftest import bearer


def _scope(session, world):
    caller = access.caller_for(access.elder_account(session, world.a.elder_id))
    return access.resolve_scope(session, caller, world.a.elder_id)


def test_messages_become_pending_turn_memories_and_leave_with_their_message(client, engine, world):
    a = world.a
    url = f"/v1/elders/{a.elder_id}"
    batch = [
        {
            "text": f"第{i}天",
            "said_at": f"2026-11-0{i + 1}T09:00:00",
            "external_id": f"t{i}",
            "role": "elder",
            "speaker": "林美華",
        }
        for i in range(4)
    ]
    assert (
        client.post(
            f"{url}/messages:import", json={"messages": batch}, headers=bearer(a.elder)
        ).status_code
        == 200
    )
    one = client.post(
        f"{url}/messages", json={"text": "My hip hurts today"}, headers=bearer(a.elder)
    ).json()
    status = client.get(f"{url}/index-status", headers=bearer(a.family_reader))
    assert status.json() == {"pending": 5, "indexed": 0}
    assert client.get(f"{url}/index-status", headers=bearer(a.creator)).status_code == 403

    with db.session_scope(engine) as session:
        scope = _scope(session, world)
        [memory] = store.memories_from_message(session, scope, one["id"])
        assert (memory.kind, memory.text, memory.role, memory.language) == (
            "turn",
            "My hip hurts today",
            "elder",
            "en",
        )
        assert memory.said_at.isoformat() == one["said_at"].replace("Z", "+00:00")
        memory_id = memory.id

    assert client.delete(f"{url}/messages/{one['id']}", headers=bearer(a.elder)).status_code == 204
    assert client.get(f"{url}/index-status", headers=bearer(a.elder)).json()["pending"] == 4
    with db.session_scope(engine) as session:
        assert session.get(Memory, memory_id) is None
        tombstones = session.exec(select(IndexTombstone)).all()
        assert [(t.memory_id, t.elder_id) for t in tombstones] == [(memory_id, a.elder_id)]


def test_reimporting_makes_no_second_memory(client, world):
    a = world.a
    batch = {"messages": [{"text": "同一句", "said_at": "2026-11-01T09:00:00", "external_id": "x"}]}
    for _ in range(2):
        client.post(f"/v1/elders/{a.elder_id}/messages:import", json=batch, headers=bearer(a.elder))
    status = client.get(f"/v1/elders/{a.elder_id}/index-status", headers=bearer(a.elder)).json()
    assert status == {"pending": 1, "indexed": 0}

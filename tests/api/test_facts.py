"""Facts about the elder's life: reconciled (a move retires the old address, never deletes it),
reviewed by the family, with sources and a history; private facts reach no family view."""

from __future__ import annotations

from datetime import datetime

import pytest

from memory import db, facts, store
from memory.access import caller_for, elder_account, resolve_scope
from memory.models import MessageRole
from tests.conftest import bearer


def _told(engine, elder_id: str, text: str, said_at: str, draft: facts.FactDraft) -> int:
    """The elder says something and the companion takes a fact from it (as extraction does)."""
    with db.session_scope(engine) as session:
        scope = resolve_scope(session, caller_for(elder_account(session, elder_id)), elder_id)
        message, _ = store.add_message(
            session,
            scope,
            store.MessageDraft(
                text=text, role=MessageRole.elder, said_at=datetime.fromisoformat(said_at)
            ),
        )
        remembered = facts.remember_fact(
            session, scope, draft, sources=[message], author=facts.COMPANION
        )
        assert remembered is not None
        return remembered.fact.id


def _lives_in(city: str, text: str) -> facts.FactDraft:
    return facts.FactDraft(kind="place", text=text, attribute="lives_in", value=city)


def test_moving_house_retires_the_old_address_and_keeps_it(client, engine, world):
    a = world.a
    tainan = _told(
        engine, a.elder_id, "我住在台南", "2026-10-01T10:00:00", _lives_in("台南", "我住在台南")
    )
    again = _told(
        engine, a.elder_id, "我住在台南啦", "2026-10-20T10:00:00", _lives_in("台南", "我住在台南")
    )
    assert again == tainan  # a repeat adds a source, not a second fact
    taipei = _told(
        engine, a.elder_id, "我搬到台北了", "2026-11-20T10:00:00", _lives_in("台北", "我搬到台北了")
    )

    base = f"/v1/elders/{a.elder_id}/facts"
    current = client.get(base, headers=bearer(a.family_full)).json()
    assert [(f["id"], f["value"]) for f in current] == [(taipei, "台北")]
    everything = client.get(base, params={"include_retired": True}, headers=bearer(a.family_full))
    old = next(f for f in everything.json() if f["id"] == tainan)
    assert old["valid_to"].startswith("2026-11-20") and old["superseded_by"] == taipei

    sources = client.get(f"{base}/{tainan}/sources", headers=bearer(a.family_full)).json()
    assert [m["text"] for m in sources] == ["我住在台南", "我住在台南啦"]
    sources = client.get(f"{base}/{taipei}/sources", headers=bearer(a.family_full)).json()
    assert [m["text"] for m in sources] == ["我搬到台北了"]

    history = client.get(
        f"/v1/elders/{a.elder_id}/memories/{tainan}/history", headers=bearer(a.family_full)
    ).json()
    assert [e["action"] for e in history] == ["created", "merged", "retired"]
    assert history[0]["actor_role"] == "companion"
    assert history[1]["after"]["status"] == "confirmed"  # the elder said it again
    assert (
        history[2]["before"]["valid_to"] is None and history[2]["after"]["superseded_by"] == taipei
    )

    # What the companion recalls is the current address only.
    found = client.post(
        f"/v1/elders/{a.elder_id}/memories:search",
        json={"query": "我住在台南還是台北", "k": 20, "kinds": ["place"]},
        headers=bearer(a.elder),
    ).json()["results"]
    assert [r["id"] for r in found] == [taipei]

    # A retired fact is history: it cannot be edited.
    edit = client.patch(
        f"{base}/{tainan}", json={"text": "我住在高雄"}, headers=bearer(a.family_full)
    )
    assert edit.status_code == 409
    assert str(taipei) in edit.json()["message"]


def test_the_family_reviews_facts(client, engine, world):
    a = world.a
    fact = _told(
        engine,
        a.elder_id,
        "我女兒美玲每個星期天來看我",
        "2026-11-01T10:00:00",
        facts.FactDraft(kind="relationship", text="女兒美玲每個星期天來看她", subject="美玲"),
    )
    base = f"/v1/elders/{a.elder_id}/facts"
    listed = client.get(base, params={"status": "unconfirmed"}, headers=bearer(a.family_reader))
    assert [f["id"] for f in listed.json()] == [fact]

    approved = client.post(f"{base}/{fact}:approve", headers=bearer(a.family_full))
    assert approved.status_code == 200 and approved.json()["status"] == "confirmed"
    edited = client.patch(
        f"{base}/{fact}", json={"text": "女兒美玲每個星期六來看她"}, headers=bearer(a.family_full)
    )
    assert edited.status_code == 200 and edited.json()["text"] == "女兒美玲每個星期六來看她"
    rejected = client.post(f"{base}/{fact}:reject", headers=bearer(a.family_full))
    assert rejected.json()["status"] == "rejected"

    history = client.get(
        f"/v1/elders/{a.elder_id}/memories/{fact}/history", headers=bearer(a.family_reader)
    ).json()
    assert [e["action"] for e in history] == ["created", "approved", "edited", "rejected"]
    assert history[2]["before"]["text"] == "女兒美玲每個星期天來看她"
    assert history[2]["after"]["text"] == "女兒美玲每個星期六來看她"
    assert {e["actor_name"] for e in history[1:]} == {"林美華 family_full"}

    # Rejected: never used again, and not taken again from the same words.
    with db.session_scope(engine) as session:
        scope = resolve_scope(session, caller_for(elder_account(session, a.elder_id)), a.elder_id)
        assert (
            facts.remember_fact(
                session,
                scope,
                facts.FactDraft(
                    kind="relationship", text="女兒美玲每個星期六來看她", subject="美玲"
                ),
                sources=[],
                author=facts.COMPANION,
            )
            is None
        )
    assert client.get(base, headers=bearer(a.family_full)).json()[0]["status"] == "rejected"

    deleted = client.delete(f"{base}/{fact}", headers=bearer(a.family_full))
    assert deleted.status_code == 204
    assert client.get(base, headers=bearer(a.family_full)).json() == []
    assert (
        client.patch(
            f"{base}/{fact}", json={"text": "x"}, headers=bearer(a.family_full)
        ).status_code
        == 409
    )
    history = client.get(
        f"/v1/elders/{a.elder_id}/memories/{fact}/history", headers=bearer(a.family_full)
    ).json()
    assert history[-1]["action"] == "deleted"


def test_a_deleted_fact_is_404_and_points_to_its_history(client, world):
    a = world.a
    base = f"/v1/elders/{a.elder_id}/facts"
    made = client.post(base, json={"type": "place", "text": "老家在嘉義"}, headers=bearer(a.elder))
    fact = made.json()["fact"]["id"]
    assert client.delete(f"{base}/{fact}", headers=bearer(a.family_full)).status_code == 204
    history = f"/v1/elders/{a.elder_id}/memories/{fact}/history"
    for role in ("elder", "guardian", "family_full", "family_reader"):
        gone = client.get(f"{base}/{fact}", headers=bearer(getattr(a, role)))
        assert gone.status_code == 404, (role, gone.text)
        assert gone.json()["error"] == "not_found" and "老家" not in gone.text
        assert "deleted on" in gone.json()["message"] and history in gone.json()["message"]
        sources = client.get(f"{base}/{fact}/sources", headers=bearer(getattr(a, role)))
        assert sources.status_code == 404 and history in sources.json()["message"]
    events = client.get(history, headers=bearer(a.family_reader))
    assert [e["action"] for e in events.json()] == ["created", "deleted"]


def test_a_family_member_adds_a_fact_and_a_repeat_adds_nothing(client, world):
    a = world.a
    base = f"/v1/elders/{a.elder_id}/facts"
    body = {
        "type": "preference",
        "text": "媽媽最喜歡吃虱目魚粥",
        "attribute": "likes",
        "value": "虱目魚粥",
    }
    first = client.post(base, json=body, headers=bearer(a.family_full))
    assert first.status_code == 201, first.text
    assert first.json()["action"] == "created"
    assert first.json()["fact"]["status"] == "confirmed"
    assert first.json()["fact"]["added_by"] == "family"
    second = client.post(base, json=body, headers=bearer(a.family_full))
    assert second.json()["action"] == "merged"
    assert second.json()["fact"]["id"] == first.json()["fact"]["id"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"type": "place", "text": "   "}, 422, "text"),
        ({"type": "spaceship", "text": "我有一艘太空船"}, 422, "type"),
        ({"type": "place", "text": "\x00"}, 422, "NUL"),
    ],
)
def test_bad_facts_are_refused_with_a_reason(client, world, body, status, words):
    a = world.a
    r = client.post(f"/v1/elders/{a.elder_id}/facts", json=body, headers=bearer(a.family_full))
    assert r.status_code == status, r.text
    assert words in r.json()["message"]


def test_who_may_do_what_with_facts(client, world):
    a = world.a
    base = f"/v1/elders/{a.elder_id}/facts"
    body = {"type": "place", "text": "老家在嘉義"}
    assert client.post(base, json=body, headers=bearer(a.family_reader)).status_code == 403
    assert client.post(base, json=body, headers=bearer(a.family_none)).status_code == 403
    assert client.get(base, headers=bearer(a.family_none)).status_code == 403
    assert client.get(base, headers=bearer(world.b.elder)).status_code == 404
    made = client.post(base, json=body, headers=bearer(a.guardian)).json()["fact"]["id"]
    edit = client.patch(
        f"{base}/{made}", json={"text": "老家在民雄"}, headers=bearer(a.family_reader)
    )
    assert edit.status_code == 403
    assert "memories:write" in edit.json()["message"]
    assert client.get(f"{base}/{made}", headers=bearer(world.b.family_full)).status_code == 404


def test_a_private_fact_appears_in_no_family_view(client, engine, world):
    a = world.a
    base = f"/v1/elders/{a.elder_id}/facts"
    secret = client.post(
        base,
        json={"type": "health", "text": "我偷偷在吃止痛藥", "private": True},
        headers=bearer(a.elder),
    ).json()["fact"]["id"]
    assert [f["id"] for f in client.get(base, headers=bearer(a.elder)).json()] == [secret]
    for token in (a.family_full, a.guardian, a.family_reader):
        assert client.get(base, headers=bearer(token)).json() == []
        assert client.get(f"{base}/{secret}", headers=bearer(token)).status_code == 404
        assert client.get(f"{base}/{secret}/sources", headers=bearer(token)).status_code == 404
        history = client.get(
            f"/v1/elders/{a.elder_id}/memories/{secret}/history", headers=bearer(token)
        )
        assert history.status_code == 404
        found = client.post(
            f"/v1/elders/{a.elder_id}/memories:search",
            json={"query": "止痛藥", "k": 20},
            headers=bearer(token),
        ).json()["results"]
        assert all(r["id"] != secret for r in found)


def test_family_reads_of_facts_are_audited(client, world):
    a = world.a
    client.get(f"/v1/elders/{a.elder_id}/facts", headers=bearer(a.family_reader))
    client.get(f"/v1/elders/{a.elder_id}/facts", headers=bearer(a.elder))
    audit = client.get(f"/v1/elders/{a.elder_id}/audit", headers=bearer(a.elder)).json()
    reads = [e for e in audit["items"] if e["action"] == "facts.list"]
    assert [e["actor_name"] for e in reads] == ["林美華 family_reader"]


def test_deleting_the_message_deletes_the_fact_that_came_only_from_it(client, engine, world):
    a = world.a
    fact = _told(
        engine,
        a.elder_id,
        "我養了一隻貓叫咪咪",
        "2026-11-01T10:00:00",
        facts.FactDraft(kind="person", text="養了一隻貓叫咪咪", attribute="pet", value="咪咪"),
    )
    base = f"/v1/elders/{a.elder_id}"
    source = client.get(f"{base}/facts/{fact}/sources", headers=bearer(a.elder)).json()[0]["id"]
    assert client.delete(f"{base}/messages/{source}", headers=bearer(a.elder)).status_code == 204
    assert client.get(f"{base}/facts/{fact}", headers=bearer(a.elder)).status_code == 404
    history = client.get(f"{base}/memories/{fact}/history", headers=bearer(a.elder)).json()
    assert [e["action"] for e in history] == ["created", "deleted"]


def test_without_a_language_model_memory_and_facts_still_work(engine, settings, world):
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(
        settings.model_copy(update={"llm": "none", "extract_in_background": True}), engine=engine
    )
    a = world.a
    with TestClient(app, raise_server_exceptions=False) as client:
        said = client.post(
            f"/v1/elders/{a.elder_id}/chat", json={"message": "我住在台南"}, headers=bearer(a.elder)
        )
        assert said.status_code == 503
        assert "休息" in said.json()["message"]
        added = client.post(
            f"/v1/elders/{a.elder_id}/facts",
            json={"type": "place", "text": "住在台南", "attribute": "lives_in", "value": "台南"},
            headers=bearer(a.family_full),
        )
        assert added.status_code == 201
        status = client.get(f"/v1/elders/{a.elder_id}/extraction-status", headers=bearer(a.elder))
        assert status.json()["pending"] == 1  # read by the rules once the elder pauses
        found = client.post(
            f"/v1/elders/{a.elder_id}/memories:search",
            json={"query": "台南"},
            headers=bearer(a.elder),
        ).json()["results"]
        assert {r["kind"] for r in found} == {"turn", "place"}

"""Story material for a creator, with the elder's consent: only the granted period, quotes
found verbatim in the elder's messages, every timeline entry with a source, scene prompts that
name their memories, never a private memory; a revoked or expired grant exports nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from memory import db, facts, store
from memory.access import elder_scope
from memory.models import Message, MessageRole
from tests.conftest import bearer

LIFE = [
    # (what the elder said, the fact, when it happened, private)
    ("民國五十七年我們從台南搬到台北，那年我二十歲", "1968年從台南搬到台北", "1968-06-01", False),
    ("1975年我女兒美玲出生，我好開心", "1975年女兒美玲出生", "1975-03-12", False),
    ("1970年那件事我只跟你說，別告訴孩子", "1970年的祕密", "1970-05-01", True),
    ("我在糖廠當會計，1985年退休", "1985年從糖廠退休", "1985-12-31", False),
]


def _tell(engine, elder_id: str, said: str, fact: str, when: str, private: bool) -> int:
    with db.session_scope(engine) as session:
        scope = elder_scope(session, elder_id)
        message, _ = store.add_message(
            session, scope, store.MessageDraft(text=said, role=MessageRole.elder)
        )
        remembered = facts.remember_fact(
            session,
            scope,
            facts.FactDraft(
                kind="event",
                text=fact,
                event_time=datetime.fromisoformat(when).replace(tzinfo=UTC),
                private=private,
                subject="美玲" if "美玲" in fact else None,
            ),
            sources=[message],
            author=facts.COMPANION,
        )
        facts.approve_fact(session, scope, remembered.fact.id)
        return remembered.fact.id


def _grant(client, household, **story) -> None:
    r = client.put(
        f"/v1/elders/{household.elder_id}/grants/{household.account_ids['creator']}",
        json={"scopes": ["story:export"], **({"story": story} if story else {})},
        headers=bearer(household.guardian),
    )
    assert r.status_code == 200, r.text


def _export(client, household, fmt: str, **body):
    return client.post(
        f"/v1/elders/{household.elder_id}/story:export",
        json={"format": fmt, **body},
        headers=bearer(household.creator),
    )


def test_a_grandchild_exports_1960_to_1980(client, engine, world):
    """The issue's bar."""
    a = world.a
    ids = [_tell(engine, a.elder_id, *life) for life in LIFE]
    _grant(client, a, since="1960-01-01", until="1980-12-31")
    with Session(engine) as session:
        said = [m.text for m in session.exec(select(Message).where(Message.role == "elder"))]

    as_json = _export(client, a, "json")
    assert as_json.status_code == 200, as_json.text
    material = as_json.json()
    assert material["version"] == "zhian.story/2"
    timeline = material["timeline"]
    assert [e["when"][:4] for e in timeline] == ["1968", "1975"]  # only the granted period
    assert all(e["sources"] for e in timeline)
    for quote in material["quotes"]:
        assert any(quote["words"] in text for text in said)  # verbatim
    prompts = material["scene_prompts"]
    assert prompts and all(p["generated"] is True for p in prompts)
    assert {m for p in prompts for m in p["memory_ids"]} == {ids[0], ids[1]}
    assert any("1960s" in p["prompt_en"] and "台南" in p["prompt_en"] for p in prompts)
    assert [p["name"] for p in material["people"]] == ["美玲"]

    markdown = _export(client, a, "markdown")
    assert markdown.headers["content-type"].startswith("text/markdown")
    book = _export(client, a, "html")
    assert book.headers["content-type"].startswith("text/html") and "@page" in book.text
    for document in (as_json.text, markdown.text, book.text):
        assert "祕密" not in document and "別告訴孩子" not in document  # the private 1970 memory
        assert "1985" not in document or "退休" not in document  # outside the period
    assert "民國五十七年我們從台南搬到台北，那年我二十歲" in markdown.text
    assert "的人生故事" in book.text and "人生時間軸" in book.text

    listed = client.get(
        f"/v1/elders/{a.elder_id}/story-exports", headers=bearer(a.family_full)
    ).json()
    assert [r["format"] for r in listed] == ["html", "markdown", "json"]
    audit = client.get(f"/v1/elders/{a.elder_id}/audit", headers=bearer(a.guardian)).json()
    assert [e["action"] for e in audit["items"]].count("story.export") == 3

    revoked = client.delete(
        f"/v1/elders/{a.elder_id}/grants/{a.account_ids['creator']}", headers=bearer(a.guardian)
    )
    assert revoked.status_code == 204
    again = _export(client, a, "markdown")
    assert again.status_code == 403 and "story:export" in again.json()["message"]


def test_an_expired_grant_exports_nothing(client, engine, world):
    a = world.a
    _tell(engine, a.elder_id, *LIFE[0])
    expires = datetime.now(UTC) + timedelta(days=5)
    r = client.put(
        f"/v1/elders/{a.elder_id}/grants/{a.account_ids['creator']}",
        json={"scopes": ["story:export"], "expires_at": expires.isoformat()},
        headers=bearer(a.guardian),
    )
    assert r.status_code == 200
    assert _export(client, a, "json").status_code == 200
    with time_machine.travel(expires + timedelta(days=1), tick=False):
        late = _export(client, a, "json")
    assert late.status_code == 403 and "Ask" in late.json()["message"]


def test_what_the_grant_does_not_cover_is_refused_with_a_reason(client, engine, world):
    a = world.a
    _grant(client, a, people=["美玲"])
    wrong = _export(client, a, "json", people=["大明"])
    assert wrong.status_code == 422 and "美玲" in wrong.json()["message"]
    assert _export(client, a, "pdf").status_code == 422
    schema = client.get("/v1/schemas/story.json", headers=bearer(a.creator)).json()
    assert schema["$id"] == "zhian.story/2" and "timeline" in schema["properties"]
    assert client.get("/v1/schemas/story.json").status_code == 401


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    memories=st.lists(
        st.tuples(st.integers(1940, 2020), st.booleans(), st.booleans()), min_size=1, max_size=8
    ),
    fmt=st.sampled_from(["json", "markdown", "html"]),
)
def test_no_private_memory_in_any_export(client, engine, world, memories, fmt):
    a = world.a
    private_words = []
    for n, (year, private, sensitive) in enumerate(memories):
        marker = f"記號{year}x{n}x{private:d}{sensitive:d}x{json.dumps(memories)[:0]}"
        _tell(
            engine,
            a.elder_id,
            f"{year}年我記得{marker}",
            f"{year}年{marker}",
            f"{year}-06-01",
            private,
        )
        if private:
            private_words.append(marker)
    response = _export(client, a, fmt)
    assert response.status_code == 200
    for marker in private_words:
        assert marker not in response.text
    with db.session_scope(engine) as session:  # the next example starts from nothing
        for message in session.exec(select(Message).where(Message.elder_id == a.elder_id)):
            store.delete_message(session, elder_scope(session, a.elder_id), message.id)


def test_a_large_export_runs_as_a_job_with_progress_and_a_download(
    client, engine, world, monkeypatch
):
    import time

    from companion.story import jobs as story_api

    a = world.a
    for life in LIFE:
        _tell(engine, a.elder_id, *life)
    monkeypatch.setattr(story_api, "JOB_THRESHOLD", 0)
    started = _export(client, a, "markdown")
    assert started.status_code == 202
    status_url = started.headers["location"]
    for _ in range(100):
        job = client.get(status_url, headers=bearer(a.creator)).json()
        if job["status"] != "running":
            break
        time.sleep(0.1)
    assert job["status"] == "done" and job["progress"] == 1.0
    document = client.get(job["download"], headers=bearer(a.creator))
    assert document.status_code == 200 and "台南搬到台北" in document.text
    assert "祕密" not in document.text
    # Someone else's export is not theirs to read.
    assert client.get(job["download"], headers=bearer(a.family_full)).status_code == 403

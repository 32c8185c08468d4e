"""What the elder keeps private stays with the elder: no family member, guardian, creator or
administrator reads it, nor the words it came from, through any endpoint, in any answer:
reads, write responses and error bodies alike.

The seeded elder keeps three private facts, each with the marker `XQ7` in its text and in
the words it came from: one with a companion reply that used it, one whose source message
was deleted (only its history is left), one behind a concern flag. Everything else the elder
said carries no marker, so a marker in any answer to anyone but the elder is a leak.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core import NotSet

from api.app import create_app
from api.settings import Settings
from companion.alerts import concerns
from memory import access, db, facts, store
from memory.models import MessageRole, utcnow
from tests.conftest import World, bearer, send_case

MARK = "XQ7"
OTHERS = ["guardian", "family_full", "family_reader", "family_none", "creator"]


@dataclass
class Secrets:
    spouse: int  # a private fact: who the elder's first love was
    source: int  # the elder's words it came from
    reply: int  # the companion's answer, which used it
    gone: int  # a private fact whose source message was deleted: only its history is left
    fall: int  # words behind a private fact that also raised a concern flag
    fall_fact: int
    flag: int
    public_fact: int
    public_message: int


def _say(session, scope, text: str, *, role=MessageRole.elder, used=None, when=None):
    draft = store.MessageDraft(text=text, role=role, used_memory_ids=used, said_at=when)
    return store.add_message(session, scope, draft)[0]


def _private_fact(session, scope, text: str, message, **slot) -> int:
    draft = facts.FactDraft(kind="relationship", text=text, private=True, **slot)
    remembered = facts.remember_fact(
        session, scope, draft, sources=[message], author=facts.COMPANION
    )
    assert remembered is not None
    return remembered.fact.id


def seed_secrets(engine: sa.Engine, elder_id: str) -> Secrets:
    with db.session_scope(engine) as session:
        scope = access.elder_scope(session, elder_id)
        when = utcnow() - timedelta(hours=1)
        source = _say(session, scope, f"年輕時我愛過{MARK}阿強，家裡沒人知道。", when=when)
        spouse = _private_fact(
            session,
            scope,
            f"她年輕時愛過{MARK}阿強",
            source,
            attribute="spouse",
            value=f"{MARK}阿強",
        )
        reply = _say(
            session,
            scope,
            f"{MARK}阿強的事，我替您保密。",
            role=MessageRole.companion,
            used=[spouse],
        )
        hidden = _say(session, scope, f"我把{MARK}私房錢藏在床底下。", when=when)
        gone = _private_fact(session, scope, f"她把{MARK}私房錢藏在床底下", hidden)
        fall = _say(session, scope, f"我昨天跌倒了，{MARK}膝蓋流血，別告訴女兒。", when=when)
        fall_fact = _private_fact(session, scope, f"她跌倒了，{MARK}不想讓女兒知道", fall)
        flag = concerns.raise_flag(
            session,
            elder_id,
            kind="fall",
            severity="urgent",
            summary=f"跌倒：「{fall.text}」",
            message_id=fall.id,
        ).id
        public = _say(session, scope, "我住在台南，每天早上去公園散步。", when=when)
        public_fact = facts.remember_fact(
            session,
            scope,
            facts.FactDraft(kind="place", text="她住在台南", attribute="lives_in", value="台南"),
            sources=[public],
            author=facts.COMPANION,
        ).fact.id
        secrets = Secrets(
            spouse=spouse,
            source=source.id,
            reply=reply.id,
            gone=gone,
            fall=fall.id,
            fall_fact=fall_fact,
            flag=flag,
            public_fact=public_fact,
            public_message=public.id,
        )
    with db.session_scope(engine) as session:
        store.delete_message(session, access.elder_scope(session, elder_id), hidden.id)
    return secrets


@pytest.fixture
def secrets(engine: sa.Engine, world: World) -> Secrets:
    return seed_secrets(engine, world.a.elder_id)


def _no_secret(response, why: str = "") -> None:
    assert response.status_code < 500, f"{why}\n-> {response.status_code} {response.text[:500]}"
    assert MARK not in response.text, f"{why}\n-> {response.status_code} {response.text[:2000]}"


# --- the findings, one by one ---------------------------------------------------------------


def test_a_family_write_neither_reveals_nor_retires_a_private_fact(client, world, secrets):
    a = world.a
    base = f"/v1/elders/{a.elder_id}/facts"
    same_slot = {
        "type": "relationship",
        "text": "她的先生是阿德",
        "attribute": "spouse",
        "value": "阿德",
    }
    made = client.post(base, json=same_slot, headers=bearer(a.family_full))
    assert made.status_code == 201, made.text
    _no_secret(made)
    assert made.json()["retired"] == []
    again = client.post(
        base,
        json={"type": "relationship", "text": f"她年輕時愛過{MARK}阿強"},
        headers=bearer(a.family_full),
    )
    assert again.json()["action"] == "created"  # never "merged" into the private one
    assert again.json()["fact"]["id"] != secrets.spouse

    mine = client.get(f"{base}/{secrets.spouse}", headers=bearer(a.elder)).json()
    assert mine["valid_to"] is None and mine["private"] is True  # still the elder's, untouched


def test_a_private_fact_keeps_its_history_private_after_its_words_are_deleted(
    client, world, secrets
):
    a = world.a
    history = f"/v1/elders/{a.elder_id}/memories/{secrets.gone}/history"
    for role in (*OTHERS, "elder"):
        response = client.get(history, headers=bearer(getattr(a, role)))
        if role == "elder":
            assert response.status_code == 200 and MARK in response.text
            assert response.json()[-1]["action"] == "deleted"
        else:
            assert response.status_code in (403, 404), role
            _no_secret(response, role)
    assert client.get(history, headers=bearer(world.admin)).status_code == 404


def test_the_words_behind_a_private_fact_stay_in_the_elders_chat(client, world, secrets):
    a = world.a
    base = f"/v1/elders/{a.elder_id}"
    for message_id in (secrets.source, secrets.reply, secrets.fall):
        for token in (a.family_full, a.guardian, world.admin):
            one = client.get(f"{base}/messages/{message_id}", headers=bearer(token))
            assert one.status_code == 404
            _no_secret(one)
        assert (
            client.get(f"{base}/messages/{message_id}", headers=bearer(a.elder)).status_code == 200
        )
    listed = client.get(f"{base}/messages", headers=bearer(a.family_full))
    _no_secret(listed)
    assert secrets.public_message in [m["id"] for m in listed.json()["items"]]
    assert MARK in client.get(f"{base}/messages", headers=bearer(a.elder)).text

    for query in ("阿強", "私房錢 床底下", "跌倒 膝蓋流血", MARK):
        found = client.post(
            f"{base}/memories:search", json={"query": query, "k": 50}, headers=bearer(a.guardian)
        )
        assert found.status_code == 200
        assert MARK not in str([r.get("text") for r in found.json()["results"]])
        assert all(
            s["message_id"] not in (secrets.source, secrets.reply, secrets.fall)
            for r in found.json()["results"]
            for s in r.get("sources", [])
        )
    mine = client.post(
        f"{base}/memories:search", json={"query": "阿強", "k": 50}, headers=bearer(a.elder)
    )
    assert MARK in mine.text


def test_a_concern_raised_on_private_words_still_tells_the_family_but_not_the_words(
    client, world, secrets
):
    a = world.a
    flags = client.get(f"/v1/elders/{a.elder_id}/concerns", headers=bearer(a.family_full))
    assert flags.status_code == 200
    _no_secret(flags)
    [flag] = [f for f in flags.json() if f["id"] == secrets.flag]
    assert flag["severity"] == "urgent" and flag["summary"] == "跌倒"
    digest = client.get(
        f"/v1/elders/{a.elder_id}/digests",
        params={"period": "day", "date": date.today().isoformat()},
        headers=bearer(a.family_full),
    )
    _no_secret(digest)
    story = client.post(
        f"/v1/elders/{a.elder_id}/story:export",
        json={"format": "markdown"},
        headers=bearer(a.creator),
    )
    _no_secret(story)


# --- every endpoint, every role ---------------------------------------------------------------

_DOCUMENT = create_app(Settings(database_url="sqlite://")).openapi()
_SCHEMA = schemathesis.openapi.from_dict(
    _DOCUMENT, config=schemathesis.Config.from_dict({"seed": 7})
)
OPERATIONS = [result.ok() for result in _SCHEMA.get_all_operations()]


def _ids(world: World, secrets: Secrets) -> dict[str, list[Any]]:
    memories = [secrets.spouse, secrets.gone, secrets.fall_fact, secrets.public_fact]
    return {
        "elder_id": [world.a.elder_id],
        "fact_id": memories,
        "memory_id": memories,
        "message_id": [secrets.source, secrets.reply, secrets.fall, secrets.public_message],
        "flag_id": [secrets.flag],
        "account_id": list(world.a.account_ids.values()),
    }


@st.composite
def calls(draw, known: dict[str, list[Any]]):
    operation = draw(st.sampled_from(OPERATIONS))
    case = draw(operation.as_strategy())
    for name in list(case.path_parameters or {}):
        if name in known:
            case.path_parameters[name] = draw(st.sampled_from(known[name]))
    if isinstance(case.query, dict) and "date" in case.query:
        case.query["date"] = date.today().isoformat()
    if not isinstance(case.body, NotSet) and isinstance(case.body, dict):
        # Aim writes at the private facts' slot and words (never at the marker itself).
        if "attribute" in case.body or "text" in case.body and operation.path.endswith("/facts"):
            case.body.update(draw(st.sampled_from([{"attribute": "spouse", "value": "阿德"}, {}])))
        if "query" in case.body:
            case.body["query"] = draw(st.sampled_from(["阿強", "私房錢", "跌倒", "台南"]))
    return case


@pytest.fixture
def world_with_secrets(engine, world) -> Iterator[tuple[World, Secrets]]:
    yield world, seed_secrets(engine, world.a.elder_id)


@pytest.fixture
def fresh_client(engine: sa.Engine, settings: Settings):
    from fastapi.testclient import TestClient

    from tests.conftest import scripted_model

    app = create_app(settings, engine=engine)
    scripted_model(app)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_nothing_private_reaches_anyone_but_the_elder(fresh_client, world_with_secrets):
    world, secrets = world_with_secrets
    known = _ids(world, secrets)
    tokens = {role: getattr(world.a, role) for role in OTHERS}
    tokens |= {"admin": world.admin, "another elder": world.b.elder}

    @given(case=calls(known), role=st.sampled_from(sorted(tokens)))
    @settings(
        max_examples=150,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def no_leak(case, role: str) -> None:
        response = send_case(fresh_client, case, bearer(tokens[role]))
        sent = "" if isinstance(case.body, NotSet) else f" body {case.body!r}"
        _no_secret(response, f"{role}: {case.operation.label} {response.request.url}{sent}")

    no_leak()

    # The sweep above could only pass if the elder's own view holds the marker.
    mine = fresh_client.get(f"/v1/elders/{world.a.elder_id}/facts", headers=bearer(world.a.elder))
    assert MARK in mine.text


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_read_with_every_private_id(fresh_client, world_with_secrets):
    """A deterministic sweep: every GET, every role, every private id in every id slot."""
    world, secrets = world_with_secrets
    known = _ids(world, secrets)
    tokens = [getattr(world.a, role) for role in OTHERS] + [world.admin]
    for operation in OPERATIONS:
        if operation.method.upper() != "GET":
            continue
        names = [p.name for p in operation.path_parameters]
        if any(name not in known for name in names):
            continue
        combos: list[dict[str, Any]] = [{}]
        for name in names:
            combos = [c | {name: value} for c in combos for value in known[name]]
        for params in combos:
            path = operation.path.format(**params)
            for token in tokens:
                query = {"date": date.today().isoformat()} if "digests" in path else None
                response = fresh_client.get(path, params=query, headers=bearer(token))
                _no_secret(response, f"GET {path}")

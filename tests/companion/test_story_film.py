"""Story material a film-maker can shoot from: an elder born in 1948 whose words give ages,
民國 years and names; her daughter adds a confirmed fact; a creator exports with no model.
Each memory is dated to its decade with the reasoning shown, every named person and place is
listed with its sources, each character has one sheet used word for word in every scene, and
the Fountain treatment parses as a screenplay with a scene heading per timeline entry."""

from __future__ import annotations

import csv
import io
from datetime import date

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from screenplain.parsers import fountain
from screenplain.types import Dialog, Slug
from sqlmodel import Session

from companion import story
from memory import db
from memory.access import system_scope
from memory.models import Elder
from tests.conftest import bearer

SAID = [
    ("我二十歲那年在台南的紡織廠做女工", 1960),
    ("阿雄是我先生，我們在廟口認識的，那天晚上廟口在演歌仔戲", None),
    ("民國五十九年我嫁給阿雄，好開心", 1970),
    ("小時候我常跟阿蓮去廟口玩", 1950),
]


def _setup(client, engine, household) -> None:
    with db.session_scope(engine) as session:
        elder = session.get(Elder, household.elder_id)
        elder.birthday = date(1948, 5, 3)
        elder.languages = ["zh-Hant"]
        session.add(elder)
    imported = client.post(
        f"/v1/elders/{household.elder_id}/messages:import",
        json={
            "messages": [
                {
                    "role": "elder",
                    "text": text,
                    "said_at": f"2026-10-0{n + 1}T10:00:00+08:00",
                    "external_id": f"m{n}",
                }
                for n, (text, _) in enumerate(SAID)
            ]
        },
        headers=bearer(household.guardian),
    )
    assert imported.status_code in (200, 201), imported.text
    added = client.post(
        f"/v1/elders/{household.elder_id}/facts",
        json={
            "type": "event",
            "text": "1975年女兒美玲出生",
            "subject": "美玲",
            "event_time": "1975-03-12T08:00:00+08:00",
        },
        headers=bearer(household.family_full),
    )
    assert added.status_code == 201, added.text
    granted = client.put(
        f"/v1/elders/{household.elder_id}/grants/{household.account_ids['creator']}",
        json={"scopes": ["story:export"]},
        headers=bearer(household.guardian),
    )
    assert granted.status_code == 200, granted.text


def _export(client, household, fmt: str, **body):
    response = client.post(
        f"/v1/elders/{household.elder_id}/story:export",
        json={"format": fmt, **body},
        headers=bearer(household.creator),
    )
    assert response.status_code == 200, response.text
    return response


def test_each_memory_is_dated_to_its_decade_with_its_people_and_places(client, engine, world):
    a = world.a
    _setup(client, engine, a)
    material = _export(client, a, "json", style="watercolour").json()
    assert material["version"] == "zhian.story/2"
    by_text = {e["text"]: e for e in material["timeline"]}
    for text, decade in SAID:
        if decade is not None:
            era = by_text[text]["era"]
            assert era["decade"] == decade, (text, era)
            assert era["words"] in text and era["reasoning"]["generated"] is True
    assert by_text["我二十歲那年在台南的紡織廠做女工"]["era"]["basis"] == "age"
    assert by_text["民國五十九年我嫁給阿雄，好開心"]["era"]["year"] == 1970
    assert by_text["小時候我常跟阿蓮去廟口玩"]["era"]["estimate"] is True
    # The daughter's confirmed fact is in the timeline, dated by its event time.
    family = by_text["1975年女兒美玲出生"]
    assert family["added_by"] == "family" and family["era"]["decade"] == 1970

    people = {p["name"]: p for p in material["people"]}
    assert {"阿雄", "阿蓮", "美玲"} <= set(people)
    assert people["阿雄"]["relation"] == "先生" and len(people["阿雄"]["message_ids"]) == 2
    places = {p["name"]: p for p in material["places"]}
    assert {"台南", "廟口", "紡織廠"} <= set(places)
    assert all(p["message_ids"] or p["memory_ids"] for p in material["places"])

    # One sheet a character, its look word for word in every scene of that decade.
    characters = {c["id"]: c for c in material["characters"]}
    assert characters["elder"]["eras"] == [1950, 1960, 1970]
    xiong = next(c for c in characters.values() if c["name"] == "阿雄")
    assert xiong["gender"] == "male" and {s["words"] for s in xiong["said"]} >= {SAID[1][0]}
    for scene in material["scenes"]:
        decade = scene["era"]["decade"] if scene["era"] else None
        for cid in scene["characters"]:
            look = next((lk for lk in characters[cid]["looks"] if lk["decade"] == decade), None)
            if look:
                assert look["cues_en"] in scene["prompt"]["prompt_en"]
                assert look["cues_local"] in scene["prompt"]["prompt_local"]
        for part in scene["prompt"]["parts"]:  # remembered: cited and verbatim
            if not part["generated"]:
                assert part["message_ids"] or part["memory_ids"], (part, scene["action"])
                said = {s["message_id"]: s["words"] for s in by_id(material)}
                assert all(part["text"] in said[i] for i in part["message_ids"])
        assert scene["prompt"]["style"] == "watercolour"
        assert "Watercolour" in scene["prompt"]["prompt_en"]
    wedding = next(s for s in material["scenes"] if "民國五十九年" in s["action"][0]["text"])
    assert wedding["beat_kind"] in ("love", "joy") and "1970" in wedding["heading"]
    assert xiong["id"] in wedding["characters"]
    temple = next(s for s in material["scenes"] if s["action"][0]["text"] == SAID[1][0])
    assert temple["heading"].startswith("EXT. 廟口") and temple["time_of_day"] == "NIGHT"


def by_id(material: dict) -> list[dict]:
    return [s for e in material["timeline"] for s in e["sources"]]


def test_the_treatment_parses_as_a_screenplay_and_the_shot_list_as_csv(
    client, engine, world, monkeypatch
):
    a = world.a
    monkeypatch.setattr(client.app.state.companion, "model", None)  # no language model
    _setup(client, engine, a)
    material = _export(client, a, "json").json()
    treatment = _export(client, a, "fountain")
    assert treatment.headers["content-type"].startswith("text/plain")
    screenplay = fountain.parse(io.StringIO(treatment.text))
    slugs = [p for p in screenplay.paragraphs if isinstance(p, Slug)]
    assert len(slugs) == len(material["timeline"])
    assert all(str(s.scene_number) for s in slugs)
    voice_over = [p for p in screenplay.paragraphs if isinstance(p, Dialog)]
    spoken = {" ".join(str(line) for _paren, line in d.blocks) for d in voice_over}
    for text, _ in SAID:  # the elder's words as voice-over, verbatim
        assert any(text in line for line in spoken), text
    assert all("(V.O.)" in str(d.character) for d in voice_over)

    rows = list(csv.DictReader(io.StringIO(_export(client, a, "csv").text)))
    assert {int(r["scene"]) for r in rows} == set(range(1, len(material["scenes"]) + 1))
    spoken_rows = [r for r in rows if r["voice-over (the elder's words, verbatim)"]]
    for row in spoken_rows:
        assert row["message_ids"] or "美玲" in row["voice-over (the elder's words, verbatim)"]


class _Scripted(FakeListChatModel):
    @property
    def _llm_type(self) -> str:
        return "scripted"


def test_the_model_writes_connective_prose_but_never_adds_an_event(client, engine, world):
    a = world.a
    _setup(client, engine, a)
    lines = [
        "The years pass gently.",  # kept
        "In 1990 she moved to Paris with her sister.",  # a year, a place: refused
        "歲月靜靜地流過。",  # kept
        "她後來搬到了東京。",  # a place the scenes do not hold: refused
        "Time moves on.",
    ]
    model = _Scripted(responses=lines * 4)
    with Session(engine) as session:
        export = story.build(
            session, system_scope(session, a.elder_id), story.Filters(), model=model
        )
    by = [line.by for line in export.treatment]
    texts = [line.en for line in export.treatment]
    assert len(export.treatment) == len(export.scenes)
    assert "The years pass gently." in texts and "歲月靜靜地流過。" in texts
    assert not any("1990" in t or "Paris" in t or "東京" in t for t in texts)
    assert "rules" in by and "model" in by
    assert all(line.generated for line in export.treatment)
    # No event was added: the scenes are the same as without the model.
    with Session(engine) as session:
        plain = story.build(session, system_scope(session, a.elder_id), story.Filters())
    assert [s.heading for s in plain.scenes] == [s.heading for s in export.scenes]
    assert [e.text for e in plain.timeline] == [e.text for e in export.timeline]


def test_a_grant_limited_to_a_period_keeps_its_people_to_that_period(client, engine, world):
    a = world.a
    _setup(client, engine, a)
    client.put(
        f"/v1/elders/{a.elder_id}/grants/{a.account_ids['creator']}",
        json={"scopes": ["story:export"], "story": {"since": "1965-01-01", "until": "1969-12-31"}},
        headers=bearer(a.guardian),
    )
    material = _export(client, a, "json").json()
    assert [e["text"] for e in material["timeline"]] == [SAID[0][0]]
    assert {p["name"] for p in material["places"]} == {"台南", "紡織廠"}
    assert material["people"] == []


def test_with_a_model_the_treatment_is_a_job_with_progress(client, engine, world, monkeypatch):
    import time

    a = world.a
    _setup(client, engine, a)
    monkeypatch.setattr(
        client.app.state.companion, "model", _Scripted(responses=["The years pass gently."])
    )
    started = client.post(
        f"/v1/elders/{a.elder_id}/story:export",
        json={"format": "fountain"},
        headers=bearer(a.creator),
    )
    assert started.status_code == 202, started.text
    for _ in range(100):
        job = client.get(started.headers["location"], headers=bearer(a.creator)).json()
        if job["status"] != "running":
            break
        time.sleep(0.1)
    assert job["status"] == "done" and job["progress"] == 1.0
    document = client.get(job["download"], headers=bearer(a.creator)).text
    assert "!(generated) The years pass gently." in document
    slugs = [p for p in fountain.parse(io.StringIO(document)).paragraphs if isinstance(p, Slug)]
    assert len(slugs) == job["counts"]["timeline"]


def test_a_confirmed_fact_without_an_event_time_is_dated_from_its_words(client, engine, world):
    from memory import facts, store
    from memory.access import elder_scope
    from memory.models import MessageRole

    a = world.a
    _setup(client, engine, a)
    with db.session_scope(engine) as session:
        scope = elder_scope(session, a.elder_id)
        message, _ = store.add_message(
            session,
            scope,
            store.MessageDraft(text="我三十歲那年在高雄開了一家米店", role=MessageRole.elder),
        )
        kept = facts.remember_fact(
            session,
            scope,
            facts.FactDraft(kind="event", text="您在高雄開米店", attribute="job", value="米店"),
            sources=[message],
            author=facts.COMPANION,
        )
        facts.approve_fact(session, scope, kept.fact.id)
        fact_id = kept.fact.id
    material = _export(client, a, "json").json()
    entry = next(e for e in material["timeline"] if e["memory_id"] == fact_id)
    assert entry["era"]["year"] == 1978 and entry["era"]["basis"] == "age"
    assert entry["era"]["words"] == "我三十歲那年" and entry["era"]["message_id"] == message.id
    assert "高雄" in entry["places"] and entry["added_by"] == "companion"

"""Facts from conversation, with a scripted model: only what the elder or family said, in the
language it was said in, with its time; malformed answers retried, then recorded as failed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from langchain_core.language_models import FakeListChatModel

from memory import db
from memory.extract import extract_pending
from memory.models import utcnow
from tests.conftest import bearer


def _facts_json(*facts: dict) -> str:
    return json.dumps({"facts": list(facts)}, ensure_ascii=False)


def _say(client, household, text: str, role: str = "elder", said_at: str | None = None) -> dict:
    body = {"text": text, "role": role}
    if said_at:
        body["said_at"] = said_at
    r = client.post(
        f"/v1/elders/{household.elder_id}/messages", json=body, headers=bearer(household.guardian)
    )
    assert r.status_code == 201, r.text
    return r.json()


def _later():
    return utcnow() + timedelta(hours=1)


def test_moving_to_taipei_after_weeks_in_tainan(client, engine, world):
    """The issue's bar: the 台南 fact is retired (not deleted), the 台北 fact is current, both
    show their sources, and the history says who changed what and when."""
    a = world.a
    for day in ("2026-10-01", "2026-10-15", "2026-11-01"):
        _say(client, a, "我住在台南", said_at=f"{day}T10:00:00")
        model = FakeListChatModel(
            responses=[
                _facts_json(
                    {
                        "type": "place",
                        "text": "我住在台南",
                        "attribute": "lives_in",
                        "value": "台南",
                        "confidence": 0.9,
                        "source": 1,
                    }
                )
            ]
        )
        extract_pending(engine, model, now=_later())
    moved = _say(client, a, "我搬到台北了", said_at="2026-11-20T10:00:00")
    model = FakeListChatModel(
        responses=[
            _facts_json(
                {
                    "type": "place",
                    "text": "我搬到台北了",
                    "attribute": "lives_in",
                    "value": "台北",
                    "confidence": 0.9,
                    "source": 1,
                }
            )
        ]
    )
    extract_pending(engine, model, now=_later())

    base = f"/v1/elders/{a.elder_id}/facts"
    every = client.get(base, params={"include_retired": True}, headers=bearer(a.family_full)).json()
    assert [(f["value"], f["valid_to"] is None) for f in every] == [("台北", True), ("台南", False)]
    taipei, tainan = every
    assert taipei["status"] == "unconfirmed" and tainan["status"] == "confirmed"  # said again
    assert tainan["superseded_by"] == taipei["id"]
    sources = client.get(f"{base}/{tainan['id']}/sources", headers=bearer(a.family_full)).json()
    assert [m["said_at"][:10] for m in sources] == ["2026-10-01", "2026-10-15", "2026-11-01"]
    sources = client.get(f"{base}/{taipei['id']}/sources", headers=bearer(a.family_full)).json()
    assert [m["id"] for m in sources] == [moved["id"]]
    history = client.get(
        f"/v1/elders/{a.elder_id}/memories/{tainan['id']}/history", headers=bearer(a.family_full)
    ).json()
    assert [(e["action"], e["actor_role"]) for e in history] == [
        ("created", "companion"),
        ("merged", "companion"),
        ("merged", "companion"),
        ("retired", "companion"),
    ]
    status = client.get(f"/v1/elders/{a.elder_id}/extraction-status", headers=bearer(a.elder))
    assert status.json()["pending"] == 0 and status.json()["ok"] == 4


def test_only_the_elder_and_family_are_read_and_never_the_companion(client, engine, world):
    a = world.a
    _say(client, a, "您的女兒美玲每個星期天來看您。", role="companion")
    _say(client, a, "對，我很想她")
    _say(client, a, "媽媽以前是小學老師", role="family")
    model = FakeListChatModel(
        responses=[
            _facts_json(
                {"type": "feeling", "text": "我很想她", "source": 1},
                {
                    "type": "event",
                    "text": "以前是小學老師",
                    "attribute": "job",
                    "value": "小學老師",
                    "source": 2,
                },
                {"type": "event", "text": "She was a teacher", "source": 2},
                {"type": "place", "text": "不存在的訊息", "source": 9},
            )
        ]
    )
    outcomes = extract_pending(engine, model, now=_later())
    assert [len(o.run.message_ids) for o in outcomes] == [2]  # the companion's words were not sent
    facts = client.get(f"/v1/elders/{a.elder_id}/facts", headers=bearer(a.elder)).json()
    # English for a Chinese message, and a message that does not exist, are dropped; the job
    # is read by the rules (the model's copy of it adds nothing) and written as a sentence.
    assert sorted(f["text"] for f in facts) == ["您的工作是小學老師", "我很想她"]
    assert all(f["language"] != "en" for f in facts)
    assert {f["added_by"] for f in facts} == {"companion"}
    teacher = next(f for f in facts if f["value"] == "小學老師")
    sources = client.get(
        f"/v1/elders/{a.elder_id}/facts/{teacher['id']}/sources", headers=bearer(a.elder)
    ).json()
    assert [m["role"] for m in sources] == ["family"]


def test_a_malformed_answer_is_retried_then_recorded_as_failed(client, engine, world):
    a = world.a
    _say(client, a, "我年輕的時候在台南的糖廠當會計")
    model = FakeListChatModel(
        responses=["Sure! Here are the facts: 會計", '{"facts": [{"type": "job"}]}']
    )
    [outcome] = extract_pending(engine, model, now=_later())
    assert outcome.run.status == "failed" and outcome.run.attempts == 2
    status = client.get(
        f"/v1/elders/{a.elder_id}/extraction-status", headers=bearer(a.family_reader)
    ).json()
    assert status["failed"] == 1 and status["ok"] == 0 and status["pending"] == 0
    assert status["failures"][0]["error"]
    # What the rules read is kept all the same.
    kept = client.get(f"/v1/elders/{a.elder_id}/facts", headers=bearer(a.elder)).json()
    assert sorted(f["value"] for f in kept) == ["台南的糖廠", "會計"]

    # A good second answer is used.
    _say(client, a, "我年輕的時候在台南的糖廠當會計")
    model = FakeListChatModel(
        responses=[
            "not json",
            "```json\n"
            + _facts_json(
                {
                    "type": "event",
                    "text": "年輕時在台南的糖廠當會計",
                    "attribute": "event",
                    "value": "我年輕的時候",
                    "source": 1,
                }
            )
            + "\n```",
        ]
    )
    [outcome] = extract_pending(engine, model, now=_later())
    # The rules' two facts again (merged), and the model's event beside them.
    assert outcome.run.status == "ok" and outcome.run.attempts == 2
    assert (outcome.created, outcome.merged) == (1, 2)


def test_time_words_are_resolved_against_when_they_were_said(client, engine, world):
    a = world.a
    with db.session_scope(engine) as session:
        from memory.models import Elder

        elder = session.get(Elder, a.elder_id)
        elder.birthday = __import__("datetime").date(1948, 5, 1)
        session.add(elder)
    _say(client, a, "民國五十七年我們從台南搬到台北", said_at="2026-11-20T10:00:00")
    _say(client, a, "我二十歲的時候結婚", said_at="2026-11-20T10:01:00")
    _say(client, a, "上個禮拜二我去看了醫生", said_at="2026-11-20T10:02:00")  # a Friday
    model = FakeListChatModel(
        responses=[
            _facts_json(
                {
                    "type": "event",
                    "text": "民國五十七年我們從台南搬到台北",
                    "when": "民國五十七年",
                    "source": 1,
                },
                {"type": "event", "text": "我二十歲的時候結婚", "when": "二十歲", "source": 2},
                {
                    "type": "event",
                    "text": "上個禮拜二我去看了醫生",
                    "when": "上個禮拜二",
                    "source": 3,
                },
            )
        ]
    )
    extract_pending(engine, model, now=_later())
    facts = client.get(f"/v1/elders/{a.elder_id}/facts", headers=bearer(a.elder)).json()
    when = {f["text"]: f["event_time"] for f in facts}
    # The move is read by the rules; its time words date it.
    assert when["您住在台北"].startswith("1967-12-31T16:00")  # 1968 in Taipei
    assert when["我二十歲的時候結婚"].startswith("1967-12-31T16:00")  # born 1948
    assert when["上個禮拜二我去看了醫生"].startswith("2026-11-09T16:00")  # Tue 10 Nov, Taipei


def test_nothing_is_read_while_the_elder_is_still_talking(client, engine, world):
    a = world.a
    _say(client, a, "我今天去公園")
    model = FakeListChatModel(responses=[_facts_json()])
    assert extract_pending(engine, model) == []  # just said: wait for a pause
    assert len(extract_pending(engine, model, now=_later())) == 1


def test_with_no_model_the_rules_still_read_the_facts(client, engine, world):
    from companion.llm import NoModel

    a = world.a
    _say(client, a, "我住在台南")
    [outcome] = extract_pending(engine, NoModel(), now=_later())
    assert outcome.created == 1 and outcome.run.attempts == 0
    facts = client.get(f"/v1/elders/{a.elder_id}/facts", headers=bearer(a.elder)).json()
    assert [(f["attribute"], f["value"], f["text"]) for f in facts] == [
        ("lives_in", "台南", "您住在台南")
    ]
    status = client.get(f"/v1/elders/{a.elder_id}/extraction-status", headers=bearer(a.elder))
    assert status.json() == {"pending": 0, "ok": 1, "failed": 0, "failures": []}


class _Unreachable(FakeListChatModel):
    def _call(self, *args, **kwargs) -> str:  # type: ignore[override]
        raise ConnectionError("connection refused")


def test_an_unreachable_model_does_not_hold_back_the_rules_facts(client, engine, world):
    a = world.a
    _say(client, a, "我住在台南")
    _say(client, a, "我女兒叫美玲")
    [outcome] = extract_pending(engine, _Unreachable(responses=[]), now=_later())
    assert outcome.model_missed and "connection refused" in outcome.model_missed
    facts = client.get(f"/v1/elders/{a.elder_id}/facts", headers=bearer(a.elder)).json()
    assert {(f["attribute"], f["value"]) for f in facts} == {
        ("lives_in", "台南"),
        ("relation", "女兒"),
    }
    # Read once: not pending, and the rules' facts still wait for the family's review.
    assert {f["status"] for f in facts} == {"unconfirmed"}
    status = client.get(f"/v1/elders/{a.elder_id}/extraction-status", headers=bearer(a.elder))
    assert status.json() == {"pending": 0, "ok": 1, "failed": 0, "failures": []}
    assert extract_pending(engine, _Unreachable(responses=[]), now=_later()) == []


def test_a_move_is_recognised_when_the_model_leaves_the_slot_out(client, engine, world):
    a = world.a
    _say(client, a, "我住在台南", said_at="2026-10-01T10:00:00")
    extract_pending(
        engine,
        FakeListChatModel(
            responses=[
                _facts_json(
                    {
                        "type": "place",
                        "text": "住在台南",
                        "attribute": "other",
                        "value": "台南",
                        "source": 1,
                    }
                )
            ]
        ),
        now=_later(),
    )
    _say(client, a, "我搬到台北了", said_at="2026-11-20T10:00:00")
    extract_pending(
        engine,
        FakeListChatModel(
            responses=[
                _facts_json(
                    {
                        "type": "place",
                        "text": "搬到台北了",
                        "attribute": "other",
                        "value": "台北",
                        "source": 1,
                    }
                )
            ]
        ),
        now=_later(),
    )
    every = client.get(
        f"/v1/elders/{a.elder_id}/facts", params={"include_retired": True}, headers=bearer(a.elder)
    ).json()
    assert [(f["attribute"], f["value"], f["valid_to"] is None) for f in every] == [
        ("lives_in", "台北", True),
        ("lives_in", "台南", False),
    ]


def test_told_to_the_companion_in_chat(client, engine, world):
    """The bar through the companion itself: weeks of "我住在台南" in chat, then "我搬到台北了";
    what the chat stored is read for facts like any message, and the move retires 台南."""
    import time_machine

    a = world.a

    def lives_in(city: str, text: str) -> FakeListChatModel:
        fact = {"type": "place", "text": text, "attribute": "lives_in", "value": city}
        return FakeListChatModel(responses=[_facts_json({**fact, "confidence": 0.9, "source": 1})])

    for day, words, city in (
        ("2026-10-01", "我住在台南", "台南"),
        ("2026-10-20", "我住在台南，天氣很熱", "台南"),
        ("2026-11-20", "我搬到台北了", "台北"),
    ):
        with time_machine.travel(f"{day}T02:00:00Z", tick=False):
            reply = client.post(
                f"/v1/elders/{a.elder_id}/chat", json={"message": words}, headers=bearer(a.elder)
            )
            assert reply.status_code == 200
        extract_pending(
            engine, lives_in(city, words), now=datetime.fromisoformat(f"{day}T12:00:00+00:00")
        )

    base = f"/v1/elders/{a.elder_id}/facts"
    every = client.get(base, params={"include_retired": True}, headers=bearer(a.family_full)).json()
    assert [(f["value"], f["valid_to"] is None) for f in every] == [("台北", True), ("台南", False)]
    taipei, tainan = every
    assert tainan["valid_to"].startswith("2026-11-20") and tainan["superseded_by"] == taipei["id"]
    said = client.get(f"{base}/{tainan['id']}/sources", headers=bearer(a.family_full)).json()
    assert [m["text"] for m in said] == ["我住在台南", "我住在台南，天氣很熱"]
    assert {m["role"] for m in said} == {"elder"}  # never the companion's replies
    history = client.get(
        f"/v1/elders/{a.elder_id}/memories/{tainan['id']}/history", headers=bearer(a.family_full)
    ).json()
    assert [e["action"] for e in history] == ["created", "merged", "retired"]


def test_the_junk_a_small_model_returned_is_dropped(client, engine, world):
    """Questions, a how-do-you-know, and third-person sentences, with the facts the bundled
    model once took from them: only grounded statements about the right person are kept."""
    a = world.a
    for text in (
        "What was my job?",
        "My son David lives in Denver with his wife Karen.",
        "Which town was I born in?",
        "My granddaughter Lucy is studying music in Boston.",
    ):
        _say(client, a, text)
    junk = _facts_json(
        {"type": "event", "text": "My job", "attribute": "job", "value": "job", "source": 1},
        {
            "type": "relationship",
            "text": "Spouse Karen",
            "attribute": "spouse",
            "value": "Karen",
            "source": 2,
        },
        {
            "type": "place",
            "text": "Lives in town",
            "attribute": "lives_in",
            "value": "town",
            "source": 3,
        },
        {
            "type": "place",
            "text": "Lives in Boston",
            "attribute": "lives_in",
            "value": "Boston",
            "source": 4,
        },
        {"type": "event", "text": "学习", "attribute": "school", "value": "学习", "source": 4},
    )
    _say(client, a, "我兒子叫什麼名字？")
    _say(client, a, "你怎麼知道的？")
    _say(client, a, "My late husband Tom loved fishing on Lake Erie.")
    _say(client, a, "我的老姐妹阿珠去年走了。")
    junk_zh = _facts_json(
        {
            "type": "person",
            "text": "兒子的名字",
            "attribute": "name",
            "value": "儿子的名字",
            "source": 1,
        },
        {
            "type": "event",
            "text": "你怎麼知道的",
            "attribute": "event",
            "value": "知道",
            "source": 2,
        },
        {
            "type": "relationship",
            "text": "Tom is a friend",
            "attribute": "friend",
            "value": "Lake Erie",
            "source": 3,
        },
        {"type": "event", "text": "去世", "attribute": "event", "value": "去世", "source": 4},
    )
    extract_pending(engine, FakeListChatModel(responses=[junk, junk_zh]), now=_later())
    facts = client.get(f"/v1/elders/{a.elder_id}/facts", headers=bearer(a.guardian)).json()
    got = {(f["subject"], f["attribute"], f["value"]) for f in facts}
    assert got == {
        ("David", "relation", "son"),
        ("David", "lives_in", "Denver"),
        ("David", "spouse", "Karen"),
        ("Lucy", "relation", "granddaughter"),
        ("Lucy", "school", "music"),
        ("Tom", "relation", "husband"),
        ("Tom", "died", "late"),
        ("Tom", "likes", "fishing on Lake Erie"),
        ("阿珠", "relation", "老姐妹"),
        ("阿珠", "died", "走了"),
    }
    deaths = [f for f in facts if f["attribute"] == "died"]
    assert all(f["sensitive"] for f in deaths)
    karen = next(f for f in facts if f["value"] == "Karen")
    assert karen["text"] == "Your son David's spouse is Karen"
    sources = client.get(
        f"/v1/elders/{a.elder_id}/facts/{karen['id']}/sources", headers=bearer(a.guardian)
    ).json()
    assert [m["text"] for m in sources] == ["My son David lives in Denver with his wife Karen."]


def test_the_sons_move_does_not_retire_the_elders_home(client, engine, world):
    a = world.a
    from companion.llm import NoModel

    _say(client, a, "我住在台南。", said_at="2026-10-01T10:00:00")
    _say(client, a, "我兒子志明住在高雄。", said_at="2026-10-01T10:01:00")
    extract_pending(engine, NoModel(), now=_later())
    _say(client, a, "志明搬到台北了。", said_at="2026-11-01T10:00:00")
    _say(client, a, "我住在台南。", said_at="2026-11-01T10:01:00")
    extract_pending(engine, NoModel(), now=_later())
    every = client.get(
        f"/v1/elders/{a.elder_id}/facts", params={"include_retired": True}, headers=bearer(a.elder)
    ).json()
    homes = {
        (f["subject"], f["value"]): f["valid_to"] is None
        for f in every
        if f["attribute"] == "lives_in"
    }
    assert homes == {("self", "台南"): True, ("志明", "高雄"): False, ("志明", "台北"): True}
    tainan = next(f for f in every if f["value"] == "台南")
    sources = client.get(
        f"/v1/elders/{a.elder_id}/facts/{tainan['id']}/sources", headers=bearer(a.elder)
    ).json()
    assert len(sources) == 2  # said twice: one fact, two sources
    assert tainan["status"] == "confirmed"  # the elder said it again


def test_the_profile_leaves_out_a_fact_taken_from_a_question(client, engine, world):
    """A fact kept before the checks existed ("儿子的名字" from a question), approved by
    mistake, is not what the companion reads about the elder; a grounded one is."""
    from sqlmodel import select

    from memory import facts as memory_facts
    from memory.access import caller_for, elder_account, resolve_scope
    from memory.consolidate import build_profile
    from memory.models import Message

    a = world.a
    _say(client, a, "我兒子叫什麼名字？")
    _say(client, a, "我最愛吃虱目魚粥")
    with db.session_scope(engine) as session:
        scope = resolve_scope(session, caller_for(elder_account(session, a.elder_id)), a.elder_id)
        question, statement = session.exec(
            select(Message).where(Message.elder_id == a.elder_id).order_by(Message.id)
        ).all()
        for text, value, source in (
            ("兒子的名字", "儿子的名字", question),
            ("您喜歡吃虱目魚粥", "虱目魚粥", statement),
        ):
            kept = memory_facts.remember_fact(
                session,
                scope,
                memory_facts.FactDraft(kind="person", text=text, attribute="other", value=value),
                sources=[source],
                author=memory_facts.COMPANION,
            )
            kept.fact.status = "confirmed"
            session.add(kept.fact)
        session.flush()
        profile = build_profile(session, scope)
        assert [line for lines in profile.sections.values() for line in lines] == [
            "您喜歡吃虱目魚粥"
        ]


class _SlowModel(FakeListChatModel):
    """A model that reads for as long as the test wants: it answers once `go` is set."""

    started: object = None
    go: object = None

    def _call(self, *args, **kwargs) -> str:
        self.started.set()
        self.go.wait(60)
        return super()._call(*args, **kwargs)


def test_another_elders_message_is_kept_while_the_model_reads(client, engine, world):
    """The rules' facts are written after the model answers, so the model's minute of reading
    holds no lock that the next message of any elder waits on."""
    import threading

    from memory import access, store

    a, b = world.a, world.b
    _say(client, a, "我住在台南，每天早上去公園散步")
    model = _SlowModel(responses=[_facts_json()], started=threading.Event(), go=threading.Event())
    reader = threading.Thread(
        target=extract_pending, args=(engine, model), kwargs={"now": _later()}
    )
    reader.start()
    try:
        assert model.started.wait(30)
        # On SQLite a lock held by the reader would make this wait 30 s and fail.
        with db.session_scope(engine) as session:
            scope = access.elder_scope(session, b.elder_id)
            store.add_message(session, scope, store.MessageDraft(text="I had tea with Ann."))
    finally:
        model.go.set()
        reader.join(30)
    facts = client.get(f"/v1/elders/{a.elder_id}/facts", headers=bearer(a.elder)).json()
    assert ("lives_in", "台南") in [(f["attribute"], f["value"]) for f in facts]

"""How the elder seems: concerns and mood from their words in three languages, flags with the
source message, urgent ones told to the family at once, the rest after quiet hours and not
twice; and the digests the family reads, with links to the elder's own words."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlmodel import Session, select

from companion.digest import build_digest
from companion.signals import read_signals
from memory import db, facts
from memory.access import elder_scope, system_scope
from memory.models import ConcernFlag, Message, MessageSignal, Notification
from tests.conftest import bearer

TAIPEI = ZoneInfo("Asia/Taipei")


def taipei(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TAIPEI)


@pytest.mark.parametrize(
    ("words", "concerns", "mood"),
    [
        ("我剛剛在浴室跌倒了，腰好痛", ["fall", "pain"], "in_pain"),
        ("我跌倒過一次，那是十年前的事了", [], "content"),
        ("隔壁的王太太昨天跌倒住院了", [], "content"),
        ("今天熱死了", [], "content"),
        ("我不想活了", ["self_harm"], "sad"),
        ("一个人好寂寞啊", ["loneliness"], "lonely"),
        ("我忘记吃药了", ["missed_medicine"], "anxious"),
        ("I fell in the kitchen and can't get up", ["fall"], "in_pain"),
        ("My neighbour fell last week", [], "content"),
        ("I'm dying to see my grandson", [], "happy"),
        ("Just kidding, I didn't really fall", [], "happy"),
    ],
)
def test_concerns_and_mood_from_the_elders_words(words, concerns, mood):
    heard = read_signals(words)
    assert (heard.concerns, heard.mood) == (concerns, mood)


def _chat(client, household, text):
    r = client.post(
        f"/v1/elders/{household.elder_id}/chat",
        json={"message": text},
        headers=bearer(household.elder),
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_a_fall_is_answered_with_care_and_the_family_alerted_at_once(client, engine, world):
    a = world.a
    client.post(
        f"/v1/elders/{a.elder_id}/webhooks",
        json={"url": "http://127.0.0.1:9/hook"},
        headers=bearer(a.family_full),
    )
    with time_machine.travel(taipei("2026-11-25T23:30:00"), tick=False):  # in quiet hours
        reply = _chat(client, a, "我剛剛在浴室跌倒了，起不來")
        assert reply["kind"] == "care" and "119" in reply["reply"]
        lonely = _chat(client, a, "一個人好寂寞")
        assert lonely["kind"] == "answer"
        again = _chat(client, a, "真的好孤單")
    with Session(engine) as session:
        flags = session.exec(select(ConcernFlag).order_by(ConcernFlag.id)).all()
        notes = session.exec(select(Notification).order_by(Notification.id)).all()
        signal = session.get(MessageSignal, reply["message_id"])
    assert [(f.kind, f.severity) for f in flags] == [("fall", "urgent"), ("loneliness", "warning")]
    assert flags[0].message_id == reply["message_id"] and "跌倒" in flags[0].summary
    assert again["message_id"] not in [f.message_id for f in flags]  # not twice in 12 hours
    assert signal.mood == "in_pain" and signal.concerns == ["fall"]
    urgent, later = notes
    assert urgent.next_attempt_at <= taipei("2026-11-25T23:30:00")  # at once, quiet hours or not
    assert later.next_attempt_at == taipei("2026-11-26T07:00:00")  # after the quiet hours


def test_an_imported_history_raises_nothing(client, engine, world):
    a = world.a
    r = client.post(
        f"/v1/elders/{a.elder_id}/messages:import",
        json={
            "messages": [
                {
                    "text": "我跌倒了",
                    "said_at": "2025-01-05T10:00:00",
                    "role": "elder",
                    "external_id": "h1",
                }
            ]
        },
        headers=bearer(a.guardian),
    )
    assert r.status_code == 200
    with Session(engine) as session:
        assert session.exec(select(ConcernFlag)).all() == []
        assert session.exec(select(MessageSignal)).one().concerns == ["fall"]


def test_the_weekly_digest_links_to_the_elders_words_and_keeps_private_ones_out(
    client, engine, world
):
    a = world.a
    week = [
        ("2026-11-16T10:00:00", "今天去公園散步，天氣很好，好開心"),
        ("2026-11-17T20:00:00", "晚上一個人吃飯，好孤單"),
        ("2026-11-18T09:00:00", "我早上在廚房跌倒了，膝蓋好痛"),
        ("2026-11-19T15:00:00", "我年輕時在銀行上班，這是祕密別跟孩子說"),
        ("2026-11-21T11:00:00", "孫子來看我，我們一起包水餃"),
    ]
    ids = []
    for when, text in week:
        with time_machine.travel(taipei(when), tick=False):
            ids.append(_chat(client, a, text)["message_id"])
    with db.session_scope(engine) as session:
        secret = facts.remember_fact(
            session,
            elder_scope(session, a.elder_id),
            facts.FactDraft(kind="event", text="年輕時在銀行上班", private=True),
            sources=[session.get(Message, ids[3])],
            author=facts.COMPANION,
        )
        assert secret is not None
    with time_machine.travel(taipei("2026-11-23T10:00:00"), tick=False):
        r = client.get(
            f"/v1/elders/{a.elder_id}/digests",
            params={"period": "week", "date": "2026-11-22"},
            headers=bearer(a.family_full),
        )
    assert r.status_code == 200, r.text
    digest = r.json()
    assert digest["start"] == "2026-11-16" and digest["written_by"] == "extract"
    sections = digest["sections"]
    every_line = sections["summary"] + sections["joys"] + sections["worries"]
    assert all(line["message_ids"] for line in every_line)
    quoted = {line["text"] for line in every_line}
    assert "晚上一個人吃飯，好孤單" in quoted and "我早上在廚房跌倒了，膝蓋好痛" in quoted
    assert not any("銀行" in text for text in quoted)  # private
    assert {c["kind"] for c in sections["concerns"]} >= {"fall", "loneliness"}
    assert sections["moods"]["2026-11-18"] == {"in_pain": 1}
    denied = client.get(f"/v1/elders/{a.elder_id}/digests", headers=bearer(a.family_reader))
    assert denied.status_code == 403


def test_a_digest_in_the_family_members_language(engine, world):
    with (
        time_machine.travel(taipei("2026-11-20T10:00:00"), tick=False),
        db.session_scope(engine) as session,
    ):
        digest = build_digest(
            session,
            system_scope(session, world.a.elder_id),
            "day",
            datetime(2026, 11, 20).date(),
            "en",
        )
    assert digest.language == "en" and digest.sections["messages"] == 0
    assert digest.built_at.tzinfo is not None and digest.built_at <= datetime.now(UTC)


def test_the_models_second_look_drops_what_is_not_a_concern_but_keeps_urgent_ones(
    client, engine, world
):
    from langchain_core.language_models import FakeListChatModel

    from companion.signals import refine_pending

    a = world.a
    with time_machine.travel(datetime.now(UTC), tick=False):
        lonely = _chat(client, a, "一個人好寂寞")  # the rules: loneliness
        pain = _chat(client, a, "頭好痛")  # the rules: pain
        fell = _chat(client, a, "我跌倒了")  # the rules: fall (urgent): not asked
    model = FakeListChatModel(
        responses=[
            '{"concerns": [], "mood": "content"}',  # lonely: not a concern now
            '{"concerns": ["pain", "not_sleeping"], "mood": "anxious"}',  # adds: ignored
        ]
    )
    assert refine_pending(engine, model) == 3
    with Session(engine) as session:
        flags = {f.message_id: f for f in session.exec(select(ConcernFlag))}
        signals = {s.message_id: s for s in session.exec(select(MessageSignal))}
    assert flags[lonely["message_id"]].state == "resolved"  # dropped by the second look
    assert flags[pain["message_id"]].kind == "pain" and flags[pain["message_id"]].state == "open"
    assert signals[pain["message_id"]].concerns == ["pain"]  # nothing added
    assert signals[pain["message_id"]].mood == "in_pain"  # the rules' mood
    assert flags[fell["message_id"]].state == "open"  # urgent: kept whatever the model says
    assert (
        signals[lonely["message_id"]].by == "rules+model" and signals[lonely["message_id"]].refined
    )
    assert refine_pending(engine, model) == 0  # each message once

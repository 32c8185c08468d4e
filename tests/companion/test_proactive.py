"""The companion speaking first: the morning greeting with the day's reminders and weather,
a birthday note, a reminiscence prompt from a confirmed memory; never in quiet hours, never
beyond the daily limit, each once. And the family's e-mail when a reminder is missed."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import time_machine
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from companion.alerts.outbox import SmtpSettings
from companion.proactive import run_proactive
from companion.reminders.firing import fire_due, sweep
from companion.scheduler import Scheduler
from memory import db, facts
from memory.access import elder_scope
from memory.models import Account, Elder, Message
from tests.conftest import bearer

TAIPEI = ZoneInfo("Asia/Taipei")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TAIPEI).astimezone(UTC)


def proactive_at(engine, local: str) -> dict[str, int]:
    """A proactive pass at a local Taipei time, with the clock there too (messages are dated
    by it, and the daily limit counts by them)."""
    with time_machine.travel(at(local), tick=False):
        return run_proactive(engine, at(local))


def _said(engine, kind: str) -> list[str]:
    with Session(engine) as session:
        return [
            m.text
            for m in session.exec(
                select(Message).where(Message.proactive == kind).order_by(Message.id)
            )
        ]


def test_the_morning_greeting_says_the_day(client, engine, world):
    a = world.a
    base = f"/v1/elders/{a.elder_id}"
    with time_machine.travel(at("2026-11-25T20:00:00"), tick=False):
        changed = client.patch(
            base,
            json={"greeting_time": "08:30", "quiet_hours_start": "21:30"},
            headers=bearer(a.guardian),
        )
        assert changed.status_code == 200 and changed.json()["greeting_time"] == "08:30"
        for title, when in (("吃降血壓的藥", "2026-11-26T09:00"), ("看牙醫", "2026-11-26T15:30")):
            client.post(
                f"{base}/reminders",
                json={"title": title, "kind": "medicine", "repeat": "once", "starts_at": when},
                headers=bearer(a.family_full),
            )
        weather = client.put(
            f"{base}/days/2026-11-26/weather",
            json={"weather": "晴時多雲，22 度"},
            headers=bearer(a.family_full),
        )
        assert weather.status_code == 204
    assert proactive_at(engine, "2026-11-26T08:29:00")["greeting"] == 0
    assert proactive_at(engine, "2026-11-26T08:30:10")["greeting"] == 1
    assert proactive_at(engine, "2026-11-26T08:31:10")["greeting"] == 0  # once a day
    [greeting] = _said(engine, "greeting")
    assert greeting.startswith("早安！今天是2026年11月26日。")
    assert "晴時多雲，22 度" in greeting
    assert "上午9點吃降血壓的藥、下午3點半看牙醫" in greeting
    assert proactive_at(engine, "2026-11-27T08:30:10")["greeting"] == 1  # the next day


def test_birthday_and_reminiscence_respect_quiet_hours_and_the_daily_limit(client, engine, world):
    a = world.a
    with db.session_scope(engine) as session:
        elder = session.get(Elder, a.elder_id)
        elder.birthday = datetime(1946, 11, 26).date()
        elder.reminisce_after_hours = 24
        elder.proactive_per_day = 1
        scope = elder_scope(session, a.elder_id)
        fact = facts.add_fact(
            session,
            scope,
            facts.FactDraft(kind="event", text="年輕時在台南的糖廠當會計"),
        ).fact
        hidden = facts.add_fact(
            session,
            scope,
            facts.FactDraft(kind="event", text="先生過世那年很難過", sensitive=True),
        ).fact
        assert fact.status == hidden.status == "confirmed"
    with time_machine.travel(at("2026-11-20T10:00:00"), tick=False):
        client.post(
            f"/v1/elders/{a.elder_id}/messages",
            json={"text": "今天去公園走走"},
            headers=bearer(a.elder),
        )
    # 23:00 is in the quiet hours (22:00-07:00): nothing.
    assert sum(proactive_at(engine, "2026-11-25T23:00:00").values()) == 0
    # The birthday comes first; the daily limit (1) keeps the reminiscence for tomorrow.
    said = proactive_at(engine, "2026-11-26T09:05:00")
    assert (said["birthday"], said["reminisce"]) == (1, 0)
    assert "生日快樂" in _said(engine, "birthday")[0]
    said = proactive_at(engine, "2026-11-27T09:05:00")
    assert said["reminisce"] == 1
    [prompt] = _said(engine, "reminisce")
    assert "糖廠" in prompt and "過世" not in prompt  # never a sensitive memory
    assert proactive_at(engine, "2026-11-27T15:00:00")["reminisce"] == 0


def test_the_family_gets_an_email_when_medicine_is_missed(client, engine, world):
    received: list[str] = []

    class Inbox:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            received.append(envelope.content.decode("utf-8", "replace"))
            return "250 OK"

    with socket.socket() as probe:  # a free port (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(Inbox(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        a = world.a
        with db.session_scope(engine) as session:
            daughter = session.get(Account, world.a.account_ids["family_full"])
            daughter.email = "meihua@example.org"
            reader = session.get(Account, world.a.account_ids["family_reader"])
            reader.email = "reader@example.org"  # memories:read only: not told
        with time_machine.travel(at("2026-11-26T07:00:00"), tick=False):
            client.post(
                f"/v1/elders/{a.elder_id}/reminders",
                json={
                    "title": "吃降血壓的藥",
                    "kind": "medicine",
                    "repeat": "daily",
                    "starts_at": "2026-11-26T08:00",
                    "ack_window_minutes": 30,
                },
                headers=bearer(a.family_full),
            )
        settings = SmtpSettings(host="127.0.0.1", port=port, starttls=False)
        scheduler = Scheduler(engine, holder="mail", smtp=settings)
        fire_due(engine, at("2026-11-26T08:00:00"), email=True)
        with time_machine.travel(at("2026-11-26T08:31:00"), tick=False):  # dates the alert
            sweep(engine, at("2026-11-26T08:31:00"), email=True)
        assert scheduler.sender.deliver_due(engine, at("2026-11-26T08:31:00")) == 1
        scheduler.stop()
    finally:
        smtp.stop()
    [mail] = received
    assert "To: meihua@example.org" in mail and "reader@example.org" not in mail


def test_a_family_member_sets_their_email_for_alerts(client, world):
    r = client.patch(
        "/v1/me", json={"email": "meihua@example.org"}, headers=bearer(world.a.family_full)
    )
    assert r.status_code == 200 and r.json()["email"] == "meihua@example.org"
    bad = client.patch(
        "/v1/me", json={"email": "not an address"}, headers=bearer(world.a.family_full)
    )
    assert bad.status_code == 422
    assert (
        client.patch("/v1/me", json={"email": None}, headers=bearer(world.a.family_full)).json()[
            "email"
        ]
        is None
    )


def test_an_anniversary_held_in_memory_gets_a_warm_word(engine, world):
    a = world.a
    with db.session_scope(engine) as session:
        facts.add_fact(
            session,
            elder_scope(session, a.elder_id),
            facts.FactDraft(
                kind="event",
                text="民國五十七年十一月二十八日我們結婚",
                event_time=datetime(1968, 11, 28, 10, 0, tzinfo=TAIPEI),
            ),
        )
    assert proactive_at(engine, "2026-11-27T10:00:00")["anniversary"] == 0
    assert proactive_at(engine, "2026-11-28T10:00:00")["anniversary"] == 1
    assert proactive_at(engine, "2026-11-28T11:00:00")["anniversary"] == 0
    assert "結婚" in _said(engine, "anniversary")[0]


def test_the_nightly_job_runs_once_per_elder_and_night(engine, world):
    done: list[tuple[str, str]] = []
    scheduler = Scheduler(
        engine, holder="night", nightly=lambda _s, elder_id, day: done.append((elder_id, str(day)))
    )
    try:
        assert scheduler.run_nightly(at("2026-11-26T03:30:00")) == 0  # not the active one yet
        scheduler.tick(at("2026-11-26T02:59:00"))
        assert scheduler.run_nightly(at("2026-11-26T02:59:00")) == 0  # before 03:00
        scheduler.tick(at("2026-11-26T03:00:30"))
        assert scheduler.run_nightly(at("2026-11-26T03:00:30")) == 2  # both elders
        assert scheduler.run_nightly(at("2026-11-26T03:01:30")) == 0  # once a night
    finally:
        scheduler.stop()
    assert sorted(done) == sorted((e, "2026-11-25") for e in (world.a.elder_id, world.b.elder_id))

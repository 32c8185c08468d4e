"""Reminders with a frozen clock: said once however many schedulers run, "我吃了" marks it
done, an unanswered one is followed up once and then missed, a concern is raised and the
family's webhook hears of it; adherence counts it all."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlmodel import Session, select

from companion.reminders import schedule
from companion.reminders.firing import fire_due, says_done, sweep
from companion.scheduler import Lease, Scheduler
from memory.models import (
    ConcernFlag,
    Message,
    Notification,
    Reminder,
    ReminderOccurrence,
)
from tests.conftest import bearer

TAIPEI = ZoneInfo("Asia/Taipei")


def taipei(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TAIPEI)


class Hook:
    """A family integration: answers 500 `failures` times, then 200; keeps what it got."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[dict, bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((dict(self.headers), body))
                failing = len(hook.received) <= hook.failures
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/zhian"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def _together(*schedulers: Scheduler) -> list:
    """Tick the schedulers at the same moment, each on its own thread."""
    barrier = threading.Barrier(len(schedulers))
    results: dict[int, object] = {}

    def run(n: int, scheduler: Scheduler) -> None:
        barrier.wait()
        results[n] = scheduler.tick()

    threads = [threading.Thread(target=run, args=(n, s)) for n, s in enumerate(schedulers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [results[n] for n in range(len(schedulers))]


def _reminder(client, household, **body) -> dict:
    body = {"title": "吃降血壓的藥", "kind": "medicine", "repeat": "daily", **body}
    r = client.post(
        f"/v1/elders/{household.elder_id}/reminders",
        json=body,
        headers=bearer(household.family_full),
    )
    assert r.status_code == 201, r.text
    return r.json()


def _occurrences(engine) -> list[ReminderOccurrence]:
    with Session(engine) as session:
        return list(session.exec(select(ReminderOccurrence).order_by(ReminderOccurrence.due_at)))


def _said(engine, kind: str) -> list[Message]:
    with Session(engine) as session:
        return list(
            session.exec(select(Message).where(Message.proactive == kind).order_by(Message.id))
        )


def test_the_daily_medicine_reminder(client, engine, world, hook):
    """The issue's bar: with two schedulers, a daily 08:00 medicine reminder in Asia/Taipei is
    said once, in Chinese; "我吃了" marks it done; the next day, unanswered, it is missed, a
    concern is raised, the family's webhook hears of it; adherence: 1 done, 1 missed."""
    a = world.a
    with time_machine.travel(taipei("2026-11-26T07:59:00"), tick=False) as clock:
        made = _reminder(client, a, starts_at="2026-11-26T08:00")
        assert made["next_due_at"].startswith("2026-11-26T00:00")  # 08:00 in Taipei
        webhook = client.post(
            f"/v1/elders/{a.elder_id}/webhooks",
            json={"url": hook.url},
            headers=bearer(a.family_full),
        ).json()
        first, second = Scheduler(engine, holder="one"), Scheduler(engine, holder="two")
        try:
            for s in (first, second):
                assert s.tick().reminders.fired == 0  # 07:59: nothing yet

            clock.move_to(taipei("2026-11-26T08:00:05"))
            ticks = _together(first, second) + _together(second, first)
            assert sorted(t.active for t in ticks) == [False, False, True, True]
            assert sum(t.reminders.fired for t in ticks) == 1
            [said] = _said(engine, "reminder")
            assert "藥" in said.text and "早上8點" in said.text and said.language == "zh-Hant"
            [occurrence] = _occurrences(engine)
            assert occurrence.status == "delivered"

            clock.move_to(taipei("2026-11-26T08:12:00"))
            reply = client.post(
                f"/v1/elders/{a.elder_id}/chat", json={"message": "我吃了"}, headers=bearer(a.elder)
            ).json()
            assert reply["kind"] == "reminder_done" and "吃降血壓的藥" in reply["reply"]
            [occurrence] = _occurrences(engine)
            assert occurrence.status == "done" and occurrence.done_message_id == reply["message_id"]
            assert occurrence.done_at == taipei("2026-11-26T08:12:00")

            # The next day nobody answers: one follow-up half way, then missed.
            clock.move_to(taipei("2026-11-27T08:00:02"))
            assert first.tick().reminders.fired + second.tick().reminders.fired == 1
            clock.move_to(taipei("2026-11-27T08:30:02"))
            assert first.tick().reminders.followed_up == 1
            assert first.tick().reminders.followed_up == 0  # once
            assert "弄好了嗎" in _said(engine, "follow_up")[0].text
            clock.move_to(taipei("2026-11-27T09:00:03"))
            assert first.tick().reminders.missed == 1
            assert first.tick().reminders.missed == 0
        finally:
            first.stop()
            second.stop()

    done, missed = _occurrences(engine)
    assert (done.status, missed.status, missed.missed_reason) == ("done", "missed", "no_answer")
    with Session(engine) as session:
        [flag] = session.exec(select(ConcernFlag)).all()
    assert flag.kind == "missed_medicine" and flag.occurrence_id == missed.id
    assert "吃降血壓的藥" in flag.summary

    events = {json.loads(body)["event"]: (headers, body) for headers, body in hook.received}
    assert set(events) == {"reminder.missed", "concern.raised"}
    headers, body = events["reminder.missed"]
    stamp, digest = (part.split("=", 1)[1] for part in headers["X-Zhian-Signature"].split(","))
    expected = hmac.new(webhook["secret"].encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(digest, expected.hexdigest())
    assert json.loads(body)["occurrence"]["id"] == missed.id

    adherence = client.get(
        f"/v1/elders/{a.elder_id}/reminders/adherence",
        params={"since": "2026-11-26T00:00:00", "until": "2026-11-28T00:00:00"},
        headers=bearer(a.family_reader),
    )
    assert adherence.status_code == 403  # memories:read only
    adherence = client.get(
        f"/v1/elders/{a.elder_id}/reminders/adherence",
        params={"since": "2026-11-26T00:00:00", "until": "2026-11-28T00:00:00"},
        headers=bearer(a.family_full),
    ).json()
    assert {k: adherence["total"][k] for k in ("due", "done", "missed")} == {
        "due": 2,
        "done": 1,
        "missed": 1,
    }
    assert adherence["total"]["rate"] == 0.5
    assert adherence["by_kind"]["medicine"]["missed"] == 1
    assert adherence["reminders"][0]["reminder_id"] == made["id"]
    concerns = client.get(f"/v1/elders/{a.elder_id}/concerns", headers=bearer(a.family_full))
    assert [c["kind"] for c in concerns.json()] == ["missed_medicine"]


# --- schedules across daylight saving ------------------------------------------------------


def _schedule(starts_at: str, rrule: str | None, tz: str) -> Reminder:
    return Reminder(
        elder_id="x", title="t", kind="routine", starts_at=starts_at, rrule=rrule, timezone=tz
    )


def _local(dues, tz: str) -> list[str]:
    return [d.astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M %Z") for d in dues]


def test_a_daily_time_stays_on_the_wall_clock_across_a_clock_change():
    reminder = _schedule("2026-10-30T08:00", "FREQ=DAILY", "America/New_York")
    start = datetime(2026, 10, 30, tzinfo=UTC)
    dues = [d for _, d in zip(range(4), schedule.occurrences(reminder, start), strict=False)]
    assert _local(dues, "America/New_York") == [
        "10-30 08:00 EDT",
        "10-31 08:00 EDT",
        "11-01 08:00 EST",  # clocks went back that night
        "11-02 08:00 EST",
    ]
    assert [d.hour for d in dues] == [12, 12, 13, 13]  # so UTC moves by an hour


def test_a_weekly_rrule_across_spring_forward_and_a_skipped_hour():
    reminder = _schedule("2026-03-02T09:30", "FREQ=WEEKLY;BYDAY=MO,TH", "Europe/London")
    dues = list(
        zip(
            range(6),
            schedule.occurrences(reminder, datetime(2026, 3, 20, tzinfo=UTC)),
            strict=False,
        )
    )
    assert _local([d for _, d in dues], "Europe/London") == [
        "03-23 09:30 GMT",
        "03-26 09:30 GMT",
        "03-30 09:30 BST",  # British Summer Time began on the 29th
        "04-02 09:30 BST",
        "04-06 09:30 BST",
        "04-09 09:30 BST",
    ]
    # In New York 02:30 does not exist the night clocks jump from 02:00 to 03:00: said at 03:30.
    night = _schedule("2026-03-07T02:30", "FREQ=DAILY", "America/New_York")
    dues = list(
        zip(range(3), schedule.occurrences(night, datetime(2026, 3, 7, tzinfo=UTC)), strict=False)
    )
    assert _local([d for _, d in dues], "America/New_York") == [
        "03-07 02:30 EST",
        "03-08 03:30 EDT",
        "03-09 02:30 EDT",
    ]


# --- exactly once, however many schedulers ---------------------------------------------------


def test_five_schedulers_at_once_say_each_time_once(client, engine, world):
    """Even with the lease bypassed (five processes' worth of threads firing together), each
    occurrence is one row and one message."""
    a = world.a
    with time_machine.travel(taipei("2026-11-26T09:00:00"), tick=False):
        for minute in range(10):
            _reminder(
                client,
                a,
                title=f"第{minute}件事",
                kind="routine",
                repeat="daily",
                starts_at=f"2026-11-26T10:{minute:02d}",
            )
    now = taipei("2026-11-28T10:20:00").astimezone(UTC)  # three days of ten reminders are due
    grace = timedelta(days=7)
    barrier = threading.Barrier(5)

    def run() -> None:
        barrier.wait()
        fire_due(engine, now, grace=grace)

    threads = [threading.Thread(target=run) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    occurrences = _occurrences(engine)
    assert len(occurrences) == 30
    assert len({(o.reminder_id, o.due_at) for o in occurrences}) == 30
    assert len(_said(engine, "reminder")) == 30
    assert fire_due(engine, now, grace=grace).fired == 0  # nothing left


def test_a_standby_takes_over_when_the_active_scheduler_stops(engine):
    start = datetime(2026, 11, 26, tzinfo=UTC)
    active, standby = Lease(engine, "active", seconds=30), Lease(engine, "standby", seconds=30)
    assert active.acquire(start)
    assert not standby.acquire(start + timedelta(seconds=10))
    assert active.acquire(start + timedelta(seconds=20))  # renewed
    # The active one dies (no more renewals): the lease runs out 30 s after the last one.
    assert not standby.acquire(start + timedelta(seconds=49))
    assert standby.acquire(start + timedelta(seconds=51))
    assert standby.current().holder == "standby"
    assert not active.acquire(start + timedelta(seconds=55))


# --- the elder's words -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "words",
    [
        "我吃了",
        "藥吃過了",
        "我已經吃藥了",
        "吃好了，謝謝",
        "药吃了",
        "我已经吃过了",
        "I took it",
        "I've taken my pills",
        "done",
        "Yes, I took them",
    ],
)
def test_done_in_the_elders_words(words):
    assert says_done(words, "medicine")


@pytest.mark.parametrize(
    "words",
    [
        "還沒吃",
        "我等一下再吃",
        "我忘了",
        "吃了嗎？",
        "我吃了早餐",
        "还没有",
        "Not yet",
        "I haven't taken it",
        "I forgot",
        "Did I take it?",
        "I had breakfast",
    ],
)
def test_not_done_in_the_elders_words(words):
    assert not says_done(words, "medicine")


def test_the_elder_taps_done_on_the_page(client, engine, world):
    a = world.a
    with time_machine.travel(taipei("2026-11-26T09:00:00"), tick=False) as clock:
        _reminder(
            client,
            a,
            title="Walk in the park",
            kind="routine",
            repeat="once",
            starts_at="2026-11-26T10:00",
        )
        clock.move_to(taipei("2026-11-26T10:00:01"))
        fire_due(engine, datetime.now(UTC))
        [waiting] = client.get(
            f"/v1/elders/{a.elder_id}/reminders/open", headers=bearer(a.elder)
        ).json()
        done = client.post(
            f"/v1/elders/{a.elder_id}/reminders/occurrences/{waiting['id']}:done",
            headers=bearer(a.elder),
        )
        assert done.status_code == 200 and done.json()["done_by"] == "elder (button)"
        assert (
            client.get(f"/v1/elders/{a.elder_id}/reminders/open", headers=bearer(a.elder)).json()
            == []
        )
        other = client.post(
            f"/v1/elders/{world.b.elder_id}/reminders/occurrences/{waiting['id']}:done",
            headers=bearer(world.b.elder),
        )
        assert other.status_code == 404


# --- after downtime ------------------------------------------------------------------------------


def test_after_downtime_late_within_grace_else_missed(client, engine, world, hook):
    a = world.a
    with time_machine.travel(taipei("2026-11-26T07:00:00"), tick=False):
        _reminder(client, a, starts_at="2026-11-26T08:00")
        client.post(
            f"/v1/elders/{a.elder_id}/webhooks",
            json={"url": hook.url},
            headers=bearer(a.family_full),
        )
    # Back at 08:20: within the 30 minutes of grace, said late.
    report = fire_due(engine, taipei("2026-11-26T08:20:00").astimezone(UTC))
    assert (report.fired, report.late) == (1, 1)
    # Away all the next morning: too late to say, recorded as missed and the family told.
    report = fire_due(engine, taipei("2026-11-27T09:30:00").astimezone(UTC))
    assert (report.fired, report.not_delivered) == (0, 1)
    late, lost = _occurrences(engine)
    assert late.late and late.status == "delivered"
    assert (lost.status, lost.missed_reason) == ("missed", "not_delivered")
    with Session(engine) as session:
        assert session.exec(select(ConcernFlag)).one().occurrence_id == lost.id
        assert {n.event for n in session.exec(select(Notification))} == {
            "reminder.missed",
            "concern.raised",
        }


def test_a_webhook_is_retried_with_backoff_until_it_answers(client, engine, world):
    a = world.a
    hook = Hook(failures=2)
    try:
        with time_machine.travel(taipei("2026-11-26T07:00:00"), tick=False):
            _reminder(client, a, starts_at="2026-11-26T08:00", ack_window_minutes=10)
            client.post(
                f"/v1/elders/{a.elder_id}/webhooks",
                json={"url": hook.url, "events": ["reminder.missed"]},
                headers=bearer(a.family_full),
            )
        start = taipei("2026-11-26T08:00:00").astimezone(UTC)
        fire_due(engine, start)
        with time_machine.travel(start + timedelta(minutes=11), tick=False):  # dates the alert
            sweep(engine, start + timedelta(minutes=11))
        scheduler = Scheduler(engine, holder="solo")
        sent = [
            scheduler.sender.deliver_due(engine, start + timedelta(minutes=11, seconds=s))
            for s in (0, 10, 31, 60, 95)
        ]
        scheduler.stop()
    finally:
        hook.close()
    assert sent == [0, 0, 0, 0, 1]  # failed, waiting 30 s, failed, waiting 60 s, delivered
    assert len(hook.received) == 3
    assert len({h["X-Zhian-Delivery"] for h, _ in hook.received}) == 1  # the same delivery id
    with Session(engine) as session:
        note = session.exec(select(Notification)).one()
    assert note.attempts == 3 and note.delivered_at is not None


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"repeat": "rrule", "rrule": "FREQ=DAILIY"}, "could not be read"),
        ({"timezone": "Asia/Taipie"}, "not a timezone"),
        ({"repeat": "once", "starts_at": "2026-11-20T08:00"}, "already passed"),
        ({"starts_at": "2026-11-26T23:00"}, "quiet hours"),
        ({"kind": "chores"}, "kind"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_reminders_are_refused_with_what_to_fix(client, world, body, words):
    a = world.a
    with time_machine.travel(taipei("2026-11-25T12:00:00"), tick=False):
        r = client.post(
            f"/v1/elders/{a.elder_id}/reminders",
            json={
                "title": "吃藥",
                "kind": "medicine",
                "repeat": "daily",
                "starts_at": "2026-11-26T08:00",
                **body,
            },
            headers=bearer(a.family_full),
        )
    assert r.status_code == 422, r.text
    assert words in r.text


def test_who_may_set_reminders(client, world):
    a = world.a
    body = {"title": "吃藥", "kind": "medicine", "repeat": "daily", "starts_at": "2030-01-01T08:00"}
    url = f"/v1/elders/{a.elder_id}/reminders"
    assert client.post(url, json=body, headers=bearer(a.family_reader)).status_code == 403
    assert client.post(url, json=body, headers=bearer(a.creator)).status_code == 403
    assert client.post(url, json=body, headers=bearer(world.b.family_full)).status_code == 404
    made = client.post(url, json=body, headers=bearer(a.guardian))
    assert made.status_code == 201
    paused = client.patch(
        f"{url}/{made.json()['id']}", json={"paused": True}, headers=bearer(a.family_full)
    )
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert paused.json()["next_due_at"] is None  # nothing is said while paused
    resumed = client.patch(
        f"{url}/{made.json()['id']}", json={"paused": False}, headers=bearer(a.family_full)
    )
    assert resumed.json()["next_due_at"].startswith("2030-01-01T00:00")
    assert (
        client.delete(f"{url}/{made.json()['id']}", headers=bearer(a.family_reader)).status_code
        == 403
    )


# --- the calendar feed and the elder's page ------------------------------------------------------


def test_the_family_calendar_feed(client, world):
    a = world.a
    with time_machine.travel(taipei("2026-11-25T12:00:00"), tick=False):
        _reminder(client, a, starts_at="2026-11-26T08:00", notes="飯後")
        link = client.post(
            f"/v1/elders/{a.elder_id}/reminders/calendar-link", headers=bearer(a.family_full)
        ).json()
    path = link["url"].split("testserver", 1)[1]
    feed = client.get(path)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    text = feed.text.replace("\r\n ", "")
    assert "RRULE:FREQ=DAILY" in text and "SUMMARY:吃降血壓的藥" in text
    assert "DTSTART;TZID=Asia/Taipei:20261126T080000" in text and "BEGIN:VTIMEZONE" in text
    token = path.split("token=")[1]
    # The calendar token opens the feed and nothing else; an API token does not open the feed.
    assert (
        client.get(f"/v1/elders/{a.elder_id}/reminders", headers=bearer(token)).status_code == 401
    )
    assert (
        client.get(
            f"/v1/elders/{a.elder_id}/reminders.ics", params={"token": a.family_full}
        ).status_code
        == 401
    )


def test_the_elders_open_page_hears_the_reminder(client, engine, world):
    a = world.a
    with time_machine.travel(taipei("2026-11-26T07:00:00"), tick=False):
        _reminder(client, a, starts_at="2026-11-26T08:00")
    fire_due(engine, taipei("2026-11-26T08:00:00").astimezone(UTC))
    with client.stream(
        "GET",
        f"/v1/elders/{a.elder_id}/events",
        params={"after": 0, "wait": 1},
        headers=bearer(a.elder),
    ) as stream:
        body = "".join(stream.iter_text())
    event = json.loads(body.split("event: message\ndata: ")[1].split("\n")[0])
    assert event["kind"] == "reminder" and "吃降血壓的藥" in event["text"]
    refused = client.get(
        f"/v1/elders/{a.elder_id}/events", params={"wait": 1}, headers=bearer(a.family_full)
    )
    assert refused.status_code == 403


# --- reminders the elder asks for ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "title", "kind", "at"),
    [
        ("提醒我明天下午三點去看醫生", "看醫生", "appointment", "2026-11-26T15:00"),
        ("提醒我后天早上八点吃药", "吃药", "medicine", "2026-11-27T08:00"),
        ("請提醒我下星期一上午十點半去復診", "復診", "appointment", "2026-11-30T10:30"),
        ("Remind me to call Mary tomorrow at 3pm", "call Mary", "other", "2026-11-26T15:00"),
    ],
)
def test_the_elder_asks_for_a_reminder_in_their_words(words, title, kind, at):
    from companion.reminders.asked import asked_reminder

    asked = asked_reminder(words, datetime(2026, 11, 25, 10, 0, tzinfo=TAIPEI))
    assert (asked.title, asked.kind, asked.at.isoformat(timespec="minutes")) == (title, kind, at)


def test_asked_in_chat_then_said_at_the_time(client, engine, world):
    a = world.a
    chat = f"/v1/elders/{a.elder_id}/chat"
    with time_machine.travel(taipei("2026-11-25T10:00:00"), tick=False):
        reply = client.post(
            chat, json={"message": "提醒我明天下午三點去看醫生"}, headers=bearer(a.elder)
        ).json()
        assert reply["kind"] == "reminder_set"
        assert reply["reply"] == "好的，2026年11月26日下午3點我會提醒您：看醫生。"
        late = client.post(chat, json={"message": "提醒我晚上十一點吃藥"}, headers=bearer(a.elder))
        assert "休息" in late.json()["reply"]  # quiet hours: not set
        vague = client.post(chat, json={"message": "提醒我打電話給美玲"}, headers=bearer(a.elder))
        assert "什麼時候" in vague.json()["reply"]
    [made] = client.get(f"/v1/elders/{a.elder_id}/reminders", headers=bearer(a.family_full)).json()
    assert (made["title"], made["kind"], made["rrule"]) == ("看醫生", "appointment", None)
    assert fire_due(engine, taipei("2026-11-26T15:00:01").astimezone(UTC)).fired == 1
    assert "下午3點" in _said(engine, "reminder")[0].text

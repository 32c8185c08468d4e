"""No reminder can stall the service: repeating rules are held to what a reminder may be (at
most once an hour, a sane INTERVAL, one line, a time that exists), quiet hours are checked
against the rule's own hours, and a bad rule already in the database is set aside by the
scheduler, with the family told, while every other elder's reminders are said and their
writes go through."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlmodel import Session, select

from companion.scheduler import Scheduler
from memory.db import session_scope
from memory.models import ConcernFlag, Message, Reminder, ReminderOccurrence
from tests.conftest import bearer

TAIPEI = ZoneInfo("Asia/Taipei")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=TAIPEI)


def _post(client, household, **body):
    body = {"title": "吃藥", "kind": "medicine", "starts_at": "2026-11-26T08:00", **body}
    with time_machine.travel(NOW, tick=False):
        return client.post(
            f"/v1/elders/{household.elder_id}/reminders",
            json=body,
            headers=bearer(household.family_full),
        )


def _rule(client, household, rule: str, **body):
    return _post(client, household, repeat="rrule", rrule=rule, **body)


# --- what a rule may be ------------------------------------------------------------------------


def test_interval_zero_is_refused_when_made_and_when_changed(client, world):
    a = world.a
    refused = _rule(client, a, "FREQ=DAILY;INTERVAL=0")
    assert refused.status_code == 422, refused.text
    assert "INTERVAL must be a whole number from 1" in refused.json()["message"]

    made = _rule(client, a, "FREQ=DAILY")
    assert made.status_code == 201, made.text
    url = f"/v1/elders/{a.elder_id}/reminders/{made.json()['id']}"
    with time_machine.travel(NOW, tick=False):
        changed = client.patch(
            url, json={"rrule": "FREQ=DAILY;INTERVAL=0"}, headers=bearer(a.family_full)
        )
    assert changed.status_code == 422, changed.text
    assert "INTERVAL" in changed.json()["message"]
    kept = client.get(url, headers=bearer(a.family_full)).json()
    assert kept["rrule"] == "FREQ=DAILY" and kept["next_due_at"] is not None


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=DAILY;INTERVAL=-1", "INTERVAL must be a whole number"),
        ("FREQ=DAILY;INTERVAL=1.5", "INTERVAL must be a whole number"),
        ("FREQ=SECONDLY", "at most once an hour"),
        ("FREQ=MINUTELY;INTERVAL=30", "at most once an hour"),
        ("FREQ=HOURLY;BYMINUTE=0,30", "at most once an hour"),
        ("FREQ=HOURLY;BYSECOND=0,30", "at most once an hour"),
        ("FREQ=DAILY;BYHOUR=8;BYMINUTE=0,1,2,3", "at most once an hour"),
        ("FREQ=DAILY\nRDATE:20270101T080000", "line break"),
        ("FREQ=DAILY;\rBYHOUR=8", "line break"),
        ("FREQ=DAILY;BYEASTER=0", "could not be read"),
        ("FREQ=DAILY;BYHOUR=25", "BYHOUR takes whole numbers from 0 to 23"),
        ("FREQ=DAILY;UNTIL=20271231T000000Z", "without the Z"),
    ],
)
def test_rules_a_reminder_may_not_have_are_refused_with_what_to_change(client, world, rule, words):
    r = _rule(client, world.a, rule)
    assert r.status_code == 422, r.text
    assert words in r.json()["message"]


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=HOURLY;BYHOUR=9;BYMONTH=4;BYMONTHDAY=31",
    ],
)
def test_a_rule_that_never_happens_is_refused(client, world, rule):
    r = _rule(client, world.a, rule)
    assert r.status_code == 422, r.text
    message = r.json()["message"]
    assert "never happens" in message or "at most once an hour" in message


@pytest.mark.parametrize(
    ("rule", "starts_at"),
    [
        ("FREQ=HOURLY;BYHOUR=8,9,10,11,12,13,14,15,16,17,18,19,20,21", "2026-11-26T08:00"),
        ("FREQ=DAILY;BYHOUR=8,12,18", "2026-11-26T08:00"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "2026-11-27T10:00"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "2028-02-29T09:00"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;UNTIL=20271231T235900", "2026-11-26T09:30"),
    ],
)
def test_ordinary_rules_are_still_welcome(client, world, rule, starts_at):
    r = _rule(client, world.a, rule, starts_at=starts_at)
    assert r.status_code == 201, r.text


def test_quiet_hours_are_checked_at_every_hour_of_the_rule(client, world):
    """Quiet hours 22:00-07:00: a minutely rule from 21:00 used to pass (its next 60 times are
    all before 22:00); an hourly one reaches 22:00, and a BYHOUR list is checked hour by hour."""
    a = world.a
    minutely = _rule(client, a, "FREQ=MINUTELY", starts_at="2026-11-25T21:00")
    assert minutely.status_code == 422, minutely.text
    hourly = _rule(client, a, "FREQ=HOURLY", starts_at="2026-11-26T09:00")
    assert hourly.status_code == 422 and "quiet hours" in hourly.json()["message"]
    late = _rule(client, a, "FREQ=DAILY;BYHOUR=9,23")
    assert late.status_code == 422
    assert late.json()["message"].startswith("23:00 falls in 林美華's quiet hours (22:00-07:00)")


@pytest.mark.parametrize("starts_at", ["9999-12-31T08:00", "1899-01-01T08:00"])
def test_a_first_time_outside_sensible_years_is_refused(client, world, starts_at):
    r = _post(client, world.a, repeat="daily", starts_at=starts_at)
    assert r.status_code == 422, r.text
    assert "starts_at" in r.json()["message"]


# --- rules stored before these checks -----------------------------------------------------------


def _store_unchecked(engine, elder_id: str, rule: str, due: datetime) -> int:
    """A reminder written straight into the table, as an older version may have left it."""
    with session_scope(engine) as session:
        reminder = Reminder(
            elder_id=elder_id,
            title="量血壓",
            kind="routine",
            starts_at="2026-11-26T08:00",
            rrule=rule,
            timezone="Asia/Taipei",
            next_due_at=due,
        )
        session.add(reminder)
        session.flush()
        return reminder.id  # type: ignore[return-value]


def _tick_within(scheduler: Scheduler, now: datetime, seconds: float = 60):
    """The tick on a thread: one that never ends fails the test instead of hanging it."""
    done: dict = {}
    thread = threading.Thread(target=lambda: done.update(tick=scheduler.tick(now)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the scheduler's tick did not finish"
    return done["tick"]


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;INTERVAL=-1",
        "FREQ=SECONDLY",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY\nRDATE:20270101T080000",
    ],
)
def test_a_bad_rule_in_the_database_is_set_aside_and_the_others_go_on(client, engine, world, rule):
    a, b = world.a, world.b
    made = _post(client, b, repeat="daily", title="Take the pills")
    assert made.status_code == 201, made.text
    due = datetime(2026, 11, 26, 8, 0, tzinfo=TAIPEI).astimezone(UTC)
    bad = _store_unchecked(engine, a.elder_id, rule, due)
    scheduler = Scheduler(engine, holder="solo")
    try:
        with time_machine.travel(due + timedelta(seconds=5), tick=False):
            tick = _tick_within(scheduler, due + timedelta(seconds=5))
            assert tick.active and tick.reminders.fired == 1 and tick.reminders.set_aside == 1
            # The family's calendar still opens, without the bad reminder.
            link = client.post(
                f"/v1/elders/{a.elder_id}/reminders/calendar-link", headers=bearer(a.family_full)
            ).json()
            feed = client.get(link["url"].split("testserver", 1)[1])
            assert feed.status_code == 200 and "量血壓" not in feed.text
            # Another elder's write goes through at once.
            other = _post(client, b, repeat="daily", title="Walk", starts_at="2026-11-27T10:00")
            assert other.status_code == 201, other.text
            # The next tick does not try the bad reminder again.
            again = _tick_within(scheduler, due + timedelta(seconds=20))
            assert again.reminders.set_aside == 0
    finally:
        scheduler.stop()

    with Session(engine) as session:
        said = session.exec(select(Message).where(Message.proactive == "reminder")).all()
        assert [m.elder_id for m in said] == [b.elder_id]
        stopped = session.get(Reminder, bad)
        assert stopped.paused and stopped.next_due_at is None
        assert not session.exec(
            select(ReminderOccurrence).where(ReminderOccurrence.reminder_id == bad)
        ).all()
        [flag] = session.exec(select(ConcernFlag).where(ConcernFlag.elder_id == a.elder_id)).all()
        assert flag.kind == "reminder_paused" and "量血壓" in flag.summary
        assert "暫停" in flag.summary
    concerns = client.get(f"/v1/elders/{a.elder_id}/concerns", headers=bearer(a.family_full))
    assert [c["kind"] for c in concerns.json()] == ["reminder_paused"]
    # Resuming it says what is wrong; a good rule and a resume bring it back.
    url = f"/v1/elders/{a.elder_id}/reminders/{bad}"
    with time_machine.travel(due + timedelta(minutes=1), tick=False):
        resumed = client.patch(url, json={"paused": False}, headers=bearer(a.family_full))
        assert resumed.status_code == 422, resumed.text
        fixed = client.patch(
            url,
            json={"repeat": "daily", "paused": False, "starts_at": "2026-11-27T08:00"},
            headers=bearer(a.family_full),
        )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["paused"] is False and fixed.json()["next_due_at"] is not None


# --- the days of a life --------------------------------------------------------------------------


@pytest.mark.parametrize("birthday", ["9999-01-01", "1850-06-01"])
def test_a_birthday_outside_a_life_is_refused(client, world, birthday):
    a = world.a
    r = client.patch(
        f"/v1/elders/{a.elder_id}", json={"birthday": birthday}, headers=bearer(a.guardian)
    )
    assert r.status_code == 422, r.text
    assert "birthday" in r.json()["message"] and "1900" in r.json()["message"]
    made = client.post(
        "/v1/elders",
        json={"name": "王大明", "language": "zh-Hant", "birthday": birthday},
        headers=bearer(world.admin),
    )
    assert made.status_code == 422, made.text
    fine = client.patch(
        f"/v1/elders/{a.elder_id}", json={"birthday": "1941-03-08"}, headers=bearer(a.guardian)
    )
    assert fine.status_code == 200, fine.text


def test_the_weather_of_a_day_far_ahead_is_refused(client, world):
    a = world.a
    url = f"/v1/elders/{a.elder_id}/days/9999-12-31/weather"
    r = client.put(url, json={"weather": "晴"}, headers=bearer(a.family_full))
    assert r.status_code == 422, r.text
    assert "1900" in r.json()["message"]
    ok = client.put(
        f"/v1/elders/{a.elder_id}/days/2026-11-26/weather",
        json={"weather": "晴"},
        headers=bearer(a.family_full),
    )
    assert ok.status_code == 204, ok.text

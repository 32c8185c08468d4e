"""Separate processes on one database: two schedulers and three API workers fire each
occurrence exactly once; the active scheduler killed with SIGKILL, the standby takes over
within the lease."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, func, select

from companion.reminders.firing import fire_due
from companion.reminders.schedule import ReminderDraft, create_reminder
from companion.scheduler import Lease, Scheduler
from memory import db
from memory.access import elder_scope
from memory.models import Message, ReminderOccurrence

# Tomorrow 10:00 in Taipei (one-off reminders must lie in the future when they are made).
START = (datetime.now(UTC) + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
MINUTES = 8
PER_MINUTE = 5


def _url(engine) -> str:  # type: ignore[no-untyped-def]
    return engine.url.render_as_string(hide_password=False)


def _run(url: str, holder: str, with_lease: bool, go, start: datetime) -> None:  # type: ignore[no-untyped-def]
    """A scheduler process (with the lease) or an API worker that fires on its own (as if
    its lease had overlapped another's): either way, minute by minute."""
    engine = db.make_engine(url)
    scheduler = Scheduler(engine, holder=holder)
    go.wait()
    for minute in range(MINUTES + 1):
        now = start + timedelta(minutes=minute, seconds=1)
        for _ in range(3):
            if with_lease:
                scheduler.tick(now)
            else:
                fire_due(engine, now)
    scheduler.sender.close()


def _hold_forever(url: str) -> None:
    engine = db.make_engine(url)
    Scheduler(engine, holder="doomed", tick_seconds=0.3, lease_seconds=2).start()
    while True:
        time.sleep(1)


def test_two_schedulers_and_three_workers_fire_each_occurrence_once(engine, world):
    with db.session_scope(engine) as session:
        scope = elder_scope(session, world.a.elder_id)
        for minute in range(MINUTES):
            for n in range(PER_MINUTE):
                create_reminder(
                    session,
                    scope,
                    ReminderDraft(
                        title=f"事情{minute}-{n}",
                        kind="routine",
                        starts_at=(START + timedelta(minutes=minute)).replace(tzinfo=None)
                        + timedelta(hours=8),
                        repeat="once",
                    ),
                )
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    processes = [
        context.Process(target=_run, args=(_url(engine), f"p{i}", i < 2, go, START))
        for i in range(5)
    ]
    for p in processes:
        p.start()
    time.sleep(0.5)
    go.set()
    for p in processes:
        p.join(timeout=120)
        assert p.exitcode == 0
    with Session(engine) as session:
        occurrences = session.exec(select(func.count()).select_from(ReminderOccurrence)).one()
        said = session.exec(
            select(func.count()).select_from(Message).where(Message.proactive == "reminder")
        ).one()
    assert occurrences == MINUTES * PER_MINUTE
    assert said == MINUTES * PER_MINUTE


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_the_standby_takes_over_when_the_active_scheduler_is_killed(engine):
    context = multiprocessing.get_context("spawn")
    doomed = context.Process(target=_hold_forever, args=(_url(engine),))
    doomed.start()
    standby = Lease(engine, "standby", seconds=2)
    try:
        deadline = time.monotonic() + 60
        while (standby.current() is None or standby.current().holder != "doomed") and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert standby.current().holder == "doomed"
        assert not standby.acquire(datetime.now(UTC))
        os.kill(doomed.pid, signal.SIGKILL)
        killed = time.monotonic()
        while not standby.acquire(datetime.now(UTC)):
            time.sleep(0.1)
        took = time.monotonic() - killed
    finally:
        doomed.kill()
        doomed.join()
    assert took <= 2 + 0.3 + 1.0  # the lease, a tick, and some slack
    assert standby.current().holder == "standby"


def test_zhian_scheduler_runs_alone_and_stops_cleanly(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    data = tmp_path / "data"
    env = {
        **os.environ,
        "ZHIAN_DATA_DIR": str(data),
        "ZHIAN_LLM": "none",
        "ZHIAN_DATABASE_URL": "",
    }
    env.pop("ZHIAN_DATABASE_URL")
    zhian = Path(sys.executable).with_name("zhian")
    process = subprocess.Popen(
        [str(zhian), "scheduler", "--tick", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    engine = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (data / "zhian.db").exists():
                engine = db.make_engine(f"sqlite:///{data / 'zhian.db'}")
                lease = Lease(engine, "probe").current() if _has_lease_table(engine) else None
                if lease is not None:
                    break
            time.sleep(0.5)
        assert lease is not None and lease.holder.count(":") == 2  # host:pid:random
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Scheduler stopped." in output
    # Stopping hands the lease back at once: a standby need not wait for it to run out.
    assert Lease(engine, "next").acquire(datetime.now(UTC))


def _has_lease_table(engine) -> bool:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    return sa.inspect(engine).has_table("scheduler_leases")

"""Reminders at scale: 10,000 elders with 5 reminders each (50,000 daily reminders), with the
busiest minute of the day: every elder's 08:00 medicine due at once.

    python bench/scheduler.py [--elders 10000] [--per-elder 5] [--tick 10]

Measured in real time, on the same database and the same delivery work (an occurrence row
and the companion's message in the elder's chat):

- zhian: one scheduler ticking every `--tick` seconds; it finds what is due with one indexed
  query (`reminders.next_due_at`) and fires each occurrence in its own transaction, guarded by
  the (reminder, due time) unique row;
- the naive baseline: APScheduler with one cron job per reminder (50,000 jobs in memory), its
  default thread pool and misfire grace, each job doing the same delivery.

Printed: time to set up, time to find the minute's due occurrences, time from the due time to
the last delivery, lag from due time to the elder's chat (p50 / p95), and how many of the
minute's occurrences were said, late or never.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion.persona import voice  # noqa: E402
from companion.reminders import schedule  # noqa: E402
from companion.reminders.firing import reminder_line, say_on_its_own  # noqa: E402
from companion.scheduler import Scheduler  # noqa: E402
from memory import db  # noqa: E402
from memory.models import (  # noqa: E402
    Elder,
    Message,
    OccurrenceStatus,
    Reminder,
    ReminderOccurrence,
    new_id,
)

console = Console(stderr=True)
TZ = "Asia/Taipei"
# Besides the 08:00 medicine: later the same day, so that they are not due while measuring.
_LATER = ("12:30", "18:00", "20:30", "15:00")


def _populate(engine: sa.Engine, elders: int, per_elder: int, due: datetime) -> None:
    local = due.astimezone(ZoneInfo(TZ))
    day = local.date().isoformat()
    with db.session_scope(engine) as session:
        for start in range(0, elders, 1000):
            batch = [
                Elder(id=new_id(), display_name=f"長輩{n}", languages=["zh-Hant"], timezone=TZ)
                for n in range(start, min(start + 1000, elders))
            ]
            session.add_all(batch)
            session.flush()
            rows = []
            for elder in batch:
                times = [f"{local:%H:%M}", *_LATER][:per_elder]
                for n, clock in enumerate(times):
                    reminder = Reminder(
                        elder_id=elder.id,
                        title="吃降血壓的藥" if n == 0 else f"第{n}件事",
                        kind="medicine" if n == 0 else "routine",
                        rrule="FREQ=DAILY",
                        starts_at=f"{day}T{clock}",
                        timezone=TZ,
                    )
                    reminder.next_due_at = schedule.next_due(reminder, due - timedelta(seconds=1))
                    rows.append(reminder)
            session.add_all(rows)
        console.print(f"[dim]{elders:,} elders, {elders * per_elder:,} reminders[/dim]")


def _lags(engine: sa.Engine, due: datetime) -> list[float]:
    with engine.connect() as conn:
        said = conn.execute(
            sa.select(Message.said_at).where(Message.proactive == "reminder")
        ).scalars()
        return [((s if s.tzinfo else s.replace(tzinfo=UTC)) - due).total_seconds() for s in said]


def _wait_for(engine: sa.Engine, expected: int, limit: float) -> None:
    """Until `expected` reminders are in the elders' chats, none came for 20 s, or `limit`."""
    started = still = time.perf_counter()
    done = -1
    while time.perf_counter() - started < limit and time.perf_counter() - still < 20:
        with engine.connect() as conn:
            now_done = conn.execute(
                sa.select(sa.func.count())
                .select_from(Message)
                .where(Message.proactive == "reminder")
            ).scalar_one()
        if now_done >= expected:
            return
        if now_done != done:
            done, still = now_done, time.perf_counter()
        time.sleep(0.5)


def _minute_after(seconds: float) -> datetime:
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return at.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _check_in_time(due: datetime) -> None:
    if datetime.now(UTC) >= due:
        console.print("[red]Set-up ran past the due minute; the lags below include it.[/red]")


def _fresh(folder: Path, name: str) -> sa.Engine:
    engine = db.make_engine(f"sqlite:///{folder / name}")
    db.upgrade(engine)
    return engine


def run_zhian(folder: Path, elders: int, per_elder: int, tick: float, lead: float) -> dict:
    engine = _fresh(folder, "zhian.db")
    due = _minute_after(lead)
    started = time.perf_counter()
    _populate(engine, elders, per_elder, due)
    setup = time.perf_counter() - started
    _check_in_time(due)
    with db.session_scope(engine) as session:
        started = time.perf_counter()
        found = len(schedule.due_reminder_ids(session, due, limit=elders * per_elder))
        find = time.perf_counter() - started
    scheduler = Scheduler(engine, holder="bench", tick_seconds=tick)
    scheduler.start()
    try:
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        _wait_for(engine, found, limit=900)
    finally:
        scheduler.stop()
    lags = _lags(engine, due)
    with engine.connect() as conn:
        occurrences = conn.execute(
            sa.select(sa.func.count()).select_from(ReminderOccurrence)
        ).scalar_one()
    return {
        "setup_s": setup,
        "find_ms": find * 1000,
        "due": found,
        "said": len(lags),
        "rows": occurrences,
        "never": found - len(lags),
        "last_s": max(lags, default=0.0),
        "lags": lags,
    }


def run_naive(folder: Path, elders: int, per_elder: int, lead: float) -> dict:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    engine = _fresh(folder, "naive.db")
    due = _minute_after(lead * 2)  # adding 50,000 jobs takes a while too
    _populate(engine, elders, per_elder, due)
    v = voice("zh-Hant")

    def deliver(reminder_id: int, elder_id: str) -> None:
        now = datetime.now(UTC)
        with db.session_scope(engine) as session:
            reminder = session.get(Reminder, reminder_id)
            elder = session.get(Elder, elder_id)
            message = say_on_its_own(
                session,
                elder,
                reminder_line(reminder, now.astimezone(ZoneInfo(TZ)), v),
                "reminder",
                "zh-Hant",  # type: ignore[arg-type]
            )
            session.add(
                ReminderOccurrence(
                    reminder_id=reminder_id,
                    elder_id=elder_id,
                    due_at=now.replace(second=0, microsecond=0),
                    status=OccurrenceStatus.delivered.value,
                    delivered_at=now,
                    delivery_message_id=message.id,
                )
            )

    started = time.perf_counter()
    aps = BackgroundScheduler(timezone="UTC")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(Reminder.id, Reminder.elder_id, Reminder.starts_at, Reminder.timezone)
        ).all()
    for reminder_id, elder_id, starts_at, timezone in rows:
        hour, minute = starts_at[11:13], starts_at[14:16]
        aps.add_job(
            deliver,
            CronTrigger(hour=hour, minute=minute, timezone=timezone),
            args=(reminder_id, elder_id),
        )
    aps.start()
    setup = time.perf_counter() - started
    _check_in_time(due)
    started = time.perf_counter()
    found = len([j for j in aps.get_jobs() if j.next_run_time and j.next_run_time <= due])
    find = time.perf_counter() - started
    try:
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        _wait_for(engine, found, limit=900)
    finally:
        aps.shutdown(wait=True)
    lags = _lags(engine, due)
    return {
        "setup_s": setup,
        "find_ms": find * 1000,
        "due": found,
        "said": len(lags),
        "rows": len(lags),
        "never": found - len(lags),
        "last_s": max(lags, default=0.0),
        "lags": lags,
    }


def _pct(values: list[float], q: float) -> str:
    if not values:
        return "–"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.1f}"


def report(results: dict[str, dict], elders: int, per_elder: int, tick: float) -> Table:
    table = Table(
        title=f"{elders:,} elders × {per_elder} reminders; the 08:00 minute: {elders:,} due at "
        f"once (zhian ticks every {tick:.0f} s; same run, same machine)"
    )
    table.add_column("measure")
    for name in results:
        table.add_column(name, justify="right")
    rows = [
        ("set-up (s)", lambda r: f"{r['setup_s']:.1f}"),
        ("find the minute's due occurrences (ms)", lambda r: f"{r['find_ms']:.0f}"),
        ("due in the minute", lambda r: f"{r['due']:,}"),
        ("said in the elder's chat", lambda r: f"{r['said']:,}"),
        ("never said", lambda r: f"{r['never']:,}"),
        ("due time to the last one said (s)", lambda r: f"{r['last_s']:.1f}"),
        ("lag due → chat, p50 (s)", lambda r: _pct(r["lags"], 0.5)),
        ("lag due → chat, p95 (s)", lambda r: _pct(r["lags"], 0.95)),
        ("occurrences per second", lambda r: f"{r['said'] / max(r['last_s'], 0.001):.0f}"),
    ]
    for label, value in rows:
        table.add_row(label, *(value(r) for r in results.values()))
    return table


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # the baseline's misses are counted
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--elders", type=int, default=10_000)
    parser.add_argument("--per-elder", type=int, default=5, choices=range(1, 6))
    parser.add_argument("--tick", type=float, default=10.0, help="zhian's scheduler tick (s)")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="zhian-bench-scheduler-"))
    lead = args.elders / 250  # time to fill the database before the minute comes
    results = {
        "zhian (one query, unique rows)": run_zhian(
            folder, args.elders, args.per_elder, args.tick, lead
        ),
        "naive: one APScheduler job per reminder": run_naive(
            folder, args.elders, args.per_elder, lead
        ),
    }
    Console(width=160).print(report(results, args.elders, args.per_elder, args.tick))
    for name, r in results.items():
        if r["lags"]:
            console.print(f"[dim]{name}: mean lag {statistics.mean(r['lags']):.1f} s[/dim]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The one active scheduler: reminders, follow-ups, misses, proactive messages, the family's
notifications and the nightly consolidation.

Any number of processes may run a `Scheduler` (each `zhian serve` worker, or `zhian
scheduler` alone); a lease row in the database elects the active one. The active scheduler
renews its lease on every tick; the others stand by and check on every tick, so when the
active one dies a standby takes over within `lease_seconds + tick_seconds` (40 s by
default). Even two schedulers acting at once cannot say an occurrence twice: each is a row
unique per (reminder, due time).

Downtime policy: when the scheduler comes back, an occurrence due at most `grace` ago (30
minutes by default) is said late and marked late; an older one is recorded as missed ("not
delivered") and the family is told. Nothing is silently dropped.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import monotonic

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from companion.alerts.outbox import Sender, SmtpSettings
from companion.proactive import run_proactive
from companion.reminders import schedule
from companion.reminders.firing import Report, fire_due, sweep
from memory.db import session_scope
from memory.models import Elder, JobRun, SchedulerLease, utcnow
from memory.timeutil import zone

log = logging.getLogger(__name__)

LEASE = "scheduler"
NIGHTLY_AT = time(3, 0)
PROACTIVE_EVERY = timedelta(
    seconds=55
)  # greetings and notes: a pass about once a minute  # local time of each elder: day summaries and the "this is me" profile


# A scheduler whose ticks have not finished for this many tick intervals (and at least
# STALLED_AFTER_MIN seconds) is stalled: /readyz says so.
STALLED_TICKS = 3
STALLED_AFTER_MIN = 60.0


class Lease:
    """A row that says which process schedules; renewed by its holder, taken over when stale."""

    def __init__(self, engine: sa.Engine, holder: str, *, seconds: float = 30.0) -> None:
        self.engine = engine
        self.holder = holder
        self.length = timedelta(seconds=seconds)

    def acquire(self, now: datetime) -> bool:
        """Hold (or renew) the lease; False while another holder's lease is still running."""
        try:
            with session_scope(self.engine) as session:
                taken = session.execute(
                    sa.update(SchedulerLease)
                    .where(
                        SchedulerLease.name == LEASE,
                        sa.or_(
                            SchedulerLease.holder == self.holder, SchedulerLease.expires_at < now
                        ),
                    )
                    .values(
                        holder=self.holder,
                        expires_at=now + self.length,
                        acquired_at=sa.case(
                            (SchedulerLease.holder == self.holder, SchedulerLease.acquired_at),
                            else_=now,
                        ),
                    )
                ).rowcount
                if taken:
                    return True
                if session.get(SchedulerLease, LEASE) is not None:
                    return False
                session.add(
                    SchedulerLease(
                        name=LEASE,
                        holder=self.holder,
                        acquired_at=now,
                        expires_at=now + self.length,
                    )
                )
            return True
        except (IntegrityError, OperationalError):
            return False  # another process made or holds it at this very moment

    def release(self) -> None:
        with session_scope(self.engine) as session:
            session.execute(
                sa.update(SchedulerLease)
                .where(SchedulerLease.name == LEASE, SchedulerLease.holder == self.holder)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )

    def current(self) -> SchedulerLease | None:
        with Session(self.engine) as session:
            return session.get(SchedulerLease, LEASE)


@dataclass
class Tick:
    active: bool
    reminders: Report = field(default_factory=Report)
    proactive: dict[str, int] = field(default_factory=dict)
    notified: int = 0


def _default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Scheduler:
    def __init__(
        self,
        engine: sa.Engine,
        *,
        holder: str | None = None,
        tick_seconds: float = 10.0,
        lease_seconds: float = 30.0,
        grace: timedelta = schedule.GRACE,
        smtp: SmtpSettings | None = None,
        nightly: Callable[[Session, str, date], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.lease = Lease(engine, holder or _default_holder(), seconds=lease_seconds)
        self.tick_seconds = tick_seconds
        self.grace = grace
        self.sender = Sender(smtp)
        self.email = smtp is not None
        self.nightly = nightly
        self.clock = clock
        self._aps: BackgroundScheduler | None = None
        self._last_proactive: datetime | None = None
        self.was_active = False
        self.started_at: float | None = None  # time.monotonic() when start() ran
        self.last_tick_at: float | None = None  # time.monotonic() when a tick last finished
        self.last_tick_utc: datetime | None = None

    def stalled(self) -> str | None:
        """Why this running scheduler is stalled (no tick has finished for a few tick
        intervals: one is stuck, or the database keeps it waiting), or None."""
        if self.started_at is None:
            return None  # not started in this process
        since = self.last_tick_at or self.started_at
        waited = monotonic() - since
        if waited <= max(STALLED_TICKS * self.tick_seconds, STALLED_AFTER_MIN):
            return None
        last = f"{self.last_tick_utc:%Y-%m-%d %H:%M:%S} UTC" if self.last_tick_utc else "never"
        return (
            f"The scheduler has not finished a tick for {waited:.0f} s (last: {last}; it should "
            f"every {self.tick_seconds:.0f} s), so reminders are not being said. Look in the log "
            "for 'Scheduler tick', and restart the server if it stays stuck."
        )

    def tick(self, now: datetime | None = None) -> Tick:
        """One pass, within about one tick interval: what does not fit waits for the next."""
        now = now or self.clock()
        result = self._tick(now, deadline=monotonic() + self.tick_seconds)
        self.last_tick_at, self.last_tick_utc = monotonic(), now
        return result

    def _tick(self, now: datetime, *, deadline: float) -> Tick:
        if not self.lease.acquire(now):
            if self.was_active:
                log.warning("Scheduler %s lost its lease; standing by", self.lease.holder)
            self.was_active = False
            return Tick(active=False)
        if not self.was_active:
            log.info("Scheduler %s is now the active one", self.lease.holder)
        self.was_active = True
        result = Tick(active=True)
        result.reminders = fire_due(
            self.engine, now, grace=self.grace, email=self.email, deadline=deadline
        )
        result.reminders.merge(sweep(self.engine, now, email=self.email, deadline=deadline))
        if self._last_proactive is None or now - self._last_proactive >= PROACTIVE_EVERY:
            result.proactive = run_proactive(self.engine, now)
            self._last_proactive = now
        result.notified = self.sender.deliver_due(self.engine, now)
        return result

    def run_nightly(self, now: datetime | None = None) -> int:
        """Each elder's day, consolidated once after NIGHTLY_AT local time; by the active
        scheduler only, in its own job so that a long night never holds up a reminder."""
        now = now or self.clock()
        if self.nightly is None or not self.was_active:
            return 0
        done = 0
        waiting: list[tuple[str, date]] = []
        with session_scope(self.engine) as session:
            for timezone in session.exec(select(Elder.timezone).distinct()):
                local = now.astimezone(zone(timezone))
                if local.time() < NIGHTLY_AT:
                    continue
                day = (local - timedelta(days=1)).date()
                done_already = select(JobRun.id).where(
                    JobRun.elder_id == Elder.id,
                    JobRun.job == "nightly",
                    JobRun.key == day.isoformat(),
                )
                for elder_id in session.exec(
                    select(Elder.id).where(Elder.timezone == timezone, ~done_already.exists())
                ):
                    waiting.append((elder_id, day))
        for elder_id, day in waiting:
            if not self.was_active:
                break
            try:
                with session_scope(self.engine) as session:  # claim the night, then do it
                    session.add(JobRun(elder_id=elder_id, job="nightly", key=day.isoformat()))
            except (IntegrityError, OperationalError):
                continue
            try:
                with session_scope(self.engine) as session:
                    self.nightly(session, elder_id, day)
                done += 1
            except Exception:  # one elder's failure does not stop the others
                log.exception("Nightly consolidation failed for elder %s (%s)", elder_id, day)
        return done

    def _safe_tick(self) -> None:
        try:
            self.tick()
        except Exception:  # the next tick tries again
            log.exception("Scheduler tick failed")

    def _safe_nightly(self) -> None:
        try:
            self.run_nightly()
        except Exception:
            log.exception("Nightly jobs failed")

    def start(self) -> None:
        self._aps = BackgroundScheduler(timezone="UTC")
        self._aps.add_job(
            self._safe_tick,
            "interval",
            seconds=self.tick_seconds,
            next_run_time=datetime.now(zone("UTC")),
            max_instances=1,
            coalesce=True,
            id="zhian-tick",
        )
        self._aps.add_job(
            self._safe_nightly,
            "interval",
            seconds=60,
            max_instances=1,
            coalesce=True,
            id="zhian-nightly",
        )
        self._aps.start()
        self.started_at = monotonic()
        log.info("Scheduler %s started (tick every %.0f s)", self.lease.holder, self.tick_seconds)

    def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=True)
            self._aps = None
            self.started_at = None
        if self.was_active:
            self.lease.release()
        self.sender.close()

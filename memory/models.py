"""SQLModel tables: the source of truth for every elder, account, message and audit record.

Every row that holds an elder's data carries `elder_id`; reads go through `ElderScope`
(see `memory.access`) so that no query path exists without it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

LANGUAGES = ("zh-Hant", "zh-Hans", "en")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


# SQLite only auto-increments INTEGER primary keys; PostgreSQL gets 64 bits.
BigIntId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes stored as UTC on every backend (SQLite keeps no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Role(enum.StrEnum):
    elder = "elder"
    family = "family"
    creator = "creator"
    admin = "admin"


class MessageRole(enum.StrEnum):
    elder = "elder"
    companion = "companion"
    family = "family"
    other = "other"


class Permission(enum.StrEnum):
    """What an elder (or their guardian) can grant to a family member or creator."""

    memories_read = "memories:read"
    memories_write = "memories:write"
    digests_read = "digests:read"
    reminders_read = "reminders:read"
    reminders_write = "reminders:write"
    story_export = "story:export"


def _enum_column(enum_cls: type[enum.Enum]) -> sa.Column:
    # Stored as plain strings so adding a value later needs no database enum migration.
    return sa.Column(sa.String(16), nullable=False)


class Elder(SQLModel, table=True):
    __tablename__ = "elders"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    display_name: str = Field(max_length=200)
    preferred_name: str | None = Field(default=None, max_length=200)
    languages: list[str] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    timezone: str = Field(max_length=64)
    birthday: date | None = None
    # The companion's own initiative: never in quiet hours (local "HH:MM", may wrap midnight),
    # a morning greeting at `greeting_time` when set, at most `proactive_per_day` a day.
    quiet_hours_start: str = Field(default="22:00", max_length=5)
    quiet_hours_end: str = Field(default="07:00", max_length=5)
    greeting_time: str | None = Field(default=None, max_length=5)
    proactive_per_day: int = 3
    # After this many hours without a word from the elder, a gentle reminiscence prompt.
    reminisce_after_hours: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def language(self) -> str:
        return self.languages[0]


class Account(SQLModel, table=True):
    __tablename__ = "accounts"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    role: str = Field(sa_column=_enum_column(Role))
    elder_id: str | None = Field(
        default=None, foreign_key="elders.id", index=True, max_length=32, ondelete="CASCADE"
    )
    display_name: str = Field(max_length=200)
    relation: str | None = Field(default=None, max_length=100)
    is_guardian: bool = False
    language: str | None = Field(default=None, max_length=16)
    email: str | None = Field(default=None, max_length=320)  # for alerts, when SMTP is set up
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Token(SQLModel, table=True):
    __tablename__ = "tokens"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    account_id: str = Field(
        foreign_key="accounts.id", index=True, max_length=32, ondelete="CASCADE"
    )
    label: str | None = Field(default=None, max_length=200)
    prefix: str = Field(max_length=32)
    secret_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # "api", or "calendar": a token that only reads one elder's reminder calendar feed.
    purpose: str = Field(default="api", max_length=16)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Grant(SQLModel, table=True):
    __tablename__ = "grants"
    __table_args__ = (sa.UniqueConstraint("elder_id", "account_id", name="uq_grant_elder_account"),)

    id: int | None = Field(default=None, primary_key=True)
    elder_id: str = Field(foreign_key="elders.id", index=True, max_length=32, ondelete="CASCADE")
    account_id: str = Field(foreign_key="accounts.id", max_length=32, ondelete="CASCADE")
    scopes: list[str] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    granted_by: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # What a story:export grant covers: {"since", "until" (dates), "people", "topics",
    # "sensitive" (bool)}; none: everything that is not private or sensitive.
    story_limits: dict | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))


class Message(SQLModel, table=True):
    """One turn, verbatim: the record everything else is derived from."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("elder_id", "external_id", name="uq_message_elder_external_id"),
        sa.Index("ix_messages_elder_said_at", "elder_id", "said_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    conversation_id: str | None = Field(default=None, max_length=100)
    role: str = Field(sa_column=_enum_column(MessageRole))
    speaker: str | None = Field(default=None, max_length=200)
    text: str = Field(sa_type=sa.Text)
    language: str | None = Field(default=None, max_length=16)
    said_at: datetime = Field(sa_type=UTCDateTime)
    external_id: str | None = Field(default=None, max_length=200)
    author_account_id: str | None = Field(default=None, max_length=32)
    # On the companion's replies: the memories the reply drew on (its sources).
    used_memory_ids: list[int] | None = Field(
        default=None, sa_column=sa.Column(sa.JSON, nullable=True)
    )
    # The outbox for fact extraction: what the elder and family said, not yet read for facts.
    extraction_pending: bool = Field(default=False, index=True)
    # On messages the companion sent on its own: reminder, follow_up, greeting, birthday,
    # anniversary, reminisce.
    proactive: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """Who did what to which elder's data, and when. Never updated, never deleted with data."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_elder_at", "elder_id", "at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_account_id: str | None = Field(default=None, max_length=32)
    actor_role: str | None = Field(default=None, max_length=16)
    actor_name: str | None = Field(default=None, max_length=200)
    action: str = Field(max_length=64)
    elder_id: str | None = Field(default=None, max_length=32)
    detail: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


class MemoryKind(enum.StrEnum):
    turn = "turn"
    # Facts about the elder's life, extracted from what was said or added by the family.
    person = "person"
    place = "place"
    event = "event"
    routine = "routine"
    preference = "preference"
    health = "health"
    relationship = "relationship"
    feeling = "feeling"


FACT_KINDS = tuple(k.value for k in MemoryKind if k is not MemoryKind.turn)


class FactStatus(enum.StrEnum):
    unconfirmed = "unconfirmed"  # inferred by the companion: waits for the family or the elder
    confirmed = "confirmed"
    rejected = "rejected"  # never used again


class Memory(SQLModel, table=True):
    """Something the companion can recall. Turn-level memories are made from every message at
    once, with no LLM; `index_pending` is the outbox the vector index is filled from."""

    __tablename__ = "memories"
    __table_args__ = (
        sa.Index("ix_memories_elder_said_at", "elder_id", "said_at"),
        sa.Index("ix_memories_pending", "index_pending", "elder_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    kind: str = Field(sa_column=_enum_column(MemoryKind))
    text: str = Field(sa_type=sa.Text)
    # Lexical terms (memory.lexical) for the full-text index; derived from `text`.
    search_terms: str = Field(default="", sa_type=sa.Text)
    role: str | None = Field(default=None, max_length=16)
    speaker: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=16)
    said_at: datetime = Field(sa_type=UTCDateTime)
    event_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    private: bool = False
    index_pending: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # --- facts only ---
    status: str | None = Field(default=None, max_length=16)
    sensitive: bool = False  # the companion does not raise it on its own (e.g. a death)
    confidence: float | None = None
    subject: str | None = Field(default=None, max_length=200)  # whom it is about: "self", "美玲"
    attribute: str | None = Field(default=None, max_length=64)  # the slot: lives_in, name, job…
    value: str | None = Field(default=None, sa_type=sa.Text)
    valid_to: datetime | None = Field(default=None, sa_type=UTCDateTime)  # retired then
    superseded_by: int | None = Field(default=None, sa_type=BigIntId)
    author_role: str | None = Field(default=None, max_length=16)  # companion, elder, family
    author_account_id: str | None = Field(default=None, max_length=32)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def is_fact(self) -> bool:
        return self.kind != MemoryKind.turn.value

    @property
    def is_current(self) -> bool:
        return (
            self.valid_to is None
            and self.deleted_at is None
            and self.status != FactStatus.rejected.value
        )


class MemoryEvent(SQLModel, table=True):
    """One change to a fact: created, merged, retired, edited, approved, rejected, deleted.
    Kept when the fact itself is gone, so the history stays readable."""

    __tablename__ = "memory_events"
    __table_args__ = (sa.Index("ix_memory_events_memory", "elder_id", "memory_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    memory_id: int = Field(sa_type=BigIntId)
    action: str = Field(max_length=16)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_role: str | None = Field(default=None, max_length=16)
    actor_account_id: str | None = Field(default=None, max_length=32)
    actor_name: str | None = Field(default=None, max_length=200)
    before: dict | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    after: dict | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))


class ExtractionRun(SQLModel, table=True):
    """One attempt to extract facts from a batch of messages; failures stay visible."""

    __tablename__ = "extraction_runs"
    __table_args__ = (sa.Index("ix_extraction_runs_elder_at", "elder_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    message_ids: list[int] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: str = Field(max_length=16)  # ok, failed
    attempts: int = 1
    facts: int = 0
    error: str | None = Field(default=None, sa_type=sa.Text)


class Profile(SQLModel, table=True):
    """ "This is me": who the elder is, from confirmed facts, rebuilt nightly; given to the
    companion at the start of every prompt."""

    __tablename__ = "profiles"

    elder_id: str = Field(
        primary_key=True, foreign_key="elders.id", max_length=32, ondelete="CASCADE"
    )
    # Section name (name, people, places, routines, likes, worries, comforts) to fact texts.
    sections: dict = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    fact_ids: list[int] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    built_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DaySummary(SQLModel, table=True):
    """What one day of conversation held, in a few sentences, with its source messages."""

    __tablename__ = "day_summaries"
    __table_args__ = (sa.UniqueConstraint("elder_id", "day", name="uq_day_summary"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    day: date
    text: str = Field(sa_type=sa.Text)
    message_ids: list[int] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    written_by: str = Field(max_length=16)  # "model" or "extract" (no model: the elder's words)
    built_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MemorySource(SQLModel, table=True):
    """Provenance: the messages a memory came from."""

    __tablename__ = "memory_sources"

    memory_id: int = Field(
        primary_key=True, foreign_key="memories.id", ondelete="CASCADE", sa_type=BigIntId
    )
    message_id: int = Field(
        primary_key=True,
        foreign_key="messages.id",
        ondelete="CASCADE",
        sa_type=BigIntId,
        index=True,
    )


class IndexTombstone(SQLModel, table=True):
    """A memory deleted in SQL whose vector is still to be removed from the index."""

    __tablename__ = "index_tombstones"

    memory_id: int = Field(primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- reminders and the scheduler -----------------------------------------------------------


class ReminderKind(enum.StrEnum):
    medicine = "medicine"
    appointment = "appointment"
    routine = "routine"
    other = "other"


class Reminder(SQLModel, table=True):
    """Something the elder should do at set times, in the elder's timezone."""

    __tablename__ = "reminders"
    __table_args__ = (sa.Index("ix_reminders_next_due", "next_due_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", index=True, max_length=32, ondelete="CASCADE")
    title: str = Field(max_length=500)
    kind: str = Field(max_length=16)
    # RFC 5545 recurrence (FREQ=DAILY...) from `starts_at`, or none for a one-off.
    rrule: str | None = Field(default=None, max_length=500)
    # Wall-clock time in `timezone` of the first occurrence ("2026-11-25T08:00").
    starts_at: str = Field(max_length=19)
    timezone: str = Field(max_length=64)
    ack_window_minutes: int = 60
    notes: str | None = Field(default=None, max_length=2000)
    paused: bool = False
    # The next occurrence not yet handled (UTC); none when the schedule has ended.
    next_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OccurrenceStatus(enum.StrEnum):
    delivered = "delivered"  # said to the elder, waiting for "done"
    done = "done"
    missed = "missed"


class ReminderOccurrence(SQLModel, table=True):
    """One due time of a reminder. Unique per (reminder, due time): it cannot fire twice."""

    __tablename__ = "reminder_occurrences"
    __table_args__ = (
        sa.UniqueConstraint("reminder_id", "due_at", name="uq_occurrence_reminder_due"),
        sa.Index("ix_occurrences_elder_status", "elder_id", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    reminder_id: int = Field(foreign_key="reminders.id", ondelete="CASCADE", sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    due_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(max_length=16)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    late: bool = False  # delivered after the scheduler was away, within the grace window
    delivery_message_id: int | None = Field(default=None, sa_type=BigIntId)
    followed_up_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_by: str | None = Field(default=None, max_length=200)
    done_message_id: int | None = Field(default=None, sa_type=BigIntId)
    missed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # no_answer: not acknowledged in the window; not_delivered: the service was away too long.
    missed_reason: str | None = Field(default=None, max_length=32)


class SchedulerLease(SQLModel, table=True):
    """Which scheduler process is active; the others stand by until the lease runs out."""

    __tablename__ = "scheduler_leases"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=200)
    acquired_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class JobRun(SQLModel, table=True):
    """A proactive message or nightly job done once for its key (e.g. the greeting of a day)."""

    __tablename__ = "job_runs"
    __table_args__ = (sa.UniqueConstraint("elder_id", "job", "key", name="uq_job_run"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    job: str = Field(max_length=32)
    key: str = Field(max_length=64)
    message_id: int | None = Field(default=None, sa_type=BigIntId)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DayNote(SQLModel, table=True):
    """What the family set for one of the elder's days, e.g. the weather, for the greeting."""

    __tablename__ = "day_notes"
    __table_args__ = (sa.UniqueConstraint("elder_id", "day", name="uq_day_note"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    day: date
    weather: str | None = Field(default=None, max_length=500)
    set_by: str | None = Field(default=None, max_length=32)


class ConcernState(enum.StrEnum):
    open = "open"  # the family has not looked yet
    seen = "seen"
    resolved = "resolved"


class ConcernFlag(SQLModel, table=True):
    """Something the family should know: a missed medicine, a fall... with its source."""

    __tablename__ = "concern_flags"
    __table_args__ = (sa.Index("ix_concern_flags_elder_state", "elder_id", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    kind: str = Field(max_length=32)
    severity: str = Field(max_length=16)  # info, warning, urgent
    state: str = Field(default=ConcernState.open.value, max_length=16)
    summary: str = Field(max_length=1000)
    message_id: int | None = Field(default=None, sa_type=BigIntId)
    occurrence_id: int | None = Field(default=None, sa_type=BigIntId)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    seen_by: str | None = Field(default=None, max_length=200)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: str | None = Field(default=None, max_length=200)


class Webhook(SQLModel, table=True):
    """A family integration: events about one elder are POSTed to `url`, signed with `secret`."""

    __tablename__ = "webhooks"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", index=True, max_length=32, ondelete="CASCADE")
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=64)
    events: list[str] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    created_by: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    active: bool = True


class NotificationChannel(enum.StrEnum):
    webhook = "webhook"
    email = "email"


class Notification(SQLModel, table=True):
    """The outbox of alerts: one webhook call or e-mail, retried with backoff until it goes."""

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_due", "delivered_at", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    channel: str = Field(max_length=16)  # a NotificationChannel
    target: str = Field(max_length=2000)  # webhook id or e-mail address
    event: str = Field(max_length=64)
    payload: dict = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    gave_up_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- how the elder seems, and the family's digests ---------------------------------------


class MessageSignal(SQLModel, table=True):
    """The mood and concerns heard in one message of the elder's (rules, then the model)."""

    __tablename__ = "message_signals"
    __table_args__ = (sa.Index("ix_message_signals_elder_said", "elder_id", "said_at"),)

    message_id: int = Field(
        primary_key=True, foreign_key="messages.id", ondelete="CASCADE", sa_type=BigIntId
    )
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    said_at: datetime = Field(sa_type=UTCDateTime)
    mood: str = Field(max_length=16)
    concerns: list[str] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    by: str = Field(default="rules", max_length=16)  # rules, rules+model
    refined: bool = False


class Digest(SQLModel, table=True):
    """A day's or a week's digest for the family, in one language, each line with its sources."""

    __tablename__ = "digests"
    __table_args__ = (
        sa.UniqueConstraint("elder_id", "period", "start", "language", name="uq_digest"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    period: str = Field(max_length=8)  # day, week
    start: date
    language: str = Field(max_length=16)
    sections: dict = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    written_by: str = Field(max_length=16)  # model, extract
    built_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ExportStatus(enum.StrEnum):
    running = "running"
    done = "done"
    failed = "failed"


class StoryExportRun(SQLModel, table=True):
    """One export of story material: who, when, with what filters; a large one runs as a job
    whose progress and result are kept here."""

    __tablename__ = "story_exports"
    __table_args__ = (sa.Index("ix_story_exports_elder", "elder_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    account_id: str = Field(max_length=32)
    account_name: str = Field(max_length=200)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    filters: dict = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    format: str = Field(max_length=16)
    status: str = Field(default=ExportStatus.running.value, max_length=16)
    progress: float = 0.0
    counts: dict | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    result: str | None = Field(default=None, sa_type=sa.Text)
    error: str | None = Field(default=None, max_length=1000)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ChatImportJob(SQLModel, table=True):
    """One chat history brought in (a LINE or WhatsApp export, a CSV): who asked, its progress,
    and what came of it (counts, or the lines that could not be read)."""

    __tablename__ = "chat_imports"
    __table_args__ = (sa.Index("ix_chat_imports_elder", "elder_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    elder_id: str = Field(foreign_key="elders.id", max_length=32, ondelete="CASCADE")
    account_id: str | None = Field(default=None, max_length=32)  # none: the command line
    account_name: str = Field(max_length=200)
    format: str = Field(max_length=16)  # line, whatsapp, csv
    filename: str | None = Field(default=None, max_length=255)
    status: str = Field(default="queued", max_length=16)  # queued, reading, writing, done, failed
    lines_total: int = 0
    lines_read: int = 0
    messages_total: int = 0
    messages_written: int = 0
    options: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    counts: dict | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    errors: list | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    error: str | None = Field(default=None, max_length=2000)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

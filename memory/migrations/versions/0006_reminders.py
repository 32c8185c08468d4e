"""Reminders and the scheduler: schedules, occurrences (unique per due time), the scheduler's
lease, once-only jobs, day notes, concern flags, webhooks and the notification outbox; the
elder's quiet hours and greeting time; e-mail for family accounts; calendar-feed tokens.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from memory.models import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy) keeps SQLite's full-text triggers.
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "concern_flags",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.String(length=1000), nullable=False),
        sa.Column("message_id", _BIG, nullable=True),
        sa.Column("occurrence_id", _BIG, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=True),
        sa.Column("seen_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_concern_flags_elder_state", "concern_flags", ["elder_id", "state", "id"], unique=False
    )
    op.create_table(
        "day_notes",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("weather", sa.String(length=500), nullable=True),
        sa.Column("set_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("elder_id", "day", name="uq_day_note"),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("message_id", _BIG, nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("elder_id", "job", "key", name="uq_job_run"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=2000), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("gave_up_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_notifications_due", "notifications", ["delivered_at", "next_attempt_at"], unique=False
    )
    op.create_table(
        "reminders",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rrule", sa.String(length=500), nullable=True),
        sa.Column("starts_at", sa.String(length=19), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("ack_window_minutes", sa.Integer(), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("next_due_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_reminders_elder_id"), "reminders", ["elder_id"], unique=False)
    op.create_index("ix_reminders_next_due", "reminders", ["next_due_at"], unique=False)
    op.create_table(
        "webhooks",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_webhooks_elder_id"), "webhooks", ["elder_id"], unique=False)
    op.create_table(
        "reminder_occurrences",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("reminder_id", _BIG, nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("delivery_message_id", _BIG, nullable=True),
        sa.Column("followed_up_at", UTCDateTime(), nullable=True),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.String(length=200), nullable=True),
        sa.Column("done_message_id", _BIG, nullable=True),
        sa.Column("missed_at", UTCDateTime(), nullable=True),
        sa.Column("missed_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reminder_id"], ["reminders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reminder_id", "due_at", name="uq_occurrence_reminder_due"),
    )
    op.create_index(
        "ix_occurrences_elder_status",
        "reminder_occurrences",
        ["elder_id", "status", "due_at"],
        unique=False,
    )
    op.add_column("accounts", sa.Column("email", sa.String(length=320), nullable=True))
    op.add_column(
        "elders",
        sa.Column("quiet_hours_start", sa.String(length=5), nullable=False, server_default="22:00"),
    )
    op.add_column(
        "elders",
        sa.Column("quiet_hours_end", sa.String(length=5), nullable=False, server_default="07:00"),
    )
    op.add_column("elders", sa.Column("greeting_time", sa.String(length=5), nullable=True))
    op.add_column(
        "elders", sa.Column("proactive_per_day", sa.Integer(), nullable=False, server_default="3")
    )
    op.add_column("elders", sa.Column("reminisce_after_hours", sa.Integer(), nullable=True))
    op.add_column("messages", sa.Column("proactive", sa.String(length=16), nullable=True))
    op.add_column(
        "tokens", sa.Column("purpose", sa.String(length=16), nullable=False, server_default="api")
    )


def downgrade() -> None:
    op.drop_column("accounts", "email")
    op.drop_column("elders", "quiet_hours_start")
    op.drop_column("elders", "quiet_hours_end")
    op.drop_column("elders", "greeting_time")
    op.drop_column("elders", "proactive_per_day")
    op.drop_column("elders", "reminisce_after_hours")
    op.drop_column("messages", "proactive")
    op.drop_column("tokens", "purpose")
    op.drop_table("reminder_occurrences")
    op.drop_table("webhooks")
    op.drop_table("reminders")
    op.drop_table("notifications")
    op.drop_table("job_runs")
    op.drop_table("day_notes")
    op.drop_table("concern_flags")
    op.drop_table("scheduler_leases")

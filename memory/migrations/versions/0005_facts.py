"""Facts: typed memories with review status, validity and history; the extraction outbox;
the elder's profile and day summaries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from memory.models import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_FACT_COLUMNS = [
    sa.Column("status", sa.String(length=16), nullable=True),
    sa.Column("sensitive", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("confidence", sa.Float(), nullable=True),
    sa.Column("subject", sa.String(length=200), nullable=True),
    sa.Column("attribute", sa.String(length=64), nullable=True),
    sa.Column("value", sa.Text(), nullable=True),
    sa.Column("valid_to", UTCDateTime(), nullable=True),
    sa.Column("superseded_by", _BIG, nullable=True),
    sa.Column("author_role", sa.String(length=16), nullable=True),
    sa.Column("author_account_id", sa.String(length=32), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.Column("deleted_at", UTCDateTime(), nullable=True),
]


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy): SQLite keeps the full-text triggers on `memories`.
    for column in _FACT_COLUMNS:
        op.add_column("memories", column)
    op.add_column(
        "messages",
        sa.Column("extraction_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_messages_extraction_pending", "messages", ["extraction_pending"])
    op.create_table(
        "memory_events",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("memory_id", _BIG, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=True),
        sa.Column("actor_account_id", sa.String(length=32), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_memory_events_memory", "memory_events", ["elder_id", "memory_id", "id"])
    op.create_table(
        "extraction_runs",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("message_ids", sa.JSON(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("facts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_extraction_runs_elder_at", "extraction_runs", ["elder_id", "started_at"])
    op.create_table(
        "profiles",
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("fact_ids", sa.JSON(), nullable=False),
        sa.Column("built_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("elder_id"),
    )
    op.create_table(
        "day_summaries",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("message_ids", sa.JSON(), nullable=False),
        sa.Column("written_by", sa.String(length=16), nullable=False),
        sa.Column("built_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("elder_id", "day", name="uq_day_summary"),
    )


def downgrade() -> None:
    op.drop_table("day_summaries")
    op.drop_table("profiles")
    op.drop_index("ix_extraction_runs_elder_at", "extraction_runs")
    op.drop_table("extraction_runs")
    op.drop_index("ix_memory_events_memory", "memory_events")
    op.drop_table("memory_events")
    op.drop_index("ix_messages_extraction_pending", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("extraction_pending")
    for column in reversed(_FACT_COLUMNS):
        op.drop_column("memories", column.name)

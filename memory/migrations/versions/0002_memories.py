"""Turn-level memories, their sources, and the index outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from memory.models import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "index_tombstones",
        sa.Column(
            "memory_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("memory_id"),
    )
    op.create_table(
        "memories",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("speaker", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("said_at", UTCDateTime(), nullable=False),
        sa.Column("event_time", UTCDateTime(), nullable=True),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("index_pending", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.create_index("ix_memories_elder_said_at", ["elder_id", "said_at"], unique=False)
        batch_op.create_index("ix_memories_pending", ["index_pending", "elder_id"], unique=False)

    op.create_table(
        "memory_sources",
        sa.Column(
            "memory_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(["memory_id"], ["memories.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("memory_id", "message_id"),
    )
    with op.batch_alter_table("memory_sources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_memory_sources_message_id"), ["message_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("memory_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memory_sources_message_id"))

    op.drop_table("memory_sources")
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.drop_index("ix_memories_pending")
        batch_op.drop_index("ix_memories_elder_said_at")

    op.drop_table("memories")
    op.drop_table("index_tombstones")

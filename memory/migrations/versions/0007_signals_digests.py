"""How the elder seems (mood and concerns per message) and the family's digests.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from memory.models import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "digests",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("written_by", sa.String(length=16), nullable=False),
        sa.Column("built_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("elder_id", "period", "start", "language", name="uq_digest"),
    )
    op.create_table(
        "message_signals",
        sa.Column("message_id", _BIG, nullable=False),
        sa.Column("elder_id", sa.String(length=32), nullable=False),
        sa.Column("said_at", UTCDateTime(), nullable=False),
        sa.Column("mood", sa.String(length=16), nullable=False),
        sa.Column("concerns", sa.JSON(), nullable=False),
        sa.Column("by", sa.String(length=16), nullable=False),
        sa.Column("refined", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index(
        "ix_message_signals_elder_said", "message_signals", ["elder_id", "said_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("message_signals")
    op.drop_table("digests")

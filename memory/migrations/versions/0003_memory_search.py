"""Full-text search over memories: lexical terms, SQLite FTS5 or a PostgreSQL tsvector.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from memory.lexical import document_terms

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = [
    # External-content FTS5 table: the terms live in `memories`, FTS5 keeps only the index.
    """CREATE VIRTUAL TABLE memories_fts USING fts5(
        search_terms, elder_id, content='memories', content_rowid='id',
        tokenize='unicode61 remove_diacritics 0')""",
    """CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
        INSERT INTO memories_fts(rowid, search_terms, elder_id)
        VALUES (new.id, new.search_terms, new.elder_id);
    END""",
    """CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, search_terms, elder_id)
        VALUES ('delete', old.id, old.search_terms, old.elder_id);
    END""",
    """CREATE TRIGGER memories_fts_update AFTER UPDATE OF search_terms, elder_id ON memories BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, search_terms, elder_id)
        VALUES ('delete', old.id, old.search_terms, old.elder_id);
        INSERT INTO memories_fts(rowid, search_terms, elder_id)
        VALUES (new.id, new.search_terms, new.elder_id);
    END""",
]
_POSTGRES = [
    """ALTER TABLE memories ADD COLUMN search_tsv tsvector
        GENERATED ALWAYS AS (to_tsvector('simple', search_terms)) STORED""",
    "CREATE INDEX ix_memories_search_tsv ON memories USING gin (search_tsv)",
]


def upgrade() -> None:
    op.add_column(
        "memories", sa.Column("search_terms", sa.Text(), nullable=False, server_default="")
    )
    bind = op.get_bind()
    memories = sa.table(
        "memories",
        sa.column("id", sa.BigInteger),
        sa.column("text", sa.Text),
        sa.column("search_terms", sa.Text),
    )
    rows = bind.execute(sa.select(memories.c.id, memories.c.text)).all()
    for memory_id, text in rows:
        bind.execute(
            memories.update().where(memories.c.id == memory_id),
            {"search_terms": document_terms(text)},
        )
    for statement in _SQLITE if bind.dialect.name == "sqlite" else _POSTGRES:
        op.execute(statement)
    if bind.dialect.name == "sqlite":
        op.execute("INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS memories_fts_{name}")
        op.execute("DROP TABLE IF EXISTS memories_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_memories_search_tsv")
        op.execute("ALTER TABLE memories DROP COLUMN IF EXISTS search_tsv")
    with op.batch_alter_table("memories") as batch:
        batch.drop_column("search_terms")

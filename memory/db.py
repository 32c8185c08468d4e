"""Database engine, sessions and schema migrations (Alembic, shipped inside the package)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str) -> sa.Engine:
    """An engine for SQLite (WAL, foreign keys on) or PostgreSQL."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# Full-text search structures that live outside the models (migration 0003 makes them).
_FULL_TEXT_TABLES = ("memories_fts",)
_FULL_TEXT_COLUMNS = ("search_tsv",)
_FULL_TEXT_INDEXES = ("ix_memories_search_tsv",)


def include_in_schema_compare(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """Leave the hand-made full-text search structures out of model/migration comparisons."""
    if type_ == "table":
        return not (name or "").startswith(_FULL_TEXT_TABLES)
    if type_ == "column":
        return name not in _FULL_TEXT_COLUMNS
    if type_ == "index":
        return name not in _FULL_TEXT_INDEXES
    return True


def _alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision; safe to run from several processes at once."""
    before, head = schema_status(engine)
    if before == head:
        return
    log.info("Upgrading the database schema from %s to %s", before or "empty", head)
    command.upgrade(_alembic_config(engine), "head")
    log.info("The database schema is now at %s", head)


def known_revisions() -> list[str]:
    """Every schema revision this version of zhian knows, newest first."""
    script = ScriptDirectory.from_config(_alembic_config(sa.create_engine("sqlite://")))
    return [r.revision for r in script.walk_revisions()]


def schema_status(engine: sa.Engine) -> tuple[str | None, str]:
    """(revision the database is at, newest revision this version of zhian knows)."""
    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head or ""

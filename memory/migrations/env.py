"""Alembic environment: runs migrations on the engine zhian hands over."""

import sqlalchemy as sa
from alembic import context
from sqlmodel import SQLModel

import memory.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from memory.db import include_in_schema_compare

# Serialises concurrent upgrades from several API replicas on PostgreSQL.
_PG_LOCK_KEY = 0x7A68_6961_6E00

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    engine: sa.Engine = config.attributes["engine"]
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
                include_object=include_in_schema_compare,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                connection.commit()


run_migrations()

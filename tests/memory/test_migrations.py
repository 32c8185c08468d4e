"""The schema comes from migrations alone, from empty, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

from api.app import create_app
from api.settings import Settings
from memory import db
from tests.conftest import _postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    # A schema of its own, so the shared test database the other tests use is left alone.
    base = _postgres_url()
    engine = db.make_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS migration_check CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA migration_check")
    engine.dispose()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3Dmigration_check"


def test_migrations_from_empty_match_the_models(empty_url):
    engine = db.make_engine(empty_url)
    assert db.schema_status(engine)[0] is None
    db.upgrade(engine)
    current, head = db.schema_status(engine)
    assert current == head
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": db.include_in_schema_compare}
        )
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    db.upgrade(engine)  # a second run is a no-op
    engine.dispose()


def test_readyz_reports_a_schema_that_is_behind(empty_url, tmp_path):
    engine = db.make_engine(empty_url)
    app = create_app(
        Settings(
            data_dir=tmp_path,
            database_url=empty_url,
            llm_warm_up=False,
            extract_in_background=False,
        ),
        engine=engine,
    )
    with TestClient(app) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert "zhian db upgrade" in r.json()["message"]
        assert client.get("/healthz").status_code == 200
        db.upgrade(engine)
        assert client.get("/readyz").status_code == 200
    engine.dispose()

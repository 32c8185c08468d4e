"""The companion on a language-model server: llama-cpp-python's OpenAI-compatible server on
the bundled model, reached the way an operator sets it up (ZHIAN_LLM_BASE_URL)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from api.settings import Settings
from companion.llm_server import OpenAICompatibleChat
from companion.model_files import BUNDLED
from memory import db
from memory.extract import extract_pending
from memory.index import VectorIndex
from memory.models import Message, utcnow
from tests.conftest import bearer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llm_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on the bundled model, a small context, this machine only."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llm-server") / "server.log"
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(BUNDLED["embedded"].path_in(model_dir)),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "2048",
                "--n_threads",
                "2",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                pytest.fail(f"The model server stopped:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"The model server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def served(
    engine: sa.Engine, settings: Settings, vector_index: VectorIndex, llm_server: str
) -> Iterator[TestClient]:
    served_settings = settings.model_copy(
        update={"llm_base_url": llm_server, "llm_timeout_seconds": 600.0}
    )
    app = create_app(served_settings, engine=engine)
    app.state.vector_index = vector_index
    app.state.companion.index = vector_index
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _say(client: TestClient, elder_id: str, token: str, text: str) -> dict:
    answer = client.post(
        f"/v1/elders/{elder_id}/chat", json={"message": text}, headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_chat_turn_and_fact_extraction_through_the_model_server(served, world, engine):
    model = served.app.state.companion.model
    assert isinstance(model, OpenAICompatibleChat), type(model)
    elder_id, token = world.a.elder_id, world.a.elder

    told = _say(served, elder_id, token, "我女兒叫美玲，她每個星期天來看我。")
    assert told["kind"] == "answer"
    assert told["reply"].strip()

    asked = _say(served, elder_id, token, "誰星期天來看我？")
    assert "美玲" in asked["reply"], asked["reply"]

    # The server's model alone (no rules) reads the messages: its JSON answer, held to the
    # schema by the server's grammar, is read on the first try (in plain JSON mode this model
    # answers {"facts": ["..."]}, which is not the schema, and the run would fail twice).
    [outcome, *_] = extract_pending(
        engine, model, elder_id=elder_id, now=utcnow() + timedelta(hours=1), rules=False
    )
    assert outcome.run.status == "ok", outcome.run.error
    assert outcome.run.attempts == 1
    with db.session_scope(engine) as session:
        read = session.exec(select(Message).where(Message.elder_id == elder_id)).all()
    assert read and not any(m.extraction_pending for m in read)

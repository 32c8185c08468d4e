"""The whole turn with the embedded language model (Qwen2.5-Coder-1.5B through llama.cpp), the
real embedder and index: what a newcomer sees after `zhian serve`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from companion.llm import make_chat_model
from memory.index import VectorIndex
from tests.conftest import bearer


@pytest.fixture
def live(
    engine: sa.Engine, settings: Settings, vector_index: VectorIndex, model_dir: Path
) -> Iterator[TestClient]:
    app = create_app(settings, engine=engine)
    app.state.vector_index = vector_index
    app.state.companion.index = vector_index
    app.state.companion.model = make_chat_model(provider="embedded", data_dir=model_dir)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _stream_native(client: TestClient, elder_id: str, token: str, text: str) -> tuple[str, dict]:
    with client.stream(
        "POST",
        f"/v1/elders/{elder_id}/chat",
        json={"message": text, "stream": True},
        headers=bearer(token),
    ) as response:
        assert response.status_code == 200, response.read()
        body = "".join(response.iter_text())
    shown, done = "", {}
    for block in body.strip().split("\n\n"):
        event, data = block.split("\n", 1)
        payload = json.loads(data.removeprefix("data: "))
        if event == "event: delta":
            shown += payload["text"]
        else:
            done = payload
    return shown, done


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_newcomers_conversation(live, world):
    elder_id, token = world.a.elder_id, world.a.elder

    _, told = _stream_native(live, elder_id, token, "我女兒叫美玲，她每個星期天來看我。")
    assert told["kind"] == "answer"

    shown, answer = _stream_native(live, elder_id, token, "誰星期天來看我？")
    assert "美玲" in shown, shown
    assert shown.replace(" ", "") == answer["reply"].replace(" ", "")
    assert answer["used_memory_ids"], answer
    assert told["message_id"] in answer["used_memories"][0]["message_ids"]

    _, source = _stream_native(live, elder_id, token, "你怎麼知道的？")
    assert source["kind"] == "source"
    assert "我女兒叫美玲" in source["reply"] and "年" in source["reply"], source["reply"]

    _, gated = _stream_native(live, elder_id, token, "我哥哥叫什麼名字？")
    assert gated["kind"] == "not_known"
    assert "不知道" in gated["reply"]

    # The same through an OpenAI-style client, streaming.
    with live.stream(
        "POST",
        "/v1/chat/completions",
        json={
            "model": "zhian",
            "stream": True,
            "messages": [{"role": "user", "content": "誰每個星期天來看我？"}],
        },
        headers=bearer(token),
    ) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content", "") for line in lines[:-1]
    )
    assert "美玲" in text, text

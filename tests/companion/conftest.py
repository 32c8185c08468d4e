"""A chat client whose language model is scripted (LangChain's fake chat model) and whose
recall is real: the database, Chroma and the e5-small embedder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import BaseMessage

from api.settings import Settings
from memory.index import VectorIndex
from tests.conftest import app_on_index


class ScriptedModel(FakeListChatModel):
    """Answers with the scripted replies in turn, and keeps every prompt it was given."""

    prompts: list[list[BaseMessage]] = []

    def _call(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> str:
        self.prompts.append(messages)
        return super()._call(messages, *args, **kwargs)

    def _stream(self, messages: list[BaseMessage], *args: Any, **kwargs: Any):  # type: ignore[override]
        self.prompts.append(messages)
        yield from super()._stream(messages, *args, **kwargs)


class RestingModel(FakeListChatModel):
    """A model whose server is down."""

    def _call(self, *args: Any, **kwargs: Any) -> str:
        raise ConnectionError("Connection refused")

    def _stream(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        raise ConnectionError("Connection refused")


class StumblingModel(FakeListChatModel):
    """A model whose server goes away after the first sentence."""

    def _stream(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        from langchain_core.messages import AIMessageChunk
        from langchain_core.outputs import ChatGenerationChunk

        for piece in ("今天", "天氣好。", "我們"):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        raise ConnectionError("Connection reset by peer")


@pytest.fixture
def chat_app(
    engine: sa.Engine, settings: Settings, vector_index: VectorIndex
) -> Iterator[tuple[TestClient, Any]]:
    app = app_on_index(engine, settings, vector_index)
    script(app)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client, app


def script(app: Any, *replies: str) -> ScriptedModel:
    model = ScriptedModel(responses=list(replies) or ["好的。"], prompts=[])
    app.state.companion.model = model
    return model

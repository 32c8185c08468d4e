"""The elder never waits behind background work: a chat turn takes the model from fact
extraction at its next token, and background work waits while a chat turn is waiting."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from companion.llm import LlamaCppChat, YieldedToChat


class SlowLlama:
    """Stands in for llama.cpp: one token every 20 ms, up to 200 of them."""

    def __init__(self) -> None:
        self.started = threading.Event()

    def create_chat_completion(self, *, messages: list[dict], stream: bool, **_: Any):
        assert stream
        self.started.set()
        for _ in range(200 if messages[-1]["content"] == "background" else 3):
            time.sleep(0.02)
            yield {"choices": [{"delta": {"content": "好。"}}]}


@pytest.fixture
def model() -> LlamaCppChat:
    chat = LlamaCppChat(locate=lambda: Path("unused.gguf"))
    chat._llama = SlowLlama()
    return chat


def test_background_generation_stops_for_a_chat_turn(model):
    failures: list[Exception] = []

    def background() -> None:
        try:
            model.invoke([HumanMessage(content="background")])
        except Exception as exc:
            failures.append(exc)

    worker = threading.Thread(target=background)
    worker.start()
    assert model._llama.started.wait(2)
    started = time.perf_counter()
    text = "".join(str(c.content) for c in model.stream([HumanMessage(content="chat")]))
    waited = time.perf_counter() - started
    worker.join(5)
    assert text == "好。好。好。"
    assert waited < 1.0  # not the 4 s the background answer would have taken
    assert len(failures) == 1 and isinstance(failures[0], YieldedToChat)


def test_a_whole_answer_still_comes_when_no_chat_turn_waits(model):
    model._llama = SlowLlama()
    reply = model.invoke([HumanMessage(content="short")])
    assert reply.content == "好。好。好。"

"""Chat models by registry: the bundled models run by llama.cpp in this process, any
OpenAI-compatible server (vLLM, Ollama, llama.cpp server, hosted APIs), or none.

Each model says what it can do, so callers ask instead of sniffing its type:
`is_available` (False: replies and background reading wait) and `supports_json_schema`
(True: a JSON answer can be held to a schema by a grammar; otherwise JSON mode only).
`memory.chatmodel` reads these for code that must not import this module."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from companion.metrics import MODEL_WAIT_SECONDS
from companion.model_files import BUNDLED, ensure_model_file
from memory.errors import LLMUnavailable

log = logging.getLogger(__name__)

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def _as_dicts(messages: list[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


class YieldedToChat(LLMUnavailable):
    """Background work (fact extraction, the second look, digests) stopped so that the elder
    does not wait: its messages stay pending and the next round reads them again."""


class ChatFirstLock:
    """One generation at a time, and the elder first: a chat turn goes before any background
    work that is waiting, and background work that is generating stops at its next token."""

    def __init__(self) -> None:
        self._free = threading.Condition()
        self._busy = False
        self._chats_waiting = 0

    @property
    def chat_waiting(self) -> bool:
        return self._chats_waiting > 0

    @contextmanager
    def hold(self, *, chat: bool) -> Iterator[None]:
        asked = time.perf_counter()
        with self._free:
            self._chats_waiting += chat
            try:
                while self._busy or (not chat and self._chats_waiting):
                    self._free.wait()
            finally:
                self._chats_waiting -= chat
            self._busy = True
        MODEL_WAIT_SECONDS.labels(work="chat" if chat else "background").observe(
            time.perf_counter() - asked
        )
        try:
            yield
        finally:
            with self._free:
                self._busy = False
                self._free.notify_all()


class LlamaCppChat(BaseChatModel):
    """A GGUF model run by llama.cpp in this process: loaded once, lazily; one generation at a
    time, and never reset between turns, so a prompt that begins the same way is not read again.
    Streaming is the elder's chat and goes first; a whole answer (`invoke`) is background work
    and yields to a chat turn (see ChatFirstLock)."""

    supports_json_schema: ClassVar[bool] = True
    is_available: ClassVar[bool] = True

    model_title: str = "local GGUF model"
    n_ctx: int = 8192
    n_threads: int = 2
    max_tokens: int = 200
    temperature: float = 0.3
    _locate: Callable[[], Path] = PrivateAttr()
    _llama: Any = PrivateAttr(default=None)
    _lock: ChatFirstLock = PrivateAttr(default_factory=ChatFirstLock)
    _load_error: str | None = PrivateAttr(default=None)

    def __init__(self, locate: Callable[[], Path], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._locate = locate

    @property
    def _llm_type(self) -> str:
        return "zhian-llama-cpp"

    @property
    def load_error(self) -> str | None:
        """Why the model could not be loaded the last time it was tried, in words an operator
        can act on; None once it is loaded, or before the first try."""
        return self._load_error

    def _model(self) -> Any:
        # Called with self._lock held.
        if self._llama is None:
            try:
                self._llama = self._load()
            except LLMUnavailable as exc:
                self._load_error = exc.message
                raise
            except Exception as exc:  # llama.cpp refuses a file it cannot read as a model
                self._load_error = (
                    f"The language model {self.model_title} could not be loaded "
                    f"({type(exc).__name__}: {exc}); remove the file in the data directory's "
                    "models folder and start again to have it made afresh."
                )
                raise LLMUnavailable(self._load_error) from exc
            self._load_error = None
        return self._llama

    def _load(self) -> Any:
        path = self._locate()
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMUnavailable(
                "llama-cpp-python is not installed; install zhian with "
                "'pip install -c constraints.txt -r requirements.txt'."
            ) from exc
        log.info("Loading the language model %s …", self.model_title)
        started = time.perf_counter()
        llama = Llama(
            model_path=str(path),
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            n_batch=512,
            verbose=False,
        )
        log.info("Language model loaded in %.1f s", time.perf_counter() - started)
        return llama

    def load(self) -> None:
        with self._lock.hold(chat=False):
            self._model()

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        params = {
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "temperature": kwargs.get("temperature", self.temperature),
            "top_p": 0.9,
            "repeat_penalty": 1.1,
            "stop": stop or [],
        }
        if "response_format" in kwargs:  # JSON held to a schema by a grammar
            params["response_format"] = kwargs["response_format"]
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        pieces: list[str] = []
        with self._lock.hold(chat=False):
            stream = self._model().create_chat_completion(
                messages=_as_dicts(messages), stream=True, **self._params(stop, kwargs)
            )
            for chunk in stream:
                if self._lock.chat_waiting:
                    stream.close()
                    raise YieldedToChat("Background reading stopped for the elder's chat turn.")
                pieces.append(chunk["choices"][0]["delta"].get("content") or "")
        text = "".join(pieces)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self._lock.hold(chat=True):
            for chunk in self._model().create_chat_completion(
                messages=_as_dicts(messages), stream=True, **self._params(stop, kwargs)
            ):
                text = chunk["choices"][0]["delta"].get("content")
                if text:
                    if run_manager is not None:
                        run_manager.on_llm_new_token(text)
                    yield ChatGenerationChunk(message=AIMessageChunk(content=text))


class NoModel(BaseChatModel):
    """No language model configured: memory works, replies and fact extraction wait."""

    supports_json_schema: ClassVar[bool] = False
    is_available: ClassVar[bool] = False

    @property
    def _llm_type(self) -> str:
        return "none"

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        raise LLMUnavailable("No language model is configured (ZHIAN_LLM=none).")


def bundled_model_path(name: str, data_dir: Path, *, show_progress: bool = False) -> Path:
    return ensure_model_file(BUNDLED[name], data_dir, show_progress=show_progress)


def _openai_compatible():  # type: ignore[no-untyped-def]
    from companion.llm_server import OpenAICompatibleChat  # langchain-openai only when used

    return OpenAICompatibleChat


@dataclass(frozen=True)
class ModelChoice:
    """What `make_chat_model` was asked for, from the settings."""

    provider: str
    data_dir: Path
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout_seconds: float = 60.0
    json_schema: bool = True


def _no_model(choice: ModelChoice) -> BaseChatModel:
    return NoModel()


def _server(choice: ModelChoice) -> BaseChatModel:
    if not choice.base_url:
        raise LLMUnavailable(
            "ZHIAN_LLM=openai needs ZHIAN_LLM_BASE_URL, e.g. http://localhost:11434/v1 for Ollama."
        )
    return _openai_compatible()(
        supports_json_schema=choice.json_schema,
        base_url=choice.base_url,
        model=choice.model or "default",
        api_key=choice.api_key or "not-needed",  # type: ignore[arg-type]
        temperature=0.3,
        max_completion_tokens=200,
        timeout=choice.timeout_seconds,
        max_retries=1,
    )


def _bundled(choice: ModelChoice) -> BaseChatModel:
    bundled = BUNDLED[choice.provider]
    return LlamaCppChat(
        locate=lambda: bundled_model_path(choice.provider, choice.data_dir),
        model_title=bundled.title,
    )


PROVIDERS: dict[str, Callable[[ModelChoice], BaseChatModel]] = {
    "none": _no_model,
    "openai": _server,
    **{name: _bundled for name in BUNDLED},
}


def make_chat_model(
    *,
    provider: str,
    data_dir: Path,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    timeout_seconds: float = 60.0,
    json_schema: bool = True,
) -> BaseChatModel:
    """`embedded` (default) or `small`: a bundled model in this process; `openai`, or any
    provider once a base URL is set: an OpenAI-compatible server; `none`: no model."""
    choice = ModelChoice(provider, data_dir, base_url, model, api_key, timeout_seconds, json_schema)
    if base_url and provider != "none":
        provider = "openai"
    if provider not in PROVIDERS:
        raise LLMUnavailable(f"Unknown LLM '{provider}': use {', '.join(sorted(PROVIDERS))}.")
    return PROVIDERS[provider](choice)

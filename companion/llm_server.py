"""A language model on an OpenAI-compatible server (llama.cpp's server, vLLM, Ollama, hosted
APIs), spoken to the way all of them understand."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from langchain_core.language_models import LanguageModelInput
from langchain_openai import ChatOpenAI

# Hosted reasoning models take only the newer name for the answer's length.
_NEWER_TOKEN_LIMIT = re.compile(r"^(o\d|gpt-5)")


class OpenAICompatibleChat(ChatOpenAI):
    """ChatOpenAI, with the answer's length sent as `max_tokens`: LangChain sends only
    `max_completion_tokens`, which llama.cpp's server (and older vLLM and Ollama) ignore, so an
    answer ran on until the context was full and the request timed out. JSON answers in JSON mode."""

    # JSON mode with the schema beside it: llama.cpp's servers hold the answer to it.
    supports_json_schema: bool = True
    is_available: ClassVar[bool] = True

    def _get_request_payload(
        self,
        input_: LanguageModelInput,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> dict:
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        if "max_completion_tokens" in payload and not _NEWER_TOKEN_LIMIT.match(
            self.model_name or ""
        ):
            payload["max_tokens"] = payload.pop("max_completion_tokens")
        return payload

"""What code in memory/ may ask of a chat model, without knowing which one it is.

Models made by `companion.llm` say what they can do (`is_available`, `supports_json_schema`);
any other LangChain chat model (a test's fake, a wrapper) is taken as available, with JSON
mode only.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel


def available(model: BaseChatModel | None) -> bool:
    """Whether the model can answer at all (False for "no model configured")."""
    return model is not None and bool(getattr(model, "is_available", True))


def holds_json_schema(model: BaseChatModel) -> bool:
    """Whether a JSON answer can be held to a schema (a grammar), not only to JSON mode."""
    return bool(getattr(model, "supports_json_schema", False))

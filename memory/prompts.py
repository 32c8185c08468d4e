"""The prompt files in `prompts/`: what the model is asked, as text a person can read and
improve without touching code.

`prompts/<language>/<name>.md` is the prompt for that language; `prompts/shared/<name>.md`
serves every language that has none of its own (the instructions for background reading are
written once, in English, whatever the language of the words they read).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
SHARED = "shared"


@lru_cache(maxsize=64)
def _read(name: str, language: str | None) -> str:
    folders = ([language] if language else []) + [SHARED]
    for folder in folders:
        path = PROMPTS / folder / f"{name}.md"
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    raise FileNotFoundError(
        f"The prompt '{name}' is missing: expected {PROMPTS / SHARED / (name + '.md')}. "
        "Reinstall zhian, or restore the file from the release."
    )


def text(prompt: str, language: str | None = None, /, **fields: str) -> str:
    """The prompt named `prompt` for `language`, with `{field}`s filled in when any are given."""
    template = _read(prompt, language)
    return template.format(**fields) if fields else template

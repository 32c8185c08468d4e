"""智安's voice per language: the prompt files in `prompts/<language>/`, the sentences said
without the model, and the script the reply is written in."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from memory.language import _converter
from memory.models import LANGUAGES

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True)
class Voice:
    language: str
    persona: str
    turn: str
    replies: dict[str, str]
    avoid: tuple[str, ...]

    def say(self, key: str, **values: str) -> str:
        return self.replies[key].format(**values)

    def date(self, day: date) -> str:
        return self.replies["date"].format(
            year=day.year, month=day.month, day=day.day, month_name=_MONTHS[day.month - 1]
        )

    def in_script(self, text: str) -> str:
        """The reply in the elder's script: the model sometimes mixes Traditional and Simplified."""
        if self.language == "zh-Hans":
            return _converter("t2s").convert(text)
        if self.language == "zh-Hant":
            return to_traditional(text)
        return text


# Characters Taiwan writes both ways; the elder's own spelling (台南) is kept.
_KEEP_IN_TRADITIONAL = frozenset("台")


def to_traditional(text: str) -> str:
    """Simplified characters made Traditional (Taiwan), leaving Traditional text as it is:
    converting Traditional text again would turn 台南 into 臺南 and 吃 into 喫."""
    to_trad, to_simp = _converter("s2tw"), _converter("t2s")
    if to_simp.convert(text) == text:  # no Traditional-only characters: convert by phrase
        converted = to_trad.convert(text)
        if len(converted) != len(text):
            return converted
        return "".join(
            o if o in _KEEP_IN_TRADITIONAL else c for o, c in zip(text, converted, strict=True)
        )
    # Mixed: only the characters that exist in Simplified alone.
    return "".join(
        c if c in _KEEP_IN_TRADITIONAL or to_simp.convert(c) != c else to_trad.convert(c)
        for c in text
    )


@lru_cache(maxsize=len(LANGUAGES))
def voice(language: str) -> Voice:
    if language not in LANGUAGES:
        language = "en"
    folder = PROMPTS / language
    avoid = tuple(
        line.strip().lower()
        for line in (folder / "avoid.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    return Voice(
        language=language,
        persona=(folder / "persona.md").read_text(encoding="utf-8").strip(),
        turn=(folder / "turn.md").read_text(encoding="utf-8").strip(),
        replies=tomllib.loads((folder / "replies.toml").read_text(encoding="utf-8")),
        avoid=avoid,
    )

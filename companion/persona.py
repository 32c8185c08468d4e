"""智安's voice per language: the prompt files in `prompts/<language>/`, the sentences said
without the model, and the script the reply is written in."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from memory.language import in_script
from memory.models import LANGUAGES
from memory.prompts import PROMPTS

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
        return in_script(text, self.language)


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

"""Which language a piece of text is in: Traditional Chinese, Simplified Chinese or English."""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


@lru_cache(maxsize=4)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def fold(text: str) -> str:
    """Text in the one script the rules are written in: Traditional characters made Simplified
    (我們 -> 我们), everything else as it is. Matching on folded text serves zh-Hant and
    zh-Hans with one pattern."""
    return _converter("t2s").convert(text)


def detect_language(text: str, *, fallback: str) -> str:
    """Tell zh-Hant from zh-Hans by what OpenCC would change; text with no Chinese and some
    Latin letters is English; anything undecided keeps `fallback` (the elder's language)."""
    if CJK.search(text):
        if _converter("t2s").convert(text) != text:
            return "zh-Hant"
        if _simplified_only(text):
            return "zh-Hans"
        return fallback if fallback.startswith("zh") else "zh-Hant"
    if _LATIN.search(text):
        return "en"
    return fallback


# Characters Taiwan writes both ways; the elder's own spelling (台南) is kept.
_KEEP_IN_TRADITIONAL = frozenset("台")


def _simplified_only(text: str) -> bool:
    """Whether Taiwan's standard would write some character differently (吃 and 台 are
    written alike on both sides: "我吃了" decides nothing)."""
    converted = _converter("s2tw").convert(text)
    if len(converted) != len(text):
        return converted != text
    return any(
        a != b and a not in _KEEP_IN_TRADITIONAL for a, b in zip(text, converted, strict=True)
    )


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


def in_script(text: str, language: str | None) -> str:
    """Text in the script of `language`: the model sometimes mixes Traditional and Simplified."""
    if language == "zh-Hans":
        return _converter("t2s").convert(text)
    if language == "zh-Hant":
        return to_traditional(text)
    return text

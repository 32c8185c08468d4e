"""Which language a piece of text is in: Traditional Chinese, Simplified Chinese or English."""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


@lru_cache(maxsize=4)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def detect_language(text: str, *, fallback: str) -> str:
    """Tell zh-Hant from zh-Hans by what OpenCC would change; text with no Chinese and some
    Latin letters is English; anything undecided keeps `fallback` (the elder's language)."""
    if _CJK.search(text):
        if _converter("t2s").convert(text) != text:
            return "zh-Hant"
        if _converter("s2t").convert(text) != text:
            return "zh-Hans"
        return fallback if fallback.startswith("zh") else "zh-Hant"
    if _LATIN.search(text):
        return "en"
    return fallback

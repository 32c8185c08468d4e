"""Terms for the lexical (full-text) side of search, the same for Chinese and English.

Chinese has no spaces, so runs of Chinese characters become overlapping character bigrams,
after folding Traditional into Simplified so that 女兒 finds 女儿. English words are
lower-cased, stemmed (Snowball) and stop words dropped. The terms are stored space-separated
beside each memory, where SQLite FTS5 or PostgreSQL full-text search index them.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

from memory.language import fold

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z0-9]+(?:'[A-Za-z]+)?")

# Short function words that match everything and help nothing.
_EN_STOP = frozenset(
    """a about above after again all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i i'm if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    i've i'd i'll it's don't didn't can't let's also get got just like really yes oh ok okay
    well""".split()  # noqa: SIM905
)
# Bigrams that are pure grammar in Chinese questions ("什么", "我的"...) carry no topic.
_ZH_STOP = frozenset(
    """什么 怎么 为什 么时 时候 我们 你们 他们 她们 我的 你的 是不 不是 一个 这个 那个 没有 的时
    了吗 吗我 记得 还记 告诉 知道 可以 一下""".split()  # noqa: SIM905
)


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


def terms(text: str) -> list[str]:
    """The lexical terms of `text`, in order, repeats kept (they count in BM25)."""
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if _CJK_RUN.fullmatch(token):
            simplified = fold(token)
            if len(simplified) == 1:
                out.append(simplified)
                continue
            out.extend(
                bigram
                for bigram in (simplified[i : i + 2] for i in range(len(simplified) - 1))
                if bigram not in _ZH_STOP
            )
        else:
            word = token.lower()
            if word in _EN_STOP or (len(word) == 1 and not word.isdigit()):
                continue
            out.append(_stemmer().stemWord(word.replace("'", "")))
    return out


def document_terms(text: str) -> str:
    """What is stored beside a memory for the full-text index."""
    return " ".join(terms(text))


def query_terms(text: str) -> list[str]:
    """Distinct terms of a query, first occurrence first."""
    return list(dict.fromkeys(terms(text)))


def memory_terms(text: str, speaker: str | None = None) -> str:
    """What is stored beside a memory: its words and the name of who said them, so that "I"
    in a turn is found by its speaker's name."""
    words = document_terms(text)
    if not speaker:
        return words
    return f"{words} {document_terms(speaker)}".strip()

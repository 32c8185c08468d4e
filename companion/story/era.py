"""When a memory happened, from the elder's own words and no model: a year ("1968年", "in
1968"), a 民國 year (民國六十年 = 1971), a year of the sixty-year cycle (戊申年), an age read
against the birthday ("我二十歲那年", "when I was twenty"), a decade ("六十年代", "in the
sixties"), a stage of life (school, marriage, the first child, work, retirement) as an
estimate, or a time before the day it was said ("十年前", "five years ago").

Each answer keeps the words that show it and says how it was reached (generated reasoning,
labelled so), so that a film-maker can see why a scene sits in its decade.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from memory.language import fold
from memory.timewords import _zh_number, find_period

Basis = Literal["year", "minguo", "cycle", "age", "decade", "life_stage", "relative", "fact"]


@dataclass(frozen=True)
class EraGuess:
    """A year (or span of years) for a memory, the words that show it, and how."""

    year: int  # the best single year
    start: int
    end: int  # inclusive
    basis: Basis
    words: str  # the elder's words that show it, verbatim
    estimate: bool  # True: a stage of life or a childhood, not a stated time
    reasoning_en: str
    reasoning_zh: str  # in Traditional characters; shown in the elder's script

    @property
    def decade(self) -> int:
        return self.year // 10 * 10


_EN_UNITS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_EN_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_EN_NUMBER = (
    r"(\d{1,3}|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|"
    r"four|five|six|seven|eight|nine))?|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|one|two|three|four|five|six|seven|eight|nine|ten)"
)


def _en_number(words: str) -> int | None:
    words = words.lower().strip()
    if words.isdigit():
        return int(words)
    parts = re.split(r"[- ]", words)
    total = 0
    for part in parts:
        if part in _EN_TENS:
            total += _EN_TENS[part]
        elif part in _EN_UNITS:
            total += _EN_UNITS[part]
        else:
            return None
    return total


_ZH_NUM = r"(\d{1,3}|[一二两三四五六七八九十]{1,4})"
# "我二十歲那年", "我十八岁的时候", "二十出頭", "我20歲時"; not "我今年八十歲" (today), nor "孫子五歲"
# (someone else): the age must be the elder's, said of a time.
_ZH_AGE = re.compile(
    rf"(?:我|自己)(?:在|是)?(?:大概|大约|差不多)?{_ZH_NUM}(?:多)?岁(?:左右)?"
    r"(?:那年|那一年|的时候|时候|时|那时|那阵子|的那年|就|开始|起|便|上|去|来|嫁|结婚|离开|到|进|在|当|做)"
    rf"|(?<![今明去])(?:那年|那时|那时候)我(?:才)?{_ZH_NUM}岁"
    rf"|(?:^|(?<=[，。,、\s])){_ZH_NUM}岁(?:那年|那一年|的时候|时)"
)
_EN_AGE = re.compile(
    rf"\b(?i:when|while) (?:I|i) was (?:about |around |only |just )?{_EN_NUMBER}\b(?! (?:years? ago|minutes|days|weeks|months))"
    rf"|\b(?i:at) (?:the age of |age )?{_EN_NUMBER}(?=[,.;!?]| I\b| we\b| my\b| years old\b)"
    rf"|\b(?:I|i) was (?:about |around |only |just )?{_EN_NUMBER}(?: years old)? when\b"
    rf"|\baged {_EN_NUMBER}\b",
)
_ZH_YEAR = re.compile(
    r"(?<!\d)(1[89]\d\d|20[0-4]\d)\s*年(?!代)|([一二三四五六七八九零〇]{4})年(?!代)"
)
_EN_YEAR = re.compile(
    r"\b(?:in|of|since|during|from|by|until|around|about)\s+(1[89]\d\d|20[0-4]\d)\b|\b(1[89]\d\d|20[0-4]\d)\b"
)
_MINGUO = re.compile(rf"民国\s*{_ZH_NUM}\s*年(?!代)")
_MINGUO_DECADE = re.compile(r"民国\s*([一二三四五六七八九]十|\d0)\s*年代")
_ZH_DECADE = re.compile(r"(?<!民国)(?<!\d)(\d0|[一二三四五六七八九]十)年代")
_ZH_FULL_DECADE = re.compile(r"(1[89]\d0|20[0-4]0)\s*年代")
_EN_DECADE = re.compile(
    r"\b(?:in |during )?the\s+(?:(1[89]\d0|20[0-4]0)s|'?(\d0)s|(twenties|thirties|forties|fifties|"
    r"sixties|seventies|eighties|nineties))\b",
    re.I,
)
_EN_DECADE_WORDS = {
    "twenties": 20,
    "thirties": 30,
    "forties": 40,
    "fifties": 50,
    "sixties": 60,
    "seventies": 70,
    "eighties": 80,
    "nineties": 90,
}
_STEMS = "甲乙丙丁戊己庚辛壬癸"
_BRANCHES = "子丑寅卯辰巳午未申酉戌亥"
_CYCLE = re.compile(rf"([{_STEMS}][{_BRANCHES}])年")

# Stages of life: the age they usually came at for someone of this generation (an estimate,
# said to be one), in Simplified Chinese (text is read that way) and English.
_STAGES: tuple[tuple[str, re.Pattern, int, int, str, str], ...] = (
    (
        "childhood",
        re.compile(
            r"小时候|小的时候|童年|孩提|还小的时候|年纪还小|\bas a (?:child|kid|little (?:girl|boy))\b|"
            r"\bwhen I was (?:a (?:child|kid|little girl|little boy|girl|boy)|little|small)\b|\bin my childhood\b|"
            r"\bgrew up\b|\bgrowing up\b|长大",
            re.I,
        ),
        4,
        12,
        "childhood",
        "童年",
    ),
    (
        "primary school",
        re.compile(
            r"读小学|念小学|上小学|小学的时候|小学时|\b(?:primary|elementary|grade) school\b", re.I
        ),
        7,
        12,
        "primary school",
        "讀小學",
    ),
    (
        "secondary school",
        re.compile(
            r"读初中|读高中|念初中|念高中|上初中|上高中|读中学|念中学|初中的时候|高中的时候|中学时|"
            r"\b(?:high|secondary|grammar) school\b",
            re.I,
        ),
        13,
        18,
        "secondary school",
        "讀中學",
    ),
    (
        "university",
        re.compile(r"读大学|念大学|上大学|大学的时候|大学时|\b(?:university|college)\b", re.I),
        18,
        22,
        "university",
        "讀大學",
    ),
    (
        "marriage",
        re.compile(
            r"结婚|嫁给|嫁到|嫁过来|嫁人|出嫁|娶了|办喜酒|新婚|\b(?:got |were |was )?married\b|\bour wedding\b|\bwedding day\b",
            re.I,
        ),
        21,
        26,
        "marriage",
        "結婚",
    ),
    (
        "first child",
        re.compile(
            r"第一个孩子|头一胎|第一胎|生老大|生了老大|老大出生|(?:大女儿|大儿子|老大)\S{0,3}出生|"
            r"生了?(?:大女儿|大儿子)|\bfirst (?:child|baby|son|daughter)\b|\beldest (?:son|daughter)\b",
            re.I,
        ),
        23,
        28,
        "the first child",
        "第一個孩子",
    ),
    (
        "youth",
        re.compile(
            r"年轻的时候|年轻时|年轻那时|年少|少女时|\bwhen I was young\b|\bin my youth\b|\bas a young (?:man|woman)\b",
            re.I,
        ),
        16,
        28,
        "youth",
        "年輕時",
    ),
    (
        "first work",
        re.compile(
            r"第一份工作|刚出来工作|出社会|当学徒|做学徒|\bfirst job\b|\bapprentice\b|\bstarted work(?:ing)?\b",
            re.I,
        ),
        16,
        22,
        "the first job",
        "第一份工作",
    ),
    (
        "retirement",
        re.compile(r"退休|\bretired\b|\bretirement\b", re.I),
        58,
        65,
        "retirement",
        "退休",
    ),
)


def _original(text: str, folded: str, start: int, end: int) -> str:
    """The words as the elder wrote them (OpenCC keeps the length character by character)."""
    return text[start:end] if len(text) == len(folded) else folded[start:end]


def _cycle_year(name: str, born: int | None, said: int) -> int | None:
    """The year of the sixty-year cycle in the elder's life (the one after the birthday)."""
    index = _STEMS.index(name[0]), _BRANCHES.index(name[1])
    years = [
        y for y in range((born or said - 100), said + 1) if ((y - 4) % 10, (y - 4) % 12) == index
    ]
    return years[0] if years else None


def guess_era(text: str, *, said_on: date, born: date | None) -> EraGuess | None:
    """When what the words tell of happened, or None when they do not say."""
    folded = fold(text)

    def stated(basis: Basis, year: int, m: re.Match, how_en: str, how_zh: str) -> EraGuess:
        words = _original(text, folded, m.start(), m.end()).strip()
        return EraGuess(year, year, year, basis, words, False, how_en, how_zh)

    if (m := _MINGUO_DECADE.search(folded)) and (n := _zh_number(m.group(1))):
        start = 1911 + n
        return EraGuess(
            start + 4,
            start,
            start + 9,
            "decade",
            _original(text, folded, m.start(), m.end()),
            False,
            f"the 民國 {n}s are {start}–{start + 9}",
            f"民國{n}年代即{start}至{start + 9}年",
        )
    if (m := _MINGUO.search(folded)) and (n := _zh_number(m.group(1))) and 0 < n < 130:
        return stated(
            "minguo", 1911 + n, m, f"民國 year {n} is {1911 + n}", f"民國{n}年即{1911 + n}年"
        )
    if m := _ZH_YEAR.search(folded):
        year = int(m.group(1)) if m.group(1) else _zh_number(m.group(2)) or 0
        if 1850 <= year <= said_on.year:
            return stated("year", year, m, f"the year {year}, as said", f"說的是{year}年")
    if m := _CYCLE.search(folded):
        year = _cycle_year(m.group(1), born.year if born else None, said_on.year)
        if year:
            return stated(
                "cycle",
                year,
                m,
                f"{m.group(1)} is {year} in the sixty-year cycle, in the elder's lifetime",
                f"{m.group(1)}年是{year}年（在長輩的一生中）",
            )
    en_year = _EN_YEAR.search(text)
    if en_year:
        year = int(en_year.group(1) or en_year.group(2))
        if 1850 <= year <= said_on.year:
            return stated("year", year, en_year, f"the year {year}, as said", f"說的是{year}年")
    age = _ZH_AGE.search(folded)
    age_en = None if age else _EN_AGE.search(text)
    if age or age_en:
        m = age or age_en
        assert m is not None
        raw = next(g for g in m.groups() if g)
        years = _zh_number(raw) if age else _en_number(raw)
        words = (_original(text, folded, m.start(), m.end()) if age else m.group(0)).strip()
        if years is not None and 0 < years < 110 and born is not None:
            year = born.year + years
            if year <= said_on.year:
                return EraGuess(
                    year,
                    year,
                    year,
                    "age",
                    words,
                    False,
                    f"aged {years}, born {born.year}: {year}",
                    f"{years}歲，生於{born.year}年：{year}年",
                )
    if m := _ZH_FULL_DECADE.search(folded):
        start = int(m.group(1))
        return _decade(start, _original(text, folded, m.start(), m.end()))
    if m := _ZH_DECADE.search(folded):
        n = _zh_number(m.group(1)) or 0
        return _decade(1900 + n, _original(text, folded, m.start(), m.end()))
    if m := _EN_DECADE.search(text):
        start = (
            int(m.group(1))
            if m.group(1)
            else 1900 + int(m.group(2))
            if m.group(2)
            else 1900 + _EN_DECADE_WORDS[m.group(3).lower()]
        )
        if not (
            m.group(3) and re.search(r"\bin (?:my|his|her|their|our) " + m.group(3), text, re.I)
        ):
            return _decade(start, m.group(0).strip())
    for _name, pattern, low, high, en, zh in _STAGES:
        if (m := pattern.search(folded)) and born is not None:
            year = born.year + (low + high) // 2
            if year > said_on.year:
                continue
            words = (
                _original(text, folded, m.start(), m.end())
                if not m.group(0).isascii()
                else m.group(0)
            )
            return EraGuess(
                year,
                born.year + low,
                min(born.year + high, said_on.year),
                "life_stage",
                words,
                True,
                f"estimate: {en} usually came at about {low}–{high} for someone born in "
                f"{born.year}, so about {born.year + low}–{born.year + high}",
                f"估計：生於{born.year}年的人，{zh}通常在{low}到{high}歲，"
                f"約{born.year + low}至{born.year + high}年",
            )
    period = find_period(text, said_on)
    if period is not None and period.start < said_on and period.words:
        year = period.start.year
        return EraGuess(
            year,
            year,
            max(year, period.end.year - 1),
            "relative",
            period.words,
            False,
            f"'{period.words}' said on {said_on.isoformat()}: {year}",
            f"{said_on.isoformat()}說的「{period.words}」：{year}年",
        )
    return None


def _decade(start: int, words: str) -> EraGuess:
    return EraGuess(
        start + 5,
        start,
        start + 9,
        "decade",
        words,
        False,
        f"the {start}s, as said",
        f"說的是{start}年代",
    )


def era_label(year: int, language: str, *, estimate: bool = False) -> str:
    """ "the late 1960s" / "1960年代末", for a heading or a prompt."""
    decade = year // 10 * 10
    part = year % 10
    if language.startswith("zh"):
        text = f"{decade}年代{'初' if part < 4 else '中' if part < 7 else '末'}"
        text = ("約" if estimate else "") + text
        return fold(text) if language == "zh-Hans" else text
    words = "early" if part < 4 else "mid" if part < 7 else "late"
    return f"{'about ' if estimate else ''}the {words} {decade}s"

"""Time words in a question ("last week", "上個月", "去年春節", "in 1970", "民國五十七年")
resolved to a period, in the elder's timezone, against the moment the question was asked.

Periods, not points: "last week" is Monday to Monday, "去年春節" runs from New Year's Eve to
the Lantern Festival. Explicit dates the rules do not know fall back to dateparser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from lunardate import LunarDate

from memory.index import TimeRange
from memory.language import fold
from memory.timeutil import zone


@dataclass(frozen=True)
class Period:
    """[start, end) as local dates, and the words that named it."""

    start: date
    end: date
    words: str


_ZH_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}


def _zh_number(text: str) -> int | None:
    """Arabic or Chinese numerals up to 9999 (十二, 五十七, 一九七零)."""
    if text.isdigit():
        return int(text)
    if all(c in _ZH_DIGITS for c in text):  # digit by digit: 一九七零
        return int("".join(str(_ZH_DIGITS[c]) for c in text))
    total, current = 0, 0
    for char in text:
        if char in _ZH_DIGITS:
            current = _ZH_DIGITS[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        elif char == "千":
            total += (current or 1) * 1000
            current = 0
        else:
            return None
    return total + current


_NUM = r"(\d+|[零〇一二两三四五六七八九十百千]+)"
_EN_NUM = {
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
    "a": 1,
    "an": 1,
    "a couple of": 2,
    "a few": 3,
}
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_RE = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_WEEKDAYS_EN = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}


def _month_number(word: str) -> int:
    return next(i + 1 for i, name in enumerate(_MONTHS) if name.startswith(word[:3]))


def _day(d: date, words: str) -> Period:
    return Period(d, d + timedelta(days=1), words)


def _week(d: date, words: str) -> Period:
    monday = d - timedelta(days=d.weekday())
    return Period(monday, monday + timedelta(days=7), words)


def _month(year: int, month: int, words: str) -> Period:
    start = date(year, month, 1)
    return Period(start, start + relativedelta(months=1), words)


def _year(year: int, words: str) -> Period:
    return Period(date(year, 1, 1), date(year + 1, 1, 1), words)


def _recent_month(today: date, month: int, words: str, *, before: bool) -> Period:
    """The most recent such month: this year's if it has begun (or passed, with `before`)."""
    year = (
        today.year
        if (month < today.month or (month == today.month and not before))
        else today.year - 1
    )
    return _month(year, month, words)


def _last_weekday(today: date, weekday: int, words: str) -> Period:
    back = (today.weekday() - weekday) % 7 or 7
    return _day(today - timedelta(days=back), words)


def _ago(today: date, n: int, unit: str, words: str) -> Period:
    if unit in ("day", "天", "日"):
        return _day(today - timedelta(days=n), words)
    if unit in ("week", "周", "星期", "礼拜", "个星期", "个礼拜"):
        return _week(today - timedelta(weeks=n), words)
    if unit in ("month", "个月", "月"):
        d = today - relativedelta(months=n)
        return _month(d.year, d.month, words)
    return _year(today.year - n, words)


def _solar(lunar: LunarDate) -> date:
    convert = getattr(lunar, "to_solar_date", None) or lunar.toSolarDate
    return convert()


def _lunar_festival(year: int, words: str, festival: str) -> Period:
    if festival in ("春节", "过年", "新年", "除夕"):
        new_year = _solar(LunarDate(year, 1, 1))
        return Period(new_year - timedelta(days=1), new_year + timedelta(days=15), words)
    month, day, spread = {
        "元宵": (1, 15, 1),
        "端午": (5, 5, 2),
        "中秋": (8, 15, 2),
        "重阳": (9, 9, 1),
        "七夕": (7, 7, 1),
    }[festival]
    solar = _solar(LunarDate(year, month, day))
    return Period(solar - timedelta(days=spread), solar + timedelta(days=spread + 1), words)


_YEAR_SHIFT_ZH = {"今年": 0, "去年": -1, "前年": -2, "大前年": -3, "明年": 1}


def _chinese(text: str, today: date) -> Period | None:
    t = fold(text)
    m = re.search(
        r"(大前年|前年|去年|今年|明年)?(?:的)?(春节|过年|除夕|元宵|端午|中秋|重阳|七夕)", t
    )
    if m:
        shift = _YEAR_SHIFT_ZH.get(m.group(1) or "", 0)
        year = today.year + shift
        period = _lunar_festival(year, m.group(0), m.group(2))
        if not m.group(1) and period.start > today:  # bare "春节": the last one
            period = _lunar_festival(year - 1, m.group(0), m.group(2))
        return period
    m = re.search(r"民国" + _NUM + "年", t)
    if m and (n := _zh_number(m.group(1))) is not None:
        return _year(1911 + n, m.group(0))
    m = re.search(r"(\d{2}|[一二三四五六七八九]十)年代", t)
    if m:
        n = _zh_number(m.group(1)) or 0
        start = 1900 + n if n < 100 else n
        return Period(date(start, 1, 1), date(start + 10, 1, 1), m.group(0))
    m = re.search(r"(\d{4}|[零〇一二三四五六七八九]{4})年(?:代)?", t)
    if m and (n := _zh_number(m.group(1))) and 1850 <= n <= 2200:
        if m.group(0).endswith("年代"):
            return Period(date(n, 1, 1), date(n + 10, 1, 1), m.group(0))
        month = re.match(r"\s*" + _NUM + "月", t[m.end() :])
        if month and (mo := _zh_number(month.group(1))) and 1 <= mo <= 12:
            return _month(n, mo, m.group(0) + month.group(0))
        return _year(n, m.group(0))
    m = re.search(_NUM + r"\s*(天|个星期|个礼拜|星期|周|个月|年)(?:以)?前", t)
    if m and (n := _zh_number(m.group(1))) is not None:
        return _ago(today, n, m.group(2), m.group(0))
    m = re.search(r"(大前年|前年|去年|今年)?\s*" + _NUM + r"月(?:份)?(?:" + _NUM + r"[日号])?", t)
    if m and (mo := _zh_number(m.group(2))) and 1 <= mo <= 12:
        if m.group(1):
            year = today.year + _YEAR_SHIFT_ZH[m.group(1)]
        else:
            year = today.year if mo <= today.month else today.year - 1
        if m.group(3) and (d := _zh_number(m.group(3))) and 1 <= d <= 31:
            try:
                return _day(date(year, mo, d), m.group(0))
            except ValueError:
                pass
        return _month(year, mo, m.group(0))
    for words, shift in _YEAR_SHIFT_ZH.items():
        if words in t and words != "明年":
            return _year(today.year + shift, words)
    m = re.search(r"(上上|上|这|本)?(?:个)?(?:星期|周|礼拜)([一二三四五六日天])", t)
    if m:
        weekday = _WEEKDAYS_ZH[m.group(2)]
        monday = today - timedelta(days=today.weekday())
        if m.group(1) in ("上", "上上"):
            weeks = 2 if m.group(1) == "上上" else 1
            return _day(monday - timedelta(weeks=weeks) + timedelta(days=weekday), m.group(0))
        if m.group(1):
            return _day(monday + timedelta(days=weekday), m.group(0))
        return _last_weekday(today, weekday, m.group(0))
    # Longer words first: 大前天 before 前天, 上上周 before 上周.
    days = (
        ("大前天", 3),
        ("前天", 2),
        ("昨天", 1),
        ("昨日", 1),
        ("昨晚", 1),
        ("今天", 0),
        ("今早", 0),
        ("今晚", 0),
    )
    weeks = (
        ("上上周", 2),
        ("上周", 1),
        ("上星期", 1),
        ("上个星期", 1),
        ("上礼拜", 1),
        ("上个礼拜", 1),
        ("这周", 0),
        ("本周", 0),
        ("这星期", 0),
        ("这个星期", 0),
        ("这礼拜", 0),
    )
    months = (("上个月", 1), ("上月", 1), ("这个月", 0), ("本月", 0))
    for words, back in days:
        if words in t:
            return _day(today - timedelta(days=back), words)
    for words, back in weeks:
        if words in t:
            return _week(today - timedelta(weeks=back), words)
    for words, back in months:
        if words in t:
            return _ago(today, back, "month", words)
    if "最近" in t:
        return Period(today - timedelta(days=30), today + timedelta(days=1), "最近")
    return None


def _english(text: str, today: date) -> Period | None:
    t = text.lower()
    m = re.search(r"\b(?:in|during)?\s*the\s+(\d{2})(\d{2})s\b|\bthe\s+'?(\d0)s\b", t)
    if m:
        start = int(m.group(1) + m.group(2)) if m.group(1) else 1900 + int(m.group(3))
        return Period(date(start, 1, 1), date(start + 10, 1, 1), m.group(0).strip())
    number = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|a couple of|a few|an|a)"
    m = re.search(number + r"\s+(day|week|month|year)s?\s+ago", t)
    if m:
        n = int(m.group(1)) if m.group(1).isdigit() else _EN_NUM[m.group(1)]
        return _ago(today, n, m.group(2), m.group(0))
    m = re.search(r"(?:last|past)\s+" + number + r"\s+(day|week|month|year)s?", t)
    if m:
        n = int(m.group(1)) if m.group(1).isdigit() else _EN_NUM[m.group(1)]
        delta = {
            "day": relativedelta(days=n),
            "week": relativedelta(weeks=n),
            "month": relativedelta(months=n),
            "year": relativedelta(years=n),
        }[m.group(2)]
        return Period(today - delta, today + timedelta(days=1), m.group(0))
    m = re.search(
        r"\b(last|this)?\s*" + _MONTH_RE + r"\b(?:\s+(\d{1,2})(?:st|nd|rd|th)?)?(?:,?\s+(\d{4}))?",
        t,
    )
    if m and not (
        m.group(2) == "may"
        and not (m.group(1) or m.group(3) or m.group(4))
        and not re.search(r"\b(in|during|of|since)\s+may\b", t)
    ):
        month = _month_number(m.group(2))
        if m.group(4):
            year = int(m.group(4))
        elif m.group(1) == "this":
            year = today.year
        else:
            year = _recent_month(today, month, "", before=m.group(1) == "last").start.year
        if m.group(3) and 1 <= int(m.group(3)) <= 31:
            try:
                return _day(date(year, month, int(m.group(3))), m.group(0).strip())
            except ValueError:
                pass
        return _month(year, month, m.group(0).strip())
    m = re.search(r"\b(?:in|of|since|during|from)\s+(\d{4})\b", t)
    if m and 1850 <= int(m.group(1)) <= 2200:
        return _year(int(m.group(1)), m.group(0))
    m = re.search(r"\b(last|this|on)\s+(" + "|".join(_WEEKDAYS_EN) + r")\b", t)
    if m:
        weekday = _WEEKDAYS_EN.index(m.group(2))
        if m.group(1) == "this":
            monday = today - timedelta(days=today.weekday())
            return _day(monday + timedelta(days=weekday), m.group(0))
        return _last_weekday(today, weekday, m.group(0))
    table: list[tuple[str, Period]] = [
        (
            r"\bthe day before yesterday\b",
            _day(today - timedelta(days=2), "the day before yesterday"),
        ),
        (r"\byesterday\b|\blast night\b", _day(today - timedelta(days=1), "yesterday")),
        (r"\btoday\b|\btonight\b|\bthis (?:morning|afternoon|evening)\b", _day(today, "today")),
        (
            r"\blast weekend\b",
            Period(
                _week(today, "").start - timedelta(days=2), _week(today, "").start, "last weekend"
            ),
        ),
        (r"\blast week\b", _week(today - timedelta(weeks=1), "last week")),
        (r"\bthis week\b", _week(today, "this week")),
        (r"\blast month\b", _ago(today, 1, "month", "last month")),
        (r"\bthis month\b", _ago(today, 0, "month", "this month")),
        (r"\blast year\b", _year(today.year - 1, "last year")),
        (r"\bthis year\b", _year(today.year, "this year")),
        (
            r"\blast christmas\b",
            Period(
                date(today.year - (1 if today < date(today.year, 12, 24) else 0), 12, 22),
                date(today.year - (1 if today < date(today.year, 12, 24) else 0), 12, 28),
                "last christmas",
            ),
        ),
        (
            r"\brecently\b|\blately\b",
            Period(today - timedelta(days=30), today + timedelta(days=1), "recently"),
        ),
    ]
    for pattern, period in table:
        if re.search(pattern, t):
            return period
    return None


def _dateparser(text: str, today: date) -> Period | None:
    if not re.search(r"\d", text):
        return None
    from dateparser.search import search_dates

    found = search_dates(
        text,
        languages=["en", "zh"],
        settings={
            "RELATIVE_BASE": datetime.combine(today, time()),
            "PREFER_DATES_FROM": "past",
            "REQUIRE_PARTS": ["month"],
        },
    )
    if not found:
        return None
    words, moment = found[0]
    # A bare number ("I took 2 pills") is not a date: ask for a month name or a d/m shape.
    if not re.search(r"[A-Za-z]{3}|[月日号號]|\d+[/.-]\d+", words):
        return None
    return _day(moment.date(), words)


def find_period(text: str, today: date) -> Period | None:
    """The period the words of `text` point to, seen from `today` (a local date)."""
    try:
        return _chinese(text, today) or _english(text, today) or _dateparser(text, today)
    except (ValueError, OverflowError):  # a date outside the calendars (year 10000, lunar 2150)
        return None


def resolve(text: str, as_of: datetime, timezone: str) -> tuple[TimeRange, str] | None:
    """The UTC range a question's time words name, and the words, or None."""
    tz = zone(timezone)
    local_today = as_of.astimezone(tz).date()
    period = find_period(text, local_today)
    if period is None:
        return None
    start = datetime.combine(period.start, time(), tzinfo=tz)
    end = datetime.combine(period.end, time(), tzinfo=tz)
    return TimeRange(start=start, end=end), period.words

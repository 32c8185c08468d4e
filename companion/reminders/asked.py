"""The elder asks for a reminder in their own words: "提醒我明天下午三點去看醫生", "remind me
to call Mary tomorrow at 3pm". Read into a one-off reminder in the elder's timezone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateparser.search import search_dates

from memory.language import fold
from memory.models import ReminderKind
from memory.timewords import _NUM, _WEEKDAYS_ZH, _zh_number

_ASK_ZH = re.compile(r"(?:请|麻烦|记得|帮我)?(?:提醒|叫)我")
_ASK_EN = re.compile(r"\bremind\s+me\b", re.IGNORECASE)
_DAYS_ZH = (
    ("大后天", 3),
    ("后天", 2),
    ("明天", 1),
    ("明早", 1),
    ("明晚", 1),
    ("今天", 0),
    ("今晚", 0),
    ("等一下", 0),
)
_WEEKDAY_ZH = re.compile(r"(下下|下|这|本)?(?:个)?(?:星期|周|礼拜)([一二三四五六日天])")
_DATE_ZH = re.compile(_NUM + r"月" + _NUM + r"[日号]")
_CLOCK_ZH = re.compile(
    r"(凌晨|早上|上午|中午|下午|傍晚|晚上)?\s*" + _NUM + r"\s*(?:点|:|：)\s*(半|" + _NUM + r"分?)?"
)
_PART_ZH = re.compile(r"(凌晨|早上|上午|中午|下午|傍晚|晚上|明早|明晚|今晚)")
_KINDS = (
    (ReminderKind.medicine, re.compile(r"药|藥|medicine|pill|tablet|meds", re.I)),
    (
        ReminderKind.appointment,
        re.compile(
            r"医生|醫生|医院|醫院|看诊|复诊|診|doctor|clinic|hospital|appointment|dentist|牙医|牙醫",
            re.I,
        ),
    ),
)


@dataclass
class Asked:
    title: str
    kind: str
    at: datetime | None  # wall-clock time in the elder's timezone; None: no time was given


def _kind(text: str) -> str:
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind.value
    return ReminderKind.other.value


def _hour(part: str | None, hour: int) -> int:
    if part in ("下午", "傍晚", "晚上", "明晚", "今晚") and hour < 12:
        return hour + 12
    if part == "中午" and hour < 6:
        return hour + 12
    return hour


def _chinese(text: str, now: datetime) -> Asked | None:
    t = fold(text)
    ask = _ASK_ZH.search(t)
    if not ask:
        return None
    rest = t[ask.end() :]
    day: date | None = None
    used: list[str] = []
    for words, shift in _DAYS_ZH:
        if words in rest:
            day, used = now.date() + timedelta(days=shift), [words]
            break
    if m := _WEEKDAY_ZH.search(rest):
        weekday = _WEEKDAYS_ZH[m.group(2)]
        monday = now.date() - timedelta(days=now.weekday())
        weeks = {"下": 1, "下下": 2}.get(m.group(1) or "", 0)
        day = monday + timedelta(weeks=weeks, days=weekday)
        if day < now.date():
            day += timedelta(weeks=1)
        used.append(m.group(0))
    if m := _DATE_ZH.search(rest):
        month, dom = _zh_number(m.group(1)), _zh_number(m.group(2))
        if month and dom:
            try:
                day = date(now.year, month, dom)
                if day < now.date():
                    day = date(now.year + 1, month, dom)
            except ValueError:
                day = None
            used.append(m.group(0))
    at: datetime | None = None
    if m := _CLOCK_ZH.search(rest):
        hour = _zh_number(m.group(2))
        minute = 30 if m.group(3) == "半" else (_zh_number(m.group(4)) or 0) if m.group(4) else 0
        part = m.group(1) or (p.group(1) if (p := _PART_ZH.search(rest)) else None)
        if hour is not None and 0 <= hour <= 24 and 0 <= minute < 60:
            clock = time(_hour(part, hour) % 24, minute)
            at = datetime.combine(day or now.date(), clock)
            if day is None and at <= now.replace(tzinfo=None):
                at += timedelta(days=1)  # "三點" said at five: tomorrow's
        used.append(m.group(0))
    title = rest
    for words in used + [w for w, _ in _DAYS_ZH]:
        title = title.replace(words, "")
    title = _PART_ZH.sub("", title)
    title = re.sub(r"^[\s,，、:：的要该去]*|[\s。.!！~～]+$", "", title).strip()
    title = title or "提醒"
    # The elder's own words (and script) for the title: the same place in what they wrote.
    original = text[ask.end() :]
    if len(original) == len(rest) and (at_ := rest.find(title)) >= 0:
        title = original[at_ : at_ + len(title)]
    return Asked(title=title, kind=_kind(title), at=at)


def _english(text: str, now: datetime) -> Asked | None:
    ask = _ASK_EN.search(text)
    if not ask:
        return None
    rest = text[ask.end() :]
    found = search_dates(
        rest,
        languages=["en"],
        settings={"PREFER_DATES_FROM": "future", "RELATIVE_BASE": now.replace(tzinfo=None)},
    )
    at = None
    title = rest
    if found:
        words, at = found[-1]
        has_clock = re.search(r"\d\s*(am|pm|:\d\d)|\bnoon\b|o'clock", words, re.I)
        if not has_clock:
            at = None
        title = title.replace(words, " ")
    title = re.sub(r"^\s*(to|about|that)\s+", "", title.strip(), flags=re.I)
    title = re.sub(r"\s+(at|on|in)\s*$", "", title.strip(" .!,"), flags=re.I).strip() or "reminder"
    return Asked(title=title, kind=_kind(title), at=at)


def asked_reminder(text: str, now_local: datetime) -> Asked | None:
    """The reminder the words ask for, or None when they do not ask for one."""
    if re.search(r"[\u4e00-\u9fff]", text):
        return _chinese(text, now_local)
    return _english(text, now_local)

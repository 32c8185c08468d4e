"""Time words read as periods, in the elder's timezone, from the moment of the question."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from memory.lexical import query_terms, terms
from memory.timewords import find_period, resolve

TODAY = date(2026, 11, 25)  # a Wednesday


@pytest.mark.parametrize(
    ("words", "start", "end"),
    [
        ("what did I do last week", date(2026, 11, 16), date(2026, 11, 23)),
        ("上個月我去了哪裡", date(2026, 10, 1), date(2026, 11, 1)),
        ("上个月", date(2026, 10, 1), date(2026, 11, 1)),
        ("去年春節我們吃了什麼", date(2025, 1, 28), date(2025, 2, 13)),  # 除夕 to 元宵
        ("民國五十七年搬家", date(1968, 1, 1), date(1969, 1, 1)),
        ("in 1970 I moved", date(1970, 1, 1), date(1971, 1, 1)),
        ("the 1960s", date(1960, 1, 1), date(1970, 1, 1)),
        ("七十年代", date(1970, 1, 1), date(1980, 1, 1)),
        ("1968年3月", date(1968, 3, 1), date(1968, 4, 1)),
        ("three days ago", date(2026, 11, 22), date(2026, 11, 23)),
        ("前天", date(2026, 11, 23), date(2026, 11, 24)),
        ("昨天", date(2026, 11, 24), date(2026, 11, 25)),
        ("上星期三", date(2026, 11, 18), date(2026, 11, 19)),
        ("last Tuesday", date(2026, 11, 24), date(2026, 11, 25)),
        ("in March", date(2026, 3, 1), date(2026, 4, 1)),
        ("what happened in may", date(2026, 5, 1), date(2026, 6, 1)),
        ("on May 3rd 2023", date(2023, 5, 3), date(2023, 5, 4)),
        ("5月3號", date(2026, 5, 3), date(2026, 5, 4)),
        ("去年十二月", date(2025, 12, 1), date(2026, 1, 1)),
        ("past two weeks", date(2026, 11, 11), date(2026, 11, 26)),
    ],
)
def test_time_words_name_a_period(words, start, end):
    period = find_period(words, TODAY)
    assert period is not None, words
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    "words", ["who is my daughter", "may I ask you something", "我女兒叫什麼", "I took 2 pills"]
)
def test_no_time_words_no_period(words):
    assert find_period(words, TODAY) is None


def test_the_period_is_read_in_the_elders_timezone():
    # 17:00 UTC on the 24th is already 01:00 on the 25th in Taipei: "yesterday" is the 24th there.
    asked = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    resolved = resolve("昨天我做了什麼", asked, "Asia/Taipei")
    assert resolved is not None
    when, words = resolved
    assert words == "昨天"
    assert when.start == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    assert when.end == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def test_dates_outside_the_calendars_are_ignored_not_errors():
    assert find_period("民國九千九百年", TODAY) is None  # year 11811
    assert find_period("春節", date(2199, 6, 1)) is None  # beyond the lunar tables


def test_lexical_terms_fold_scripts_stem_english_and_drop_stop_words():
    assert terms("我女兒") == terms("我女儿") == ["我女", "女儿"]
    assert query_terms("The gardens I was gardening") == ["garden"]
    assert terms("a") == [] and terms("the of and") == []
    assert "什么" not in terms("什麼時候")

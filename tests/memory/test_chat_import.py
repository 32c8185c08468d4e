"""Reading chat histories as LINE and WhatsApp export them, and a plain CSV: every variant,
the system lines, senders mapped, and the lines that cannot be read (the files are written for
these tests; the people in them are invented)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory.chat_import import (
    Person,
    Speaker,
    UnreadableChat,
    parse_sender_mapping,
    plan_import,
    read_chat,
)
from memory.errors import InvalidInput

DATA = Path(__file__).parent.parent / "data" / "chats"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ELDER = Person("elder-account", "林美華", Speaker.elder)


def words(chat) -> list[tuple[str | None, str]]:
    return [(e.sender, e.text) for e in chat.entries if e.system is None]


def systems(chat) -> Counter:
    return Counter(e.system for e in chat.entries if e.system is not None)


# --- LINE -------------------------------------------------------------------------------------


def test_line_traditional_chinese_export():
    chat = read_chat((DATA / "line_zh_hant.txt").read_bytes(), "line")
    assert chat.title == "媽媽"
    assert words(chat) == [
        ("媽媽", "早安"),
        ("美玲", "早安媽，今天天氣很好"),
        ("媽媽", '我今天去公園散步\n遇到了王阿姨\n她說"新年快樂"'),  # quoted, over three lines
        ("媽媽", "中午吃了水餃"),
        ("媽媽", "今天要去看醫生"),
        ("媽媽", "今天要去看醫生"),
        ("阿明", "我晚點到"),
    ]
    times = {e.text: e.said_at for e in chat.entries}
    assert times["早安"] == datetime(2024, 1, 5, 10, 5)
    assert times["中午吃了水餃"] == datetime(2024, 1, 5, 12, 15)  # 下午12:15 is noon
    assert times["我晚點到"] == datetime(2024, 1, 6, 0, 30)  # 上午12:30 is after midnight
    assert [e.line for e in chat.entries if e.system is None][:3] == [5, 6, 8]
    assert systems(chat) == {"sticker": 1, "photo": 1, "call": 2, "unsent": 1}
    unsent = next(e for e in chat.entries if e.system == "unsent")
    assert unsent.sender is None  # "美玲已收回訊息" is LINE's note, not 美玲's words


def test_line_english_export_reads_month_first_from_its_weekdays():
    chat = read_chat((DATA / "line_en.txt").read_bytes(), "line")
    assert chat.title == "Mom"
    assert chat.date_order == "mdy"
    said = {e.text: e.said_at for e in chat.entries}
    assert said["Good morning"] == datetime(2024, 1, 5, 10, 5)
    assert said["I planted tomatoes today"] == datetime(2024, 1, 5, 11, 15)  # "AM 11:15"
    assert said["The tomatoes are red now\nCome and see"] == datetime(2024, 1, 13, 13, 20)
    assert systems(chat) == {"sticker": 1, "photo": 1, "call": 1, "unsent": 1}
    assert ("Sam", "Morning Mom!") in words(chat)


@pytest.mark.parametrize(
    "date_line",
    [
        "2024/01/05（五）",
        "2024/1/5(五)",
        "2024/01/05（週五）",
        "2024/01/05(Fri)",
        "2024.01.05 星期五",
    ],
)
def test_line_date_lines_in_each_form(date_line):
    text = (
        f"[LINE] 與媽媽的聊天記錄\n儲存日期：2024/01/06 10:00\n\n{date_line}\n10:05\t媽媽\t早安\n"
    )
    chat = read_chat(text.encode(), "line")
    assert [(e.said_at, e.sender, e.text) for e in chat.entries] == [
        (datetime(2024, 1, 5, 10, 5), "媽媽", "早安")
    ]


def test_line_english_dates_with_a_day_over_twelve_need_no_weekday_to_be_read():
    text = (
        "Sat, 13/01/2024\n10:05 AM\tMom\tGood morning\nSun, 14/01/2024\n9:00 PM\tMom\tGood night\n"
    )
    chat = read_chat(text.encode(), "line")
    assert chat.date_order == "dmy"
    assert [e.said_at for e in chat.entries] == [
        datetime(2024, 1, 13, 10, 5),
        datetime(2024, 1, 14, 21, 0),
    ]


def test_a_line_it_cannot_read_is_named_with_its_number():
    text = "2024/01/05（五）\n上午10:05\t媽媽\t早安\n上午25:05\t媽媽\t午安\n媽媽\t午安\n"
    with pytest.raises(UnreadableChat) as caught:
        read_chat(text.encode(), "line")
    assert [p.line for p in caught.value.problems] == [3, 4]
    assert "line 3" in caught.value.message and "nothing was imported" in caught.value.message


def test_a_quote_that_never_closes_is_reported_where_it_opens():
    text = '2024/01/05（五）\n10:05\t媽媽\t"第一行\n第二行\n'
    with pytest.raises(UnreadableChat) as caught:
        read_chat(text.encode(), "line")
    assert [(p.line, p.message) for p in caught.value.problems] == [
        (2, "a message in quotes that never ends")
    ]


def test_a_message_before_any_date_line_is_refused():
    with pytest.raises(UnreadableChat) as caught:
        read_chat("10:05\t媽媽\t早安\n".encode(), "line")
    assert caught.value.problems[0].line == 1
    assert "before any date line" in caught.value.problems[0].message


# --- WhatsApp ---------------------------------------------------------------------------------


def test_whatsapp_android_twelve_hour_with_narrow_spaces_and_continuation_lines():
    chat = read_chat((DATA / "whatsapp_android_us.txt").read_bytes(), "whatsapp")
    assert chat.date_order == "mdy"
    assert words(chat) == [
        ("Margaret", "Happy new year, Tom!"),
        ("Tom", "Happy new year Mum\nI will come tomorrow\nwith the kids"),
        ("Margaret", "The roses in the garden are out"),
    ]
    said = {e.text: e.said_at for e in chat.entries}
    assert said["Happy new year, Tom!"] == datetime(2023, 12, 31, 21, 41)
    assert said["The roses in the garden are out"] == datetime(2024, 1, 1, 8, 10)
    assert systems(chat) == {"encryption": 1, "media": 1, "deleted": 1, "call": 1}


def test_whatsapp_twenty_four_hour_day_first():
    text = (
        "31/12/2023, 21:41 - Mum: Happy new year\n"
        "01/01/2024, 08:05 - Grace: Happy new year Mum\n"
        "01/01/2024, 08:06 - Grace: <Media omitted>\n"
        "01/01/2024, 08:07 - Grace added Tom\n"
    )
    chat = read_chat(text.encode(), "whatsapp")
    assert chat.date_order == "dmy"
    assert [(e.said_at, e.sender) for e in chat.entries if e.system is None] == [
        (datetime(2023, 12, 31, 21, 41), "Mum"),
        (datetime(2024, 1, 1, 8, 5), "Grace"),
    ]
    assert systems(chat) == {"media": 1, "event": 1}


def test_whatsapp_iphone_dotted_with_seconds_and_marked_system_lines():
    chat = read_chat((DATA / "whatsapp_ios_dotted.txt").read_bytes(), "whatsapp")
    assert chat.date_order == "dmy"
    assert words(chat) == [
        ("Margaret Lee", "Happy new year!"),
        ("Anna", "Frohes neues Jahr, Oma"),
        ("Margaret Lee", "I made dumplings for everyone"),
    ]
    assert chat.entries[1].said_at == datetime(2023, 12, 31, 21, 41, 5)
    assert systems(chat) == {"encryption": 1, "media": 1, "deleted": 1, "call": 1}


def test_whatsapp_chinese_locale_and_edited_messages():
    text = (
        "2023/12/31 下午9:41 - 阿嬤: 新年快樂\n"
        "2024/1/1 上午8:05 - 美玲: 媽，我明天回家 <This message was edited>\n"
    )
    chat = read_chat(text.encode(), "whatsapp")
    assert [(e.said_at, e.text) for e in chat.entries] == [
        (datetime(2023, 12, 31, 21, 41), "新年快樂"),
        (datetime(2024, 1, 1, 8, 5), "媽，我明天回家"),
    ]


def test_whatsapp_dates_that_could_go_either_way_ask_for_the_order():
    text = "01/02/2024, 10:00 - Mum: one\n01/03/2024, 10:00 - Mum: two\n"
    with pytest.raises(InvalidInput, match="--date-order"):
        read_chat(text.encode(), "whatsapp")
    day_first = read_chat(text.encode(), "whatsapp", date_order="dmy")
    assert [e.said_at.date().isoformat() for e in day_first.entries] == [
        "2024-02-01",
        "2024-03-01",
    ]
    month_first = read_chat(text.encode(), "whatsapp", date_order="mdy")
    assert month_first.entries[1].said_at.date().isoformat() == "2024-01-03"


def test_whatsapp_ambiguous_dates_read_the_only_way_the_days_run_forward():
    text = "12/01/2024, 10:00 - Mum: one\n01/02/2024, 10:00 - Mum: two\n"
    # Day first: 12 Jan, then 1 Feb. Month first: 1 Dec, then 2 Jan (backwards).
    chat = read_chat(text.encode(), "whatsapp")
    assert chat.date_order == "dmy"


def test_whatsapp_a_date_not_in_the_calendar_is_reported():
    text = "12/31/23, 9:41 PM - Mum: one\n02/30/24, 9:41 PM - Mum: two\n02/01/24, 25:00 - Mum: x\n"
    with pytest.raises(UnreadableChat) as caught:
        read_chat(text.encode(), "whatsapp")
    assert [p.line for p in caught.value.problems] == [2, 3]


def test_whatsapp_text_before_the_first_message_is_refused():
    with pytest.raises(UnreadableChat) as caught:
        read_chat(b"hello there\n12/31/23, 9:41 PM - Mum: one\n", "whatsapp")
    assert caught.value.problems[0].line == 1


# --- CSV --------------------------------------------------------------------------------------


def test_csv_with_a_header_offsets_and_a_multi_line_cell():
    chat = read_chat((DATA / "plain.csv").read_bytes(), "csv")
    assert [(e.line, e.sender, e.text) for e in chat.entries] == [
        (2, "Grace", "Good morning Mum"),
        (3, "Mum", "Good morning.\nThe plum tree has flowers"),
        (5, "Mum", "I will make tea"),
    ]
    assert chat.entries[0].said_at == datetime(2024, 1, 5, 10, 5)  # the elder's time, later
    assert chat.entries[1].said_at.utcoffset().total_seconds() == 8 * 3600


def test_csv_needs_its_header():
    with pytest.raises(UnreadableChat, match="timestamp, sender and text"):
        read_chat(b"2024-01-05 10:05,Grace,hello\n", "csv")


def test_csv_bad_rows_are_each_named_after_a_multi_line_cell():
    text = 'timestamp,sender,text\n2024-01-05 10:05,Mum,"two\nlines"\nyesterday,Mum,hi\n2024-01-05 10:07,,hi\n'
    with pytest.raises(UnreadableChat) as caught:
        read_chat(text.encode(), "csv")
    assert [(p.line, p.message) for p in caught.value.problems] == [
        (4, "'yesterday' is not a date and time like 2024-01-05 10:05"),
        (5, "no sender"),
    ]


def test_a_file_that_is_not_utf8_is_refused():
    with pytest.raises(UnreadableChat, match="not UTF-8"):
        read_chat("2024/01/05（五）\n10:05\t媽媽\t早安\n".encode("big5"), "line")


# --- senders and keys -------------------------------------------------------------------------


def _plan(chat, senders, *, keep_others=False, people=None):
    return plan_import(
        chat,
        parse_sender_mapping(senders),
        people=people or {},
        elder=ELDER,
        timezone="Asia/Taipei",
        keep_others=keep_others,
        now=NOW,
    )


def test_unmapped_senders_are_listed_with_what_to_do():
    chat = read_chat((DATA / "line_zh_hant.txt").read_bytes(), "line")
    with pytest.raises(InvalidInput) as caught:
        _plan(chat, ["媽媽=elder"])
    message = caught.value.message
    assert "美玲 (1 message)" in message and "阿明 (1 message)" in message
    assert "--as" in message and "--keep-others" in message
    assert "媽媽 (" not in message


def test_senders_mapped_to_the_elder_family_and_others():
    chat = read_chat((DATA / "line_zh_hant.txt").read_bytes(), "line")
    daughter = Person("daughter-account", "美玲", Speaker.family)
    plan = _plan(
        chat,
        ["媽媽=elder", "美玲=daughter-account"],
        keep_others=True,
        people={"daughter-account": daughter},
    )
    who = [(m.speaker, m.speaker_name, m.account_id) for m in plan.messages]
    assert who[:2] == [
        (Speaker.elder, "林美華", "elder-account"),
        (Speaker.family, "美玲", "daughter-account"),
    ]
    assert who[-1] == (Speaker.other, "阿明", None)
    assert plan.messages[0].said_at == datetime(2024, 1, 5, 2, 5, tzinfo=UTC)  # Taipei is +8
    assert all("[" not in m.text and "☎" not in m.text for m in plan.messages)
    assert plan.system == {"sticker": 1, "photo": 1, "call": 2, "unsent": 1}


def test_a_mapping_to_someone_else_is_refused():
    chat = read_chat((DATA / "line_zh_hant.txt").read_bytes(), "line")
    with pytest.raises(InvalidInput, match="neither 'elder' nor"):
        _plan(chat, ["媽媽=not-an-account"], keep_others=True)
    with pytest.raises(InvalidInput, match="NAME=elder"):
        parse_sender_mapping(["媽媽"])


def test_keys_are_the_same_for_the_same_message_in_a_later_export():
    first = read_chat((DATA / "line_zh_hant.txt").read_bytes(), "line")
    later_text = (DATA / "line_zh_hant.txt").read_text().replace(
        "儲存日期：2024/01/06 10:00", "儲存日期：2024/02/01 09:00\n"
    ) + "\n2024/01/07（日）\n上午08:00\t媽媽\t早\n"
    later = read_chat(later_text.encode(), "line")
    keys = {m.external_id for m in _plan(first, ["媽媽=elder"], keep_others=True).messages}
    later_keys = [m.external_id for m in _plan(later, ["媽媽=elder"], keep_others=True).messages]
    assert keys < set(later_keys) and len(set(later_keys) - keys) == 1
    assert len(later_keys) == len(set(later_keys))  # the same words twice are two messages


def test_a_message_in_the_future_is_refused_with_its_line():
    chat = read_chat("2027/01/05（二）\n10:05\t媽媽\t早安\n".encode(), "line")
    with pytest.raises(UnreadableChat) as caught:
        _plan(chat, ["媽媽=elder"])
    assert caught.value.problems[0].line == 2


def test_group_notes_and_empty_messages_are_never_words():
    text = (
        "[LINE] 「家人」的聊天記錄\n2024/01/05（五）\n"
        "10:05\t\t美玲已加入群組\n10:06\t媽媽\t\n10:07\t媽媽\t大家好\n"
    )
    chat = read_chat(text.encode(), "line")
    assert words(chat) == [("媽媽", "大家好")]
    assert systems(chat) == {"event": 1, "empty": 1}
    csv_chat = read_chat(b"timestamp,sender,text\n2024-01-05 10:05,Mum,\n", "csv")
    assert words(csv_chat) == [] and systems(csv_chat) == {"empty": 1}


_PIECES = st.sampled_from(
    [
        "2024/01/05（五）\n",
        "Fri, 01/05/2024\n",
        "上午10:05\t媽媽\t早安\n",
        '10:05\tMom\t"a\n',
        'b"\n',
        "12/31/23, 9:41 PM - Mum: hi\n",
        "[31.12.23, 21:41:05] Mum: hi\n",
        "\t\n",
        "13/13/2024, 25:61 - x: y\n",
        "timestamp,sender,text\n",
        "2024-01-05 10:05,Mum,hi\n",
        '"\n',
        "\x00",
        "\ufeff",
        "\r\n",
        "☎ 未接來電\n",
    ]
)


@given(
    pieces=st.lists(_PIECES | st.text(max_size=20), max_size=12),
    fmt=st.sampled_from(["line", "whatsapp", "csv"]),
)
@settings(max_examples=300, deadline=None, database=None, derandomize=True)
def test_any_file_is_read_or_refused_in_words(pieces, fmt):
    try:
        chat = read_chat("".join(pieces).encode("utf-8", "surrogatepass"), fmt)
    except InvalidInput as exc:
        assert exc.message
    else:
        for entry in chat.entries:
            assert entry.line >= 1 and (entry.system or entry.text)


def test_a_control_character_in_words_or_a_name_is_named_by_line():
    text = "12/31/23, 9:41 PM - Mum: fine\n12/31/23, 9:42 PM - Mum: a\x00b\n12/31/23, 9:43 PM - M\x01m: hi\n"
    with pytest.raises(UnreadableChat) as caught:
        read_chat(text.encode(), "whatsapp")
    assert [p.line for p in caught.value.problems] == [2, 3]

"""Chat histories as their apps export them (LINE, WhatsApp, a plain CSV), read into messages.

Pure reading and mapping, no database: `read_chat` turns a file into entries (with the line
each began on), `plan_import` maps the senders to the elder and family accounts and gives the
messages to store, each with a key that stays the same for the same line (so importing a file
again, or a later export of the same chat, adds only what is new). Every unreadable line is
collected and reported together; nothing is written unless the whole file reads.

System lines (stickers, photos, calls, unsent or deleted messages, "end-to-end encrypted",
group events) are recognised and counted, never stored as anyone's words.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from memory.errors import InvalidInput
from memory.timeutil import to_utc

FORMATS = ("line", "whatsapp", "csv")
DATE_ORDERS = ("auto", "dmy", "mdy", "ymd")
MAX_TEXT = 10_000
MAX_SENDER = 200
# Shown in an error; the job keeps them all.
SHOWN_PROBLEMS = 10
ELDER = "elder"
# Clocks drift; a message "said" further ahead than this is a mistake in the file.
_FUTURE_TOLERANCE = timedelta(hours=24)


class Speaker(StrEnum):
    elder = "elder"
    family = "family"
    other = "other"


@dataclass(frozen=True)
class Problem:
    """A line that could not be read, and why, in words the person who exported it can act on."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class UnreadableChat(InvalidInput):
    """The file (or some of its lines) could not be read; nothing is imported."""

    def __init__(self, problems: list[Problem], *, what: str = "chat history") -> None:
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        also = f" (and {more} more)" if more > 0 else ""
        count = "1 line" if len(problems) == 1 else f"{len(problems)} lines"
        super().__init__(
            f"{count} of this {what} could not be read, so nothing was imported: {shown}{also}."
        )


@dataclass(frozen=True)
class Entry:
    """One message (or system line) as the file holds it; `said_at` is naive local time unless
    the file gave an offset."""

    line: int
    said_at: datetime
    sender: str | None
    text: str
    system: str | None = None  # sticker, photo, call, unsent, deleted, media, event...


@dataclass
class ChatFile:
    format: str
    entries: list[Entry]
    lines: int
    title: str | None = None
    date_order: str | None = None


# --- the text itself ------------------------------------------------------------------------

# Direction marks WhatsApp and LINE put in; no-break spaces they put before AM/PM.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u200b")
)
_SPACES = {ord("\u202f"): " ", ord("\u00a0"): " ", ord("\u2007"): " "}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def decode(content: bytes) -> str:
    """The file's text: UTF-8 (with or without a byte-order mark), or UTF-16 with one."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise UnreadableChat(
            [Problem(line, "this is not UTF-8 text; export the chat again, or save it as UTF-8")],
            what="file",
        ) from exc


def _lines(text: str) -> list[str]:
    # Not str.splitlines: it also splits on characters that may be inside a message.
    return [line.removesuffix("\r") for line in text.split("\n")]


def _clean(line: str) -> str:
    return line.translate(_SPACES).translate(_INVISIBLE)


def _name_key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().casefold()


# --- dates and times --------------------------------------------------------------------------

_WEEKDAYS = {
    **{w: i for i, w in enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])},
    **{w: i for i, w in enumerate("一二三四五六日")},
    "天": 6,
    **{w: i for i, w in enumerate("月火水木金土")},
}
_AM = {"am", "a.m.", "a. m.", "上午", "午前", "오전", "早上", "凌晨"}
_PM = {"pm", "p.m.", "p. m.", "下午", "午後", "오후", "晚上", "中午"}


@dataclass(frozen=True)
class _RawDate:
    """A date as written, before its order is known: three numbers and a separator."""

    line: int
    parts: tuple[int, int, int]
    year_first: bool
    dotted: bool = False
    weekday: int | None = None


def _read_clock(hour: str, minute: str, second: str | None, meridiem: str | None) -> time | None:
    h, m, s = int(hour), int(minute), int(second or 0)
    if meridiem:
        mark = meridiem.lower().replace(" ", "").replace(".", "")
        pm = mark in {p.replace(" ", "").replace(".", "") for p in _PM}
        if not 1 <= h <= 12 and not (h == 0 and not pm):
            return None
        h = (h % 12) + (12 if pm else 0)
    if h > 23 or m > 59 or s > 59:
        return None
    return time(h, m, s)


def _year(value: int) -> int:
    return value + 2000 if value < 100 else value


def _as_date(raw: _RawDate, order: str) -> date | None:
    a, b, c = raw.parts
    if raw.year_first or order == "ymd":
        y, m, d = a, b, c
    elif order == "dmy":
        d, m, y = a, b, c
    else:
        m, d, y = a, b, c
    try:
        return date(_year(y), m, d)
    except ValueError:
        return None


def decide_date_order(dates: list[_RawDate], asked: str = "auto") -> str:
    """Day/month or month/day, from the file as a whole: a number over 12, a weekday that fits
    only one reading, or the only reading in which the days run forward."""
    ambiguous = [d for d in dates if not d.year_first and not d.dotted]
    if asked != "auto":
        return asked
    if not ambiguous:
        return "dmy" if any(d.dotted for d in dates) else "ymd"
    orders = {"dmy", "mdy"}
    for raw in ambiguous:
        a, b, _ = raw.parts
        if a > 12:
            orders.discard("mdy")
        if b > 12:
            orders.discard("dmy")
        if raw.weekday is not None:
            for order in list(orders):
                day = _as_date(raw, order)
                if day is not None and day.weekday() != raw.weekday and len(orders) > 1:
                    orders.discard(order)
    if len(orders) == 1:
        return orders.pop()
    if not orders:
        raise InvalidInput(
            "The dates in this file read neither as day/month nor as month/day (some have a "
            "first number over 12, others a second one); check the file, or say which with "
            "--date-order dmy or mdy (date_order in the API)."
        )
    forward = [
        order
        for order in ("dmy", "mdy")
        if _runs_forward([_as_date(raw, order) for raw in ambiguous])
    ]
    if len(forward) == 1:
        return forward[0]
    raise InvalidInput(
        "The dates in this file could be day/month or month/day (no day is over 12); say which "
        "with --date-order dmy or mdy (date_order in the API)."
    )


def _runs_forward(days: list[date | None]) -> bool:
    if any(d is None for d in days):
        return False
    return all(a <= b for a, b in zip(days, days[1:], strict=False))  # type: ignore[operator]


# --- LINE -------------------------------------------------------------------------------------

_LINE_TITLE = re.compile(
    r"^\[LINE\]\s*(?:與|与)?(?P<a>.+?)(?:的聊天記錄|的聊天记录|とのトーク履歴)$"
    r"|^\[LINE\]\s*Chat history (?:with|in) (?P<b>.+)$"
    r"|^\[LINE\]\s*(?P<c>.*)$"
)
_LINE_SAVED = re.compile(r"^(儲存日期|储存日期|保存日期|保存日時|Saved on|Date saved)\s*[:：]")
_LINE_DATE = re.compile(
    r"^(?P<y>\d{4})[/.\-](?P<m>\d{1,2})[/.\-](?P<d>\d{1,2})\s*"
    r"(?:[（(]\s*(?:週|周|星期|礼拜|禮拜)?(?P<w>[一二三四五六日天月火水木金土]|[A-Za-z]{3})[^）)]*[）)]"
    r"|(?:週|周|星期)(?P<w2>[一二三四五六日天]))?\s*$"
)
_LINE_DATE_EN = re.compile(
    r"^(?P<w>Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?,\s*(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4})\s*$",
    re.IGNORECASE,
)
_LINE_MESSAGE = re.compile(
    r"^(?:(?P<pre>上午|下午|午前|午後|AM|PM|am|pm)\s?)?(?P<h>\d{1,2}):(?P<m>\d{2})"
    r"(?:\s?(?P<post>AM|PM|am|pm))?\t(?P<rest>.*)$"
)
# What LINE writes in place of something that is not words.
_LINE_PLACEHOLDERS = {
    "sticker": ("貼圖", "贴图", "Sticker", "スタンプ"),
    "photo": ("照片", "圖片", "图片", "相片", "Photo", "写真"),
    "video": ("影片", "视频", "視訊", "Video", "動画"),
    "file": ("檔案", "文件", "File", "ファイル"),
    "voice": ("語音訊息", "语音信息", "語音", "语音", "Voice message", "Audio", "ボイスメッセージ"),
    "album": ("相簿", "相册", "Album", "アルバム"),
    "location": ("位置資訊", "位置信息", "Location", "位置情報"),
    "contact": ("聯絡資訊", "联系人", "Contact", "連絡先"),
    "note": ("記事本", "记事本", "Note", "ノート"),
    "gift": ("禮物", "礼物", "Gift", "プレゼント"),
}
_LINE_PLACEHOLDER = {
    f"[{word}]".casefold(): kind for kind, words in _LINE_PLACEHOLDERS.items() for word in words
}
_CALL = re.compile(
    r"^☎?\s*(未接來電|未接来电|通話時間|通话时间|取消通話|取消通话|無人接聽|无人接听|語音通話|语音通话|"
    r"視訊通話|视频通话|Missed call|Call time|Cancell?ed call|No answer|Call ended|Voice call|"
    r"Video call|不在着信|通話時間|キャンセル)",
    re.IGNORECASE,
)
_UNSENT = re.compile(
    r"(已收回訊息|收回了訊息|已收回讯息|撤回了一条消息|收回了一則訊息|unsent a message|"
    r"メッセージの送信を取り消しました)\s*$",
    re.IGNORECASE,
)


def _line_system(text: str) -> str | None:
    if text.strip().casefold() in _LINE_PLACEHOLDER:
        return _LINE_PLACEHOLDER[text.strip().casefold()]
    if text.lstrip().startswith("☎") or _CALL.match(text.strip()):
        return "call"
    if _UNSENT.search(text):
        return "unsent"
    return None


def _closes(text: str) -> bool:
    """Whether a quoted LINE message ends on this text (an odd run of quotes at its end)."""
    run = len(text) - len(text.rstrip('"'))
    return run % 2 == 1


@dataclass
class _Pending:
    line: int
    day: _RawDate
    clock: time
    sender: str | None
    text: str
    system: str | None


def read_line(text: str) -> tuple[list[_Pending], list[Problem], str | None, int]:
    """LINE's "save chat" text: a header, a line per day, then `time<TAB>sender<TAB>text`."""
    lines = _lines(text)
    out: list[_Pending] = []
    problems: list[Problem] = []
    title: str | None = None
    day: _RawDate | None = None
    quoted: _Pending | None = None
    for number, raw in enumerate(lines, start=1):
        line = _clean(raw)
        if quoted is not None:
            quoted.text += "\n" + line
            if _closes(line):
                quoted.text = quoted.text[1:-1].replace('""', '"')
                quoted = None
            continue
        if not line.strip():
            continue
        if number <= 3 and line.startswith("[LINE]"):
            found = _LINE_TITLE.match(line.strip())
            title = next((g for g in found.groups() if g), None) if found else None
            continue
        if _LINE_SAVED.match(line.strip()) and not out:
            continue
        if found := _LINE_DATE.match(line.strip()):
            w = found["w"] or found["w2"]
            day = _RawDate(
                number,
                (int(found["y"]), int(found["m"]), int(found["d"])),
                year_first=True,
                weekday=_WEEKDAYS.get(w.lower() if w else ""),
            )
            if _as_date(day, "ymd") is None:
                problems.append(Problem(number, f"{line.strip()!r} is not a date in the calendar"))
            continue
        if found := _LINE_DATE_EN.match(line.strip()):
            day = _RawDate(
                number,
                (int(found["a"]), int(found["b"]), int(found["y"])),
                year_first=False,
                weekday=_WEEKDAYS[found["w"].lower()],
            )
            continue
        if found := _LINE_MESSAGE.match(line):
            clock = _read_clock(found["h"], found["m"], None, found["pre"] or found["post"])
            if clock is None:
                problems.append(Problem(number, f"{line.split(chr(9))[0]!r} is not a time of day"))
                continue
            if day is None:
                problems.append(
                    Problem(
                        number, "a message before any date line; the day it was said is unknown"
                    )
                )
                continue
            rest = found["rest"]
            sender, tab, words = rest.partition("\t")
            if tab and sender.strip():
                entry = _Pending(number, day, clock, sender.strip(), words, _line_system(words))
            else:  # "媽媽已收回訊息", "美玲已加入群組": LINE's own notes, with no sender
                note = words if tab else rest
                entry = _Pending(number, day, clock, None, note, _line_system(note) or "event")
            out.append(entry)
            if entry.text.startswith('"') and not _closes(entry.text[1:]):
                quoted = entry
            continue
        if "\t" not in line and out and day is not None and out[-1].line >= day.line:
            out[-1].text += "\n" + line  # older exports leave multi-line messages unquoted
            continue
        problems.append(
            Problem(
                number,
                "not a LINE date line (2024/01/05（五）) or message line "
                "(上午10:05<TAB>name<TAB>text)",
            )
        )
    if quoted is not None:
        problems.append(Problem(quoted.line, "a message in quotes that never ends"))
    return out, problems, title, len(lines)


# --- WhatsApp ---------------------------------------------------------------------------------

_WA_DATE = r"(?P<a>\d{1,4})(?P<sep>[./\-])(?P<b>\d{1,2})[./\-](?P<c>\d{1,4})"
_WA_TIME = (
    r"(?P<pre>上午|下午|午前|午後|오전|오후)?\s?(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:[:.](?P<s>\d{2}))?"
    r"(?:\s?(?P<post>[AaPp]\.?\s?[Mm]\.?|上午|下午))?"
)
_WA_BRACKETED = re.compile(rf"^\[{_WA_DATE},?\s+(?:um\s|à\s)?{_WA_TIME}\]\s?(?P<body>.*)$")
_WA_DASHED = re.compile(rf"^{_WA_DATE},?\s+(?:um\s|à\s)?{_WA_TIME}\s[-–]\s(?P<body>.*)$")
_WA_SENDER = re.compile(r"^(?P<name>[^:]{1,200}?):(?: (?P<text>.*))?$", re.DOTALL)
_WA_SYSTEM = [
    ("encryption", re.compile(r"end-to-end encrypted|端對端加密|端到端加密|Ende-zu-Ende", re.I)),
    (
        "media",
        re.compile(
            r"^<[^<>]{1,60}>$|^<attached: .*>$|\(file attached\)$|^null$|"
            r"^(image|video|audio|sticker|GIF|document|Contact card|photo) omitted$|"
            r"^(圖片|影片|音訊|貼圖|文件|照片|图片|视频|音频|贴图|語音訊息)(已略去|已忽略|已省略|省略)$",
            re.I,
        ),
    ),
    (
        "deleted",
        re.compile(
            r"^(This message was deleted\.?|You deleted this message\.?|此訊息已刪除|"
            r"你刪除了此訊息|此消息已删除|你删除了此消息|Diese Nachricht wurde gelöscht\.?|"
            r"Ce message a été supprimé\.?|Se eliminó este mensaje\.?)$",
            re.I,
        ),
    ),
    (
        "call",
        re.compile(
            r"^(Missed (voice|video|group voice|group video) call|(Voice|Video) call|"
            r"未接語音通話|未接視訊通話|語音通話|視訊通話|未接语音通话|未接视频通话)",
            re.I,
        ),
    ),
    ("location", re.compile(r"^(location: https?://|Live location shared)", re.I)),
    ("pending", re.compile(r"^Waiting for this message", re.I)),
]
_WA_EDITED = re.compile(r"\s*<(This message was edited|已編輯此訊息|已编辑此消息)>$", re.I)


def _wa_system(text: str) -> str | None:
    for kind, pattern in _WA_SYSTEM:
        if pattern.search(text.strip()):
            return kind
    return None


def read_whatsapp(text: str) -> tuple[list[_Pending], list[Problem], str | None, int]:
    """WhatsApp's "export chat" text, Android (`12/31/23, 9:41 PM - Name: text`) or iPhone
    (`[31.12.23, 21:41:05] Name: text`), in the phone's own date and clock format."""
    lines = _lines(text)
    out: list[_Pending] = []
    problems: list[Problem] = []
    for number, raw in enumerate(lines, start=1):
        # iPhone exports mark what WhatsApp itself wrote with a left-to-right mark.
        marked = "\u200e" in raw[:3] or bool(re.search(r"[\]:-] \u200e", raw[:260]))
        line = _clean(raw)
        found = _WA_BRACKETED.match(line) or _WA_DASHED.match(line)
        if found is None:
            if out:
                out[-1].text += "\n" + line
            elif line.strip():
                problems.append(
                    Problem(
                        number,
                        "not a WhatsApp message line (12/31/23, 9:41 PM - Name: text) "
                        "before the first message",
                    )
                )
            continue
        a, b, c = int(found["a"]), int(found["b"]), int(found["c"])
        day = _RawDate(number, (a, b, c), year_first=a > 31, dotted=found["sep"] == ".")
        clock = _read_clock(found["h"], found["m"], found["s"], found["pre"] or found["post"])
        if clock is None:
            problems.append(Problem(number, "the time of day cannot be read"))
            continue
        body = found["body"]
        said = _WA_SENDER.match(body)
        if said is None:  # "Messages and calls are end-to-end encrypted", "X added Y"
            out.append(_Pending(number, day, clock, None, body, _wa_system(body) or "event"))
            continue
        words = _WA_EDITED.sub("", said["text"] or "")
        system = _wa_system(words) or ("event" if marked else None)
        if not words.strip():
            system = system or "empty"
        out.append(_Pending(number, day, clock, said["name"].strip(), words, system))
    return out, problems, None, len(lines)


# --- CSV --------------------------------------------------------------------------------------

CSV_COLUMNS = ("timestamp", "sender", "text")


def _read_timestamp(value: str) -> datetime | None:
    value = value.strip().replace("/", "-")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if len(value) > 10 else None  # a day alone says no time


def read_csv(text: str) -> tuple[list[Entry], list[Problem], int]:
    """A CSV with a header row naming `timestamp`, `sender` and `text` (in any order);
    timestamps ISO 8601 (2024-01-05 10:05, with or without an offset)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise UnreadableChat([Problem(1, "the file is empty")], what="CSV file") from None
    except csv.Error as exc:
        raise UnreadableChat(
            [Problem(1, f"the header cannot be read ({exc})")], what="CSV file"
        ) from exc
    names = [_clean(h).strip().lower() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in names]
    unknown = [h for h in names if h not in CSV_COLUMNS]
    if missing or unknown or len(set(names)) != len(names):
        said = f"it has {', '.join(names) or 'nothing'}"
        raise UnreadableChat(
            [
                Problem(
                    1,
                    "the first row must name the columns timestamp, sender and text (and no "
                    f"others); {said}",
                )
            ],
            what="CSV file",
        )
    where = {name: names.index(name) for name in CSV_COLUMNS}
    entries: list[Entry] = []
    problems: list[Problem] = []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(start, f"this row cannot be read ({exc})"))
            break
        number, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            problems.append(
                Problem(number, f"{len(row)} columns where the header has {len(names)}")
            )
            continue
        stamp, sender, words = (row[where[c]] for c in CSV_COLUMNS)
        moment = _read_timestamp(stamp)
        if moment is None:
            problems.append(
                Problem(number, f"{stamp.strip()!r} is not a date and time like 2024-01-05 10:05")
            )
            continue
        if not sender.strip():
            problems.append(Problem(number, "no sender"))
            continue
        entries.append(Entry(number, moment, _clean(sender).strip(), _clean(words)))
    return entries, problems, reader.line_num


# --- one reader for the three -----------------------------------------------------------------


def read_chat(content: bytes | str, fmt: str, *, date_order: str = "auto") -> ChatFile:
    """Every entry of an exported chat, or `UnreadableChat` naming each line it cannot read."""
    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown format {fmt!r}; choose line, whatsapp or csv.")
    if date_order not in DATE_ORDERS:
        raise InvalidInput(f"Unknown date order {date_order!r}; choose dmy, mdy or ymd.")
    text = decode(content) if isinstance(content, bytes) else content.removeprefix("\ufeff")
    if not text.strip():
        raise UnreadableChat([Problem(1, "the file is empty")], what="file")
    if fmt == "csv":
        entries, problems, count = read_csv(text)
        if problems:
            raise UnreadableChat(problems, what="CSV file")
        return ChatFile(format=fmt, entries=_checked(entries, problems), lines=count)
    reader = read_line if fmt == "line" else read_whatsapp
    pending, problems, title, count = reader(text)
    if not pending and not problems:
        what = "LINE" if fmt == "line" else "WhatsApp"
        raise UnreadableChat(
            [Problem(1, f"no {what} messages found; is this a {what} text export?")], what="file"
        )
    order = decide_date_order(list({p.day: None for p in pending}), date_order)
    entries = []
    for item in pending:
        day = _as_date(item.day, order)
        if day is None:
            problems.append(
                Problem(
                    item.day.line, f"{'/'.join(map(str, item.day.parts))} is not a date ({order})"
                )
            )
            continue
        entries.append(
            Entry(
                item.line,
                datetime.combine(day, item.clock),
                item.sender,
                item.text.strip(),
                item.system,
            )
        )
    entries = _checked(entries, problems)
    if problems:
        raise UnreadableChat(sorted(set(problems), key=lambda p: p.line), what=f"{fmt} export")
    return ChatFile(format=fmt, entries=entries, lines=count, title=title, date_order=order)


def _checked(entries: list[Entry], problems: list[Problem]) -> list[Entry]:
    """Words that can be stored: within the length limits, without control characters."""
    kept = []
    for entry in entries:
        text = entry.text.strip()
        if entry.system is None and not text:  # an empty message: nothing was said
            kept.append(Entry(entry.line, entry.said_at, entry.sender, "", "empty"))
        elif entry.system is None and _CONTROL.search(text):
            problems.append(Problem(entry.line, "holds a control character; remove it"))
        elif entry.system is None and len(text) > MAX_TEXT:
            problems.append(Problem(entry.line, f"a message over {MAX_TEXT:,} characters"))
        elif entry.sender is not None and _CONTROL.search(entry.sender):
            problems.append(Problem(entry.line, "the sender's name holds a control character"))
        elif entry.sender is not None and len(entry.sender) > MAX_SENDER:
            problems.append(Problem(entry.line, f"a sender's name over {MAX_SENDER} characters"))
        else:
            kept.append(entry)
    return kept


# --- who said it --------------------------------------------------------------------------------


def parse_sender_mapping(values: Iterable[str]) -> dict[str, str]:
    """`NAME=elder` or `NAME=ACCOUNT_ID`, as given on the command line or in the API."""
    mapping: dict[str, str] = {}
    for value in values:
        name, sep, target = value.rpartition("=")
        if not sep or not name.strip() or not target.strip():
            raise InvalidInput(
                f"{value!r} does not say who a sender is; write NAME=elder or NAME=ACCOUNT_ID."
            )
        key = _name_key(name)
        if key in mapping and mapping[key] != target.strip():
            raise InvalidInput(f"The sender {name.strip()!r} is mapped twice; keep one.")
        mapping[key] = target.strip()
    return mapping


@dataclass(frozen=True)
class Person:
    """Someone a sender can be: the elder or one of their family accounts."""

    account_id: str
    display_name: str
    speaker: Speaker


@dataclass(frozen=True)
class PlannedMessage:
    line: int
    said_at: datetime  # UTC
    speaker: Speaker
    speaker_name: str
    account_id: str | None
    text: str
    external_id: str


@dataclass
class ImportPlan:
    messages: list[PlannedMessage]
    system: Counter = field(default_factory=Counter)
    senders: dict[str, int] = field(default_factory=dict)  # name as written -> messages
    not_in_file: list[str] = field(default_factory=list)


def _messages(count: int) -> str:
    return "1 message" if count == 1 else f"{count:,} messages"


def line_key(entry: Entry, occurrence: int) -> str:
    """The same for the same message in any export of the chat, whatever line it is on."""
    stamp = entry.said_at.isoformat(timespec="seconds")
    raw = "\x1f".join([stamp, _name_key(entry.sender or ""), entry.text.strip(), str(occurrence)])
    return "chat:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def plan_import(
    chat: ChatFile,
    mapping: Mapping[str, str],
    *,
    people: Mapping[str, Person],
    elder: Person,
    timezone: str,
    keep_others: bool,
    now: datetime,
) -> ImportPlan:
    """Map each sender to the elder, a family account, or (with `keep_others`) an other
    speaker; a sender the mapping does not name is an error listing them all."""
    targets: dict[str, Person] = {}
    for key, target in mapping.items():
        person = elder if target == ELDER or target == elder.account_id else people.get(target)
        if person is None:
            raise InvalidInput(
                f"{target!r} is neither 'elder' nor the id of a family account of this elder; "
                "'zhian admin list-accounts --elder ID' lists them."
            )
        targets[key] = person
    words = [e for e in chat.entries if e.system is None and e.sender is not None]
    written_as: dict[str, str] = {}
    counts: Counter = Counter()
    for entry in words:
        key = _name_key(entry.sender or "")
        written_as.setdefault(key, entry.sender or "")
        counts[key] += 1
    unmapped = [written_as[k] for k in counts if k not in targets]
    if unmapped and not keep_others:
        listed = ", ".join(f"{name} ({_messages(counts[_name_key(name)])})" for name in unmapped)
        raise InvalidInput(
            f"Who is who? These senders are not mapped: {listed}. Say who each is with "
            "--as 'NAME=elder' or --as 'NAME=ACCOUNT_ID' (senders in the API), or keep them as "
            "other speakers with --keep-others."
        )
    plan = ImportPlan(
        messages=[],
        system=Counter(e.system for e in chat.entries if e.system is not None),
        senders={written_as[k]: n for k, n in counts.items()},
        not_in_file=[k for k in mapping if k not in counts],
    )
    seen: Counter = Counter()
    future: list[Problem] = []
    for entry in words:
        key = _name_key(entry.sender or "")
        base = line_key(entry, 0)
        seen[base] += 1
        said_at = to_utc(entry.said_at, timezone)
        if said_at > now + _FUTURE_TOLERANCE:
            future.append(Problem(entry.line, f"{entry.said_at:%Y-%m-%d %H:%M} is in the future"))
            continue
        person = targets.get(key)
        plan.messages.append(
            PlannedMessage(
                line=entry.line,
                said_at=said_at,
                speaker=person.speaker if person else Speaker.other,
                speaker_name=person.display_name if person else (entry.sender or ""),
                account_id=person.account_id if person else None,
                text=entry.text.strip(),
                external_id=line_key(entry, seen[base] - 1),
            )
        )
    if future:
        raise UnreadableChat(future, what=f"{chat.format} export")
    return plan

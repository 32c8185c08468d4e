"""Story material for creators, with the elder's consent: a timeline of life events, the elder's
own words, people and places, emotional beats and scene prompts, as JSON, Markdown or a
printable book.

The elder's truth is kept: every remembered thing cites the messages it comes from, quotes
are the elder's messages verbatim (never paraphrased), and everything generated (the scene
prompts) is labelled as generated. Private memories are never exported, nor the messages
they came from; sensitive ones only when the grant says so.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from companion.persona import voice
from memory import visibility
from memory.access import ElderScope
from memory.errors import InvalidInput
from memory.language import _converter
from memory.models import (
    FACT_KINDS,
    Elder,
    FactStatus,
    Memory,
    MemorySource,
    Message,
    MessageRole,
    MessageSignal,
    utcnow,
)
from memory.timeutil import zone
from memory.timewords import find_period

VERSION = "zhian.story/1"
STYLES = ("cinematic", "documentary", "watercolour", "black-and-white")
FORMATS = ("json", "markdown", "html")


# --- the schema (served at /v1/schemas/story.json) ------------------------------------------


class Source(BaseModel):
    message_id: int
    said_at: datetime
    words: str = Field(description="The elder's message, verbatim.")


class TimelineEntry(BaseModel):
    when: date = Field(description="When it happened; when it was said if that is not known.")
    when_known: bool = Field(description="False: `when` is the day it was said.")
    text: str = Field(
        description="A confirmed fact, or (kind 'said') the elder's own words, verbatim."
    )
    kind: str = Field(description="The fact's type, or 'said' for the elder's own words.")
    memory_id: int | None = Field(description="The fact; none for the elder's own words.")
    sources: list[Source] = Field(min_length=1)


class Quote(BaseModel):
    words: str = Field(description="Verbatim: a whole message of the elder's, never paraphrased.")
    message_id: int
    said_at: datetime
    context: str | None = Field(description="What the companion had just said, if anything.")
    about: date | None = Field(description="When what it tells of happened, if the words say.")


class Person(BaseModel):
    name: str
    relation: str | None
    memory_ids: list[int]
    message_ids: list[int]


class Place(BaseModel):
    name: str
    memory_ids: list[int]
    message_ids: list[int]


class Beat(BaseModel):
    kind: Literal["joy", "loss", "longing", "pride"]
    words: str
    message_id: int
    said_at: datetime


class ScenePrompt(BaseModel):
    generated: Literal[True] = True
    style: str
    prompt_en: str
    prompt_local: str = Field(description="The same prompt in the elder's language.")
    memory_ids: list[int]
    message_ids: list[int]


class StoryElder(BaseModel):
    name: str
    preferred_name: str | None
    language: str


class StoryExport(BaseModel):
    """Story material for creators (zhian.story/1)."""

    version: Literal["zhian.story/1"] = VERSION
    elder: StoryElder
    generated_at: datetime
    filters: dict
    note: str = Field(
        description="Everything remembered cites the elder's messages; everything generated "
        "is labelled generated."
    )
    timeline: list[TimelineEntry]
    quotes: list[Quote]
    people: list[Person]
    places: list[Place]
    beats: list[Beat]
    scene_prompts: list[ScenePrompt]


def schema() -> dict:
    return StoryExport.model_json_schema()


# --- what may be exported --------------------------------------------------------------------


class Filters(BaseModel):
    since: date | None = None
    until: date | None = None
    people: list[str] = Field(default_factory=list)
    places: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    sensitive: bool = False
    style: str = "cinematic"


def combine(limits: dict | None, asked: Filters) -> Filters:
    """What the request asks for, within what the grant allows (none: everything that is
    neither private nor sensitive)."""
    if asked.style not in STYLES:
        raise InvalidInput(f"style '{asked.style}' is not one of: {', '.join(STYLES)}.")
    if limits is None:
        return asked
    since = max(filter(None, [asked.since, _date(limits.get("since"))]), default=None)
    until = min(filter(None, [asked.until, _date(limits.get("until"))]), default=None)
    people = _narrow(asked.people, limits.get("people") or [])
    topics = _narrow(asked.topics, limits.get("topics") or [])
    return Filters(
        since=since,
        until=until,
        people=people,
        places=asked.places,
        topics=topics,
        sensitive=asked.sensitive and bool(limits.get("sensitive")),
        style=asked.style,
    )


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _narrow(asked: list[str], allowed: list[str]) -> list[str]:
    if not allowed:
        return asked
    if not asked:
        return list(allowed)
    kept = [a for a in asked if _fold(a) in {_fold(x) for x in allowed}]
    if not kept:
        raise InvalidInput(f"The grant covers only: {', '.join(allowed)}.")
    return kept


def _fold(text: str | None) -> str:
    return _converter("t2s").convert(text or "").lower()


# --- building it -----------------------------------------------------------------------------


_BEATS = {
    "loss": re.compile(
        r"过世|去世|走了|离开我们|离开了|不在了|died|passed away|\blost (my|our)\b", re.I
    ),
    "longing": re.compile(
        r"想念|思念|怀念|好想|\bmiss(ed)?\b|long for|wish .* (were|was) here", re.I
    ),
    "pride": re.compile(r"骄傲|自豪|得意|\bproud\b", re.I),
    "joy": re.compile(r"开心|高兴|快乐|幸福|笑|\bhappy\b|\bjoy|wonderful|lovely", re.I),
}


def _in_period(day: date | None, f: Filters) -> bool:
    if day is None:
        return f.since is None and f.until is None
    return (f.since is None or day >= f.since) and (f.until is None or day <= f.until)


def _mentions(text: str, words: list[str]) -> bool:
    folded = _fold(text)
    return any(_fold(w) in folded for w in words)


def _said_entry(message: Message, when: date, known: bool) -> TimelineEntry:
    return TimelineEntry(
        when=when,
        when_known=known,
        text=message.text,
        kind="said",
        memory_id=None,
        sources=[Source(message_id=message.id or 0, said_at=message.said_at, words=message.text)],
    )


def build(
    session: Session,
    scope: ElderScope,
    f: Filters,
    progress: Callable[[float], None] = lambda _p: None,
) -> StoryExport:
    """Story material from what anyone but the elder may see (never private, whoever asks)."""
    shared = visibility.shared_view(scope)
    elder_id = scope.elder_id
    elder = session.get(Elder, elder_id)
    assert elder is not None
    tz = zone(elder.timezone)
    links: dict[int, list[int]] = {}
    for memory_id, message_id in session.exec(
        select(MemorySource.memory_id, MemorySource.message_id)
        .join(Memory, Memory.id == MemorySource.memory_id)
        .where(Memory.elder_id == elder_id)
    ):
        links.setdefault(memory_id, []).append(message_id)
    every_memory = {
        m.id: m
        for m in session.exec(
            select(Memory).where(
                visibility.memory_clause(shared),
                Memory.deleted_at.is_(None),  # type: ignore[union-attr]
            )
        )
    }
    facts = [
        m
        for m in every_memory.values()
        if m.kind in FACT_KINDS and m.status == FactStatus.confirmed.value
    ]
    # Messages a private memory came from never leave (the visibility rule); sensitive ones
    # only when allowed.
    withheld: set[int] = set()
    for memory_id, message_ids in links.items():
        memory = every_memory.get(memory_id)
        if memory is not None and memory.sensitive and not f.sensitive:
            withheld.update(message_ids)
    messages = {
        m.id: m
        for m in visibility.withhold_messages(
            session,
            shared,
            list(
                session.exec(
                    select(Message)
                    .where(visibility.message_clause(shared))
                    .order_by(Message.said_at, Message.id)
                )
            ),
        )
    }
    progress(0.2)
    usable = [
        m
        for m in facts
        if not m.private
        and (f.sensitive or not m.sensitive)
        and any(i in messages and i not in withheld for i in links.get(m.id or 0, []))
    ]

    def sources_of(memory: Memory) -> list[Source]:
        return [
            Source(message_id=i, said_at=messages[i].said_at, words=messages[i].text)
            for i in sorted(links.get(memory.id or 0, []))
            if i in messages and i not in withheld and messages[i].role == MessageRole.elder.value
        ]

    def fits(text: str) -> bool:
        if f.people and not _mentions(text, f.people):
            return False
        if f.places and not _mentions(text, f.places):
            return False
        return not (f.topics and not _mentions(text, f.topics))

    timeline: list[TimelineEntry] = []
    for memory in usable:
        known = memory.event_time is not None
        when = (memory.event_time or memory.said_at).astimezone(tz).date()
        sources = sources_of(memory)
        words = " ".join(
            [memory.text, memory.subject or "", memory.value or ""] + [s.words for s in sources]
        )
        if not sources or not _in_period(when, f) or not fits(words):
            continue
        timeline.append(
            TimelineEntry(
                when=when,
                when_known=known,
                text=memory.text,
                kind=memory.kind,
                memory_id=memory.id or 0,
                sources=sources,
            )
        )
    # The elder's own words fill in what no confirmed fact holds: what tells of a time in the
    # past at that time, and each day of conversation by its fullest message, said that day.
    told = {s.message_id for e in timeline for s in e.sources}
    fullest: dict[date, Message] = {}
    for message in messages.values():
        if message.role != MessageRole.elder.value or message.id in withheld or message.id in told:
            continue
        said_on = message.said_at.astimezone(tz).date()
        period = find_period(message.text, said_on)
        if period is not None and period.start < said_on:
            about = period.start
            if _in_period(about, f) and fits(message.text):
                timeline.append(_said_entry(message, about, True))
                told.add(message.id or 0)
            continue
        if len(message.text) >= 8 and len(message.text) > len(
            getattr(fullest.get(said_on), "text", "")
        ):
            fullest[said_on] = message
    for said_on, message in fullest.items():
        if message.id not in told and _in_period(said_on, f) and fits(message.text):
            timeline.append(_said_entry(message, said_on, False))
    timeline.sort(key=lambda e: (e.when, e.memory_id or 0, e.sources[0].message_id))
    progress(0.5)

    in_timeline = {s.message_id for e in timeline for s in e.sources}
    ordered = list(messages.values())
    quotes: list[Quote] = []
    for n, message in enumerate(ordered):
        if message.role != MessageRole.elder.value or message.id in withheld:
            continue
        period = find_period(message.text, message.said_at.astimezone(tz).date())
        about = period.start if period else None
        dated = f.since is not None or f.until is not None
        if message.id not in in_timeline:
            if dated and not (about and _in_period(about, f)):
                continue  # a period was asked for: only words that tell of it
            if not fits(message.text):
                continue
        before = ordered[n - 1] if n else None
        context = (
            before.text
            if before
            and before.role == MessageRole.companion.value
            and message.said_at - before.said_at < timedelta(minutes=30)
            else None
        )
        quotes.append(
            Quote(
                words=message.text,
                message_id=message.id or 0,
                said_at=message.said_at,
                context=context,
                about=about,
            )
        )
    progress(0.7)

    people: dict[str, Person] = {}
    places: dict[str, Place] = {}
    shown = {e.memory_id for e in timeline if e.memory_id is not None}
    for memory in usable:
        ids = [s.message_id for s in sources_of(memory)]
        if not ids:
            continue
        if memory.subject and memory.subject != "self":  # whom the memory is about
            person = people.setdefault(
                memory.subject,
                Person(
                    name=memory.subject, relation=memory.attribute, memory_ids=[], message_ids=[]
                ),
            )
            person.memory_ids.append(memory.id or 0)
            person.message_ids = sorted(set(person.message_ids) | set(ids))
        if memory.kind == "place":
            name = memory.value or memory.text
            place = places.setdefault(name, Place(name=name, memory_ids=[], message_ids=[]))
            place.memory_ids.append(memory.id or 0)
            place.message_ids = sorted(set(place.message_ids) | set(ids))
    for entry in timeline:  # the memories that mention them
        for person in people.values():
            if (
                entry.memory_id is not None
                and entry.memory_id not in person.memory_ids
                and _mentions(entry.text, [person.name])
            ):
                person.memory_ids.append(entry.memory_id)
    people_list = [
        p for p in people.values() if set(p.memory_ids) & shown or not (f.since or f.until)
    ]
    places_list = [
        p for p in places.values() if set(p.memory_ids) & shown or not (f.since or f.until)
    ]

    moods = {
        s.message_id: s.mood
        for s in session.exec(select(MessageSignal).where(MessageSignal.elder_id == elder_id))
    }
    beats: list[Beat] = []
    for quote in quotes:
        folded = _fold(quote.words)
        for kind, pattern in _BEATS.items():
            if pattern.search(folded) or (kind == "joy" and moods.get(quote.message_id) == "happy"):
                beats.append(
                    Beat(
                        kind=kind,
                        words=quote.words,
                        message_id=quote.message_id,
                        said_at=quote.said_at,
                    )
                )  # type: ignore[arg-type]
                break
    progress(0.85)

    prompts = [_scene(entry, elder, f.style, list(places), list(people)) for entry in timeline[:24]]
    progress(1.0)
    return StoryExport(
        elder=StoryElder(
            name=elder.display_name, preferred_name=elder.preferred_name, language=elder.language
        ),
        generated_at=utcnow(),
        filters=f.model_dump(mode="json"),
        note="Everything remembered cites the elder's messages (message ids, dates, verbatim words); "
        "the scene prompts are generated and say so.",
        timeline=timeline,
        quotes=quotes,
        people=people_list,
        places=places_list,
        beats=beats,
        scene_prompts=prompts,
    )


_LIGHT = (
    (re.compile(r"早上|清晨|早晨|morning|dawn", re.I), "soft early-morning light", "清晨柔和的光"),
    (re.compile(r"下午|afternoon", re.I), "warm afternoon light", "午後溫暖的陽光"),
    (
        re.compile(r"晚上|夜|傍晚|evening|night", re.I),
        "warm lamplight in the evening",
        "夜晚溫暖的燈光",
    ),
)
_CAMERA = {
    "cinematic": (
        "slow dolly-in, 50mm lens, shallow depth of field",
        "緩慢推近，50mm 鏡頭，淺景深",
    ),
    "documentary": ("handheld 35mm at eye level, natural framing", "手持 35mm，平視，自然構圖"),
    "watercolour": ("wide illustrative composition, soft edges", "寬景插畫構圖，柔和邊緣"),
    "black-and-white": (
        "static 35mm frame, deep focus, film grain",
        "固定 35mm 鏡頭，深焦，底片顆粒",
    ),
}
_STYLE_NAMES = {
    "cinematic": ("Cinematic realism", "電影寫實風格"),
    "documentary": ("Documentary photograph", "紀實攝影風格"),
    "watercolour": ("Watercolour illustration", "水彩插畫風格"),
    "black-and-white": ("Black-and-white film still", "黑白電影劇照"),
}


def _scene(
    entry: TimelineEntry, elder: Elder, style: str, places: list[str], people: list[str]
) -> ScenePrompt:
    words = " ".join([entry.text] + [s.words for s in entry.sources])
    decade = entry.when.year // 10 * 10
    part = "early" if entry.when.year % 10 < 4 else "mid" if entry.when.year % 10 < 7 else "late"
    era_en = f"the {part} {decade}s" if entry.when_known else "the present day"
    era_zh = (
        f"{decade}年代{'初' if part == 'early' else '中' if part == 'mid' else '末'}"
        if entry.when_known
        else "現今"
    )
    where = [p for p in places if _mentions(words, [p])]
    who = [p for p in people if _mentions(words, [p])]
    light_en, light_zh = next(
        ((en, zh) for pattern, en, zh in _LIGHT if pattern.search(words)),
        ("natural daylight", "自然光"),
    )
    beat = next((k for k, pattern in _BEATS.items() if pattern.search(_fold(words))), None)
    mood_en, mood_zh = {
        "loss": ("quiet grief", "安靜的哀傷"),
        "longing": ("tender longing", "溫柔的思念"),
        "pride": ("quiet pride", "含蓄的驕傲"),
        "joy": ("warm joy", "溫暖的喜悅"),
    }.get(beat or "", ("nostalgic", "懷舊"))
    camera_en, camera_zh = _CAMERA[style]
    style_en, style_zh = _STYLE_NAMES[style]
    remembered = entry.sources[0].words
    en = (
        f"{style_en}. {era_en.capitalize()}{', ' + ', '.join(where) if where else ''}. "
        f"The scene from {elder.preferred_name or elder.display_name}'s memory (in their words): "
        f'"{remembered}". People: {", ".join(who) if who else "the storyteller"}. '
        f"Light: {light_en}. Mood: {mood_en}. Camera: {camera_en}."
    )
    local = (
        f"{style_zh}。{era_zh}{'，' + '、'.join(where) if where else ''}。"
        f"記憶中的場景（長輩的原話）：「{remembered}」。人物：{'、'.join(who) if who else '說故事的人'}。"
        f"光線：{light_zh}。氛圍：{mood_zh}。鏡頭：{camera_zh}。"
    )
    if elder.language == "zh-Hans":
        local = _converter("t2s").convert(local.replace(remembered, "\0")).replace("\0", remembered)
    elif elder.language == "en":
        local = en
    return ScenePrompt(
        style=style,
        prompt_en=en,
        prompt_local=local,
        memory_ids=[entry.memory_id] if entry.memory_id is not None else [],
        message_ids=[s.message_id for s in entry.sources],
    )


# --- formats ---------------------------------------------------------------------------------

_WORDS = {
    "zh-Hant": {
        "title": "{name}的人生故事",
        "timeline": "人生時間軸",
        "quotes": "長輩的原話",
        "people": "人物",
        "places": "地方",
        "beats": "情感時刻",
        "scenes": "場景提示（生成）",
        "said": "說於",
        "unknown": "（日期為說出的日子）",
        "generated": "以下內容為生成，非長輩所說。",
        "note": "每一則記憶都附上長輩的原話與日期。",
        "beat": {"joy": "喜悅", "loss": "失去", "longing": "思念", "pride": "驕傲"},
    },
    "zh-Hans": {
        "title": "{name}的人生故事",
        "timeline": "人生时间轴",
        "quotes": "长辈的原话",
        "people": "人物",
        "places": "地方",
        "beats": "情感时刻",
        "scenes": "场景提示（生成）",
        "said": "说于",
        "unknown": "（日期为说出的日子）",
        "generated": "以下内容为生成，非长辈所说。",
        "note": "每一则记忆都附上长辈的原话与日期。",
        "beat": {"joy": "喜悦", "loss": "失去", "longing": "思念", "pride": "骄傲"},
    },
    "en": {
        "title": "The story of {name}",
        "timeline": "Timeline",
        "quotes": "In their own words",
        "people": "People",
        "places": "Places",
        "beats": "Emotional beats",
        "scenes": "Scene prompts (generated)",
        "said": "said",
        "unknown": "(the day it was said)",
        "generated": "What follows is generated, not said by the elder.",
        "note": "Every memory carries the elder's own words and the date.",
        "beat": {"joy": "joy", "loss": "loss", "longing": "longing", "pride": "pride"},
    },
}


def _w(story: StoryExport) -> dict:
    return _WORDS.get(story.elder.language, _WORDS["en"])


def _day(value: datetime | date, story: StoryExport) -> str:
    day = value if isinstance(value, date) and not isinstance(value, datetime) else value.date()  # type: ignore[union-attr]
    return voice(story.elder.language).date(day)


def markdown(story: StoryExport) -> str:
    w = _w(story)
    name = story.elder.preferred_name or story.elder.name
    out = [f"# {w['title'].format(name=name)}", "", f"_{w['note']}_", "", f"## {w['timeline']}", ""]
    for e in story.timeline:
        out.append(
            f"- **{_day(e.when, story)}**{'' if e.when_known else ' ' + w['unknown']}: {e.text}"
        )
        for s in e.sources:
            out.append(
                f"  - > 「{s.words}」 ({w['said']} {_day(s.said_at, story)}, #{s.message_id})"
            )
    out += ["", f"## {w['quotes']}", ""]
    for q in story.quotes:
        out.append(f"> 「{q.words}」")
        out.append(f">\n> — {w['said']} {_day(q.said_at, story)} (#{q.message_id})")
        out.append("")
    out += [f"## {w['people']}", ""]
    out += [
        f"- **{p.name}**{f' ({p.relation})' if p.relation else ''}: #{', #'.join(map(str, p.message_ids))}"
        for p in story.people
    ]
    out += ["", f"## {w['places']}", ""]
    out += [f"- **{p.name}**: #{', #'.join(map(str, p.message_ids))}" for p in story.places]
    out += ["", f"## {w['beats']}", ""]
    out += [f"- {w['beat'][b.kind]}: 「{b.words}」 (#{b.message_id})" for b in story.beats]
    out += ["", f"## {w['scenes']}", "", f"_{w['generated']}_", ""]
    for p in story.scene_prompts:
        out.append(f"- [generated] {p.prompt_local}")
        if p.prompt_local != p.prompt_en:
            out.append(f"  - EN: {p.prompt_en}")
        out.append(
            f"  - memories: {', '.join(map(str, p.memory_ids))}; messages: #{', #'.join(map(str, p.message_ids))}"
        )
    return "\n".join(out) + "\n"


def book(story: StoryExport) -> str:
    """A printable life-story book: HTML with print CSS, in the elder's language."""
    w = _w(story)
    e = html.escape
    name = story.elder.preferred_name or story.elder.name
    parts = [
        f'<!doctype html><html lang="{e(story.elder.language)}"><head><meta charset="utf-8">',
        f"<title>{e(w['title'].format(name=name))}</title><style>",
        "@page { size: A5; margin: 18mm 16mm; } body { font: 12pt/1.7 'Noto Serif TC','Noto Serif SC',serif; color:#222; }",
        "h1 { font-size: 22pt; text-align:center; margin: 30vh 0 2em; page-break-after: always; } h2 { page-break-before: always; }",
        "blockquote { margin: 1em 0; padding-left: 1em; border-left: 3px solid #999; } .src { color:#666; font-size: 9pt; }",
        ".gen { color:#555; font-style: italic; } li { margin: .4em 0; } @media screen { body { max-width: 40em; margin: 2em auto; } }",
        "</style></head><body>",
        f"<h1>{e(w['title'].format(name=name))}</h1>",
        f'<p class="src">{e(w["note"])}</p>',
        f"<h2>{e(w['timeline'])}</h2><ol>",
    ]
    for t in story.timeline:
        parts.append(f"<li><strong>{e(_day(t.when, story))}</strong> {e(t.text)}")
        for s in t.sources:
            parts.append(
                f'<blockquote>「{e(s.words)}」<div class="src">{e(w["said"])} {e(_day(s.said_at, story))} · #{s.message_id}</div></blockquote>'
            )
        parts.append("</li>")
    parts.append(f"</ol><h2>{e(w['quotes'])}</h2>")
    for q in story.quotes:
        parts.append(
            f'<blockquote>「{e(q.words)}」<div class="src">{e(w["said"])} {e(_day(q.said_at, story))} · #{q.message_id}</div></blockquote>'
        )
    parts.append(f"<h2>{e(w['people'])}</h2><ul>")
    parts += [
        f"<li><strong>{e(p.name)}</strong>{' (' + e(p.relation) + ')' if p.relation else ''}</li>"
        for p in story.people
    ]
    parts.append(f"</ul><h2>{e(w['places'])}</h2><ul>")
    parts += [f"<li>{e(p.name)}</li>" for p in story.places]
    parts.append("</ul></body></html>")
    return "".join(parts)


def render(story: StoryExport, fmt: str) -> tuple[str, str]:
    """The document and its media type."""
    if fmt == "json":
        return story.model_dump_json(indent=2), "application/json"
    if fmt == "markdown":
        return markdown(story), "text/markdown; charset=utf-8"
    if fmt == "html":
        return book(story), "text/html; charset=utf-8"
    raise InvalidInput(f"format '{fmt}' is not one of: {', '.join(FORMATS)}.")

"""The formats a creator uses: JSON (the schema), Markdown, a printable book (HTML), a
screenplay treatment in Fountain (the elder's words as voice-over, each scene a heading), and
a shot list (CSV)."""

from __future__ import annotations

import csv
import html
import io
from datetime import date, datetime

from companion.persona import voice
from companion.story.schema import StoryExport
from memory.errors import InvalidInput

FORMATS = ("json", "markdown", "html", "fountain", "csv")
MEDIA_TYPES = {
    "json": "application/json",
    "markdown": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "fountain": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}


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
        "beat": {
            "joy": "喜悅",
            "loss": "失去",
            "longing": "思念",
            "pride": "驕傲",
            "love": "愛情",
            "hardship": "艱辛",
        },
        "characters": "角色表",
        "looks": "樣貌（生成）",
        "why": "依據（生成）",
        "family": "家人補充",
        "cards": "場景卡",
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
        "beat": {
            "joy": "喜悦",
            "loss": "失去",
            "longing": "思念",
            "pride": "骄傲",
            "love": "爱情",
            "hardship": "艰辛",
        },
        "characters": "角色表",
        "looks": "样貌（生成）",
        "why": "依据（生成）",
        "family": "家人补充",
        "cards": "场景卡",
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
        "beat": {
            "joy": "joy",
            "loss": "loss",
            "longing": "longing",
            "pride": "pride",
            "love": "love",
            "hardship": "hardship",
        },
        "characters": "Characters",
        "looks": "Looks (generated)",
        "why": "how (generated)",
        "family": "added by the family",
        "cards": "Scene cards",
    },
}


def _w(story: StoryExport) -> dict:
    return _WORDS.get(story.elder.language, _WORDS["en"])


def _day(value: datetime | date, story: StoryExport) -> str:
    day = value if isinstance(value, date) and not isinstance(value, datetime) else value.date()  # type: ignore[union-attr]
    return voice(story.elder.language).date(day)


def _names(story: StoryExport, ids: list[str]) -> list[str]:
    by_id = {c.id: c.name for c in story.characters}
    return [by_id.get(i, i) for i in ids]


def markdown(story: StoryExport) -> str:
    w = _w(story)
    name = story.elder.preferred_name or story.elder.name
    out = [f"# {w['title'].format(name=name)}", "", f"_{w['note']}_", "", f"## {w['timeline']}", ""]
    for e in story.timeline:
        when = (
            f"{e.era.label_local} ({e.era.year})"
            if e.era
            else _day(e.when, story) + " " + w["unknown"]
        )
        family = f" _({w['family']})_" if e.added_by == "family" else ""
        out.append(f"- **{when}**: {e.text}{family}")
        if e.era:
            out.append(f"  - [generated] {w['why']}: {e.era.reasoning.local}")
        for s in e.sources:
            out.append(
                f"  - > 「{s.words}」 ({w['said']} {_day(s.said_at, story)}, #{s.message_id})"
            )
    out += ["", f"## {w['quotes']}", ""]
    for q in story.quotes:
        out.append(f"> 「{q.words}」")
        out.append(f">\n> — {w['said']} {_day(q.said_at, story)} (#{q.message_id})")
        out.append("")
    out += [f"## {w['characters']}", ""]
    for c in story.characters:
        relation = f" ({c.relation})" if c.relation else ""
        out.append(f"### {c.name}{relation} [{c.id}]")
        for s in c.said:
            out.append(f"- > 「{s.words}」 (#{s.message_id})")
        for look in c.looks:
            out.append(f"- [generated] {look.decade}s: {look.cues_local}")
        out.append("")
    out += [f"## {w['cards']}", ""]
    for card in story.scenes:
        out.append(f"### {card.number}. {card.heading}")
        out.append(f"- {', '.join(_names(story, card.characters))}")
        for a in card.action:
            cite = (
                f" (#{', #'.join(map(str, a.message_ids))})"
                if a.message_ids
                else f" ({w['family']})"
            )
            out.append(f"- > 「{a.text}」{cite}")
        if card.beat:
            label = w["beat"].get(card.beat_kind or "", card.beat_kind)
            out.append(
                f"- {w['beats']}: {label} — 「{card.beat.text}」"
                if not card.beat.generated
                else f"- [generated] {label}"
            )
        if card.era_details:
            out.append(f"- [generated] {card.era_details.local}")
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
        when = f"{t.era.label_local} ({t.era.year})" if t.era else _day(t.when, story)
        parts.append(f"<li><strong>{e(when)}</strong> {e(t.text)}")
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
    parts.append(f"<h2>{e(w['characters'])}</h2><ul>")
    for c in story.characters:
        relation = f" ({c.relation})" if c.relation else ""
        looks = "".join(
            f'<div class="gen">[generated] {look.decade}s: {e(look.cues_local)}</div>'
            for look in c.looks
        )
        parts.append(f"<li><strong>{e(c.name)}</strong>{e(relation)}{looks}</li>")
    parts.append("</ul>")
    parts.append(f"<h2>{e(w['people'])}</h2><ul>")
    parts += [
        f"<li><strong>{e(p.name)}</strong>{' (' + e(p.relation) + ')' if p.relation else ''}</li>"
        for p in story.people
    ]
    parts.append(f"</ul><h2>{e(w['places'])}</h2><ul>")
    parts += [f"<li>{e(p.name)}</li>" for p in story.places]
    parts.append("</ul></body></html>")
    return "".join(parts)


def _fountain_line(text: str) -> str:
    """A line that Fountain reads as written (no forced markup, no emphasis)."""
    return text.replace("*", "＊").replace("_", "＿").replace("[[", "[ [").lstrip("!@#~.=>")


def fountain(story: StoryExport) -> str:
    """A screenplay treatment: a scene heading per timeline entry, generated action lines
    labelled (generated), and the elder's words as voice-over, cited in notes."""
    w = _w(story)
    name = story.elder.preferred_name or story.elder.name
    out = [
        f"Title: {w['title'].format(name=name)}",
        "Credit: a treatment from the elder's own words",
        "Source: zhian story export",
        f"Draft date: {story.generated_at.date().isoformat()}",
        "",
        f"[[{story.note}]]",
        "",
    ]
    voice_name = "@" + name.replace("(", "").replace(")", "")
    for n, card in enumerate(story.scenes):
        prose = story.treatment[n] if n < len(story.treatment) else None
        if prose is not None:
            out += [f"!(generated) {_fountain_line(prose.local)}", ""]
        heading = _fountain_line(card.heading).replace("#", "")
        if not heading.upper().startswith(("INT", "EXT", "I/E")):
            heading = "INT./EXT. " + heading
        out += [f"{heading} #{card.number}#", ""]
        cast = ", ".join(_names(story, card.characters))
        era = card.era.label_local if card.era else ""
        era = era[:1].upper() + era[1:]
        who = f"{_fountain_line(era)} — {_fountain_line(cast)}" if era else _fountain_line(cast)
        out += [f"!(generated) {who}.", ""]
        if card.era_details:
            out += [f"!(generated) {_fountain_line(card.era_details.local)}", ""]
        for a in card.action:
            cite = ", ".join(f"#{i}" for i in a.message_ids) or w["family"]
            out += [f"{voice_name} (V.O.)", _fountain_line(a.text), f"[[{cite}]]", ""]
    return "\n".join(out) + "\n"


def shot_list(story: StoryExport) -> str:
    """Two shots a scene: an establishing shot of the place and era, and the characters with
    the elder's words over them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "scene",
            "shot",
            "heading",
            "era",
            "place",
            "characters",
            "shot (generated)",
            "voice-over (the elder's words, verbatim)",
            "message_ids",
            "prompt_en (generated)",
            "prompt_local (generated)",
        ]
    )
    for card in story.scenes:
        era = card.era.label_en if card.era else ""
        words = " / ".join(a.text for a in card.action)
        ids = " ".join(str(i) for s in card.action for i in s.message_ids)
        cast = ", ".join(_names(story, card.characters))
        details = card.era_details.en if card.era_details else ""
        for shot, description in (
            (1, f"Wide establishing shot of {card.place or 'the place'}, {era}. {details}".strip()),
            (2, f"Medium shot: {cast}. {story.film.camera.en}."),
        ):
            writer.writerow(
                [
                    card.number,
                    shot,
                    card.heading,
                    era,
                    card.place or "",
                    cast,
                    description,
                    words if shot == 2 else "",
                    ids,
                    card.prompt.prompt_en,
                    card.prompt.prompt_local,
                ]
            )
    return buffer.getvalue()


def render(story: StoryExport, fmt: str) -> tuple[str, str]:
    """The document and its media type."""
    if fmt == "json":
        return story.model_dump_json(indent=2), MEDIA_TYPES[fmt]
    if fmt == "markdown":
        return markdown(story), MEDIA_TYPES[fmt]
    if fmt == "html":
        return book(story), MEDIA_TYPES[fmt]
    if fmt == "fountain":
        return fountain(story), MEDIA_TYPES[fmt]
    if fmt == "csv":
        return shot_list(story), MEDIA_TYPES[fmt]
    raise InvalidInput(f"format '{fmt}' is not one of: {', '.join(FORMATS)}.")

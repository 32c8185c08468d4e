"""The treatment's connective prose: one line before each scene that carries the film from the
last one (the years passing, the place changing). Written by rules; a model, when configured,
may write it more warmly, and a line of the model's that names a year, a number, a person or a
place the scenes do not hold, or quotes anything, is not used (the rules' line stands), so
the model never adds an event.
"""

from __future__ import annotations

import logging
import re

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from companion.story.cast import mentioned, read_cast
from companion.story.scenes import local
from companion.story.schema import Generated, SceneCard, StoryExport
from memory.chatmodel import available

log = logging.getLogger(__name__)

_SYSTEM = (
    "You write one short sentence of a documentary treatment that links two scenes of an older "
    "person's life. Use only what the two scene notes say. Name no year, number, person or "
    "place that is not in the notes; add no event; quote nothing. Answer with the sentence only, "
    "in {language}."
)
_LANGUAGE = {"zh-Hant": "Traditional Chinese", "zh-Hans": "Simplified Chinese", "en": "English"}


def _rules_line(before: SceneCard | None, scene: SceneCard, language: str) -> Generated:
    era = scene.era
    if before is None:
        en = f"We open in {era.label_en if era else 'a time the words do not say'}."
        zh = f"故事從{era.label_local if era else '一個沒說明的時候'}開始。"
    elif era and before.era and era.decade != before.era.decade:
        en = f"Years pass: from {before.era.label_en} to {era.label_en}."
        zh = f"歲月流轉：從{before.era.label_local}到{era.label_local}。"
    elif scene.place and scene.place != before.place:
        en = f"Another place: {scene.place}."
        zh = f"換了一個地方：{scene.place}。"
    else:
        en, zh = "And then:", "接著："
    return Generated(by="rules", en=en, local=en if language == "en" else local(zh, language))


def _allowed(line: str, export: StoryExport, scene: SceneCard, before: SceneCard | None) -> bool:
    """The model's line adds nothing: no digits, no quotes, no name outside the scenes."""
    if len(line) > 200 or re.search(r"[0-9０-９「」\"“”]", line):
        return False
    names = {c.name for c in export.characters} | {p.name for p in export.places}
    names |= {c.relation for c in export.characters if c.relation}
    for word in re.findall(r"\b[A-Z][a-z]+\b", line[1:]):
        if word not in names and not any(word in n for n in names):
            return False
    scenes = [s for s in (scene, before) if s is not None]
    here = " ".join([s.heading for s in scenes] + [a.text for s in scenes for a in s.action])
    read = read_cast([(0, line, export.elder.language)])
    for found in list(read.people.values()) + list(read.places.values()):
        if not mentioned(here, found.name):
            return False  # someone or somewhere these scenes do not hold
    return bool(line.strip())


def connective_prose(export: StoryExport, model: BaseChatModel | None) -> list[Generated]:
    """One generated line before each scene."""
    language = export.elder.language
    lines: list[Generated] = []
    usable = available(model)
    for n, scene in enumerate(export.scenes):
        before = export.scenes[n - 1] if n else None
        line = _rules_line(before, scene, language)
        if usable:
            assert model is not None
            notes = "\n".join(
                f"{label}: {s.heading}; {' / '.join(a.text for a in s.action)}"
                for label, s in (("before", before), ("next", scene))
                if s is not None
            )
            try:
                answer = model.invoke(
                    [
                        SystemMessage(_SYSTEM.format(language=_LANGUAGE.get(language, "English"))),
                        HumanMessage(notes),
                    ]
                )
                text = str(answer.content).strip().splitlines()[0] if answer.content else ""
            except Exception as exc:  # the rules' line stands; the export goes on
                log.warning("The model could not write the treatment's prose: %s", exc)
                usable = False
                text = ""
            if text and _allowed(text, export, scene, before):
                line = Generated(by="model", en=text, local=text)
        lines.append(line)
    return lines

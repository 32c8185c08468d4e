"""The checks every fact a model proposes must pass before it is kept: it comes from a
statement (not a question, a greeting, thanks, a reminder request or someone's uncertainty),
its value is the message's own words, it is about the person the sentence is about, in the
message's language, and it adds something the rules did not already read.

A small model's usual slips, each dropped here: "我兒子叫什麼名字？" as a name fact, "Boston"
from "My granddaughter Lucy is studying music in Boston" as where the elder lives, "Karen"
from "My son David lives in Denver with his wife Karen" as the elder's spouse, "Lake Erie"
as a friend, an English fact with a Chinese value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from memory.fact_rules import (
    _EN_REL,
    _ZH_REL,
    KIND_OF,
    SELF,
    FoundFact,
    People,
    _en_subject,
    _fold,
    _sentences,
    _zh_subject,
    fact_sentence,
)
from memory.language import CJK, in_script
from memory.utterance import statement_text

# Slots that name a relative of the elder: the model's (self, child, "David") is kept as the
# relation fact (David, relation, "son"), and only where the words say so.
_RELATION_SLOTS = frozenset({"spouse", "child", "grandchild", "sibling", "parent", "friend"})
# Words a slot's sentence must hold, so that "I sing in the choir every Thursday" is no job.
_SLOT_CUES = {
    "lives_in": r"住|搬|live|living|moved|home",
    "lived_in": r"住|搬|live|lived|moved",
    "hometown": r"老家|家乡|故乡|出生|人|grew up|from|born|hometown",
    "job": r"工作|上班|当|做|是|教|卖|work|job|was a|am a|'m a|as a|retired|taught|career",
    "workplace": r"工作|上班|在|work|at",
    "school": r"学|读|念|毕业|school|college|universit|stud|graduat",
    "medicine": r"药|吃|服|take|taking|took|on |pill|tablet|medic|prescri",
    "health_condition": r"有|病|痛|得|患|have|has|had|suffer|diagnos",
    "pet": r"狗|猫|鸟|鱼|养|dog|cat|bird|pet|parrot|rabbit",
    "likes": r"喜欢|爱|love|like|enjoy|favou?rite|adore",
    "dislikes": r"不喜欢|讨厌|怕|don'?t like|hate|can'?t stand|dislike",
    "routine": r"每|天天|常常|总是|every|usually|always|on \w+days|daily",
    "name": r"叫|名字|姓|name|call|I'?m",
}
_PRONOUN_OWNER = re.compile(r"(他|她|他们|她们)的?$|\b(his|her|their)\s*$", re.I)


@dataclass(frozen=True)
class Verdict:
    fact: FoundFact | None
    reason: str  # why it was dropped, for the log and the benchmark; "kept" when kept


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", _fold(text).lower()).strip()


def _grounded(value: str, said: str) -> bool:
    folded = _words(value).strip(" ,.;:!。，")
    return bool(folded) and folded in _words(said)


def _sentence_with(value: str, said: str) -> str:
    wanted = _words(value)
    return next((s for s in _sentences(said) if wanted in _words(s)), said)


def _subject_of(sentence: str, language: str, people: People, by_family: bool) -> str:
    """Whom the sentence is about, as the rules read it."""
    probe = People(relations=dict(people.relations), last=people.last)
    if language.startswith("zh"):
        return _zh_subject(_fold(sentence), probe, by_family)[0].name
    return _en_subject(sentence, probe, by_family)[0].name


def _relation_before(name: str, sentence: str, language: str) -> str | None:
    """The relation word said right before a name ("my son David", "我女兒美玲"), None when
    there is none or it is someone else's ("his wife Karen")."""
    if language.startswith("zh"):
        folded = _fold(sentence)
        m = re.search(rf"({_ZH_REL})(?:叫做|名叫|叫|是)?{re.escape(_fold(name))}", folded)
        if not m or _PRONOUN_OWNER.search(folded[: m.start()]):
            return None
        return m.group(1)
    m = re.search(
        rf"\b(his|her|their|my|our) (?:late )?({_EN_REL})(?:'s name is| is called| is named|,)? "
        rf"{re.escape(name)}\b",
        sentence,
        re.I,
    )
    if not m or m.group(1).lower() not in ("my", "our"):
        return None
    return m.group(2).lower()


def grounded_in(value: str | None, said: list[str]) -> bool:
    """Whether a fact's value is the words of a statement among the messages it came from: a
    fact kept before these checks existed ("儿子的名字" from a question) fails it."""
    return any(value and _grounded(value, statement_text(text)) for text in said)


def _same_person(a: str, b: str) -> bool:
    return _words(a) == _words(b)


def check_model_fact(
    *,
    subject: str | None,
    attribute: str | None,
    value: str | None,
    text: str,
    message_text: str,
    language: str,
    rule_facts: list[FoundFact],
    people: People,
    by_family: bool = False,
) -> Verdict:
    """A model's fact, kept (rewritten as a readable sentence where the slot is known) or
    dropped with the reason."""
    said = statement_text(message_text)
    if not said:
        return Verdict(None, "not a statement")
    if not value or not value.strip():
        if not _grounded(text, said):
            return Verdict(None, "no value")
        value = text  # a feeling or an event in the elder's own words is its own value
    value = value.strip()
    english = language == "en"
    if english and CJK.search(value + text):
        return Verdict(None, "another language")
    if not english and not CJK.search(value) and not re.search(r"[A-Za-z]", value):
        return Verdict(None, "no words")
    if not _grounded(value, said):
        return Verdict(None, "value not in a statement")
    attribute = attribute or "other"
    sentence = _sentence_with(value, said)
    said_subject = _subject_of(sentence, language, people, by_family)
    subject = (subject or SELF).strip() or SELF
    if _words(subject) in ("self", "i", "me", "我", "elder", "older person", "the older person"):
        subject = SELF
    relation: str | None = None
    if subject == SELF and attribute in _RELATION_SLOTS:
        relation = _relation_before(value, sentence, language)
        if relation is None:
            return Verdict(None, "not the elder's relative")
        subject, attribute = value, "relation"
        value = relation
    elif subject == SELF:
        if said_subject != SELF:
            return Verdict(None, "about someone else")
    else:
        if not _grounded(subject, said) and not _same_person(subject, said_subject):
            return Verdict(None, "subject not in the words")
        if said_subject == SELF and not _grounded(subject, sentence):
            return Verdict(None, "about the elder, not them")
        relation = people.relations.get(subject)
    cue = _SLOT_CUES.get(attribute)
    if cue and not re.search(cue, _fold(sentence), re.I):
        return Verdict(None, "the words do not say this slot")
    for known in rule_facts:
        if attribute not in KIND_OF:  # an event or a feeling: new unless it is the same words
            if _words(known.value) == _words(value):
                return Verdict(None, "the rules read it already")
            continue
        same_value = _words(known.value) in _words(value) or _words(value) in _words(known.value)
        if same_value or (known.attribute == attribute and _same_person(known.subject, subject)):
            return Verdict(None, "the rules read it already")
    if language.startswith("zh") and relation:
        relation = in_script(relation, language)
    fact = FoundFact(attribute, value, "", subject=subject, relation=relation)
    written = fact_sentence(fact, language) if attribute in KIND_OF else in_script(text, language)
    return Verdict(
        FoundFact(
            attribute,
            value,
            written,
            subject=subject,
            relation=relation,
            sensitive=attribute == "died",
        ),
        "kept",
    )

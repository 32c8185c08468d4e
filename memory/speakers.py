"""Who said a memory, in the words a question may use for them.

The elder says 我 and "I"; the family asks about 媽媽, 阿嬤, Mom or her name. A memory is
matched with its speaker: the speaker's name is part of what the lexical side indexes and of
the passage the dense side embeds ("Caroline: I went…"), so first person reads as the one who
said it. At search time the people a question names are found here (the elder by name,
preferred name or the words family use for them, a family member or any other speaker by
name), so that search can prefer their own turns over turns that only address them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import Session, select

from memory.language import fold
from memory.models import Account, Elder, MessageRole, Role

# The words family use for the elder, by the family member's relation to them. Gender is not
# recorded, so both parents' words are kept: a family asks about its own elder.
_PARENT = """媽媽 妈妈 老媽 老妈 母親 母亲 阿母 爸爸 老爸 父親 父亲 阿爸 mom mum mother mommy
    mama dad father daddy papa""".split()  # noqa: SIM905
_GRANDPARENT = """阿嬤 阿嬷 外婆 奶奶 祖母 婆婆 姥姥 阿公 外公 爺爺 爷爷 祖父 姥爺 姥爷 grandma
    grandmother granny nana grandpa grandfather granddad grandad""".split()  # noqa: SIM905
_SPOUSE = """老伴 太太 老婆 先生 老公 丈夫 妻子 wife husband""".split()  # noqa: SIM905
_AUNT_UNCLE = """阿姨 姑姑 舅舅 叔叔 伯伯 舅媽 舅妈 嬸嬸 婶婶 aunt auntie uncle""".split()  # noqa: SIM905

_RELATIONS: list[tuple[tuple[str, ...], list[str]]] = [
    (("grand", "孫", "孙"), _GRANDPARENT),
    (
        (
            "daughter",
            "son",
            "child",
            "in-law",
            "女兒",
            "女儿",
            "兒子",
            "儿子",
            "孩子",
            "媳",
            "女婿",
        ),
        _PARENT,
    ),
    (("wife", "husband", "spouse", "partner", "老伴", "太太", "先生", "丈夫", "妻"), _SPOUSE),
    (("niece", "nephew", "姪", "侄", "甥"), _AUNT_UNCLE),
]

_LATIN = re.compile(r"[a-z0-9]")


def _fold(text: str) -> str:
    return fold(text).casefold().strip()


def relation_words(relation: str | None) -> list[str]:
    """What a family member with this relation calls the elder ("daughter" -> 媽媽, Mom…)."""
    folded = _fold(relation or "")
    for keys, words in _RELATIONS:
        if any(_fold(k) in folded for k in keys):
            return words  # the first that fits: a granddaughter is not a daughter
    return []


def name_forms(name: str | None) -> list[str]:
    """A name as a question may say it: whole, its first word ("Caroline" of "Caroline
    Smith"), and a Chinese name without its surname (美華 of 林美華)."""
    folded = _fold(name or "")
    if not folded:
        return []
    forms = [folded]
    words = folded.split()
    if len(words) > 1 and len(words[0]) >= 3:
        forms.append(words[0])
    if len(folded) == 3 and not _LATIN.search(folded):
        forms.append(folded[1:])
    return forms


@dataclass(frozen=True)
class People:
    """The elder's names and the names of the family around them."""

    elder_names: tuple[str, ...]  # display and preferred name (folded)
    elder_words: tuple[str, ...]  # the forms of the elder's names a question may use
    kin_words: tuple[str, ...] = ()  # what the family call the elder: 媽媽, Grandma…
    family_names: tuple[str, ...] = ()  # as their words are stored (Memory.speaker)


def people_of(session: Session, elder_id: str) -> People:
    elder = session.get(Elder, elder_id)
    names = [elder.display_name, elder.preferred_name] if elder is not None else []
    family = list(
        session.exec(
            select(Account.display_name, Account.relation).where(
                Account.elder_id == elder_id, Account.role == Role.family.value
            )
        )
    )
    words: list[str] = []
    for name in names:
        words += name_forms(name)
    kin: list[str] = []
    for _, relation in family:
        kin += relation_words(relation)
    # With no family relation recorded, the words any family may use.
    kin += _PARENT + _GRANDPARENT
    return People(
        elder_names=tuple(dict.fromkeys(_fold(n) for n in names if n)),
        elder_words=tuple(dict.fromkeys(words)),
        kin_words=tuple(dict.fromkeys(_fold(w) for w in kin)),
        family_names=tuple(dict.fromkeys(n for n, _ in family if n)),
    )


def _mentioned(form: str, question: str) -> bool:
    if _LATIN.search(form):
        return re.search(rf"(?<![a-z0-9]){re.escape(form)}(?![a-z0-9])", question) is not None
    return len(form) >= 2 and form in question


@dataclass
class Named:
    """The speakers a question names, and the words it named them with."""

    elder: bool = False
    speakers: set[str] = field(default_factory=set)  # speaker names as stored
    words: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.elder or bool(self.speakers)

    def said(self, *, role: str | None, speaker: str | None, people: People) -> bool:
        """Whether a memory with this role and speaker is one of the named people's own."""
        if speaker is not None and speaker in self.speakers:
            return True
        if not self.elder or role != MessageRole.elder.value:
            return False
        return speaker is None or _fold(speaker) in people.elder_names


def named_in(
    question: str, people: People, speakers: Iterable[str], *, by_elder: bool = False
) -> Named:
    """Who of the elder and these speakers the question names. When the elder asks, 媽媽 and
    Mom are the elder's own mother, not the elder."""
    folded = _fold(question)
    named = Named()
    for word in people.elder_words + (() if by_elder else people.kin_words):
        if _mentioned(word, folded):
            named.elder = True
            named.words.append(word)
    for speaker in {s for s in speakers if s}:
        forms = name_forms(speaker)
        hits = [f for f in forms if _mentioned(f, folded)]
        if hits:
            if _fold(speaker) in people.elder_names:
                named.elder = True
            named.speakers.add(speaker)
            named.words += hits
    return named

"""Story material for creators, with the elder's consent, in named steps: what may be
exported (the grant's limits), the timeline dated from the elder's words (`era`), the people
and places in them (`cast`), the character sheets and scene cards (`scenes`), and the formats
(`render`).

The elder's truth is kept: every remembered thing cites the messages it comes from, quotes
are the elder's messages verbatim (never paraphrased), and everything generated is labelled
generated. Private memories are never exported, nor the messages they came from; sensitive
ones only when the grant says so. Facts the family added or confirmed always reach the
timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from companion.story.cast import Cast, age_gap, gender_of, mentioned, read_cast
from companion.story.era import EraGuess, era_label, guess_era
from companion.story.scenes import STYLES, beat_of, film, local, look_words, scene_card
from companion.story.schema import (
    Beat,
    Character,
    Era,
    Generated,
    Look,
    Person,
    Place,
    Quote,
    Source,
    StoryElder,
    StoryExport,
    TimelineEntry,
)
from memory import visibility
from memory.access import ElderScope
from memory.errors import InvalidInput
from memory.language import fold
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
    return fold(text or "").lower()


# --- building it -----------------------------------------------------------------------------


def _in_period(day: date | None, f: Filters) -> bool:
    if day is None:
        return f.since is None and f.until is None
    return (f.since is None or day >= f.since) and (f.until is None or day <= f.until)


def _mentions(text: str, words: list[str]) -> bool:
    folded = _fold(text)
    return any(_fold(w) in folded for w in words)


def _era(guess: EraGuess, language: str, message_id: int | None) -> Era:
    return Era(
        year=guess.year,
        start=guess.start,
        end=guess.end,
        decade=guess.decade,
        label_en=era_label(guess.year, "en", estimate=guess.estimate),
        label_local=era_label(guess.year, language, estimate=guess.estimate),
        basis=guess.basis,
        words=guess.words if message_id is not None else None,
        message_id=message_id,
        estimate=guess.estimate,
        reasoning=Generated(
            en=guess.reasoning_en,
            local=guess.reasoning_en if language == "en" else local(guess.reasoning_zh, language),
        ),
    )


def _fact_era(when: date, language: str) -> Era:
    return Era(
        year=when.year,
        start=when.year,
        end=when.year,
        decade=when.year // 10 * 10,
        label_en=era_label(when.year, "en"),
        label_local=era_label(when.year, language),
        basis="fact",
        words=None,
        message_id=None,
        estimate=False,
        reasoning=Generated(
            en=f"the confirmed fact says when: {when.isoformat()}",
            local=f"the confirmed fact says when: {when.isoformat()}"
            if language == "en"
            else local(f"已確認的記憶寫明時間：{when.isoformat()}", language),
        ),
    )


def _guess(
    texts: list[tuple[int | None, str]], said_on: date, born: date | None
) -> tuple[EraGuess, int | None] | None:
    """The first era the words give: the elder's messages first, then the fact's text."""
    for message_id, text in texts:
        guess = guess_era(text, said_on=said_on, born=born)
        if guess is not None:
            return guess, message_id
    return None


def _gather(session: Session, scope: ElderScope, f: Filters):  # type: ignore[no-untyped-def]
    """What anyone but the elder may see: the memories, the messages, who said what."""
    shared = visibility.shared_view(scope)
    elder_id = scope.elder_id
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
    moods = {
        s.message_id: s.mood
        for s in session.exec(select(MessageSignal).where(MessageSignal.elder_id == elder_id))
    }
    return links, every_memory, withheld, messages, moods


def build(
    session: Session,
    scope: ElderScope,
    f: Filters,
    progress: Callable[[float], None] = lambda _p: None,
    *,
    model: BaseChatModel | None = None,
) -> StoryExport:
    """Story material from what anyone but the elder may see (never private, whoever asks).
    With a model, the treatment's connective prose is the model's (it adds no events)."""
    elder = session.get(Elder, scope.elder_id)
    assert elder is not None
    tz = zone(elder.timezone)
    language = elder.language
    born = elder.birthday
    links, every_memory, withheld, messages, moods = _gather(session, scope, f)
    progress(0.2)
    facts = [
        m
        for m in every_memory.values()
        if m.kind in FACT_KINDS
        and m.status == FactStatus.confirmed.value
        and not m.private
        and (f.sensitive or not m.sensitive)
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
    for memory in facts:
        sources = sources_of(memory)
        family = memory.author_role in ("family", "elder") or memory.role == "family"
        if not sources and not (family and not links.get(memory.id or 0)):
            continue  # its words are withheld, or were never the elder's nor the family's
        said_on = memory.said_at.astimezone(tz).date()
        if memory.event_time is not None:
            when = memory.event_time.astimezone(tz).date()
            era: Era | None = _fact_era(when, language)
        else:
            guess = _guess(
                [(s.message_id, s.words) for s in sources] + [(None, memory.text)], said_on, born
            )
            era = _era(guess[0], language, guess[1]) if guess else None
            when = date(era.year, 1, 1) if era else said_on
        words = " ".join(
            [memory.text, memory.subject or "", memory.value or ""] + [s.words for s in sources]
        )
        if not _in_period(when, f) or not fits(words):
            continue
        timeline.append(
            TimelineEntry(
                when=when,
                when_known=era is not None,
                era=era,
                text=memory.text,
                kind=memory.kind,
                memory_id=memory.id or 0,
                added_by="family"
                if family and memory.author_role != "elder"
                else "elder"
                if memory.author_role == "elder"
                else "companion",
                sources=sources,
            )
        )
    # The elder's own words fill in what no confirmed fact holds: what tells of a time, at that
    # time, and each day of conversation by its fullest message, said that day.
    told = {s.message_id for e in timeline for s in e.sources}
    fullest: dict[date, Message] = {}
    for message in messages.values():
        if message.role != MessageRole.elder.value or message.id in withheld or message.id in told:
            continue
        said_on = message.said_at.astimezone(tz).date()
        guess = guess_era(message.text, said_on=said_on, born=born)
        if guess is not None and date(guess.year, 1, 1) <= said_on:
            about = date(guess.year, 1, 1)
            if _in_period(about, f) and fits(message.text):
                source = Source(
                    message_id=message.id or 0, said_at=message.said_at, words=message.text
                )
                timeline.append(
                    TimelineEntry(
                        when=about,
                        when_known=True,
                        era=_era(guess, language, message.id),
                        text=message.text,
                        kind="said",
                        memory_id=None,
                        added_by="elder",
                        sources=[source],
                    )
                )
                told.add(message.id or 0)
            continue
        if len(message.text) >= 8 and len(message.text) > len(
            getattr(fullest.get(said_on), "text", "")
        ):
            fullest[said_on] = message
    for said_on, message in fullest.items():
        if message.id not in told and _in_period(said_on, f) and fits(message.text):
            timeline.append(
                TimelineEntry(
                    when=said_on,
                    when_known=False,
                    era=None,
                    text=message.text,
                    kind="said",
                    memory_id=None,
                    added_by="elder",
                    sources=[
                        Source(
                            message_id=message.id or 0, said_at=message.said_at, words=message.text
                        )
                    ],
                )
            )
    timeline.sort(
        key=lambda e: (e.when, e.memory_id or 0, e.sources[0].message_id if e.sources else 0)
    )
    progress(0.4)

    quotes = _quotes(messages, withheld, timeline, f, fits, tz)
    progress(0.5)

    # Who and where: read from the words that are exported, and from the confirmed facts.
    dated = f.since is not None or f.until is not None
    read = [
        (q.message_id, q.words, messages[q.message_id].language or language)
        for q in quotes
        if not dated or any(q.message_id == s.message_id for e in timeline for s in e.sources)
    ]
    cast = read_cast(read)
    for entry in timeline:  # facts the family added, and facts' own words
        if entry.memory_id is not None:
            memory = every_memory[entry.memory_id]
            for_cast = read_cast([(-1, entry.text, memory.language or language)])
            for key, person in for_cast.people.items():
                cast.people.setdefault(key, person).memory_ids.add(entry.memory_id)
            for key, place in for_cast.places.items():
                cast.places.setdefault(key, place).memory_ids.add(entry.memory_id)
            if memory.subject and memory.subject != "self" and memory.attribute == "relation":
                cast.person(memory.subject, memory.value, None).memory_ids.add(entry.memory_id)
            if memory.kind == "place" and memory.value:
                cast.place(memory.value, None).memory_ids.add(entry.memory_id)
    for found in list(cast.people.values()) + list(cast.places.values()):
        found.message_ids.discard(-1)
    progress(0.6)

    characters = _characters(cast, timeline, elder, messages, withheld)
    by_name = {c.name: c.id for c in characters.values()}
    for entry in timeline:
        words = " ".join([entry.text] + [s.words for s in entry.sources])
        entry.people = [
            cid for name, cid in by_name.items() if cid != "elder" and mentioned(words, name)
        ]
        entry.places = [p.name for p in cast.places.values() if mentioned(words, p.name)]
    for character in characters.values():
        _dress(character, timeline, elder, cast)
    progress(0.7)

    beats: list[Beat] = []
    for quote in quotes:
        found = beat_of(quote.words)
        kind = found[0] if found else "joy" if moods.get(quote.message_id) == "happy" else None
        if kind:
            beats.append(
                Beat(
                    kind=kind, words=quote.words, message_id=quote.message_id, said_at=quote.said_at
                )  # type: ignore[arg-type]
            )
    the_film = film(f.style, language)
    scenes = [
        scene_card(
            n + 1, entry, characters=characters, language=language, the_film=the_film, born=born
        )
        for n, entry in enumerate(timeline)
    ]
    progress(0.85)
    people = [
        Person(
            name=p.name,
            relation=p.relation if p.relation != p.name else None,
            memory_ids=sorted(p.memory_ids),
            message_ids=sorted(p.message_ids),
        )
        for p in cast.people.values()
        if p.named
    ]
    places = [
        Place(
            name=p.name,
            memory_ids=sorted(p.memory_ids),
            message_ids=sorted(p.message_ids),
            eras=sorted({e.era.decade for e in timeline if e.era and p.name in e.places}),
        )
        for p in cast.places.values()
    ]
    from companion.story.treatment import connective_prose

    export = StoryExport(
        elder=StoryElder(
            name=elder.display_name,
            preferred_name=elder.preferred_name,
            language=language,
            birthday=born,
        ),
        generated_at=utcnow(),
        filters=f.model_dump(mode="json"),
        note="Everything remembered cites the elder's messages (message ids, dates, verbatim "
        "words) or the family's confirmed facts; everything generated (eras' reasoning, looks, "
        "era details, prompts, the treatment's prose) says generated.",
        film=the_film,
        timeline=timeline,
        quotes=quotes,
        characters=list(characters.values()),
        people=people,
        places=places,
        beats=beats,
        scenes=scenes,
        scene_prompts=[s.prompt for s in scenes],
    )
    export.treatment = connective_prose(export, model)
    progress(1.0)
    return export


def _quotes(messages, withheld, timeline, f, fits, tz) -> list[Quote]:  # type: ignore[no-untyped-def]
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
    return quotes


def _characters(cast: Cast, timeline, elder: Elder, messages, withheld) -> dict[str, Character]:  # type: ignore[no-untyped-def]
    """The elder, and everyone the words name (or name by relation), each with what the
    elder's words say of them."""

    def said(ids: set[int]) -> list[Source]:
        return [
            Source(message_id=i, said_at=messages[i].said_at, words=messages[i].text)
            for i in sorted(ids)
            if i in messages and i not in withheld
        ]

    spouse = next(
        (
            p.relation
            for p in cast.people.values()
            if p.relation
            and gender_of(p.relation)
            and _fold(p.relation)
            in ("先生", "老公", "丈夫", "太太", "老婆", "妻子", "husband", "wife")
        ),
        None,
    )
    elder_gender = None
    if spouse:
        elder_gender = "female" if gender_of(spouse) == "male" else "male"
    characters = {
        "elder": Character(
            id="elder",
            name=elder.preferred_name or elder.display_name,
            named=True,
            relation=None,
            gender=elder_gender,  # type: ignore[arg-type]
            said=[],
            memory_ids=sorted({e.memory_id for e in timeline if e.memory_id is not None}),
            eras=[],
            looks=[],
        )
    }
    for n, person in enumerate(cast.people.values(), start=1):
        characters[f"c{n}"] = Character(
            id=f"c{n}",
            name=person.name,
            named=person.named,
            relation=person.relation
            if person.relation != person.name or not person.named
            else None,
            gender=gender_of(person.relation),  # type: ignore[arg-type]
            said=said(person.message_ids),
            memory_ids=sorted(person.memory_ids),
            eras=[],
            looks=[],
        )
    return characters


def _dress(character: Character, timeline: list[TimelineEntry], elder: Elder, cast: Cast) -> None:
    """The decades a character appears in, and their look in each (generated, one per decade,
    used word for word in every scene of that decade)."""
    entries = [
        e for e in timeline if e.era and (character.id == "elder" or character.id in e.people)
    ]
    character.eras = sorted({e.era.decade for e in entries if e.era})
    from companion.story.scenes import region_of

    region = region_of(elder.language)
    for decade in character.eras:
        year = min(e.era.year for e in entries if e.era and e.era.decade == decade)  # type: ignore[union-attr]
        age = None
        if elder.birthday is not None:
            age = year - elder.birthday.year
            if character.id != "elder":
                age = age + age_gap(character.relation)
                if age < 0:
                    continue  # not born yet: not in a scene of that decade as a person
        en, local_words = look_words(
            region=region, decade=decade, gender=character.gender, age=age, language=elder.language
        )
        character.looks.append(Look(decade=decade, age=age, cues_en=en, cues_local=local_words))

"""The story export's schema (zhian.story/2, served at /v1/schemas/story.json): what is
remembered cites the elder's messages, what is generated says `generated: true`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

VERSION = "zhian.story/2"
BEAT_KINDS = ("joy", "loss", "longing", "pride", "love", "hardship")


class Source(BaseModel):
    message_id: int
    said_at: datetime
    words: str = Field(description="The elder's message, verbatim.")


class Generated(BaseModel):
    """A phrase written by the export (rules or a model), never the elder's words."""

    generated: Literal[True] = True
    by: Literal["rules", "model"] = "rules"
    en: str
    local: str = Field(description="The same in the elder's language.")


class Phrase(BaseModel):
    """One part of a scene or a prompt: remembered (cited, verbatim) or generated (labelled)."""

    generated: bool
    text: str = Field(description="Remembered: the elder's words verbatim; generated: English.")
    local: str | None = Field(default=None, description="Generated: in the elder's language.")
    message_ids: list[int] = Field(default_factory=list)
    memory_ids: list[int] = Field(
        default_factory=list, description="Remembered from a fact the family added."
    )


class Era(BaseModel):
    year: int = Field(description="The best single year.")
    start: int
    end: int
    decade: int
    label_en: str = Field(description="'the late 1960s' (generated from the year).")
    label_local: str
    basis: Literal["year", "minguo", "cycle", "age", "decade", "life_stage", "relative", "fact"]
    words: str | None = Field(description="The elder's words that date it, verbatim.")
    message_id: int | None
    estimate: bool = Field(description="A stage of life's usual age, not a stated time.")
    reasoning: Generated


class TimelineEntry(BaseModel):
    when: date = Field(description="When it happened; when it was said if that is not known.")
    when_known: bool = Field(description="False: `when` is the day it was said.")
    era: Era | None = Field(description="The era, with how it was reached; none when unknown.")
    text: str = Field(
        description="A confirmed fact, or (kind 'said') the elder's own words, verbatim."
    )
    kind: str = Field(description="The fact's type, or 'said' for the elder's own words.")
    memory_id: int | None = Field(description="The fact; none for the elder's own words.")
    added_by: Literal["elder", "family", "companion"] = Field(
        description="Who said it: the elder's words, or a fact the family added or confirmed."
    )
    people: list[str] = Field(default_factory=list, description="Characters named (ids).")
    places: list[str] = Field(default_factory=list)
    sources: list[Source] = Field(
        description="The elder's messages it comes from; empty only for a fact the family added."
    )


class Quote(BaseModel):
    words: str = Field(description="Verbatim: a whole message of the elder's, never paraphrased.")
    message_id: int
    said_at: datetime
    context: str | None = Field(description="What the companion had just said, if anything.")
    about: date | None = Field(description="When what it tells of happened, if the words say.")


class Look(BaseModel):
    """How a character looks in one decade: generated, the same text in every scene."""

    generated: Literal[True] = True
    decade: int
    age: int | None = Field(description="About this old then (generated estimate).")
    cues_en: str
    cues_local: str


class Character(BaseModel):
    id: str = Field(description="'elder', or 'c1', 'c2'…: the same in every scene.")
    name: str
    named: bool = Field(description="False: known only by the relation ('媽媽', 'my mother').")
    relation: str | None = Field(description="To the elder, as the words say it.")
    gender: Literal["female", "male"] | None = Field(
        description="From the relation word (generated guess)."
    )
    said: list[Source] = Field(description="What the elder's words say of them, verbatim.")
    memory_ids: list[int]
    eras: list[int] = Field(description="The decades they appear in.")
    looks: list[Look]


class Person(BaseModel):
    name: str
    relation: str | None
    memory_ids: list[int]
    message_ids: list[int]


class Place(BaseModel):
    name: str
    memory_ids: list[int]
    message_ids: list[int]
    eras: list[int] = Field(default_factory=list)


class Beat(BaseModel):
    kind: Literal["joy", "loss", "longing", "pride", "love", "hardship"]
    words: str
    message_id: int
    said_at: datetime


class ScenePrompt(BaseModel):
    generated: Literal[True] = True
    style: str
    prompt_en: str
    prompt_local: str = Field(description="The same prompt in the elder's language.")
    parts: list[Phrase] = Field(default_factory=list, description="What the prompt is built of.")
    memory_ids: list[int]
    message_ids: list[int]


class SceneCard(BaseModel):
    number: int
    heading: str = Field(
        description="INT./EXT. PLACE - ERA - TIME OF DAY (as a screenplay has it)."
    )
    interior: Literal["INT.", "EXT.", "INT./EXT."]
    place: str | None
    era: Era | None
    time_of_day: str | None = Field(description="Only when the words say it.")
    characters: list[str] = Field(description="Character ids, the elder first.")
    action: list[Phrase] = Field(description="What happens, in the elder's words (cited).")
    beat: Phrase | None = Field(description="The emotional beat: the words that carry it.")
    beat_kind: str | None
    era_details: Generated | None
    prompt: ScenePrompt
    memory_ids: list[int]
    message_ids: list[int]


class Film(BaseModel):
    """One look for the whole film (generated from the `style` option)."""

    generated: Literal[True] = True
    style: str
    style_words: Generated
    palette: Generated
    camera: Generated
    region: Literal["taiwan", "china", "west"]


class StoryElder(BaseModel):
    name: str
    preferred_name: str | None
    language: str
    birthday: date | None


class StoryExport(BaseModel):
    """Story material for creators (zhian.story/2)."""

    version: Literal["zhian.story/2"] = VERSION
    elder: StoryElder
    generated_at: datetime
    filters: dict
    note: str = Field(
        description="Everything remembered cites the elder's messages; everything generated "
        "is labelled generated."
    )
    film: Film
    timeline: list[TimelineEntry]
    quotes: list[Quote]
    characters: list[Character]
    people: list[Person]
    places: list[Place]
    beats: list[Beat]
    scenes: list[SceneCard]
    scene_prompts: list[ScenePrompt]
    treatment: list[Generated] = Field(
        default_factory=list,
        description="Connective prose between scenes (generated; a model may write it, and it "
        "never adds events).",
    )


def schema() -> dict:
    return StoryExport.model_json_schema()

"""API schemas (`XCreate`, `XUpdate`, `XPublic`), kept apart from the tables."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import UploadFile
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from companion.alerts import outbox
from memory.models import FACT_KINDS, MemoryKind, MessageRole, Permission, ReminderKind, Role
from memory.search import MAX_K
from memory.store import MAX_IMPORT

Language = Literal["zh-Hant", "zh-Hans", "en"]
MAX_TEXT = 10_000
# A day of someone's life (a birthday, the weather of a day): from FIRST_DAY_YEAR to a few
# years ahead.
FIRST_DAY_YEAR = 1900
DAYS_AHEAD_YEARS = 5


# Tab, line feed and carriage return are ordinary text; every other control character is not.
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def control_character(value: str) -> str | None:
    """The first control character in `value` that no one types, named for a message."""
    for char in value:
        if (char < " " or "\x7f" <= char <= "\x9f") and char not in _ALLOWED_CONTROLS:
            return f"{'NUL, ' if char == chr(0) else ''}U+{ord(char):04X}"
    return None


def _storable(value: str) -> str:
    found = control_character(value)
    if found:
        raise ValueError(f"holds a control character ({found}), which cannot be stored; remove it")
    return value


def _sensible_time(value: datetime) -> datetime:
    if not 1850 <= value.year <= 2200:
        raise ValueError("is outside the years 1850 to 2200")
    return value


def _in_a_lifetime(value: date) -> date:
    last = date.today().year + DAYS_AHEAD_YEARS
    if not FIRST_DAY_YEAR <= value.year <= last:
        raise ValueError(f"is not a day in the years {FIRST_DAY_YEAR} to {last} (YYYY-MM-DD)")
    return value


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _written_out(value: Any) -> Any:
    # Pydantic would read 0 or "1700000000" as a Unix time: no person means that.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be written as a date or time, e.g. 2026-11-20 or 2026-11-20T09:00")
    return value


Text = Annotated[str, AfterValidator(_storable)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_storable)]
ShortId = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_storable)]
Timestamp = Annotated[datetime, BeforeValidator(_written_out), AfterValidator(_sensible_time)]
Day = Annotated[date, BeforeValidator(_written_out), AfterValidator(_in_a_lifetime)]
# A time asked about in a query (since, until): within the same years as a Day.
Moment = Annotated[datetime, BeforeValidator(_written_out), AfterValidator(_in_a_lifetime)]
Email = Annotated[
    str,
    Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["meihua@example.org"]),
]
Clock = Annotated[
    str,
    Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["07:30"], description="HH:MM, 24-hour"),
]


class Input(BaseModel):
    """Unknown fields are refused, so a misspelt field name is an error, not silently lost."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _json_types_as_declared(cls, value: Any, info: ValidationInfo) -> Any:
        # Pydantic would read 0 as false and "5" as 5: a client that sends those has a bug
        # that a silent guess would hide.
        field = cls.model_fields.get(info.field_name or "")
        expected = _SCALARS.get(field.annotation) if field else None
        if expected and value is not None:
            kinds, words = expected
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise ValueError(f"must be {words}")
        return value

    @field_validator("*")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        for text in _strings_in(value):
            _storable(text)
        return value


_SCALARS: dict[Any, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "true or false"),
    bool | None: ((bool,), "true or false"),
    int: ((int,), "a whole number"),
    int | None: ((int,), "a whole number"),
    float: ((int, float), "a number"),
    float | None: ((int, float), "a number"),
}


def _strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set):
        return [text for item in value for text in _strings_in(item)]
    if isinstance(value, dict):
        return [text for pair in value.items() for item in pair for text in _strings_in(item)]
    return []


# --- elders -----------------------------------------------------------------------------


class ElderCreate(Input):
    name: Name = Field(description="The elder's full name, as the family writes it.")
    language: Language = Field(description="The language the elder speaks most.")
    other_languages: list[Language] = Field(default_factory=list, max_length=3)
    preferred_name: Name | None = Field(
        default=None, description="What the companion calls them, e.g. 阿嬤 or Grandma Lin."
    )
    timezone: Annotated[str, Field(max_length=64), AfterValidator(_storable)] | None = Field(
        default=None, description="IANA timezone, e.g. Asia/Taipei; default: the server's."
    )
    birthday: Day | None = None


class ElderUpdate(Input):
    name: Name | None = None
    language: Language | None = None
    other_languages: list[Language] | None = Field(default=None, max_length=3)
    preferred_name: Name | None = None
    timezone: Annotated[str, Field(max_length=64), AfterValidator(_storable)] | None = None
    birthday: Day | None = None
    quiet_hours_start: Clock | None = Field(
        default=None, description="From this time (HH:MM) the companion stays silent..."
    )
    quiet_hours_end: Clock | None = Field(default=None, description="...until this time.")
    greeting_time: Clock | None = Field(
        default=None, description="A morning greeting at this time (HH:MM); null: none."
    )
    proactive_per_day: int | None = Field(
        default=None, ge=0, le=10, description="At most this many messages a day on its own."
    )
    reminisce_after_hours: int | None = Field(
        default=None,
        ge=1,
        le=24 * 14,
        description="After this many quiet hours, a gentle reminiscence prompt; null: never.",
    )


class ElderPublic(BaseModel):
    id: str
    name: str
    preferred_name: str | None
    language: str
    languages: list[str]
    timezone: str
    birthday: date | None
    quiet_hours_start: str
    quiet_hours_end: str
    greeting_time: str | None
    proactive_per_day: int
    reminisce_after_hours: int | None
    created_at: datetime


# --- accounts and tokens ----------------------------------------------------------------


class AccountCreate(Input):
    role: Role
    display_name: Name
    elder_id: ShortId | None = Field(
        default=None, description="The elder this account belongs to (all roles but admin)."
    )
    relation: Annotated[str, Field(max_length=100), AfterValidator(_storable)] | None = Field(
        default=None, description="How they are related to the elder, e.g. daughter, grandson."
    )
    is_guardian: bool = Field(
        default=False, description="A family member who may grant and revoke access for the elder."
    )
    language: Language | None = None
    email: Email | None = Field(
        default=None, description="For alerts by e-mail (when the server has SMTP set up)."
    )


class AccountUpdate(Input):
    language: Language | None = None
    email: Email | None = Field(default=None, description="null: no e-mail alerts.")


class AccountPublic(BaseModel):
    id: str
    role: str
    display_name: str
    elder_id: str | None
    relation: str | None
    is_guardian: bool
    language: str | None
    email: str | None = None
    created_at: datetime


class TokenCreate(Input):
    label: Annotated[str, Field(max_length=200), AfterValidator(_storable)] | None = None
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Leave out for a token that does not expire."
    )


class TokenPublic(BaseModel):
    id: str
    account_id: str
    prefix: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenIssued(TokenPublic):
    token: str = Field(description="The token itself. It is shown only this once: keep it safe.")


class Me(BaseModel):
    account: AccountPublic
    elders: list[ElderPublic]
    permissions: dict[str, list[str]]


# --- grants -----------------------------------------------------------------------------


class StoryLimits(Input):
    """What a story:export grant covers."""

    since: date | None = Field(default=None, description="Only what happened from this day.")
    until: date | None = Field(default=None, description="...until this day.")
    people: list[Name] = Field(default_factory=list, max_length=50)
    topics: list[Name] = Field(default_factory=list, max_length=50)
    sensitive: bool = Field(default=False, description="Sensitive memories may be exported too.")


class GrantSet(Input):
    scopes: list[Permission] = Field(max_length=len(Permission))
    expires_at: Timestamp | None = None
    story: StoryLimits | None = Field(
        default=None,
        description="For story:export: the period, people and topics it covers (default: all "
        "that is not private or sensitive).",
    )


class GrantPublic(BaseModel):
    account_id: str
    display_name: str
    role: str
    relation: str | None
    scopes: list[str]
    expires_at: datetime | None
    updated_at: datetime
    granted_by: str | None
    story_limits: dict | None = None


# --- messages ---------------------------------------------------------------------------


class MessageCreate(Input):
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_storable)]
    role: MessageRole | None = Field(
        default=None, description="Who spoke; default: the caller's own role."
    )
    speaker: Name | None = None
    said_at: Timestamp | None = Field(
        default=None,
        description="When it was said; a time without offset is in the elder's timezone.",
    )
    language: Language | None = Field(default=None, description="Detected when left out.")
    conversation_id: Annotated[str, Field(max_length=100), AfterValidator(_storable)] | None = None
    external_id: ShortId | None = Field(
        default=None, description="Your own id for this message; sending it again adds nothing."
    )


class MessageImportItem(MessageCreate):
    said_at: Timestamp
    external_id: ShortId


class MessageImport(Input):
    messages: list[MessageImportItem] = Field(min_length=1, max_length=MAX_IMPORT)


class MessagePublic(BaseModel):
    id: int
    elder_id: str
    conversation_id: str | None
    role: str
    speaker: str | None
    text: str
    language: str | None
    said_at: datetime
    external_id: str | None
    used_memory_ids: list[int] | None = Field(
        default=None, description="On the companion's replies: the memories it drew on."
    )
    created_at: datetime


class MessagePage(BaseModel):
    items: list[MessagePublic]
    next: str | None = Field(description="Pass as 'cursor' for the next page; null at the end.")


class ImportSummary(BaseModel):
    imported: int
    skipped: int = Field(description="Messages whose external_id was already stored.")
    ids: list[int] = Field(description="Ids of the messages this request added.")
    skipped_external_ids: list[str]


# --- audit ------------------------------------------------------------------------------


class AuditEventPublic(BaseModel):
    id: int
    at: datetime
    actor_account_id: str | None
    actor_role: str | None
    actor_name: str | None
    action: str
    detail: dict


class AuditPage(BaseModel):
    items: list[AuditEventPublic]
    next: int | None = Field(description="Pass as 'before' for older events; null at the end.")


# --- The family's window ----------------------------------------------------------------


class DigestPublic(BaseModel):
    period: str
    start: date
    language: str
    written_by: str = Field(description="model (the language model, citing) or extract")
    built_at: datetime
    sections: dict = Field(
        description="summary, joys, worries (each line with message_ids), concerns, reminders, "
        "to_review, moods (per day), messages, last_said_at"
    )


class MoodDay(BaseModel):
    day: date
    moods: dict[str, int]


class LastWords(BaseModel):
    last_said_at: datetime | None


# --- Chat -------------------------------------------------------------------------------


MAX_CHAT_CHARS = 2000


MODEL_NAME = "zhian"


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(description=f"What the elder says (at most {MAX_CHAT_CHARS} characters).")
    conversation_id: Annotated[str, Field(max_length=100), AfterValidator(_storable)] | None = None
    stream: bool = Field(
        default=False,
        description="Stream the reply as server-sent events: 'delta' events with text, then "
        "one 'done' event with the whole answer.",
    )


class UsedMemory(BaseModel):
    id: int
    text: str
    said_at: datetime
    speaker: str | None
    message_ids: list[int]


class ChatReply(BaseModel):
    reply: str
    language: str
    kind: Literal["answer", "not_known", "source", "reminder_done", "reminder_set", "care"] = Field(
        description="'answer': from the language model; 'not_known': nothing in memory answers "
        "a question about the elder's past, so the companion asks instead of guessing; "
        "'source': where the last answer came from; 'reminder_done': the elder said a reminder "
        "is done, and it is recorded; 'reminder_set': the elder asked for a reminder; 'care': the "
        "words spoke of a fall or of self-harm: a caring answer with where to find help, and "
        "the family is alerted at once."
    )
    message_id: int = Field(description="The elder's message, as stored.")
    reply_id: int = Field(description="The companion's reply, as stored.")
    used_memory_ids: list[int]
    used_memories: list[UsedMemory]
    degraded: bool = Field(description="True when the vector index was unreachable.")
    repairs: dict[str, int] = Field(description="Style repairs made to the model's reply.")
    timings: dict[str, float]


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request; fields zhian does not use are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = MODEL_NAME
    messages: list[OpenAIMessage] = Field(min_length=1)
    stream: bool = False
    user: Annotated[str, Field(max_length=100), AfterValidator(_storable)] | None = None


# --- Facts ------------------------------------------------------------------------------


FactType = Literal[FACT_KINDS]  # type: ignore[valid-type]


FactText = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_storable)]


Slot = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_storable)]


class FactCreate(Input):
    type: FactType = Field(description=f"One of: {', '.join(FACT_KINDS)}.")
    text: FactText = Field(description="The fact in a sentence, in the language it was said in.")
    subject: Name | None = Field(default=None, description="Whom it is about (default: the elder).")
    attribute: Slot | None = Field(
        default=None,
        description="The slot it fills, e.g. lives_in, name, job: a new value for lives_in, "
        "name, job, spouse, age, school retires the old one.",
    )
    value: Annotated[str, Field(max_length=500), AfterValidator(_storable)] | None = None
    event_time: Timestamp | None = Field(default=None, description="When it happened, if known.")
    private: bool = Field(default=False, description="Never leaves the elder's own chat.")
    sensitive: bool = Field(default=False, description="The companion does not raise it itself.")


class FactUpdate(Input):
    type: FactType | None = None
    text: FactText | None = None
    subject: Name | None = None
    attribute: Slot | None = None
    value: Annotated[str, Field(max_length=500), AfterValidator(_storable)] | None = None
    event_time: Timestamp | None = None
    private: bool | None = None
    sensitive: bool | None = None


class FactPublic(BaseModel):
    id: int
    type: str
    text: str
    status: str = Field(description="unconfirmed (inferred, awaiting review), confirmed, rejected")
    subject: str | None
    attribute: str | None
    value: str | None
    said_at: datetime
    event_time: datetime | None
    valid_to: datetime | None = Field(description="When it stopped being true (retired), if so.")
    superseded_by: int | None = Field(description="The fact that replaced it, if retired.")
    private: bool
    sensitive: bool
    confidence: float | None
    added_by: str | None = Field(description="companion (extracted), elder or family")
    language: str | None


class FactChange(BaseModel):
    fact: FactPublic
    action: Literal["created", "merged"]
    retired: list[FactPublic]


class FactEventPublic(BaseModel):
    id: int
    action: str = Field(description="created, merged, retired, edited, approved, rejected, deleted")
    at: datetime
    actor_role: str | None
    actor_name: str | None
    before: dict | None
    after: dict | None


class ExtractionFailure(BaseModel):
    at: datetime
    message_ids: list[int]
    attempts: int
    error: str | None


class ExtractionStatusPublic(BaseModel):
    pending: int = Field(description="Messages not yet read for facts.")
    ok: int = Field(description="Batches read.")
    failed: int = Field(description="Batches whose answer from the model could not be used.")
    failures: list[ExtractionFailure]


# --- Memories and search ----------------------------------------------------------------


class IndexStatusPublic(BaseModel):
    pending: int = Field(description="Memories stored but not yet in the vector index.")
    indexed: int


class MemorySearch(Input):
    query: Annotated[str, Field(max_length=2000)] = Field(
        description="What to recall, in the elder's words or yours; time words such as "
        "'last week' or '去年春節' narrow it to that period."
    )
    k: int = Field(default=10, description=f"How many memories to return (1 to {MAX_K}).")
    as_of: Timestamp | None = Field(
        default=None,
        description="The moment the question is asked from (default: now); time words are "
        "read from it and nothing said after it is returned. Without offset: elder's timezone.",
    )
    since: Timestamp | None = Field(default=None, description="Only what was said from then on.")
    until: Timestamp | None = Field(default=None, description="Only what was said before then.")
    kinds: list[MemoryKind] | None = Field(default=None, max_length=len(MemoryKind))

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("The query is empty: say what to look for.")
        if "\x00" in value:
            raise ValueError("The query contains a NUL character.")
        return value

    @field_validator("k")
    @classmethod
    def _k_in_range(cls, value: int) -> int:
        if not 1 <= value <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}; ask for at most {MAX_K} memories.")
        return value


class SourcePublic(BaseModel):
    message_id: int
    external_id: str | None


class MemoryHitPublic(BaseModel):
    id: int
    text: str
    kind: str
    score: float = Field(
        description="Fused rank score (reciprocal-rank fusion, 0 to about 0.07; 1 more for "
        "memories in the period the question names); higher is better."
    )
    said_at: datetime
    event_time: datetime | None
    speaker: str | None
    role: str | None
    language: str | None
    sources: list[SourcePublic]


class PeriodPublic(BaseModel):
    words: str
    start: datetime
    end: datetime


class SearchPublic(BaseModel):
    results: list[MemoryHitPublic]
    degraded: bool = Field(
        description="True when the vector index could not be reached and only words matched."
    )
    period: PeriodPublic | None = Field(
        default=None, description="The period the query's time words were read as."
    )


# --- Reminders, the elder's day, webhooks and concerns ----------------------------------


Kind = Literal[tuple(k.value for k in ReminderKind)]  # type: ignore[valid-type]


Title = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_storable)]


Notes = Annotated[str, Field(max_length=2000), AfterValidator(_storable)]


Zone = Annotated[str, Field(max_length=64), AfterValidator(_storable)]


Rule = Annotated[str, Field(max_length=500), AfterValidator(_storable)]


class ReminderCreate(Input):
    title: Title = Field(description="What to do, in the elder's language: 吃降血壓的藥.")
    kind: Kind = Field(description="medicine, appointment, routine or other.")
    starts_at: datetime = Field(
        description="The first time, as wall-clock time in the timezone (2026-11-26T08:00)."
    )
    repeat: Literal["once", "daily", "weekly", "rrule"] = "once"
    rrule: Rule | None = Field(
        default=None, description="With repeat=rrule: RFC 5545, e.g. FREQ=WEEKLY;BYDAY=MO,TH."
    )
    timezone: Zone | None = Field(default=None, description="IANA name; default: the elder's.")
    ack_window_minutes: int = Field(
        default=60,
        ge=5,
        le=24 * 60,
        description="How long 智安 waits for 'done' (one follow-up half way) before it is "
        "missed and the family is told.",
    )
    notes: Notes | None = None


class ReminderUpdate(Input):
    title: Title | None = None
    kind: Kind | None = None
    starts_at: datetime | None = None
    repeat: Literal["once", "daily", "weekly", "rrule"] | None = None
    rrule: Rule | None = None
    timezone: Zone | None = None
    ack_window_minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    notes: Notes | None = None
    paused: bool | None = Field(default=None, description="Paused: nothing is said until resumed.")


class ReminderPublic(BaseModel):
    id: int
    title: str
    kind: str
    starts_at: str = Field(description="Wall-clock time of the first occurrence, in `timezone`.")
    rrule: str | None
    timezone: str
    ack_window_minutes: int
    notes: str | None
    paused: bool
    next_due_at: datetime | None
    created_at: datetime


class OccurrencePublic(BaseModel):
    id: int
    reminder_id: int
    due_at: datetime
    status: str = Field(description="delivered (waiting for done), done or missed")
    delivered_at: datetime | None
    late: bool
    followed_up_at: datetime | None
    done_at: datetime | None
    done_by: str | None
    missed_reason: str | None


class TallyPublic(BaseModel):
    due: int
    done: int
    late: int
    missed: int
    waiting: int
    rate: float | None = Field(description="done / (done + missed); null when none decided yet")


class ReminderAdherence(TallyPublic):
    reminder_id: int
    title: str
    kind: str


class AdherencePublic(BaseModel):
    since: datetime
    until: datetime
    total: TallyPublic
    by_kind: dict[str, TallyPublic]
    reminders: list[ReminderAdherence]


class CalendarLink(BaseModel):
    url: str
    token_prefix: str


class WeatherBody(Input):
    weather: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_storable)]


class WebhookCreate(Input):
    url: Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_storable)]
    events: list[Literal[outbox.EVENTS]] | None = Field(  # type: ignore[valid-type]
        default=None, description=f"Default: all of {', '.join(outbox.EVENTS)}."
    )


class WebhookPublic(BaseModel):
    id: int
    url: str
    events: list[str]
    created_at: datetime
    secret: str | None = Field(
        default=None, description="Shown once, when made: verify X-Zhian-Signature with it."
    )


class ConcernPublic(BaseModel):
    id: int
    kind: str
    severity: str
    state: str
    summary: str
    message_id: int | None
    occurrence_id: int | None
    created_at: datetime
    seen_by: str | None
    resolved_by: str | None


# --- an elder's record: export and erasure --------------------------------------------------


class ErasureConfirm(Input):
    confirm: str | None = Field(
        default=None,
        max_length=200,
        description="The elder's (or account's) name exactly as registered: erasure cannot be "
        "undone.",
        examples=["林美華"],
    )


class ErasurePublic(BaseModel):
    erased: dict[str, int] = Field(description="Rows erased, per table.")
    audit_id: int | None = Field(description="The audit record kept (without their words).")


# --- chat histories brought in ------------------------------------------------------------


class ChatImportForm(BaseModel):
    """The form fields sent with the file (multipart/form-data)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    file: UploadFile = Field(description="The exported chat, as the app saved it.")
    format: Literal["line", "whatsapp", "csv"] = Field(
        description="line (LINE's saved chat text), whatsapp (WhatsApp's exported chat, "
        "without media), or csv (a header row timestamp,sender,text)."
    )
    senders: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list,
        max_length=100,
        description="Who each sender is: NAME=elder or NAME=ACCOUNT_ID (a family account of "
        "this elder); one field per sender.",
    )
    keep_others: bool = Field(
        default=False,
        description="Keep senders not named in `senders` as other speakers; otherwise they "
        "stop the import with a list of their names.",
    )
    date_order: Literal["auto", "dmy", "mdy", "ymd"] = Field(
        default="auto",
        description="How the file writes dates, when it cannot be told from the file itself "
        "(no day over 12): dmy (31/12/2023) or mdy (12/31/2023).",
    )


class ChatImportProblem(BaseModel):
    line: int = Field(description="The line of the file, counting from 1.")
    message: str


class ChatImportPublic(BaseModel):
    id: int
    format: str
    filename: str | None
    status: Literal["queued", "reading", "writing", "done", "failed"]
    progress: float = Field(description="0 to 1.")
    requested_by: str
    requested_at: datetime
    finished_at: datetime | None
    lines: int = Field(description="Lines in the file (once read).")
    messages: int = Field(description="Messages in the file to bring in (once read).")
    written: int = Field(description="Messages written so far (they show once all are).")
    counts: dict | None = Field(
        description="When done: imported, already_there, system_lines (by kind: sticker, "
        "photo, call…, skipped), senders (messages each), date_order."
    )
    message: str | None = Field(description="When failed: what went wrong and what to do.")
    errors: list[ChatImportProblem] = Field(description="When failed: each line not read.")


class ChatImportPage(BaseModel):
    items: list[ChatImportPublic]


class StoryRequest(Input):
    format: Literal["json", "markdown", "html", "fountain", "csv"] = Field(
        default="json",
        description="json (schema /v1/schemas/story.json), markdown, html (a printable "
        "life-story book), fountain (a screenplay treatment) or csv (a shot list)",
    )
    since: Day | None = Field(default=None, description="Only what happened from this day.")
    until: Day | None = Field(default=None, description="...until this day.")
    people: list[Name] = Field(default_factory=list, max_length=50)
    places: list[Name] = Field(default_factory=list, max_length=50)
    topics: list[Name] = Field(default_factory=list, max_length=50)
    style: Literal["cinematic", "documentary", "watercolour", "black-and-white"] = Field(
        default="cinematic", description="One look and palette for the whole film."
    )
    sensitive: bool = Field(
        default=False, description="Include sensitive memories, if the grant allows."
    )


class ExportRunPublic(BaseModel):
    id: int
    account_name: str
    requested_at: str
    format: str
    status: str
    progress: float
    filters: dict
    counts: dict | None
    download: str | None

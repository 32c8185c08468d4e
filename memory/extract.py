"""Facts from conversation, in the background: what the elder (or family, marked as such) said
about the elder's life becomes facts with their sources, their time, and a confidence. Rules
read the common facts first, with no model (`memory.fact_rules`); the configured language
model, when there is one, adds what the rules do not cover, and every fact it proposes passes
the same checks (`memory.fact_checks`): no fact from a question, a greeting, thanks or the
companion's words; each about the right person, in the words and the language it was said in.

The model's answer is JSON checked against a schema (pydantic); a malformed answer is asked
for again once, then recorded as a failed extraction, never silently taken as "no facts".
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session, select

from memory import chatmodel, facts, prompts, timewords
from memory.access import ElderScope, caller_for, elder_account, resolve_scope
from memory.db import session_scope
from memory.fact_checks import check_model_fact
from memory.fact_rules import KIND_OF, FoundFact, People, extract_rules
from memory.language import detect_language, in_script
from memory.models import FACT_KINDS, Elder, ExtractionRun, Message, MessageRole, utcnow
from memory.timeutil import zone

log = logging.getLogger(__name__)

BATCH = 4  # messages per answer: more makes the answer long enough to be cut off
QUIET = timedelta(seconds=90)  # extract once the elder has paused, not mid-conversation

ATTRIBUTES = [
    "name",
    "lives_in",
    "hometown",
    "job",
    "school",
    "spouse",
    "child",
    "grandchild",
    "sibling",
    "parent",
    "friend",
    "pet",
    "likes",
    "dislikes",
    "routine",
    "health_condition",
    "medicine",
    "event",
    "feeling",
    "other",
]


class ModelUnreachable(Exception):
    """The model gave no answer at all (as opposed to a malformed one)."""


class ExtractedFact(BaseModel):
    type: Literal[FACT_KINDS]  # type: ignore[valid-type]
    text: str = Field(min_length=1, max_length=300)
    subject: str = Field(default="self", max_length=100)
    attribute: Literal[tuple(ATTRIBUTES)] = "other"  # type: ignore[valid-type]
    value: str | None = Field(default=None, max_length=200)
    when: str | None = Field(default=None, max_length=100)
    confidence: float = Field(default=0.7, ge=0, le=1)
    source: int = Field(ge=1, description="number of the message it comes from")


class Extraction(BaseModel):
    facts: list[ExtractedFact] = Field(max_length=20)


def _grammar_schema() -> dict:
    """The schema the model's answer is held to: every key present (a small model leaves out
    what it may), while reading an answer still accepts the defaults."""
    schema = Extraction.model_json_schema()
    fact = schema["$defs"]["ExtractedFact"]
    fact["required"] = list(fact["properties"])
    return schema


_GRAMMAR_SCHEMA = _grammar_schema()


def _prompt(messages: Sequence[Message], error: str | None) -> list:
    lines = []
    for i, m in enumerate(messages, start=1):
        who = (
            "older person"
            if m.role == MessageRole.elder.value
            else f"family ({m.speaker or 'family'})"
        )
        lines.append(f"{i}. [{who}] {m.text}")
    body = "Messages:\n" + "\n".join(lines)
    if error:
        body += f"\n\nYour last answer was not valid ({error[:300]}). Answer with JSON only."
    return [SystemMessage(content=prompts.text("extraction")), HumanMessage(content=body)]


def _parse(text: str) -> Extraction:
    raw = text.strip()
    fenced = re.search(r"\{.*\}", raw, re.DOTALL)  # models wrap JSON in prose or code fences
    if fenced:
        raw = fenced.group(0)
    return Extraction.model_validate(json.loads(raw))


def _ask(model: BaseChatModel, messages: Sequence[Message], error: str | None) -> str:
    # llama.cpp holds the answer to the schema with a grammar; OpenAI-style servers get JSON mode.
    response_format: dict = {"type": "json_object"}
    if chatmodel.holds_json_schema(model):
        response_format["schema"] = _GRAMMAR_SCHEMA
    try:
        reply = model.invoke(
            _prompt(messages, error),
            response_format=response_format,
            temperature=0.0,
            max_tokens=900,
        )
    except Exception as exc:  # a server down, a model that cannot load: not a malformed answer
        raise ModelUnreachable(f"{type(exc).__name__}: {exc}") from exc
    return str(reply.content)


@dataclass
class Outcome:
    run: ExtractionRun
    created: int = 0
    merged: int = 0
    retired: int = 0
    model_missed: str | None = None  # why the model did not read this batch, if it did not


_AGE = re.compile(
    r"when I was (\d{1,3})|at (?:the age of )?(\d{1,3})\b|([0-9一二三四五六七八九十]+)[歲岁]"
)


# The slot a fact fills, from its words, when the model left it as "other": a small model often
# does, and then a move would never retire the old address.
_SLOT_WORDS = (
    ("lives_in", re.compile(r"住在|搬到|搬去|搬回|住进|住進|\blive[sd]? in\b|\bmoved to\b", re.I)),
    ("hometown", re.compile(r"老家|家乡|家鄉|故乡|故鄉|\bhometown\b|\bgrew up in\b", re.I)),
    ("job", re.compile(r"工作|上班|职业|職業|\bworks? as\b|\bworked as\b|\bjob\b", re.I)),
    ("school", re.compile(r"学校|學校|上学|上學|读书|讀書|\bschool\b", re.I)),
    ("medicine", re.compile(r"药|藥|\bmedicine\b|\btablets?\b|\bpills?\b", re.I)),
    (
        "likes",
        re.compile(r"喜欢|喜歡|爱吃|愛吃|最爱|最愛|\blikes?\b|\bloves?\b|\bfavou?rite\b", re.I),
    ),
)


def _attribute(found: ExtractedFact) -> str | None:
    if found.attribute != "other":
        return found.attribute
    words = f"{found.text} {found.value or ''}"
    return next((slot for slot, pattern in _SLOT_WORDS if pattern.search(words)), None)


def _event_time(fact: ExtractedFact, message: Message, elder: Elder) -> datetime | None:
    """When it happened: the time words read against when they were said, in the elder's
    timezone; "when I was twenty" against the elder's birthday."""
    if not fact.when:
        return None
    age = _AGE.search(fact.when)
    if age and elder.birthday:
        years = timewords._zh_number(next(g for g in age.groups() if g))
        if years is not None and 0 < years < 120:
            return datetime(elder.birthday.year + years, 1, 1, tzinfo=zone(elder.timezone))
    resolved = timewords.resolve(fact.when, message.said_at, elder.timezone)
    return resolved[0].start if resolved else None


def _model_reads(model: BaseChatModel | None) -> bool:
    return chatmodel.available(model)


def _model_answer(
    model: BaseChatModel, messages: Sequence[Message], run: ExtractionRun
) -> Extraction | None:
    """The model's facts, asked twice at most; None (and the run failed) when both answers
    were malformed."""
    error: str | None = None
    for attempt in (1, 2):
        run.attempts = attempt
        try:
            return _parse(_ask(model, messages, error))
        except (ValueError, ValidationError) as exc:  # json.JSONDecodeError is a ValueError
            error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "Fact extraction answer was malformed (attempt %d): %s", attempt, error[:200]
            )
    run.status, run.error = "failed", error
    return None


def _keep(
    session: Session,
    scope: ElderScope,
    outcome: Outcome,
    draft: facts.FactDraft,
    message: Message,
) -> None:
    remembered = facts.remember_fact(
        session, scope, draft, sources=[message], author=facts.COMPANION
    )
    if remembered is None:
        return
    if remembered.action == "created":
        outcome.created += 1
    else:
        outcome.merged += 1
    outcome.retired += len(remembered.retired)


# Slots whose time words say when it happened ("上個月搬到台北了"): a move retires the old
# address from then.
_TIMED = frozenset({"lives_in", "lived_in", "job", "workplace", "school", "died", "birth_year"})


def _rule_draft(found: FoundFact, message: Message, elder: Elder) -> facts.FactDraft:
    when = None
    if found.attribute in _TIMED:
        resolved = timewords.resolve(message.text, message.said_at, elder.timezone)
        when = resolved[0].start if resolved else None
    return facts.FactDraft(
        kind=found.kind,
        text=found.text,
        subject=found.subject,
        attribute=found.attribute,
        value=found.value,
        event_time=when,
        confidence=0.9,
        sensitive=found.sensitive,
        language=message.language,
    )


def extract_batch(
    session: Session,
    model: BaseChatModel | None,
    elder_id: str,
    messages: Sequence[Message],
    *,
    rules: bool = True,
) -> Outcome:
    """Read one batch of an elder's messages for facts: the rules, then the model when there is
    one (None, or `ZHIAN_LLM=none`: the rules alone); the run is recorded either way.
    `rules=False` (for measuring the model alone) keeps only what the model proposes."""
    elder = session.get(Elder, elder_id)
    assert elder is not None
    scope = resolve_scope(session, caller_for(elder_account(session, elder_id)), elder_id)
    run = ExtractionRun(elder_id=elder_id, message_ids=[m.id for m in messages], status="ok")
    outcome = Outcome(run=run)
    people = People(relations=facts.known_people(session, scope))
    read: dict[int, list[FoundFact]] = {}
    for position, message in enumerate(messages, start=1):
        if message.role not in (MessageRole.elder.value, MessageRole.family.value):
            continue  # the companion's words are never facts about the elder
        language = message.language or elder.language
        read[position] = extract_rules(
            message.text,
            language,
            people=people,
            by_family=message.role == MessageRole.family.value,
        )
        if not rules:
            read[position] = []
    # The model is asked before anything is written: a write would hold SQLite's lock for as
    # long as the model takes, and every elder's next message would wait on it. When it cannot
    # answer (a server down, or it gave way to an elder's chat turn) the rules' facts are kept
    # at once all the same: facts never wait on the model, and a message is read only once
    # (read again, its facts would count as said twice).
    extraction = None
    if _model_reads(model):
        try:
            extraction = _model_answer(model, messages, run)
        except ModelUnreachable as exc:
            outcome.model_missed = str(exc)
            run.attempts = 0
            run.error = f"Read by the rules alone; the language model did not answer ({exc})."[
                :1000
            ]
    for position, found_facts in read.items():
        message = messages[position - 1]
        for found in found_facts:
            _keep(session, scope, outcome, _rule_draft(found, message, elder), message)
    if not _model_reads(model):
        run.attempts = 0
    for proposed in extraction.facts if extraction else []:
        if proposed.source not in read:
            continue  # no such message, or the companion's
        message = messages[proposed.source - 1]
        language = message.language or elder.language
        text = in_script(proposed.text.strip(), language)
        if (detect_language(text, fallback=language) == "en") != (language == "en"):
            continue  # written in another language than it was said in
        verdict = check_model_fact(
            subject=proposed.subject,
            attribute=_attribute(proposed),
            value=proposed.value,
            text=text,
            message_text=message.text,
            language=language,
            rule_facts=read[proposed.source],
            people=people,
            by_family=message.role == MessageRole.family.value,
        )
        if verdict.fact is None:
            log.debug("A proposed fact was dropped (%s): %s", verdict.reason, proposed.text)
            continue
        kept = verdict.fact
        read[proposed.source].append(kept)
        draft = facts.FactDraft(
            kind=KIND_OF.get(kept.attribute, proposed.type),
            text=kept.text,
            subject=kept.subject,
            attribute=None if kept.attribute == "other" else kept.attribute,
            value=kept.value,
            event_time=_event_time(proposed, message, elder),
            confidence=min(proposed.confidence, 0.8),
            sensitive=kept.sensitive,
            language=message.language,
        )
        _keep(session, scope, outcome, draft, message)
    run.facts = outcome.created + outcome.merged
    for message in messages:
        message.extraction_pending = False
        session.add(message)
    session.add(run)
    session.flush()
    return outcome


def _ready_elders(session: Session, now: datetime, quiet: timedelta) -> list[str]:
    rows = session.exec(
        select(Message.elder_id, sa.func.count(), sa.func.max(Message.said_at))
        .where(Message.extraction_pending == sa.true())
        .group_by(Message.elder_id)
    ).all()
    return [
        elder_id
        for elder_id, count, last in rows
        if count >= BATCH or (last is not None and last <= now - quiet)
    ]


def extract_pending(
    engine: sa.Engine,
    model: BaseChatModel | None,
    *,
    elder_id: str | None = None,
    quiet: timedelta = QUIET,
    now: datetime | None = None,
    rules: bool = True,
) -> list[Outcome]:
    """Extract from what is pending, one batch per transaction, for elders who have paused."""
    outcomes = []
    moment = now or utcnow()
    with session_scope(engine) as session:
        elders = [elder_id] if elder_id else _ready_elders(session, moment, quiet)
    reader = model
    for owner in elders:
        while True:
            with session_scope(engine) as session:
                batch = list(
                    session.exec(
                        select(Message)
                        .where(Message.elder_id == owner, Message.extraction_pending == sa.true())
                        .order_by(Message.said_at, Message.id)
                        .limit(BATCH)
                    )
                )
                if not batch:
                    break
                outcome = extract_batch(session, reader, owner, batch, rules=rules)
                outcomes.append(outcome)
            if outcome.model_missed and reader is not None:
                # The rest of this round is read by the rules alone; the next round asks again.
                log.warning(
                    "Facts were read by the rules alone: the language model did not answer (%s)",
                    outcome.model_missed,
                )
                reader = None
    return outcomes


@dataclass(frozen=True)
class ExtractionStatus:
    pending: int
    ok: int
    failed: int
    failures: list[ExtractionRun]


def extraction_status(session: Session, scope: ElderScope) -> ExtractionStatus:
    elder_id = scope.elder_id
    pending = session.exec(
        select(sa.func.count())
        .select_from(Message)
        .where(Message.elder_id == elder_id, Message.extraction_pending == sa.true())
    ).one()
    counts = dict(
        session.exec(
            select(ExtractionRun.status, sa.func.count())
            .where(ExtractionRun.elder_id == elder_id)
            .group_by(ExtractionRun.status)
        ).all()
    )
    failures = list(
        session.exec(
            select(ExtractionRun)
            .where(ExtractionRun.elder_id == elder_id, ExtractionRun.status == "failed")
            .order_by(ExtractionRun.id.desc())  # type: ignore[union-attr]
            .limit(10)
        )
    )
    return ExtractionStatus(
        pending=int(pending),
        ok=counts.get("ok", 0),
        failed=counts.get("failed", 0),
        failures=failures,
    )


class BackgroundExtractor:
    """A thread in the server process that extracts facts when elders pause."""

    def __init__(
        self,
        engine: sa.Engine,
        model: BaseChatModel | None,
        *,
        every: float = 30.0,
        also: Callable[[], object] | None = None,
    ) -> None:
        """`also`: more reading for the model after each round (the concern checks' second look)."""
        self.engine, self.model, self.every, self.also = engine, model, every, also
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fact-extractor")

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for outcome in extract_pending(self.engine, self.model):
                    if outcome.run.status == "failed":
                        log.error(
                            "Facts could not be read from messages %s: %s",
                            outcome.run.message_ids,
                            outcome.run.error,
                        )
            except Exception:  # keep the thread alive; the next round tries again
                log.exception("Fact extraction stopped for a moment")
            if self.also is not None:
                try:
                    self.also()
                except Exception:
                    log.exception("The second look at the elder's words stopped for a moment")
            self._wake.wait(self.every)
            self._wake.clear()

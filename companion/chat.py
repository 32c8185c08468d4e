"""One conversation turn: store the elder's words, read what the elder is doing, and hand the
turn to its handler. Code decides what is said about the elder's life (the memory turned to
face them, the words of care); the model only phrases what is left, and every sentence it
writes is checked before the elder sees it."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from sqlmodel import Session, select

from companion.intent import (
    Reading,
    TurnKind,
    about_someone_else,
    asked_slots,
    is_question,
    named_people,
    named_relations,
    read_turn,
    slots_held,
)
from companion.persona import Voice, voice
from companion.reminders.asked import Asked
from companion.reminders.firing import acknowledge, clock, reminder_title
from companion.reminders.schedule import ReminderDraft, create_reminder
from companion.signals import care_reply, observe
from companion.style import StyleGuard, join_sentences, keep_written
from memory import store
from memory.access import ElderScope
from memory.db import session_scope
from memory.errors import InvalidInput, LLMUnavailable
from memory.index import IndexUnavailable, VectorIndex
from memory.indexer import drain_batch
from memory.language import CJK
from memory.lexical import query_terms, terms
from memory.models import (
    Elder,
    FactStatus,
    Memory,
    MemorySource,
    Message,
    MessageRole,
    Profile,
)
from memory.search import Hit, Query, search
from memory.timeutil import in_quiet_hours, zone

log = logging.getLogger(__name__)

_HISTORY_CHARS = 300  # per message in the prompt: long dictation must not crowd out the rest
_QUOTE_CHARS = 80  # of the elder's words, when saying where a memory came from


@dataclass(frozen=True)
class Grounding:
    """When recalled memories count as support for an answer about the elder's past. Cosine
    similarities are e5-small's; calibrated on bench/chat.py's probes."""

    similarity_with_words: float = 0.80  # enough when the question's words are shared too
    similarity_alone: float = 0.93  # enough on its own (a paraphrase)
    recall_k: int = 4
    # The conversation so far: up to `history_messages`, and the window moves on by
    # `history_step` messages at a time, so that the start of the prompt stays the same from
    # turn to turn and llama.cpp does not read it again.
    history_messages: int = 8
    history_step: int = 4
    history_hours: float = 6.0


@dataclass
class Turn:
    """A prepared turn: the elder's message is stored; what remains is the reply."""

    elder_message: Message
    voice: Voice
    # "answer" (the model), "not_known" (the gate), "source" (how it knows), "reminder_done",
    # "reminder_set" (the elder asked for a reminder), "care" (a fall, talk of self-harm)
    kind: str
    reading: Reading | None = None
    prompt: list[BaseMessage] = field(default_factory=list)
    # Said by code before the model (the memory turned to face the elder, words of care); the
    # model adds at most `model_sentences`, checked against `note` and the elder's message.
    lead: list[str] = field(default_factory=list)
    model_sentences: int = 3
    note: str = ""
    fallback: list[str] = field(default_factory=list)  # when none of the model's words pass
    fixed_reply: str | None = None
    fixed_memory_ids: list[int] = field(default_factory=list)
    recalled: list[Hit] = field(default_factory=list)
    supported: list[Hit] = field(default_factory=list)
    degraded: bool = False
    words_vector: list[float] | None = None  # the elder's words, embedded once for the turn
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Reply:
    message: Message
    text: str
    used: list[Hit | Memory]
    repairs: dict[str, int]


_WHO = re.compile(r"誰|谁|\bwho(?:m|se)?\b", re.IGNORECASE)
_PREFERENCE = {FactStatus.confirmed.value: 0, None: 1, FactStatus.unconfirmed.value: 2}
_FUNCTION_CHARS = frozenset("我你您他她它的了吗嗎呢吧啊")


# Time words shared by any two sentences about one's past: "小時候" and "當兵的時候" share 时候.
_TIME_TERMS = frozenset("时候 候在 的时 小时 那时 当时".split())  # noqa: SIM905
# A slot held by its very value (当会计, "I was a nurse") weighs more than one held by a small
# word ("在" for where).
_STRONG_SLOTS = frozenset({"name", "job", "school", "age", "marriage", "likes"})


def _content(found: list[str]) -> set[str]:
    return {t for t in found if not _FUNCTION_CHARS.intersection(t) and t not in _TIME_TERMS}


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most].rstrip() + "…"


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


def _second_person(text: str, language: str) -> str:
    """The elder's own words, turned to face them: "我女兒" becomes "您女兒", "my" becomes "your"."""
    if language.startswith("zh"):
        return text.replace("我們", "您們").replace("我", "您")
    swaps = {
        "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself",
        "i'm": "you're", "i've": "you've", "i'd": "you'd", "i'll": "you'll", "am": "are",
        "we": "you", "our": "your", "us": "you",
    }  # fmt: skip
    text = re.sub(
        r"\b(?:i'm|i've|i'd|i'll|i|me|my|mine|myself|am|we|our|us)\b",
        lambda m: swaps[m.group(0).lower()],
        text.replace("\u2019", "'"),
        flags=re.IGNORECASE,
    )
    return re.sub(r"\byou was\b", "you were", text)


_SENTENCE_END = re.compile(
    r"(?<=[。！？!?])|(?<!\bSt\.)(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<=\.)\s+"
)
_CLAUSE_CUT = re.compile(r"(?<=[，,；;])")


def _answering_part(memory_text: str, question: str) -> str:
    """The sentence of a memory that answers the question (the one sharing most of its words
    and slots), cut to its clauses that do when it is long."""
    asked = set(query_terms(question))
    slots = asked_slots(question)

    def score(part: str) -> tuple[int, int]:
        return (len(slots & slots_held(part)) + len(asked & set(terms(part))), -len(part))

    parts = [p.strip() for p in _SENTENCE_END.split(memory_text) if p and p.strip()]
    best = max(parts, key=score) if parts else memory_text.strip()
    long = len(CJK.findall(best)) > 40 or (not CJK.search(best) and len(best.split()) > 28)
    if long:
        clauses = [c for c in _CLAUSE_CUT.split(best) if c.strip()]
        i = max(range(len(clauses)), key=lambda k: score(clauses[k]))
        best = "".join(clauses[max(0, i - 1) : i + 1]).strip().rstrip("，,；;")
    return best


_TIME_LEAD_ZH = re.compile(
    r"^(?:今天|昨天|前天|剛才|刚才|早上|上午|中午|下午|晚上|今早|今晚|那天)+"
)
_SUBJECT_ZH = re.compile(r"^(?:我們|我们|我)")


def _topic(text: str, language: str) -> str | None:
    """A few of the elder's own words for what they told: 去公園散步, your aunt's cottage."""
    if language.startswith("zh"):
        clause = re.split(r"[，,。.!！？?；;]", text.strip())[0]
        for _ in range(2):
            clause = _SUBJECT_ZH.sub("", _TIME_LEAD_ZH.sub("", clause))
        clause = re.sub(r"^(?:都|也|就|又|還|还|常常|每天)", "", clause)
        # A few words, never the elder's sentence said back, and never "我" for the elder.
        if 2 <= len(clause) <= 6 and CJK.fullmatch(clause[0]) and "我" not in clause:
            return clause
        return None
    found = re.search(
        r"\b(?:my|our) ((?:[a-z]+'s )?[a-z]+(?: [a-z]+)?)", text.replace("\u2019", "'")
    )
    if found:
        return "your " + found.group(1)
    return None


def _your(relation: str, language: str) -> str:
    """ "先生" as the elder's own: 您先生, your husband."""
    return f"您{relation}" if language.startswith("zh") else f"your {relation}"


class Companion:
    """The conversation, for one process: the chat model and the memory index it recalls from."""

    def __init__(
        self,
        engine: sa.Engine,
        index: VectorIndex | None,
        model: BaseChatModel,
        *,
        grounding: Grounding = Grounding(),
    ) -> None:
        self.engine = engine
        self.index = index
        self.model = model
        self.grounding = grounding
        self.alert_by_email = False  # set when the server has SMTP for the family's alerts

    @property
    def model_error(self) -> str | None:
        """Why the language model cannot be used, when loading it was tried and failed (the
        bundled model's file damaged or missing, llama.cpp refusing it); None otherwise. Chat
        answers 503 meanwhile; readiness checks can say why."""
        return getattr(self.model, "load_error", None)

    def warm_up(self, language: str) -> None:
        """Load the model and read the persona once, so that the elder's first turn is quick."""
        started = time.perf_counter()
        try:
            self.model.invoke(
                [SystemMessage(content=voice(language).persona), HumanMessage(content="…")],
                max_tokens=1,
            )
        except Exception as exc:  # the first real turn reports it, in the elder's words
            log.warning("The language model could not be prepared: %s", exc)
            return
        log.info("The companion is ready to talk (%.1f s)", time.perf_counter() - started)

    # --- before the model --------------------------------------------------------------

    def prepare(
        self, session: Session, scope: ElderScope, text: str, *, conversation_id: str | None = None
    ) -> Turn:
        """Store the elder's words (they become a memory at once) and decide how to answer."""
        started = time.perf_counter()
        message, _ = store.add_message(
            session,
            scope,
            store.MessageDraft(text=text, role=MessageRole.elder, conversation_id=conversation_id),
        )
        session.commit()  # the elder's words are kept whatever happens next
        language = message.language or scope.elder_language
        turn = Turn(elder_message=message, voice=voice(language), kind="answer")
        turn.timings["store_ms"] = _ms(started)

        heard = observe(session, message, email=self.alert_by_email)
        session.commit()  # how the elder seems, and the family's alerts, are kept at once
        index_model = getattr(self.index.embedder, "name", None) if self.index else None
        if heard is not None and heard.embedder == index_model:  # recall reuses the vector
            turn.words_vector = heard.vector
        care = care_reply(heard, turn.voice) if heard else None
        if care is not None:  # a fall, or talk of self-harm: the family is told at once
            turn.kind = "care"
            turn.fixed_reply = care
            return turn

        done = acknowledge(session, scope, message)
        if done is not None:  # "我吃了": the reminder is done, with the time and these words
            session.commit()
            turn.kind = "reminder_done"
            turn.fixed_reply = turn.voice.say(
                "reminder_done", title=reminder_title(done, turn.voice)
            )
            return turn

        reading = read_turn(text, message.said_at.astimezone(zone(scope.elder_timezone)))
        turn.reading = reading
        handler = {
            TurnKind.reminder_request: self._reminder_request,
            TurnKind.how_known: self._explain_source,
            TurnKind.today: self._today,
            TurnKind.recall: self._recall_answer,
        }.get(reading.kind, self._converse)
        handler(session, scope, turn)
        return turn

    # --- one handler for each kind of turn ----------------------------------------------------

    def _reminder_request(self, session: Session, scope: ElderScope, turn: Turn) -> None:
        """ "提醒我明天下午三點去看醫生": set, in code."""
        assert turn.reading is not None and turn.reading.reminder is not None
        turn.kind = "reminder_set"
        turn.fixed_reply = self._set_reminder(session, scope, turn.reading.reminder, turn.voice)
        session.commit()

    def _today(self, session: Session, scope: ElderScope, turn: Turn) -> None:
        """The date, the weather the family set and today's reminders: from code, never guessed."""
        from companion.proactive import _greeting

        v = turn.voice
        local = turn.elder_message.said_at.astimezone(zone(scope.elder_timezone))
        weekday = v.say("weekdays").split(",")[local.weekday()]
        parts = [v.say("today_is", date=v.date(local.date()), weekday=weekday)]
        elder = session.get(Elder, scope.elder_id)
        assert elder is not None
        greeting = _greeting(local.date(), v)(session, elder)
        rest = greeting.removeprefix(v.say("greeting", date=v.date(local.date())))
        rest = rest.removesuffix(v.say("greeting_end")).strip()
        if rest:
            parts.append(rest)
        turn.fixed_reply = join_sentences(parts, v.language)

    def _recall_answer(self, session: Session, scope: ElderScope, turn: Turn) -> None:
        """A question about the elder's own past: the supporting memory turned to face them,
        built in code; the gate says kindly that it does not know when nothing supports it."""
        self._recall(session, scope, turn)
        if not turn.supported:
            turn.kind = "not_known"
            turn.fixed_reply = turn.voice.say("not_known")
            return
        core = self._facing(turn.supported[0], turn)
        turn.lead = [core]
        turn.model_sentences = 1
        turn.fallback = []
        self._finish_prompt(session, scope, turn, turn.voice.say("hint_recall", said=core))

    def _converse(self, session: Session, scope: ElderScope, turn: Turn) -> None:
        """A share, a feeling, pain or small talk: words of care from code where they are due,
        then what the model says, checked."""
        reading = turn.reading
        assert reading is not None
        v = turn.voice
        self._recall(session, scope, turn)
        if reading.kind == TurnKind.feeling:
            who = reading.names[0] if reading.names else None
            if reading.feeling == "grief":
                if who is None and reading.relation:
                    who = _your(reading.relation, v.language)
                turn.lead = [v.say("grief_named", who=who) if who else v.say("grief")]
            else:
                turn.lead = [v.say(reading.feeling or "joy")]
            turn.model_sentences = 1
            hint = v.say("hint_care", said=join_sentences(turn.lead, v.language))
        elif reading.kind == TurnKind.unwell:
            part = reading.body_part
            turn.lead = [v.say("pain_named", part=part) if part else v.say("pain")]
            turn.fallback = [v.say("pain_family")]
            turn.model_sentences = 1
            hint = v.say("hint_care", said=join_sentences(turn.lead, v.language))
        elif reading.kind == TurnKind.share:
            topic = _topic(reading.text, v.language)
            thanks = v.say("share_topic", topic=topic) if topic else v.say("share")
            turn.fallback = [thanks, v.say("share_question")]
            turn.model_sentences = 2
            hint = v.say("hint_share")
        else:
            turn.fallback = [v.say("small_talk")]
            turn.model_sentences = 2
            hint = v.say("hint_small_talk")
        turn.lead = [self._written(s, turn) for s in turn.lead]
        self._finish_prompt(session, scope, turn, hint)

    def _recall(self, session: Session, scope: ElderScope, turn: Turn) -> None:
        """The memories that bear on the elder's words, and those that can ground an answer."""
        text = turn.elder_message.text
        started = time.perf_counter()
        self._catch_up_index(scope.elder_id)
        result = search(
            session,
            scope,
            self.index,
            Query(
                text=text,
                k=self.grounding.recall_k,
                until=turn.elder_message.said_at,
                roles=(MessageRole.elder.value, MessageRole.family.value),
            ),
            query_vector=turn.words_vector,
        )
        turn.degraded = result.degraded
        hits = [
            h
            for h in result.hits
            # A sensitive fact (a death) is not raised on the companion's own initiative: only
            # when the elder's words name it.
            if not h.memory.sensitive or self._shared_content(text, h.memory.text) >= 1
        ]
        # Confirmed facts first, then the elder's words, then what is not yet confirmed.
        hits.sort(key=lambda h: _PREFERENCE.get(h.memory.status, 1))
        turn.recalled = [h for h in hits if self._relevant(text, h)]
        if turn.reading is not None and turn.reading.kind == TurnKind.recall:
            turn.supported = [h for h in turn.recalled if self._supports(text, h)]
        turn.timings["retrieval_ms"] = _ms(started)

    def _finish_prompt(self, session: Session, scope: ElderScope, turn: Turn, hint: str) -> None:
        started = time.perf_counter()
        turn.note = "\n".join(
            [h.memory.text for h in turn.recalled]
            + [*turn.lead, self._profile_words(session, scope)]
        )
        turn.prompt = self._prompt(session, scope, turn, hint)
        turn.timings["prompt_ms"] = _ms(started)

    def _profile_words(self, session: Session, scope: ElderScope) -> str:
        profile = session.get(Profile, scope.elder_id)
        if profile is None or not profile.sections:
            return ""
        return "\n".join(t for texts in profile.sections.values() for t in texts)

    def _written(self, sentence: str, turn: Turn) -> str:
        """In the elder's script, with the elder's own spelling of the words they wrote."""
        grounds = "\n".join([turn.elder_message.text, *(h.memory.text for h in turn.recalled)])
        return keep_written(turn.voice.in_script(sentence), grounds)

    def _facing(self, hit: Hit, turn: Turn) -> str:
        """The memory that answers, turned to face the elder: what it says and nothing more."""
        memory = hit.memory
        language = turn.voice.language
        text = _answering_part(memory.text, turn.elder_message.text)
        if memory.role == MessageRole.elder.value:
            text = _second_person(text, memory.language or language)
            if language == "en":
                text = text[:1].upper() + text[1:]
        else:
            speaker = memory.speaker or turn.voice.say("family_word")
            text = turn.voice.say("family_said", speaker=speaker, words=text)
        if not re.search(r"[。！？.!?」”\"]$", text):
            text += "。" if language.startswith("zh") else "."
        return self._written(text, turn)

    def _set_reminder(self, session: Session, scope: ElderScope, asked: Asked, v: Voice) -> str:
        if asked.at is None:
            return v.say("reminder_when")
        elder = session.get(Elder, scope.elder_id)
        assert elder is not None
        if in_quiet_hours(asked.at, elder.quiet_hours_start, elder.quiet_hours_end):
            return v.say("reminder_quiet")
        try:  # checked before anything is written
            create_reminder(
                session,
                scope,
                ReminderDraft(title=asked.title, kind=asked.kind, starts_at=asked.at),
            )
        except InvalidInput:
            return v.say("reminder_past")
        title = asked.title if v.language == "en" else v.in_script(asked.title)
        return v.say(
            "reminder_set",
            date=v.date(asked.at.date()),
            time=clock(asked.at, v.language),
            title=title,
        )

    def _catch_up_index(self, elder_id: str) -> None:
        """Index what this elder said a moment ago, so the dense side finds it too."""
        if self.index is None:
            return
        try:
            drain_batch(self.engine, self.index, batch=8, elder_id=elder_id)
        except IndexUnavailable as exc:
            log.warning("Recalling without the vector index: %s", exc)

    def _overlap(self, question: str, memory_text: str) -> int:
        return len(set(query_terms(question)) & set(terms(memory_text)))

    def _shared_content(self, question: str, memory_text: str) -> int:
        """Shared words that carry content: 我年 or 的歌 match any sentence about oneself."""
        return len(_content(query_terms(question)) & _content(terms(memory_text)))

    def _relevant(self, question: str, hit: Hit) -> bool:
        if is_question(hit.memory.text):  # an earlier question holds no answer
            return False
        if self._overlap(question, hit.memory.text) >= 1:
            return True
        strong = asked_slots(question) & _STRONG_SLOTS
        if strong and strong <= slots_held(hit.memory.text):
            return True  # "What was my job?": "I was a nurse" holds the answer in its own words
        return hit.similarity is not None and hit.similarity >= self.grounding.similarity_with_words

    def _supports(self, question: str, hit: Hit) -> bool:
        """Whether this memory can ground an answer about the elder's past. It must name the
        same kind of person the question names and hold what the question asks for (a name,
        a place, a job…); then its shared words, the matched slots and person, and its
        closeness in meaning must add up."""
        memory = hit.memory.text
        asked = named_relations(question)
        held = named_relations(memory)
        # Every person the question names: "my daughter's husband" needs both in the memory.
        if not all(kinds & held for kinds in named_people(question)):
            return False  # asked about a brother, the memory is about a daughter
        slots = asked_slots(question)
        if not asked and slots and not _WHO.search(question) and about_someone_else(memory):
            return False  # asked where the elder lives, the memory says where her daughter does
        if not slots <= slots_held(memory):
            return False  # asked where she lives, the memory only gives her name
        weight = sum(2 if slot in _STRONG_SLOTS else 1 for slot in slots)
        evidence = self._shared_content(question, memory) + weight + (1 if asked else 0)
        needed = 2 if CJK.search(question) else 1
        if hit.similarity is None:  # the vector index is down: words alone
            return evidence >= needed + 1
        if hit.similarity >= self.grounding.similarity_alone:
            return True
        return evidence >= needed and hit.similarity >= self.grounding.similarity_with_words

    def _memory_line(self, hit: Hit, turn: Turn, elder_timezone: str) -> str:
        memory = hit.memory
        day = turn.voice.date(memory.said_at.astimezone(zone(elder_timezone)).date())
        words = _clip(memory.text, _HISTORY_CHARS)
        if memory.role == MessageRole.elder.value:
            said = turn.voice.say("you_said")
            words = _second_person(words, memory.language or turn.voice.language)
        else:
            said = memory.speaker or MessageRole.family.value
        if memory.status == FactStatus.unconfirmed.value:
            said += f" ({turn.voice.say('unconfirmed')})"
        return f"[{memory.id}] {day} {said}: {words}"

    def _history(self, session: Session, scope: ElderScope, turn: Turn) -> list[BaseMessage]:
        now = turn.elder_message.said_at
        recent = list(
            session.exec(
                select(Message)
                .where(
                    Message.elder_id == scope.elder_id,
                    Message.role.in_([MessageRole.elder.value, MessageRole.companion.value]),  # type: ignore[attr-defined]
                    Message.said_at >= now - timedelta(hours=self.grounding.history_hours),
                    Message.id != turn.elder_message.id,
                )
                .order_by(Message.said_at.desc(), Message.id.desc())  # type: ignore[attr-defined]
                .limit(5 * self.grounding.history_messages)
            )
        )[::-1]
        step, most = self.grounding.history_step, self.grounding.history_messages
        start = max(0, (len(recent) - (most - step)) // step * step) if len(recent) > most else 0
        history: list[BaseMessage] = []
        for message in recent[start:]:
            text = _clip(message.text, _HISTORY_CHARS)
            if message.role == MessageRole.elder.value:
                history.append(HumanMessage(content=text))
            else:
                history.append(AIMessage(content=text))
        return history

    def _prompt(
        self, session: Session, scope: ElderScope, turn: Turn, hint: str = ""
    ) -> list[BaseMessage]:
        """The persona first, unchanged from turn to turn, so the embedded model keeps it read."""
        lines = [self._memory_line(h, turn, scope.elder_timezone) for h in turn.recalled]
        today = turn.voice.date(
            turn.elder_message.said_at.astimezone(zone(scope.elder_timezone)).date()
        )
        body = turn.voice.turn.format(
            today=today,
            memories="\n".join(lines) or turn.voice.say("no_memories"),
            message=turn.elder_message.text,
        )
        if hint:
            body += "\n" + hint
        # The elder's words go in as they were said, so that next turn's history repeats this
        # turn's prompt exactly and llama.cpp reuses it; memories go in a note just before.
        # The profile changes once a night: after the persona, it stays in the reused prefix.
        profile = session.get(Profile, scope.elder_id)
        persona = turn.voice.persona
        if profile is not None and profile.sections:
            persona += "\n\n" + self._profile_text(profile, turn)
        return [
            SystemMessage(content=persona),
            *self._history(session, scope, turn),
            SystemMessage(content=body),
            HumanMessage(content=_clip(turn.elder_message.text, _HISTORY_CHARS)),
        ]

    def _profile_text(self, profile: Profile, turn: Turn) -> str:
        lines = [turn.voice.say("profile_title")]
        for section, texts in profile.sections.items():
            label = turn.voice.replies.get(f"profile_{section}", section)
            facing = [_second_person(t, turn.voice.language) for t in texts]
            lines.append(
                f"- {label}: "
                + ("；" if turn.voice.language.startswith("zh") else "; ").join(facing)
            )
        return "\n".join(lines)

    def _explain_source(self, session: Session, scope: ElderScope, turn: Turn) -> None:
        """'How do you know?': the date and the words of what the last reply drew on."""
        turn.kind = "source"
        last = session.exec(
            select(Message)
            .where(
                Message.elder_id == scope.elder_id,
                Message.role == MessageRole.companion.value,
                Message.id < (turn.elder_message.id or 0),
            )
            .order_by(Message.id.desc())  # type: ignore[union-attr]
            .limit(1)
        ).first()
        ids = list(last.used_memory_ids or []) if last else []
        sources = self._sources(session, scope, ids)
        if not sources:
            turn.fixed_reply = turn.voice.say("source_none")
            return
        parts = []
        for memory_id, message in sources[:2]:
            day = turn.voice.date(message.said_at.astimezone(zone(scope.elder_timezone)).date())
            words = _clip(message.text, _QUOTE_CHARS)
            if message.role == MessageRole.elder.value:
                parts.append(turn.voice.say("source_intro", date=day, words=words))
            else:
                speaker = message.speaker or MessageRole.family.value
                parts.append(
                    turn.voice.say("source_family", speaker=speaker, date=day, words=words)
                )
            turn.fixed_memory_ids.append(memory_id)
            memory = session.get(Memory, memory_id)
            if memory is not None:
                turn.recalled.append(
                    Hit(memory=memory, score=1.0, sources=[(message.id or 0, message.external_id)])
                )
        turn.fixed_reply = join_sentences(parts, turn.voice.language)

    def _sources(
        self, session: Session, scope: ElderScope, memory_ids: list[int]
    ) -> list[tuple[int, Message]]:
        if not memory_ids:
            return []
        rows = session.exec(
            select(MemorySource.memory_id, Message)
            .join(Message, Message.id == MemorySource.message_id)
            .join(Memory, Memory.id == MemorySource.memory_id)
            .where(
                MemorySource.memory_id.in_(memory_ids),  # type: ignore[attr-defined]
                Memory.elder_id == scope.elder_id,
                Message.elder_id == scope.elder_id,
            )
            .order_by(Message.said_at, Message.id)
        )
        return [(int(memory_id), message) for memory_id, message in rows]

    # --- the reply -----------------------------------------------------------------------

    def sentences(self, turn: Turn, guard: StyleGuard) -> Iterator[str]:
        """The reply, a checked sentence at a time: what code says first, then the model's
        sentences that pass the checks, or a template when none does. Raises LLMUnavailable
        (in the elder's language) when the model cannot answer and code had nothing to say;
        nothing is yielded then."""
        if turn.fixed_reply is not None:
            yield turn.fixed_reply
            return
        started = time.perf_counter()
        reading = turn.reading
        guard.ground(
            message=turn.elder_message.text,
            note=turn.note,
            said=tuple(turn.lead),
            grief=reading is not None and reading.feeling == "grief",
            facts_said=turn.kind == "answer" and bool(turn.supported),
            most=turn.model_sentences,
        )
        if turn.lead:
            turn.timings["first_sentence_ms"] = _ms(started)
            yield from turn.lead
        first = not turn.lead
        said_by_model = 0
        try:
            if not guard.full:
                # A follow-up of one sentence needs few words: the elder does not wait for more.
                most_tokens = 60 if turn.model_sentences <= 1 else 120
                for chunk in self.model.stream(turn.prompt, max_tokens=most_tokens):
                    turn.timings.setdefault("first_token_ms", _ms(started))
                    for sentence in guard.feed(str(chunk.content)):
                        if first:
                            turn.timings["first_sentence_ms"] = _ms(started)
                            first = False
                        said_by_model += 1
                        yield sentence
                    if guard.full or sum(guard.repairs.values()) >= 4:
                        break
        except Exception as exc:  # the model or its server failed
            if isinstance(exc, LLMUnavailable):
                log.error("The language model is unavailable: %s", exc.message)
            else:
                log.error("The language model failed: %s: %s", type(exc).__name__, exc)
            if not turn.lead:  # the elder sees one sentence
                raise LLMUnavailable(turn.voice.say("resting")) from exc
            guard.finish()
            turn.timings["generation_ms"] = _ms(started)
            return
        rest = guard.finish()
        said_by_model += len(rest)
        if not said_by_model:  # none of the model's words passed: a template instead
            fallback = turn.fallback[: turn.model_sentences] if turn.lead else turn.fallback
            if not turn.lead and not fallback:
                fallback = [turn.voice.say("fallback")]
            if fallback:
                guard.replace()
            rest = [self._written(s, turn) for s in fallback]
        yield from rest
        turn.timings["generation_ms"] = _ms(started)

    def store_reply(
        self, scope: ElderScope, turn: Turn, sentences: list[str], guard: StyleGuard | None
    ) -> Reply:
        """Keep the reply, with the memories it drew on; in its own transaction."""
        text = join_sentences(sentences, turn.voice.language)
        used: list[Hit] = self._drew_on(turn, text)
        used_ids = turn.fixed_memory_ids or [h.memory.id for h in used if h.memory.id]
        with session_scope(self.engine) as session:
            reply, _ = store.add_message(
                session,
                scope,
                store.MessageDraft(
                    text=text,
                    role=MessageRole.companion,
                    speaker="智安",
                    language=turn.voice.language,
                    conversation_id=turn.elder_message.conversation_id,
                    used_memory_ids=used_ids,
                ),
            )
            session.expunge(reply)
        repairs = dict(guard.repairs) if guard else {}
        if repairs:
            log.info("Reply %s repaired for the elder: %s", reply.id, repairs)
        return Reply(message=reply, text=text, used=used, repairs=repairs)

    def _drew_on(self, turn: Turn, reply: str) -> list[Hit]:
        if turn.kind != "answer":
            return []
        reply_terms = set(terms(reply))
        used = [h for h in turn.recalled if len(reply_terms & set(terms(h.memory.text))) >= 2]
        for hit in turn.supported:
            if hit not in used and len(reply_terms & set(terms(hit.memory.text))) >= 1:
                used.append(hit)
        return used

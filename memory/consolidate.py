"""Nightly consolidation: a "this is me" profile from confirmed facts, and a summary of each
day of conversation (by the language model when there is one, else the elder's own words)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from sqlmodel import Session, select

from memory import chatmodel, facts, prompts, visibility
from memory.access import ElderScope
from memory.fact_checks import grounded_in
from memory.models import (
    DaySummary,
    Elder,
    FactStatus,
    Memory,
    MemorySource,
    Message,
    MessageRole,
    Profile,
    utcnow,
)
from memory.timeutil import zone

log = logging.getLogger(__name__)

PROFILE_CHARS = 600  # the profile's budget in the prompt (about 300-400 tokens)

_SECTIONS = {
    "people": ("person", "relationship"),
    "places": ("place",),
    "routines": ("routine",),
    "likes": ("preference",),
    "health": ("health",),
    "feelings": ("feeling",),
    "life": ("event",),
}


def build_profile(session: Session, scope: ElderScope) -> Profile:
    """Confirmed, current, not sensitive facts, newest first in each section, cut to the budget.
    The profile is the elder's own (it opens their chat): built in their scope."""
    elder_id = scope.elder_id
    elder = session.get(Elder, elder_id)
    assert elder is not None
    rows = facts.current_facts(
        session, scope, statuses=[FactStatus.confirmed], sensitive=False, newest_first=True
    )
    by_kind: dict[str, list[Memory]] = {}
    for fact in _grounded(session, rows):
        by_kind.setdefault(fact.kind, []).append(fact)
    sections: dict[str, list[str]] = {}
    if elder.preferred_name:
        sections["name"] = [elder.preferred_name]
    used: list[int] = []
    budget = PROFILE_CHARS
    # Round robin over the sections, so that one long list does not crowd out the rest.
    queues = {
        name: [f for k in kinds for f in by_kind.get(k, [])] for name, kinds in _SECTIONS.items()
    }
    while budget > 0 and any(queues.values()):
        for name, queue in queues.items():
            if not queue:
                continue
            fact = queue.pop(0)
            if len(fact.text) > budget:
                budget = 0
                break
            sections.setdefault(name, []).append(fact.text)
            used.append(fact.id or 0)
            budget -= len(fact.text)
    profile = session.get(Profile, elder_id) or Profile(elder_id=elder_id, sections={}, fact_ids=[])
    profile.sections, profile.fact_ids, profile.built_at = sections, used, utcnow()
    session.add(profile)
    session.flush()
    return profile


def _grounded(session: Session, rows: list[Memory]) -> list[Memory]:
    """What the companion extracted counts only where its value is the words of a statement it
    came from (what the family or the elder wrote stands as written)."""
    extracted = [f.id for f in rows if f.author_role == "companion"]
    said: dict[int, list[str]] = {}
    for memory_id, text in session.exec(
        select(MemorySource.memory_id, Message.text)
        .join(Message, Message.id == MemorySource.message_id)
        .where(MemorySource.memory_id.in_(extracted))  # type: ignore[attr-defined]
    ):
        said.setdefault(memory_id, []).append(text)
    return [
        f
        for f in rows
        if f.author_role != "companion" or grounded_in(f.value, said.get(f.id or 0, []))
    ]


def _day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=zone(timezone))
    return start, start + timedelta(days=1)


def summarise_day(
    session: Session, scope: ElderScope, day: date, model: BaseChatModel | None
) -> DaySummary | None:
    """The day's summary from what the elder and family said (what anyone but the elder may
    see: private memories and their words left out); None when nothing was said that day."""
    shared = visibility.shared_view(scope)
    elder_id = scope.elder_id
    elder = session.get(Elder, elder_id)
    assert elder is not None
    start, end = _day_bounds(day, elder.timezone)
    messages: Sequence[Message] = list(
        session.exec(
            select(Message)
            .where(
                visibility.message_clause(shared),
                Message.said_at >= start,
                Message.said_at < end,
                Message.role.in_([MessageRole.elder.value, MessageRole.family.value]),  # type: ignore[attr-defined]
            )
            .order_by(Message.said_at, Message.id)
        )
    )
    messages = visibility.withhold_messages(session, shared, messages)
    if not messages:
        return None
    text, written_by = None, "extract"
    if chatmodel.available(model):
        try:
            lines = "\n".join(f"- {m.text}" for m in messages[:60])
            reply = model.invoke(
                [SystemMessage(content=prompts.text("day_summary")), HumanMessage(content=lines)],
                max_tokens=200,
                temperature=0.2,
            )
            text, written_by = str(reply.content).strip() or None, "model"
        except Exception as exc:  # the elder's own words stand in; the reason is logged
            log.warning("The day's summary could not be written by the model: %s", exc)
    if not text:
        text, written_by = " / ".join(m.text for m in messages[:5]), "extract"
    summary = session.exec(
        select(DaySummary).where(DaySummary.elder_id == elder_id, DaySummary.day == day)
    ).first() or DaySummary(elder_id=elder_id, day=day, text="", message_ids=[], written_by="")
    summary.text, summary.written_by = text, written_by
    summary.message_ids = [m.id or 0 for m in messages]
    summary.built_at = utcnow()
    session.add(summary)
    session.flush()
    return summary

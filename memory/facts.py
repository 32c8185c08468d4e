"""Facts about the elder's life: kept with their sources, reconciled with what is already known
(a repeat adds a source, a change retires the old fact), reviewed by the family, and every
change written to the fact's history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from memory import visibility
from memory.access import ElderScope, record, record_access
from memory.errors import Conflict, InvalidInput, NotFound
from memory.language import detect_language, fold
from memory.lexical import document_terms
from memory.models import (
    FACT_KINDS,
    FactStatus,
    IndexTombstone,
    Memory,
    MemoryEvent,
    MemorySource,
    Message,
    MessageRole,
    Role,
    utcnow,
)

# Slots that hold one value at a time: a new value retires the old one ("我搬到台北了").
# Each is per subject: the son's move retires the son's old address, never the elder's.
SINGLE_VALUED = frozenset(
    {
        "name",
        "lives_in",
        "job",
        "workplace",
        "spouse",
        "age",
        "marital_status",
        "school",
        "retired",
        "relation",
        "born_in",
        "birth_year",
    }
)
SELF = "self"


@dataclass(frozen=True)
class FactDraft:
    kind: str
    text: str
    subject: str | None = SELF
    attribute: str | None = None
    value: str | None = None
    event_time: datetime | None = None
    confidence: float | None = None
    private: bool = False
    sensitive: bool = False
    language: str | None = None


@dataclass
class Remembered:
    fact: Memory
    action: str  # "created" or "merged"
    retired: list[Memory] = field(default_factory=list)


@dataclass(frozen=True)
class Author:
    """Who a change comes from: the companion (extraction), the elder, or a family member."""

    role: str
    account_id: str | None = None
    name: str | None = None

    @classmethod
    def of(cls, scope: ElderScope) -> Author:
        role = "elder" if scope.actor.role is Role.elder else scope.actor.role.value
        return cls(role=role, account_id=scope.actor.account_id, name=scope.actor.display_name)


COMPANION = Author(role="companion", name="智安")


def _norm(value: str | None) -> str:
    return "".join(fold(value or "").lower().split())


def _snapshot(fact: Memory) -> dict:
    return {
        "kind": fact.kind,
        "text": fact.text,
        "status": fact.status,
        "subject": fact.subject,
        "attribute": fact.attribute,
        "value": fact.value,
        "event_time": fact.event_time.isoformat() if fact.event_time else None,
        "valid_to": fact.valid_to.isoformat() if fact.valid_to else None,
        "superseded_by": fact.superseded_by,
        "private": fact.private,
        "sensitive": fact.sensitive,
    }


def _event(
    session: Session,
    fact: Memory,
    action: str,
    author: Author,
    *,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    session.add(
        MemoryEvent(
            elder_id=fact.elder_id,
            memory_id=fact.id or 0,
            action=action,
            actor_role=author.role,
            actor_account_id=author.account_id,
            actor_name=author.name,
            before=before,
            after=after,
        )
    )


def _check(draft: FactDraft) -> None:
    if draft.kind not in FACT_KINDS:
        raise InvalidInput(f"Unknown fact type '{draft.kind}': use one of {', '.join(FACT_KINDS)}.")
    if not draft.text.strip():
        raise InvalidInput("A fact needs some text; this one is empty.")


# Statuses of a fact that may be used: waiting for review, or confirmed (None: before review
# existed). A rejected fact is kept for its history and used for nothing.
USABLE = (FactStatus.unconfirmed, FactStatus.confirmed)


def current_facts(
    session: Session,
    scope: ElderScope,
    *,
    statuses: Sequence[FactStatus] = USABLE,
    private: bool | None = None,
    sensitive: bool | None = None,
    newest_first: bool = False,
) -> list[Memory]:
    """The facts true now (neither retired nor deleted) that `scope` may see, in `statuses`;
    `private` / `sensitive` True or False keep only those that are, or are not."""
    wanted = [s.value for s in statuses]
    status_clause = Memory.status.in_(wanted)  # type: ignore[union-attr]
    if FactStatus.unconfirmed in statuses:
        status_clause = sa.or_(status_clause, Memory.status.is_(None))  # type: ignore[union-attr]
    query = select(Memory).where(
        visibility.memory_clause(scope),
        Memory.kind.in_(FACT_KINDS),  # type: ignore[attr-defined]
        Memory.valid_to.is_(None),  # type: ignore[union-attr]
        Memory.deleted_at.is_(None),  # type: ignore[union-attr]
        status_clause,
    )
    if private is not None:
        query = query.where(
            Memory.private == sa.true() if private else Memory.private == sa.false()
        )
    if sensitive is not None:
        query = query.where(
            Memory.sensitive == sa.true() if sensitive else Memory.sensitive == sa.false()
        )
    if newest_first:
        query = query.order_by(Memory.said_at.desc(), Memory.id.desc())  # type: ignore[attr-defined]
    else:
        query = query.order_by(Memory.id)
    return list(session.exec(query))


def _current_facts(session: Session, scope: ElderScope) -> list[Memory]:
    """The facts a new one is reconciled with: only those the author may see, so that a write
    never reveals (nor merges into, nor retires) a fact kept from them."""
    return current_facts(session, scope)


def known_people(session: Session, scope: ElderScope) -> dict[str, str]:
    """The people named so far and their relation to the elder ("志明": "兒子"), from the
    current relation facts: so that "志明搬到台北了" is read as 志明's move."""
    return {
        fact.subject: fact.value
        for fact in _current_facts(session, scope)
        if fact.attribute == "relation" and fact.subject and fact.value
    }


def _same_slot(fact: Memory, draft: FactDraft) -> bool:
    return (
        draft.attribute is not None
        and fact.attribute == draft.attribute
        and _norm(fact.subject) == _norm(draft.subject)
    )


def _duplicate(fact: Memory, draft: FactDraft) -> bool:
    if _same_slot(fact, draft) and _norm(draft.value) and _norm(fact.value):
        return _norm(fact.value) == _norm(draft.value)
    return fact.kind == draft.kind and _norm(fact.text) == _norm(draft.text)


def _replaces(old: Memory, draft: FactDraft) -> bool:
    """A new value in a one-value slot: both values known, and different."""
    return (
        draft.attribute in SINGLE_VALUED
        and _same_slot(old, draft)
        and bool(_norm(draft.value))
        and bool(_norm(old.value))
        and _norm(old.value) != _norm(draft.value)
    )


def _was_rejected(session: Session, scope: ElderScope, draft: FactDraft) -> bool:
    rejected = session.exec(
        select(Memory).where(
            Memory.elder_id == scope.elder_id,
            Memory.kind.in_(FACT_KINDS),  # type: ignore[attr-defined]
            Memory.status == FactStatus.rejected.value,
            Memory.deleted_at.is_(None),  # type: ignore[union-attr]
        )
    )
    return any(_duplicate(fact, draft) for fact in rejected)


def remember_fact(
    session: Session,
    scope: ElderScope,
    draft: FactDraft,
    *,
    sources: Sequence[Message],
    author: Author,
) -> Remembered | None:
    """Keep a fact, reconciled with what is known. None when the family rejected it before."""
    _check(draft)
    if author is COMPANION and _was_rejected(session, scope, draft):
        return None
    said_at = max((m.said_at for m in sources), default=utcnow())
    elder_said_it = any(m.role == MessageRole.elder.value for m in sources)
    for fact in _current_facts(session, scope):
        if _duplicate(fact, draft):
            before = _snapshot(fact)
            _add_sources(session, fact, sources)
            if fact.status == FactStatus.unconfirmed.value and (
                elder_said_it or author.role in ("elder", "family")
            ):
                fact.status = FactStatus.confirmed.value  # the elder said it again
            fact.updated_at = utcnow()
            session.add(fact)
            session.flush()
            _event(session, fact, "merged", author, before=before, after=_snapshot(fact))
            return Remembered(fact=fact, action="merged")

    status = FactStatus.unconfirmed if author is COMPANION else FactStatus.confirmed
    fact = Memory(
        elder_id=scope.elder_id,
        kind=draft.kind,
        text=draft.text.strip(),
        search_terms=document_terms(draft.text),
        role=sources[0].role if sources else author.role,
        speaker=sources[0].speaker if sources else author.name,
        language=draft.language or detect_language(draft.text, fallback=scope.elder_language),
        said_at=said_at,
        event_time=draft.event_time,
        private=draft.private,
        sensitive=draft.sensitive,
        status=status.value,
        confidence=draft.confidence,
        subject=draft.subject,
        attribute=draft.attribute,
        value=draft.value,
        author_role=author.role,
        author_account_id=author.account_id,
    )
    session.add(fact)
    session.flush()
    _add_sources(session, fact, sources)
    _event(session, fact, "created", author, after=_snapshot(fact))
    retired = []
    if draft.attribute in SINGLE_VALUED:
        for old in _current_facts(session, scope):
            if old.id != fact.id and _replaces(old, draft):
                _retire(session, old, by=fact, author=author, at=draft.event_time or said_at)
                retired.append(old)
    return Remembered(fact=fact, action="created", retired=retired)


def _add_sources(session: Session, fact: Memory, sources: Sequence[Message]) -> None:
    known = set(
        session.exec(select(MemorySource.message_id).where(MemorySource.memory_id == fact.id))
    )
    for message in sources:
        if message.id not in known and message.elder_id == fact.elder_id:
            session.add(MemorySource(memory_id=fact.id, message_id=message.id))
    session.flush()


def _retire(session: Session, old: Memory, *, by: Memory, author: Author, at: datetime) -> None:
    """No longer true: kept, with when it stopped and what replaced it; never deleted."""
    before = _snapshot(old)
    old.valid_to = max(at, old.said_at)
    old.superseded_by = by.id
    old.updated_at = utcnow()
    session.add(old)
    session.flush()
    _event(session, old, "retired", author, before=before, after=_snapshot(old))


# --- the family's review ----------------------------------------------------------------


def _audit(session: Session, scope: ElderScope, action: str, fact_id: int | None) -> None:
    record(
        session,
        actor=scope.actor,
        action=action,
        elder_id=scope.elder_id,
        detail={"fact_id": fact_id},
    )


def _visible_fact(session: Session, scope: ElderScope, fact_id: int) -> Memory:
    fact = session.get(Memory, fact_id)
    if fact is None or not fact.is_fact or not visibility.may_read_memory(session, scope, fact):
        raise NotFound(f"No fact {fact_id} for this elder.")
    return fact


def _not_deleted(session: Session, scope: ElderScope, fact_id: int) -> Memory:
    fact = _visible_fact(session, scope, fact_id)
    if fact.deleted_at is not None:
        raise NotFound(
            f"Fact {fact_id} was deleted on {fact.deleted_at:%Y-%m-%d}; its history is at "
            f"/v1/elders/{scope.elder_id}/memories/{fact_id}/history."
        )
    return fact


def get_fact(session: Session, scope: ElderScope, fact_id: int) -> Memory:
    """A fact as it stands; a deleted one is only its history."""
    fact = _not_deleted(session, scope, fact_id)
    record_access(session, scope, action="fact.read", detail={"fact_id": fact_id})
    return fact


def _editable(session: Session, scope: ElderScope, fact_id: int) -> Memory:
    fact = _visible_fact(session, scope, fact_id)
    if fact.deleted_at is not None:
        raise Conflict(f"Fact {fact_id} was deleted; it cannot be changed.")
    if fact.valid_to is not None:
        raise Conflict(
            f"Fact {fact_id} was replaced by fact {fact.superseded_by} and is kept as history; "
            "change the current fact instead."
        )
    return fact


def add_fact(session: Session, scope: ElderScope, draft: FactDraft) -> Remembered:
    """A fact the family (or the elder) adds by hand: confirmed, its source is that person."""
    remembered = remember_fact(session, scope, draft, sources=[], author=Author.of(scope))
    assert remembered is not None
    _audit(session, scope, "fact.create", remembered.fact.id)
    return remembered


_EDITABLE = ("kind", "text", "subject", "attribute", "value", "event_time", "private", "sensitive")


def edit_fact(session: Session, scope: ElderScope, fact_id: int, changes: dict) -> Memory:
    fact = _editable(session, scope, fact_id)
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise InvalidInput(f"These fields cannot be edited: {', '.join(sorted(unknown))}.")
    draft = FactDraft(kind=changes.get("kind", fact.kind), text=changes.get("text", fact.text))
    _check(draft)
    before = _snapshot(fact)
    for name, value in changes.items():
        setattr(fact, name, value.strip() if isinstance(value, str) else value)
    if "text" in changes:
        fact.search_terms = document_terms(fact.text)
        fact.language = detect_language(fact.text, fallback=scope.elder_language)
        fact.index_pending = True
    if fact.status == FactStatus.unconfirmed.value:
        fact.status = FactStatus.confirmed.value  # the family corrected it: it is theirs now
    fact.updated_at = utcnow()
    session.add(fact)
    session.flush()
    _event(session, fact, "edited", Author.of(scope), before=before, after=_snapshot(fact))
    _audit(session, scope, "fact.edit", fact_id)
    return fact


def _set_status(
    session: Session, scope: ElderScope, fact_id: int, status: FactStatus, action: str
) -> Memory:
    fact = _editable(session, scope, fact_id)
    before = _snapshot(fact)
    fact.status = status.value
    fact.updated_at = utcnow()
    session.add(fact)
    session.flush()
    _event(session, fact, action, Author.of(scope), before=before, after=_snapshot(fact))
    _audit(session, scope, f"fact.{action}", fact_id)
    return fact


def approve_fact(session: Session, scope: ElderScope, fact_id: int) -> Memory:
    return _set_status(session, scope, fact_id, FactStatus.confirmed, "approved")


def reject_fact(session: Session, scope: ElderScope, fact_id: int) -> Memory:
    """Wrong: never used again, and not extracted again from the same words."""
    return _set_status(session, scope, fact_id, FactStatus.rejected, "rejected")


def delete_fact(session: Session, scope: ElderScope, fact_id: int) -> None:
    """Gone from every view and from recall; its history says who deleted it and when."""
    fact = _visible_fact(session, scope, fact_id)
    if fact.deleted_at is not None:
        raise Conflict(f"Fact {fact_id} was already deleted.")
    before = _snapshot(fact)
    fact.deleted_at = utcnow()
    session.add(fact)
    # merge: on SQLite a deleted memory's id can be used again while its tombstone waits
    session.merge(IndexTombstone(memory_id=fact.id or 0, elder_id=scope.elder_id))
    session.flush()
    _event(session, fact, "deleted", Author.of(scope), before=before)
    _audit(session, scope, "fact.delete", fact_id)


@dataclass(frozen=True)
class FactFilter:
    kinds: Sequence[str] | None = None
    status: str | None = None
    person: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_retired: bool = False


def list_facts(
    session: Session, scope: ElderScope, where: FactFilter, *, limit: int = 200
) -> list[Memory]:
    query = select(Memory).where(
        visibility.memory_clause(scope),
        Memory.kind.in_(list(where.kinds or FACT_KINDS)),  # type: ignore[attr-defined]
        Memory.deleted_at.is_(None),  # type: ignore[union-attr]
    )
    if where.status:
        query = query.where(Memory.status == where.status)
    if not where.include_retired:
        query = query.where(Memory.valid_to.is_(None))  # type: ignore[union-attr]
    if where.person:
        like = f"%{where.person}%"
        query = query.where(sa.or_(Memory.subject.like(like), Memory.text.like(like)))  # type: ignore[union-attr,attr-defined]
    moment = sa.func.coalesce(Memory.event_time, Memory.said_at)
    if where.since:
        query = query.where(moment >= where.since)
    if where.until:
        query = query.where(moment < where.until)
    facts = list(session.exec(query.order_by(Memory.said_at.desc(), Memory.id.desc()).limit(limit)))  # type: ignore[attr-defined]
    record_access(session, scope, action="facts.list", detail={"results": len(facts)})
    return facts


def fact_history(session: Session, scope: ElderScope, fact_id: int) -> list[MemoryEvent]:
    """Every change to the fact, oldest first; readable after the fact is deleted."""
    events = list(
        session.exec(
            select(MemoryEvent)
            .where(MemoryEvent.elder_id == scope.elder_id, MemoryEvent.memory_id == fact_id)
            .order_by(MemoryEvent.id)
        )
    )
    visibility.check_history(session, scope, fact_id, events)
    record_access(session, scope, action="fact.history", detail={"fact_id": fact_id})
    return events


def fact_sources(session: Session, scope: ElderScope, fact_id: int) -> list[Message]:
    """The messages a fact came from, in the order they were said."""
    _not_deleted(session, scope, fact_id)
    messages = list(
        session.exec(
            select(Message)
            .join(MemorySource, MemorySource.message_id == Message.id)
            .where(MemorySource.memory_id == fact_id, Message.elder_id == scope.elder_id)
            .order_by(Message.said_at, Message.id)
        )
    )
    messages = visibility.withhold_messages(session, scope, messages)
    record_access(session, scope, action="fact.sources", detail={"fact_id": fact_id})
    return messages

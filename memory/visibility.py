"""What a caller may see of an elder's rows: one rule, and every read goes through it.

The elder sees everything of theirs. Everyone else (family, guardians, creators,
administrators, and what the service writes for them: digests, story material) sees:

- no private memory, and none of the words it came from: a message that is a source of a
  private memory, and a reply of the companion's that used one, stay in the elder's own chat;
- nothing else that shares those words: a turn or a fact made from a withheld message;
- a deleted fact only as its history, and only while its last known state was not private.

Retired and rejected facts are not hidden by this rule: the family's review shows them, marked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlmodel import Session, select

from memory.access import SYSTEM, ElderScope
from memory.errors import NotFound
from memory.models import Memory, MemoryEvent, MemorySource, Message, MessageRole


def shows_private(scope: ElderScope) -> bool:
    """Only the elder reads what they keep private."""
    return scope.by_elder


def shared_view(scope: ElderScope) -> ElderScope:
    """The scope to build what is written for others in (digests, story material): it never
    holds anything private, whoever asks for it, the elder included."""
    return scope if not shows_private(scope) else dataclasses.replace(scope, actor=SYSTEM)


def _private_memory_ids(scope: ElderScope):  # type: ignore[no-untyped-def]
    return select(Memory.id).where(
        Memory.elder_id == scope.elder_id,
        Memory.private == sa.true(),
    )


def _private_source_message_ids(scope: ElderScope):  # type: ignore[no-untyped-def]
    """Messages some private memory of this elder came from (deleted or retired included:
    what was private once stays with the elder)."""
    return (
        select(MemorySource.message_id)
        .join(Memory, Memory.id == MemorySource.memory_id)
        .where(Memory.elder_id == scope.elder_id, Memory.private == sa.true())
    )


def message_clause(scope: ElderScope) -> sa.ColumnElement[bool]:
    """A WHERE clause for `messages`: this elder's, and (for anyone but the elder) not the
    words of a private memory. Companion replies that used one are dropped by `withhold_messages`."""
    clause = Message.elder_id == scope.elder_id
    if shows_private(scope):
        return clause
    return sa.and_(clause, Message.id.not_in(_private_source_message_ids(scope)))  # type: ignore[union-attr]


def memory_clause(scope: ElderScope) -> sa.ColumnElement[bool]:
    """A WHERE clause for `memories`: this elder's, and (for anyone but the elder) neither
    private nor made from the words of a private memory."""
    clause = Memory.elder_id == scope.elder_id
    if shows_private(scope):
        return clause
    shares_private_words = select(MemorySource.memory_id).where(
        MemorySource.message_id.in_(_private_source_message_ids(scope))  # type: ignore[attr-defined]
    )
    return sa.and_(
        clause,
        Memory.private == sa.false(),
        Memory.id.not_in(shares_private_words),  # type: ignore[union-attr]
    )


def _private_ids(session: Session, scope: ElderScope) -> set[int]:
    return set(session.exec(_private_memory_ids(scope)))


def withheld_message_ids(session: Session, scope: ElderScope, ids: Iterable[int]) -> set[int]:
    """Of these messages, the ones this caller may not read."""
    ids = [i for i in ids if i is not None]
    if shows_private(scope) or not ids:
        return set()
    withheld = set(
        session.exec(
            select(MemorySource.message_id)
            .join(Memory, Memory.id == MemorySource.memory_id)
            .where(
                Memory.elder_id == scope.elder_id,
                Memory.private == sa.true(),
                MemorySource.message_id.in_(ids),  # type: ignore[attr-defined]
            )
        )
    )
    private = _private_ids(session, scope)
    if private:
        replies = session.exec(
            select(Message.id, Message.used_memory_ids).where(
                Message.elder_id == scope.elder_id,
                Message.role == MessageRole.companion.value,
                Message.id.in_(ids),  # type: ignore[union-attr]
            )
        )
        withheld.update(i for i, used in replies if used and private.intersection(used))
    return withheld


def withhold_messages(
    session: Session, scope: ElderScope, messages: Sequence[Message]
) -> list[Message]:
    """The messages this caller may read, in the order given."""
    hidden = withheld_message_ids(session, scope, [m.id for m in messages])  # type: ignore[misc]
    return [m for m in messages if m.id not in hidden and m.elder_id == scope.elder_id]


def withheld_memory_ids(session: Session, scope: ElderScope, ids: Iterable[int]) -> set[int]:
    """Of these memories, the ones this caller may not read: private ones, and those made
    from a withheld message."""
    ids = [i for i in ids if i is not None]
    if shows_private(scope) or not ids:
        return set()
    withheld = set(
        session.exec(
            select(Memory.id).where(
                Memory.id.in_(ids),  # type: ignore[union-attr]
                sa.or_(Memory.elder_id != scope.elder_id, Memory.private == sa.true()),
            )
        )
    )
    links = list(
        session.exec(
            select(MemorySource.memory_id, MemorySource.message_id).where(
                MemorySource.memory_id.in_(ids)  # type: ignore[attr-defined]
            )
        )
    )
    hidden_messages = withheld_message_ids(session, scope, {m for _, m in links})
    withheld.update(memory_id for memory_id, m in links if m in hidden_messages)
    return withheld


def withhold_memories(
    session: Session, scope: ElderScope, memories: Sequence[Memory]
) -> list[Memory]:
    """The memories this caller may read, in the order given."""
    hidden = withheld_memory_ids(session, scope, [m.id for m in memories])  # type: ignore[misc]
    return [m for m in memories if m.id not in hidden and m.elder_id == scope.elder_id]


def may_read_memory(session: Session, scope: ElderScope, memory: Memory | None) -> bool:
    return (
        memory is not None
        and memory.elder_id == scope.elder_id
        and not withheld_memory_ids(session, scope, [memory.id])  # type: ignore[list-item]
    )


def last_known_private(events: Sequence[MemoryEvent]) -> bool:
    """Whether a memory was private in the last state its history records."""
    private = False
    for event in events:
        for state in (event.before, event.after):
            if state and "private" in state:
                private = bool(state["private"])
    return private


def check_history(
    session: Session, scope: ElderScope, memory_id: int, events: Sequence[MemoryEvent]
) -> None:
    """A memory's history is read by whoever may read the memory; once the memory is gone,
    by whoever could have read it when it was last known."""
    missing = NotFound(f"No fact {memory_id} for this elder.")
    if not events:
        raise missing
    if shows_private(scope):
        return
    memory = session.get(Memory, memory_id)
    if memory is not None:
        if not may_read_memory(session, scope, memory):
            raise missing
    elif last_known_private(events):
        raise missing

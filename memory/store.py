"""Elders and their messages: the verbatim record, always read and written through a scope."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from memory import visibility
from memory.access import Caller, ElderScope, create_account, record, record_access
from memory.errors import InvalidInput, NotFound
from memory.language import detect_language
from memory.lexical import memory_terms
from memory.models import (
    LANGUAGES,
    Elder,
    IndexTombstone,
    Memory,
    MemoryEvent,
    MemoryKind,
    MemorySource,
    Message,
    MessageRole,
    Role,
    utcnow,
)
from memory.timeutil import to_utc, zone

MAX_IMPORT = 10_000
# Clocks drift; a message "said" further ahead than this is a mistake in the data.
_FUTURE_TOLERANCE = timedelta(hours=24)
_EXISTING_LOOKUP_CHUNK = 500


# --- elders -----------------------------------------------------------------------------


def _check_languages(languages: Sequence[str]) -> list[str]:
    if not languages:
        raise InvalidInput("Give at least one language: zh-Hant, zh-Hans or en.")
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown:
        raise InvalidInput(
            f"Unsupported language {unknown[0]!r}; choose from {', '.join(LANGUAGES)}."
        )
    return list(dict.fromkeys(languages))


def create_elder(
    session: Session,
    *,
    display_name: str,
    languages: Sequence[str],
    timezone: str,
    preferred_name: str | None = None,
    birthday: date | None = None,
    created_by: Caller | None = None,
) -> Elder:
    """A new elder, with the elder's own account so that tokens can be issued for them."""
    zone(timezone)
    elder = Elder(
        display_name=display_name,
        preferred_name=preferred_name,
        languages=_check_languages(languages),
        timezone=timezone,
        birthday=birthday,
    )
    session.add(elder)
    session.flush()
    record(
        session,
        actor=created_by,
        action="elder.create",
        elder_id=elder.id,
        detail={"display_name": display_name},
    )
    create_account(
        session,
        role=Role.elder,
        display_name=preferred_name or display_name,
        elder_id=elder.id,
        language=elder.language,
        created_by=created_by,
    )
    return elder


def most_common_language(engine: sa.Engine, default: str = "zh-Hant") -> str:
    """The language most elders here speak first: what the companion prepares for."""
    try:
        with Session(engine) as session:
            counts = Counter(langs[0] for langs in session.exec(select(Elder.languages)) if langs)
    except sa.exc.SQLAlchemyError:  # no schema yet: /readyz says so
        return default
    return counts.most_common(1)[0][0] if counts else default


def get_elder(session: Session, scope: ElderScope) -> Elder:
    elder = session.get(Elder, scope.elder_id)
    if elder is None:  # deleted since the scope was made
        raise NotFound(f"No elder with id {scope.elder_id}.")
    return elder


def list_elders(session: Session, caller: Caller) -> list[Elder]:
    query = select(Elder).order_by(Elder.created_at)
    if not caller.is_admin:
        query = query.where(Elder.id == caller.elder_id)
    return list(session.exec(query))


def update_elder(session: Session, scope: ElderScope, changes: dict) -> Elder:
    """Apply profile changes: display_name, preferred_name, timezone, birthday, language,
    other_languages (the first language is the one the companion falls back to)."""
    elder = get_elder(session, scope)
    changes = dict(changes)
    if "timezone" in changes:
        zone(changes["timezone"])
    if "language" in changes or "other_languages" in changes:
        primary = changes.pop("language", None) or elder.language
        others = changes.pop("other_languages", None)
        others = elder.languages[1:] if others is None else others
        changes["languages"] = _check_languages([primary, *others])
    before = {key: _jsonable(getattr(elder, key)) for key in changes}
    for key, value in changes.items():
        setattr(elder, key, value)
    session.add(elder)
    record(
        session,
        actor=scope.actor,
        action="elder.update",
        elder_id=elder.id,
        detail={"before": before, "after": {k: _jsonable(v) for k, v in changes.items()}},
    )
    return elder


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, date | datetime) else value


# --- messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageDraft:
    """A message as a caller hands it in, before it is stored."""

    text: str
    role: MessageRole | None = None
    speaker: str | None = None
    said_at: datetime | None = None
    language: str | None = None
    conversation_id: str | None = None
    external_id: str | None = None
    used_memory_ids: list[int] | None = None
    proactive: str | None = None  # the companion speaking on its own: reminder, greeting...


@dataclass(frozen=True)
class ImportResult:
    created: list[Message]
    skipped_external_ids: list[str]


def _default_role(caller: Caller) -> MessageRole:
    if caller.role is Role.elder:
        return MessageRole.elder
    if caller.role is Role.family:
        return MessageRole.family
    return MessageRole.other


def _build_message(scope: ElderScope, draft: MessageDraft, now: datetime) -> Message:
    text = draft.text.strip()
    if not text:
        raise InvalidInput("A message needs some text; this one is empty.")
    said_at = to_utc(draft.said_at, scope.elder_timezone) if draft.said_at else now
    if said_at > now + _FUTURE_TOLERANCE:
        raise InvalidInput(
            f"said_at {said_at.isoformat()} is in the future; give the time the words were said."
        )
    role = draft.role or _default_role(scope.actor)
    speaker = draft.speaker
    if speaker is None and role.value == scope.actor.role.value:
        speaker = scope.actor.display_name
    return Message(
        elder_id=scope.elder_id,
        conversation_id=draft.conversation_id,
        role=role.value,
        speaker=speaker,
        text=text,
        language=draft.language or detect_language(text, fallback=scope.elder_language),
        said_at=said_at,
        external_id=draft.external_id,
        author_account_id=scope.actor.account_id,
        used_memory_ids=draft.used_memory_ids,
        proactive=draft.proactive,
        # What the elder and the family say is read for facts; the companion's words never are.
        extraction_pending=role in (MessageRole.elder, MessageRole.family),
    )


def add_message(session: Session, scope: ElderScope, draft: MessageDraft) -> tuple[Message, bool]:
    """Store one message; a repeated `external_id` returns the stored one (created=False)."""
    if draft.external_id is not None:
        existing = _by_external_ids(session, scope, [draft.external_id])
        if existing:
            return existing[draft.external_id], False
    message = _build_message(scope, draft, utcnow())
    session.add(message)
    session.flush()
    _remember_turns(session, [message])
    record(
        session,
        actor=scope.actor,
        action="message.create",
        elder_id=scope.elder_id,
        detail={"message_id": message.id},
    )
    return message, True


def import_messages(
    session: Session, scope: ElderScope, drafts: Sequence[MessageDraft]
) -> ImportResult:
    """Store a batch all or nothing; messages whose `external_id` is already stored are skipped."""
    if not drafts:
        raise InvalidInput("The batch is empty; send at least one message.")
    if len(drafts) > MAX_IMPORT:
        raise InvalidInput(
            f"A batch holds at most {MAX_IMPORT:,} messages; this one has {len(drafts):,}. "
            "Split it into smaller batches."
        )
    seen: dict[str, int] = {}
    for position, draft in enumerate(drafts):
        if not draft.external_id:
            raise InvalidInput(
                f"Message {position} has no external_id; imports need one per message "
                "so that sending the same batch twice adds nothing."
            )
        if draft.external_id in seen:
            raise InvalidInput(
                f"Messages {seen[draft.external_id]} and {position} share external_id "
                f"{draft.external_id!r}; each message needs its own."
            )
        seen[draft.external_id] = position
    now = utcnow()
    built = []
    for position, draft in enumerate(drafts):
        try:
            built.append(_build_message(scope, draft, now))
        except InvalidInput as exc:
            raise InvalidInput(f"Message {position}: {exc.message} Nothing was imported.") from exc
    existing = _by_external_ids(session, scope, list(seen))
    created = [m for m in built if m.external_id not in existing]
    session.add_all(created)
    session.flush()
    _remember_turns(session, created)
    record(
        session,
        actor=scope.actor,
        action="message.import",
        elder_id=scope.elder_id,
        detail={"created": len(created), "skipped": len(existing)},
    )
    return ImportResult(created=created, skipped_external_ids=sorted(existing))


def _by_external_ids(
    session: Session, scope: ElderScope, external_ids: list[str]
) -> dict[str, Message]:
    found: dict[str, Message] = {}
    for start in range(0, len(external_ids), _EXISTING_LOOKUP_CHUNK):
        chunk = external_ids[start : start + _EXISTING_LOOKUP_CHUNK]
        rows = session.exec(
            select(Message).where(
                Message.elder_id == scope.elder_id, Message.external_id.in_(chunk)
            )
        )
        found.update({m.external_id: m for m in rows})
    return found


@dataclass(frozen=True)
class MessagePage:
    items: list[Message]
    next_cursor: str | None


def _encode_cursor(message: Message) -> str:
    raw = json.dumps([message.said_at.isoformat(), message.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        said_at, message_id = json.loads(raw)
        said_at, message_id = datetime.fromisoformat(said_at), int(message_id)
        if said_at.tzinfo is None or not 0 < message_id < 2**63:
            raise ValueError("not a cursor this server makes")
        return said_at, message_id
    except (ValueError, TypeError, OverflowError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            "The cursor is not one this server gave out; start again without it."
        ) from exc


def list_messages(
    session: Session,
    scope: ElderScope,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    conversation_id: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> MessagePage:
    """Messages in the order they were said, a page at a time."""
    since_utc = to_utc(since, scope.elder_timezone) if since else None
    until_utc = to_utc(until, scope.elder_timezone) if until else None
    if since_utc and until_utc and since_utc >= until_utc:
        raise InvalidInput("'since' must be earlier than 'until'.")
    query = select(Message).where(visibility.message_clause(scope))
    if since_utc is not None:
        query = query.where(Message.said_at >= since_utc)
    if until_utc is not None:
        query = query.where(Message.said_at < until_utc)
    if conversation_id is not None:
        query = query.where(Message.conversation_id == conversation_id)
    if cursor is not None:
        after_said_at, after_id = _decode_cursor(cursor)
        query = query.where(
            sa.or_(
                Message.said_at > after_said_at,
                sa.and_(Message.said_at == after_said_at, Message.id > after_id),
            )
        )
    rows = list(session.exec(query.order_by(Message.said_at, Message.id).limit(limit + 1)))
    page = rows[:limit]
    # A reply that used a private memory is dropped here; the cursor still moves past it.
    items = visibility.withhold_messages(session, scope, page)
    record_access(session, scope, action="messages.read", detail={"count": len(items)})
    next_cursor = _encode_cursor(page[-1]) if len(rows) > limit else None
    return MessagePage(items=items, next_cursor=next_cursor)


def _readable_message(session: Session, scope: ElderScope, message_id: int) -> Message:
    message = session.exec(
        select(Message).where(visibility.message_clause(scope), Message.id == message_id)
    ).first()
    if message is None or not visibility.withhold_messages(session, scope, [message]):
        raise NotFound(f"No message {message_id} for this elder.")
    return message


def get_message(session: Session, scope: ElderScope, message_id: int) -> Message:
    message = _readable_message(session, scope, message_id)
    record_access(session, scope, action="message.read", detail={"message_id": message_id})
    return message


def delete_message(session: Session, scope: ElderScope, message_id: int) -> None:
    """Delete a message and everything that came only from it."""
    message = _readable_message(session, scope, message_id)
    _forget_memories_only_from(session, scope, message_id)
    record(
        session,
        actor=scope.actor,
        action="message.delete",
        elder_id=scope.elder_id,
        detail={"message_id": message_id, "external_id": message.external_id},
    )
    session.delete(message)


# --- turn-level memories ----------------------------------------------------------------


def _remember_turns(session: Session, messages: Sequence[Message]) -> None:
    """Every message becomes a turn-level memory at once, pending for the vector index."""
    memories = [
        Memory(
            elder_id=m.elder_id,
            kind=MemoryKind.turn.value,
            text=m.text,
            search_terms=memory_terms(m.text, m.speaker),
            role=m.role,
            speaker=m.speaker,
            language=m.language,
            said_at=m.said_at,
        )
        for m in messages
    ]
    session.add_all(memories)
    session.flush()
    session.add_all(
        MemorySource(memory_id=memory.id, message_id=message.id)
        for memory, message in zip(memories, messages, strict=True)
    )
    session.flush()


def _forget_memories_only_from(session: Session, scope: ElderScope, message_id: int) -> None:
    """Delete the memories whose every source is this message; their vectors follow by tombstone."""
    memory_ids = session.exec(
        select(MemorySource.memory_id).where(MemorySource.message_id == message_id)
    ).all()
    for memory_id in memory_ids:
        other_sources = session.exec(
            select(MemorySource.message_id).where(
                MemorySource.memory_id == memory_id, MemorySource.message_id != message_id
            )
        ).first()
        if other_sources is not None:
            continue
        memory = session.get(Memory, memory_id)
        if memory is None or memory.elder_id != scope.elder_id:
            continue
        # merge: on SQLite a deleted memory's id can be used again while its tombstone waits
        session.merge(IndexTombstone(memory_id=memory_id, elder_id=scope.elder_id))
        if memory.kind != MemoryKind.turn.value:
            session.add(
                MemoryEvent(
                    elder_id=scope.elder_id,
                    memory_id=memory_id,
                    action="deleted",
                    actor_role=scope.actor.role.value,
                    actor_account_id=scope.actor.account_id,
                    actor_name=scope.actor.display_name,
                    before={
                        "text": memory.text,
                        "kind": memory.kind,
                        "private": memory.private,
                        "sensitive": memory.sensitive,
                        "source_deleted": message_id,
                    },
                )
            )
        session.delete(memory)
    session.flush()


def memories_from_message(session: Session, scope: ElderScope, message_id: int) -> list[Memory]:
    return list(
        session.exec(
            select(Memory)
            .join(MemorySource, MemorySource.memory_id == Memory.id)
            .where(visibility.memory_clause(scope), MemorySource.message_id == message_id)
        )
    )


@dataclass(frozen=True)
class IndexStatus:
    pending: int
    indexed: int


def index_status(session: Session, scope: ElderScope) -> IndexStatus:
    rows = session.exec(
        select(Memory.index_pending, sa.func.count())
        .where(Memory.elder_id == scope.elder_id)
        .group_by(Memory.index_pending)
    ).all()
    counts = {bool(pending): n for pending, n in rows}
    return IndexStatus(pending=counts.get(True, 0), indexed=counts.get(False, 0))

"""Hybrid, time-aware recall over one elder's memories.

Two ranked lists are fused by reciprocal rank (each memory scores 1 / (60 + its rank) on each
list; Cormack, Clarke and Büttcher 2009, the constant theirs, nothing tuned on our data): the
lexical side (memory.lexical terms in SQLite FTS5 / PostgreSQL full-text) and the dense side
(the vector index). Ranks, not raw scores, so one side's scale cannot bury what the other
found first: an old turn holding every word of the question stays near the top. A question
that names someone (the elder by name or as 媽媽 / Grandma, a family member, a speaker of an
imported chat) adds a third list, those people's own turns ranked by the same two sides, so
what Caroline said outranks what was said to Caroline. Time words in the question ("last
week", "去年春節") name a period: memories said or set in it are searched for on their own as
well, so they are found however many others there are, and come first. Recency only breaks
ties. When the vector index is down the lexical side answers alone, marked degraded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from memory import speakers, timewords, visibility
from memory.access import ElderScope
from memory.errors import InvalidInput
from memory.index import IndexUnavailable, TimeRange, VectorIndex
from memory.lexical import query_terms
from memory.models import FactStatus, Memory, MemorySource, Message, MessageRole, utcnow

log = logging.getLogger(__name__)

MAX_K = 100
_MAX_QUERY_TERMS = 64


@dataclass(frozen=True)
class Tuning:
    """The fusion's constants: standard values, not fitted to any benchmark."""

    rank_constant: float = 60.0  # reciprocal-rank fusion's k
    lexical: float = 1.0  # weight of the lexical side's list
    dense: float = 1.0  # weight of the dense side's list
    own_turns: float = 1.0  # weight of the named people's own turns, as one more list
    every_word: float = 1.0  # weight of the memories holding every word of the question
    # Added for memories in the period the question names: enough to put them first, so the
    # period works as a filter that still answers (with the rest) when it holds nothing.
    in_period: float = 1.0
    pool: int = 100  # candidates taken from each side


@dataclass(frozen=True)
class Query:
    text: str
    k: int = 10
    as_of: datetime | None = None
    since: datetime | None = None
    until: datetime | None = None
    kinds: Sequence[str] | None = None
    # Whose words: e.g. ("elder", "family") to leave out what the companion itself said.
    roles: Sequence[str] | None = None
    # With `as_of`, leave out what was said after it (what was known then); False only reads
    # the time words from `as_of`.
    hide_later: bool = True


@dataclass
class Hit:
    memory: Memory
    score: float
    similarity: float | None = None  # cosine similarity to the question, when the index had it
    lexical: float | None = None  # raw lexical relevance, when the words matched
    in_period: bool = False
    sources: list[tuple[int, str | None]] = field(default_factory=list)


@dataclass
class Result:
    hits: list[Hit]
    degraded: bool
    period: TimeRange | None = None
    period_words: str | None = None


@dataclass(frozen=True)
class _Filters:
    include_private: bool
    kinds: Sequence[str] | None
    said: TimeRange | None
    roles: Sequence[str] | None = None


@dataclass(frozen=True)
class _Own:
    """Only the turns of these speakers (by name), and the elder's when `elder`."""

    speakers: Sequence[str]
    elder: bool


# --- lexical ------------------------------------------------------------------------------


def _sql_filters(query, filters: _Filters, happened: TimeRange | None):  # type: ignore[no-untyped-def]
    if not filters.include_private:
        query = query.where(Memory.private == sa.false())
    if filters.kinds:
        query = query.where(Memory.kind.in_(list(filters.kinds)))  # type: ignore[attr-defined]
    if filters.roles:
        query = query.where(Memory.role.in_(list(filters.roles)))  # type: ignore[union-attr]
    if filters.said is not None:
        if filters.said.start is not None:
            query = query.where(Memory.said_at >= filters.said.start)
        if filters.said.end is not None:
            query = query.where(Memory.said_at < filters.said.end)
    if happened is not None:
        query = query.where(
            sa.or_(
                sa.and_(Memory.said_at >= happened.start, Memory.said_at < happened.end),
                sa.and_(Memory.event_time >= happened.start, Memory.event_time < happened.end),  # type: ignore[operator]
            )
        )
    return query


def lexical_scores(
    session: Session,
    elder_id: str,
    terms: Sequence[str],
    *,
    filters: _Filters,
    limit: int,
    happened: TimeRange | None = None,
    own: _Own | None = None,
) -> dict[int, float]:
    """Memory id to lexical relevance (BM25 on SQLite, ts_rank_cd on PostgreSQL; higher is
    better), for the best `limit` matches."""
    if not terms:
        return {}
    terms = list(terms)[:_MAX_QUERY_TERMS]
    if session.get_bind().dialect.name == "sqlite":
        match = (
            f'elder_id : "{elder_id}" AND search_terms : ('
            + " OR ".join(f'"{t}"' for t in terms)
            + ")"
        )
        if happened is None and filters.said is None and not filters.kinds and own is None:
            # The common case, on the full-text index alone: the elder is in the match, and
            # what the reader may not see is dropped with the candidates (memory.search._load).
            rows = session.execute(
                sa.text(
                    "SELECT rowid, -bm25(memories_fts, 1.0, 0.0) FROM memories_fts "
                    "WHERE memories_fts MATCH :match ORDER BY bm25(memories_fts, 1.0, 0.0) "
                    "LIMIT :limit"
                ),
                {"match": match, "limit": limit},
            )
            return {int(i): float(r) for i, r in rows}
        fts = sa.table("memories_fts", sa.column("rowid"), sa.column("memories_fts"))
        # FTS5's bm25() is negative, lower is better.
        relevance = -sa.func.bm25(fts.c.memories_fts, 1.0, 0.0)
        query = (
            select(Memory.id, relevance)
            .join(fts, fts.c.rowid == Memory.id)
            .where(fts.c.memories_fts.op("MATCH")(match), Memory.elder_id == elder_id)
        )
    else:
        tsquery = sa.func.to_tsquery("simple", " | ".join(f"'{t}'" for t in terms))
        tsv = sa.literal_column("memories.search_tsv")
        relevance = sa.func.ts_rank_cd(tsv, tsquery)
        query = select(Memory.id, relevance).where(
            Memory.elder_id == elder_id, tsv.op("@@")(tsquery)
        )
    query = _sql_filters(query.order_by(relevance.desc(), Memory.id.desc()), filters, happened)  # type: ignore[union-attr]
    if own is not None:
        whose = [Memory.speaker.in_(list(own.speakers))] if own.speakers else []  # type: ignore[union-attr]
        if own.elder:
            whose.append(Memory.role == MessageRole.elder.value)
        query = query.where(sa.or_(*whose))
    return {int(i): float(r) for i, r in session.exec(query.limit(limit))}


# --- fusion -------------------------------------------------------------------------------


def _ranks(scores: dict[int, float]) -> dict[int, int]:
    """1 for the best; equal scores share a rank, so that recency alone decides between them."""
    ordered = sorted(scores.values(), reverse=True)
    first = {}
    for position, value in enumerate(ordered, start=1):
        first.setdefault(value, position)
    return {i: first[v] for i, v in scores.items()}


def _reciprocal(
    lists: Sequence[dict[int, float]], constant: float, weights: Sequence[float] | None = None
) -> dict[int, float]:
    fused: dict[int, float] = {}
    for n, scores in enumerate(lists):
        weight = 1.0 if weights is None else weights[n]
        for memory_id, rank in _ranks(scores).items():
            fused[memory_id] = fused.get(memory_id, 0.0) + weight / (constant + rank)
    return fused


def search(
    session: Session,
    scope: ElderScope,
    index: VectorIndex | None,
    query: Query,
    *,
    tuning: Tuning = Tuning(),
    query_vector: Sequence[float] | None = None,
) -> Result:
    """The `k` memories of this elder that best answer `query`. Private memories only when
    the elder is asking."""
    text = query.text.strip()
    if not text:
        raise InvalidInput("The query is empty: say what to look for.")
    if not 1 <= query.k <= MAX_K:
        raise InvalidInput(f"k must be between 1 and {MAX_K}.")
    as_of = query.as_of or utcnow()
    # An explicit `as_of` asks what was known then: nothing said after it.
    until = query.until
    if query.as_of is not None and query.hide_later:
        just_after = query.as_of + timedelta(microseconds=1)
        until = just_after if until is None else min(until, just_after)
    said = TimeRange(start=query.since, end=until) if (query.since or until) else None
    filters = _Filters(
        include_private=visibility.shows_private(scope),
        kinds=query.kinds,
        said=said,
        roles=query.roles,
    )
    resolved = timewords.resolve(text, as_of, scope.elder_timezone)
    period, period_words = resolved if resolved else (None, None)

    terms = query_terms(text)
    pool = max(tuning.pool, query.k)
    lexical = lexical_scores(session, scope.elder_id, terms, filters=filters, limit=pool)
    in_period: set[int] = set()
    if period:
        found = lexical_scores(
            session, scope.elder_id, terms, filters=filters, limit=pool, happened=period
        )
        lexical.update(found)
        in_period.update(found)

    degraded = index is None
    similarity: dict[int, float] = {}
    vector: Sequence[float] | None = None
    if index is not None:
        try:
            vector = query_vector if query_vector is not None else index.embedder.embed_query(text)
            # Private memories come back too; _load drops them for anyone but the elder.
            common = {"kinds": filters.kinds, "said": said}
            for hit in index.query(scope.elder_id, vector, k=pool, **common):
                similarity[hit.memory_id] = hit.similarity
            if period:
                for hit in index.query(scope.elder_id, vector, k=pool, happened=period, **common):
                    similarity[hit.memory_id] = hit.similarity
                    in_period.add(hit.memory_id)
        except IndexUnavailable as exc:
            log.warning("Searching without the vector index: %s", exc)
            degraded = True

    candidates = set(lexical) | set(similarity)
    if not candidates:
        return Result(hits=[], degraded=degraded, period=period, period_words=period_words)
    rows = _load(session, scope, candidates, filters)
    # Ranked among what this reader may see, so that what they may not leaves no trace.
    fused = _reciprocal(
        [{i: v for i, v in side.items() if i in rows} for side in (lexical, similarity)],
        tuning.rank_constant,
        (tuning.lexical, tuning.dense),
    )
    own = _own_turns(
        session,
        scope,
        None if degraded else index,
        text=text,
        terms=terms,
        rows=rows,
        filters=filters,
        pool=pool,
        query_vector=vector if not degraded and index is not None else None,
        rank_constant=tuning.rank_constant,
        weights=(tuning.lexical, tuning.dense),
    )
    for memory_id, score in _reciprocal([own.ranking], tuning.rank_constant).items():
        fused[memory_id] = fused.get(memory_id, 0.0) + tuning.own_turns * score
    complete = _every_word(terms, rows, lexical)
    for memory_id, score in _reciprocal([complete], tuning.rank_constant).items():
        fused[memory_id] = fused.get(memory_id, 0.0) + tuning.every_word * score
    similarity = {**own.similarity, **similarity}
    lexical = {**own.lexical, **lexical}
    scored: list[Hit] = []
    for memory_id, memory in rows.items():
        if period is not None and _within(memory, period):
            in_period.add(memory_id)
        bonus = tuning.in_period if memory_id in in_period else 0.0
        scored.append(
            Hit(
                memory=memory,
                score=round(fused.get(memory_id, 0.0) + bonus, 6),
                similarity=similarity.get(memory_id),
                lexical=lexical.get(memory_id),
                in_period=memory_id in in_period,
            )
        )
    # Recency breaks ties, and only ties.
    scored.sort(key=lambda h: (-h.score, -h.memory.said_at.timestamp(), -(h.memory.id or 0)))
    top = scored[: query.k]
    _attach_sources(session, top)
    return Result(hits=top, degraded=degraded, period=period, period_words=period_words)


def _every_word(
    terms: Sequence[str], rows: dict[int, Memory], lexical: dict[int, float]
) -> dict[int, float]:
    """The memories holding every term of a question of two terms or more, by lexical score:
    one more list, so that a turn saying exactly what was asked is not outvoted by turns the
    dense side finds a little closer."""
    wanted = set(terms)
    if len(wanted) < 2:
        return {}
    return {
        i: lexical[i]
        for i, memory in rows.items()
        if i in lexical and wanted <= set(memory.search_terms.split())
    }


@dataclass
class _OwnTurns:
    ranking: dict[int, float] = field(default_factory=dict)  # own turn -> its fused score
    lexical: dict[int, float] = field(default_factory=dict)
    similarity: dict[int, float] = field(default_factory=dict)


def _own_turns(
    session: Session,
    scope: ElderScope,
    index: VectorIndex | None,
    *,
    text: str,
    terms: Sequence[str],
    rows: dict[int, Memory],
    filters: _Filters,
    pool: int,
    query_vector: Sequence[float] | None,
    rank_constant: float,
    weights: Sequence[float],
) -> _OwnTurns:
    """The turns of the people the question names, ranked by the rest of its words on both
    sides. New candidates found this way are added to `rows`."""
    found = _OwnTurns()
    people = speakers.people_of(session, scope.elder_id)
    known = {m.speaker for m in rows.values() if m.speaker} | set(people.family_names)
    named = speakers.named_in(text, people, known, by_elder=scope.by_elder)
    if not named:
        return found
    name_terms = set(query_terms(" ".join(named.words)))
    content = [t for t in terms if t not in name_terms]
    own = _Own(speakers=sorted(named.speakers), elder=named.elder)
    if content:
        found.lexical = lexical_scores(
            session, scope.elder_id, content, filters=filters, limit=pool, own=own
        )
    if index is not None and query_vector is not None:
        try:
            for hit in index.query(
                scope.elder_id,
                query_vector,
                k=pool,
                kinds=filters.kinds,
                said=filters.said,
                speakers=own.speakers,
                elder_role=own.elder,
            ):
                found.similarity[hit.memory_id] = hit.similarity
        except IndexUnavailable as exc:
            log.warning("Searching the named people's turns without the vector index: %s", exc)
    missing = (set(found.lexical) | set(found.similarity)) - set(rows)
    if missing:
        rows.update(_load(session, scope, missing, filters))
    theirs = {
        i for i, m in rows.items() if named.said(role=m.role, speaker=m.speaker, people=people)
    }
    lists = [
        {i: v for i, v in found.lexical.items() if i in theirs},
        {i: v for i, v in found.similarity.items() if i in theirs},
    ]
    found.ranking = _reciprocal(lists, rank_constant, weights)
    return found


def _load(
    session: Session, scope: ElderScope, ids: set[int], filters: _Filters
) -> dict[int, Memory]:
    """The candidates as rows of this elder that this reader may see; vectors whose memory is
    gone are dropped. Fetched by primary key and checked here: asked for the elder too, the
    database may walk the elder's whole index instead."""
    rows = session.exec(select(Memory).where(Memory.id.in_(list(ids))))  # type: ignore[union-attr]
    found = [m for m in rows if m.id is not None and _visible(m, scope.elder_id, filters)]
    return {m.id: m for m in visibility.withhold_memories(session, scope, found)}  # type: ignore[misc]


def _within(memory: Memory, period: TimeRange) -> bool:
    """Said, or happened, in the period."""
    return any(
        moment is not None and period.start <= moment < period.end  # type: ignore[operator]
        for moment in (memory.said_at, memory.event_time)
    )


def _visible(memory: Memory, elder_id: str, filters: _Filters) -> bool:
    if memory.elder_id != elder_id:
        return False
    if memory.deleted_at is not None or memory.valid_to is not None:
        return False  # a deleted fact, or one that is no longer true
    if memory.status == FactStatus.rejected.value:
        return False
    if memory.private and not filters.include_private:
        return False
    if filters.kinds and memory.kind not in filters.kinds:
        return False
    if filters.roles and memory.role not in filters.roles:
        return False
    said = filters.said
    if said is not None:
        if said.start is not None and memory.said_at < said.start:
            return False
        if said.end is not None and memory.said_at >= said.end:
            return False
    return True


def _attach_sources(session: Session, hits: list[Hit]) -> None:
    if not hits:
        return
    by_id = {h.memory.id: h for h in hits}
    rows = session.exec(
        select(MemorySource.memory_id, Message.id, Message.external_id)
        .join(Message, Message.id == MemorySource.message_id)
        .where(MemorySource.memory_id.in_(list(by_id)))  # type: ignore[attr-defined]
        .order_by(Message.said_at, Message.id)
    )
    for memory_id, message_id, external_id in rows:
        by_id[memory_id].sources.append((int(message_id), external_id))

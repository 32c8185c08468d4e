"""Hybrid, time-aware recall over one elder's memories.

Two scores are fused: lexical (memory.lexical terms in SQLite FTS5 / PostgreSQL full-text)
and dense (the vector index). Each side is scaled to 0..1 over its candidates and mixed
(dense 0.8, lexical 0.2: what bench/retrieval.py measured best). Time words in the question
("last week", "去年春節") name a period: memories said or set in it are searched for on their
own as well, so they are found however many others there are, and come first. A little
recency breaks near-ties. When the vector index is down the lexical side answers alone,
marked degraded.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from memory import timewords, visibility
from memory.access import ElderScope
from memory.errors import InvalidInput
from memory.index import IndexUnavailable, TimeRange, VectorIndex
from memory.lexical import query_terms
from memory.models import FactStatus, Memory, MemorySource, Message, utcnow

log = logging.getLogger(__name__)

MAX_K = 100
_MAX_QUERY_TERMS = 64


@dataclass(frozen=True)
class Tuning:
    """Weights of the fusion; the defaults are what bench/retrieval.py measured best."""

    dense: float = 0.8  # the dense side's share of the fused score; the lexical side has the rest
    # Added for memories in the period the question names: enough to put them first, so the
    # period works as a filter that still answers (with the rest) when it holds nothing.
    in_period: float = 1.0
    recency: float = 0.05  # added for what was said today, halving every `half_life_days`
    half_life_days: float = 30.0
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
        if happened is None and filters.said is None and not filters.kinds:
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
    return {int(i): float(r) for i, r in session.exec(query.limit(limit))}


# --- fusion -------------------------------------------------------------------------------


def _normalised(scores: dict[int, float], *, floor: float | None = None) -> dict[int, float]:
    """Scores mapped to 0..1 between `floor` (default: the lowest) and the highest."""
    if not scores:
        return {}
    top = max(scores.values())
    low = min(scores.values()) if floor is None else floor
    if top <= low:
        return dict.fromkeys(scores, 1.0)
    return {i: (v - low) / (top - low) for i, v in scores.items()}


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
    # Memories the dense side did not return are no closer than the farthest it did.
    dense = _normalised(similarity)
    words = _normalised(lexical, floor=0.0)
    dense_share = tuning.dense if similarity else 0.0
    scored: list[Hit] = []
    for memory_id, memory in rows.items():
        if period is not None and _within(memory, period):
            in_period.add(memory_id)
        fused = dense_share * dense.get(memory_id, 0.0) + (1 - dense_share) * words.get(
            memory_id, 0.0
        )
        age_days = max((as_of - memory.said_at).total_seconds() / 86400, 0.0)
        bonus = tuning.recency * math.pow(0.5, age_days / tuning.half_life_days)
        if memory_id in in_period:
            bonus += tuning.in_period
        scored.append(
            Hit(
                memory=memory,
                score=round(fused + bonus, 6),
                similarity=similarity.get(memory_id),
                lexical=lexical.get(memory_id),
                in_period=memory_id in in_period,
            )
        )
    scored.sort(key=lambda h: (-h.score, -(h.memory.id or 0)))
    top = scored[: query.k]
    _attach_sources(session, top)
    return Result(hits=top, degraded=degraded, period=period, period_words=period_words)


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

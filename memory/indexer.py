"""Fills the vector index from the outbox in SQL: memories marked `index_pending`, and
tombstones of deleted ones. A crash between a SQL commit and a Chroma write loses nothing:
the row stays pending until its vector is written, and writes are idempotent upserts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import select

from memory.db import session_scope
from memory.index import IndexUnavailable, VectorIndex
from memory.lexical import memory_terms
from memory.models import IndexTombstone, Memory, MemoryKind

log = logging.getLogger(__name__)

BATCH = 64


@dataclass
class DrainResult:
    indexed: int = 0
    removed: int = 0

    def __bool__(self) -> bool:
        return bool(self.indexed or self.removed)


def drain_batch(
    engine: sa.Engine, index: VectorIndex, *, batch: int = BATCH, elder_id: str | None = None
) -> DrainResult:
    """Index one batch of pending memories and remove one batch of deleted ones."""
    result = DrainResult()
    with session_scope(engine) as session:
        query = select(Memory).where(Memory.index_pending == sa.true())
        if elder_id is not None:
            query = query.where(Memory.elder_id == elder_id)
        pending = list(session.exec(query.order_by(Memory.id).limit(batch)))
    if pending:
        index.upsert(pending)
        with session_scope(engine) as session:
            session.execute(
                sa.update(Memory)
                .where(Memory.id.in_([m.id for m in pending]))  # type: ignore[union-attr]
                .values(index_pending=False)
            )
            _refresh_search_terms(session, pending)
        result.indexed = len(pending)
    with session_scope(engine) as session:
        query = select(IndexTombstone)
        if elder_id is not None:
            query = query.where(IndexTombstone.elder_id == elder_id)
        tombstones = list(session.exec(query.limit(batch)))
    if tombstones:
        ids = [t.memory_id for t in tombstones]
        by_elder: dict[str, list[int]] = {}
        for tombstone in tombstones:
            by_elder.setdefault(tombstone.elder_id, []).append(tombstone.memory_id)
        for owner, memory_ids in by_elder.items():
            index.delete(owner, memory_ids)
        with session_scope(engine) as session:
            session.execute(sa.delete(IndexTombstone).where(IndexTombstone.memory_id.in_(ids)))  # type: ignore[attr-defined]
        result.removed = len(ids)
    return result


def _refresh_search_terms(session, memories: list[Memory]) -> None:  # type: ignore[no-untyped-def]
    """Terms written before the speaker was indexed (or by an older zhian) are brought up to
    date when their memory is indexed again, so a rebuild renews both sides."""
    for memory in memories:
        if memory.kind != MemoryKind.turn.value:
            continue
        fresh = memory_terms(memory.text, memory.speaker)
        if fresh != memory.search_terms:
            session.execute(
                sa.update(Memory).where(Memory.id == memory.id).values(search_terms=fresh)
            )


def pending_count(engine: sa.Engine, elder_id: str | None = None) -> int:
    with session_scope(engine) as session:
        query = select(sa.func.count()).select_from(Memory).where(Memory.index_pending == sa.true())
        if elder_id is not None:
            query = query.where(Memory.elder_id == elder_id)
        return int(session.exec(query).one())


def drain(
    engine: sa.Engine,
    index: VectorIndex,
    *,
    elder_id: str | None = None,
    batch: int = BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Index everything pending (for one elder, or all); returns how many were indexed."""
    total = 0
    while True:
        done = drain_batch(engine, index, batch=batch, elder_id=elder_id)
        if not done:
            return total
        total += done.indexed
        if on_progress is not None:
            on_progress(done.indexed)


def mark_all_pending(engine: sa.Engine, elder_id: str | None = None) -> int:
    """Put every memory (of one elder, or all) back in the outbox, for a rebuild."""
    with session_scope(engine) as session:
        update = sa.update(Memory).values(index_pending=True)
        if elder_id is not None:
            update = update.where(Memory.elder_id == elder_id)
        return session.execute(update).rowcount or 0


def indexed_count(engine: sa.Engine) -> int:
    with session_scope(engine) as session:
        return int(
            session.exec(
                select(sa.func.count())
                .select_from(Memory)
                .where(Memory.index_pending == sa.false())
            ).one()
        )


def adopt_new_collection(engine: sa.Engine, index: VectorIndex) -> int:
    """When the embedder changed, its collections start empty while SQL says all is indexed:
    put everything back in the outbox so the new collections fill by themselves."""
    if not index.is_empty():
        return 0
    already = indexed_count(engine)
    if already == 0:
        return 0
    log.warning(
        "The vector index %s is empty but %d memories were indexed before (a new embedder, or "
        "a lost index folder); indexing them again in the background.",
        index.collection_name,
        already,
    )
    return mark_all_pending(engine)


class BackgroundIndexer:
    """A thread that drains the outbox, wakes when asked, and waits out index outages with
    growing pauses (1 s doubling to 30 s), logging an outage once and its end once."""

    def __init__(
        self,
        engine: sa.Engine,
        index: VectorIndex,
        *,
        poll_seconds: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.engine = engine
        self.index = index
        self.poll_seconds = poll_seconds
        self.max_backoff = max_backoff
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outage = False
        self._adopted = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="zhian-indexer", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _step(self) -> bool:
        if not self._adopted:
            adopt_new_collection(self.engine, self.index)
            self._adopted = True
        return bool(drain_batch(self.engine, self.index))

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                worked = self._step()
            except (IndexUnavailable, sa.exc.OperationalError) as exc:
                if not self._outage:
                    log.warning(
                        "Indexing paused: %s. New memories are kept and will be "
                        "indexed when it is back.",
                        exc,
                    )
                    self._outage = True
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            except Exception:
                log.exception("The indexer failed on a batch; retrying in %.0f s", backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if self._outage:
                log.info("The vector index is reachable again; indexing what is pending.")
                self._outage = False
            backoff = 1.0
            if not worked:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

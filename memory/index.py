"""The vector index: a Chroma collection derived from the memories in SQL.

One collection per embedder (a change of model means a reindex, never mixed vectors), all
elders in it, each vector tagged with its elder. Every query goes through `VectorIndex.query`,
which always filters by one elder: callers cannot forget to.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

from langchain_core.embeddings import Embeddings

from memory.errors import InvalidInput
from memory.models import Memory

log = logging.getLogger(__name__)


# The dense side reads the start of a memory: the embedder's cost grows with length, and a
# long turn's gist is at its start; the lexical side still has all of its words.
PASSAGE_CHARS = 500


def passage_text(text: str) -> str:
    return text[:PASSAGE_CHARS]


class IndexUnavailable(Exception):
    """The vector index cannot be reached now (a Chroma server down, a broken data folder)."""


@dataclass(frozen=True)
class VectorHit:
    memory_id: int
    similarity: float


@dataclass(frozen=True)
class TimeRange:
    """[start, end) in UTC; either end may be open."""

    start: datetime | None = None
    end: datetime | None = None


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def metadata_for(memory: Memory) -> dict[str, str | int | bool]:
    meta: dict[str, str | int | bool] = {
        "elder_id": memory.elder_id,
        "kind": memory.kind,
        "said_at": _epoch(memory.said_at),
        "private": bool(memory.private),
    }
    if memory.event_time is not None:
        meta["event_time"] = _epoch(memory.event_time)
    return meta


def _range_clause(field: str, when: TimeRange) -> list[dict]:
    clauses: list[dict] = []
    if when.start is not None:
        clauses.append({field: {"$gte": _epoch(when.start)}})
    if when.end is not None:
        clauses.append({field: {"$lt": _epoch(when.end)}})
    return clauses


def _all_of(clauses: list[dict]) -> dict:
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def where_for(
    elder_id: str,
    *,
    include_private: bool,
    kinds: Sequence[str] | None = None,
    said: TimeRange | None = None,
    happened: TimeRange | None = None,
) -> dict:
    """The Chroma filter: always this elder; `said` bounds when it was said; `happened` matches
    what was said or happened in the range."""
    clauses: list[dict] = [{"elder_id": elder_id}]
    if not include_private:
        clauses.append({"private": False})
    if kinds:
        clauses.append({"kind": {"$in": list(kinds)}})
    if said is not None:
        clauses += _range_clause("said_at", said)
    if happened is not None:
        either = [
            _all_of(_range_clause("said_at", happened)),
            _all_of(_range_clause("event_time", happened)),
        ]
        clauses.append({"$or": either})
    return _all_of(clauses)


class VectorIndex:
    """A Chroma collection for one embedder, reached lazily and again after a failure."""

    def __init__(
        self, location: str, embedder: Embeddings, *, data_dir: Path, collection: str | None = None
    ) -> None:
        self.location = location
        self.embedder = embedder
        self._collection_name = collection
        self._data_dir = data_dir
        self._collection = None
        self._chroma = None
        self._lock = threading.Lock()

    @property
    def collection_name(self) -> str:
        return self._collection_name or self.embedder.collection_name  # type: ignore[attr-defined]

    def _client(self):  # type: ignore[no-untyped-def]
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if self.location == "embedded":
            path = self._data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        url = urlparse(self.location)
        return chromadb.HttpClient(
            host=url.hostname or "localhost",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )

    def collection(self):  # type: ignore[no-untyped-def]
        if self._collection is None:
            with self._lock:
                if self._collection is None:
                    try:
                        self._chroma = client = self._client()
                        self._collection = client.get_or_create_collection(
                            self.collection_name,
                            embedding_function=None,
                            configuration={"hnsw": {"space": "cosine"}},
                        )
                    except Exception as exc:
                        raise IndexUnavailable(self._explain(exc)) from exc
        return self._collection

    def _explain(self, exc: Exception) -> str:
        where = "in the data directory" if self.location == "embedded" else f"at {self.location}"
        return f"The vector index {where} cannot be reached ({type(exc).__name__}: {exc})"

    def _call(self, operation, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return operation(*args, **kwargs)
        except IndexUnavailable:
            raise
        except Exception as exc:
            # A server that went away: forget the handle so the next call reconnects.
            self._collection = None
            raise IndexUnavailable(self._explain(exc)) from exc

    def upsert(
        self, memories: Sequence[Memory], vectors: Sequence[Sequence[float]] | None = None
    ) -> None:
        """Idempotent: the vector id is the memory id."""
        if not memories:
            return
        if vectors is None:
            vectors = self.embedder.embed_documents([passage_text(m.text) for m in memories])
        collection = self.collection()
        self._call(
            collection.upsert,
            ids=[str(m.id) for m in memories],
            embeddings=[list(v) for v in vectors],
            metadatas=[metadata_for(m) for m in memories],
        )

    def delete(self, memory_ids: Sequence[int]) -> None:
        if memory_ids:
            collection = self.collection()
            self._call(collection.delete, ids=[str(i) for i in memory_ids])

    def clear(self, elder_id: str | None = None) -> None:
        """Remove one elder's vectors, or drop the whole collection (it is made again on use)."""
        collection = self.collection()
        if elder_id is not None:
            self._call(collection.delete, where={"elder_id": elder_id})
            return
        self._call(self._chroma.delete_collection, self.collection_name)
        self._collection = None

    def count(self) -> int:
        collection = self.collection()
        return int(self._call(collection.count))

    def query(
        self,
        elder_id: str,
        vector: Sequence[float],
        *,
        k: int,
        include_private: bool,
        kinds: Sequence[str] | None = None,
        said: TimeRange | None = None,
        happened: TimeRange | None = None,
    ) -> list[VectorHit]:
        """The `k` nearest memories of this one elder."""
        if not elder_id:
            raise InvalidInput("A vector query needs an elder.")
        collection = self.collection()
        where = where_for(
            elder_id, include_private=include_private, kinds=kinds, said=said, happened=happened
        )
        result = self._call(
            collection.query,
            query_embeddings=[list(vector)],
            n_results=k,
            where=where,
            include=["distances", "metadatas"],
        )
        hits: list[VectorHit] = []
        for memory_id, distance, meta in zip(
            result["ids"][0], result["distances"][0], result["metadatas"][0], strict=True
        ):
            if meta.get("elder_id") != elder_id:  # belt and braces: never another elder's
                continue
            hits.append(VectorHit(memory_id=int(memory_id), similarity=1.0 - float(distance)))
        return hits


def validate_location(location: str) -> str:
    if location == "embedded":
        return location
    url = urlparse(location)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise InvalidInput(
            f"ZHIAN_VECTOR_INDEX must be 'embedded' or a Chroma server URL like "
            f"http://localhost:8000, not {location!r}."
        )
    return location

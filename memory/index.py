"""The vector index: a Chroma collection derived from the memories in SQL.

One collection per embedder (a change of model means a reindex, never mixed vectors), all
elders in it, each vector tagged with its elder. Every query goes through `VectorIndex.query`,
which always filters by one elder: callers cannot forget to.
"""

from __future__ import annotations

import hashlib
import logging
import re
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


# The form of the passages embedded; a new form means new collections, filled again from SQL
# by themselves (memory.indexer.adopt_new_collection), never old and new vectors mixed.
PASSAGE_FORM = "spk1"


def passage_text(text: str, speaker: str | None = None) -> str:
    """What the dense side embeds: who said it, then the start of what they said, so that "I
    went…" reads as its speaker's."""
    passage = text[:PASSAGE_CHARS]
    return f"{speaker}: {passage}" if speaker else passage


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
    if memory.role:
        meta["role"] = memory.role
    if memory.speaker:
        meta["speaker"] = memory.speaker
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
    *,
    kinds: Sequence[str] | None = None,
    said: TimeRange | None = None,
    happened: TimeRange | None = None,
    speakers: Sequence[str] | None = None,
    elder_role: bool = False,
) -> dict | None:
    """The Chroma filter within one elder's collection: `said` bounds when it was said;
    `happened` matches what was said or happened in the range; `speakers` and `elder_role`
    keep the turns of these speakers and of the elder. None when nothing narrows it (a
    filtered query costs Chroma far more than a plain nearest-neighbour one)."""
    clauses: list[dict] = []
    whose: list[dict] = [{"speaker": {"$in": list(speakers)}}] if speakers else []
    if elder_role:
        whose.append({"role": "elder"})
    if whose:
        clauses.append(whose[0] if len(whose) == 1 else {"$or": whose})
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
    return _all_of(clauses) if clauses else None


_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class VectorIndex:
    """Chroma collections for one embedder, one per elder, reached lazily and again after a
    failure.

    An elder's vectors live in a collection of their own, named after the embedder and the
    elder: isolation is structural (a query can only reach the collection of the elder it
    names), and a nearest-neighbour query needs no metadata filter, which in one shared
    collection cost over 200 ms at 100,000 memories. A change of embedder means new
    collections, never mixed vectors."""

    def __init__(
        self, location: str, embedder: Embeddings, *, data_dir: Path, collection: str | None = None
    ) -> None:
        self.location = location
        self.embedder = embedder
        self._collection_prefix = collection
        self._data_dir = data_dir
        self._collections: dict[str, object] = {}
        self._chroma = None
        self._lock = threading.Lock()

    @property
    def collection_name(self) -> str:
        """The prefix of this embedder's collections."""
        if self._collection_prefix:
            return self._collection_prefix
        return f"{self.embedder.collection_name}-{PASSAGE_FORM}"  # type: ignore[attr-defined]

    def name_for(self, elder_id: str) -> str:
        name = f"{self.collection_name}.{_NAME_CHARS.sub('-', elder_id)}"
        if len(name) > 500:
            name = f"{self.collection_name}.{hashlib.sha256(elder_id.encode()).hexdigest()}"
        return name

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

    def _client_handle(self):  # type: ignore[no-untyped-def]
        if self._chroma is None:
            with self._lock:
                if self._chroma is None:
                    try:
                        self._chroma = self._client()
                    except Exception as exc:
                        raise IndexUnavailable(self._explain(exc)) from exc
        return self._chroma

    def collection(self, elder_id: str):  # type: ignore[no-untyped-def]
        """This elder's collection, made on first use."""
        if not elder_id:
            raise InvalidInput("The vector index needs an elder.")
        found = self._collections.get(elder_id)
        if found is None:
            client = self._client_handle()
            found = self._call(
                client.get_or_create_collection,
                self.name_for(elder_id),
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"elder_id": elder_id},
            )
            self._collections[elder_id] = found
        return found

    def _explain(self, exc: Exception) -> str:
        where = "in the data directory" if self.location == "embedded" else f"at {self.location}"
        return f"The vector index {where} cannot be reached ({type(exc).__name__}: {exc})"

    def _call(self, operation, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return operation(*args, **kwargs)
        except (IndexUnavailable, InvalidInput):
            raise
        except Exception as exc:
            # A server that went away: forget the handles so the next call reconnects.
            self._collections = {}
            self._chroma = None
            raise IndexUnavailable(self._explain(exc)) from exc

    def upsert(
        self, memories: Sequence[Memory], vectors: Sequence[Sequence[float]] | None = None
    ) -> None:
        """Idempotent: the vector id is the memory id."""
        if not memories:
            return
        if vectors is None:
            vectors = self.embedder.embed_documents(
                [passage_text(m.text, m.speaker) for m in memories]
            )
        by_elder: dict[str, list[int]] = {}
        for position, memory in enumerate(memories):
            by_elder.setdefault(memory.elder_id, []).append(position)
        for elder_id, positions in by_elder.items():
            collection = self.collection(elder_id)
            self._call(
                collection.upsert,
                ids=[str(memories[i].id) for i in positions],
                embeddings=[list(vectors[i]) for i in positions],
                metadatas=[metadata_for(memories[i]) for i in positions],
            )

    def delete(self, elder_id: str, memory_ids: Sequence[int]) -> None:
        if memory_ids:
            collection = self.collection(elder_id)
            self._call(collection.delete, ids=[str(i) for i in memory_ids])

    def _own_collection_names(self) -> list[str]:
        client = self._client_handle()
        names: list[str] = []
        offset = 0
        while True:
            page = self._call(client.list_collections, limit=500, offset=offset)
            names += [c.name for c in page if c.name.startswith(self.collection_name + ".")]
            if len(page) < 500:
                return names
            offset += 500

    def clear(self, elder_id: str | None = None) -> None:
        """Drop one elder's vectors, or all of this embedder's (made again on use)."""
        client = self._client_handle()
        names = [self.name_for(elder_id)] if elder_id else self._own_collection_names()
        for name in names:
            try:
                client.delete_collection(name)
            except Exception as exc:
                if "does not exist" in str(exc) or "not found" in str(exc).lower():
                    continue  # already gone: nothing to drop
                self._collections = {}
                self._chroma = None
                raise IndexUnavailable(self._explain(exc)) from exc
        if elder_id:
            self._collections.pop(elder_id, None)
        else:
            self._collections = {}

    def is_empty(self) -> bool:
        """No vectors at all for this embedder (a new embedder, or a lost index folder)."""
        return not self._own_collection_names()

    def count(self, elder_id: str | None = None) -> int:
        if elder_id is not None:
            return int(self._call(self.collection(elder_id).count))
        client = self._client_handle()
        return sum(
            int(self._call(client.get_collection(name).count))
            for name in self._own_collection_names()
        )

    def problem(self, *, timeout: float = 2.0) -> str | None:
        """Why the index cannot be reached now, or None: the client's heartbeat (for /readyz),
        given up after `timeout` seconds; no collection is touched."""
        outcome: dict[str, BaseException] = {}

        def beat() -> None:
            try:
                self._client_handle().heartbeat()
            except BaseException as exc:  # noqa: BLE001 - reported below
                outcome["error"] = exc

        worker = threading.Thread(target=beat, daemon=True, name="index-heartbeat")
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            return (
                f"The vector index at {self.location} did not answer within {timeout:g} s; "
                "check that the Chroma server is running and reachable."
            )
        error = outcome.get("error")
        if error is None:
            return None
        if isinstance(error, IndexUnavailable):
            return str(error)
        return self._explain(error)  # type: ignore[arg-type]

    def query(
        self,
        elder_id: str,
        vector: Sequence[float],
        *,
        k: int,
        kinds: Sequence[str] | None = None,
        said: TimeRange | None = None,
        happened: TimeRange | None = None,
        speakers: Sequence[str] | None = None,
        elder_role: bool = False,
    ) -> list[VectorHit]:
        """The `k` nearest memories of this one elder, private ones included: the caller
        drops what its reader may not see (memory.search does, in SQL).

        `happened`, `speakers` and `elder_role` are read from the nearest `k * NARROW_FETCH`
        without a filter: Chroma's filtered search walks every vector that passes (over
        200 ms at 100,000), while a wider plain search costs a few. Exact up to that many
        memories; beyond, what is far from the question is left to the lexical side."""
        collection = self.collection(elder_id)
        narrowing = happened is not None or bool(speakers) or elder_role
        result = self._call(
            collection.query,
            query_embeddings=[list(vector)],
            n_results=k * NARROW_FETCH if narrowing else k,
            where=where_for(kinds=kinds, said=said),
            include=["distances", "metadatas"],
        )
        hits: list[VectorHit] = []
        for memory_id, distance, meta in zip(
            result["ids"][0], result["distances"][0], result["metadatas"][0], strict=True
        ):
            if meta.get("elder_id") != elder_id:  # belt and braces: never another elder's
                continue
            if narrowing and not _narrowed(meta, happened, speakers, elder_role):
                continue
            hits.append(VectorHit(memory_id=int(memory_id), similarity=1.0 - float(distance)))
        return hits[:k]


NARROW_FETCH = 10


def _narrowed(
    meta: dict,
    happened: TimeRange | None,
    speakers: Sequence[str] | None,
    elder_role: bool,
) -> bool:
    if happened is not None and not any(
        isinstance(meta.get(field), int)
        and (happened.start is None or meta[field] >= _epoch(happened.start))
        and (happened.end is None or meta[field] < _epoch(happened.end))
        for field in ("said_at", "event_time")
    ):
        return False
    if speakers or elder_role:
        return (bool(speakers) and meta.get("speaker") in speakers) or (
            elder_role and meta.get("role") == "elder"
        )
    return True


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

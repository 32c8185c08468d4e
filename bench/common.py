"""What the benchmarks share: where the data is, an embedding cache, a scratch zhian."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from memory import db, language, store
from memory.access import Caller, resolve_scope
from memory.embed import make_embedder
from memory.index import VectorIndex, passage_text
from memory.models import Permission, Role

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ZHIAN_BENCH_DATA", REPO.parent / "shared" / "benchmarks"))
CACHE = Path(os.environ.get("ZHIAN_BENCH_CACHE", Path.home() / ".cache" / "zhian-bench"))
ADMIN = Caller(account_id="bench", role=Role.admin, display_name="benchmark")


class CachedEmbeddings(Embeddings):
    """An embedder whose vectors are kept on disk by text, so that every method in a run (and
    every later run) uses the very same vectors and none is computed twice."""

    def __init__(self, inner: Embeddings, name: str) -> None:
        self.inner = inner
        self.name = name
        self.collection_name = getattr(inner, "collection_name", name)
        CACHE.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(CACHE / f"{name}.sqlite", check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS v (k TEXT PRIMARY KEY, vec BLOB)")
        self._lock = threading.Lock()

    @staticmethod
    def _key(side: str, text: str) -> str:
        return side + hashlib.sha1(text.encode()).hexdigest()

    def _get(self, side: str, texts: Sequence[str], embed) -> list[list[float]]:  # type: ignore[no-untyped-def]
        keys = [self._key(side, t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 900):
                chunk = keys[start : start + 900]
                rows = self._db.execute(
                    f"SELECT k, vec FROM v WHERE k IN ({','.join('?' * len(chunk))})", chunk
                )
                found.update((k, np.frombuffer(b, dtype=np.float32)) for k, b in rows)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            vectors = embed([by_key[k] for k in missing])
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO v VALUES (?, ?)",
                    [
                        (k, np.asarray(v, dtype=np.float32).tobytes())
                        for k, v in zip(missing, vectors, strict=True)
                    ],
                )
                self._db.commit()
            found.update(
                (k, np.asarray(v, dtype=np.float32)) for k, v in zip(missing, vectors, strict=True)
            )
        return [found[k].tolist() for k in keys]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._get("p", texts, self.inner.embed_documents)

    def embed_query(self, text: str) -> list[float]:
        return self._get("q", [text], lambda ts: [self.inner.embed_query(ts[0])])[0]

    def documents_matrix(self, texts: Sequence[str], progress=None) -> np.ndarray:  # type: ignore[no-untyped-def]
        """Unit vectors for many passages (cut as the index cuts them), in batches."""
        out: list[list[float]] = []
        for start in range(0, len(texts), 256):
            out += self.embed_documents([passage_text(t) for t in texts[start : start + 256]])
            if progress is not None:
                progress(min(start + 256, len(texts)))
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


def cached_embedder(kind: str) -> CachedEmbeddings:
    if kind == "e5-small":
        return CachedEmbeddings(make_embedder("e5-small"), "e5-small")
    return CachedEmbeddings(make_embedder("sentence-transformers"), "st-all-MiniLM-L6-v2")


@dataclass
class Scratch:
    """A throwaway zhian: SQLite and embedded Chroma in a temporary folder."""

    engine: object
    index: VectorIndex
    folder: Path

    @classmethod
    def make(cls, embedder: Embeddings) -> Scratch:
        folder = Path(tempfile.mkdtemp(prefix="zhian-bench-"))
        engine = db.make_engine(f"sqlite:///{folder / 'zhian.db'}")
        db.upgrade(engine)
        return cls(
            engine=engine, index=VectorIndex("embedded", embedder, data_dir=folder), folder=folder
        )

    def elder(self, name: str, language: str, timezone: str = "UTC") -> str:
        with db.session_scope(self.engine) as session:
            return store.create_elder(
                session, display_name=name, languages=[language], timezone=timezone
            ).id

    def scope(self, session, elder_id: str, permission=Permission.memories_read):  # type: ignore[no-untyped-def]
        return resolve_scope(session, ADMIN, elder_id, permission=permission)


def fold(text: str | None) -> str:
    """Simplified and lower case, so that 蝨目魚 and 虱目魚 (variants of one word) match."""
    return language.fold(text or "").lower()

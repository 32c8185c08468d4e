"""The recogniser: what the elder's words mean, read by their nearness to a labelled bank of
example sentences (companion/data/concern_bank.json), in 繁體中文, 简体中文 and English.

Words no list foresaw ("I keep all my pills in one jar in case") sit close, in the bundled
e5-small embeddings, to examples that say the same in other words. Each concern gets a margin:
how much closer the message is to that concern's examples than to the others (hard negatives
included: prices that fall, "fell asleep", a neighbour's fall, a film's suicide). The bank is
text; its vectors ship beside it (concern_bank.npz) and are made again at first use when the
bank or the embedder changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent / "data"
BANK = DATA / "concern_bank.json"
VECTORS = DATA / "concern_bank.npz"
RECENT_READINGS = 512
NEIGHBOURS = 3  # the margin compares the 3 closest examples of a concern with the 3 closest others


@dataclass(frozen=True)
class Reading:
    """The recogniser's reading of one text: a margin per concern (above 0: nearer that
    concern's examples than any others) and the example that was nearest."""

    margins: dict[str, float]
    nearest: dict[str, str]
    vector: list[float]


def bank_key(texts: list[str], embedder_name: str) -> str:
    digest = hashlib.sha256(embedder_name.encode())
    for text in texts:
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()


class ConcernBank:
    """The labelled examples and their vectors, loaded once per process on first use."""

    def __init__(self, embedder: Embeddings, *, bank: Path = BANK, vectors: Path = VECTORS):
        self.embedder = embedder
        self.bank_path = bank
        self.vectors_path = vectors
        self._lock = threading.Lock()
        self._ready: tuple[list[dict], np.ndarray, np.ndarray, dict[str, np.ndarray]] | None = None
        self._recent: OrderedDict[str, Reading] = OrderedDict()

    @property
    def embedder_name(self) -> str:
        return str(getattr(self.embedder, "name", type(self.embedder).__name__))

    def _load(self) -> tuple[list[dict], np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        examples = json.loads(self.bank_path.read_text(encoding="utf-8"))["examples"]
        texts = [e["text"] for e in examples]
        key = bank_key(texts, self.embedder_name)
        vectors = None
        if self.vectors_path.exists():
            stored = np.load(self.vectors_path)
            if str(stored["key"]) == key:
                vectors = stored["vectors"].astype(np.float32)
        if vectors is None:
            log.info(
                "Reading the %d example sentences of the concern bank with %s (once)…",
                len(texts),
                self.embedder_name,
            )
            vectors = embed_as_queries(self.embedder, texts)
        centre = vectors.mean(axis=0)
        centred = _unit(vectors - centre)
        kinds = sorted({k for e in examples for k in e["concerns"]})
        masks = {k: np.array([k in e["concerns"] for e in examples]) for k in kinds}
        return examples, centre, centred, masks

    def ready(self) -> tuple[list[dict], np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        if self._ready is None:
            with self._lock:
                if self._ready is None:
                    self._ready = self._load()
        return self._ready

    def read(self, text: str, vector: list[float] | None = None) -> Reading:
        """The margins of one text (its query vector, when the caller has it already). The
        last few hundred readings are kept: the elder's earlier messages are read again with
        the next one."""
        if vector is None and text in self._recent:
            self._recent.move_to_end(text)
            return self._recent[text]
        examples, centre, centred, masks = self.ready()
        if vector is None:
            vector = self.embedder.embed_query(text)
        query = _unit(np.asarray(vector, dtype=np.float32) - centre)
        # Not `@`: a BLAS call spreads one small product over threads, 8 ms on two busy cores.
        similarity = np.einsum("ij,j->i", centred, query)
        margins, nearest = {}, {}
        for kind, mask in masks.items():
            mine, others = similarity[mask], similarity[~mask]
            near = -np.partition(-mine, NEIGHBOURS - 1)[:NEIGHBOURS]
            far = -np.partition(-others, NEIGHBOURS - 1)[:NEIGHBOURS]
            margins[kind] = float(near.mean() - far.mean())
            nearest[kind] = examples[int(np.flatnonzero(mask)[int(np.argmax(mine))])]["text"]
        found = Reading(margins=margins, nearest=nearest, vector=list(vector))
        with self._lock:
            self._recent[text] = found
            while len(self._recent) > RECENT_READINGS:
                self._recent.popitem(last=False)
        return found


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-9)


def embed_as_queries(embedder: Embeddings, texts: list[str]) -> np.ndarray:
    """Bank sentences are embedded as the messages are (queries), so that they compare alike."""
    return np.array([embedder.embed_query(t) for t in texts], dtype=np.float32)


def save_vectors(bank: Path = BANK, vectors: Path = VECTORS, *, embedder: Embeddings) -> int:
    """Compute and store the bank's vectors (run after the bank changes)."""
    examples = json.loads(bank.read_text(encoding="utf-8"))["examples"]
    texts = [e["text"] for e in examples]
    name = str(getattr(embedder, "name", type(embedder).__name__))
    matrix = embed_as_queries(embedder, texts)
    np.savez_compressed(
        vectors, vectors=matrix.astype(np.float16), key=np.array(bank_key(texts, name))
    )
    return len(texts)

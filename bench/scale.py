"""Cost as memories grow: ingest throughput (embedding included) and search latency p50 / p95
(query embedding included) at 10k and 100k memories for one elder and 1M across 1,000
elders, for zhian's hybrid search beside its lexical side alone and its dense side alone.

    python bench/scale.py [--scales 10k,100k,1m] [--queries 200]

Ingest is measured on real text with the real embedders (e5-small, and MiniLM beside it).
The large collections are synthetic: sentences drawn from templates in three languages, each
with the vector of its template sentence plus noise, so that filling them does not take
hours of embedding; the searches embed their questions for real.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Scratch  # noqa: E402
from memory import db, store  # noqa: E402
from memory.embed import make_embedder  # noqa: E402
from memory.indexer import drain  # noqa: E402
from memory.lexical import document_terms, query_terms  # noqa: E402
from memory.models import Memory, MemoryKind, Permission  # noqa: E402
from memory.search import Query, _Filters, lexical_scores, search  # noqa: E402

console = Console(stderr=True)
rng = random.Random(7)

PEOPLE = [
    "美玲",
    "阿雄",
    "小明",
    "Robert",
    "Mary",
    "志明",
    "春嬌",
    "Tom",
    "外孫",
    "女兒",
    "老伴",
    "鄰居",
]
PLACES = [
    "公園",
    "市場",
    "醫院",
    "日月潭",
    "台南老家",
    "the garden",
    "the church",
    "菜市场",
    "火车站",
    "the clinic",
]
TEMPLATES = [
    "今天跟{p}去{l}散步，天氣很好",
    "我想起以前和{p}在{l}的日子",
    "{p}打电话来问我有没有吃药",
    "I went to {l} with {p} this morning",
    "{p} brought me soup and we talked about {l}",
    "醫生說血壓有點高，{p}陪我去{l}拿藥",
    "我年轻的时候在{l}工作，{p}常常来看我",
    "We used to have dinner at {l} every Sunday with {p}",
]
QUESTIONS = [
    "我上次跟{p}去哪裡？",
    "{p}最近好嗎",
    "what did I do at {l}?",
    "有没有人提醒我吃药",
    "when did I last see {p}?",
    "以前在{l}的事",
    "我跟{p}聊了什麼",
    "who came to visit me",
]


def sentence(template: str) -> str:
    return template.format(p=rng.choice(PEOPLE), l=rng.choice(PLACES))


# --- ingest -------------------------------------------------------------------------------


def ingest(embedder_name: str, count: int, *, index: bool = True) -> float:
    """Messages per second: stored in SQL and turned into memories, then (with `index`)
    embedded and indexed, a batch of 100 at a time."""
    embedder = make_embedder(embedder_name)
    embedder.embed_documents(["warm-up"])
    scratch = Scratch.make(embedder)
    elder_id = scratch.elder("ingest", "zh-Hant")
    now = datetime.now(UTC)
    texts = [sentence(rng.choice(TEMPLATES)) + f"（第{i}次）" for i in range(count)]
    started = time.perf_counter()
    for start in range(0, count, 100):
        with db.session_scope(scratch.engine) as session:
            scope = scratch.scope(session, elder_id, Permission.memories_write)
            store.import_messages(
                session,
                scope,
                [
                    store.MessageDraft(
                        text=t,
                        said_at=now - timedelta(minutes=count - start - i),
                        external_id=f"m{start + i}",
                    )
                    for i, t in enumerate(texts[start : start + 100])
                ],
            )
        if index:
            drain(scratch.engine, scratch.index, batch=100)
    return count / (time.perf_counter() - started)


# --- a large synthetic index --------------------------------------------------------------


def fill(
    scratch: Scratch, elders: list[str], total: int, template_vectors: np.ndarray, progress
) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """`total` memories spread evenly over `elders`, straight into SQL and the index; the
    vectors of the first elder, for the exact-search baseline."""
    kept: list[np.ndarray] = []
    task = progress.add_task(f"filling {total:,} memories", total=total)
    now = datetime.now(UTC)
    batch = 5000
    for start in range(0, total, batch):
        rows, vectors, metas = [], [], []
        for i in range(start, min(start + batch, total)):
            t = rng.randrange(len(TEMPLATES))
            text = sentence(TEMPLATES[t])
            said = now - timedelta(minutes=7 * i + rng.randrange(7))
            rows.append(
                {
                    "elder_id": elders[i % len(elders)],
                    "kind": MemoryKind.turn.value,
                    "text": text,
                    "search_terms": document_terms(text),
                    "role": "elder",
                    "language": None,
                    "said_at": said,
                    "private": False,
                    "index_pending": False,
                    "created_at": now,
                }
            )
            noise = np.random.default_rng(i).normal(0, 0.04, template_vectors.shape[1])
            v = template_vectors[t] + noise
            vectors.append((v / np.linalg.norm(v)).astype(np.float32))
        with scratch.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(sa.insert(Memory).returning(Memory.id), rows)]
        for row in rows:
            metas.append(
                {
                    "elder_id": row["elder_id"],
                    "kind": row["kind"],
                    "said_at": int(row["said_at"].timestamp()),
                    "private": False,
                    "role": "elder",
                }
            )
        by_elder: dict[str, list[int]] = {}
        for position, meta in enumerate(metas):
            by_elder.setdefault(meta["elder_id"], []).append(position)
        kept += [vectors[p] for p in by_elder.get(elders[0], [])]
        for elder_id, positions in by_elder.items():
            scratch.index.collection(elder_id).upsert(
                ids=[str(ids[p]) for p in positions],
                embeddings=np.stack([vectors[p] for p in positions]),
                metadatas=[metas[p] for p in positions],
            )
        progress.update(task, completed=min(start + batch, total))
    return {elders[0]: np.stack(kept)}


def latencies(fn: Callable[[str], object], questions: list[str]) -> tuple[float, float]:
    fn(questions[0])  # warm-up
    times = []
    for q in questions:
        started = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def measure(total: int, elder_count: int, queries: int, progress) -> dict[str, tuple[float, float]]:  # type: ignore[no-untyped-def]
    embedder = make_embedder("e5-small")
    template_vectors = np.asarray(
        embedder.embed_documents([t.format(p="", l="") for t in TEMPLATES]), dtype=np.float32
    )
    scratch = Scratch.make(embedder)
    elders = [scratch.elder(f"elder {n}", "zh-Hant") for n in range(elder_count)]
    exact_vectors = fill(scratch, elders, total, template_vectors, progress)
    questions = [sentence(rng.choice(QUESTIONS)) for _ in range(queries)]
    asked = [rng.choice(elders) for _ in range(queries)]
    turn = iter(range(10**9))

    def who() -> str:
        return asked[next(turn) % len(asked)]

    def hybrid(q: str) -> object:
        with db.session_scope(scratch.engine) as session:
            return search(
                session, scratch.scope(session, who()), scratch.index, Query(text=q, k=10)
            )

    def lexical(q: str) -> object:
        with db.session_scope(scratch.engine) as session:
            return lexical_scores(
                session,
                who(),
                query_terms(q),
                limit=10,
                filters=_Filters(include_private=False, kinds=None, said=None),
            )

    def dense(q: str) -> object:
        return scratch.index.query(who(), embedder.embed_query(q), k=10)

    def exact(q: str) -> object:
        """Brute force over one elder's vectors, in memory: the baseline the index must beat."""
        matrix = exact_vectors[elders[0]]
        scores = matrix @ np.asarray(embedder.embed_query(q), dtype=np.float32)
        return np.argpartition(-scores, 10)[:10]

    def embedding(q: str) -> object:
        return embedder.embed_query(q)

    return {
        "zhian": latencies(hybrid, questions),
        "lexical alone": latencies(lexical, questions),
        "dense alone": latencies(dense, questions),
        "exact dense (numpy)": latencies(exact, questions),
        "query embedding alone": latencies(embedding, questions),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="10k,100k,1m", help="any of 10k, 100k, 1m")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ingest", type=int, default=1000, help="messages for the ingest measure")
    args = parser.parse_args(argv)
    out = Console(width=160)

    table = Table(title=f"Ingest: {args.ingest:,} messages in batches of 100, stored and indexed")
    table.add_column("pipeline")
    table.add_column("messages/s", justify="right")
    table.add_row("zhian, e5-small (default)", f"{ingest('e5-small', args.ingest):.0f}")
    table.add_row("zhian, all-MiniLM-L6-v2", f"{ingest('sentence-transformers', args.ingest):.0f}")
    table.add_row("SQL only, no embedding", f"{ingest('e5-small', args.ingest, index=False):.0f}")
    out.print(table)

    scales = {"10k": (10_000, 1), "100k": (100_000, 1), "1m": (1_000_000, 1000)}
    table = Table(
        title=f"Search latency, ms (p50 / p95 of {args.queries} questions, k=10, query embedding included)"
    )
    table.add_column("memories")
    table.add_column("elders", justify="right")
    for method in (
        "zhian",
        "lexical alone",
        "dense alone",
        "exact dense (numpy)",
        "query embedding alone",
    ):
        table.add_column(method, justify="right")
    with Progress(console=console) as progress:
        for name in args.scales.split(","):
            total, elders = scales[name.strip()]
            figures = measure(total, elders, args.queries, progress)
            table.add_row(
                f"{total:,}",
                f"{elders:,}",
                *(f"{p50:.0f} / {p95:.0f}" for p50, p95 in figures.values()),
            )
    out.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

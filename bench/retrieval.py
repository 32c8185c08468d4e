"""Recall quality: zhian's hybrid search beside BM25 alone, dense e5-small alone and dense
all-MiniLM-L6-v2 alone, all measured in the same run on the same haystacks.

    python bench/retrieval.py [--limit N] [--datasets longmemeval,madial-zh,madial-en]

zhian runs as the product runs: each haystack is imported as one elder's messages into SQLite,
indexed into embedded Chroma by the indexer, and searched through `memory.search`. The
baselines rank the same texts in memory. Vectors are cached on disk (~/.cache/zhian-bench) so
that every method sees the same ones and a second run embeds nothing.

Data is read from ../shared/benchmarks (or ZHIAN_BENCH_DATA); it is never copied here.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA, CachedEmbeddings, Scratch, cached_embedder  # noqa: E402
from memory import db, store  # noqa: E402
from memory.indexer import drain  # noqa: E402
from memory.lexical import query_terms, terms  # noqa: E402
from memory.models import MessageRole, Permission  # noqa: E402
from memory.search import Query, search  # noqa: E402

console = Console(stderr=True)


@dataclass
class Doc:
    key: str
    text: str
    said_at: datetime
    role: str = "elder"
    group: str = ""  # LongMemEval: the session it belongs to


@dataclass
class Case:
    """One question over one haystack."""

    haystack_id: str
    query: str
    as_of: datetime | None
    gold: set[str]
    gold_groups: set[str] = field(default_factory=set)


@dataclass
class Dataset:
    name: str
    language: str
    haystacks: dict[str, list[Doc]]
    cases: list[Case]
    ks: tuple[int, ...]
    grouped: bool = False  # also score at session level


# --- data ---------------------------------------------------------------------------------


def _lme_date(text: str) -> datetime:
    return datetime.strptime(
        text.split(" (")[0] + " " + text.split(") ")[1], "%Y/%m/%d %H:%M"
    ).replace(tzinfo=UTC)


def load_longmemeval(limit: int | None) -> Dataset:
    path = DATA / "longmemeval" / "longmemeval_s_cleaned.partial.json.gz"
    with gzip.open(path) as raw:
        items = [q for q in json.load(raw) if not q["question_id"].endswith("_abs")]
    if limit:
        # Spread the subset over the question types (the file is sorted by type).
        step = len(items) / limit
        items = [items[int(i * step)] for i in range(limit)]
    haystacks: dict[str, list[Doc]] = {}
    cases: list[Case] = []
    for item in items:
        docs: list[Doc] = []
        gold: set[str] = set()
        for position, (sid, date, session) in enumerate(
            zip(
                item["haystack_session_ids"],
                item["haystack_dates"],
                item["haystack_sessions"],
                strict=True,
            )
        ):
            start = _lme_date(date)
            for n, turn in enumerate(session):
                key = f"{position}:{sid}:{n}"  # a session may appear twice in a haystack
                docs.append(
                    Doc(
                        key=key,
                        text=turn["content"],
                        said_at=start + timedelta(seconds=30 * n),
                        role="elder" if turn["role"] == "user" else "companion",
                        group=sid,
                    )
                )
                if turn.get("has_answer"):
                    gold.add(key)
        haystacks[item["question_id"]] = docs
        cases.append(
            Case(
                haystack_id=item["question_id"],
                query=item["question"],
                as_of=_lme_date(item["question_date"]),
                gold=gold,
                gold_groups=set(item["answer_session_ids"]),
            )
        )
    return Dataset("LongMemEval_S", "en", haystacks, cases, ks=(5, 10), grouped=True)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


_SPEAKER = re.compile(r'^<([^>]+)>:\s*"?(.*?)"?\s*$', re.S)


def load_madial(language: str, limit: int | None) -> Dataset:
    folder = DATA / "madial_bench" / ("zh" if language == "zh" else "en")
    prefix = f"MADial-Bench-{language}"
    memories: dict[str, list[Doc]] = {}
    for line in _jsonl(folder / f"{prefix}-memory.json"):
        for key, memory in line.items():
            user = str(memory.get("user-id", "all"))
            said = datetime.fromisoformat(memory["time"]).replace(tzinfo=UTC)
            memories.setdefault(user, []).append(
                Doc(key=str(key), text=memory["event"], said_at=said)
            )
    everyone = [doc for docs in memories.values() for doc in docs]
    cases: list[Case] = []
    for dialogue in _jsonl(folder / f"{prefix}-dialogue.json")[: limit or None]:
        turn = dialogue["test-turn"][0]
        lines = [_SPEAKER.match(x.strip()) for x in dialogue["dialogue"][1:turn]]
        said = [m.group(2) for m in lines if m and m.group(1) != "Assistant"]
        user = str(dialogue.get("user-id", "all"))
        haystack = user if user in memories else "all"
        cases.append(
            Case(
                haystack_id=haystack,
                query=" ".join(said[-2:]),
                as_of=None,
                gold={str(i) for i in dialogue["relevant-id"]},
            )
        )
    haystacks = {**memories, "all": everyone}
    used = {c.haystack_id for c in cases}
    return Dataset(
        f"MADial-Bench {language}",
        "zh-Hans" if language == "zh" else "en",
        {k: v for k, v in haystacks.items() if k in used},
        cases,
        ks=(1, 5, 10),
    )


# --- metrics ------------------------------------------------------------------------------


def _recall(ranked: Sequence[str], gold: set[str], k: int) -> float:
    return len(set(ranked[:k]) & gold) / len(gold)


def _ndcg(ranked: Sequence[str], gold: set[str], k: int) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, key in enumerate(ranked[:k]) if key in gold)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), k)))
    return dcg / ideal


def _groups(ranked: Sequence[str], group_of: dict[str, str]) -> list[str]:
    return list(dict.fromkeys(group_of[key] for key in ranked))


@dataclass
class Scores:
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, value: float) -> None:
        self.values.setdefault(name, []).append(value)

    def mean(self, name: str) -> float:
        return float(np.mean(self.values[name])) if self.values.get(name) else float("nan")


def score(dataset: Dataset, case: Case, ranked: Sequence[str], scores: Scores) -> None:
    if case.gold:
        for k in dataset.ks:
            scores.add(f"turn R@{k}", _recall(ranked, case.gold, k))
        if dataset.grouped:
            scores.add("turn nDCG@10", _ndcg(ranked, case.gold, 10))
    if dataset.grouped:
        group_of = {d.key: d.group for d in dataset.haystacks[case.haystack_id]}
        sessions = _groups(ranked, group_of)
        for k in dataset.ks:
            scores.add(f"session R@{k}", _recall(sessions, case.gold_groups, k))
        scores.add("session nDCG@10", _ndcg(sessions, case.gold_groups, 10))


# --- methods ------------------------------------------------------------------------------


class BM25:
    """Okapi BM25 (k1 1.2, b 0.75) over the same terms zhian's lexical side uses."""

    def __init__(self, docs: Sequence[Doc]) -> None:
        self.keys = [d.key for d in docs]
        self.bags = [Counter(terms(d.text)) for d in docs]
        self.lengths = np.array([sum(b.values()) for b in self.bags], dtype=float)
        self.avg = float(self.lengths.mean()) if len(docs) else 1.0
        df: Counter[str] = Counter()
        for bag in self.bags:
            df.update(bag.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def rank(self, query: str, k: int) -> list[str]:
        q = query_terms(query)
        scores = np.zeros(len(self.keys))
        for i, bag in enumerate(self.bags):
            s = 0.0
            for t in q:
                f = bag.get(t)
                if f:
                    s += (
                        self.idf[t]
                        * f
                        * 2.2
                        / (f + 1.2 * (0.25 + 0.75 * self.lengths[i] / self.avg))
                    )
            scores[i] = s
        order = np.argsort(-scores, kind="stable")[:k]
        return [self.keys[i] for i in order if scores[i] > 0]


class Dense:
    def __init__(self, docs: Sequence[Doc], embedder: CachedEmbeddings) -> None:
        self.keys = [d.key for d in docs]
        self.embedder = embedder
        self.matrix = embedder.documents_matrix([d.text for d in docs])

    def rank(self, query: str, k: int) -> list[str]:
        q = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
        order = np.argsort(-(self.matrix @ q), kind="stable")[:k]
        return [self.keys[i] for i in order]


class Zhian:
    """The product path: import, index, search."""

    def __init__(self, dataset: Dataset, embedder: CachedEmbeddings) -> None:
        self.scratch = Scratch.make(embedder)
        self.elders: dict[str, str] = {}
        self.key_of: dict[int, str] = {}
        self.dataset = dataset

    def load(self, haystack_id: str, docs: Sequence[Doc]) -> None:
        elder_id = self.scratch.elder(haystack_id, self.dataset.language)
        with db.session_scope(self.scratch.engine) as session:
            scope = self.scratch.scope(session, elder_id, Permission.memories_write)
            for start in range(0, len(docs), 5000):
                drafts = [
                    store.MessageDraft(
                        text=d.text,
                        said_at=d.said_at,
                        role=MessageRole(d.role),
                        external_id=d.key,
                        language=None,
                    )
                    for d in docs[start : start + 5000]
                ]
                result = store.import_messages(session, scope, drafts)
                for message in result.created:
                    for memory in store.memories_from_message(session, scope, message.id):
                        self.key_of[memory.id] = message.external_id
        drain(self.scratch.engine, self.scratch.index, elder_id=elder_id, batch=256)
        self.elders[haystack_id] = elder_id

    def rank(self, case: Case, k: int) -> list[str]:
        with db.session_scope(self.scratch.engine) as session:
            scope = self.scratch.scope(session, self.elders[case.haystack_id])
            result = search(
                session,
                scope,
                self.scratch.index,
                # LongMemEval_S dates some haystack sessions (evidence among them) after the
                # question; the baselines see them, so zhian does too.
                Query(text=case.query, k=k, as_of=case.as_of, hide_later=False),
            )
        return [self.key_of[h.memory.id] for h in result.hits]


# --- the run ------------------------------------------------------------------------------


def run(dataset: Dataset, depth: int = 100) -> dict[str, Scores]:
    e5 = cached_embedder("e5-small")
    minilm = cached_embedder("minilm")
    results = {name: Scores() for name in ("BM25", "dense e5-small", "dense MiniLM", "zhian")}
    zhian = Zhian(dataset, e5)
    total_docs = sum(len(d) for d in dataset.haystacks.values())
    with Progress(console=console) as progress:
        task = progress.add_task(
            f"{dataset.name}: embedding {total_docs:,} texts", total=total_docs * 2
        )
        done = 0
        for docs in dataset.haystacks.values():
            texts = [d.text for d in docs]
            e5.documents_matrix(
                texts, progress=lambda n, base=done: progress.update(task, completed=base + n)
            )
            done += len(docs)
            minilm.documents_matrix(
                texts, progress=lambda n, base=done: progress.update(task, completed=base + n)
            )
            done += len(docs)
        task = progress.add_task(f"{dataset.name}: searching", total=len(dataset.cases))
        by_haystack: dict[str, list[Case]] = {}
        for case in dataset.cases:
            by_haystack.setdefault(case.haystack_id, []).append(case)
        for haystack_id, cases in by_haystack.items():
            docs = dataset.haystacks[haystack_id]
            bm25, dense_e5, dense_minilm = BM25(docs), Dense(docs, e5), Dense(docs, minilm)
            zhian.load(haystack_id, docs)
            methods: dict[str, Callable[[Case], list[str]]] = {
                "BM25": lambda c, m=bm25: m.rank(c.query, depth),
                "dense e5-small": lambda c, m=dense_e5: m.rank(c.query, depth),
                "dense MiniLM": lambda c, m=dense_minilm: m.rank(c.query, depth),
                "zhian": lambda c: zhian.rank(c, depth),
            }
            for case in cases:
                for name, method in methods.items():
                    score(dataset, case, method(case), results[name])
                progress.advance(task)
    return results


def report(dataset: Dataset, results: dict[str, Scores], seconds: float) -> Table:
    metrics = list(next(iter(results.values())).values)
    table = Table(
        title=f"{dataset.name}: {len(dataset.cases)} questions, "
        f"{sum(len(d) for d in dataset.haystacks.values()):,} memories ({seconds:.0f} s)"
    )
    table.add_column("method")
    for metric in metrics:
        table.add_column(metric, justify="right")
    best_baseline = {m: max(results[b].mean(m) for b in results if b != "zhian") for m in metrics}
    for name, scores in results.items():
        table.add_row(name, *(f"{scores.mean(m):.3f}" for m in metrics))
    table.add_row(
        "zhian − best baseline",
        *(f"{(results['zhian'].mean(m) - best_baseline[m]) * 100:+.1f} pt" for m in metrics),
    )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="questions per data set (LongMemEval: spread over the types; default: all)",
    )
    parser.add_argument("--datasets", default="longmemeval,madial-zh,madial-en")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        console.print(f"[red]The benchmark data is not at {DATA}[/red]; set ZHIAN_BENCH_DATA.")
        return 2
    loaders = {
        "longmemeval": lambda: load_longmemeval(args.limit),
        "madial-zh": lambda: load_madial("zh", args.limit),
        "madial-en": lambda: load_madial("en", args.limit),
    }
    out = Console(width=200)
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for name in args.datasets.split(","):
        started = time.monotonic()
        dataset = loaders[name.strip()]()
        results = run(dataset)
        out.print(report(dataset, results, time.monotonic() - started))
        figures[dataset.name] = {m: {k: s.mean(k) for k in s.values} for m, s in results.items()}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

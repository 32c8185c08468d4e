"""Recall quality: zhian's search beside BM25 alone, dense e5-small alone and a reciprocal-rank
fusion of the two (k 60), all measured in the same run on the same haystacks.

    python bench/retrieval.py [--limit N] [--sessions S]
        [--datasets longmemeval,third-person,madial-zh,madial-en]

zhian runs as the product runs: each haystack is imported as one elder's messages (with who
said each) into SQLite, indexed into embedded Chroma by the indexer, and searched through
`memory.search`. The baselines rank the same texts in memory, each turn as "speaker: text"
where its speaker is known (the very passage zhian embeds). Vectors are cached on disk
(~/.cache/zhian-bench) so that every method sees the same ones and a second run embeds nothing.

`third-person` is LongMemEval rewritten as the family asks: the user's turns are said by a
named elder, each question is asked by a family member about her or him ("What degree did
Mom graduate with?", "Where did Grandpa buy his bike?"), by code, with the same gold turns.

Every set is split by a fixed seed: the figures of the held-out third are printed apart. No
constant of zhian's search was fitted on any of these sets (its fusion is by rank, k 60).

Data is read from ../shared/benchmarks (or ZHIAN_BENCH_DATA); it is never copied here.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA, CachedEmbeddings, Scratch, cached_embedder  # noqa: E402
from memory import access, db, store  # noqa: E402
from memory.index import passage_text  # noqa: E402
from memory.indexer import drain  # noqa: E402
from memory.lexical import query_terms, terms  # noqa: E402
from memory.models import MessageRole, Permission, Role  # noqa: E402
from memory.search import Query, Tuning, search  # noqa: E402

console = Console(stderr=True)


@dataclass
class Doc:
    key: str
    text: str
    said_at: datetime
    role: str = "elder"
    group: str = ""  # LongMemEval: the session it belongs to
    speaker: str | None = None

    @property
    def passage(self) -> str:
        """The text as the index embeds it, and as the baselines read it."""
        return passage_text(self.text, self.speaker)

    @property
    def words(self) -> str:
        return f"{self.speaker}: {self.text}" if self.speaker else self.text


@dataclass
class Case:
    """One question over one haystack."""

    haystack_id: str
    query: str
    as_of: datetime | None
    gold: set[str]
    gold_groups: set[str] = field(default_factory=set)
    held_out: bool = False


SEED = 17


def _held_out(key: str) -> bool:
    """One question in three, fixed by seed: never looked at while building the search."""
    return int(hashlib.sha256(f"{SEED}:{key}".encode()).hexdigest(), 16) % 3 == 0


@dataclass(frozen=True)
class Household:
    """Who the elder of a haystack is, and the family member who asks."""

    elder_name: str
    relation: str | None = None


@dataclass
class Dataset:
    name: str
    language: str
    haystacks: dict[str, list[Doc]]
    cases: list[Case]
    ks: tuple[int, ...]
    grouped: bool = False  # also score at session level
    households: dict[str, Household] = field(default_factory=dict)


# --- data ---------------------------------------------------------------------------------


def _lme_date(text: str) -> datetime:
    return datetime.strptime(
        text.split(" (")[0] + " " + text.split(") ")[1], "%Y/%m/%d %H:%M"
    ).replace(tzinfo=UTC)


def _longmemeval_items(limit: int | None) -> list[dict]:
    path = DATA / "longmemeval" / "longmemeval_s_cleaned.partial.json.gz"
    with gzip.open(path) as raw:
        items = [q for q in json.load(raw) if not q["question_id"].endswith("_abs")]
    if limit:
        # Spread the subset over the question types (the file is sorted by type).
        step = len(items) / limit
        items = [items[int(i * step)] for i in range(limit)]
    return items


def _kept_sessions(item: dict, sessions: int | None) -> list[int]:
    """All of a haystack's sessions, or its evidence sessions and `sessions` others drawn by
    seed (on two shared cores, embedding every haystack in full takes hours)."""
    everything = list(range(len(item["haystack_session_ids"])))
    if sessions is None:
        return everything
    gold = set(item["answer_session_ids"])
    evidence = [i for i in everything if item["haystack_session_ids"][i] in gold]
    others = [i for i in everything if i not in evidence]
    drawn = random.Random(f"{SEED}:{item['question_id']}").sample(
        others, min(sessions, len(others))
    )
    return sorted(evidence + drawn)


def load_longmemeval(
    limit: int | None, sessions: int | None = None, *, third_person: bool = False
) -> Dataset:
    items = _longmemeval_items(limit)
    haystacks: dict[str, list[Doc]] = {}
    cases: list[Case] = []
    households: dict[str, Household] = {}
    for item in items:
        docs: list[Doc] = []
        gold: set[str] = set()
        household = _household_for(item["question_id"]) if third_person else None
        for position in _kept_sessions(item, sessions):
            sid = item["haystack_session_ids"][position]
            date = item["haystack_dates"][position]
            session = item["haystack_sessions"][position]
            start = _lme_date(date)
            for n, turn in enumerate(session):
                key = f"{position}:{sid}:{n}"  # a session may appear twice in a haystack
                by_user = turn["role"] == "user"
                docs.append(
                    Doc(
                        key=key,
                        text=turn["content"],
                        said_at=start + timedelta(seconds=30 * n),
                        role="elder" if by_user else "companion",
                        group=sid,
                        speaker=household.elder_name if household and by_user else None,
                    )
                )
                if turn.get("has_answer"):
                    gold.add(key)
        haystacks[item["question_id"]] = docs
        question = item["question"]
        if household is not None:
            households[item["question_id"]] = household
            question = third_person_question(question, household)
        cases.append(
            Case(
                haystack_id=item["question_id"],
                query=question,
                as_of=_lme_date(item["question_date"]),
                gold=gold,
                gold_groups=set(item["answer_session_ids"]),
                held_out=_held_out(item["question_id"]),
            )
        )
    cut = "" if sessions is None else f", evidence + {sessions} sessions"
    name = "LongMemEval_S third person" if third_person else "LongMemEval_S"
    return Dataset(
        name + cut, "en", haystacks, cases, ks=(5, 10), grouped=True, households=households
    )


# --- the family's questions ----------------------------------------------------------------

# (name, she/he, her/his, what a daughter or son calls them, what a grandchild does)
_ELDERS = [
    ("Margaret", "she", "her", "Mom", "Grandma"),
    ("Robert", "he", "his", "Dad", "Grandpa"),
    ("Helen", "she", "her", "Mom", "Grandma"),
    ("George", "he", "his", "Dad", "Grandpa"),
    ("Dorothy", "she", "her", "Mum", "Nana"),
    ("Frank", "he", "his", "Dad", "Granddad"),
]


def _household_for(key: str) -> Household:
    name, _, _, _, _ = random.Random(f"{SEED}:elder:{key}").choice(_ELDERS)
    relation = random.Random(f"{SEED}:relation:{key}").choice(["daughter", "grandson", None])
    return Household(elder_name=name, relation=relation)


def _words_for(household: Household) -> tuple[str, str, str]:
    """How the asker names the elder, and the pronouns after."""
    name, subject, possessive, parent, grandparent = next(
        e for e in _ELDERS if e[0] == household.elder_name
    )
    called = {"daughter": parent, "grandson": grandparent}.get(household.relation or "", name)
    return called, subject, possessive


_FIRST_PERSON = re.compile(
    r"\b(?:(?P<aux>do|did|have|had|was|were|am|can|could|should|would|will)\s+I"
    r"|(?P<am>I am|I'm)|(?P<have>I've|I have)|(?P<would>I'd)|(?P<will>I'll)|(?P<i>I)"
    r"|(?P<myself>myself)|(?P<mine>mine)|(?P<my>my)|(?P<me>me))\b",
    re.IGNORECASE,
)
_AUX = {"do": "does", "have": "has", "am": "is", "were": "was"}


def third_person_question(question: str, household: Household) -> str:
    """The question as the family asks it: the first mention of the elder by the word the
    asker uses (Mom, Grandpa, the name), the later ones by pronoun."""
    called, subject, possessive = _words_for(household)
    objective = "her" if subject == "she" else "him"
    mentioned = False

    def swap(match: re.Match[str]) -> str:
        nonlocal mentioned
        first, mentioned = not mentioned, True
        who = called if first else subject
        kind = match.lastgroup
        if kind == "aux":
            aux = match.group("aux")
            verb = _AUX.get(aux.lower(), aux.lower())
            return f"{verb.capitalize() if aux[0].isupper() else verb} {who}"
        if kind in ("am", "have", "would", "will"):
            return f"{who} " + {"am": "is", "have": "has", "would": "would", "will": "will"}[kind]
        if kind == "myself":
            return f"{called} {objective}self" if first else f"{objective}self"
        if kind == "mine":
            return f"{called}'s" if first else ("hers" if subject == "she" else "his")
        if kind == "my":
            return f"{called}'s" if first else possessive
        if kind == "me":
            return called if first else objective
        return who

    return _FIRST_PERSON.sub(swap, question)


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
                held_out=_held_out(f"{language}:{len(cases)}"),
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
        self.bags = [Counter(terms(d.words)) for d in docs]
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


def passages_matrix(embedder: CachedEmbeddings, docs: Sequence[Doc], progress=None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The vectors of the passages the index embeds, in batches (cached by text)."""
    out: list[list[float]] = []
    for start in range(0, len(docs), 64):
        out += embedder.embed_documents([d.passage for d in docs[start : start + 64]])
        if progress is not None:
            progress(min(start + 64, len(docs)))
    return np.asarray(out, dtype=np.float32).reshape(len(docs), -1)


class Dense:
    def __init__(self, docs: Sequence[Doc], embedder: CachedEmbeddings) -> None:
        self.keys = [d.key for d in docs]
        self.embedder = embedder
        self.matrix = passages_matrix(embedder, docs)

    def rank(self, query: str, k: int) -> list[str]:
        q = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
        order = np.argsort(-(self.matrix @ q), kind="stable")[:k]
        return [self.keys[i] for i in order]


def rank_fusion(rankings: Sequence[Sequence[str]], k: int, constant: float = 60.0) -> list[str]:
    """Reciprocal-rank fusion (Cormack et al. 2009) of whole rankings."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for position, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (constant + position)
    return sorted(fused, key=lambda key: -fused[key])[:k]


class Zhian:
    """The product path: import, index, search."""

    def __init__(self, dataset: Dataset, embedder: CachedEmbeddings) -> None:
        self.scratch = Scratch.make(embedder)
        self.elders: dict[str, str] = {}
        self.key_of: dict[int, str] = {}
        self.dataset = dataset

    def load(self, haystack_id: str, docs: Sequence[Doc]) -> None:
        household = self.dataset.households.get(haystack_id)
        elder_id = self.scratch.elder(
            household.elder_name if household else haystack_id, self.dataset.language
        )
        with db.session_scope(self.scratch.engine) as session:
            if household is not None and household.relation:
                access.create_account(
                    session,
                    role=Role.family,
                    display_name=f"{household.elder_name}'s {household.relation}",
                    elder_id=elder_id,
                    relation=household.relation,
                )
            scope = self.scratch.scope(session, elder_id, Permission.memories_write)
            for start in range(0, len(docs), 5000):
                drafts = [
                    store.MessageDraft(
                        text=d.text,
                        said_at=d.said_at,
                        role=MessageRole(d.role),
                        speaker=d.speaker,
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

    def rank(self, case: Case, k: int, tuning: Tuning = Tuning()) -> list[str]:
        with db.session_scope(self.scratch.engine) as session:
            scope = self.scratch.scope(session, self.elders[case.haystack_id])
            result = search(
                session,
                scope,
                self.scratch.index,
                # LongMemEval_S dates some haystack sessions (evidence among them) after the
                # question; the baselines see them, so zhian does too.
                Query(text=case.query, k=k, as_of=case.as_of, hide_later=False),
                tuning=tuning,
            )
        return [self.key_of[h.memory.id] for h in result.hits]


# --- the run ------------------------------------------------------------------------------


METHODS = ("BM25", "dense e5-small", "RRF BM25 + e5-small", "zhian")
# Other weights of zhian's two lists, measured beside the default (--variants): a weight is
# chosen on the dev parts of some sets and confirmed on the rest and on the held-out thirds.
VARIANTS = {
    "zhian, dense ×2": Tuning(dense=2.0),
    "zhian, lexical ×2": Tuning(lexical=2.0),
}


def run(
    dataset: Dataset, depth: int = 100, *, variants: bool = False
) -> dict[str, dict[str, Scores]]:
    """Figures per part ("dev", "held-out") and method."""
    e5 = cached_embedder("e5-small")
    names = METHODS + (tuple(VARIANTS) if variants else ())
    results = {part: {m: Scores() for m in names} for part in ("dev", "held-out")}
    zhian = Zhian(dataset, e5)
    total_docs = sum(len(d) for d in dataset.haystacks.values())
    with Progress(console=console) as progress:
        task = progress.add_task(
            f"{dataset.name}: embedding {total_docs:,} texts", total=total_docs
        )
        done = 0
        for docs in dataset.haystacks.values():
            passages_matrix(
                e5, docs, progress=lambda n, base=done: progress.update(task, completed=base + n)
            )
            done += len(docs)
        task = progress.add_task(f"{dataset.name}: searching", total=len(dataset.cases))
        by_haystack: dict[str, list[Case]] = {}
        for case in dataset.cases:
            by_haystack.setdefault(case.haystack_id, []).append(case)
        for haystack_id, cases in by_haystack.items():
            docs = dataset.haystacks[haystack_id]
            bm25, dense_e5 = BM25(docs), Dense(docs, e5)
            zhian.load(haystack_id, docs)
            for case in cases:
                lexical, dense = bm25.rank(case.query, depth), dense_e5.rank(case.query, depth)
                ranked = {
                    "BM25": lexical,
                    "dense e5-small": dense,
                    "RRF BM25 + e5-small": rank_fusion([lexical, dense], depth),
                    "zhian": zhian.rank(case, depth),
                }
                if variants:
                    for name, tuning in VARIANTS.items():
                        ranked[name] = zhian.rank(case, depth, tuning)
                part = results["held-out" if case.held_out else "dev"]
                for name, ranking in ranked.items():
                    score(dataset, case, ranking, part[name])
                progress.advance(task)
    return results


def report(dataset: Dataset, results: dict[str, Scores], seconds: float, part: str) -> Table:
    metrics = list(next(iter(results.values())).values)
    count = len([c for c in dataset.cases if c.held_out == (part == "held-out")])
    table = Table(
        title=f"{dataset.name}, {part}: {count} questions, "
        f"{sum(len(d) for d in dataset.haystacks.values()):,} memories in all ({seconds:.0f} s)"
    )
    table.add_column("method")
    for metric in metrics:
        table.add_column(metric, justify="right")
    best_baseline = {
        m: max(results[b].mean(m) for b in results if not b.startswith("zhian")) for m in metrics
    }
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
    parser.add_argument(
        "--sessions",
        type=int,
        default=None,
        help="LongMemEval: keep each haystack's evidence sessions and this many others, drawn "
        "by seed (default: the whole haystack)",
    )
    parser.add_argument("--datasets", default="longmemeval,third-person,madial-zh,madial-en")
    parser.add_argument(
        "--variants", action="store_true", help="also zhian with other weights of its two lists"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        console.print(f"[red]The benchmark data is not at {DATA}[/red]; set ZHIAN_BENCH_DATA.")
        return 2
    loaders = {
        "longmemeval": lambda: load_longmemeval(args.limit, args.sessions),
        "third-person": lambda: load_longmemeval(args.limit, args.sessions, third_person=True),
        "madial-zh": lambda: load_madial("zh", args.limit),
        "madial-en": lambda: load_madial("en", args.limit),
    }
    out = Console(width=200)
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for name in args.datasets.split(","):
        started = time.monotonic()
        dataset = loaders[name.strip()]()
        results = run(dataset, variants=args.variants)
        seconds = time.monotonic() - started
        for part, by_method in results.items():
            out.print(report(dataset, by_method, seconds, part))
            figures[f"{dataset.name} ({part})"] = {
                m: {k: s.mean(k) for k in s.values} for m, s in by_method.items()
            }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

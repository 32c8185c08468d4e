"""Facts from conversation: precision and recall of extracted facts, time resolution, how the
final state holds up after changes (moved house, new medicine), and how often the model's
structured answer failed, on a labelled set in three languages.

    python bench/extraction.py [--model embedded] [--limit N] [--longmemeval N]

The labelled set is bench/data/extraction_labelled.json: conversations of an elder (and family)
with the facts a careful person would take from each message, the date each happened where
the words say, and which single-value facts (where the elder lives, a job...) must be current
or retired at the end. Everything runs through the product path: the messages are imported,
`memory.extract` reads them in batches with the model, `memory.facts` reconciles. With
ZHIAN_LLM_BASE_URL set, an OpenAI-compatible server is measured beside the embedded model.

Then, on LongMemEval's knowledge-update and temporal-reasoning questions (../shared/benchmarks),
the same questions are asked of the memory twice in one run: with turn-level memories alone,
and with the facts extracted from the same conversations beside them. Each question's haystack
is cut to its evidence sessions and a few others (the 1.5B model reads ~8 messages a minute on
two cores; a whole haystack takes an hour), so recall is at turn level, where it still
discriminates: a fact found counts as the turns it was taken from.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ADMIN, DATA, Scratch, cached_embedder, fold  # noqa: E402
from companion.llm import make_chat_model  # noqa: E402
from memory import db, store  # noqa: E402
from memory.access import resolve_scope  # noqa: E402
from memory.extract import extract_pending  # noqa: E402
from memory.indexer import drain  # noqa: E402
from memory.models import (  # noqa: E402
    FACT_KINDS,
    ExtractionRun,
    Memory,
    MemorySource,
    Message,
    MessageRole,
    Permission,
)
from memory.search import Query, search  # noqa: E402
from memory.timeutil import zone  # noqa: E402

LABELLED = Path(__file__).resolve().parent / "data" / "extraction_labelled.json"
MODEL_DIR = Path.home() / ".cache" / "zhian-bench" / "model"
console = Console(stderr=True)


@dataclass
class Scores:
    gold: int = 0
    found: int = 0
    predicted: int = 0
    correct: int = 0
    timed_gold: int = 0
    timed_right: int = 0
    final: int = 0
    final_right: int = 0
    runs: int = 0
    failed_runs: int = 0
    retried_runs: int = 0
    from_companion: int = 0
    seconds: float = 0.0
    by_language: dict[str, list[int]] = field(default_factory=dict)  # language: [gold, found]


def _load_conversation(engine, conversation: dict) -> tuple[str, dict[str, Message]]:  # type: ignore[no-untyped-def]
    with db.session_scope(engine) as session:
        elder = store.create_elder(
            session,
            display_name=conversation["id"],
            languages=[conversation["language"]],
            timezone=conversation["timezone"],
        )
        elder.birthday = date.fromisoformat(conversation["birthday"])
        session.add(elder)
        scope = resolve_scope(session, ADMIN, elder.id, permission=Permission.memories_write)
        drafts = [
            store.MessageDraft(
                text=m["text"],
                role=MessageRole(m["role"]),
                speaker=m.get("speaker"),
                said_at=datetime.fromisoformat(m["said_at"]),
                external_id=f"{conversation['id']}-{i}",
            )
            for i, m in enumerate(conversation["messages"])
        ]
        created = store.import_messages(session, scope, drafts).created
        by_key = {m.external_id: m for m in created}
        for m in created:
            session.expunge(m)
        return elder.id, by_key  # type: ignore[return-value]


def _same_time(got: date, expected: str) -> bool:
    """A year ("1968-01-01") matches its year, a month ("2026-10-01") its month, a day the
    days around it (periods such as "last Christmas" start a few days early)."""
    day = date.fromisoformat(expected)
    if expected.endswith("-01-01"):
        return got.year == day.year
    if expected.endswith("-01"):
        return (got.year, got.month) == (day.year, day.month)
    return abs((got - day).days) <= 3


def _matches(fact: Memory, gold: dict) -> bool:
    words = fold(fact.text) + " " + fold(fact.value)
    return any(fold(k) in words for k in gold["keywords"])


def run_conversation(engine, model, conversation: dict, scores: Scores) -> None:  # type: ignore[no-untyped-def]
    elder_id, by_key = _load_conversation(engine, conversation)
    started = time.perf_counter()
    extract_pending(
        engine, model, elder_id=elder_id, now=datetime.now(zone("UTC")) + timedelta(days=1)
    )
    scores.seconds += time.perf_counter() - started
    tz = zone(conversation["timezone"])
    with db.session_scope(engine) as session:
        facts = list(
            session.exec(
                select(Memory).where(
                    Memory.elder_id == elder_id,
                    Memory.kind.in_(FACT_KINDS),  # type: ignore[attr-defined]
                )
            )
        )
        sources: dict[int, set[int]] = {}
        for memory_id, message_id in session.exec(
            select(MemorySource.memory_id, MemorySource.message_id).where(
                MemorySource.memory_id.in_([f.id for f in facts])  # type: ignore[attr-defined]
            )
        ):
            sources.setdefault(memory_id, set()).add(message_id)
        runs = list(session.exec(select(ExtractionRun).where(ExtractionRun.elder_id == elder_id)))
    scores.runs += len(runs)
    scores.failed_runs += sum(r.status == "failed" for r in runs)
    scores.retried_runs += sum(r.attempts > 1 for r in runs)

    language = conversation["language"]
    tally = scores.by_language.setdefault(language, [0, 0])
    gold_by_message: dict[int, list[dict]] = {}
    for i, m in enumerate(conversation["messages"]):
        message = by_key[f"{conversation['id']}-{i}"]
        gold_by_message[message.id] = m["facts"]  # type: ignore[index]
        if m["role"] == "companion":
            scores.from_companion += sum(message.id in s for s in sources.values())
        for gold in m["facts"]:
            scores.gold += 1
            tally[0] += 1
            hits = [
                f for f in facts if message.id in sources.get(f.id, set()) and _matches(f, gold)
            ]
            if hits:
                scores.found += 1
                tally[1] += 1
                if gold.get("when"):
                    scores.timed_gold += 1
                    got = [h.event_time.astimezone(tz).date() for h in hits if h.event_time]
                    if any(_same_time(g, gold["when"]) for g in got):
                        scores.timed_right += 1
            elif gold.get("when"):
                scores.timed_gold += 1
    for fact in facts:
        for message_id in sources.get(fact.id, set()):
            scores.predicted += 1
            if any(_matches(fact, g) for g in gold_by_message.get(message_id, [])):
                scores.correct += 1
    for expected in conversation.get("final", []):
        scores.final += 1
        current = [
            f
            for f in facts
            if f.attribute == expected["attribute"]
            and fold(expected["value"]) in fold(f.text) + fold(f.value)
            and f.deleted_at is None
        ]
        if current and all((f.valid_to is None) == expected["current"] for f in current):
            scores.final_right += 1


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.0%}" if b else "–"


def report(results: dict[str, Scores], messages: int) -> Table:
    table = Table(title=f"Fact extraction on {messages} labelled messages (same run)")
    table.add_column("measure")
    for name in results:
        table.add_column(name, justify="right")
    rows = [
        ("recall (gold facts found)", lambda s: _ratio(s.found, s.gold)),
        ("precision (extracted facts right)", lambda s: _ratio(s.correct, s.predicted)),
        ("time resolved right", lambda s: _ratio(s.timed_right, s.timed_gold)),
        ("current/retired right after changes", lambda s: _ratio(s.final_right, s.final)),
        ("structured answer failed (batches)", lambda s: _ratio(s.failed_runs, s.runs)),
        ("needed a second try (batches)", lambda s: _ratio(s.retried_runs, s.runs)),
        ("facts from the companion's words", lambda s: str(s.from_companion)),
        ("seconds per batch", lambda s: f"{s.seconds / max(s.runs, 1):.1f}"),
    ]
    for label, value in rows:
        table.add_row(label, *(value(s) for s in results.values()))
    for language in next(iter(results.values())).by_language:
        table.add_row(
            f"recall, {language}",
            *(
                _ratio(s.by_language[language][1], s.by_language[language][0])
                for s in results.values()
            ),
        )
    return table


# --- LongMemEval: facts beside turns ---------------------------------------------------------

LME_TYPES = ("knowledge-update", "temporal-reasoning")
KS = (1, 3, 5, 10)


def _lme_date(text: str) -> datetime:
    day, clock = text.split(" (")[0], text.split(") ")[1]
    return datetime.strptime(f"{day} {clock}", "%Y/%m/%d %H:%M").replace(tzinfo=zone("UTC"))


def _lme_questions(per_type: int) -> list[dict]:
    path = DATA / "longmemeval" / "longmemeval_s_cleaned.partial.json.gz"
    with gzip.open(path) as raw:
        items = [q for q in json.load(raw) if not q["question_id"].endswith("_abs")]
    chosen = []
    for kind in LME_TYPES:
        of_kind = [q for q in items if q["question_type"] == kind]
        step = len(of_kind) / per_type
        chosen += [of_kind[int(i * step)] for i in range(per_type)]
    return chosen


def _lme_sessions(item: dict, distractors: int) -> list[tuple[str, str, list[dict]]]:
    """The evidence sessions and the `distractors` sessions nearest them in the haystack."""
    sessions = list(
        zip(
            item["haystack_session_ids"],
            item["haystack_dates"],
            item["haystack_sessions"],
            strict=True,
        )
    )
    evidence = [i for i, (sid, _, _) in enumerate(sessions) if sid in item["answer_session_ids"]]
    others = sorted(
        (i for i in range(len(sessions)) if i not in evidence),
        key=lambda i: min(abs(i - e) for e in evidence),
    )[:distractors]
    return [sessions[i] for i in sorted(evidence + others)]


@dataclass
class Recall:
    hits: dict[str, dict[int, float]] = field(default_factory=dict)  # type: {k: sum}
    questions: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, ranked: list[str], gold: set[str]) -> None:
        self.questions[kind] += 1
        for k in KS:
            got = len(gold & set(ranked[:k])) / len(gold) if gold else 0.0
            self.hits.setdefault(kind, {}).setdefault(k, 0.0)
            self.hits[kind][k] += got

    def mean(self, kind: str, k: int) -> float:
        return self.hits[kind][k] / self.questions[kind] if self.questions[kind] else 0.0


def _ranked_turns(hits) -> list[str]:  # type: ignore[no-untyped-def]
    """Turn keys in rank order; a fact stands for the turns it was taken from."""
    ranked: list[str] = []
    for hit in hits:
        for _, key in hit.sources:
            if key and key not in ranked:
                ranked.append(key)
    return ranked


def run_longmemeval(model, per_type: int, distractors: int) -> dict[str, Recall]:  # type: ignore[no-untyped-def]
    scratch = Scratch.make(cached_embedder("e5-small"))
    results = {"turns only": Recall(), "turns + facts": Recall()}
    for item in _lme_questions(per_type):
        elder_id = scratch.elder(item["question_id"], "en")
        gold: set[str] = set()
        drafts = []
        for position, (sid, when, turns) in enumerate(_lme_sessions(item, distractors)):
            start = _lme_date(when)
            for n, turn in enumerate(turns):
                key = f"{position}:{sid}:{n}"
                if turn.get("has_answer"):
                    gold.add(key)
                drafts.append(
                    store.MessageDraft(
                        text=turn["content"],
                        said_at=start + timedelta(seconds=30 * n),
                        role=MessageRole.elder if turn["role"] == "user" else MessageRole.companion,
                        external_id=key,
                    )
                )
        with db.session_scope(scratch.engine) as session:
            scope = scratch.scope(session, elder_id, Permission.memories_write)
            store.import_messages(session, scope, drafts)
        started = time.perf_counter()
        extract_pending(
            scratch.engine,
            model,
            elder_id=elder_id,
            now=datetime.now(zone("UTC")) + timedelta(days=1),
        )
        drain(scratch.engine, scratch.index, elder_id=elder_id, batch=256)
        question = Query(
            text=item["question"],
            k=max(KS) * 2,
            as_of=_lme_date(item["question_date"]),
            hide_later=False,
        )
        with db.session_scope(scratch.engine) as session:
            scope = scratch.scope(session, elder_id)
            for name, kinds in (("turns only", ["turn"]), ("turns + facts", None)):
                query = Query(**{**vars(question), "kinds": kinds})
                hits = search(session, scope, scratch.index, query).hits
                results[name].add(item["question_type"], _ranked_turns(hits), gold)
        console.print(
            f"[dim]LongMemEval {item['question_id']} ({item['question_type']}): "
            f"{len(drafts)} turns, {time.perf_counter() - started:.0f} s[/dim]"
        )
    return results


def report_longmemeval(results: dict[str, Recall], per_type: int, distractors: int) -> Table:
    table = Table(
        title=f"LongMemEval_S, {per_type} questions per type, evidence + {distractors} other "
        "sessions each: turn recall (same run)"
    )
    table.add_column("question type")
    for name in results:
        table.add_column(f"{name} R@1 / R@3 / R@5 / R@10", justify="right")
    for kind in LME_TYPES:
        table.add_row(
            kind,
            *(" / ".join(f"{r.mean(kind, k):.3f}" for k in KS) for r in results.values()),
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="embedded", help="embedded or small")
    parser.add_argument("--limit", type=int, default=None, help="conversations per language")
    parser.add_argument(
        "--longmemeval",
        type=int,
        default=3,
        metavar="N",
        help="LongMemEval questions per type (knowledge-update, temporal-reasoning); 0 skips",
    )
    parser.add_argument(
        "--distractors", type=int, default=6, help="other sessions beside the evidence"
    )
    parser.add_argument("--skip-labelled", action="store_true", help="only the LongMemEval part")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    data = json.loads(LABELLED.read_text(encoding="utf-8"))
    conversations = data["conversations"]
    if args.limit:
        taken: Counter[str] = Counter()
        kept = []
        for conversation in conversations:
            if taken[conversation["language"]] < args.limit:
                taken[conversation["language"]] += 1
                kept.append(conversation)
        conversations = kept
    models = {f"embedded ({args.model})": make_chat_model(provider=args.model, data_dir=MODEL_DIR)}
    base_url = os.environ.get("ZHIAN_LLM_BASE_URL")
    if base_url:
        models["OpenAI-compatible server"] = make_chat_model(
            provider="openai",
            data_dir=MODEL_DIR,
            base_url=base_url,
            model=os.environ.get("ZHIAN_LLM_MODEL"),
            api_key=os.environ.get("ZHIAN_LLM_API_KEY"),
        )
    figures: dict[str, object] = {}
    if not args.skip_labelled:
        results: dict[str, Scores] = {}
        for name, model in models.items():
            folder = Path(tempfile.mkdtemp(prefix="zhian-bench-extract-"))
            engine = db.make_engine(f"sqlite:///{folder / 'zhian.db'}")
            db.upgrade(engine)
            scores = results.setdefault(name, Scores())
            for conversation in conversations:
                run_conversation(engine, model, conversation, scores)
                console.print(f"[dim]{name}: {conversation['id']} done[/dim]")
        messages = sum(len(c["messages"]) for c in conversations)
        Console(width=160).print(report(results, messages))
        figures["labelled"] = {k: vars(v) for k, v in results.items()}
    if args.longmemeval:
        name, model = next(iter(models.items()))
        recall = run_longmemeval(model, args.longmemeval, args.distractors)
        Console(width=160).print(report_longmemeval(recall, args.longmemeval, args.distractors))
        figures["longmemeval"] = {
            k: {kind: {str(n): r.mean(kind, n) for n in KS} for kind in LME_TYPES}
            for k, r in recall.items()
        }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

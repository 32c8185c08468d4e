"""Facts from conversation: precision and recall of extracted facts, facts taken from questions,
whether each is about the right person, and how the final state holds up after changes (a
move, a son's move), on labelled conversations in three languages; rules alone, the model
alone and both, in the same run.

    python bench/extraction.py [--model embedded|none] [--model-on held-out,fresh] [--longmemeval N]

bench/data/extraction_statements.json: conversations of an elder (and family) mixing
statements, questions, greetings, thanks, reminder requests, the speaker's uncertainty and
third-person sentences, each message labelled with its kind and the facts a careful person
would take from it (subject, slot, value as said; some optional), and which facts must be
current or retired at the end. It was written before the rules and is split by a fixed seed:
the rules were tuned on the dev two thirds only; the held-out third is reported apart.
bench/data/extraction_fresh.json was written last and never used to change anything. Figures
on dev are an upper bound.

Everything runs through the product path: messages are imported, `memory.extract` reads them
in batches (rules, then the model), `memory.facts` reconciles. The model alone is measured on
the very answers the rules-and-model run got (replayed), so the model reads each part once.
With ZHIAN_LLM_BASE_URL set, an OpenAI-compatible server is measured instead.

Then, on LongMemEval's knowledge-update and temporal-reasoning questions (../shared/benchmarks),
the same questions are asked of the memory twice in one run: with turn-level memories alone,
and with the facts extracted from the same conversations beside them (the rules' facts; the
model's too with --longmemeval-model). Each question's haystack is cut to its evidence sessions
and a few others, so recall is at turn level: a fact found counts as the turns it came from.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from rich.console import Console
from rich.table import Table
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ADMIN, DATA, Scratch, cached_embedder, fold  # noqa: E402
from companion.llm import make_chat_model  # noqa: E402
from memory import chatmodel, db, store  # noqa: E402
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

SETS = Path(__file__).resolve().parent / "data"
LABELLED = SETS / "extraction_statements.json"  # split into dev and held-out by SEED
FRESH = SETS / "extraction_fresh.json"  # written with the set, never used to change anything
AFTER = SETS / "extraction_fresh_after.json"  # written after the rules, never used either
SEED = 16
MODEL_DIR = Path.home() / ".cache" / "zhian-bench" / "model"
console = Console(stderr=True)

# Slots that answer the same question: a "workplace" for a gold "job" is not a wrong fact.
_SAME_SLOT = [
    {"job", "workplace"},
    {"hometown", "born_in"},
    {"school", "studies"},
    {"relation", "spouse", "child", "grandchild", "sibling", "parent", "friend"},
]


def split(conversations: list[dict]) -> tuple[list[dict], list[dict]]:
    """Dev (two thirds) and held-out (one third) of each language, by a fixed seed."""
    held: set[str] = set()
    for language in ("zh-Hant", "zh-Hans", "en"):
        ids = sorted(c["id"] for c in conversations if c["language"] == language)
        random.Random(SEED).shuffle(ids)
        held |= set(ids[: len(ids) // 3])
    return (
        [c for c in conversations if c["id"] not in held],
        [c for c in conversations if c["id"] in held],
    )


@dataclass
class Scores:
    gold: int = 0
    found: int = 0
    predicted: int = 0
    correct: int = 0
    from_questions: int = 0
    from_companion: int = 0
    value_matched: int = 0
    subject_right: int = 0
    final: int = 0
    final_right: int = 0
    runs: int = 0
    failed_runs: int = 0
    seconds: float = 0.0
    wrong: list[str] = field(default_factory=list)


def _load_conversation(engine, conversation: dict) -> tuple[str, dict[str, Message]]:  # type: ignore[no-untyped-def]
    with db.session_scope(engine) as session:
        elder = store.create_elder(
            session,
            display_name=conversation["id"],
            languages=[conversation["language"]],
            timezone=conversation["timezone"],
        )
        scope = resolve_scope(session, ADMIN, elder.id, permission=Permission.memories_write)
        start = datetime(2026, 11, 2, 9, 0, tzinfo=zone("UTC"))
        drafts = [
            store.MessageDraft(
                text=m["text"],
                role=MessageRole(m["role"]),
                said_at=start + timedelta(days=i),  # a day apart: changes come later
                external_id=f"{conversation['id']}-{i}",
            )
            for i, m in enumerate(conversation["messages"])
        ]
        created = store.import_messages(session, scope, drafts).created
        by_key = {m.external_id: m for m in created}
        for m in created:
            session.expunge(m)
        return elder.id, by_key  # type: ignore[return-value]


def _same_value(a: str | None, b: str | None) -> bool:
    a, b = fold(a).strip(), fold(b).strip()
    return bool(a) and bool(b) and (a in b or b in a)


def _same_subject(fact: Memory, gold: dict) -> bool:
    return fold(fact.subject or "self") == fold(gold["subject"])


def _same_slot(fact: Memory, gold: dict) -> bool:
    if fact.attribute == gold["attribute"]:
        return True
    return any({fact.attribute, gold["attribute"]} <= group for group in _SAME_SLOT)


def _matches(fact: Memory, gold: dict) -> bool:
    return (
        _same_value(fact.value, gold["value"])
        and _same_subject(fact, gold)
        and _same_slot(fact, gold)
    )


def run_conversation(engine, model, conversation: dict, scores: Scores, *, rules: bool) -> None:  # type: ignore[no-untyped-def]
    elder_id, by_key = _load_conversation(engine, conversation)
    started = time.perf_counter()
    extract_pending(
        engine,
        model,
        elder_id=elder_id,
        now=datetime.now(zone("UTC")) + timedelta(days=400),
        rules=rules,
    )
    scores.seconds += time.perf_counter() - started
    with db.session_scope(engine) as session:
        facts = list(
            session.exec(
                select(Memory).where(
                    Memory.elder_id == elder_id,
                    Memory.kind.in_(FACT_KINDS),  # type: ignore[attr-defined]
                    Memory.deleted_at.is_(None),  # type: ignore[union-attr]
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
    scores.runs += sum(r.attempts > 0 for r in runs)
    scores.failed_runs += sum(r.status == "failed" for r in runs)
    labelled: dict[int, dict] = {}
    for i, m in enumerate(conversation["messages"]):
        message = by_key[f"{conversation['id']}-{i}"]
        labelled[message.id] = m  # type: ignore[index]
        for gold in m["facts"]:
            if gold.get("optional"):
                continue
            scores.gold += 1
            if any(message.id in sources.get(f.id, set()) and _matches(f, gold) for f in facts):
                scores.found += 1
    for fact in facts:
        for message_id in sources.get(fact.id, set()):
            said = labelled[message_id]
            scores.predicted += 1
            if said["kind"] not in ("s", "f", "c"):
                scores.from_questions += 1
            if said["kind"] == "c":
                scores.from_companion += 1
            if any(_matches(fact, g) for g in said["facts"]):
                scores.correct += 1
            else:
                scores.wrong.append(
                    f"{said['text']} -> {fact.subject}/{fact.attribute}/{fact.value}"
                )
            if any(_same_value(fact.value, g["value"]) for g in said["facts"]):
                scores.value_matched += 1
                if any(
                    _same_value(fact.value, g["value"]) and _same_subject(fact, g)
                    for g in said["facts"]
                ):
                    scores.subject_right += 1
    for expected in conversation.get("final", []):
        scores.final += 1
        those = [
            f
            for f in facts
            if f.attribute == expected["attribute"]
            and fold(f.subject or "self") == fold(expected["subject"])
            and _same_value(f.value, expected["value"])
        ]
        if those and all((f.valid_to is None) == expected["current"] for f in those):
            scores.final_right += 1


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.0%} ({a}/{b})" if b else "–"


def report(results: dict[str, Scores], title: str) -> Table:
    table = Table(title=title)
    table.add_column("measure")
    for name in results:
        table.add_column(name, justify="right")
    rows = [
        ("precision (facts right)", lambda s: _ratio(s.correct, s.predicted)),
        ("recall (gold facts found)", lambda s: _ratio(s.found, s.gold)),
        ("facts from questions, greetings, thanks...", lambda s: str(s.from_questions)),
        ("facts from the companion's words", lambda s: str(s.from_companion)),
        ("subject right", lambda s: _ratio(s.subject_right, s.value_matched)),
        ("current/retired right after changes", lambda s: _ratio(s.final_right, s.final)),
        ("model answer failed (batches)", lambda s: _ratio(s.failed_runs, s.runs)),
        ("seconds", lambda s: f"{s.seconds:.0f}"),
    ]
    for label, value in rows:
        table.add_row(label, *(value(s) for s in results.values()))
    return table


class Recorded(BaseChatModel):
    """Replays a model's answers in the order they were given: the model alone is measured on
    the very answers the rules-and-model run got (a 1.5B model on two cores reads slowly)."""

    answers: list[str]
    position: int = 0

    @property
    def _llm_type(self) -> str:
        return "recorded"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        answer = self.answers[self.position]
        self.position += 1
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=answer))])


class Recording(BaseChatModel):
    """Passes calls to a model and keeps its answers."""

    inner: BaseChatModel
    answers: list[str] = []

    @property
    def _llm_type(self) -> str:
        return self.inner._llm_type

    @property
    def supports_json_schema(self) -> bool:
        return chatmodel.holds_json_schema(self.inner)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        reply = self.inner.invoke(messages, stop=stop, **kwargs)
        self.answers.append(str(reply.content))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply.content))])


def _interleaved(conversations: list[dict]) -> list[dict]:
    """One conversation of each language in turn: a run cut short has read all three."""
    by_language: dict[str, list[dict]] = {}
    for conversation in conversations:
        by_language.setdefault(conversation["language"], []).append(conversation)
    queues = list(by_language.values())
    ordered = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    return ordered


def _line(s: Scores) -> str:
    return (
        f"precision {s.correct}/{s.predicted}, recall {s.found}/{s.gold}, "
        f"from questions {s.from_questions}, subject {s.subject_right}/{s.value_matched}, "
        f"final {s.final_right}/{s.final}"
    )


def measure(conversations: list[dict], model, *, with_model: bool) -> dict[str, Scores]:  # type: ignore[no-untyped-def]
    """Rules alone, the model alone and both, on the same conversations in one run."""

    def engine():  # type: ignore[no-untyped-def]
        folder = Path(tempfile.mkdtemp(prefix="zhian-bench-extract-"))
        made = db.make_engine(f"sqlite:///{folder / 'zhian.db'}")
        db.upgrade(made)
        return made

    results: dict[str, Scores] = {"rules alone": Scores()}
    rules_engine = engine()
    for conversation in conversations:
        run_conversation(rules_engine, None, conversation, results["rules alone"], rules=True)
    if not with_model or model is None:
        return results
    both, alone = Scores(), Scores()
    both_engine, alone_engine = engine(), engine()
    for conversation in _interleaved(conversations):
        # Each conversation's answers are replayed at once, so that a run cut short still
        # reports the model alone and both on the same conversations.
        recording = Recording(inner=model, answers=[])
        run_conversation(both_engine, recording, conversation, both, rules=True)
        replay = Recorded(answers=list(recording.answers))
        run_conversation(alone_engine, replay, conversation, alone, rules=False)
        console.print(
            f"[dim]model: {conversation['id']} done ({both.seconds:.0f} s); so far "
            f"model alone {_line(alone)}; rules + model {_line(both)}[/dim]"
        )
    alone.seconds = both.seconds
    results["model alone"], results["rules + model"] = alone, both
    return results


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
    parser.add_argument("--model", default="embedded", help="embedded, small or none")
    parser.add_argument(
        "--model-on",
        default="held-out,fresh,after",
        help="the parts the model reads (dev, held-out, fresh, after); the rules read them all",
    )
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
    parser.add_argument(
        "--longmemeval-model", action="store_true", help="facts for LongMemEval by the model too"
    )
    parser.add_argument("--skip-labelled", action="store_true", help="only the LongMemEval part")
    parser.add_argument("--show-wrong", action="store_true", help="list the wrong facts (dev only)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    model = None
    if args.model != "none":
        model = make_chat_model(provider=args.model, data_dir=MODEL_DIR)
    base_url = os.environ.get("ZHIAN_LLM_BASE_URL")
    if base_url:
        model = make_chat_model(
            provider="openai",
            data_dir=MODEL_DIR,
            base_url=base_url,
            model=os.environ.get("ZHIAN_LLM_MODEL"),
            api_key=os.environ.get("ZHIAN_LLM_API_KEY"),
        )
    figures: dict[str, object] = {}
    if not args.skip_labelled:
        dev, held_out = split(json.loads(LABELLED.read_text(encoding="utf-8"))["conversations"])
        fresh = json.loads(FRESH.read_text(encoding="utf-8"))["conversations"]
        after = json.loads(AFTER.read_text(encoding="utf-8"))["conversations"]
        parts = {
            "dev (tuned on)": dev,
            "held-out": held_out,
            "fresh (never tuned on)": fresh,
            "fresh, written after the rules": after,
        }
        for (name, conversations), key in zip(
            parts.items(), ("dev", "held-out", "fresh", "after"), strict=True
        ):
            results = measure(conversations, model, with_model=key in args.model_on.split(","))
            messages = sum(len(c["messages"]) for c in conversations)
            Console(width=160).print(
                report(
                    results,
                    f"Facts, {name}: {len(conversations)} conversations, {messages} messages",
                )
            )
            if args.show_wrong and key == "dev":
                for line in results["rules alone"].wrong:
                    console.print(f"[dim]wrong: {line}[/dim]")
            figures[key] = {
                k: {n: v for n, v in vars(r).items() if n != "wrong"} for k, r in results.items()
            }
    if args.longmemeval:
        lme_model = model if args.longmemeval_model else None
        recall = run_longmemeval(lme_model, args.longmemeval, args.distractors)
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

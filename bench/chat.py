"""The companion with the embedded model: time to first sentence and whole-turn time (split
into storing, recall, prompt building and generation), and a grounding evaluation beside the
same model without memory, in the same run.

    python bench/chat.py [--languages zh-Hant,zh-Hans,en] [--probes 10] [--json FILE]

For each language an elder tells 智安 ten things about their life (ten real turns), then asks
about them (`present`: the reply must hold the fact) and about things never told (`absent`:
the reply must invent nothing, i.e. say it does not know). Probes: bench/data/grounding_probes.json.
The baseline is the same model, same persona, asked the same questions with no memory and no
grounding gate. Everything runs through the product path (companion.chat.Companion) on SQLite,
embedded Chroma and e5-small.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from langchain_core.messages import HumanMessage, SystemMessage
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Scratch, fold  # noqa: E402
from companion.chat import Companion, Turn  # noqa: E402
from companion.llm import make_chat_model  # noqa: E402
from companion.persona import voice  # noqa: E402
from companion.style import StyleGuard, join_sentences  # noqa: E402
from memory import db  # noqa: E402
from memory.access import caller_for, elder_account, resolve_scope  # noqa: E402
from memory.embed import make_embedder  # noqa: E402
from memory.indexer import drain  # noqa: E402

PROBES = Path(__file__).resolve().parent / "data" / "grounding_probes.json"
MODEL_DIR = Path.home() / ".cache" / "zhian-bench" / "model"
console = Console(stderr=True)

# Saying it does not know, in each language: an absent probe is answered well with one of these.
# An invitation alone ("tell me about him") does not count: it may follow an invented answer.
DONT_KNOW = {
    "zh-Hant": ("不知道", "不清楚", "不確定", "沒有提到", "沒有聽您說過"),
    "zh-Hans": ("不知道", "不清楚", "不确定", "没有提到", "没有听您说过"),
    "en": ("don't know", "do not know", "not sure", "haven't told me", "have not told me"),
}


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Run:
    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        self.scratch = Scratch.make(make_embedder("e5-small"))
        self.companion = Companion(self.scratch.engine, self.scratch.index, model)
        self.model = model
        self.timings: list[dict[str, float]] = []

    def elder(self, language: str) -> str:
        return self.scratch.elder(f"bench {language}", language, "Asia/Taipei")

    def turn(self, elder_id: str, text: str) -> tuple[str, Turn, float]:
        """One turn through the product path; returns the reply, the turn and the first-sentence time."""
        started = time.perf_counter()
        with db.session_scope(self.scratch.engine) as session:
            elder = caller_for(elder_account(session, elder_id))
            scope = resolve_scope(session, elder, elder_id)
            turn = self.companion.prepare(session, scope, text)
        guard = StyleGuard(turn.voice)
        said: list[str] = []
        first = None
        for sentence in self.companion.sentences(turn, guard):
            if first is None:
                first = time.perf_counter() - started
            said.append(sentence)
        self.companion.store_reply(scope, turn, said, guard)
        total = time.perf_counter() - started
        # What the server's background indexer does between turns, outside the turn's time.
        drain(self.scratch.engine, self.scratch.index)
        timing = dict(turn.timings, first_ms=(first or total) * 1000, total_ms=total * 1000)
        self.timings.append(timing)
        return join_sentences(said, turn.voice.language), turn, timing["first_ms"]

    def without_memory(self, language: str, question: str) -> str:
        """The same model and persona, no memory and no gate."""
        persona = voice(language)
        prompt = [
            SystemMessage(content=persona.persona),
            HumanMessage(
                content=persona.turn.format(
                    today=persona.date(date.today()),
                    memories=persona.say("no_memories"),
                    message=question,
                )
            ),
        ]
        guard = StyleGuard(persona)
        said = []
        for chunk in self.model.stream(prompt):
            said += guard.feed(str(chunk.content))
            if guard.full:
                break
        return join_sentences(said + guard.finish(), language)


def _holds(reply: str, words: Sequence[str]) -> bool:
    return any(fold(w) in fold(reply) for w in words)


def evaluate(run: Run, language: str, spec: dict, probes: int, rows: list[dict]) -> None:
    """A conversation: the facts told, then the probes, all through the product path."""
    elder_id = run.elder(language)
    for fact in spec["facts"]:
        reply, _, _ = run.turn(elder_id, fact)
        console.print(f"[dim]{language} told:[/dim] {fact} → {reply}")
    questions = [(p["q"], "present", p["expect"]) for p in spec["present"][:probes]]
    questions += [(q, "absent", DONT_KNOW[language]) for q in spec["absent"][:probes]]
    for question, kind, expect in questions:
        reply, turn, _ = run.turn(elder_id, question)
        ok = (
            _holds(reply, expect)
            if kind == "present"
            else (turn.kind == "not_known" or _holds(reply, expect))
        )
        rows.append(
            {
                "language": language,
                "type": kind,
                "question": question,
                "expect": list(expect) if kind == "present" else [],
                "zhian": reply,
                "zhian_ok": ok,
                "kind": turn.kind,
                "best_similarity": max((h.similarity or 0 for h in turn.recalled), default=0),
            }
        )
        console.print(f"[dim]{language} {kind}:[/dim] {question} → {reply}")


def evaluate_bare(run: Run, rows: list[dict]) -> None:
    """The same questions to the same model with no memory and no gate (after the
    conversations, so that it does not disturb their timings)."""
    for row in rows:
        bare = run.without_memory(row["language"], row["question"])
        words = row["expect"] if row["type"] == "present" else DONT_KNOW[row["language"]]
        row["bare"], row["bare_ok"] = bare, _holds(bare, words)
        console.print(
            f"[dim]{row['language']} {row['type']} without memory:[/dim] {row['question']} → {bare}"
        )


def report(rows: list[dict], timings: list[dict[str, float]]) -> tuple[Table, Table, dict]:
    quality = Table(title="Grounding: share of probes answered well (same model, same run)")
    for column in ("probes", "n", "zhian", "model without memory", "difference"):
        quality.add_column(column, justify="right" if column != "probes" else "left")
    figures: dict = {"grounding": {}, "timings": {}}
    groups = sorted({(r["language"], r["type"]) for r in rows}) + [
        ("all", "present"),
        ("all", "absent"),
    ]
    for language, kind in groups:
        chosen = [r for r in rows if r["type"] == kind and language in ("all", r["language"])]
        if not chosen:
            continue
        ours = sum(r["zhian_ok"] for r in chosen) / len(chosen)
        bare = sum(r["bare_ok"] for r in chosen) / len(chosen)
        label = f"{language} {kind}" + (" (recalled)" if kind == "present" else " (no invention)")
        quality.add_row(
            label, str(len(chosen)), f"{ours:.0%}", f"{bare:.0%}", f"{(ours - bare) * 100:+.0f} pt"
        )
        figures["grounding"][f"{language} {kind}"] = {"zhian": ours, "bare": bare, "n": len(chosen)}

    speed = Table(title="Turn time, ms (p50 / p95), embedded model on this machine")
    speed.add_column("part")
    speed.add_column("p50", justify="right")
    speed.add_column("p95", justify="right")
    # Everything but generation: storing the words, recall (index catch-up included), prompt.
    for timing in timings:
        timing["before_generation_ms"] = sum(
            timing.get(k, 0.0) for k in ("store_ms", "retrieval_ms", "prompt_ms")
        )
    parts = [
        ("store the elder's words", "store_ms"),
        ("recall (search)", "retrieval_ms"),
        ("build the prompt", "prompt_ms"),
        ("everything but generation", "before_generation_ms"),
        ("first token from the model", "first_token_ms"),
        ("first sentence shown", "first_ms"),
        ("whole turn", "total_ms"),
    ]
    model_turns = [t for t in timings if "generation_ms" in t]
    for label, key in parts:
        pool = model_turns if key in ("first_ms", "total_ms", "first_token_ms") else timings
        values = [t[key] for t in pool if key in t]
        p50, p95 = _percentile(values, 0.5), _percentile(values, 0.95)
        speed.add_row(label, f"{p50:,.0f}", f"{p95:,.0f}")
        figures["timings"][key] = {"p50": p50, "p95": p95, "n": len(values)}
    return quality, speed, figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--languages", default="zh-Hant,zh-Hans,en")
    parser.add_argument(
        "--probes", type=int, default=10, help="present and absent probes per language"
    )
    parser.add_argument("--model", default="embedded", help="embedded or small")
    parser.add_argument("--json", type=Path, help="also write the figures and every answer here")
    args = parser.parse_args(argv)
    spec = json.loads(PROBES.read_text(encoding="utf-8"))
    model = make_chat_model(provider=args.model, data_dir=MODEL_DIR)
    model.load()  # type: ignore[attr-defined]
    run = Run(model)
    rows: list[dict] = []
    started = time.monotonic()
    for language in args.languages.split(","):
        evaluate(run, language.strip(), spec[language.strip()], args.probes, rows)
    evaluate_bare(run, rows)
    quality, speed, figures = report(rows, run.timings)
    out = Console(width=160)
    out.print(quality)
    out.print(speed)
    similarity = {
        kind: [round(r["best_similarity"], 3) for r in rows if r["type"] == kind]
        for kind in ("present", "absent")
    }
    out.print(
        f"{len(rows)} probes in {time.monotonic() - started:.0f} s. Best recalled similarity, "
        f"present: median {statistics.median(similarity['present'] or [0]):.3f}, "
        f"absent: median {statistics.median(similarity['absent'] or [0]):.3f}"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"figures": figures, "answers": rows}, ensure_ascii=False, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

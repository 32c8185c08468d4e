"""Concern checks and mood on a labelled set in three languages: precision and recall per
concern, for the rules alone and the rules refined by the embedded language model, in the same
run; and mood accuracy.

    python bench/concerns.py [--rules-only] [--model embedded]

The labelled set is bench/data/concerns_labelled.json: messages an elder might say, each with
the concerns a careful carer would flag and the mood, with hard negatives on purpose (a fall
ten years ago, a neighbour's fall, 熱死了, "dying to see", jokes, fears, negations). Targets:
urgent concerns (self-harm, falls) recall at least 0.95 with precision at least 0.7.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion.signals import CONCERNS, SEVERITY, read_signals, refine  # noqa: E402

LABELLED = Path(__file__).resolve().parent / "data" / "concerns_labelled.json"
MODEL_DIR = Path.home() / ".cache" / "zhian-bench" / "model"
console = Console(stderr=True)


def score(messages: list[dict], predicted: list[list[str]]) -> dict[str, Counter]:
    tallies: dict[str, Counter] = {kind: Counter() for kind in (*CONCERNS, "urgent")}
    for message, got in zip(messages, predicted, strict=True):
        gold = set(message["concerns"])
        for kind in CONCERNS:
            tallies[kind][(kind in gold, kind in got)] += 1
        urgent_gold = any(SEVERITY[c] == "urgent" for c in gold)
        urgent_got = any(SEVERITY[c] == "urgent" for c in got)
        tallies["urgent"][(urgent_gold, urgent_got)] += 1
    return tallies


def _pr(t: Counter) -> tuple[str, str]:
    tp, fp, fn = t[(True, True)], t[(False, True)], t[(True, False)]
    precision = f"{tp / (tp + fp):.2f}" if tp + fp else "–"
    recall = f"{tp / (tp + fn):.2f}" if tp + fn else "–"
    return precision, recall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rules-only", action="store_true", help="skip the language model")
    parser.add_argument("--model", default="embedded", help="embedded or small")
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument(
        "--part",
        default="messages",
        choices=("messages", "held_out", "fresh"),
        help="messages: the rules were shaped on it; held_out: looked at once; fresh: never",
    )
    args = parser.parse_args(argv)
    data = json.loads(LABELLED.read_text(encoding="utf-8"))
    messages = data[args.part]
    started = time.perf_counter()
    rules = [read_signals(m["text"]) for m in messages]
    rules_ms = (time.perf_counter() - started) * 1000 / len(messages)
    runs = {"rules": ([s.concerns for s in rules], [s.mood for s in rules], rules_ms)}
    if not args.rules_only:
        from companion.llm import make_chat_model

        model = make_chat_model(provider=args.model, data_dir=MODEL_DIR)
        started = time.perf_counter()
        refined = []
        for n, (m, s) in enumerate(zip(messages, rules, strict=True), 1):
            refined.append(refine(model, m["text"], s))
            if n % 20 == 0:
                console.print(f"[dim]model: {n}/{len(messages)}[/dim]")
        model_ms = (time.perf_counter() - started) * 1000 / len(messages)
        runs[f"rules + {args.model} model"] = (
            [s.concerns for s in refined],
            [s.mood for s in refined],
            model_ms,
        )
    languages = Counter(m["language"] for m in messages)
    table = Table(
        title=f"Concern checks on {len(messages)} labelled messages ({args.part}) "
        f"({', '.join(f'{k} {v}' for k, v in languages.items())}); same run"
    )
    table.add_column("concern")
    table.add_column("gold", justify="right")
    for name in runs:
        table.add_column(f"{name}: precision / recall", justify="right")
    tallies = {name: score(messages, predicted) for name, (predicted, _, _) in runs.items()}
    for kind in ("urgent", *CONCERNS):
        gold = sum(
            1
            for m in messages
            if (kind in m["concerns"])
            or (kind == "urgent" and any(SEVERITY[c] == "urgent" for c in m["concerns"]))
        )
        label = "urgent (self-harm or fall)" if kind == "urgent" else kind
        table.add_row(label, str(gold), *(" / ".join(_pr(t[kind])) for t in tallies.values()))
    table.add_row(
        "mood right",
        "",
        *(
            f"{sum(g == m['mood'] for g, m in zip(moods, messages, strict=True)) / len(messages):.0%}"
            for _, moods, _ in runs.values()
        ),
    )
    table.add_row("ms per message", "", *(f"{ms:.1f}" for _, _, ms in runs.values()))
    Console(width=160).print(table)
    if args.show_errors:
        for name, (predicted, moods, _) in runs.items():
            for m, got, mood in zip(messages, predicted, moods, strict=True):
                if set(got) != set(m["concerns"]) or mood != m["mood"]:
                    console.print(
                        f"{name}: {m['text']} gold={m['concerns']}/{m['mood']} got={got}/{mood}"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

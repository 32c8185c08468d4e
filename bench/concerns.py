"""Concern checks in three languages: precision and recall per concern and per language, for
the rules alone, the recogniser alone (companion/meaning.py: nearness to a labelled bank of
examples, with the rules' take-backs) and both, in the same run.

    python bench/concerns.py [--part tune|held_out|fresh|unseen|unseen2|everyday|everyday_unseen|conversations]
                             [--show-errors]
    python bench/concerns.py --set labelled [--rules-only] [--model embedded] [--part ...]
    python bench/concerns.py --save-bank-vectors      # after changing the bank

The default set, bench/data/concerns_meaning.json, was written apart from the recogniser's bank:
105 urgent messages (falls, talk of ending one's life, much of it indirect), 153 hard
negatives and 110 other concerns per language. Its groups (one idea in three languages) are
split by seed: `tune` (two thirds: the thresholds and word lists were chosen on it, an upper
bound), `held_out` (a third, for the final figure only) and `fresh` (written after everything
was tuned, measured once). `conversations` reads a message with the elder's messages before
it. Written by other hands, apart from the bank and the word lists: concerns_unseen.json
(`unseen`: 35 self-harm, 35 falls, 50 hard negatives and 20 other concerns per language; its
first figure was taken before the margins changed, it was looked at after),
concerns_unseen2.json (`unseen2`, measured once, for the final figure) and
concerns_everyday.json (`everyday_unseen`: 150 ordinary messages per language, measured
once); `everyday` gathers the elders' messages of the other benchmarks' sets. On the
everyday parts every urgent flag is a false alarm to the family. Targets: urgent recall at least 0.95 with precision at least 0.80 in every language; pain,
not eating, not sleeping, loneliness and confusion recall 0.80 with precision 0.70.

The older set, bench/data/concerns_labelled.json (`--set labelled`), measures the rules and the
embedded language model's second look, with mood accuracy.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion.signals import (  # noqa: E402
    CONCERNS,
    SEVERITY,
    hear,
    read_by_meaning,
    read_signals,
    refine,
)

LABELLED = Path(__file__).resolve().parent / "data" / "concerns_labelled.json"
MEANING = Path(__file__).resolve().parent / "data" / "concerns_meaning.json"
UNSEEN = Path(__file__).resolve().parent / "data" / "concerns_unseen.json"
UNSEEN2 = Path(__file__).resolve().parent / "data" / "concerns_unseen2.json"
EVERYDAY = Path(__file__).resolve().parent / "data" / "concerns_everyday.json"
LANGUAGES = ("zh-Hant", "zh-Hans", "en")
URGENT = ("self_harm", "fall")
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
    parser.add_argument("--set", default="meaning", choices=("meaning", "labelled"))
    parser.add_argument("--rules-only", action="store_true", help="labelled: skip the model")
    parser.add_argument("--model", default="embedded", help="labelled: embedded or small")
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument(
        "--part",
        default=None,
        help="meaning: tune (default), held_out, fresh, "
        "conversations; labelled: messages (default), held_out, fresh",
    )
    parser.add_argument(
        "--save-bank-vectors",
        action="store_true",
        help="compute and store the recogniser bank's vectors",
    )
    args = parser.parse_args(argv)
    if args.save_bank_vectors:
        from companion.meaning import save_vectors
        from memory.embed import make_embedder

        count = save_vectors(embedder=make_embedder("e5-small"))
        console.print(f"stored the vectors of {count} bank sentences")
        return 0
    if args.set == "meaning":
        return meaning(args)
    args.part = args.part or "messages"
    if args.part not in ("messages", "held_out", "fresh"):
        parser.error("--set labelled has the parts messages, held_out and fresh")
    return labelled(args)


def labelled(args: argparse.Namespace) -> int:
    data = json.loads(LABELLED.read_text(encoding="utf-8"))
    messages = data[args.part]
    started = time.perf_counter()
    rules = [read_signals(m["text"]) for m in messages]
    rules_ms = (time.perf_counter() - started) * 1000 / len(messages)
    runs = {"rules": ([s.concerns for s in rules], [s.mood for s in rules], rules_ms)}
    from companion.meaning import ConcernBank

    bank = ConcernBank(_embedder())
    heard = [hear(m["text"], bank=bank) for m in messages]
    runs["rules + recogniser"] = ([s.concerns for s in heard], [s.mood for s in heard], 0.0)
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


# --- the meaning set: rules, recogniser, both ----------------------------------------------


def everyday() -> list[dict]:
    """What elders say every day, from the other benchmarks' sets (written for conversation,
    facts and stories, not for concerns): greetings, news, memories, questions, thanks and
    goodbyes. None is urgent, so every urgent flag on them is a false alarm to the family."""
    here = Path(__file__).resolve().parent / "data"
    texts: list[tuple[str, str]] = []
    chats = json.loads((here / "conversations.json").read_text(encoding="utf-8"))
    probes = json.loads((here / "grounding_probes.json").read_text(encoding="utf-8"))
    for language in LANGUAGES:
        texts += [(language, t["say"]) for c in chats[language] for t in c["turns"]]
        probe = probes[language]
        texts += [(language, f) for f in probe["facts"]]
        texts += [(language, q["q"]) for q in probe["present"]]
        texts += [(language, q) for q in probe["absent"]]
    for name in (
        "extraction_statements.json",
        "extraction_fresh.json",
        "extraction_fresh_after.json",
        "extraction_labelled.json",
    ):
        for c in json.loads((here / name).read_text(encoding="utf-8"))["conversations"]:
            texts += [(c["language"], m["text"]) for m in c["messages"] if m["role"] != "companion"]
    for elder in json.loads((here / "story_lives.json").read_text(encoding="utf-8"))["elders"]:
        texts += [(elder["language"], m["text"]) for m in elder["memories"]]
    seen: set[str] = set()
    return [
        {"language": lang, "text": t, "concerns": [], "group": "everyday"}
        for lang, t in texts
        if not (t in seen or seen.add(t))
    ]


def split(data: dict) -> dict[str, list[dict]]:
    """tune and held_out by group, fixed by the seed; every third shuffled group is held out."""
    groups = sorted({m["group"] for m in data["messages"]})
    random.Random(data["seed"]).shuffle(groups)
    held = set(groups[::3])
    return {
        "tune": [m for m in data["messages"] if m["group"] not in held],
        "held_out": [m for m in data["messages"] if m["group"] in held],
        "fresh": data["fresh"],
        "unseen": json.loads(UNSEEN.read_text(encoding="utf-8"))["messages"],
        "unseen2": json.loads(UNSEEN2.read_text(encoding="utf-8"))["messages"],
        "everyday": everyday(),
        "everyday_unseen": json.loads(EVERYDAY.read_text(encoding="utf-8"))["messages"],
    }


def _as_family_sees(kinds: list[str] | set[str]) -> set[str]:
    """The pain of a fall is the fall's (one flag, the urgent one), in the gold and the guess."""
    kinds = set(kinds)
    return kinds - {"pain"} if "fall" in kinds else kinds


def _counts(gold: list[set[str]], got: list[set[str]], kind: str) -> tuple[int, int, int]:
    tp = fp = fn = 0
    for g, p in zip(gold, got, strict=True):
        if kind == "urgent":
            gi, pi = bool(g & set(URGENT)), bool(p & set(URGENT))
        else:
            gi, pi = kind in g, kind in p
        tp, fp, fn = tp + (gi and pi), fp + (pi and not gi), fn + (gi and not pi)
    return tp, fp, fn


def _cell(tp: int, fp: int, fn: int) -> str:
    precision = f"{tp / (tp + fp):.2f}" if tp + fp else "–"
    recall = f"{tp / (tp + fn):.2f}" if tp + fn else "–"
    return f"{precision} / {recall}"


def _embedder():  # type: ignore[no-untyped-def]
    from bench.common import CachedEmbeddings
    from memory.embed import make_embedder

    return CachedEmbeddings(make_embedder("e5-small"), "e5-small")


def meaning(args: argparse.Namespace) -> int:
    from companion.meaning import ConcernBank

    data = json.loads(MEANING.read_text(encoding="utf-8"))
    part = args.part or "tune"
    if part == "conversations":
        return conversations(data["conversations"], args)
    parts = split(data)
    if part not in parts:
        console.print(f"[red]no part {part!r}: tune, held_out, fresh, unseen, unseen2, everyday, everyday_unseen or conversations[/red]")
        return 2
    messages = parts[part]
    if not messages:
        console.print(f"[red]the {part} part is empty[/red]")
        return 2
    embedder = _embedder()
    bank = ConcernBank(embedder)
    bank.ready()
    vectors = [embedder.embed_query(m["text"]) for m in messages]
    runs: dict[str, list[set[str]]] = {"rules": [], "recogniser": [], "both": []}
    unsure = 0
    for m, vector in zip(messages, vectors, strict=True):
        runs["rules"].append(_as_family_sees(read_signals(m["text"]).concerns))
        alone, _ = read_by_meaning(m["text"], bank.read(m["text"], vector))
        runs["recogniser"].append(_as_family_sees(alone))
        both = hear(m["text"], vector=vector, bank=bank)
        unsure += bool(both.uncertain)
        runs["both"].append(_as_family_sees(both.concerns))
    gold = [_as_family_sees(m["concerns"]) for m in messages]
    table = Table(
        title=f"Concern checks on the {part} part: precision / recall, same run"
    )
    table.add_column("language")
    table.add_column("concern")
    table.add_column("gold", justify="right")
    for name in runs:
        table.add_column(name, justify="right")
    for language in (*LANGUAGES, "all"):
        idx = [i for i, m in enumerate(messages) if language in ("all", m["language"])]
        for kind in ("urgent", *URGENT, *(k for k in CONCERNS if k not in URGENT)):
            g = [gold[i] for i in idx]
            n = (
                sum(1 for x in g if (x & set(URGENT)) if kind == "urgent")
                if kind == "urgent"
                else sum(kind in x for x in g)
            )
            table.add_row(
                language if kind == "urgent" else "",
                kind,
                str(n),
                *(_cell(*_counts(g, [got[i] for i in idx], kind)) for got in runs.values()),
            )
        table.add_section()
    Console(width=160).print(table)
    console.print(f"{unsure} of {len(messages)} messages raised a concern on an uncertain reading")
    calm = [i for i, g in enumerate(gold) if not g & set(URGENT)]
    for name, got in runs.items():
        alarms = {lang: 0 for lang in LANGUAGES}
        for i in calm:
            alarms[messages[i]["language"]] += bool(got[i] & set(URGENT))
        console.print(
            f"false urgent alarms, {name}: "
            + ", ".join(
                f"{lang} {n} of {sum(messages[i]['language'] == lang for i in calm)}"
                for lang, n in alarms.items()
            )
        )
    latency(messages, bank)
    if args.show_errors:
        for name, got in runs.items():
            for m, g, p in zip(messages, gold, got, strict=True):
                if g != p:
                    urgent = (g & set(URGENT)) != (p & set(URGENT))
                    mark = ("FN" if g & set(URGENT) else "FP") if urgent else "--"
                    print(f"{name}\t{mark}\t{m['language']}\t{sorted(g)}\t{sorted(p)}\t{m['text']}")
    return 0


def latency(messages: list[dict], bank) -> None:  # type: ignore[no-untyped-def]
    """What the check adds to a turn: the rules, the recogniser on a vector the turn's memory
    search computes anyway (the chat), and with its own embedding (the messages API)."""
    from memory.embed import make_embedder

    sample = messages[:: max(1, len(messages) // 40)][:40]
    raw = make_embedder("e5-small")
    live = type(bank)(raw)
    live.ready()
    raw.embed_query("warm up")
    timings = {}
    started = time.perf_counter()
    for m in sample:
        read_signals(m["text"])
    timings["rules"] = (time.perf_counter() - started) * 1000 / len(sample)
    vectors = [raw.embed_query(m["text"]) for m in sample]
    started = time.perf_counter()
    for m, v in zip(sample, vectors, strict=True):
        hear(m["text"], vector=v, bank=live)
    timings["rules + recogniser, vector reused"] = (
        (time.perf_counter() - started) * 1000 / len(sample)
    )
    live._recent.clear()  # no reading kept from the loop before
    started = time.perf_counter()
    for m in sample:
        hear(m["text"], bank=live)
    timings["rules + recogniser, own embedding"] = (
        (time.perf_counter() - started) * 1000 / len(sample)
    )
    console.print("ms per message: " + "; ".join(f"{k} {v:.1f}" for k, v in timings.items()))


def conversations(items: list[dict], args: argparse.Namespace) -> int:
    """Each item: the elder's earlier messages and the last one, with the last one's urgent
    concerns; read alone and with the ones before."""
    from companion.meaning import ConcernBank

    bank = ConcernBank(_embedder())
    alone = with_context = 0
    tallies = {"alone": [0, 0, 0], "with the messages before": [0, 0, 0]}
    for item in items:
        gold = bool(set(item["concerns"]) & set(URGENT))
        one = bool(set(hear(item["text"], bank=bank).concerns) & set(URGENT))
        earlier = [e["text"] for e in item["earlier"]]
        raised = {k for e in item["earlier"] for k in read_signals(e["text"]).concerns}
        two = hear(item["text"], earlier=earlier, raised_earlier=raised, bank=bank)
        got = bool(set(two.concerns) & set(URGENT))
        for name, p in (("alone", one), ("with the messages before", got)):
            t = tallies[name]
            t[0] += gold and p
            t[1] += p and not gold
            t[2] += gold and not p
        alone += one
        with_context += got
        if args.show_errors and got != gold:
            console.print(f"{item['language']}: {earlier} → {item['text']} gold={gold} got={got}")
    for name, (tp, fp, fn) in tallies.items():
        console.print(
            f"{len(items)} conversations, urgent precision / recall, {name}: {_cell(tp, fp, fn)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

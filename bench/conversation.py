"""Whole conversations, judged by rules: zhian beside the same model with a plain persona and no
memory, and the same model with the memories in its prompt but no gate and no checker, in the
same run.

    python bench/conversation.py [--split held_out|dev|all] [--systems zhian,plain,memories]
                                 [--languages zh-Hant,zh-Hans,en] [--conversations N] [--json FILE]

Data: bench/data/conversations.json, written fresh for this benchmark (not the grounding
probes): per language six elders, each first telling a few things, then turns of every kind
(shares, feelings, pain, small talk, questions about their past and about things never told,
"how do you know?", today's date, a reminder). A third of the conversations ("held_out") is
used for nothing but the final figure; report it separately.

A turn passes when the reply holds no refusal or AI disclaimer, does not echo the elder, claims
none of the elder's life in the first person, names no name, place, number or time word that
neither the elder nor the conversation gave, promises no physical help, holds the expected
content (recall; "I don't know yet" for what was never told), has words of care for grief,
loneliness, worry and pain (and no "cheer up" after a loss), is at most three sentences with at
most one question, and is in the elder's script. The judge shares its rules with zhian's own
checker: a figure on turns written by the same hands is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from langchain_core.messages import HumanMessage, SystemMessage
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.chat import MODEL_DIR, Run, _percentile  # noqa: E402
from bench.common import fold  # noqa: E402
from companion.intent import unsupported_details  # noqa: E402
from companion.llm import make_chat_model  # noqa: E402
from companion.persona import voice  # noqa: E402
from companion.style import (  # noqa: E402
    _CHEER_UP,
    _PHYSICAL_PROMISE,
    _REFUSAL,
    claims_elders_life,
    echoes,
)
from memory.language import CJK, _simplified_only  # noqa: E402
from memory.language import fold as simplified  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "conversations.json"
console = Console(stderr=True)

PLAIN_PERSONA = {
    "zh-Hant": "你是一位溫暖的陪伴者，陪長輩聊天。請用繁體中文簡短回答。",
    "zh-Hans": "你是一位温暖的陪伴者，陪长辈聊天。请用简体中文简短回答。",
    "en": "You are a warm companion who chats with an older person. Answer briefly.",
}
DONT_KNOW = {
    "zh-Hant": ("不知道", "不清楚", "不確定", "沒有聽您說過", "還沒聽"),
    "zh-Hans": ("不知道", "不清楚", "不确定", "没有听您说过", "还没听"),
    "en": ("don't know", "do not know", "not sure", "haven't told me", "have not told me"),
}
CARE = {
    "zh": ("心疼", "难过", "辛苦", "陪", "想念", "担心", "抱歉", "保重", "休息", "不舒服", "照顾",
           "舍不得", "寂寞", "在听", "慢慢说"),
    "en": ("sorry", "here with you", "rest", "take care", "miss", "hard", "listening",
           "worrying", "with you"),
}  # fmt: skip
_JOY = re.compile(r"高興|开心|開心|高兴|太好|happy|thrilled|glad|delighted", re.I)
_QUOTED = re.compile(r"「[^」]*」|“[^”]*”|\"[^\"]*\"")


def sentences_of(reply: str) -> list[str]:
    if CJK.search(reply):
        return [s for s in re.findall(r"[^。！？!?]+[。！？!?」”]*", reply) if s.strip()]
    return [s for s in re.split(r"(?<=[.!?])\s+", reply.strip()) if s.strip()]


def judge(reply: str, spec: dict, language: str, told: list[str], today: date) -> list[str]:
    """The rules this turn's reply breaks (none: it passes)."""
    v = voice(language)
    weekday = v.say("weekdays").split(",")[today.weekday()]
    said = spec["say"]
    grounds = "\n".join([*told, said, v.date(today), weekday])
    failures: list[str] = []
    if not reply.strip():
        return ["empty"]
    bare = _QUOTED.sub("", reply)  # the elder's own words, quoted back as a source, are theirs
    parts = sentences_of(bare)
    if _REFUSAL.search(reply):
        failures.append("refusal")
    if any(echoes(s, said) for s in parts):
        failures.append("echo")
    own_life = "\n".join([*told, said])
    if spec["kind"] != "reminder_request" and any(claims_elders_life(s, own_life) for s in parts):
        failures.append("first_person")
    if spec["kind"] != "reminder_request" and any(unsupported_details(s, grounds) for s in parts):
        failures.append("invention")
    if _PHYSICAL_PROMISE.search(reply):
        failures.append("physical_promise")
    expect = [
        v.date(today) if w == "$date" else weekday if w == "$weekday" else w
        for w in spec.get("expect", [])
    ]
    if expect and not any(fold(w) in fold(reply) for w in expect):
        failures.append("expected_content")
    if spec["kind"] == "absent" and not any(w in reply.lower() for w in DONT_KNOW[language]):
        failures.append("invented_or_not_honest")
    needs_care = spec["kind"] == "unwell" or (spec["kind"] == "feeling" and not _JOY.search(said))
    care = CARE["zh" if language.startswith("zh") else "en"]
    if needs_care and not any(w in fold(reply) for w in care):
        failures.append("no_care")
    if spec["kind"] == "feeling" and _CHEER_UP.search(reply):
        failures.append("cheer_up")
    if len(sentences_of(reply)) > 3 or len(re.findall(r"[?？]", reply)) > 1:
        failures.append("too_long")
    if language == "zh-Hant" and _simplified_only(reply):
        failures.append("script")
    if language == "zh-Hans" and simplified(reply) != reply:
        failures.append("script")
    if language == "en" and CJK.search(reply):
        failures.append("script")
    return failures


class Baselines:
    """The same model: a plain persona and nothing else; or zhian's persona with every memory
    told so far in the prompt, and no gate and no checker."""

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        self.model = model

    def _raw(self, prompt: list) -> str:  # type: ignore[type-arg]
        return str(self.model.invoke(prompt, max_tokens=90).content).strip()

    def plain(self, language: str, text: str) -> str:
        return self._raw(
            [SystemMessage(content=PLAIN_PERSONA[language]), HumanMessage(content=text)]
        )

    def memories(self, language: str, text: str, told: list[str], today: date) -> str:
        v = voice(language)
        note = v.turn.format(
            today=v.date(today),
            memories="\n".join(f"- {v.say('you_said')}: {t}" for t in told) or v.say("no_memories"),
            message=text,
        )
        return self._raw(
            [
                SystemMessage(content=v.persona),
                SystemMessage(content=note),
                HumanMessage(content=text),
            ]
        )


def run_conversation(
    run: Run | None, baselines: Baselines, language: str, conversation: dict, systems: set[str],
    rows: list[dict],
) -> None:  # fmt: skip
    elder_id = run.elder(language) if run is not None else ""
    told: list[str] = []
    for spec in conversation["turns"]:
        row: dict = {"language": language, "split": conversation["split"], **spec}
        today = _today()
        if run is not None and "zhian" in systems:
            reply, turn, first = run.turn(elder_id, spec["say"])
            row.update(
                zhian=reply,
                zhian_kind=turn.kind,
                zhian_failures=judge(reply, spec, language, told, today),
            )
        if "plain" in systems:
            reply = baselines.plain(language, spec["say"])
            row.update(plain=reply, plain_failures=judge(reply, spec, language, told, today))
        if "memories" in systems:
            reply = baselines.memories(language, spec["say"], told, today)
            row.update(memories=reply, memories_failures=judge(reply, spec, language, told, today))
        rows.append(row)
        shown = " | ".join(
            f"{s}: {row.get(s, '')} {row.get(s + '_failures', '')}"
            for s in ("zhian", "plain", "memories")
            if s in row
        )
        console.print(f"[dim]{language} {spec['kind']}:[/dim] {spec['say']} → {shown}")
        if spec["kind"] in ("share", "feeling", "unwell"):
            told.append(spec["say"])


def _today() -> date:
    return datetime.now(ZoneInfo("Asia/Taipei")).date()  # the bench elders' timezone


def report(
    rows: list[dict], systems: list[str], timings: list[dict[str, float]]
) -> tuple[Table, dict]:
    table = Table(title="Turns that pass the judge (same model, same run)")
    table.add_column("split / language")
    table.add_column("turns", justify="right")
    for system in systems:
        table.add_column(system, justify="right")
    for system in systems:
        table.add_column(f"{system}: refusal / invention / 1st person", justify="right")
    figures: dict = {}
    for split in ("dev", "held_out"):
        for language in ("zh-Hant", "zh-Hans", "en", "all"):
            chosen = [r for r in rows if r["split"] == split and language in ("all", r["language"])]
            if not chosen:
                continue
            cells, counts = [], []
            for system in systems:
                judged = [r[f"{system}_failures"] for r in chosen if f"{system}_failures" in r]
                passed = sum(not f for f in judged) / len(judged) if judged else float("nan")
                tally = Counter(x for f in judged for x in f)
                cells.append(f"{passed:.0%}")
                counts.append(
                    f"{tally['refusal']} / {tally['invention'] + tally['invented_or_not_honest']}"
                    f" / {tally['first_person']}"
                )
                figures[f"{split} {language} {system}"] = {
                    "pass": passed, "n": len(judged), "failures": dict(tally),
                }  # fmt: skip
            table.add_row(f"{split} {language}", str(len(chosen)), *cells, *counts)
    first = [t["first_ms"] for t in timings]
    total = [t["total_ms"] for t in timings]
    figures["timings"] = {
        "first_sentence_p50_ms": _percentile(first, 0.5),
        "whole_turn_p50_ms": _percentile(total, 0.5),
        "whole_turn_p95_ms": _percentile(total, 0.95),
        "n": len(total),
    }
    return table, figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", default="held_out", choices=("held_out", "dev", "all"))
    parser.add_argument("--systems", default="zhian,plain,memories")
    parser.add_argument("--languages", default="zh-Hant,zh-Hans,en")
    parser.add_argument(
        "--conversations", type=int, default=0, help="at most this many per language and split"
    )
    parser.add_argument("--model", default="embedded", help="embedded or small")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    data = json.loads(DATA.read_text(encoding="utf-8"))
    systems = [s.strip() for s in args.systems.split(",")]
    model = make_chat_model(provider=args.model, data_dir=MODEL_DIR)
    model.load()  # type: ignore[attr-defined]
    run = Run(model) if "zhian" in systems else None
    baselines = Baselines(model)
    rows: list[dict] = []
    started = time.monotonic()
    for language in args.languages.split(","):
        chosen = [c for c in data[language] if args.split in ("all", c["split"])]
        if args.conversations:
            chosen = [c for c in chosen if c["split"] == "held_out"][: args.conversations] + [
                c for c in chosen if c["split"] == "dev"
            ][: args.conversations]
        for conversation in chosen:
            run_conversation(run, baselines, language, conversation, set(systems), rows)
    table, figures = report(rows, systems, run.timings if run else [])
    out = Console(width=200)
    out.print(table)
    t = figures["timings"]
    out.print(
        f"{len(rows)} turns in {time.monotonic() - started:.0f} s. zhian turns: first sentence "
        f"p50 {t['first_sentence_p50_ms']:,.0f} ms; whole turn p50 {t['whole_turn_p50_ms']:,.0f} ms, "
        f"p95 {t['whole_turn_p95_ms']:,.0f} ms (n={t['n']}, no background extraction)"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"figures": figures, "turns": rows}, ensure_ascii=False, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

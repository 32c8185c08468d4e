"""Story material on MemoryBank (../shared/benchmarks/memorybank, zh and en): each simulated
user's ten days of conversation are imported as an elder's messages, and their story is
exported; the extractive path (the elder's own words, no model) beside the embedded model's
path (facts read from the messages by the model, confirmed as a family would, then exported),
in the same run.

    python bench/story.py [--users 15] [--model-users 2]

Printed per path and language: coverage (the share of conversation days, and of the people
the user names, that reach the timeline), quote fidelity (the share of quotes found verbatim
in a stored message of the elder's: must be 100%), timeline entries backed by a source
(must be 100%), and the time to export.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlmodel import Session, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ADMIN, DATA  # noqa: E402
from companion import story  # noqa: E402
from companion.intent import _RELATIONS  # noqa: E402
from memory import db, store  # noqa: E402
from memory.access import resolve_scope, system_scope  # noqa: E402
from memory.extract import extract_pending  # noqa: E402
from memory.language import _converter  # noqa: E402
from memory.models import FACT_KINDS, FactStatus, Memory, Message, MessageRole, Permission  # noqa: E402

console = Console(stderr=True)
MODEL_DIR = Path.home() / ".cache" / "zhian-bench" / "model"
# Capitalised words that are not names.
_NOT_NAMES = {
    "I",
    "I'm",
    "I've",
    "I'll",
    "I'd",
    "AI",
    "OK",
    "Hi",
    "Hello",
    "Thanks",
    "Thank",
    "Yes",
    "No",
    "Oh",
    "Well",
    "So",
    "But",
    "And",
    "The",
    "My",
    "What",
    "How",
    "Do",
    "Can",
    "It",
    "That",
    "This",
    "Today",
    "Yesterday",
    "Sure",
    "Maybe",
    "Also",
    "Recently",
    "Lately",
    "Have",
    "Are",
    "Is",
    "Could",
    "Would",
    "Should",
    "Please",
    "Let",
    "When",
    "Where",
    "Why",
    "Who",
    "Any",
    "Some",
    "Sometimes",
    "Hey",
    "Good",
    "Great",
    "By",
    "In",
    "On",
    "At",
    "For",
    "Yeah",
    "Just",
    "Actually",
    "Does",
    "Did",
    "You",
    "Your",
    "We",
    "Our",
    "They",
    "Their",
    "He",
    "She",
    "His",
    "Her",
    "Me",
    "If",
    "Or",
    "Not",
    "Now",
    "Then",
    "Wow",
    "Really",
    "Anyway",
    "Okay",
}


def _load(language: str) -> dict:
    path = DATA / "memorybank" / f"memory_bank_{'cn' if language == 'zh' else 'en'}.json"
    return {
        name.strip(): user for name, user in json.loads(path.read_text(encoding="utf-8")).items()
    }


def _people(texts: list[str], language: str) -> set[str]:
    found: set[str] = set()
    for text in texts:
        if language == "en":
            for word in re.findall(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]{2,})\b", text):
                if word not in _NOT_NAMES:
                    found.add(word)
        else:
            simplified = _converter("t2s").convert(text)
            for names in _RELATIONS:
                for name in names:
                    if not name.isascii() and name in simplified:
                        found.add(name)
    return found


def _import(engine, name: str, user: dict, language: str) -> str:  # type: ignore[no-untyped-def]
    with db.session_scope(engine) as session:
        elder = store.create_elder(
            session,
            display_name=name,
            languages=["zh-Hans" if language == "zh" else "en"],
            timezone="UTC",
        )
        scope = resolve_scope(session, ADMIN, elder.id, permission=Permission.memories_write)
        drafts = []
        for day, rounds in sorted(user["history"].items()):
            start = datetime.fromisoformat(day + "T09:00:00+00:00")
            for n, turn in enumerate(rounds):
                at = start + timedelta(minutes=5 * n)
                drafts.append(
                    store.MessageDraft(
                        text=turn["query"],
                        role=MessageRole.elder,
                        said_at=at,
                        external_id=f"{day}-{n}-q",
                    )
                )
                drafts.append(
                    store.MessageDraft(
                        text=turn["response"],
                        role=MessageRole.companion,
                        said_at=at + timedelta(minutes=1),
                        external_id=f"{day}-{n}-r",
                    )
                )
        store.import_messages(session, scope, drafts)
        return elder.id


def _confirm_all(engine, elder_id: str) -> None:  # type: ignore[no-untyped-def]
    """As a family would after review: every extracted fact confirmed."""
    with db.session_scope(engine) as session:
        for fact in session.exec(
            select(Memory).where(Memory.elder_id == elder_id, Memory.kind.in_(FACT_KINDS))
        ):  # type: ignore[attr-defined]
            fact.status = FactStatus.confirmed.value
            session.add(fact)


def _score(engine, elder_id: str, user: dict, language: str, scores: dict) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    with Session(engine) as session:
        export = story.build(session, system_scope(session, elder_id), story.Filters())
        story.render(export, "markdown")
        story.render(export, "html")
        said = [
            m.text
            for m in session.exec(
                select(Message).where(
                    Message.elder_id == elder_id, Message.role == MessageRole.elder.value
                )
            )
        ]
        day_of = {
            m.id: m.said_at.date().isoformat()
            for m in session.exec(select(Message).where(Message.elder_id == elder_id))
        }
    scores["seconds"].append(time.perf_counter() - started)
    days = {d for d, rounds in user["history"].items() if rounds}
    reached = {
        day_of[s.message_id] for e in export.timeline for s in e.sources if s.message_id in day_of
    }
    scores["days"][0] += len(days & reached)
    scores["days"][1] += len(days)
    people = _people([r["query"] for rounds in user["history"].values() for r in rounds], language)
    text = " ".join(
        [e.text for e in export.timeline] + [s.words for e in export.timeline for s in e.sources]
    )
    folded = _converter("t2s").convert(text)
    scores["people"][0] += sum(1 for p in people if p in folded)
    scores["people"][1] += len(people)
    scores["quotes"][0] += sum(1 for q in export.quotes if any(q.words in m for m in said))
    scores["quotes"][1] += len(export.quotes)
    scores["sourced"][0] += sum(1 for e in export.timeline if e.sources)
    scores["sourced"][1] += len(export.timeline)


def _empty() -> dict:
    return {"days": [0, 0], "people": [0, 0], "quotes": [0, 0], "sourced": [0, 0], "seconds": []}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=15, help="users per language, extractive path")
    parser.add_argument(
        "--model-users",
        type=int,
        default=2,
        help="users per language read by the model (slow); 0 skips",
    )
    args = parser.parse_args(argv)
    results: dict[str, dict] = {}
    folder = Path(tempfile.mkdtemp(prefix="zhian-bench-story-"))
    engine = db.make_engine(f"sqlite:///{folder / 'zhian.db'}")
    db.upgrade(engine)
    model = None
    if args.model_users:
        from companion.llm import make_chat_model

        model = make_chat_model(provider="embedded", data_dir=MODEL_DIR)
    for language in ("zh", "en"):
        users = list(_load(language).items())
        extractive = results.setdefault(f"extractive, {language}", _empty())
        for name, user in users[: args.users]:
            elder_id = _import(engine, name, user, language)
            _score(engine, elder_id, user, language, extractive)
        if model is not None:
            with_model = results.setdefault(f"embedded model, {language}", _empty())
            for name, user in users[: args.model_users]:
                elder_id = _import(engine, f"{name} (model)", user, language)
                extract_pending(
                    engine,
                    model,
                    elder_id=elder_id,
                    now=datetime.now().astimezone() + timedelta(days=1),
                )
                _confirm_all(engine, elder_id)
                _score(engine, elder_id, user, language, with_model)
                console.print(f"[dim]{language}: {name} read by the model[/dim]")
    table = Table(title="Story export on MemoryBank (same run)")
    for column in (
        "path",
        "users",
        "days reaching the timeline",
        "people reaching it",
        "quotes verbatim",
        "timeline sourced",
        "export s (mean)",
    ):
        table.add_column(column, justify="right" if column != "path" else "left")
    for name, s in results.items():
        ratio = lambda pair: f"{pair[0] / pair[1]:.0%}" if pair[1] else "–"  # noqa: E731
        table.add_row(
            name,
            str(len(s["seconds"])),
            ratio(s["days"]),
            ratio(s["people"]),
            ratio(s["quotes"]),
            ratio(s["sourced"]),
            f"{statistics.mean(s['seconds']):.2f}" if s["seconds"] else "–",
        )
    Console(width=160).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

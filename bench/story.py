"""Story material on two sets, in the same run.

MemoryBank (../shared/benchmarks/memorybank, zh and en): each simulated user's ten days of
conversation are imported as an elder's messages and their story is exported; the extractive
path (the elder's own words, no model) beside the embedded model's path (facts read from the
messages by the model, confirmed as a family would).

Elder life histories (bench/data/story_lives.json, written for this: zh-Hant, zh-Hans, en, with
birthdays, ages, 民國 years, decades, stages of life, people and places, and facts a family
added): each elder's memories are told, the family's facts added, and the export scored against
what each memory says: the era right to the decade (for memories that state or imply one),
people and places recalled and precise (named people; place names and the locales scenes are
set in), each listed with a source, beside a baseline measured in the same run (the time
words and the rules-first fact reading alone, which is what the export read before). A third
of the elders, fixed by seed, is held out and reported apart; the rules were written on the
rest.

    python bench/story.py [--users 15] [--model-users 2] [--model-elders 0]

Printed for both sets: quotes found verbatim in the elder's messages, timeline entries backed
by a source, scene parts labelled (generated, or remembered and cited verbatim), characters
described the same way in every scene (all must be 100%), and the time to export.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlmodel import Session, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ADMIN, DATA  # noqa: E402
from companion import story  # noqa: E402
from companion.intent import _RELATIONS  # noqa: E402
from companion.story.cast import EN_NOT_NAMES  # noqa: E402
from memory import db, facts, store  # noqa: E402
from memory.access import resolve_scope, system_scope  # noqa: E402
from memory.extract import extract_pending  # noqa: E402
from memory.fact_rules import SELF, extract_rules  # noqa: E402
from memory.language import fold  # noqa: E402
from memory.models import (  # noqa: E402
    FACT_KINDS,
    FactStatus,
    Memory,
    Message,
    MessageRole,
    Permission,
)
from memory.timewords import find_period  # noqa: E402

console = Console(stderr=True)
MODEL_DIR = Path.home() / ".cache" / "zhian-bench" / "model"
# Capitalised words that are not names.
_NOT_NAMES = EN_NOT_NAMES


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
            simplified = fold(text)
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
    folded = fold(text)
    scores["people"][0] += sum(1 for p in people if p in folded)
    scores["people"][1] += len(people)
    scores["quotes"][0] += sum(1 for q in export.quotes if any(q.words in m for m in said))
    scores["quotes"][1] += len(export.quotes)
    scores["sourced"][0] += sum(1 for e in export.timeline if e.sources)
    scores["sourced"][1] += len(export.timeline)
    _invariants(export, said, scores)


def _empty() -> dict:
    return {
        "days": [0, 0],
        "people": [0, 0],
        "quotes": [0, 0],
        "sourced": [0, 0],
        "labelled": [0, 0],
        "consistent": [0, 0],
        "seconds": [],
    }


def _invariants(export: story.StoryExport, said: list[str], scores: dict) -> None:
    """Every scene part generated or cited verbatim; every character's look the same words
    in every scene of its decade."""
    facts_text = {e.memory_id: e.text for e in export.timeline if e.memory_id is not None}
    by_id = {s.message_id: s.words for e in export.timeline for s in e.sources}
    for scene in export.scenes:
        for part in scene.prompt.parts + scene.action:
            scores["labelled"][1] += 1
            if (
                part.generated
                or part.message_ids
                and all(part.text in by_id.get(i, "") for i in part.message_ids)
                or part.memory_ids
                and all(part.text in facts_text.get(i, "") for i in part.memory_ids)
            ):
                scores["labelled"][0] += 1
    characters = {c.id: c for c in export.characters}
    for scene in export.scenes:
        if scene.era is None:
            continue
        for cid in scene.characters:
            look = next((lk for lk in characters[cid].looks if lk.decade == scene.era.decade), None)
            if look is None:
                continue
            scores["consistent"][1] += 1
            scores["consistent"][0] += int(
                look.cues_en in scene.prompt.prompt_en
                and look.cues_local in scene.prompt.prompt_local
            )


# --- elder life histories --------------------------------------------------------------------

LIVES = Path(__file__).resolve().parent / "data" / "story_lives.json"
SEED = 20


def held_out(ids: list[str]) -> set[str]:
    """A third of the elders, fixed by seed: never looked at while writing the rules."""
    ordered = sorted(ids)
    return set(random.Random(SEED).sample(ordered, len(ordered) // 3))


def _key(name: str) -> str:
    """A name to compare: Simplified, lower case, without a leading article."""
    return re.sub(r"^(?:the|a|an) ", "", fold(name).lower().strip())


def _tell(engine, life: dict, suffix: str) -> tuple[str, dict[int, dict]]:  # type: ignore[no-untyped-def]
    """The elder, their memories told one a day, and the family's facts: message id: memory."""
    told_on = date.fromisoformat(life["told_on"])
    with db.session_scope(engine) as session:
        elder = store.create_elder(
            session,
            display_name=life["name"] + suffix,
            languages=[life["language"]],
            timezone="Asia/Taipei" if life["language"] != "en" else "Europe/London",
            birthday=date.fromisoformat(life["birthday"]),
        )
        scope = resolve_scope(session, ADMIN, elder.id, permission=Permission.memories_write)
        drafts = [
            store.MessageDraft(
                text=m["text"],
                role=MessageRole.elder,
                said_at=datetime.combine(
                    told_on - timedelta(days=len(life["memories"]) - n), datetime.min.time()
                ).replace(hour=10, tzinfo=UTC),
                external_id=f"{life['id']}-{n}",
            )
            for n, m in enumerate(life["memories"])
        ]
        store.import_messages(session, scope, drafts)
        for fact in life["family_facts"]:
            facts.remember_fact(
                session,
                scope,
                facts.FactDraft(
                    kind="event",
                    text=fact["text"],
                    event_time=datetime.fromisoformat(fact["event"]).replace(tzinfo=UTC),
                ),
                sources=[],
                author=facts.Author(role="family", name="family"),
            )
        by_external = {
            m.external_id: m.id
            for m in session.exec(select(Message).where(Message.elder_id == elder.id))
        }
        memories = {by_external[f"{life['id']}-{n}"]: m for n, m in enumerate(life["memories"])}
        return elder.id, memories


def _baseline(life: dict) -> tuple[dict[str, int | None], set[str], set[str]]:
    """What the time words and the rules-first fact reading alone give: decade per memory,
    people, places."""
    told_on = date.fromisoformat(life["told_on"])
    eras: dict[str, int | None] = {}
    people: set[str] = set()
    places: set[str] = set()
    for m in life["memories"]:
        period = find_period(m["text"], told_on)
        eras[m["text"]] = (
            period.start.year // 10 * 10 if period and period.start < told_on else None
        )
        for found in extract_rules(m["text"], life["language"]):
            if found.subject != SELF and found.relation != found.subject:
                people.add(_key(found.subject))
            if found.kind == "place":
                places.add(_key(found.value))
    return eras, people, places


def _empty_life() -> dict:
    return {
        "era": [0, 0],
        "people": [0, 0, 0],  # found and right, gold, found
        "places": [0, 0, 0],
        "relations": [0, 0],
        "family": [0, 0],
        "listed_sourced": [0, 0],
        "quotes": [0, 0],
        "sourced": [0, 0],
        "labelled": [0, 0],
        "consistent": [0, 0],
        "seconds": [],
    }


def _score_life(
    engine, elder_id: str, life: dict, memories: dict[int, dict], s: dict, b: dict
) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    with Session(engine) as session:
        export = story.build(session, system_scope(session, elder_id), story.Filters())
        for fmt in ("markdown", "html", "fountain", "csv"):
            story.render(export, fmt)
        said = [
            m.text
            for m in session.exec(
                select(Message).where(
                    Message.elder_id == elder_id, Message.role == MessageRole.elder.value
                )
            )
        ]
    s["seconds"].append(time.perf_counter() - started)
    era_of = {
        src.message_id: e.era.decade if e.era else None
        for e in export.timeline
        for src in e.sources
    }
    base_eras, base_people, base_places = _baseline(life)
    for message_id, memory in memories.items():
        if memory["decade"] is None:
            continue
        for scores, decade in ((s, era_of.get(message_id)), (b, base_eras[memory["text"]])):
            scores["era"][1] += 1
            scores["era"][0] += int(decade == memory["decade"])
    texts = {e.text for e in export.timeline}
    for fact in life["family_facts"]:
        s["family"][1] += 1
        s["family"][0] += int(fact["text"] in texts)
    gold_people = {
        _key(n): r for m in life["memories"] + life["family_facts"] for n, r in m["people"].items()
    }
    gold_places = {_key(p) for m in life["memories"] + life["family_facts"] for p in m["places"]}
    found_people = {_key(p.name): p for p in export.people}
    found_places = {_key(p.name): p for p in export.places}
    for scores, people, places in (
        (s, set(found_people), set(found_places)),
        (b, base_people, base_places),
    ):
        scores["people"][0] += len(people & set(gold_people))
        scores["people"][1] += len(gold_people)
        scores["people"][2] += len(people)
        scores["places"][0] += len(places & gold_places)
        scores["places"][1] += len(gold_places)
        scores["places"][2] += len(places)
    for name in gold_people:
        relations = [
            r
            for m in life["memories"] + life["family_facts"]
            for n, r in m["people"].items()
            if _key(n) == name and r
        ]
        if relations and name in found_people:
            s["relations"][1] += 1
            s["relations"][0] += int(
                _key(found_people[name].relation or "") in {_key(r) for r in relations}
            )
    for item in list(export.people) + list(export.places):
        s["listed_sourced"][1] += 1
        s["listed_sourced"][0] += int(bool(item.message_ids or item.memory_ids))
    s["quotes"][0] += sum(1 for q in export.quotes if any(q.words in m for m in said))
    s["quotes"][1] += len(export.quotes)
    s["sourced"][0] += sum(1 for e in export.timeline if e.sources or e.added_by == "family")
    s["sourced"][1] += len(export.timeline)
    _invariants(export, said, s)


def _lives(engine, args, model) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    lives = json.loads(LIVES.read_text(encoding="utf-8"))["elders"]
    held = held_out([life["id"] for life in lives])
    results: dict[str, dict] = {}
    for part in ("written on", "held out"):
        for path in ("baseline", "rules"):
            results[f"{path}, {part}"] = _empty_life()
    for life in lives:
        part = "held out" if life["id"] in held else "written on"
        elder_id, memories = _tell(engine, life, "")
        _score_life(
            engine,
            elder_id,
            life,
            memories,
            results[f"rules, {part}"],
            results[f"baseline, {part}"],
        )
    if model is not None and args.model_elders:
        for life in [x for x in lives if x["id"] in held][: args.model_elders]:
            with_model = results.setdefault("rules + model, held out", _empty_life())
            unused = _empty_life()
            elder_id, memories = _tell(engine, life, " (model)")
            extract_pending(
                engine, model, elder_id=elder_id, now=datetime.now(UTC) + timedelta(days=1)
            )
            _confirm_all(engine, elder_id)
            _score_life(engine, elder_id, life, memories, with_model, unused)
            console.print(f"[dim]{life['id']} read by the model[/dim]")
    return results


def _lives_table(results: dict[str, dict]) -> Table:
    table = Table(
        title="Story export on the elder life histories (same run; targets on held out: era ≥ 85%, recall ≥ 85%, precision ≥ 90%)"
    )
    columns = (
        "path",
        "era right (decade)",
        "people recall",
        "people precision",
        "relations right",
        "places recall",
        "places precision",
        "family facts shown",
        "listed with a source",
        "quotes verbatim",
        "parts labelled",
        "looks consistent",
        "export s (mean)",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "path" else "right")

    def ratio(a: int, b: int) -> str:
        return f"{a / b:.0%} ({a}/{b})" if b else "–"

    for name, s in results.items():
        baseline = name.startswith("baseline")
        table.add_row(
            name,
            ratio(*s["era"]),
            ratio(s["people"][0], s["people"][1]),
            ratio(s["people"][0], s["people"][2]),
            "–" if baseline else ratio(*s["relations"]),
            ratio(s["places"][0], s["places"][1]),
            ratio(s["places"][0], s["places"][2]),
            "–" if baseline else ratio(*s["family"]),
            "–" if baseline else ratio(*s["listed_sourced"]),
            "–" if baseline else ratio(*s["quotes"]),
            "–" if baseline else ratio(*s["labelled"]),
            "–" if baseline else ratio(*s["consistent"]),
            f"{statistics.mean(s['seconds']):.2f}" if s["seconds"] else "–",
        )
    return table


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
    parser.add_argument(
        "--model-elders",
        type=int,
        default=0,
        help="held-out life histories also read by the model (slow on a small CPU); 0 skips",
    )
    parser.add_argument("--lives-only", action="store_true", help="skip MemoryBank")
    args = parser.parse_args(argv)
    results: dict[str, dict] = {}
    folder = Path(tempfile.mkdtemp(prefix="zhian-bench-story-"))
    engine = db.make_engine(f"sqlite:///{folder / 'zhian.db'}")
    db.upgrade(engine)
    model = None
    if args.model_users or args.model_elders:
        from companion.llm import make_chat_model

        model = make_chat_model(provider="embedded", data_dir=MODEL_DIR)
    lives = _lives(engine, args, model)
    for language in () if args.lives_only else ("zh", "en"):
        users = list(_load(language).items())
        extractive = results.setdefault(f"extractive, {language}", _empty())
        for name, user in users[: args.users]:
            elder_id = _import(engine, name, user, language)
            _score(engine, elder_id, user, language, extractive)
        if model is not None and args.model_users:
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
        "parts labelled",
        "looks consistent",
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
            ratio(s["labelled"]),
            ratio(s["consistent"]),
            f"{statistics.mean(s['seconds']):.2f}" if s["seconds"] else "–",
        )
    if results:
        Console(width=200).print(table)
    Console(width=220).print(_lives_table(lives))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""An elder's record is theirs: exported whole for the elder (private memories included) or
their guardian (as the visibility rule allows), as JSON of a published schema or a page to
read; erased for good by their guardian or an administrator, with no word of theirs left in
the database file or the vector index, and every other elder untouched. Accounts are erased
the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from companion.record import ElderRecord
from memory import access, db, facts
from memory.indexer import drain
from memory.models import ConcernFlag, Message
from tests.conftest import bearer
from tests.memory.test_backup import all_rows, fill_record

MARK = " 甘蔗園Pemberton"


def _export(client, household, token: str, fmt: str = "json"):
    return client.get(
        f"/v1/elders/{household.elder_id}/export", params={"format": fmt}, headers=bearer(token)
    )


def test_the_elder_receives_everything_of_theirs_private_memories_included(client, engine, world):
    filled = fill_record(engine, world.a, words=MARK)
    fill_record(engine, world.b, words=" (b)")
    answer = _export(client, world.a, world.a.elder)
    assert answer.status_code == 200, answer.text
    record = ElderRecord.model_validate(answer.json())
    assert record.version == "zhian.record/1" and record.reader == "elder"
    assert [m.id for m in record.messages] == filled["message_ids"]
    assert all(MARK in m.text for m in record.messages)
    facts = {f.id: f for f in record.facts}
    assert filled["private_fact_id"] in facts
    kept = facts[filled["fact_id"]]
    assert [c.action for c in kept.history] == ["created", "edited"]
    assert kept.history[0].after["text"].startswith("女兒叫美玲")
    (reminder,) = record.reminders
    assert [o.status for o in reminder.occurrences] == ["done", "missed"]
    assert record.concerns[0].summary.startswith("膝蓋痛")
    assert record.day_summaries and record.grants and len(record.people) == 6
    assert any(a.action == "elder.create" for a in record.audit)
    # Nothing of the other elder's.
    assert "(b)" not in answer.text and world.b.elder_id not in answer.text


def _keep_private(engine, household, message_id: int) -> None:
    """The elder keeps what they said in this message private, and a concern was raised on it."""
    with db.session_scope(engine) as session:
        scope = access.elder_scope(session, household.elder_id)
        source = session.get(Message, message_id)
        facts.remember_fact(
            session,
            scope,
            facts.FactDraft(kind="event", text="去了日月潭", private=True),
            sources=[source],
            author=facts.Author.of(scope),
        )
        session.add(
            ConcernFlag(
                elder_id=household.elder_id,
                kind="loneliness",
                severity="info",
                summary=f"孤單：「{source.text}」",
                message_id=message_id,
            )
        )


def test_the_guardian_receives_what_anyone_but_the_elder_may_see(client, engine, world):
    filled = fill_record(engine, world.a, words=MARK)
    _keep_private(engine, world.a, filled["message_ids"][4])
    _keep_private(engine, world.a, filled["message_ids"][0])  # the day summary's words
    answer = _export(client, world.a, world.a.guardian)
    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert record["reader"] == "guardian"
    assert filled["private_fact_id"] not in {f["id"] for f in record["facts"]}
    assert "安眠藥" not in answer.text and "日月潭" not in answer.text
    assert filled["fact_id"] in {f["id"] for f in record["facts"]}
    assert [m["id"] for m in record["messages"]] == filled["message_ids"][1:4]
    assert record["day_summaries"] == []
    lonely = [c for c in record["concerns"] if c["kind"] == "loneliness"]
    assert [(c["summary"], c["message_id"]) for c in lonely] == [("孤單", None)] * 2
    page = _export(client, world.a, world.a.guardian, fmt="html")
    assert "日月潭" not in page.text and "安眠藥" not in page.text
    own = _export(client, world.a, world.a.elder)
    assert own.text.count("日月潭") >= 3 and "安眠藥" in own.text
    assert len(own.json()["day_summaries"]) == 1
    audit = client.get(f"/v1/elders/{world.a.elder_id}/audit", headers=bearer(world.a.elder))
    assert "record.export" in audit.text


@pytest.mark.parametrize(
    ("who", "status", "words"),
    [
        ("family_full", 403, "guardian"),
        ("creator", 403, "guardian"),
        ("admin", 403, "only the elder or their guardian"),
        ("other_guardian", 404, "No elder"),
    ],
)
def test_no_one_else_exports_the_record(client, world, who, status, words):
    token = {"admin": world.admin, "other_guardian": world.b.guardian}.get(who) or getattr(
        world.a, who
    )
    answer = _export(client, world.a, token)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["message"]


def test_the_record_reads_as_a_page_with_every_word_escaped(client, engine, world):
    fill_record(engine, world.a, words=" <script>alert(1)</script>")
    page = _export(client, world.a, world.a.elder, fmt="html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert "林美華" in page.text and "日月潭" in page.text
    assert "吃降血壓的藥" in page.text
    wrong = _export(client, world.a, world.a.elder, fmt="pdf")
    assert wrong.status_code == 422 and "format" in wrong.json()["message"]


def test_the_schema_is_published(client, world):
    schema = client.get("/v1/schemas/record.json", headers=bearer(world.a.elder))
    assert schema.status_code == 200
    assert schema.json()["$id"] == "zhian.record/1"
    assert "messages" in schema.json()["properties"]


# --- erasure ----------------------------------------------------------------------------------


def _erase(client, household, token: str, confirm: str | None = "林美華"):
    body = None if confirm is None else {"confirm": confirm}
    return client.request(
        "DELETE", f"/v1/elders/{household.elder_id}", json=body, headers=bearer(token)
    )


def _on_disk(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def _elder_rows(engine, elder_id: str) -> dict[str, int]:
    counts = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            column = "id" if table.name == "elders" else "elder_id"
            if column in table.c:
                query = sa.select(sa.func.count()).select_from(table)
                counts[table.name] = conn.execute(
                    query.where(table.c[column] == elder_id)
                ).scalar_one()
    return counts


def test_erasure_needs_the_elders_name_and_the_right_person(client, engine, world):
    fill_record(engine, world.a)
    missing = _erase(client, world.a, world.a.guardian, confirm=None)
    assert missing.status_code == 422 and '{"confirm": "林美華"}' in missing.json()["message"]
    wrong = _erase(client, world.a, world.a.guardian, confirm="林美")
    assert wrong.status_code == 422 and "Nothing was erased" in wrong.json()["message"]
    for token in (world.a.elder, world.a.family_full):
        refused = _erase(client, world.a, token)
        assert refused.status_code == 403, refused.text
    assert _erase(client, world.a, world.b.guardian).status_code == 404
    assert _elder_rows(engine, world.a.elder_id)["messages"] == 5


def test_an_erased_elder_leaves_no_word_on_disk_and_others_untouched(
    search_client, engine, world, vector_index, settings
):
    client = search_client
    fill_record(engine, world.a, words=MARK)
    fill_record(engine, world.b, words=" (b)")
    drain(engine, vector_index)
    before_b = {
        name: [row for row in rows if world.b.elder_id in map(str, row)]
        for name, rows in all_rows(engine).items()
    }
    b_vectors = vector_index.count(world.b.elder_id)
    assert vector_index.count(world.a.elder_id) > 0 and b_vectors > 0

    done = _erase(client, world.a, world.a.guardian)
    assert done.status_code == 200, done.text
    erased = done.json()["erased"]
    assert erased["messages"] == 5 and erased["elders"] == 1 and erased["tokens"] == 6

    rows = _elder_rows(engine, world.a.elder_id)
    assert rows.pop("audit_log") == 1  # the erasure itself
    assert not any(rows.values()), rows
    with engine.connect() as conn:
        tokens = conn.execute(sa.text("SELECT count(*) FROM tokens")).scalar_one()
        (kept,) = conn.execute(
            sa.text("SELECT action, actor_name, detail FROM audit_log WHERE elder_id = :e"),
            {"e": world.a.elder_id},
        ).all()
    assert kept[0] == "elder.erase" and "林美華" not in f"{kept}" and "甘蔗" not in f"{kept}"
    assert tokens == 7  # world.b's six and the administrator's
    refused = client.get("/v1/me", headers=bearer(world.a.guardian))
    assert refused.status_code == 401

    after_b = {
        name: [row for row in rows if world.b.elder_id in map(str, row)]
        for name, rows in all_rows(engine).items()
    }
    assert after_b == before_b
    assert vector_index.count(world.b.elder_id) == b_vectors
    found = client.post(
        f"/v1/elders/{world.b.elder_id}/memories:search",
        json={"query": "日月潭"},
        headers=bearer(world.b.elder),
    )
    assert found.status_code == 200 and found.json()["results"]

    if engine.dialect.name == "sqlite":
        database = Path(engine.url.database)
        raw = b"".join(
            p.read_bytes() for p in database.parent.glob(database.name + "*") if p.is_file()
        )
        assert "甘蔗".encode() not in raw and "蔗園".encode() not in raw
        assert b"pemberton" not in raw.lower()
        assert "林美華".encode() not in raw
        assert b"Margaret Lee" in raw  # the other elder is still there
        chroma = _on_disk(settings.data_dir / "chroma")
        assert world.a.elder_id.encode() not in chroma and b"pemberton" not in chroma.lower()
        assert world.b.elder_id.encode() in chroma


def test_an_administrator_erases_an_elder_too(client, engine, world):
    fill_record(engine, world.b)
    done = _erase(client, world.b, world.admin, confirm="Margaret Lee")
    assert done.status_code == 200, done.text
    assert (
        client.get(f"/v1/elders/{world.b.elder_id}", headers=bearer(world.admin)).status_code == 404
    )
    assert _elder_rows(engine, world.a.elder_id)["accounts"] == 6


# --- accounts -----------------------------------------------------------------------------------


def _erase_account(client, account_id: str, token: str, confirm: str | None):
    body = None if confirm is None else {"confirm": confirm}
    return client.request("DELETE", f"/v1/accounts/{account_id}", json=body, headers=bearer(token))


def test_an_account_is_erased_by_itself_or_an_administrator(client, engine, world):
    a = world.a
    reader = a.account_ids["family_reader"]
    assert _erase_account(client, reader, a.family_full, "林美華 family_reader").status_code == 404
    wrong = _erase_account(client, reader, world.admin, "someone")
    assert wrong.status_code == 422 and "林美華 family_reader" in wrong.json()["message"]
    done = _erase_account(client, reader, world.admin, "林美華 family_reader")
    assert done.status_code == 200, done.text
    assert done.json()["erased"] == {"accounts": 1, "grants": 1, "tokens": 1}
    assert client.get("/v1/me", headers=bearer(a.family_reader)).status_code == 401
    grants = client.get(f"/v1/elders/{a.elder_id}/grants", headers=bearer(a.elder)).json()
    assert reader not in {g["account_id"] for g in grants}

    own = a.account_ids["family_full"]
    itself = _erase_account(client, own, a.family_full, "林美華 family_full")
    assert itself.status_code == 200, itself.text
    assert client.get("/v1/me", headers=bearer(a.family_full)).status_code == 401
    assert client.get("/v1/me", headers=bearer(a.guardian)).status_code == 200
    audit = client.get(f"/v1/elders/{a.elder_id}/audit", headers=bearer(a.elder)).json()
    assert [e["action"] for e in audit["items"]].count("account.erase") == 2


def test_the_elders_own_account_and_the_last_administrator_are_kept(client, world):
    elder_account = world.a.account_ids["elder"]
    kept = _erase_account(client, elder_account, world.admin, "林美華")
    assert kept.status_code == 409 and f"DELETE /v1/elders/{world.a.elder_id}" in kept.text
    me = client.get("/v1/me", headers=bearer(world.admin)).json()["account"]
    last = _erase_account(client, me["id"], world.admin, me["display_name"])
    assert last.status_code == 409 and "only administrator" in last.json()["message"]


def test_the_privacy_suites_secrets_stay_out_of_the_guardians_copy(client, engine, world):
    from tests.api.test_privacy import MARK as SECRET
    from tests.api.test_privacy import seed_secrets

    seed_secrets(engine, world.a.elder_id)
    for fmt in ("json", "html"):
        copy = _export(client, world.a, world.a.guardian, fmt=fmt)
        assert copy.status_code == 200 and SECRET not in copy.text, copy.text[:2000]
        assert SECRET in _export(client, world.a, world.a.elder, fmt=fmt).text


def test_the_operator_erases_an_elder_from_the_command_line(engine, world, tmp_path, monkeypatch):
    if engine.dialect.name != "sqlite":
        pytest.skip("the command runs the same erasure, tested on PostgreSQL above")
    from click.testing import CliRunner

    from api.cli import main

    fill_record(engine, world.a, words=MARK)
    monkeypatch.setenv("ZHIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ZHIAN_DATABASE_URL", f"sqlite:///{engine.url.database}")
    monkeypatch.setenv("ZHIAN_VECTOR_INDEX", "embedded")
    runner = CliRunner()
    command = ["admin", "erase-elder", world.a.elder_id, "--confirm"]
    wrong = runner.invoke(main, [*command, "林"])
    assert wrong.exit_code != 0 and "does not match" in " ".join(wrong.output.split())
    assert _elder_rows(engine, world.a.elder_id)["messages"] == 5
    done = runner.invoke(main, [*command, "林美華"])
    assert done.exit_code == 0, done.output
    assert "Erased" in done.output and "5 messages" in done.output
    rows = _elder_rows(engine, world.a.elder_id)
    assert rows.pop("audit_log") == 1 and not any(rows.values())
    assert _elder_rows(engine, world.b.elder_id)["accounts"] == 6

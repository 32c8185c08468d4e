"""Chat histories brought in through the API, as a job: who may, what it writes (searchable,
read for facts), what it skips, and that a bad file writes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from memory import db
from memory.indexer import drain
from memory.models import ChatImportJob, Message, utcnow
from tests.conftest import bearer

DATA = Path(__file__).parent.parent / "data" / "chats"
LINE_ZH = (DATA / "line_zh_hant.txt").read_bytes()


def _upload(client, elder_id, token, content=LINE_ZH, *, name="line.txt", **form):
    data = {"format": "line", **form}
    return client.post(
        f"/v1/elders/{elder_id}/imports",
        headers=bearer(token),
        files={"file": (name, content, "text/plain")},
        data=data,
    )


def _senders(world) -> list[str]:
    a = world.a
    return ["媽媽=elder", f"美玲={a.account_ids['guardian']}"]


def _messages(engine, elder_id) -> list[Message]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(Message).where(Message.elder_id == elder_id).order_by(Message.said_at)
            )
        )


def test_a_line_export_imported_as_a_job_with_its_senders(client, world, engine):
    a = world.a
    answer = _upload(client, a.elder_id, a.guardian, senders=_senders(world), keep_others="true")
    assert answer.status_code == 202, answer.text
    assert answer.headers["Location"] == f"/v1/elders/{a.elder_id}/imports/{answer.json()['id']}"
    job = client.get(answer.headers["Location"], headers=bearer(a.guardian)).json()
    assert job["status"] == "done", job
    assert job["progress"] == 1.0
    assert job["messages"] == job["written"] == 7
    assert job["counts"]["imported"] == 7
    assert job["counts"]["system_lines"] == {"sticker": 1, "photo": 1, "call": 2, "unsent": 1}
    assert job["counts"]["senders"] == {"媽媽": 5, "美玲": 1, "阿明": 1}

    stored = _messages(engine, a.elder_id)
    assert [(m.role, m.text) for m in stored][:2] == [
        ("elder", "早安"),
        ("family", "早安媽，今天天氣很好"),
    ]
    assert not [m for m in stored if "貼圖" in m.text or "☎" in m.text or "收回" in m.text]
    guardian = next(m for m in stored if m.role == "family")
    assert guardian.author_account_id == a.account_ids["guardian"]
    other = next(m for m in stored if m.speaker == "阿明")
    assert other.role == "other" and not other.extraction_pending
    # The elder's and the family's words go to fact extraction, as with messages:import.
    assert all(m.extraction_pending for m in stored if m.role in ("elder", "family"))
    assert stored[0].said_at.isoformat() == "2024-01-05T02:05:00+00:00"  # 10:05 in Taipei
    audit = client.get(f"/v1/elders/{a.elder_id}/audit", headers=bearer(a.guardian)).json()
    done = next(e for e in audit["items"] if e["action"] == "chat_import.done")
    assert done["detail"]["imported"] == 7 and done["actor_account_id"] == a.account_ids["guardian"]
    assert "早安" not in str(audit)  # who and what, never the words


def test_importing_the_same_file_again_adds_nothing(client, world, engine):
    a = world.a
    form = {"senders": _senders(world), "keep_others": "true"}
    first = client.get(
        _upload(client, a.elder_id, a.guardian, **form).headers["Location"],
        headers=bearer(a.guardian),
    ).json()
    again = client.get(
        _upload(client, a.elder_id, a.guardian, **form).headers["Location"],
        headers=bearer(a.guardian),
    ).json()
    assert first["counts"]["imported"] == 7
    assert again["status"] == "done"
    assert again["counts"]["imported"] == 0 and again["counts"]["already_there"] == 7
    assert len(_messages(engine, a.elder_id)) == 7
    listed = client.get(f"/v1/elders/{a.elder_id}/imports", headers=bearer(a.guardian)).json()
    assert [j["id"] for j in listed["items"]] == [again["id"], first["id"]]


def test_a_bad_line_is_reported_by_number_and_nothing_is_written(client, world, engine):
    a = world.a
    broken = LINE_ZH.replace("上午09:00\t媽媽\t[照片]".encode(), "上午29:00\t媽媽\t[照片]".encode())
    answer = _upload(client, a.elder_id, a.guardian, broken, senders=_senders(world))
    job = client.get(answer.headers["Location"], headers=bearer(a.guardian)).json()
    assert job["status"] == "failed"
    assert job["errors"] == [{"line": 17, "message": "'上午29:00' is not a time of day"}]
    assert "line 17" in job["message"] and "nothing was imported" in job["message"]
    assert _messages(engine, a.elder_id) == []


def test_unmapped_senders_stop_the_import_and_are_named(client, world, engine):
    a = world.a
    answer = _upload(client, a.elder_id, a.guardian, senders=["媽媽=elder"])
    job = client.get(answer.headers["Location"], headers=bearer(a.guardian)).json()
    assert job["status"] == "failed"
    assert "美玲 (1 message), 阿明 (1 message)" in job["message"]
    assert _messages(engine, a.elder_id) == []


def test_imported_words_are_searchable(search_client, world, engine, vector_index):
    a = world.a
    answer = _upload(
        search_client, a.elder_id, a.guardian, senders=_senders(world), keep_others="true"
    )
    assert answer.status_code == 202
    drain(engine, vector_index, elder_id=a.elder_id)
    found = search_client.post(
        f"/v1/elders/{a.elder_id}/memories:search",
        headers=bearer(a.elder),
        json={"query": "水餃", "k": 3},
    ).json()
    assert found["results"][0]["text"] == "中午吃了水餃"
    assert found["results"][0]["role"] == "elder"


def test_a_whatsapp_export_with_other_speakers_kept(client, world, engine):
    b = world.b
    content = (DATA / "whatsapp_android_us.txt").read_bytes()
    answer = _upload(
        client,
        b.elder_id,
        world.admin,
        content,
        format="whatsapp",
        senders=["Margaret=elder", f"Tom={b.account_ids['family_full']}"],
    )
    job = client.get(answer.headers["Location"], headers=bearer(world.admin)).json()
    assert job["status"] == "done", job
    assert [(m.role, m.text) for m in _messages(engine, b.elder_id)] == [
        ("elder", "Happy new year, Tom!"),
        ("family", "Happy new year Mum\nI will come tomorrow\nwith the kids"),
        ("elder", "The roses in the garden are out"),
    ]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("admin", 202),
        ("guardian", 202),
        ("elder", 202),
        ("other_elder", 404),
        ("family_full", 403),
        ("family_reader", 403),
        ("family_none", 403),
        ("creator", 403),
    ],
)
def test_who_may_import(client, world, who, status):
    a = world.a
    token = {"admin": world.admin, "other_elder": world.b.elder}.get(who) or getattr(a, who)
    answer = _upload(client, a.elder_id, token, keep_others="true")
    assert answer.status_code == status, answer.text
    if status == 403:
        assert "guardian" in answer.json()["message"]


def test_another_elders_people_reach_nothing(client, world, engine):
    a, b = world.a, world.b
    assert _upload(client, a.elder_id, b.guardian, keep_others="true").status_code == 404
    job = _upload(client, a.elder_id, a.guardian, keep_others="true").json()
    url = f"/v1/elders/{a.elder_id}/imports/{job['id']}"
    assert client.get(url, headers=bearer(b.guardian)).status_code == 404
    assert client.get(url, headers=bearer(a.family_full)).status_code == 403
    assert (
        client.get(
            f"/v1/elders/{b.elder_id}/imports/{job['id']}", headers=bearer(b.guardian)
        ).status_code
        == 404
    )
    no_token = client.post(
        f"/v1/elders/{a.elder_id}/imports",
        files={"file": ("x.txt", LINE_ZH)},
        data={"format": "line"},
    )
    assert no_token.status_code == 401


@pytest.mark.parametrize(
    ("form", "content", "said"),
    [
        ({"format": "telegram"}, LINE_ZH, "format"),
        ({"format": "line", "senders": ["媽媽=0123"]}, LINE_ZH, "neither 'elder' nor"),
        ({"format": "line", "senders": ["媽媽"]}, LINE_ZH, "NAME=elder"),
        ({"format": "line", "date_order": "ydm"}, LINE_ZH, "date_order"),
        ({"format": "line"}, b"  \n", "empty"),
    ],
)
def test_a_request_it_cannot_act_on_is_a_clear_422(client, world, engine, form, content, said):
    a = world.a
    answer = client.post(
        f"/v1/elders/{a.elder_id}/imports",
        headers=bearer(a.guardian),
        files={"file": ("chat.txt", content)},
        data=form,
    )
    assert answer.status_code == 422, answer.text
    assert said in answer.json()["message"]
    assert _messages(engine, a.elder_id) == []


def test_a_request_without_a_file_is_a_clear_422(client, world):
    a = world.a
    answer = client.post(
        f"/v1/elders/{a.elder_id}/imports", headers=bearer(a.guardian), data={"format": "line"}
    )
    assert answer.status_code == 422
    assert "file" in answer.json()["message"]


def test_an_import_cut_off_by_a_stop_says_so(client, world, engine):
    a = world.a
    with db.session_scope(engine) as session:
        job = ChatImportJob(
            elder_id=a.elder_id,
            account_name="美玲",
            format="line",
            status="writing",
            requested_at=utcnow() - timedelta(hours=7),
        )
        session.add(job)
        session.flush()
        url = f"/v1/elders/{a.elder_id}/imports/{job.id}"
    seen = client.get(url, headers=bearer(a.guardian)).json()
    assert seen["status"] == "failed" and "cut off" in seen["message"]
    assert client.get(url, headers=bearer(a.guardian)).json()["status"] == "failed"

"""Messages: stored verbatim, imported idempotently and atomically, paged in order."""

from __future__ import annotations

from tests.conftest import bearer


def _batch(n: int, prefix: str = "m", day: int = 1) -> list[dict]:
    return [
        {
            "role": "elder" if i % 2 == 0 else "companion",
            "speaker": "林美華" if i % 2 == 0 else "智安",
            "text": f"第{i}句話",
            "said_at": f"2026-10-{day:02d}T08:{i // 60 % 60:02d}:{i % 60:02d}",
            "external_id": f"{prefix}-{i}",
        }
        for i in range(n)
    ]


def _all_messages(client, elder_id: str, token: str, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        query = dict(params, limit=params.get("limit", 1000))
        if cursor:
            query["cursor"] = cursor
        page = client.get(
            f"/v1/elders/{elder_id}/messages", params=query, headers=bearer(token)
        ).json()
        items += page["items"]
        cursor = page["next"]
        if not cursor:
            return items


def test_import_twice_adds_nothing_the_second_time(client, world):
    a = world.a
    url = f"/v1/elders/{a.elder_id}/messages:import"
    first = client.post(url, json={"messages": _batch(50)}, headers=bearer(a.elder))
    assert first.status_code == 200, first.text
    assert first.json()["imported"] == 50 and first.json()["skipped"] == 0
    second = client.post(url, json={"messages": _batch(50)}, headers=bearer(a.elder))
    assert second.json() == {
        "imported": 0,
        "skipped": 50,
        "ids": [],
        "skipped_external_ids": sorted(f"m-{i}" for i in range(50)),
    }
    # An overlapping batch adds only what is new.
    third = client.post(url, json={"messages": _batch(60)}, headers=bearer(a.elder))
    assert third.json()["imported"] == 10 and third.json()["skipped"] == 50
    assert len(_all_messages(client, a.elder_id, a.elder)) == 60


def test_a_batch_with_one_bad_message_writes_nothing(client, world):
    a = world.a
    url = f"/v1/elders/{a.elder_id}/messages:import"
    for broken in (
        {"text": "", "said_at": "2026-10-01T08:00:00", "external_id": "bad"},
        {"text": "x" * 10_001, "said_at": "2026-10-01T08:00:00", "external_id": "bad"},
        {"text": "ok", "said_at": "not a date", "external_id": "bad"},
        {"text": "ok", "said_at": "2099-01-01T00:00:00", "external_id": "bad"},
        {"text": "ok", "said_at": "2026-10-01T08:00:00", "external_id": "m-3"},  # duplicate id
        {"text": "ok", "said_at": "2026-10-01T08:00:00"},  # no external_id
        {"text": "ok", "said_at": "2026-10-01T08:00:00", "external_id": "bad", "role": "robot"},
    ):
        batch = _batch(20)
        batch.insert(7, broken)
        r = client.post(url, json={"messages": batch}, headers=bearer(a.elder))
        assert r.status_code == 422, (broken, r.text)
        assert r.json()["error"] == "invalid_input" and r.json()["message"]
    assert _all_messages(client, a.elder_id, a.elder) == []


def test_import_of_ten_thousand_in_one_batch_and_no_more(client, world):
    a = world.a
    url = f"/v1/elders/{a.elder_id}/messages:import"
    r = client.post(url, json={"messages": _batch(10_001)}, headers=bearer(a.elder))
    assert r.status_code == 422
    assert "10000" in r.json()["message"].replace(",", "") or "10,000" in r.json()["message"]
    r = client.post(url, json={"messages": _batch(10_000)}, headers=bearer(a.elder))
    assert r.status_code == 200, r.text[:500]
    assert r.json()["imported"] == 10_000
    everything = _all_messages(client, a.elder_id, a.elder)
    assert len(everything) == 10_000
    assert len({m["id"] for m in everything}) == 10_000


def test_pages_follow_the_order_things_were_said_and_respect_since_until(client, world):
    a = world.a
    url = f"/v1/elders/{a.elder_id}/messages:import"
    for day in (1, 2, 3):
        batch = _batch(7, prefix=f"d{day}", day=day)
        assert (
            client.post(url, json={"messages": batch}, headers=bearer(a.elder)).status_code == 200
        )
    paged = _all_messages(client, a.elder_id, a.elder, limit=4)
    assert len(paged) == 21
    said = [m["said_at"] for m in paged]
    assert said == sorted(said)
    # Times without an offset are the elder's (Asia/Taipei, UTC+8).
    assert paged[0]["said_at"].startswith("2026-10-01T00:00:00")
    day2 = _all_messages(
        client,
        a.elder_id,
        a.elder,
        since="2026-10-02T00:00:00",
        until="2026-10-03T00:00:00",
        limit=3,
    )
    assert [m["external_id"] for m in day2] == [f"d2-{i}" for i in range(7)]
    r = client.get(
        f"/v1/elders/{a.elder_id}/messages",
        params={"since": "2026-10-03", "until": "2026-10-02"},
        headers=bearer(a.elder),
    )
    assert r.status_code == 422
    r = client.get(
        f"/v1/elders/{a.elder_id}/messages", params={"cursor": "garbage!"}, headers=bearer(a.elder)
    )
    assert r.status_code == 422 and "cursor" in r.json()["message"]


def test_one_message_is_idempotent_by_external_id_and_knows_its_language(client, world):
    a = world.a
    url = f"/v1/elders/{a.elder_id}/messages"
    first = client.post(
        url,
        json={"text": "我女兒美玲每個星期天來看我", "external_id": "w1"},
        headers=bearer(a.elder),
    )
    assert first.status_code == 201
    body = first.json()
    assert body["role"] == "elder" and body["language"] == "zh-Hant"
    again = client.post(
        url,
        json={"text": "我女兒美玲每個星期天來看我", "external_id": "w1"},
        headers=bearer(a.elder),
    )
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    simplified = client.post(
        url, json={"text": "我女儿美玲每个星期天来看我"}, headers=bearer(a.elder)
    )
    assert simplified.json()["language"] == "zh-Hans"
    english = client.post(
        url, json={"text": "My daughter visits on Sundays"}, headers=bearer(a.family_full)
    )
    assert english.json()["language"] == "en"
    assert english.json()["role"] == "family"
    assert english.json()["speaker"] == "林美華 family_full"


def test_deleting_a_message_removes_it(client, world):
    a = world.a
    r = client.post(
        f"/v1/elders/{a.elder_id}/messages", json={"text": "記錯了"}, headers=bearer(a.elder)
    )
    mid = r.json()["id"]
    assert (
        client.delete(
            f"/v1/elders/{a.elder_id}/messages/{mid}", headers=bearer(a.guardian)
        ).status_code
        == 204
    )
    assert (
        client.get(f"/v1/elders/{a.elder_id}/messages/{mid}", headers=bearer(a.elder)).status_code
        == 404
    )
    assert (
        client.delete(
            f"/v1/elders/{a.elder_id}/messages/{mid}", headers=bearer(a.guardian)
        ).status_code
        == 404
    )
    audit = client.get(f"/v1/elders/{a.elder_id}/audit", headers=bearer(a.elder)).json()["items"]
    deleted = [e for e in audit if e["action"] == "message.delete"]
    assert deleted and deleted[0]["actor_account_id"] == a.account_ids["guardian"]
    assert "記錯了" not in str(deleted[0]["detail"])  # the audit log keeps no words

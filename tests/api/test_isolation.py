"""Two elders: nothing one said reaches the other's companion, family or creator."""

from __future__ import annotations

from tests.conftest import bearer


def _import(client, elder_id: str, token: str, prefix: str, n: int = 5) -> list[int]:
    messages = [
        {
            "text": f"{prefix} secret {i}",
            "said_at": f"2026-11-0{i + 1}T10:00:00",
            "external_id": f"{prefix}-{i}",
            "role": "elder",
        }
        for i in range(n)
    ]
    r = client.post(
        f"/v1/elders/{elder_id}/messages:import", json={"messages": messages}, headers=bearer(token)
    )
    assert r.status_code == 200, r.text
    return r.json()["ids"]


def test_nothing_of_one_elder_reaches_the_others_callers(client, world):
    a, b = world.a, world.b
    ids_a = _import(client, a.elder_id, a.elder, "alpha")
    ids_b = _import(client, b.elder_id, b.elder, "bravo")

    for token in (b.elder, b.guardian, b.family_full, b.family_reader, b.creator):
        headers = bearer(token)
        for path in (
            f"/v1/elders/{a.elder_id}",
            f"/v1/elders/{a.elder_id}/messages",
            f"/v1/elders/{a.elder_id}/grants",
            f"/v1/elders/{a.elder_id}/audit",
            *(f"/v1/elders/{a.elder_id}/messages/{i}" for i in ids_a),
        ):
            r = client.get(path, headers=headers)
            assert r.status_code in (403, 404), (path, r.text)
            assert "alpha" not in r.text
        # A's message ids asked through B's own elder id are simply not there.
        for i in ids_a:
            r = client.get(f"/v1/elders/{b.elder_id}/messages/{i}", headers=headers)
            assert r.status_code in (403, 404)
            assert "alpha" not in r.text
        me = client.get("/v1/me", headers=headers).json()
        assert [e["id"] for e in me["elders"]] == [b.elder_id]
        listed = client.get("/v1/elders", headers=headers).json()
        assert [e["id"] for e in listed] == [b.elder_id]

    # Writes and deletes through the other elder are refused and change nothing.
    r = client.delete(f"/v1/elders/{b.elder_id}/messages/{ids_a[0]}", headers=bearer(b.elder))
    assert r.status_code == 404
    r = client.post(
        f"/v1/elders/{a.elder_id}/messages",
        json={"text": "injected"},
        headers=bearer(b.family_full),
    )
    assert r.status_code in (403, 404)

    page_a = client.get(f"/v1/elders/{a.elder_id}/messages", headers=bearer(a.elder)).json()
    assert [m["id"] for m in page_a["items"]] == ids_a
    assert all("alpha" in m["text"] for m in page_a["items"])
    page_b = client.get(f"/v1/elders/{b.elder_id}/messages", headers=bearer(b.family_reader)).json()
    assert [m["id"] for m in page_b["items"]] == ids_b


def test_same_external_ids_are_separate_per_elder(client, world):
    a, b = world.a, world.b
    _import(client, a.elder_id, a.elder, "same")
    # B importing the same external ids gets its own messages, not a "skipped" from A's.
    r = client.post(
        f"/v1/elders/{b.elder_id}/messages:import",
        json={
            "messages": [
                {"text": "mine", "said_at": "2026-11-01T10:00:00", "external_id": "same-0"}
            ]
        },
        headers=bearer(b.elder),
    )
    assert r.json()["imported"] == 1


def test_grants_cannot_cross_elders(client, world):
    a, b = world.a, world.b
    # A's elder cannot grant B's family member anything on A.
    r = client.put(
        f"/v1/elders/{a.elder_id}/grants/{b.account_ids['family_none']}",
        json={"scopes": ["memories:read"]},
        headers=bearer(a.elder),
    )
    assert r.status_code == 404
    r = client.get(f"/v1/elders/{a.elder_id}/messages", headers=bearer(b.family_none))
    assert r.status_code == 404

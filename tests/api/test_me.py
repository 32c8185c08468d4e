from tests.conftest import bearer


def test_health_and_me(client, world):
    assert client.get("/healthz").status_code == 200
    r = client.get("/v1/me", headers=bearer(world.a.family_reader))
    assert r.status_code == 200, r.text
    assert r.json()["permissions"][world.a.elder_id] == ["memories:read"]

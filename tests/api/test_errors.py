"""Bad input gets a 4xx with a JSON body a person can act on; never a 500, never lost data."""

from __future__ import annotations

import pytest

from tests.conftest import bearer


def _assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "message"}
    assert isinstance(body["message"], str) and len(body["message"]) > 10
    if code:
        assert body["error"] == code
    return body


def test_missing_and_malformed_tokens_are_401(client, world):
    elder_path = f"/v1/elders/{world.a.elder_id}/messages"
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer zhian_nope"},
    ):
        r = client.get(elder_path, headers=headers)
        _assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/elders",
        "/v1/me",
        "/v1/accounts",
        "/v1/elders/x/messages",
        "/v1/elders/x/grants",
        "/v1/elders/x/audit",
    ],
)
def test_every_v1_endpoint_wants_a_token(client, path):
    _assert_error(client.get(path), 401, "unauthorized")


def test_malformed_bodies_are_422_with_a_reason(client, world):
    url = f"/v1/elders/{world.a.elder_id}/messages"
    headers = bearer(world.a.elder)
    body = _assert_error(
        client.post(
            url, content=b'{"text": "hi"', headers={**headers, "Content-Type": "application/json"}
        ),
        422,
        "invalid_input",
    )
    assert "JSON" in body["message"]
    body = _assert_error(client.post(url, json={"text": 42}, headers=headers), 422)
    assert "text" in body["message"]
    body = _assert_error(client.post(url, json={"text": "x" * 10_001}, headers=headers), 422)
    assert "10000" in body["message"]
    _assert_error(client.post(url, json={"txt": "typo"}, headers=headers), 422)
    _assert_error(client.post(url, json=["not", "an", "object"], headers=headers), 422)
    _assert_error(client.post(url, json={"text": "nul \x00 byte"}, headers=headers), 422)
    _assert_error(client.post(url, json={"text": "   "}, headers=headers), 422)
    _assert_error(
        client.post(url, json={"text": "ok", "said_at": "9999-12-31T23:59:59"}, headers=headers),
        422,
    )
    _assert_error(client.get(f"{url}/99999999999999999999", headers=headers), 422)
    _assert_error(client.get(url, params={"limit": 0}, headers=headers), 422)
    _assert_error(client.get(url, params={"since": "yesterday-ish"}, headers=headers), 422)


def test_elder_creation_checks_its_fields(client, world):
    admin = bearer(world.admin)
    _assert_error(
        client.post("/v1/elders", json={"name": "A", "language": "fr"}, headers=admin), 422
    )
    _assert_error(client.post("/v1/elders", json={"language": "en"}, headers=admin), 422)
    body = _assert_error(
        client.post(
            "/v1/elders",
            json={"name": "A", "language": "en", "timezone": "Mars/Olympus"},
            headers=admin,
        ),
        422,
    )
    assert "timezone" in body["message"]
    r = client.post(
        "/v1/elders",
        json={
            "name": "Ada",
            "language": "en",
            "timezone": "Europe/London",
            "birthday": "1941-03-02",
        },
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["id"] and r.json()["language"] == "en"


def test_over_large_requests_are_413_and_write_nothing(client, world, settings):
    url = f"/v1/elders/{world.a.elder_id}/messages:import"
    headers = bearer(world.a.elder)
    big = "字" * 3000
    batch = {
        "messages": [
            {"text": big, "said_at": "2026-10-01T08:00:00", "external_id": f"b{i}"}
            for i in range(300)
        ]
    }
    body = _assert_error(client.post(url, json=batch, headers=headers), 413, "too_large")
    assert "KiB" in body["message"]

    def chunks():
        yield b'{"messages": ['
        for i in range(300):
            sep = b"," if i else b""
            yield (
                sep
                + f'{{"text": "{big}", "said_at": "2026-10-01T08:00:00", "external_id": "c{i}"}}'.encode()
            )
        yield b"]}"

    streamed = client.post(
        url, content=chunks(), headers={**headers, "Content-Type": "application/json"}
    )
    _assert_error(streamed, 413, "too_large")
    page = client.get(f"/v1/elders/{world.a.elder_id}/messages", headers=headers).json()
    assert page["items"] == []


def test_unknown_elders_and_paths_are_404(client, world):
    admin = bearer(world.admin)
    body = _assert_error(client.get("/v1/elders/doesnotexist", headers=admin), 404, "not_found")
    assert "doesnotexist" in body["message"]
    _assert_error(client.get("/v1/elders/doesnotexist/messages", headers=admin), 404)
    _assert_error(client.get("/v1/nothing-here", headers=admin), 404)
    _assert_error(client.put("/v1/me", headers=admin), 405)


def test_forbidden_scope_names_what_is_missing(client, world):
    a = world.a
    body = _assert_error(
        client.post(
            f"/v1/elders/{a.elder_id}/messages",
            json={"text": "hi"},
            headers=bearer(a.family_reader),
        ),
        403,
        "forbidden",
    )
    assert "memories:write" in body["message"]


def test_a_grant_needs_known_scopes_and_a_future_expiry(client, world):
    a = world.a
    url = f"/v1/elders/{a.elder_id}/grants/{a.account_ids['family_none']}"
    _assert_error(client.put(url, json={"scopes": ["everything"]}, headers=bearer(a.elder)), 422)
    _assert_error(
        client.put(
            url,
            json={"scopes": ["memories:read"], "expires_at": "2001-01-01T00:00:00Z"},
            headers=bearer(a.elder),
        ),
        422,
    )
    # An elder's own account cannot be the target of a grant.
    _assert_error(
        client.put(
            f"/v1/elders/{a.elder_id}/grants/{a.account_ids['elder']}",
            json={"scopes": ["memories:read"]},
            headers=bearer(a.elder),
        ),
        422,
    )


def test_account_rules(client, world):
    admin = bearer(world.admin)
    _assert_error(
        client.post("/v1/accounts", json={"role": "family", "display_name": "x"}, headers=admin),
        422,
    )
    _assert_error(
        client.post(
            "/v1/accounts",
            json={"role": "family", "display_name": "x", "elder_id": "nope"},
            headers=admin,
        ),
        404,
    )
    _assert_error(
        client.post(
            "/v1/accounts",
            json={
                "role": "creator",
                "display_name": "x",
                "elder_id": world.a.elder_id,
                "is_guardian": True,
            },
            headers=admin,
        ),
        422,
    )


def test_ids_the_database_cannot_look_up_are_422_not_500(client, world):
    admin = bearer(world.admin)
    for path in ("/v1/elders/%00", "/v1/elders/a%00b/messages", "/v1/accounts/%00"):
        response = client.get(path, headers=admin)
        assert response.status_code in (404, 422), (path, response.text)
        assert response.json()["message"]


def test_out_of_range_times_and_forged_cursors_are_422(client, world):
    import base64
    import json

    url = f"/v1/elders/{world.a.elder_id}/messages"
    headers = bearer(world.a.elder)
    _assert_error(client.get(url, params={"since": "0001-01-01T00:00:00"}, headers=headers), 422)
    forged = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", 2**70]).encode())
    _assert_error(client.get(url, params={"cursor": forged.decode()}, headers=headers), 422)


def test_control_characters_anywhere_in_a_request_are_422(client, world):
    elder_id = world.a.elder_id
    headers = bearer(world.a.elder)
    for path, params in (
        (f"/v1/elders/{elder_id}/facts", {"person": "a\x00"}),
        (f"/v1/elders/{elder_id}/facts", {"person": "bell \x07"}),
        (f"/v1/elders/{elder_id}/messages", {"conversation_id": "x\x1b"}),
    ):
        body = _assert_error(client.get(path, params=params, headers=headers), 422, "invalid_input")
        assert "control character" in body["message"], body
        assert body["details"][0]["field"] == next(iter(params))
    body = _assert_error(client.get(f"/v1/elders/{elder_id}/audit?a%00=1", headers=headers), 422)
    assert "name" in body["message"] and "\x00" not in body["message"]
    body = _assert_error(client.get(f"/v1/elders/{elder_id}%00", headers=headers), 422)
    assert "address" in body["message"] and "U+0000" in body["message"]
    # Bodies: every field of every schema, nested ones too; tabs and new lines are text.
    url = f"/v1/elders/{elder_id}/messages"
    body = _assert_error(client.post(url, json={"text": "hi \x1b[31m"}, headers=headers), 422)
    assert "'text'" in body["message"] and "U+001B" in body["message"]
    grant = f"/v1/elders/{elder_id}/grants/{world.a.account_ids['family_none']}"
    story = {"scopes": ["story:export"], "story": {"people": ["阿明\x00"]}}
    _assert_error(client.put(grant, json=story, headers=headers), 422)
    ok = client.post(url, json={"text": "第一行\n\t第二行"}, headers=headers)
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize(
    "query",
    [
        {"date": "0001-01-01"},
        {"date": "9999-12-31"},
        {"date": "0001-01-03", "period": "week"},
        {"date": "1899-12-31", "period": "day"},
    ],
)
def test_digest_days_outside_a_lifetime_are_422(client, world, query):
    url = f"/v1/elders/{world.a.elder_id}/digests"
    body = _assert_error(client.get(url, params=query, headers=bearer(world.a.elder)), 422)
    assert "'date'" in body["message"] and "1900" in body["message"]


def test_since_and_until_outside_a_lifetime_are_422(client, world):
    headers = bearer(world.a.elder)
    for resource in ("messages", "facts"):
        url = f"/v1/elders/{world.a.elder_id}/{resource}"
        for params in ({"since": "1899-12-31T23:00:00"}, {"until": "9000-01-01T00:00:00Z"}):
            body = _assert_error(client.get(url, params=params, headers=headers), 422)
            assert "1900" in body["message"], body
        assert client.get(url, params={"since": "1930-05-01T00:00:00"}, headers=headers).is_success


def test_openapi_lists_the_errors_each_operation_can_give(client):
    document = client.get("/openapi.json").json()
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "message"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            listed = {code for code in operation["responses"] if code.startswith(("4", "5"))}
            expected = {"422"}
            if path.startswith("/v1/"):
                expected |= {"401", "403", "429", "503"}
            if "{" in path:
                expected.add("404")
            if "requestBody" in operation:
                expected |= {"413"}
            if method in ("post", "put", "patch", "delete"):
                expected.add("409")
            assert expected <= listed, (method, path, expected - listed)
            for code in listed:
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)
    assert "503" in document["paths"]["/readyz"]["get"]["responses"]


def test_a_method_an_address_does_not_take_is_405_naming_all_it_does(client, world):
    headers = bearer(world.a.elder)
    response = client.options("/v1/me", headers=headers)
    _assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, PATCH"
    # An action on a fact is not the fact: no 422 for an id "1:approve".
    url = f"/v1/elders/{world.a.elder_id}"
    for method, path, allow in (
        ("PATCH", f"{url}/facts/1:approve", "POST"),
        ("GET", f"{url}/reminders/calendar-link", "POST"),
        ("PATCH", f"{url}/reminders/open", "GET"),
    ):
        response = client.request(method, path, headers=headers)
        _assert_error(response, 405)
        assert response.headers["allow"] == allow


def test_numbers_are_not_days_times_or_yes_and_no(client, world):
    headers = bearer(world.a.elder)
    url = f"/v1/elders/{world.a.elder_id}"
    body = _assert_error(client.get(f"{url}/digests", params={"date": "0"}, headers=headers), 422)
    assert "2026-11-20" in body["message"]
    _assert_error(client.get(f"{url}/messages", params={"until": "0.5"}, headers=headers), 422)
    _assert_error(
        client.post(f"{url}/messages", json={"text": "hi", "said_at": 0}, headers=headers), 422
    )
    fact = {"type": "place", "text": "老家在嘉義", "private": 0}
    body = _assert_error(client.post(f"{url}/facts", json=fact, headers=headers), 422)
    assert "'private': Value error, must be true or false" in body["message"]
    story = {"format": "json", "sensitive": 1}
    _assert_error(client.post(f"{url}/story:export", json=story, headers=headers), 422)
    _assert_error(client.patch(url, json={"proactive_per_day": "3"}, headers=headers), 422)

"""Every role against every endpoint: allowed or refused exactly as designed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from memory import access, db
from memory.models import utcnow
from tests.conftest import World, bearer

CALLERS = [
    "admin",
    "elder",
    "other_elder",
    "guardian",
    "family_full",
    "family_reader",
    "family_none",
    "creator",
    "no_token",
    "revoked",
    "expired",
]
MANAGERS = {"admin", "elder", "guardian"}
WRITERS = MANAGERS | {"family_full"}
READERS = WRITERS | {"family_reader"}
OF_ELDER_A = MANAGERS | {"family_full", "family_reader", "family_none", "creator"}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    ok: int
    allowed: frozenset[str]
    body: dict | None = None
    refused: int = 403  # what a caller of this elder gets when not allowed


def _msg(external_id: str = "x1") -> dict:
    return {
        "text": "我今天去公園散步",
        "said_at": "2026-11-20T09:00:00",
        "external_id": external_id,
    }


CASES = [
    Case(
        "create elder",
        "POST",
        "/v1/elders",
        201,
        frozenset({"admin"}),
        body={"name": "王小明", "language": "zh-Hant"},
    ),
    Case("list elders", "GET", "/v1/elders", 200, frozenset(CALLERS[:8])),
    Case("me", "GET", "/v1/me", 200, frozenset(CALLERS[:8])),
    Case("read elder", "GET", "/v1/elders/{A}", 200, frozenset(OF_ELDER_A)),
    Case(
        "update elder",
        "PATCH",
        "/v1/elders/{A}",
        200,
        frozenset(MANAGERS),
        body={"preferred_name": "阿嬤"},
    ),
    Case(
        "create account",
        "POST",
        "/v1/accounts",
        201,
        frozenset({"admin"}),
        body={"role": "family", "display_name": "志明", "elder_id": "{A}"},
    ),
    Case("list accounts", "GET", "/v1/accounts", 200, frozenset({"admin"})),
    Case(
        "read account",
        "GET",
        "/v1/accounts/{family_none_id}",
        200,
        frozenset({"admin", "family_none"}),
        refused=404,
    ),
    Case(
        "issue token",
        "POST",
        "/v1/accounts/{family_none_id}/tokens",
        201,
        frozenset({"admin"}),
        body={"label": "tablet"},
    ),
    Case(
        "list tokens",
        "GET",
        "/v1/accounts/{family_none_id}/tokens",
        200,
        frozenset({"admin", "family_none"}),
        refused=404,
    ),
    Case(
        "revoke token",
        "DELETE",
        "/v1/tokens/{family_none_token_id}",
        200,
        frozenset({"admin", "family_none"}),
        refused=404,
    ),
    Case("list grants", "GET", "/v1/elders/{A}/grants", 200, frozenset(MANAGERS)),
    Case(
        "set grant",
        "PUT",
        "/v1/elders/{A}/grants/{family_none_id}",
        200,
        frozenset(MANAGERS),
        body={"scopes": ["memories:read"]},
    ),
    Case(
        "revoke grant",
        "DELETE",
        "/v1/elders/{A}/grants/{family_reader_id}",
        204,
        frozenset(MANAGERS),
    ),
    Case(
        "add message",
        "POST",
        "/v1/elders/{A}/messages",
        201,
        frozenset(WRITERS),
        body=_msg("new-1"),
    ),
    Case(
        "import messages",
        "POST",
        "/v1/elders/{A}/messages:import",
        200,
        frozenset(WRITERS),
        body={"messages": [_msg("imp-1"), _msg("imp-2")]},
    ),
    Case("list messages", "GET", "/v1/elders/{A}/messages", 200, frozenset(READERS)),
    Case("read message", "GET", "/v1/elders/{A}/messages/{message_id}", 200, frozenset(READERS)),
    Case(
        "delete message", "DELETE", "/v1/elders/{A}/messages/{message_id}", 204, frozenset(WRITERS)
    ),
    Case("index status", "GET", "/v1/elders/{A}/index-status", 200, frozenset(READERS)),
    Case(
        "search memories",
        "POST",
        "/v1/elders/{A}/memories:search",
        200,
        frozenset(READERS),
        body={"query": "公園散步", "k": 5},
    ),
    Case("audit log", "GET", "/v1/elders/{A}/audit", 200, frozenset(MANAGERS)),
    Case("list facts", "GET", "/v1/elders/{A}/facts", 200, frozenset(READERS)),
    Case(
        "add fact",
        "POST",
        "/v1/elders/{A}/facts",
        201,
        frozenset(WRITERS),
        body={"type": "place", "text": "老家在嘉義"},
    ),
    Case("read fact", "GET", "/v1/elders/{A}/facts/{fact_id}", 200, frozenset(READERS)),
    Case(
        "edit fact",
        "PATCH",
        "/v1/elders/{A}/facts/{fact_id}",
        200,
        frozenset(WRITERS),
        body={"text": "老家在民雄"},
    ),
    Case("approve fact", "POST", "/v1/elders/{A}/facts/{fact_id}:approve", 200, frozenset(WRITERS)),
    Case("reject fact", "POST", "/v1/elders/{A}/facts/{fact_id}:reject", 200, frozenset(WRITERS)),
    Case("delete fact", "DELETE", "/v1/elders/{A}/facts/{fact_id}", 204, frozenset(WRITERS)),
    Case("fact sources", "GET", "/v1/elders/{A}/facts/{fact_id}/sources", 200, frozenset(READERS)),
    Case(
        "fact history", "GET", "/v1/elders/{A}/memories/{fact_id}/history", 200, frozenset(READERS)
    ),
    # Talking with the companion is the elder's alone, whatever else others may do.
    Case(
        "chat", "POST", "/v1/elders/{A}/chat", 200, frozenset({"elder"}), body={"message": "你好"}
    ),
    Case(
        "chat (OpenAI-compatible)",
        "POST",
        "/v1/chat/completions",
        200,
        frozenset({"elder", "other_elder"}),
        body={"model": "zhian", "messages": [{"role": "user", "content": "你好"}]},
    ),
    Case("models (OpenAI-compatible)", "GET", "/v1/models", 200, frozenset(CALLERS[:8])),
]


def _expected(case: Case, caller: str) -> int:
    if caller in ("no_token", "revoked", "expired"):
        return 401
    if caller in case.allowed:
        return case.ok
    if "{A}" in case.path and caller == "other_elder":
        return 404  # another elder's data does not even exist for them
    return case.refused


def _prepare(client, engine, world: World) -> tuple[dict[str, str], dict[str, str]]:
    """Tokens by caller name, and the ids the paths need."""
    a = world.a
    r = client.post(f"/v1/elders/{a.elder_id}/messages", json=_msg("seed"), headers=bearer(a.elder))
    assert r.status_code == 201, r.text
    fact = client.post(
        f"/v1/elders/{a.elder_id}/facts",
        json={"type": "place", "text": "我住在台南"},
        headers=bearer(a.elder),
    )
    assert fact.status_code == 201, fact.text
    with db.session_scope(engine) as session:
        family_none_token = access.list_tokens(session, a.account_ids["family_none"])[0]
        revoked = access.issue_token(
            session, access.get_account(session, a.account_ids["family_full"])
        )
        access.revoke_token(session, None, revoked.token)
        expired = access.issue_token(
            session, access.get_account(session, a.account_ids["family_full"])
        )
        expired.token.expires_at = utcnow()
        session.add(expired.token)
    tokens = {
        "admin": world.admin,
        "elder": a.elder,
        "other_elder": world.b.elder,
        "guardian": a.guardian,
        "family_full": a.family_full,
        "family_reader": a.family_reader,
        "family_none": a.family_none,
        "creator": a.creator,
        "revoked": revoked.secret,
        "expired": expired.secret,
    }
    ids = {
        "A": a.elder_id,
        "family_none_id": a.account_ids["family_none"],
        "family_reader_id": a.account_ids["family_reader"],
        "family_none_token_id": family_none_token.id,
        "message_id": str(r.json()["id"]),
        "fact_id": str(fact.json()["fact"]["id"]),
    }
    return tokens, ids


def _fill(value, ids: dict[str, str]):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("caller", CALLERS)
def test_auth_matrix(client, engine, world, case: Case, caller: str):
    tokens, ids = _prepare(client, engine, world)
    headers = bearer(tokens[caller]) if caller in tokens else {}
    response = client.request(
        case.method, _fill(case.path, ids), json=_fill(case.body, ids), headers=headers
    )
    assert response.status_code == _expected(case, caller), response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["error"], str) and body["message"]


def test_revoked_token_says_so(client, engine, world):
    tokens, _ = _prepare(client, engine, world)
    response = client.get("/v1/me", headers=bearer(tokens["revoked"]))
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_grant_with_expiry_stops_working(client, engine, world):
    a = world.a
    url = f"/v1/elders/{a.elder_id}/grants/{a.account_ids['family_none']}"
    r = client.put(
        url,
        json={"scopes": ["memories:read"], "expires_at": "2099-01-01T00:00:00Z"},
        headers=bearer(a.elder),
    )
    assert r.status_code == 200, r.text
    assert (
        client.get(f"/v1/elders/{a.elder_id}/messages", headers=bearer(a.family_none)).status_code
        == 200
    )
    with db.session_scope(engine) as session:
        grant = access._grant(session, a.elder_id, a.account_ids["family_none"])
        grant.expires_at = utcnow()
        session.add(grant)
    r = client.get(f"/v1/elders/{a.elder_id}/messages", headers=bearer(a.family_none))
    assert r.status_code == 403
    assert "memories:read" in r.json()["message"]


def test_reads_by_others_are_audited_reads_by_the_elder_are_not(client, world):
    a = world.a
    client.get(f"/v1/elders/{a.elder_id}/messages", headers=bearer(a.elder))
    client.get(f"/v1/elders/{a.elder_id}/messages", headers=bearer(a.family_reader))
    events = client.get(f"/v1/elders/{a.elder_id}/audit", headers=bearer(a.elder)).json()["items"]
    reads = [e for e in events if e["action"] == "messages.read"]
    assert [e["actor_account_id"] for e in reads] == [a.account_ids["family_reader"]]


def test_acting_on_concerns_and_calendar_links_needs_reminders_write(client, engine, world):
    """Reading permissions only read: marking a concern seen or resolved and making a calendar
    link (a new token) need `reminders:write`."""
    from companion.alerts import concerns
    from memory.models import Permission

    a = world.a
    with db.session_scope(engine) as session:
        flag = concerns.raise_flag(
            session, a.elder_id, kind="fall", severity="urgent", summary="跌倒了"
        ).id
        elder = access.resolve_scope(
            session, access.caller_for(access.elder_account(session, a.elder_id)), a.elder_id
        )
        for role, scopes in (
            ("family_none", [Permission.digests_read, Permission.reminders_read]),
            ("family_reader", [Permission.digests_read, Permission.reminders_write]),
        ):
            access.set_grant(session, elder, a.account_ids[role], scopes=scopes, expires_at=None)
    reader, writer = bearer(a.family_none), bearer(a.family_reader)
    base = f"/v1/elders/{a.elder_id}"
    assert client.get(f"{base}/concerns", headers=reader).status_code == 200
    for path in (f"{base}/concerns/{flag}:seen", f"{base}/concerns/{flag}:resolve"):
        refused = client.post(path, headers=reader)
        assert refused.status_code == 403 and "reminders:write" in refused.json()["message"]
    assert client.post(f"{base}/concerns/{flag}:seen", headers=writer).json()["state"] == "seen"
    refused = client.post(f"{base}/reminders/calendar-link", headers=reader)
    assert refused.status_code == 403 and "reminders:write" in refused.json()["message"]
    assert client.post(f"{base}/reminders/calendar-link", headers=writer).status_code == 201

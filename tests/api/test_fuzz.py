"""Property-based fuzzing of the whole HTTP API with Schemathesis.

Every operation in the OpenAPI document is called with generated input, valid and invalid,
and every answer goes through all of Schemathesis' checks (`--checks all`): never a 5xx, only
status codes, content types, headers and bodies the document lists (every 4xx is the JSON error
`{"error": "<code>", "message": "<sentence>"}`), invalid input refused, and an operation that
needs a token refusing a request without one or with a wrong one.

Generated ids almost never exist, so the fuzzing hooks below swap path and query ids for
those of two seeded households (elders, accounts, tokens, messages), letting the handlers
run past the 404, and mix in a dictionary of edge values that Schemathesis itself does not
produce (control characters in paths, the first and last representable instants, forged
paging cursors).

- `test_edge_cases_as_admin`: Schemathesis' coverage phase, a deterministic sweep of
  boundary and invalid values for every parameter and body field (SQLite).
- `test_fuzz_as_admin`: random fuzzing with an administrator's token (SQLite, PostgreSQL).
- `test_fuzz_as_household`: random fuzzing with the token of an elder, their guardian, a
  family member or a creator; also checks that no one reaches the other household's elder,
  other people's accounts and tokens, or the administrators' operations.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.core import NotSet
from schemathesis.core.parameters import ParameterLocation
from schemathesis.python.asgi import shutdown_lifespans
from sqlmodel import select

from api.app import create_app
from api.settings import Settings
from memory import access, db, store
from memory.models import Account, Token
from tests.conftest import World, bearer, send_case

# Only the OpenAPI document is needed here; this engine never connects.
_DOCUMENT = create_app(Settings(database_url="sqlite://")).openapi()
_SEED = 20250101


# The document cannot say every rule (a timezone that exists, a day within a lifetime, no
# control characters): input that looks valid to it may still be refused, with a reason.
_ACCEPTED_OR_EXPLAINED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
# Invalid input is refused like Schemathesis expects, or as too large (413) before it is read.
_REFUSED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CHECKS = {
    "positive_data_acceptance": {"expected-statuses": _ACCEPTED_OR_EXPLAINED},
    "negative_data_rejection": {"expected-statuses": _REFUSED},
}


def _schema(**phases: dict[str, bool]) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({"seed": _SEED, "phases": phases, "checks": CHECKS})
    return schemathesis.openapi.from_dict(_DOCUMENT, config=config)


fuzz_schema = _schema(coverage={"enabled": False}, examples={"enabled": False})
edge_schema = _schema(fuzzing={"enabled": False}, examples={"enabled": False})

SETTINGS = settings(
    max_examples=15,
    derandomize=True,
    database=None,
    deadline=None,
    # The fixtures make one database per operation, shared by its examples: on purpose.
    suppress_health_check=list(HealthCheck),
)

HOUSEHOLD_ROLES = ["elder", "guardian", "family_full", "family_reader", "family_none", "creator"]
ADMIN_ONLY = {
    "POST /v1/elders",
    "POST /v1/accounts",
    "GET /v1/accounts",
    "POST /v1/accounts/{account_id}/tokens",
}
_ID_PARAMETERS = ("elder_id", "account_id", "token_id", "message_id")

# Ids of the running test's seeded data, by parameter name, read by the hooks while
# Hypothesis draws (hooks are registered with the schema, before any fixture runs).
_KNOWN: dict[str, list[Any]] = {}


# --- edge values --------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.isoformat()


def _cursor(parts: tuple[str, object]) -> str:
    raw = json.dumps(list(parts)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_STRINGS = st.sampled_from(["\x00", "a\x00b", "林é😀", "a" * 300, " ", "%", "../x"]) | st.text(
    max_size=40
)
_INSTANTS = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.sampled_from([datetime.min, datetime.max]) | st.datetimes(),
    st.sampled_from([None, UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))]),
)
_NUMBERS = st.sampled_from([0, -1, 2**63 - 1, 2**63, 2**64, float("inf"), 0.5]) | st.integers()
# An empty path segment addresses another operation (or none), not this one with an odd id.
_SEGMENTS = _STRINGS.filter(bool)
EDGES: dict[str, st.SearchStrategy] = {
    "elder_id": _SEGMENTS,
    "account_id": _SEGMENTS,
    "token_id": _SEGMENTS,
    "conversation_id": _STRINGS,
    "since": _INSTANTS.map(_iso),
    "until": _INSTANTS.map(_iso),
    # Opaque to callers, but anyone can forge one: base64 of [said_at, message id].
    "cursor": st.tuples(_INSTANTS.map(_iso), _NUMBERS).map(_cursor),
}


def _alternatives(name: str) -> list[st.SearchStrategy]:
    options = []
    if _KNOWN.get(name):
        options.append(st.sampled_from(_KNOWN[name]))
    if name in EDGES:
        options.append(EDGES[name])
    return options


def _vary(values: Any, declared: set[str]) -> st.SearchStrategy:
    """Keep each generated value or swap in a known id or an edge value; sometimes add a
    declared parameter that was left out."""
    if not isinstance(values, dict):
        return st.just(values)
    required = {
        name: st.one_of(st.just(value), *_alternatives(name)) for name, value in values.items()
    }
    optional = {  # sorted: set order changes between processes, and so would the draws
        name: st.one_of(_alternatives(name))
        for name in sorted(declared - values.keys())
        if _alternatives(name)
    }
    return st.fixed_dictionaries(required, optional=optional)


@fuzz_schema.hook
def flatmap_path_parameters(context, path_parameters):
    return _vary(path_parameters, set())


@fuzz_schema.hook
def flatmap_query(context, query):
    return _vary(query, {parameter.name for parameter in context.operation.query})


def _swap_known_ids(case) -> None:
    """The coverage phase does not run the hooks: swap known ids into some of its cases,
    chosen by a stable hash of the generated case so that every run sends the same."""
    body = None if isinstance(case.body, NotSet) else case.body
    generated = [case.path_parameters, case.query, body]
    seed = zlib.crc32(json.dumps(generated, sort_keys=True, default=repr).encode())
    for container in (case.path_parameters, case.query):
        for name in _ID_PARAMETERS:
            if isinstance(container, dict) and name in container and _KNOWN.get(name):
                choice = seed % (len(_KNOWN[name]) + 1)
                seed //= 7
                if choice:
                    container[name] = _KNOWN[name][choice - 1]


# --- fixtures and checks ------------------------------------------------------------------


@pytest.fixture
def known_ids(engine: sa.Engine, world: World) -> Iterator[dict[str, Any]]:
    """Messages and spare tokens for both households; the ids the hooks draw from."""
    with db.session_scope(engine) as session:
        accounts = list(session.exec(select(Account)))
        in_use = {t.id for t in session.exec(select(Token))}
        # Spare tokens to revoke: revoking the callers' own would turn the rest into 401s.
        spare = [access.issue_token(session, a, label="spare").token for a in accounts]
        messages = []
        for household in (world.a, world.b):
            elder = access.caller_for(access.elder_account(session, household.elder_id))
            scope = access.resolve_scope(session, elder, household.elder_id)
            for n, text in enumerate(["今天去公園散步，腿有點痠。", "I had congee for breakfast."]):
                draft = store.MessageDraft(text=text, external_id=f"seed-{n}")
                messages.append(store.add_message(session, scope, draft)[0].id)
    assert not in_use & {t.id for t in spare}
    _KNOWN.update(
        elder_id=[world.a.elder_id, world.b.elder_id],
        account_id=[a.id for a in accounts],
        token_id=[t.id for t in spare],
        message_id=messages,
    )
    yield {"token_owner": {t.id: t.account_id for t in spare}}
    _KNOWN.clear()
    # Schemathesis keeps each app it sent to alive (its lifespan) until told to let go.
    shutdown_lifespans()


def _send(client, case, token: str):
    """Send the case with the test client, which answers 500 instead of raising. Redirects
    are not followed: the answer must be this operation's, as the schema checks assume."""
    # A case that leaves out or garbles its headers on purpose is sent as generated: the
    # token would make it a valid request.
    negative_headers = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
    auth = {} if negative_headers else bearer(token)
    return send_case(client, case, auth)


def _describe(case, response) -> str:
    sent = "" if isinstance(case.body, NotSet) else f"\nbody: {case.body!r}"
    return (
        f"{response.request.method} {response.request.url}{sent}\n"
        f"-> {response.status_code} {response.text[:2000]}"
    )


def _check(case, response, client, token: str) -> None:
    why = _describe(case, response)
    assert response.status_code < 500, why
    if 400 <= response.status_code < 500:
        assert response.headers.get("content-type", "").startswith("application/json"), why
        body = response.json()
        assert isinstance(body, dict), why
        assert isinstance(body.get("error"), str) and body["error"], why
        assert isinstance(body.get("message"), str) and body["message"], why
    # Every built-in check. Those that send again (without the token, say) must reach this
    # test's app: the schema was loaded from a document, so it is told which one.
    case.operation.app = case.operation.schema.app = client.app
    case.validate_response(
        response,
        headers=bearer(token),
        transport_kwargs={"app": client.app, "headers": bearer(token)},
    )


@pytest.fixture(name="settings")
def _settings_without_throttle(settings: Settings) -> Settings:
    """The checks send wrong tokens on purpose; the throttle for them is tested elsewhere."""
    return settings.model_copy(update={"auth_failures_allowed": 1_000_000})


# --- tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@edge_schema.parametrize()
@SETTINGS
def test_edge_cases_as_admin(case, client, world: World, known_ids) -> None:
    _swap_known_ids(case)
    _check(case, _send(client, case, world.admin), client, world.admin)


@fuzz_schema.parametrize()
@SETTINGS
def test_fuzz_as_admin(case, client, world: World, known_ids) -> None:
    _check(case, _send(client, case, world.admin), client, world.admin)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@fuzz_schema.parametrize()
@fuzz_schema.given(role=st.sampled_from(HOUSEHOLD_ROLES), household=st.sampled_from("ab"))
@settings(SETTINGS, max_examples=25)
def test_fuzz_as_household(case, role: str, household: str, client, world: World, known_ids):
    mine, other = (world.a, world.b) if household == "a" else (world.b, world.a)
    token = getattr(mine, role)
    response = _send(client, case, token)
    _check(case, response, client, token)
    if response.status_code >= 300:
        return
    why = f"{role} of household {household} got through:\n{_describe(case, response)}"
    assert case.operation.label not in ADMIN_ONLY, why
    path, query = case.path_parameters or {}, case.query or {}
    assert other.elder_id not in (path.get("elder_id"), query.get("elder_id")), why
    if case.operation.path.startswith("/v1/accounts/"):
        assert path["account_id"] == mine.account_ids[role], why
    if "token_id" in path:
        assert known_ids["token_owner"].get(path["token_id"]) == mine.account_ids[role], why

"""What a browser and a log see: security headers on every page and answer, a slower answer for
an address that keeps trying tokens that do not work, and no token in the access log."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import FailedAuthLimit
from tests.api.test_talk_page import browser, server  # noqa: F401 - fixtures
from tests.conftest import _free_port, bearer, scripted_model

SQLITE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # nothing here is SQL


def _assert_protected(response: httpx.Response) -> str:
    """The headers every answer carries; returns its Content-Security-Policy."""
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, response.headers
    assert response.headers.get("x-frame-options") == "DENY"
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "no-referrer"
    return policy


def _inline_script_hashes(html: str) -> set[str]:
    return {
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    }


@SQLITE
@pytest.mark.parametrize("page", ["/talk", "/family"])
def test_the_pages_run_their_own_script_only_and_cannot_be_framed(client, page):
    response = client.get(page)
    assert response.status_code == 200
    policy = _assert_protected(response)  # the consent page (on /family) cannot be framed
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    hashes = _inline_script_hashes(response.text)
    assert hashes and set(script_src.split()[1:]) == hashes


@SQLITE
def test_api_answers_carry_the_headers_too(client, world):
    me = client.get("/v1/me", headers=bearer(world.a.elder))
    assert me.status_code == 200
    assert "default-src 'none'" in _assert_protected(me)
    for headers in ({}, bearer("zhian_00000000_not-a-token")):
        refused = client.get(f"/v1/elders/{world.a.elder_id}/messages", headers=headers)
        assert refused.status_code == 401
        _assert_protected(refused)
    _assert_protected(client.get("/healthz"))
    _assert_protected(client.get("/no/such/page"))


@SQLITE
def test_the_api_documentation_keeps_a_policy_it_can_load_under(client):
    docs = client.get("/docs")
    policy = _assert_protected(docs)
    assert "cdn.jsdelivr.net" in policy  # where FastAPI's Swagger UI comes from


@SQLITE
def test_streamed_chat_passes_through_untouched(client, world):
    with client.stream(
        "POST",
        f"/v1/elders/{world.a.elder_id}/chat",
        json={"message": "你好", "stream": True},
        headers=bearer(world.a.elder),
    ) as response:
        body = "".join(response.iter_text())
    assert response.status_code == 200, body
    _assert_protected(response)
    assert "好的" in body


@SQLITE
def test_the_pages_work_in_a_browser_that_enforces_their_policy(server, browser, world):  # noqa: F811
    base, _app = server
    page = browser.chromium.new_page()  # the policy enforced, as for the elder and family
    refused: list[str] = []
    page.on(
        "console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None
    )
    page.on("pageerror", lambda e: refused.append(str(e)))
    page.goto(f"{base}/talk#token={world.a.elder}")
    page.wait_for_selector(".turn.companion")
    page.fill("#input", "你好")
    page.click("#send")
    page.wait_for_selector(".turn.companion[data-kind=answer]", timeout=15000)
    assert "好的" in page.locator(".turn.companion[data-kind=answer]").inner_text()
    page.goto(f"{base}/family#token={world.a.family_full}")
    page.wait_for_selector("body[data-ready=overview]")
    assert refused == []


# --- failed token checks ---------------------------------------------------------------------


@pytest.fixture
def app(engine, settings):
    app = create_app(
        settings.model_copy(update={"auth_failures_allowed": 5, "auth_failure_window_seconds": 60}),
        engine=engine,
    )
    scripted_model(app)
    return app


@SQLITE
def test_an_address_that_keeps_sending_bad_tokens_is_slowed_others_are_not(app, world):
    guesser = TestClient(app, client=("203.0.113.7", 40000))
    neighbour = TestClient(app, client=("198.51.100.9", 40000))
    codes = [
        guesser.get("/v1/me", headers=bearer(f"zhian_0000000{n}_guess")).status_code
        for n in range(8)
    ]
    assert codes == [401] * 5 + [429] * 3
    refused = guesser.get("/v1/me", headers=bearer(world.a.elder))
    assert refused.status_code == 429  # over the limit, even a good token waits
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    body = refused.json()
    assert body["error"] == "too_many_failed_tokens"
    assert f"Wait {refused.headers['retry-after']} seconds" in body["message"]
    _assert_protected(refused)
    assert neighbour.get("/v1/me", headers=bearer(world.a.elder)).status_code == 200
    assert neighbour.get("/healthz").status_code == 200
    assert guesser.get("/healthz").status_code == 200  # no token sent: nothing to slow down


@SQLITE
def test_a_good_token_is_not_counted_and_not_slowed_under_the_limit(app, world):
    family = TestClient(app, client=("203.0.113.8", 40000))
    for _ in range(4):
        assert family.get("/v1/me", headers=bearer("zhian_00000000_typo")).status_code == 401
    for _ in range(20):
        assert family.get("/v1/me", headers=bearer(world.a.elder)).status_code == 200


@SQLITE
def test_the_calendar_feeds_token_is_counted_too(app, world):
    guesser = TestClient(app, client=("203.0.113.9", 40000))
    feed = f"/v1/elders/{world.a.elder_id}/reminders.ics"
    codes = [guesser.get(feed, params={"token": f"zhian_guess_{n}"}).status_code for n in range(7)]
    assert codes == [401] * 5 + [429] * 2


def test_failures_age_out_and_memory_stays_bounded():
    now = [1000.0]
    limit = FailedAuthLimit(allowed=3, window_seconds=60, max_addresses=100, clock=lambda: now[0])
    for _ in range(3):
        limit.failed("a")
    assert limit.retry_after("a") == 60
    now[0] += 59.5
    assert limit.retry_after("a") == 1
    now[0] += 1
    assert limit.retry_after("a") == 0
    for n in range(10_000):
        limit.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(limit._failures) == 100


def test_counting_is_thread_safe():
    limit = FailedAuthLimit(allowed=1_000_000, window_seconds=60)
    threads = [
        threading.Thread(target=lambda: [limit.failed("a") for _ in range(2_000)]) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(limit._failures["a"]) == 16_000


# --- the access log --------------------------------------------------------------------------


@pytest.fixture
def served(app) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=True)
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uvicorn_server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(timeout=10)


@SQLITE
def test_calendar_link_tokens_never_reach_the_access_log(served, world, caplog):
    link = httpx.post(
        f"{served}/v1/elders/{world.a.elder_id}/reminders/calendar-link",
        headers=bearer(world.a.family_full),
    )
    assert link.status_code == 201, link.text
    url = link.json()["url"]
    secret = url.split("token=")[1]
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        assert httpx.get(url).status_code == 200
        httpx.get(f"{served}/v1/elders/{world.a.elder_id}/reminders.ics?token=typed-by-hand")
        httpx.get(f"{served}/v1/me?token={world.a.elder}")
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(access) == 3, access
    log_text = "\n".join(access)
    assert secret not in log_text and "typed-by-hand" not in log_text
    assert world.a.elder not in log_text
    assert link.json()["token_prefix"] + "_…" in access[0]  # whose it was, still told
    assert "reminders.ics" in access[0] and " 200" in access[0]

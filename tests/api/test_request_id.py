"""Every answer carries a request id, and every log line written while it is handled names it:
an operator told "it has been logged" can find the line."""

from __future__ import annotations

import logging

import pytest

from api import request_id
from memory import store
from tests.conftest import bearer


def test_every_answer_has_a_request_id_and_a_proxys_own_is_kept(client, world):
    first = client.get("/healthz")
    second = client.get("/healthz")
    assert len(first.headers["X-Request-ID"]) == 32
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    kept = client.get("/healthz", headers={"X-Request-ID": "proxy-7f3a.1"})
    assert kept.headers["X-Request-ID"] == "proxy-7f3a.1"
    # An id that could forge or split a log line is not taken: a new one is made.
    odd = client.get("/healthz", headers={"X-Request-ID": "a b\tc" + "x" * 80})
    assert odd.headers["X-Request-ID"] != "a b\tc" + "x" * 80
    assert len(odd.headers["X-Request-ID"]) == 32
    # Errors carry it too.
    refused = client.get(f"/v1/elders/{world.a.elder_id}/messages")
    assert refused.status_code == 401 and "X-Request-ID" in refused.headers


def test_an_unexpected_error_names_its_reference_in_the_answer_and_the_log(
    client, world, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "list_messages", broken)
    answer = client.get(
        f"/v1/elders/{world.a.elder_id}/messages",
        headers={**bearer(world.a.guardian), "X-Request-ID": "ticket-991"},
    )
    assert answer.status_code == 500
    assert answer.headers["X-Request-ID"] == "ticket-991"
    assert "ticket-991" in answer.json()["message"]
    assert "disk on fire" not in answer.text
    [logged] = [r for r in caplog.records if r.exc_info and "disk on fire" in str(r.exc_info[1])]
    assert logged.request_id == "ticket-991"
    assert "ticket-991" in logged.getMessage()
    # Outside a request, a line says so.
    assert request_id.current() == "-"
    outside = logging.getLogRecordFactory()("zhian", logging.INFO, "f", 1, "m", None, None)
    assert outside.request_id == "-"

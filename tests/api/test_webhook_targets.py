"""Family webhooks reach public internet addresses only, unless the operator allows private ones
(ZHIAN_WEBHOOK_ALLOW_PRIVATE): refused when set up, and checked again as each is sent."""

from __future__ import annotations

import socket

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from companion.alerts import outbox as notify
from memory import db
from memory.models import Notification
from tests.conftest import bearer, scripted_model

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def _client(engine, settings, *, allow_private: bool) -> TestClient:
    app = create_app(
        settings.model_copy(update={"webhook_allow_private": allow_private}), engine=engine
    )
    scripted_model(app)
    return TestClient(app)


def _add(client: TestClient, world, url: str) -> httpx.Response:
    return client.post(
        f"/v1/elders/{world.a.elder_id}/webhooks",
        json={"url": url},
        headers=bearer(world.a.family_full),
    )


def _resolving(monkeypatch, answers: dict[str, list[str]]) -> None:
    """DNS that answers `answers` (a name to its addresses) and nothing else."""

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(notify.socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address"),
        ("http://[::1]/hook", "::1 is a loopback address"),
        ("http://localhost/hook", "localhost is this machine"),
        ("https://api.localhost/hook", "api.localhost is this machine"),
        ("http://10.0.0.5/hook", "private network"),
        ("http://192.168.1.1/hook", "private network"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://0.0.0.0/hook", "no address"),
        ("http://2130706433/hook", "resolves to 127.0.0.1"),  # 127.0.0.1 written as a number
        ("http://rebind.example/hook", "rebind.example resolves to 10.1.2.3"),
    ],
)
def test_private_targets_are_refused_with_the_reason(
    engine, settings, world, monkeypatch, url, why
):
    _resolving(monkeypatch, {"2130706433": ["127.0.0.1"], "rebind.example": ["10.1.2.3"]})
    response = _add(_client(engine, settings, allow_private=False), world, url)
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert why in message and "ZHIAN_WEBHOOK_ALLOW_PRIVATE=true" in message


@pytest.mark.parametrize("url", ["ftp://example.org/hook", "file:///etc/passwd", "example.org"])
def test_other_schemes_are_refused(engine, settings, world, url):
    response = _add(_client(engine, settings, allow_private=False), world, url)
    assert response.status_code == 422
    assert "http or https" in response.json()["message"]


def test_public_targets_are_accepted(engine, settings, world, monkeypatch):
    _resolving(monkeypatch, {"hooks.example.org": ["93.184.216.34"]})
    client = _client(engine, settings, allow_private=False)
    for url in (
        "https://hooks.example.org/zhian",
        "http://93.184.216.34/hook",
        "https://not-resolvable-yet.example/hook",
    ):
        assert _add(client, world, url).status_code == 201, url


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hook", "http://169.254.169.254/", "http://[::1]/", "http://localhost/"],
)
def test_the_operator_may_allow_private_targets(engine, settings, world, url):
    assert _add(_client(engine, settings, allow_private=True), world, url).status_code == 201


def _queued(engine, client, world, monkeypatch, url: str) -> None:
    _resolving(monkeypatch, {"hooks.example.org": ["93.184.216.34"]})
    assert _add(client, world, url).status_code == 201
    with db.session_scope(engine) as session:
        notify.notify_family(
            session, world.a.elder_id, "concern.raised", {"text": "跌倒"}, email=False
        )


def test_a_name_that_turns_private_after_set_up_is_not_called(engine, settings, world, monkeypatch):
    client = _client(engine, settings, allow_private=False)
    _queued(engine, client, world, monkeypatch, "https://hooks.example.org/zhian")
    _resolving(monkeypatch, {"hooks.example.org": ["93.184.216.34", "169.254.169.254"]})
    called = []
    sender = notify.Sender(allow_private=False)
    sender.http = httpx.Client(transport=httpx.MockTransport(lambda r: called.append(r)))
    assert sender.deliver_due(engine) == 0
    assert called == []
    with Session(engine) as session:
        note = session.exec(select(Notification)).one()
    assert note.gave_up_at is not None and note.delivered_at is None
    assert "169.254.169.254" in (note.last_error or "") and "not sent" in note.last_error


def test_the_address_checked_is_the_address_called(engine, settings, world, monkeypatch):
    client = _client(engine, settings, allow_private=False)
    _queued(engine, client, world, monkeypatch, "https://hooks.example.org:8443/zhian?a=1")
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    sender = notify.Sender(allow_private=False)
    sender.http = httpx.Client(transport=httpx.MockTransport(answer))
    assert sender.deliver_due(engine) == 1
    [request] = seen
    assert str(request.url) == "https://93.184.216.34:8443/zhian?a=1"
    assert request.headers["host"] == "hooks.example.org:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.org"  # the certificate's name

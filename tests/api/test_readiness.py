"""/readyz tells a load balancer and the operator what cannot work: a stalled scheduler, a
language model that failed to load, a vector index out of reach; 200 with the checks when all
is well."""

from __future__ import annotations

from time import monotonic

from langchain_core.language_models import FakeListChatModel

from companion.scheduler import Scheduler
from tests.conftest import _free_port


class BrokenModel(FakeListChatModel):
    """A bundled model whose file would not load."""

    @property
    def load_error(self) -> str:
        return "The language model could not be loaded (ValueError: bad file)."


def test_ready_with_each_check(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready"
    assert r.json()["checks"] == {
        "database": "ok",
        "scheduler": "ok",
        "model": "ok",
        "vector_index": "ok",
    }


def test_a_stalled_scheduler_is_not_ready(client, engine):
    scheduler = Scheduler(engine, holder="stuck", tick_seconds=10)
    scheduler.started_at = monotonic() - 600  # started ten minutes ago, no tick finished since
    client.app.state.scheduler = scheduler
    r = client.get("/readyz")
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["failed"] == ["scheduler"]
    assert "has not finished a tick" in body["message"] and "restart" in body["message"]
    assert body["checks"]["database"] == "ok"
    scheduler.tick()  # it moves again
    assert client.get("/readyz").status_code == 200
    scheduler.stop()


def test_a_model_that_failed_to_load_is_not_ready(client):
    client.app.state.companion.model = BrokenModel(responses=["好的。"])
    r = client.get("/readyz")
    assert r.status_code == 503, r.text
    assert r.json()["failed"] == ["model"]
    assert "could not be loaded" in r.json()["message"]


def test_an_unreachable_vector_index_is_not_ready(client):
    client.app.state.vector_index.location = f"http://127.0.0.1:{_free_port()}"
    r = client.get("/readyz")
    assert r.status_code == 503, r.text
    assert r.json()["failed"] == ["vector_index"]
    assert "cannot be reached" in r.json()["message"]
    assert "ZHIAN_VECTOR_INDEX" in r.json()["message"]

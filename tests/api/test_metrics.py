"""/metrics: the operator's figures in Prometheus's text format, for the administrator only."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import bearer


def _figures(client, token: str) -> dict[tuple[str, tuple], float]:
    answer = client.get("/metrics", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_answer_in_prometheus_format(client, world):
    figures = _figures(client, world.admin)
    names = {name for name, _ in figures}
    for expected in (
        "zhian_index_backlog",
        "zhian_extraction_backlog",
        "zhian_notification_backlog",
        "zhian_notification_failing",
        "zhian_notification_given_up",
        "zhian_reminder_delay_seconds",
        "zhian_http_responses_total",
    ):
        assert expected in names, sorted(names)


def test_only_the_administrator_reads_metrics(client, world):
    assert client.get("/metrics").status_code == 401
    for token in (world.a.elder, world.a.guardian, world.a.family_full, world.a.creator):
        answer = client.get("/metrics", headers=bearer(token))
        assert answer.status_code == 403
        assert "administrator" in answer.json()["message"]


def test_a_chat_turn_moves_the_turn_figures_and_the_backlogs(client, world):
    total = ("zhian_turn_seconds_count", (("part", "total"),))
    retrieval = ("zhian_turn_seconds_count", (("part", "retrieval"),))
    ok = ("zhian_http_responses_total", (("status_class", "2xx"),))
    refused = ("zhian_http_responses_total", (("status_class", "4xx"),))
    before = _figures(client, world.admin)

    said = client.post(
        f"/v1/elders/{world.a.elder_id}/chat",
        json={"message": "我女兒叫美玲，她每個星期天來看我。"},
        headers=bearer(world.a.elder),
    )
    assert said.status_code == 200, said.text
    assert client.get(f"/v1/elders/{world.b.elder_id}/memories", headers=bearer(world.a.elder))

    after = _figures(client, world.admin)
    assert after[total] == before.get(total, 0) + 1
    assert after[retrieval] == before.get(retrieval, 0) + 1
    assert after[ok] >= before.get(ok, 0) + 2  # the chat turn and the first scrape
    assert after[refused] == before.get(refused, 0) + 1  # another elder's memories
    # Indexing and fact extraction run in the background in a server; here they wait.
    backlog = ("zhian_index_backlog", ())
    assert after[backlog] > before[backlog] == 0
    waiting = ("zhian_extraction_backlog", ())
    assert after[waiting] > before[waiting] == 0

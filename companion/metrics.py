"""The figures an operator watches (Prometheus): how long a turn takes and where, how long work
waits for the language model, and what is waiting to be done. Never anyone's words."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from memory.backlog import read_backlog
from memory.db import session_scope
from memory.models import utcnow

_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)

TURN_SECONDS = Histogram(
    "zhian_turn_seconds",
    "Time of one chat turn, by part: storing the elder's words, retrieval, building the prompt, "
    "the model's first token, the reply (the model and the checks of each sentence), the whole.",
    ["part"],
    buckets=_SECONDS,
)
MODEL_WAIT_SECONDS = Histogram(
    "zhian_model_wait_seconds",
    "Time waiting for the bundled model to be free (chat turns go before background work).",
    ["work"],
    buckets=_SECONDS,
)
RESPONSES = Counter(
    "zhian_http_responses",
    "Answers given, by status class (2xx, 3xx, 4xx, 5xx).",
    ["status_class"],
)

for _status_class in ("2xx", "3xx", "4xx", "5xx"):  # shown at 0 before the first answer
    RESPONSES.labels(status_class=_status_class)

# Chat.timings keys (milliseconds) and the part each is.
_PARTS = {
    "store_ms": "store",
    "retrieval_ms": "retrieval",
    "prompt_ms": "prompt",
    "first_token_ms": "first_token",
    "generation_ms": "reply",
}


def observe_turn(timings: Mapping[str, float]) -> None:
    """Record one turn's parts (from `Turn.timings`, in milliseconds)."""
    for key, part in _PARTS.items():
        if key in timings:
            TURN_SECONDS.labels(part=part).observe(timings[key] / 1000)
    whole = sum(timings.get(k, 0.0) for k in ("store_ms", "retrieval_ms", "prompt_ms"))
    TURN_SECONDS.labels(part="total").observe((whole + timings.get("generation_ms", 0.0)) / 1000)


class BacklogCollector(Collector):
    """What is waiting, read from the database at each scrape, so that every API replica and
    the scheduler process say the same."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with session_scope(self.engine) as session:
            backlog = read_backlog(session, utcnow())
        yield GaugeMetricFamily(
            "zhian_index_backlog",
            "Memories not yet in the vector index (they are kept, and indexed when it can).",
            value=backlog.index_pending,
        )
        yield GaugeMetricFamily(
            "zhian_extraction_backlog",
            "Messages not yet read for facts.",
            value=backlog.extraction_pending,
        )
        yield GaugeMetricFamily(
            "zhian_notification_backlog",
            "Alerts to the family not sent yet (still being tried).",
            value=backlog.notifications_waiting,
        )
        yield GaugeMetricFamily(
            "zhian_notification_failing",
            "Alerts not sent yet that failed at least once.",
            value=backlog.notifications_failing,
        )
        yield GaugeMetricFamily(
            "zhian_notification_given_up",
            "Alerts given up on after every retry.",
            value=backlog.notifications_given_up,
        )
        yield GaugeMetricFamily(
            "zhian_reminder_delay_seconds",
            "How late the latest reminder of the last hour was said (scheduler lag).",
            value=backlog.reminder_delay_seconds,
        )
        if backlog.scheduler_lease_seconds_left is not None:
            yield GaugeMetricFamily(
                "zhian_scheduler_lease_seconds_left",
                "Seconds until the active scheduler's lease runs out (below zero: no scheduler "
                "is keeping time).",
                value=backlog.scheduler_lease_seconds_left,
            )


def backlog_registry(engine: sa.Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BacklogCollector(engine))
    return registry


def exposition(engine_registry: CollectorRegistry) -> bytes:
    """This process's figures and the database's, in Prometheus's text format."""
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY) + generate_latest(engine_registry)

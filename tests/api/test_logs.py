"""Log lines away from a terminal: one per event, plain or JSON, and no chatter from the
scheduler's library at INFO."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from api.logs import setup_logging
from api.request_id import tag_log_records


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in ("alembic", "apscheduler")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in quiet.items():
        logging.getLogger(name).setLevel(was)


def _events(log: logging.Logger) -> None:
    log.info("GET /v1/elders/d450aa11/concerns?state=open 200 — a long path " + "x" * 120)
    try:
        raise ValueError("the webhook answered 500\nwith a body of two lines")
    except ValueError:
        log.exception("An alert to the family could not be sent")
    logging.getLogger("apscheduler.executors.default").info("Running job 'tick'")
    logging.getLogger("apscheduler.scheduler").warning("Run time of job 'tick' was missed")


def test_away_from_a_terminal_each_event_is_one_line(restore_logging):
    stream = io.StringIO()  # not a terminal
    setup_logging("auto", stream=stream)
    _events(logging.getLogger("zhian.test"))

    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, lines  # APScheduler's per-tick line is quiet at INFO
    assert lines[0].endswith("x" * 120) and "/v1/elders/d450aa11/concerns?state=open" in lines[0]
    assert "INFO zhian.test" in lines[0]
    assert "An alert to the family could not be sent" in lines[1]
    assert "ValueError: the webhook answered 500\\nwith a body of two lines" in lines[1]
    assert "WARNING apscheduler.scheduler" in lines[2]


def test_json_lines_parse_and_carry_the_request_id(restore_logging):
    tag_log_records()
    stream = io.StringIO()
    setup_logging("json", stream=stream)
    _events(logging.getLogger("zhian.test"))

    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["level"] for e in entries] == ["INFO", "ERROR", "WARNING"]
    assert entries[0]["logger"] == "zhian.test"
    assert entries[0]["request_id"] == "-"  # outside a request
    assert entries[0]["message"].startswith("GET /v1/elders/d450aa11/concerns?state=open")
    assert "ValueError: the webhook answered 500" in entries[1]["error"]
    assert entries[0]["time"].endswith("+00:00")

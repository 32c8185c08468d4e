"""How zhian's log lines look: rich on a terminal; elsewhere one line per event (plain text, or
JSON with ZHIAN_LOG_FORMAT=json) that a log collector can read whole."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

from rich.console import Console
from rich.logging import RichHandler

LogFormat = Literal["auto", "rich", "plain", "json"]

# Libraries that narrate routine work at INFO: alembic every connection it inspects, APScheduler
# every tick of every job.
_QUIET = ("alembic", "apscheduler")


def _one_line(text: str) -> str:
    return text.replace("\r", "").replace("\n", "\\n")


class PlainLines(logging.Formatter):
    """`time level logger [request id] message`, a traceback folded into the same line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return _one_line(super().format(record))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonLines(logging.Formatter):
    """One JSON object per event: time (UTC), level, logger, request_id, message, and the error's
    traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def handler_for(log_format: LogFormat, stream=None) -> logging.Handler:  # type: ignore[no-untyped-def]
    """The handler for a format; `auto` is rich on a terminal and plain lines elsewhere."""
    stream = stream or sys.stderr
    if log_format == "auto":
        log_format = "rich" if stream.isatty() else "plain"
    if log_format == "rich":
        return RichHandler(console=Console(file=stream), show_path=False, rich_tracebacks=True)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines() if log_format == "json" else PlainLines())
    return handler


def setup_logging(log_format: LogFormat, *, verbose: bool = False, stream=None) -> None:  # type: ignore[no-untyped-def]
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[handler_for(log_format, stream)],
        force=True,
    )
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)

"""A request id on every response (`X-Request-ID`) and on every log line written while the
request is handled, so that "it has been logged" gives the operator something to search for.

A well-formed id sent by a proxy in front (letters, digits, `-`, `_`, `.`, at most 64) is kept;
otherwise one is made. Log records carry it as `request_id` ("-" outside a request).
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,64}")
_current: ContextVar[str] = ContextVar("request_id", default="-")


def current() -> str:
    """The id of the request being handled, or "-"."""
    return _current.get()


class RequestId:
    """ASGI middleware: takes or makes the id, keeps it for the request's log lines and sends
    it back in the response's headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(HEADER.lower().encode(), b"").decode("latin-1")
        request_id = sent if _WELL_FORMED.fullmatch(sent) else uuid.uuid4().hex
        token = _current.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((HEADER.lower().encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
        # Reset only after a normal end: an unexpected error is answered (and logged) by the
        # outermost handler after this returns, in the same task, and it names this id. Each
        # request runs in its own task, so the id never reaches another request.
        _current.reset(token)


_factory_installed = False


def tag_log_records() -> None:
    """Every log record from now on carries `request_id` (once per process)."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:  # type: ignore[no-untyped-def]
        record = previous(*args, **kwargs)
        record.request_id = _current.get()
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True

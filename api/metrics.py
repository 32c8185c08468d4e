"""Answers counted by status class, for /metrics."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from companion.metrics import RESPONSES


class CountResponses:
    """ASGI middleware: counts every answer by its status class (an error that escapes every
    handler is a 5xx)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counted = False

        async def counting_send(message: Message) -> None:
            nonlocal counted
            if message["type"] == "http.response.start" and not counted:
                counted = True
                RESPONSES.labels(status_class=f"{message['status'] // 100}xx").inc()
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except Exception:
            if not counted:
                RESPONSES.labels(status_class="5xx").inc()
            raise

"""What every response carries and every log line leaves out: security headers, a slower answer
for an address that keeps sending tokens that do not work, and tokens cut out of the access log."""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body

# --- headers ---------------------------------------------------------------------------------

# The API answers JSON only: nothing in it may run, load or be framed.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# FastAPI's /docs and /redoc load Swagger UI or ReDoc from a CDN and start it with an inline
# script; they show the API's own description, no one's data, so they get a looser policy.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")

_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def page_policy(html: str) -> str:
    """The policy for one of our pages: its own inline scripts run (by their SHA-256), nothing
    else does; it talks to this server only and cannot be framed."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in _SCRIPT.findall(html)
    )
    scripts = hashes or "'none'"
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


class SecurityHeaders:
    """Adds the security headers to every HTTP response; a policy a route set itself (the
    pages) is kept. Pure ASGI, so streamed replies and server-sent events pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] in DOCS_PATHS else API_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in (
                    (b"content-security-policy", policy.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- failed token checks, counted per address -----------------------------------------------


class FailedAuthLimit:
    """Counts failed token checks per client address in a sliding window; thread-safe, and
    bounded: at most `max_addresses` are remembered (the least recent are forgotten first)."""

    def __init__(
        self,
        *,
        allowed: int,
        window_seconds: float,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allowed = allowed
        self.window = window_seconds
        self.max_addresses = max_addresses
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        # Called with the lock held.
        failures = self._failures.get(address)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again: 0 while it is under the limit."""
        now = self.clock()
        with self._lock:
            failures = self._recent(address, now)
            if failures is None or len(failures) < self.allowed:
                return 0
            return max(1, math.ceil(failures[0] + self.window - now))

    def failed(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            failures = self._recent(address, now)
            if failures is None:
                failures = self._failures[address] = deque(maxlen=self.allowed)
                while len(self._failures) > self.max_addresses:
                    self._failures.popitem(last=False)
            self._failures.move_to_end(address)
            failures.append(now)


def _carries_token(scope: Scope) -> bool:
    if any(name == b"authorization" for name, _ in scope.get("headers", [])):
        return True
    return re.search(rb"(^|&)token=", scope.get("query_string", b"")) is not None


class FailedAuthThrottle:
    """After `limit.allowed` failed token checks (answers 401 to a request that carried a token,
    wherever it was checked) from one address within the window, that address is answered 429
    with Retry-After, without looking at its token, until the oldest failure ages out. Other
    addresses are not affected."""

    def __init__(self, app: ASGIApp, limit: FailedAuthLimit) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _carries_token(scope):
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown",))[0]
        wait = self.limit.retry_after(address)
        if wait:
            response = JSONResponse(
                error_body(
                    "too_many_failed_tokens",
                    f"Too many tries with tokens that do not work came from this address. Wait "
                    f"{wait} seconds, then send the whole token again (or ask an administrator "
                    "for a new one).",
                ),
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
            await response(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.limit.failed(address)
            await send(message)

        await self.app(scope, receive, watch)


# --- the access log --------------------------------------------------------------------------

_TOKEN_QUERY = re.compile(r"(?i)(\btoken=)(zhian_[0-9a-f]{8}_)?[^&\s\"']*")
_TOKEN = re.compile(r"(zhian_[0-9a-f]{8}_)[A-Za-z0-9_\-]+")


def redact(text: str) -> str:
    """`text` with every token's secret part cut out; the public prefix (as `zhian admin
    list-accounts` shows it) is kept so that an operator can still tell whose it was."""
    text = _TOKEN_QUERY.sub(lambda m: f"{m[1]}{m[2] or ''}…", text)
    return _TOKEN.sub(r"\1…", text)


class RedactTokens(logging.Filter):
    """Cuts tokens out of log records (uvicorn's access log prints each URL, and a calendar
    link carries its token in the query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_tokens_in(loggers: Iterable[str] = ("uvicorn.access", "uvicorn.error")) -> None:
    """Install `RedactTokens` on the loggers once (each server process builds its app)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())

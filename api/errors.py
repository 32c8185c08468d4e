"""Every error leaves as `{"error": code, "message": sentence}`; domain exceptions map here."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memory.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LLMUnavailable,
    NotFound,
    TooLarge,
    Unauthorized,
    ZhianError,
)

log = logging.getLogger(__name__)

STATUS = {
    InvalidInput: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    LLMUnavailable: 503,
    TooLarge: 413,
}

_HTTP_CODES = {
    400: ("bad_request", "The request could not be read."),
    401: ("unauthorized", "This endpoint needs a token: send 'Authorization: Bearer <token>'."),
    403: ("forbidden", "This token may not do that."),
    404: ("not_found", "There is nothing at this address. Check the path against /docs."),
    405: ("method_not_allowed", "This address does not accept that method. See /docs."),
    413: ("too_large", "The request is too large."),
    415: ("unsupported_media_type", "Send the body as JSON (Content-Type: application/json)."),
}


def error_body(code: str, message: str, **extra: object) -> dict:
    return {"error": code, "message": message, **extra}


def _where(loc: tuple) -> str:
    # The first element says where (body, query string, path, header); a field may be named
    # "query" too.
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:]
    return ".".join(str(p) for p in loc) or "the request body"


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "The request is not valid."
    first = errors[0]
    kind = first.get("type", "")
    where = _where(tuple(first.get("loc", ())))
    if kind == "json_invalid":
        return "The body is not valid JSON. Check for a missing quote, comma or bracket."
    if kind == "missing":
        text = f"'{where}' is required."
    else:
        text = f"'{where}': {first.get('msg', 'is not valid')}."
    more = len(errors) - 1
    if more:
        text += f" ({more} more problem{'s' if more > 1 else ''} listed in 'details'.)"
    return text


def _details(exc: RequestValidationError) -> list[dict]:
    return [
        {"field": _where(tuple(e.get("loc", ()))), "problem": e.get("msg", "")}
        for e in exc.errors()[:50]
    ]


async def _on_domain_error(_request: Request, exc: ZhianError) -> JSONResponse:
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(exc.code, exc.message), status_code=status, headers=headers)


async def _on_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(
        error_body("invalid_input", _validation_message(exc), details=_details(exc)),
        status_code=422,
    )


async def _on_http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code, default = _HTTP_CODES.get(exc.status_code, ("error", "The request failed."))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else default
    if exc.status_code == 404 and detail == "Not Found":
        detail = default
    if exc.status_code == 405 and detail == "Method Not Allowed":
        detail = default
    return JSONResponse(
        error_body(code, detail), status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _on_integrity_error(_request: Request, exc: IntegrityError) -> JSONResponse:
    log.info("Conflicting write refused: %s", exc.orig)
    return JSONResponse(
        error_body(
            "conflict",
            "Another request changed the same data at the same moment. Nothing was saved; "
            "send the request again.",
        ),
        status_code=409,
    )


async def _on_unstorable_value(_request: Request, exc: DataError) -> JSONResponse:
    log.info("Value the database cannot take: %s", exc.orig)
    return JSONResponse(
        error_body(
            "invalid_input",
            "A value in this request cannot be stored or looked up (for example it holds a NUL "
            "character or a number out of range). Nothing was saved; correct it and try again.",
        ),
        status_code=422,
    )


async def _on_database_down(_request: Request, exc: OperationalError) -> JSONResponse:
    log.error("The database could not be reached: %s", exc.orig)
    return JSONResponse(
        error_body(
            "database_unavailable",
            "The database cannot be reached just now. Nothing was saved; try again shortly.",
        ),
        status_code=503,
    )


async def _on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("Unexpected error while handling a request")
    return JSONResponse(
        error_body(
            "internal",
            "Something went wrong on the server. It has been logged; try again, "
            "and tell the operator if it keeps happening.",
        ),
        status_code=500,
    )


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ZhianError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(DataError, _on_unstorable_value)
    app.add_exception_handler(OperationalError, _on_database_down)
    app.add_exception_handler(Exception, _on_unexpected)


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> StarletteHTTPException:
        return StarletteHTTPException(
            413,
            f"The request body is larger than this server accepts ({self.max_bytes // 1024:,} KiB). "
            "Send fewer messages per request.",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse(error_body("too_large", self._too_large().detail), 413)
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, limited_receive, send)

"""Every error leaves as `{"error": code, "message": sentence}`; domain exceptions map here."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import request_id
from api.schemas import control_character
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


def _routes(app: FastAPI) -> list:
    try:  # FastAPI 0.13x and later keep an included router as one route
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return list(app.router.routes)
    return list(iter_route_contexts(app.router.routes))


def _allowed_methods(request: Request) -> str:
    """Every method this address accepts: the 405 names only those of the first route that
    matched it, and one address may be several routes (GET and PATCH /v1/me)."""
    methods: set[str] = set()
    for route in _routes(request.app):
        template, allowed = getattr(route, "path", None), getattr(route, "methods", None)
        if template and allowed and compile_path(template)[0].match(request.url.path):
            methods |= allowed
    return ", ".join(sorted(methods))


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code, default = _HTTP_CODES.get(exc.status_code, ("error", "The request failed."))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else default
    headers = getattr(exc, "headers", None)
    if exc.status_code == 404 and detail == "Not Found":
        detail = default
    if exc.status_code == 405:
        detail = default if detail == "Method Not Allowed" else detail
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return JSONResponse(error_body(code, detail), status_code=exc.status_code, headers=headers)


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
    reference = request_id.current()
    log.exception("Unexpected error while handling a request (request %s)", reference)
    return JSONResponse(
        error_body(
            "internal",
            "Something went wrong on the server. It has been logged; try again, and if it "
            f"keeps happening tell the operator this reference: {reference}.",
        ),
        status_code=500,
        headers={request_id.HEADER: reference},
    )


def register_error_handlers(app: FastAPI) -> None:
    """The handlers that turn every failure into the JSON error, the guard against control
    characters in the address, and the errors' place in the OpenAPI document."""
    app.add_exception_handler(ZhianError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(DataError, _on_unstorable_value)
    app.add_exception_handler(OperationalError, _on_database_down)
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_middleware(RefuseControlCharacters)
    document_errors(app)


class RefuseControlCharacters:
    """Refuse a path or query parameter holding a control character (a NUL, say) with 422,
    before any handler or database sees it: no one types one, and PostgreSQL cannot take NUL.
    Bodies are checked by their schemas (`api.schemas`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @staticmethod
    def _problem(scope: Scope) -> tuple[str, str] | None:
        found = control_character(scope.get("path", ""))
        if found:
            return "the address", found
        query = (scope.get("query_string") or b"").decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True):
            found = control_character(name)
            if found:
                return "a parameter's name", found
            found = control_character(value)
            if found:
                return f"'{name}'", found
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = self._problem(scope) if scope["type"] == "http" else None
        if problem is None:
            await self.app(scope, receive, send)
            return
        where, found = problem
        message = (
            f"{where[0].upper()}{where[1:]} holds a control character ({found}), which cannot be "
            "stored or looked up. Remove it and send the request again."
        )
        details = [{"field": where.strip("'"), "problem": f"holds a control character ({found})"}]
        response = JSONResponse(error_body("invalid_input", message, details=details), 422)
        await response(scope, receive, send)


# --- the errors in the OpenAPI document ------------------------------------------------------

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "A code for programs, e.g. not_found."},
        "message": {"type": "string", "description": "What went wrong and what to do about it."},
        "details": {
            "type": "array",
            "description": "With 422: each problem, by field.",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
            },
        },
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_MEANINGS = {
    400: "The request could not be read.",
    401: "No token, or one that is unknown, expired or revoked.",
    403: "The token is valid but may not do this (the message names what is missing).",
    404: "Nothing with that id that this token can reach (or the fact was deleted).",
    409: "It conflicts with what is stored (already done, deleted, or changed at that moment).",
    413: "The body is larger than this server accepts.",
    422: "A field, parameter or body that is not valid (the message says which and why).",
    429: "Too many requests with tokens that do not work; wait before trying again.",
    503: "The database or the language model cannot be reached just now; try again shortly.",
}
_WRITES = {"post", "put", "patch", "delete"}
# Answers without the database: everything else may find it unreachable.
_NO_DATABASE = {"/healthz"}


def _error_statuses(path: str, method: str, operation: dict) -> set[int]:
    """What this operation can answer besides success, from what it takes."""
    statuses = {422}  # a control character in the address is refused anywhere
    if path not in _NO_DATABASE:
        statuses.add(503)
    if path.startswith("/v1/"):  # a token (a header, or the calendar link's) opens each
        statuses |= {401, 403, 429}
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 404, 413}
    if method in _WRITES:
        statuses.add(409)
    return statuses


def add_error_responses(document: dict) -> dict:
    """List every operation's error responses, each with the `{"error", "message"}` schema
    (in place of FastAPI's own 422, which this server never sends)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _WRITES | {"get", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(_error_statuses(path, method, operation)):
                response = responses.setdefault(str(status), {})
                if status == 422 or not response.get("description"):
                    response["description"] = _MEANINGS[status]
                response["content"] = {"application/json": {"schema": _ERROR_REF}}
            operation["responses"] = dict(sorted(responses.items()))
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, replaced above
        schemas.pop(unused, None)
    return document


def document_errors(app: FastAPI) -> None:
    """Make the app's OpenAPI document list the error responses (built once, on first use)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            add_error_responses(build())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


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

"""Prometheus metrics for the operator (the administrator's token)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import AdminCaller
from api.errors import _ERROR_REF, _MEANINGS
from companion.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Turn times, waits for the model, backlogs, scheduler lag and answers by status, "
    "in Prometheus's text format",
    response_class=PlainTextResponse,
    # Outside /v1/, so said here: it takes the administrator's token like the API.
    responses={
        status: {
            "description": _MEANINGS[status],
            "content": {"application/json": {"schema": _ERROR_REF}},
        }
        for status in (401, 403, 429)
    },
)
def metrics(request: Request, caller: AdminCaller) -> Response:
    return Response(exposition(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)

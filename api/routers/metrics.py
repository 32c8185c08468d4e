"""Prometheus metrics for the operator (the administrator's token)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import AdminCaller
from companion.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Turn times, waits for the model, backlogs, scheduler lag and answers by status, "
    "in Prometheus's text format",
    response_class=Response,
)
def metrics(request: Request, caller: AdminCaller) -> Response:
    return Response(exposition(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)

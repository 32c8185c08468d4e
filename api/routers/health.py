"""Liveness and readiness, for load balancers and monitoring (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from memory.db import schema_status

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and its schema is current")
def readyz(request: Request) -> JSONResponse:
    try:
        current, head = schema_status(request.app.state.engine)
    except SQLAlchemyError:
        return JSONResponse(
            {"error": "not_ready", "message": "The database cannot be reached."}, status_code=503
        )
    if current != head:
        return JSONResponse(
            {
                "error": "not_ready",
                "message": f"The database schema is at {current or 'nothing'}, this version needs "
                f"{head}. Run 'zhian db upgrade'.",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "schema": current})

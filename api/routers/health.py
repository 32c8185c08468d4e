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


def _database(request: Request) -> tuple[str | None, str | None]:
    """(what is wrong, the schema revision)."""
    try:
        current, head = schema_status(request.app.state.engine)
    except SQLAlchemyError:
        return "The database cannot be reached.", None
    if current != head:
        return (
            f"The database schema is at {current or 'nothing'}, this version needs {head}. "
            "Run 'zhian db upgrade'.",
            current,
        )
    return None, current


def _model(request: Request) -> str | None:
    # Only what the model already knows: readiness never loads it.
    return getattr(request.app.state.companion.model, "load_error", None)


def _scheduler(request: Request) -> str | None:
    scheduler = getattr(request.app.state, "scheduler", None)
    return scheduler.stalled() if scheduler is not None else None


def _vector_index(request: Request) -> str | None:
    problem = request.app.state.vector_index.problem()
    if problem is None:
        return None
    return f"{problem}. Memories are kept and indexed when it is back; check ZHIAN_VECTOR_INDEX."


@router.get(
    "/readyz",
    summary="The database, its schema, the scheduler, the language model and the vector index "
    "are all usable",
)
def readyz(request: Request) -> JSONResponse:
    """200 with each check when all is well; 503 naming the checks that failed (`failed`) and
    what to do about the first (`message`)."""
    database, schema = _database(request)
    problems = {
        "database": database,
        "scheduler": _scheduler(request),
        "model": _model(request),
        "vector_index": _vector_index(request),
    }
    checks = {name: problem or "ok" for name, problem in problems.items()}
    failed = [name for name, problem in problems.items() if problem]
    if failed:
        return JSONResponse(
            {
                "error": "not_ready",
                "message": problems[failed[0]],
                "failed": failed,
                "checks": checks,
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "schema": schema, "checks": checks})

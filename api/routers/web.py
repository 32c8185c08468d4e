"""The elder's page: one input, one big button, replies streamed in and read aloud."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

_WEB = Path(__file__).resolve().parents[1] / "web"


@lru_cache(maxsize=1)
def _talk_page() -> str:
    return (_WEB / "talk.html").read_text(encoding="utf-8")


@router.get("/talk", response_class=HTMLResponse)
def talk() -> HTMLResponse:
    """Opened by the elder's link (`/talk#token=…`); the token stays in the browser."""
    return HTMLResponse(_talk_page(), headers={"Cache-Control": "no-store"})

"""The pages: the elder's (one input, one big button, replies streamed in and read aloud) and
the family's dashboard. Both are opened by a link with a token in its fragment, which stays in
the browser and is sent as a bearer token to the API."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.security import page_policy

router = APIRouter(include_in_schema=False)

_WEB = Path(__file__).resolve().parents[1] / "web"


@lru_cache(maxsize=2)
def _page(name: str) -> tuple[str, str]:
    """The page and its Content-Security-Policy (which lets its own inline script run)."""
    html = (_WEB / name).read_text(encoding="utf-8")
    return html, page_policy(html)


def _serve(name: str) -> HTMLResponse:
    html, policy = _page(name)
    return HTMLResponse(
        html, headers={"Cache-Control": "no-store", "Content-Security-Policy": policy}
    )


@router.get("/talk", response_class=HTMLResponse)
def talk() -> HTMLResponse:
    """Opened by the elder's link (`/talk#token=…`); the token stays in the browser."""
    return _serve("talk.html")


@router.get("/family", response_class=HTMLResponse)
def family() -> HTMLResponse:
    """The family's dashboard, opened by their link (`/family#token=…`): today and this week,
    memories to review, reminders, and (for the elder or guardian) consent and the access log."""
    return _serve("family.html")

"""The elder's page in a real browser (headless Chromium): open the link, send a message, watch
the reply stream in. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn

from api.settings import Settings
from memory import access, db
from memory.index import VectorIndex
from tests.companion.conftest import ScriptedModel
from tests.conftest import _free_port, app_on_index

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _chromium() -> str:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(
                "Chromium is missing: CI must run the browser tests (apt-get install chromium)."
            )
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
def server(
    engine: sa.Engine, settings: Settings, vector_index: VectorIndex
) -> Iterator[tuple[str, object]]:
    app = app_on_index(engine, settings, vector_index)
    app.state.companion.model = ScriptedModel(responses=["好的。"], prompts=[])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=10)


class _Browser:
    """Chromium whose pages let Playwright's `wait_for_function` run: it evaluates its string in
    the page, which the pages' Content-Security-Policy forbids (no eval). That the pages work
    under their policy is tested in test_security.py, without this."""

    def __init__(self, chromium) -> None:  # type: ignore[no-untyped-def]
        self.chromium = chromium

    def new_page(self, **options):  # type: ignore[no-untyped-def]
        return self.chromium.new_page(bypass_csp=True, **options)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"]
        )
        yield _Browser(chromium)
        chromium.close()


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_elder_sends_a_message_and_sees_the_reply_stream_in(server, browser, world):
    base, app = server
    app.state.companion.model = ScriptedModel(
        responses=["好的，我記住了。", "美玲每個星期天來看您。您今天想她嗎？"],
        prompts=[],
        sleep=0.04,
    )
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.goto(f"{base}/talk#token={world.a.elder}")
        page.wait_for_selector(".turn.companion")
        assert "#token" not in page.url  # the token leaves the address bar
        assert page.locator("#send").inner_text() == "送出"

        page.fill("#input", "我女兒叫美玲，她每個星期天來看我。")
        page.click("#send")
        page.wait_for_function(
            "document.querySelectorAll('.turn.companion')[1]?.dataset.kind === 'answer'"
        )
        page.fill("#input", "誰星期天來看我？")
        page.keyboard.press("Enter")
        # Streamed: the first sentence shows while the second is still being written.
        page.wait_for_function(
            "(() => { const r = document.querySelectorAll('.turn.companion')[2];"
            " return r && r.textContent.includes('美玲') && !r.dataset.kind; })()"
        )
        page.wait_for_function(
            "document.querySelectorAll('.turn.companion')[2]?.dataset.kind === 'answer'"
        )
        reply = page.locator(".turn.companion").nth(2)
        # The memory, turned to face the elder by code; the model's restatement is not repeated.
        assert reply.inner_text() == "您女兒叫美玲，她每個星期天來看您。您今天想她嗎？"
        assert reply.get_attribute("data-used")  # the memory it drew on
        assert page.locator(".turn.elder").count() == 2
        page.screenshot(path=str(ARTIFACTS / "talk-page.png"))
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "talk-page-failure.png"))
        raise


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_page_greets_by_preferred_name_and_reopened_shows_todays_talk(server, browser, world):
    from memory.models import Elder

    base, app = server
    with db.session_scope(app.state.engine) as session:
        session.get(Elder, world.a.elder_id).preferred_name = "秀英阿嬤"
    app.state.companion.model = ScriptedModel(responses=["您今天真有精神。"], prompts=[])
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.goto(f"{base}/talk#token={world.a.elder}")
        hello = page.wait_for_selector(".turn.companion")
        assert hello.inner_text().startswith("秀英阿嬤，您好！")
        page.fill("#input", "今天早上我去公園散步，看到很多人在跳舞。")
        page.click("#send")
        page.wait_for_function(
            "document.querySelectorAll('.turn.companion')[1]?.dataset.kind === 'answer'"
        )
        page.reload()
        page.wait_for_selector(".turn.elder")
        assert page.locator(".turn.elder").all_inner_texts() == [
            "今天早上我去公園散步，看到很多人在跳舞。"
        ]
        assert page.locator(".turn.companion").all_inner_texts() == ["您今天真有精神。"]
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "talk-page-reopened-failure.png"))
        raise


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_an_expired_link_says_so_in_the_elders_language(server, browser, world):
    base, app = server
    with db.session_scope(app.state.engine) as session:
        access.revoke_token(session, None, access.token_by_secret(session, world.b.elder))
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{base}/talk#token={world.b.elder}")
    notice = page.wait_for_selector(".turn.notice")
    assert "expired" in notice.inner_text() or "失效" in notice.inner_text()
    assert page.locator("#send").is_disabled()
    page.screenshot(path=str(ARTIFACTS / "talk-page-expired.png"))


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_reminder_arrives_on_the_open_page_and_the_elder_taps_done(server, browser, world):
    from datetime import UTC, datetime, timedelta

    from sqlmodel import Session, select

    from companion.reminders.firing import fire_due
    from companion.reminders.schedule import ReminderDraft, create_reminder
    from memory.models import ReminderOccurrence

    base, app = server
    engine = app.state.engine
    due = (datetime.now(UTC) + timedelta(days=1)).replace(hour=4, minute=0, second=0, microsecond=0)
    with db.session_scope(engine) as session:
        create_reminder(
            session,
            access.elder_scope(session, world.a.elder_id),
            ReminderDraft(title="吃降血壓的藥", kind="medicine", starts_at=due, repeat="daily"),
        )
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    try:
        page.goto(f"{base}/talk#token={world.a.elder}")
        page.wait_for_selector(".turn.companion")
        fire_due(engine, due + timedelta(seconds=1))  # 12:00 in Taipei: 智安 says it
        reminder = page.wait_for_selector(".turn.companion[data-kind=reminder]", timeout=15000)
        assert "吃降血壓的藥" in reminder.inner_text()
        page.screenshot(path=str(ARTIFACTS / "talk-page-reminder.png"))
        page.click("button.done")
        page.wait_for_function(
            "document.querySelector('.turn.companion[data-kind=reminder]')"
            ".textContent.includes('記下來了')"
        )
        with Session(engine) as session:
            occurrence = session.exec(select(ReminderOccurrence)).one()
        assert occurrence.status == "done" and occurrence.done_by == "elder (button)"
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "talk-page-reminder-failure.png"))
        raise

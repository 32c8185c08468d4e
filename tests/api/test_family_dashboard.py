"""The family's dashboard in a real browser (headless Chromium), on a week of the elder's
conversation in Chinese with a fall, a lonely evening and a missed medicine. Screenshots are
kept in test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from companion.reminders.firing import fire_due, sweep
from companion.scheduler import Scheduler
from memory.models import ConcernFlag, Notification
from tests.api.test_talk_page import ARTIFACTS, browser, server  # noqa: F401 - fixtures
from tests.companion.test_reminders import Hook
from tests.conftest import bearer

TAIPEI = ZoneInfo("Asia/Taipei")


TODAY = datetime.now(TAIPEI).date()  # the real today, read before any clock is frozen


def _local_day(days_ago: int, clock: str) -> datetime:
    """A wall-clock time in Taipei, `days_ago` days before today."""
    today = TODAY
    return datetime.fromisoformat(f"{today - timedelta(days=days_ago)}T{clock}").replace(
        tzinfo=TAIPEI
    )


def _seed_week(app, world, hook_url: str) -> dict:
    """Six days of the elder talking, a medicine reminder done one day and missed the next."""
    a = world.a
    client = TestClient(app)
    api = f"/v1/elders/{a.elder_id}"
    client.patch("/v1/me", json={"language": "zh-Hant"}, headers=bearer(a.family_full))
    client.post(f"{api}/webhooks", json={"url": hook_url}, headers=bearer(a.family_full))
    with time_machine.travel(_local_day(6, "07:00"), tick=False):
        client.post(
            f"{api}/reminders",
            json={
                "title": "吃降血壓的藥",
                "kind": "medicine",
                "repeat": "daily",
                "starts_at": _local_day(5, "08:00").replace(tzinfo=None).isoformat(),
            },
            headers=bearer(a.family_full),
        )
    said = {}
    week = [
        (6, "10:00", "今天去公園散步，天氣很好，好開心"),
        (5, "08:10", "我吃了"),
        (5, "15:00", "女兒美玲打電話來，說下個月要回來"),
        (4, "20:30", "晚上一個人吃飯，好孤單"),
        (3, "09:30", "我早上在廚房跌倒了，膝蓋好痛"),
        (2, "11:00", "孫子來看我，我們一起包水餃"),
        (1, "16:00", "下午看了連續劇，很好看"),
    ]
    for days_ago, clock, text in week:
        at = _local_day(days_ago, clock)
        if text == "我吃了":
            fire_due(app.state.engine, _local_day(5, "08:00").astimezone(UTC))
        with time_machine.travel(at, tick=False):
            reply = client.post(f"{api}/chat", json={"message": text}, headers=bearer(a.elder))
            assert reply.status_code == 200, reply.text
            said[text] = reply.json()
    # The next morning nobody answers the reminder: missed.
    fire_due(app.state.engine, _local_day(4, "08:00").astimezone(UTC))
    sweep(app.state.engine, _local_day(4, "09:01").astimezone(UTC))
    with time_machine.travel(_local_day(6, "12:00"), tick=False):
        fact = client.post(
            f"/v1/elders/{a.elder_id}/messages",
            json={"text": "我以前在糖廠當會計", "role": "elder"},
            headers=bearer(a.elder),
        ).json()
    from memory import db, facts
    from memory.access import elder_scope
    from memory.models import Message

    with db.session_scope(app.state.engine) as session:
        facts.remember_fact(
            session,
            elder_scope(session, a.elder_id),
            facts.FactDraft(kind="event", text="以前在糖廠當會計"),
            sources=[session.get(Message, fact["id"])],
            author=facts.COMPANION,
        )
    return said


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_family_dashboard_bar(server, browser, world):  # noqa: F811
    base, app = server
    hook = Hook()
    try:
        said = _seed_week(app, world, hook.url)
        fall = said["我早上在廚房跌倒了，膝蓋好痛"]
        assert fall["kind"] == "care"
        with Session(app.state.engine) as session:
            flags = session.exec(select(ConcernFlag).order_by(ConcernFlag.id)).all()
            urgent_note = session.exec(
                select(Notification).where(Notification.event == "concern.raised")
            ).first()
        assert {(f.kind, f.severity) for f in flags} == {
            ("loneliness", "warning"),
            ("fall", "urgent"),
            ("missed_medicine", "warning"),
        }
        # The fall was alerted at once: its webhook went out as soon as the scheduler ran.
        Scheduler(app.state.engine, holder="dash").sender.deliver_due(app.state.engine)
        assert any(b'"fall"' in body for _, body in hook.received)
        assert urgent_note is not None
    finally:
        hook.close()

    a = world.a
    page = browser.new_page(viewport={"width": 1200, "height": 1400})
    phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.goto(f"{base}/family#token={a.family_full}")
        page.wait_for_selector("body[data-ready=overview]")
        assert "#token" not in page.url
        digest = page.locator("#digest")
        assert "晚上一個人吃飯，好孤單" in page.locator("main").inner_text()
        digest.locator("a.src").first.click()  # the elder's own words behind a line
        assert digest.locator(".sources").first.is_visible()
        concerns = page.locator("#concerns").inner_text()
        assert "跌倒" in concerns and "寂寞" in concerns and "沒吃藥" in concerns
        assert page.locator("#concerns .badge.urgent").count() == 1
        assert "錯過 1" in page.locator("#adherence-total").inner_text()
        assert page.locator("#mood-chart rect").count() >= 5
        assert page.locator("#adherence-chart rect").count() >= 3
        page.screenshot(path=str(ARTIFACTS / "family-dashboard.png"), full_page=True)
        phone.goto(f"{base}/family#token={a.family_full}")
        phone.wait_for_selector("body[data-ready=overview]")
        phone.screenshot(path=str(ARTIFACTS / "family-dashboard-phone.png"), full_page=True)

        # Memories: approve the fact waiting for review.
        page.click("[data-tab=memories]")
        page.wait_for_selector("[data-fact]")
        page.click("[data-fact] [data-act=approve]")
        page.wait_for_function(
            "document.querySelector('[data-fact] .badge').textContent === '已確認'"
        )
        page.screenshot(path=str(ARTIFACTS / "family-memories.png"), full_page=True)

        # Reminders: a new one.
        page.click("[data-tab=reminders]")
        page.wait_for_selector("#r-add")
        page.fill("#r-title", "看牙醫")
        page.select_option("#r-kind", "appointment")
        later = datetime.now(TAIPEI) + timedelta(days=3)
        page.fill("#r-time", f"{later:%Y-%m-%d}T10:30")
        page.select_option("#r-repeat", "once")
        page.click("#r-add")
        page.wait_for_function("document.querySelector('#r-list').textContent.includes('看牙醫')")
        page.screenshot(path=str(ARTIFACTS / "family-reminders.png"), full_page=True)

        # Consent: the guardian revokes her grant; her next request is refused.
        guardian = browser.new_page(viewport={"width": 1200, "height": 900})
        guardian.goto(f"{base}/family#token={a.guardian}")
        guardian.wait_for_selector("body[data-ready=overview]")
        guardian.click("[data-tab=consent]")
        guardian.wait_for_selector("#grants")
        assert "林美華 family_full" in guardian.locator("#grants").inner_text()
        guardian.click(f"[data-account='{a.account_ids['family_full']}'] [data-act=revoke]")
        guardian.wait_for_function(
            f"!document.querySelector(\"[data-account='{a.account_ids['family_full']}']\")"
        )
        guardian.screenshot(path=str(ARTIFACTS / "family-consent.png"), full_page=True)
        page.click("[data-tab=overview]")
        page.wait_for_selector(".notice")
        assert "權限" in page.locator(".notice").first.inner_text()
        assert page.locator("#digest").count() == 0
        page.screenshot(path=str(ARTIFACTS / "family-revoked.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "family-dashboard-failure.png"), full_page=True)
        raise


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_without_digests_the_page_says_whom_to_ask_and_an_old_link_has_expired(
    server,  # noqa: F811
    browser,  # noqa: F811
    world,
):
    base, app = server
    a = world.a
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{base}/family#token={a.family_reader}")
    page.select_option("#lang", "zh-Hant")
    page.wait_for_selector("body[data-ready=overview]")
    text = page.locator(".notice").first.inner_text()
    assert "看摘要與心情" in text and "林美華" in text and "監護人" in text
    page.screenshot(path=str(ARTIFACTS / "family-no-digests.png"))

    from memory import access, db

    with db.session_scope(app.state.engine) as session:
        access.revoke_token(session, None, access.token_by_secret(session, a.family_reader))
    page.goto("about:blank")  # a fresh load: the same address with a new fragment would not be
    page.goto(f"{base}/family#token={a.family_reader}")
    page.wait_for_selector("body[data-ready=expired]")
    assert (
        "失效" in page.locator(".notice").inner_text()
        or "expired" in page.locator(".notice").inner_text()
    )


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_grandchild_downloads_the_story_from_the_export_page(server, browser, world):  # noqa: F811
    from tests.companion.test_story import LIFE, _tell

    base, app = server
    a = world.a
    for life in LIFE:
        _tell(app.state.engine, a.elder_id, *life)
    client = TestClient(app)
    client.put(
        f"/v1/elders/{a.elder_id}/grants/{a.account_ids['creator']}",
        json={"scopes": ["story:export"], "story": {"since": "1960-01-01", "until": "1980-12-31"}},
        headers=bearer(a.guardian),
    )
    page = browser.new_page(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    page.goto(f"{base}/family#token={a.creator}")
    page.select_option("#lang", "zh-Hant")
    page.wait_for_selector("body[data-ready=story]")
    page.select_option("#s-format", "markdown")
    page.click("#s-go")
    with page.expect_download() as download:
        page.click("#s-download")
    text = download.value.path().read_text(encoding="utf-8")
    assert "民國五十七年我們從台南搬到台北" in text and "祕密" not in text
    page.screenshot(path=str(ARTIFACTS / "family-story-export.png"), full_page=True)

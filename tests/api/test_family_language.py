"""The family's dashboard opens in the elder's language when the family member has chosen
none, whatever their phone is set to; their own choice goes first."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.test_talk_page import ARTIFACTS, browser, server  # noqa: F401 - fixtures
from tests.conftest import bearer


def _opened_in(browser, base: str, token: str, phone: str) -> str:  # noqa: F811
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale=phone)
    page.goto(f"{base}/family#token={token}")
    page.wait_for_selector("body[data-ready]")
    page.screenshot(path=str(ARTIFACTS / f"family-language-{phone}.png"))
    chosen = page.locator("#lang").input_value()
    assert page.evaluate("document.documentElement.lang") == chosen
    page.close()
    return chosen


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_dashboard_opens_in_the_elders_language(server, browser, world):  # noqa: F811
    base, app = server
    client = TestClient(app)
    for token in (world.a.family_full, world.b.family_full):
        assert client.get("/v1/me", headers=bearer(token)).json()["account"]["language"] is None

    # 林美華 speaks Traditional Chinese; her family's phone is set to English.
    assert _opened_in(browser, base, world.a.family_full, "en-US") == "zh-Hant"
    # Margaret Lee speaks English; her family's phone is set to Chinese.
    assert _opened_in(browser, base, world.b.family_full, "zh-TW") == "en"

    # A language the family member chose for their account goes first.
    chose = client.patch(
        "/v1/me", json={"language": "zh-Hans"}, headers=bearer(world.a.family_full)
    )
    assert chose.status_code == 200, chose.text
    assert _opened_in(browser, base, world.a.family_full, "en-US") == "zh-Hans"

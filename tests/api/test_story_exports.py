"""The exports of an elder's story by address: a small export given in the reply can be
downloaded again, the elder reads every export of their own story, and an address that cannot
answer yet says why."""

from __future__ import annotations

from memory import db
from memory.models import StoryExportRun
from tests.conftest import bearer


def _export(client, household, role: str, fmt: str = "markdown"):
    response = client.post(
        f"/v1/elders/{household.elder_id}/story:export",
        json={"format": fmt},
        headers=bearer(getattr(household, role)),
    )
    assert response.status_code == 200, response.text
    return response


def test_a_small_export_can_be_downloaded_by_its_address(client, world):
    a = world.a
    given = _export(client, a, "creator")
    download = given.headers["content-location"]
    assert download.endswith(f"/story-exports/{given.headers['x-zhian-export']}/download")
    again = client.get(download, headers=bearer(a.creator))
    assert again.status_code == 200, again.text
    assert again.text == given.text and again.headers["content-type"].startswith("text/markdown")
    listed = client.get(f"/v1/elders/{a.elder_id}/story-exports", headers=bearer(a.elder)).json()
    assert listed[0]["status"] == "done" and listed[0]["download"] == download


def test_the_elder_reads_every_export_of_their_own_story(client, world):
    a = world.a
    own = _export(client, a, "elder", fmt="json")
    assert own.json()["version"] == "zhian.story/2"
    by_creator = _export(client, a, "creator").headers["content-location"]
    status = by_creator.removesuffix("/download")
    assert client.get(status, headers=bearer(a.elder)).status_code == 200
    assert client.get(by_creator, headers=bearer(a.elder)).status_code == 200
    # Family members read only their own.
    refused = client.get(by_creator, headers=bearer(a.family_full))
    assert refused.status_code == 403 and "someone else" in refused.json()["message"]


def test_an_export_that_cannot_be_downloaded_says_why(client, engine, world):
    a = world.a
    with db.session_scope(engine) as session:
        runs = {}
        for state, error in (("running", None), ("failed", "ValueError: no memories")):
            run = StoryExportRun(
                elder_id=a.elder_id,
                account_id=a.account_ids["creator"],
                account_name="creator",
                filters={},
                format="json",
                status=state,
                progress=0.4,
                error=error,
            )
            session.add(run)
            session.flush()
            runs[state] = run.id
    base = f"/v1/elders/{a.elder_id}/story-exports"
    running = client.get(f"{base}/{runs['running']}/download", headers=bearer(a.creator))
    assert running.status_code == 409 and "still running (40%)" in running.json()["message"]
    assert f"{base}/{runs['running']}" in running.json()["message"]
    failed = client.get(f"{base}/{runs['failed']}/download", headers=bearer(a.creator))
    assert failed.status_code == 409 and "no memories" in failed.json()["message"]
    assert "export again" in failed.json()["message"]

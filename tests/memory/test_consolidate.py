"""Nightly consolidation: the elder's profile from confirmed facts (given to the companion in
every prompt), and a summary of each day."""

from __future__ import annotations

from datetime import date

from langchain_core.language_models import FakeListChatModel

from memory import db, facts
from memory.access import caller_for, elder_account, elder_scope, resolve_scope
from memory.consolidate import PROFILE_CHARS, build_profile, summarise_day
from memory.models import DaySummary
from tests.conftest import bearer


def _fact(client, household, token, **body) -> int:
    r = client.post(f"/v1/elders/{household.elder_id}/facts", json=body, headers=bearer(token))
    assert r.status_code == 201, r.text
    return r.json()["fact"]["id"]


def test_the_profile_holds_confirmed_facts_only(client, engine, world):
    a = world.a
    _fact(
        client,
        a,
        a.family_full,
        type="relationship",
        text="女兒美玲每個星期天來看她",
        subject="美玲",
    )
    _fact(client, a, a.family_full, type="preference", text="最喜歡吃虱目魚粥")
    _fact(client, a, a.family_full, type="event", text="先生志明十年前過世", sensitive=True)
    old = _fact(
        client, a, a.family_full, type="place", text="住在台南", attribute="lives_in", value="台南"
    )
    _fact(
        client, a, a.family_full, type="place", text="住在台北", attribute="lives_in", value="台北"
    )
    with db.session_scope(engine) as session:
        scope = resolve_scope(session, caller_for(elder_account(session, a.elder_id)), a.elder_id)
        unconfirmed = facts.remember_fact(
            session,
            scope,
            facts.FactDraft(kind="routine", text="每天早上打太極拳"),
            sources=[],
            author=facts.COMPANION,
        ).fact.id
        profile = build_profile(session, elder_scope(session, a.elder_id))
        sections, used = profile.sections, profile.fact_ids
    assert sections["people"] == ["女兒美玲每個星期天來看她"]
    assert sections["likes"] == ["最喜歡吃虱目魚粥"]
    assert sections["places"] == ["住在台北"]  # not the retired address
    assert old not in used and unconfirmed not in used
    assert "先生志明十年前過世" not in str(sections)  # sensitive: not raised unasked
    assert "routines" not in sections


def test_the_profile_keeps_to_its_budget_across_sections(client, engine, world):
    a = world.a
    for i in range(40):
        _fact(
            client, a, a.family_full, type="preference", text=f"喜歡第{i}種花，特別是春天開的那種花"
        )
    _fact(client, a, a.family_full, type="place", text="老家在嘉義")
    with db.session_scope(engine) as session:
        sections = build_profile(session, elder_scope(session, a.elder_id)).sections
    assert sum(len(t) for texts in sections.values() for t in texts) <= PROFILE_CHARS
    assert sections["places"] == ["老家在嘉義"]  # one long list does not crowd out the rest


def test_a_day_is_summarised_by_the_model_or_from_the_elders_words(client, engine, world):
    a = world.a
    for text, at in (
        ("我今天去公園散步", "2026-11-20T09:00:00"),
        ("中午吃了虱目魚粥", "2026-11-20T12:30:00"),
    ):
        r = client.post(
            f"/v1/elders/{a.elder_id}/messages",
            json={"text": text, "said_at": at},
            headers=bearer(a.elder),
        )
        assert r.status_code == 201
    with db.session_scope(engine) as session:
        written = summarise_day(
            session,
            elder_scope(session, a.elder_id),
            date(2026, 11, 20),
            FakeListChatModel(responses=["她去公園散步，中午吃了虱目魚粥。"]),
        )
        assert written.written_by == "model" and written.text == "她去公園散步，中午吃了虱目魚粥。"
        assert len(written.message_ids) == 2
        plain = summarise_day(session, elder_scope(session, a.elder_id), date(2026, 11, 20), None)
        assert plain.written_by == "extract" and "我今天去公園散步" in plain.text
        assert plain.id == written.id  # one summary per day, rewritten
        assert (
            summarise_day(session, elder_scope(session, a.elder_id), date(2026, 11, 21), None)
            is None
        )
        assert len(list(session.exec(__import__("sqlmodel").select(DaySummary)))) == 1

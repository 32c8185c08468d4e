"""Who said a memory is searchable: a question naming someone finds their own words first, in
three languages; the words family use for the elder find the elder's turns; an old turn
holding every word of the question is not buried under recent ones. Real e5-small, SQLite +
embedded Chroma and PostgreSQL + a Chroma server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from memory.db import session_scope
from memory.indexer import drain
from memory.models import Account
from tests.conftest import World, bearer


def _import(client, world: World, turns: list[tuple[str, str, str]], *, elder: str = "a") -> None:
    """(role, speaker, text) turns, one minute apart, ending a week ago."""
    household = getattr(world, elder)
    start = datetime.now(UTC) - timedelta(days=7, minutes=len(turns))
    body = {
        "messages": [
            {
                "text": text,
                "role": role,
                "speaker": speaker,
                "said_at": (start + timedelta(minutes=n)).isoformat(),
                "external_id": f"t{n}",
            }
            for n, (role, speaker, text) in enumerate(turns)
        ]
    }
    r = client.post(
        f"/v1/elders/{household.elder_id}/messages:import", json=body, headers=bearer(world.admin)
    )
    assert r.status_code == 200, r.text


def _search(client, world: World, query: str, *, token: str, elder: str = "a", k: int = 5):
    household = getattr(world, elder)
    r = client.post(
        f"/v1/elders/{household.elder_id}/memories:search",
        json={"query": query, "k": k},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    return r.json()["results"]


# Two people talking: the other speaker's turns repeat the name and the topic; only one turn
# is the named person's own account of it.
CHATS = {
    "en": (
        [
            ("other", "Caroline", "Hey Mel! Good to see you. How have you been?"),
            ("other", "Melanie", "Hi Caroline! Busy with the kids. What's new with you?"),
            ("other", "Caroline", "I went to a support group yesterday and it was so powerful."),
            (
                "other",
                "Melanie",
                "Wow Caroline, a support group! That's awesome, I'm proud of you.",
            ),
            ("other", "Melanie", "Caroline, tell me more about the support group sometime!"),
            ("other", "Caroline", "Thanks Mel. I'm thinking about counseling as a career."),
            ("other", "Melanie", "Caroline, you would be great at that. Support groups need you."),
            ("other", "Melanie", "I painted a lake sunrise last week, it was relaxing."),
        ],
        "When did Caroline go to the support group?",
        "I went to a support group yesterday",
    ),
    "zh-Hant": (
        [
            ("other", "美玲", "阿雄，好久不見，最近怎麼樣？"),
            ("other", "阿雄", "美玲你好！我最近都在忙孫子的事。"),
            ("other", "美玲", "我上禮拜去社區大學報名了書法班，每週三上課。"),
            ("other", "阿雄", "美玲，書法班很好啊！你上書法班一定很開心。"),
            ("other", "阿雄", "美玲，下次書法班的作品給我看看。"),
            ("other", "美玲", "好啊，我還想去學二胡。"),
            ("other", "阿雄", "美玲真厲害，書法班和二胡都學。"),
            ("other", "阿雄", "我昨天去爬山，山上很涼快。"),
        ],
        "美玲什麼時候去報名書法班？",
        "我上禮拜去社區大學報名了書法班",
    ),
    "zh-Hans": (
        [
            ("other", "小芳", "老王，最近身体怎么样？"),
            ("other", "老王", "小芳，我挺好的，你呢？"),
            ("other", "小芳", "我前天去医院做了体检，医生说血压正常。"),
            ("other", "老王", "小芳，体检结果好就好，医院人多吗？"),
            ("other", "老王", "小芳，下次去医院体检叫上我。"),
            ("other", "小芳", "好的，我们一起去。"),
            ("other", "老王", "小芳你要按时去医院体检啊。"),
            ("other", "老王", "我今天去公园打太极拳了。"),
        ],
        "小芳什么时候去医院体检？",
        "我前天去医院做了体检",
    ),
}


@pytest.mark.parametrize("language", list(CHATS))
def test_a_named_person_s_own_turn_outranks_turns_that_address_them(
    search_client, world, engine, vector_index, language
):
    turns, question, own = CHATS[language]
    _import(search_client, world, turns)
    drain(engine, vector_index)
    hits = _search(search_client, world, question, token=world.a.elder)
    assert own in hits[0]["text"], [h["text"] for h in hits]
    assert hits[0]["speaker"] == turns[2][1]


def _relation(engine, account_id: str, relation: str) -> None:
    with session_scope(engine) as session:
        session.execute(
            sa.update(Account).where(Account.id == account_id).values(relation=relation)
        )


@pytest.mark.parametrize(
    ("elder", "relation", "turns", "question", "own"),
    [
        (
            "a",
            "女兒",
            [
                ("elder", None, "我年輕的時候在紡織廠工作，每天站十個小時"),
                ("family", "林美華 family_full", "媽媽今天在公園散步，心情很好"),
                ("family", "林美華 family_full", "媽媽以前的工作很辛苦，我們都知道"),
                ("family", "林美華 family_full", "媽媽說工作的事情不想再提了"),
            ],
            "媽媽年輕時做什麼工作？",
            "紡織廠",
        ),
        (
            "b",
            "granddaughter",
            [
                ("elder", None, "Every Christmas I cooked a roast goose with chestnut stuffing."),
                ("family", "Margaret Lee family_full", "Grandma loved Christmas so much."),
                ("family", "Margaret Lee family_full", "We asked Grandma about Christmas dinner."),
                ("family", "Margaret Lee family_full", "Grandma, what should we cook this year?"),
            ],
            "What did Grandma cook at Christmas?",
            "roast goose",
        ),
    ],
)
def test_the_words_family_use_for_the_elder_find_the_elder_s_turns(
    search_client, world, engine, vector_index, elder, relation, turns, question, own
):
    household = getattr(world, elder)
    _relation(engine, household.account_ids["family_full"], relation)
    _import(search_client, world, turns, elder=elder)
    drain(engine, vector_index)
    hits = _search(search_client, world, question, token=household.family_full, elder=elder)
    assert own in hits[0]["text"], [h["text"] for h in hits]
    assert hits[0]["role"] == "elder"


# A turn from four months ago holds every word of the question; the recent ones say much the
# same in other words, close to it for the dense side, each with a word or two of it.
OLD_AND_RECENT = [
    (
        "Four months ago I finally went to an LGBTQ support group at the community center "
        "downtown, and the stories people told there were so inspiring.",
        [
            "The support group was nice.",
            "Our LGBTQ group met today.",
            "LGBTQ support matters to me.",
            "Group support helps a lot.",
            "The LGBTQ group is growing.",
            "I need support from my group.",
        ],
        "LGBTQ support group",
    ),
    (
        "我們以前常去淡水老街吃阿給和魚丸湯",
        [
            "今天去淡水看夕陽，風很大",
            "老街上人好多，走得好累",
            "晚餐吃了魚丸，味道普通",
            "淡水的捷運站好擠",
            "女兒說下次帶我去老街逛逛",
            "今天喝了一碗湯，暖暖的",
        ],
        "淡水老街的阿給和魚丸湯",
    ),
]


@pytest.mark.parametrize(("old", "recent", "question"), OLD_AND_RECENT)
def test_an_old_turn_with_every_word_beats_recent_near_misses(
    search_client, world, engine, vector_index, old, recent, question
):
    now = datetime.now(UTC)
    turns = [(old, now - timedelta(days=120))]
    turns += [(text, now - timedelta(days=1, minutes=n)) for n, text in enumerate(recent)]
    for n, (text, said_at) in enumerate(turns):
        r = search_client.post(
            f"/v1/elders/{world.a.elder_id}/messages",
            json={
                "text": text,
                "said_at": said_at.isoformat(),
                "role": "elder",
                "external_id": f"o{n}",
            },
            headers=bearer(world.admin),
        )
        assert r.status_code == 201, r.text
    drain(engine, vector_index)
    hits = _search(search_client, world, question, token=world.a.elder)
    assert hits[0]["text"] == old, [h["text"] for h in hits]

"""Falls and talk of ending one's life, said in words no list foresaw, reach the family at once
(one webhook call), through the chat and the messages API; prices that fall, "fell asleep" and
idioms raise nothing; an uncertain reading is marked as such; a message that only makes sense
with the ones before it is read with them."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from sqlmodel import Session, select

from companion.alerts.outbox import Sender
from companion.signals import hear
from memory.models import ConcernFlag, MessageSignal, Notification
from tests.conftest import bearer

URGENT = [
    ("I don't see the point of going on anymore.", "self_harm"),
    ("I've been thinking it would be easier for everyone if I just wasn't here.", "self_harm"),
    ("I keep all my pills in one jar in case I decide to end it.", "self_harm"),
    ("我已经写好遗书了，就是不知道什么时候走。", "self_harm"),
    ("老伴走了以后，我觉得自己也该去找他了，早点结束算了。", "self_harm"),
    ("我把安眠藥都存起來了，想一次吃掉算了。", "self_harm"),
    ("早上晕了一下，一头栽在地上，额头流血了。", "fall"),
]
NOT_URGENT = [
    "股票跌倒谷底了",
    "菜价又跌了，买了好多白菜。",
    "I fell asleep in my chair watching the news.",
]
HELP_LINES = ("1925", "12356", "988", "119", "120", "emergency")


class Hook:
    """The family's webhook receiver: keeps what it is sent and answers 200."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/zhian"


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.server.shutdown()


def _family_hook(client, household, hook: Hook) -> None:
    r = client.post(
        f"/v1/elders/{household.elder_id}/webhooks",
        json={"url": hook.url, "events": ["concern.raised"]},
        headers=bearer(household.family_full),
    )
    assert r.status_code == 201, r.text


def _concerns(client, household) -> list[dict]:
    r = client.get(
        f"/v1/elders/{household.elder_id}/concerns", headers=bearer(household.family_full)
    )
    assert r.status_code == 200, r.text
    return r.json()


def _told(engine, hook: Hook) -> list[dict]:
    sender = Sender(allow_private=True)
    try:
        sender.deliver_due(engine)
    finally:
        sender.close()
    return [body["concern"] for body in hook.received if "concern" in body]


@pytest.mark.parametrize(("words", "kind"), URGENT)
def test_urgent_words_no_list_foresaw_reach_the_family_at_once(
    client, engine, world, hook, words, kind
):
    by_api, by_chat = world.a, world.b  # a new elder for each way in
    for household in (by_api, by_chat):
        _family_hook(client, household, hook)
    r = client.post(
        f"/v1/elders/{by_api.elder_id}/messages",
        json={"text": words, "role": "elder"},
        headers=bearer(by_api.guardian),
    )
    assert r.status_code == 201, r.text
    chat = client.post(
        f"/v1/elders/{by_chat.elder_id}/chat",
        json={"message": words},
        headers=bearer(by_chat.elder),
    )
    assert chat.status_code == 200, chat.text
    reply = chat.json()
    assert reply["kind"] == "care" and any(line in reply["reply"] for line in HELP_LINES)
    for household in (by_api, by_chat):
        urgent = [c for c in _concerns(client, household) if c["severity"] == "urgent"]
        assert [c["kind"] for c in urgent] == [kind], urgent
        assert words in urgent[0]["summary"]  # the words that caused it
    told = _told(engine, hook)
    assert sorted(c["kind"] for c in told if c["severity"] == "urgent") == [kind, kind]  # once each
    assert _told(engine, hook) == told  # and not again


@pytest.mark.parametrize("words", NOT_URGENT)
def test_prices_that_fall_and_falling_asleep_raise_nothing_urgent(
    client, engine, world, hook, words
):
    household = world.a
    _family_hook(client, household, hook)
    r = client.post(
        f"/v1/elders/{household.elder_id}/messages",
        json={"text": words, "role": "elder"},
        headers=bearer(household.guardian),
    )
    assert r.status_code == 201, r.text
    chat = client.post(
        f"/v1/elders/{world.b.elder_id}/chat",
        json={"message": words},
        headers=bearer(world.b.elder),
    )
    assert chat.status_code == 200 and chat.json()["kind"] != "care"
    assert not [c for c in _concerns(client, household) if c["severity"] == "urgent"]
    assert not [c for c in _told(engine, hook) if c["severity"] == "urgent"]


@pytest.mark.parametrize(
    "words",
    [
        "笑死了，孫子講的笑話太好笑",
        "熱死了，今天三十六度",
        "I'm dying to see my grandson",
        "我老伴昨天在浴室跌倒了，我好擔心他",
        "I fell and broke my hip when I was sixty, but I'm fine now",
        "電影裡的主角最後跳樓了",
        "I'm so scared of falling on the ice",
        "我沒有跌倒，只是坐下來休息",
    ],
)
def test_idioms_others_long_ago_films_fears_and_negations_are_not_urgent(words):
    assert not hear(words).urgent


def test_an_uncertain_reading_of_self_harm_is_raised_at_once_and_marked(client, engine, world):
    a = world.a
    client.post(
        f"/v1/elders/{a.elder_id}/webhooks",
        json={"url": "http://127.0.0.1:9/hook"},
        headers=bearer(a.family_full),
    )
    with time_machine.travel(datetime(2026, 11, 25, 15, 30, tzinfo=UTC), tick=False):  # 23:30
        reply = client.post(
            f"/v1/elders/{a.elder_id}/chat",
            json={"message": "我去五金行買了一條粗繩子"},
            headers=bearer(a.elder),
        ).json()
    assert reply["kind"] == "care" and "1925" in reply["reply"]  # never a breezy answer
    with Session(engine) as session:
        flag = session.exec(select(ConcernFlag)).one()
        note = session.exec(select(Notification)).one()
    assert (flag.kind, flag.severity) == ("self_harm", "urgent")
    assert "不確定" in flag.summary and "我去五金行買了一條粗繩子" in flag.summary
    assert note.next_attempt_at <= datetime(2026, 11, 25, 15, 30, tzinfo=UTC)  # quiet hours or not


def test_a_message_is_read_with_the_ones_before_it(client, engine, world):
    a = world.a
    last = "我覺得沒有什麼好留戀的了"
    assert not hear(last).urgent  # alone, too faint
    said = ["老伴走了以後，家裡好安靜", "孩子也不常回來", last]
    ids = []
    for text in said:
        r = client.post(
            f"/v1/elders/{a.elder_id}/messages",
            json={"text": text, "role": "elder"},
            headers=bearer(a.guardian),
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    flags = [c for c in _concerns(client, a) if c["kind"] == "self_harm"]
    assert [f["message_id"] for f in flags] == [ids[-1]]
    assert "前面幾句話" in flags[0]["summary"] and last in flags[0]["summary"]
    with Session(engine) as session:
        assert session.get(MessageSignal, ids[-1]).by == "rules+meaning"
    calm = hear(last, earlier=["今天去公園散步", "花開得好漂亮"])
    assert not calm.urgent  # after untroubled words it stays faint


@pytest.mark.parametrize(
    ("household", "said"),
    [
        (
            "b",
            [
                "My husband Frank passed away last spring. The house feels so quiet now.",
                "I worked as a librarian in Albany for twenty-five years.",
                "My daughter Susan calls me every Sunday night.",
            ],
        ),
        ("a", ["今天腰特别疼，弯不下去。", "我儿子小军在深圳开饭馆。"]),
        ("a", ["我每天傍晚都會去河堤散步"]),
    ],
)
def test_ordinary_life_after_sad_words_is_not_talk_of_ending_it(client, world, household, said):
    """Told to a running service: after grief or pain, what the elder goes on to tell of their
    work and family raised the crisis answer and an urgent flag."""
    elder = getattr(world, household)
    for text in said:
        r = client.post(
            f"/v1/elders/{elder.elder_id}/messages",
            json={"text": text, "role": "elder"},
            headers=bearer(elder.guardian),
        )
        assert r.status_code == 201, r.text
    assert [c for c in _concerns(client, elder) if c["severity"] == "urgent"] == []


@pytest.mark.parametrize(
    "question",
    [
        "What did I do for work?",
        "我以前是做什麼的？",
        "我以前在哪里上班？",
        "Where did I go to high school?",
    ],
)
def test_a_question_about_ones_own_past_is_not_confusion(question):
    """Asking 智安 about one's past is what it is for: it told the family the elder was
    confused every time."""
    assert hear(question).concerns == []


def test_a_request_for_a_medicine_reminder_is_not_talk_of_ending_it():
    assert hear("提醒我晚上十一點吃藥").concerns == []
    assert hear("Remind me to take my pills at nine tonight").concerns == []
    # A request beside words of ending it is still heard.
    assert "self_harm" in hear("我把安眠藥都存起來了，提醒我哪天一次吃掉").concerns


@pytest.mark.parametrize(
    ("words", "kind"),
    [
        # A place holding a "thing" word (菜市场: 市) does not make a faint a price's fall.
        ("刚才在菜市场突然晕倒了，膝盖都磕破了。", "fall"),
        ("我在超市门口摔了一跤，起不来", "fall"),
        # Means counted out, "enough".
        ("I've been counting my sleeping tablets, there's enough now.", "self_harm"),
        # What one is still here for, a painless method, poison by the bed.
        ("孩子都大了，我一個人留著幹什麼", "self_harm"),
        ("我在想哪種方法比較不會痛", "self_harm"),
        ("我把老鼠藥拿出來放在床頭", "self_harm"),
        ("What am I still alive for, tell me that", "self_harm"),
        ("I looked up the least painful way to go", "self_harm"),
        ("The rat poison is under my pillow now", "self_harm"),
        # Collapses, a bump that puts one on the ground, rolling out of bed.
        ("我頭一暈就倒下了", "fall"),
        ("剛才被腳踏車撞了一下，摔在地上", "fall"),
        ("I rolled out of bed in the night and couldn't move", "fall"),
        ("I landed flat on my back on the patio", "fall"),
    ],
)
def test_urgent_words_of_each_kind_are_heard(words, kind):
    assert kind in hear(words).urgent


@pytest.mark.parametrize(
    "words",
    [
        "菜市场的菜价又跌了",
        "I counted my tablets, there are enough for the trip.",
        "I counted my pills and I have enough for the week.",
        "I'm sitting on the rug folding the washing, I'll get up when I'm done",
        "Mrs Chen down the road fell off a ladder last week",
        "我坐在地上整理舊照片，整理完就起來",
    ],
)
def test_prices_pills_for_a_trip_the_floor_by_choice_and_a_neighbours_fall_are_not_urgent(words):
    assert not hear(words).urgent


@pytest.mark.parametrize(
    "words",
    [
        "Thanks love, I'll talk to you tomorrow.",
        "謝謝你陪我聊天。",
        "谢谢你啊",
        "我很擔心志明，他好久沒打電話回來了。",
        "Who do I play bridge with?",
        "If I won the lottery I'd buy a cottage by the sea.",
    ],
)
def test_everyday_thanks_goodbyes_and_news_are_never_urgent(words):
    """Each of these once sent the family an urgent alert: an elder says them every day."""
    assert not hear(words).urgent


@pytest.mark.parametrize(
    "words",
    [
        "Ended up on the kitchen lino this morning and it took me an hour to get myself up.",
        "腳一軟就坐在浴室地上，到現在還起不來",
    ],
)
def test_a_fall_told_in_none_of_the_usual_words_is_heard(words):
    assert "fall" in hear(words).urgent

"""A conversation turn through the API: recall with sources, the grounding gate, 'how do you
know', the reply's language, and what happens when the model is resting."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from companion.persona import voice
from tests.companion.conftest import RestingModel, StumblingModel, script
from tests.conftest import bearer

# (language, the fact told, the question about it, a word the answer must hold,
#  a question about something never told, the "how do you know" question)
CASES = [
    (
        "zh-Hant",
        "我女兒叫美玲,她每個星期天來看我。",
        "誰星期天來看我?",
        "美玲",
        "我哥哥叫什麼名字?",
        "你怎麼知道的?",
    ),
    (
        "zh-Hans",
        "我儿子叫建国,他在上海开餐馆。",
        "我儿子在哪里开餐馆?",
        "上海",
        "我姐姐住在哪里?",
        "你怎么知道的?",
    ),
    (
        "en",
        "My daughter Susan lives in Leeds and phones me every Friday.",
        "Who phones me every Friday?",
        "Susan",
        "What was my brother's name?",
        "How do you know that?",
    ),
]


def _say(client, household, text: str, **extra) -> dict:
    response = client.post(
        f"/v1/elders/{household.elder_id}/chat",
        json={"message": text, **extra},
        headers=bearer(household.elder),
    )
    assert response.status_code == 200, response.text
    return response.json()


def _memory_of(client, household, message_id: int) -> int:
    found = client.post(
        f"/v1/elders/{household.elder_id}/memories:search",
        json={"query": "x", "k": 100},
        headers=bearer(household.elder),
    )
    assert found.status_code == 200
    messages = client.get(
        f"/v1/elders/{household.elder_id}/messages", headers=bearer(household.elder)
    ).json()["items"]
    assert any(m["id"] == message_id for m in messages)
    from memory import db, store
    from memory.access import caller_for, elder_account, resolve_scope

    app = client.app
    with db.session_scope(app.state.engine) as session:
        elder = caller_for(elder_account(session, household.elder_id))
        scope = resolve_scope(session, elder, household.elder_id)
        memories = store.memories_from_message(session, scope, message_id)
        return memories[0].id


@pytest.mark.parametrize(("language", "fact", "question", "answer_word", "absent", "how"), CASES)
def test_a_fact_in_memory_is_recalled_with_its_source(
    chat_app, world, language, fact, question, answer_word, absent, how
):
    client, app = chat_app
    household = world.b if language == "en" else world.a
    model = script(app, "OK.", f"{answer_word}。" if language != "en" else f"{answer_word} does.")
    told = _say(client, household, fact)
    memory_id = _memory_of(client, household, told["message_id"])

    answer = _say(client, household, question)
    assert answer["kind"] == "answer"
    assert answer["language"] == language
    assert answer_word in answer["reply"]
    assert memory_id in answer["used_memory_ids"]
    assert answer["used_memories"][0]["message_ids"] == [told["message_id"]]
    # The model was shown the memory with its id, and the persona first.
    prompt = model.prompts[-1]
    assert prompt[0].content == voice(language).persona
    assert f"[{memory_id}]" in prompt[-2].content
    assert prompt[-1].content == question

    # Asked how it knows: the date it was said and the very words, not the model.
    calls = len(model.prompts)
    source = _say(client, household, how)
    assert source["kind"] == "source"
    assert fact in source["reply"]
    said_on = datetime.now(ZoneInfo("Asia/Taipei")).date()
    assert voice(language).date(said_on) in source["reply"]
    assert source["used_memory_ids"] == [memory_id]
    assert [m["message_ids"] for m in source["used_memories"]] == [[told["message_id"]]]
    assert len(model.prompts) == calls


@pytest.mark.parametrize(("language", "fact", "question", "answer_word", "absent", "how"), CASES)
def test_a_question_about_an_untold_past_gets_the_gate_not_the_model(
    chat_app, world, language, fact, question, answer_word, absent, how
):
    client, app = chat_app
    household = world.b if language == "en" else world.a
    model = script(app, "OK.", "Your brother was called David, 大明, 在台南.")
    _say(client, household, fact)
    calls = len(model.prompts)

    gated = _say(client, household, absent)
    assert gated["kind"] == "not_known"
    assert gated["reply"] == voice(language).say("not_known")
    assert gated["used_memory_ids"] == []
    assert len(model.prompts) == calls  # the model was never asked
    for invented in ("David", "大明", "台南"):
        assert invented not in gated["reply"]


def test_small_talk_goes_to_the_model_even_with_nothing_in_memory(chat_app, world):
    client, app = chat_app
    model = script(app, "今天天氣真好。我們去公園走走好嗎?")
    reply = _say(client, world.a, "今天天氣很好")
    assert reply["kind"] == "answer"
    assert reply["reply"] == "今天天氣真好。我們去公園走走好嗎?"
    assert len(model.prompts) == 1


def test_the_reply_follows_the_script_the_elder_wrote_in(chat_app, world):
    client, app = chat_app
    script(app, "今天天氣真好。")  # Traditional from the model
    reply = _say(client, world.a, "今天天气很好")  # Simplified from the elder
    assert reply["language"] == "zh-Hans"
    assert reply["reply"] == "今天天气真好。"


def test_a_reply_that_would_make_the_elder_feel_forgetful_is_repaired(chat_app, world):
    client, app = chat_app
    script(app, "您還記得嗎?您喜歡安靜嗎?要不要打電話給家人?")
    reply = _say(client, world.a, "今天好安靜")
    assert "記得" not in reply["reply"]
    assert reply["reply"] == "您喜歡安靜嗎?"
    assert reply["repairs"]["forgetful_phrasing"] == 1
    assert reply["repairs"]["second_question"] == 1


def test_the_start_of_the_prompt_stays_the_same_from_turn_to_turn(chat_app, world):
    """The embedded model reuses what it has read: each prompt must begin with the previous
    one's persona and conversation, moving on only a few messages at a time."""
    client, app = chat_app
    model = script(app, "好的。")
    for i in range(12):
        _say(client, world.a, f"今天是第{i}次說話。")
    prompts = [[(m.type, m.content) for m in p] for p in model.prompts]
    reused = 0
    for before, after in zip(prompts, prompts[1:], strict=False):
        assert after[0] == before[0]  # the persona
        conversation_before = before[:-2]  # without the note and the words of that turn
        if after[: len(conversation_before)] == conversation_before:
            assert after[len(conversation_before) : len(conversation_before) + 2] == [
                ("human", before[-1][1]),
                ("ai", "好的。"),
            ]
            reused += 1
    assert reused >= 7  # of 11: the window moves on every other turn
    assert all(len(p) <= 1 + 8 + 2 for p in prompts)


def test_both_turns_are_kept_with_the_memories_the_reply_drew_on(chat_app, world):
    client, app = chat_app
    script(app, "好的。", "美玲每個星期天來看您。")
    told = _say(client, world.a, "我女兒叫美玲,她每個星期天來看我。")
    answer = _say(client, world.a, "誰星期天來看我?")
    items = client.get(
        f"/v1/elders/{world.a.elder_id}/messages", headers=bearer(world.a.elder)
    ).json()["items"]
    assert [(m["role"], m["text"]) for m in items] == [
        ("elder", "我女兒叫美玲,她每個星期天來看我。"),
        ("companion", "好的。"),
        ("elder", "誰星期天來看我?"),
        # The memory turned to face the elder, by code; the model's restatement is not repeated.
        ("companion", "您女兒叫美玲,她每個星期天來看您。"),
    ]
    assert answer["repairs"] == {"restates_memory": 1}
    assert items[3]["used_memory_ids"] == answer["used_memory_ids"]
    assert items[1]["used_memory_ids"] == []
    assert told["message_id"] == items[0]["id"]


def test_the_reply_streams_as_server_sent_events(chat_app, world):
    client, app = chat_app
    script(app, "您好。今天過得好嗎?")
    with client.stream(
        "POST",
        f"/v1/elders/{world.a.elder_id}/chat",
        json={"message": "你好", "stream": True},
        headers=bearer(world.a.elder),
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1][6:]))
        for block in body.strip().split("\n\n")
    ]
    assert [e for e, _ in events] == ["delta", "delta", "done"]
    assert "".join(d["text"] for e, d in events if e == "delta") == "您好。今天過得好嗎?"
    assert events[-1][1]["reply"] == "您好。今天過得好嗎?"
    assert events[-1][1]["reply_id"] > events[-1][1]["message_id"]


def test_when_the_model_is_resting_the_elder_hears_so_and_their_words_are_kept(chat_app, world):
    client, app = chat_app
    app.state.companion.model = RestingModel(responses=["x"])
    for household, sentence in (
        (world.a, "智安在休息一下，請稍後再試。"),
        (world.b, "Zhian is taking"),
    ):
        text = "今天好冷" if household is world.a else "It is cold today"
        response = client.post(
            f"/v1/elders/{household.elder_id}/chat",
            json={"message": text},
            headers=bearer(household.elder),
        )
        assert response.status_code == 503
        assert response.json()["error"] == "llm_unavailable"
        assert response.json()["message"].startswith(sentence)
        items = client.get(
            f"/v1/elders/{household.elder_id}/messages", headers=bearer(household.elder)
        ).json()["items"]
        assert [m["text"] for m in items] == [text]


def test_bad_messages_get_a_clear_answer(chat_app, world):
    client, app = chat_app
    url = f"/v1/elders/{world.a.elder_id}/chat"
    empty = client.post(url, json={"message": "   "}, headers=bearer(world.a.elder))
    assert empty.status_code == 422
    assert "empty" in empty.json()["message"]
    long = client.post(url, json={"message": "好" * 2001}, headers=bearer(world.a.elder))
    assert long.status_code == 413
    assert "2000" in long.json()["message"]


def test_only_the_elder_talks_with_their_companion(chat_app, world):
    client, app = chat_app
    script(app, "好的。")
    url = f"/v1/elders/{world.a.elder_id}/chat"
    for token, status in (
        (world.a.family_full, 403),
        (world.a.guardian, 403),
        (world.admin, 403),
        (world.b.elder, 404),
        ("zhian_nope_nope", 401),
    ):
        response = client.post(url, json={"message": "你好"}, headers=bearer(token))
        assert response.status_code == status, (token, response.text)
        assert response.json()["message"]


# --- OpenAI-compatible ----------------------------------------------------------------------


def test_an_openai_style_client_talks_with_the_elders_token(chat_app, world):
    client, app = chat_app
    script(app, "好的。", "美玲每個星期天來看您。")
    url = "/v1/chat/completions"
    first = client.post(
        url,
        json={
            "model": "zhian",
            "messages": [{"role": "user", "content": "我女兒叫美玲,她每個星期天來看我。"}],
        },
        headers=bearer(world.a.elder),
    )
    assert first.status_code == 200, first.text
    assert first.json()["choices"][0]["message"] == {"role": "assistant", "content": "好的。"}
    assert first.json()["object"] == "chat.completion"

    history = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "我女兒叫美玲,她每個星期天來看我。"},
        {"role": "assistant", "content": "好的。"},
        {"role": "user", "content": [{"type": "text", "text": "誰星期天來看我?"}]},
    ]
    with client.stream(
        "POST",
        url,
        json={"model": "zhian", "messages": history, "stream": True, "temperature": 0.7},
        headers=bearer(world.a.elder),
    ) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "zhian" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "您女兒叫美玲,她每個星期天來看您。"

    # Only the newest user message was stored: the client's copy of the history was not.
    items = client.get(
        f"/v1/elders/{world.a.elder_id}/messages", headers=bearer(world.a.elder)
    ).json()["items"]
    assert [m["text"] for m in items] == [
        "我女兒叫美玲,她每個星期天來看我。",
        "好的。",
        "誰星期天來看我?",
        "您女兒叫美玲,她每個星期天來看您。",
    ]
    assert items[3]["used_memory_ids"]

    models = client.get("/v1/models", headers=bearer(world.a.elder))
    assert [m["id"] for m in models.json()["data"]] == ["zhian"]


def test_openai_endpoint_refuses_other_tokens_and_bad_bodies(chat_app, world):
    client, app = chat_app
    script(app, "好的。")
    url = "/v1/chat/completions"
    body = {"model": "zhian", "messages": [{"role": "user", "content": "你好"}]}
    for token in (world.a.family_full, world.admin, world.a.creator):
        response = client.post(url, json=body, headers=bearer(token))
        assert response.status_code == 403
        assert "elder" in response.json()["message"]
    assert client.post(url, json=body).status_code == 401
    no_user = client.post(
        url,
        json={"model": "zhian", "messages": [{"role": "system", "content": "hi"}]},
        headers=bearer(world.a.elder),
    )
    assert no_user.status_code == 422
    assert "user" in no_user.json()["message"]
    empty = client.post(
        url,
        json={"model": "zhian", "messages": [{"role": "user", "content": ""}]},
        headers=bearer(world.a.elder),
    )
    assert empty.status_code == 422
    app.state.companion.model = RestingModel(responses=["x"])
    with client.stream(
        "POST", url, json=dict(body, stream=True), headers=bearer(world.a.elder)
    ) as r:
        assert r.status_code == 503


def test_a_model_that_stops_half_way_leaves_what_was_said(chat_app, world):
    client, app = chat_app
    app.state.companion.model = StumblingModel(responses=["x"])
    with client.stream(
        "POST",
        f"/v1/elders/{world.a.elder_id}/chat",
        json={"message": "今天天氣如何", "stream": True},
        headers=bearer(world.a.elder),
    ) as response:
        assert response.status_code == 200
        body = "".join(response.iter_text())
    events = [block.split("\n")[0].removeprefix("event: ") for block in body.strip().split("\n\n")]
    assert events == ["delta", "error", "done"]
    assert "智安在休息一下" in body
    items = client.get(
        f"/v1/elders/{world.a.elder_id}/messages", headers=bearer(world.a.elder)
    ).json()["items"]
    assert [m["text"] for m in items] == ["今天天氣如何", "今天天氣好。"]


@pytest.mark.parametrize(
    ("language", "fact", "question"),
    [
        ("zh-Hant", "我女兒叫美玲，她每個星期天來看我。", "我女兒住在哪裡？"),
        ("zh-Hant", "我的孫子叫小傑，今年讀小學三年級。", "我的外孫女叫什麼名字？"),
        ("zh-Hans", "我儿子叫建国，他在上海开餐馆。", "我儿子几岁了？"),
        ("zh-Hant", "我年輕的時候在台南的糖廠當會計。", "我年輕時住過高雄嗎？"),
        ("en", "My dog was called Rex.", "What was my cat called?"),
        ("en", "My daughter Susan lives in Leeds.", "What is my daughter's husband called?"),
        ("zh-Hant", "我弟弟叫阿明，住在高雄。", "我哥哥叫什麼名字？"),
        ("zh-Hant", "我小時候在屏東的香蕉園幫忙採香蕉。", "我當兵的時候在哪裡？"),
    ],
)
def test_a_memory_about_the_same_person_but_not_the_thing_asked_is_no_answer(
    chat_app, world, language, fact, question
):
    client, app = chat_app
    household = world.b if language == "en" else world.a
    model = script(app, "OK.")
    _say(client, household, fact)
    gated = _say(client, household, question)
    assert gated["kind"] == "not_known", gated
    assert len(model.prompts) == 1


def test_asking_the_same_question_twice_does_not_make_it_an_answer(chat_app, world):
    client, app = chat_app
    model = script(app, "好的。")
    for _ in range(3):
        gated = _say(client, world.a, "我哥哥叫什麼名字？")
        assert gated["kind"] == "not_known"
    assert model.prompts == []


def test_telling_and_asking_in_one_breath_is_not_gated(chat_app, world):
    client, app = chat_app
    model = script(app, "美玲真好。")
    reply = _say(client, world.a, "我女兒叫美玲，你記住了嗎？")
    assert reply["kind"] == "answer"
    assert len(model.prompts) == 1


def test_the_companion_is_given_the_profile(chat_app, engine, world):
    from memory import db
    from memory.access import elder_scope
    from memory.consolidate import build_profile

    client, app = chat_app
    a = world.a
    r = client.post(
        f"/v1/elders/{a.elder_id}/facts",
        json={"type": "relationship", "text": "女兒美玲每個星期天來看她"},
        headers=bearer(a.family_full),
    )
    assert r.status_code == 201
    with db.session_scope(engine) as session:
        build_profile(session, elder_scope(session, a.elder_id))
    model = script(app, "好的。")
    client.post(
        f"/v1/elders/{a.elder_id}/chat", json={"message": "今天好冷"}, headers=bearer(a.elder)
    )
    persona = model.prompts[-1][0].content
    assert "女兒美玲每個星期天來看她" in persona
    assert persona.index("關於長輩") > persona.index("智安")


# --- code decides what is said about the elder's life; the model only phrases ----------------


def _reply(client, app, household, text: str, *scripted: str) -> dict:
    script(app, *scripted)
    return _say(client, household, text)


def test_an_echoing_model_is_replaced_by_an_acknowledgement_in_the_second_person(chat_app, world):
    client, app = chat_app
    told = "今天早上我去公園散步，看到很多人在跳舞。"
    reply = _reply(client, app, world.a, told, told)
    assert reply["reply"] != told
    assert told not in reply["reply"]
    assert "您" in reply["reply"] and "公園散步" in reply["reply"]
    assert reply["repairs"]["echo"] == 1
    assert reply["repairs"]["replaced_by_template"] == 1


def test_grief_gets_words_of_care_and_the_model_never_misses_him_itself(chat_app, world):
    client, app = chat_app
    reply = _reply(
        client, app, world.a, "我先生阿德前年過世了，我常常想他。", "阿德前年過世了，我常常想他。"
    )
    assert "阿德" in reply["reply"] and "想念" in reply["reply"]
    assert "我常常想他" not in reply["reply"]
    assert reply["repairs"]["echo"] == 1


def test_grief_is_never_told_to_cheer_up(chat_app, world):
    client, app = chat_app
    reply = _reply(
        client, app, world.b, "My husband Tom passed away last spring.", "Cheer up, it will pass!"
    )
    assert "Tom" in reply["reply"] and "sorry" in reply["reply"]
    assert "Cheer up" not in reply["reply"]
    assert reply["repairs"]["cheer_up_after_loss"] == 1


def test_pain_gets_care_and_no_promise_of_physical_help(chat_app, world):
    client, app = chat_app
    reply = _reply(
        client,
        app,
        world.a,
        "今天膝蓋很痛，走路都不太舒服。",
        "我可以幫您做一些簡單的運動來舒緩疼痛。",
    )
    assert "膝蓋" in reply["reply"] and "辛苦" in reply["reply"]
    assert "幫您做" not in reply["reply"]
    assert reply["repairs"]["physical_promise"] == 1


@pytest.mark.parametrize(
    ("language", "fact", "question", "first_person", "facing"),
    [
        (
            "zh-Hant",
            "我禮拜二早上都去廟裡拜拜。",
            "我禮拜二早上都去哪裡？",
            "我禮拜二早上都去廟裡拜拜。",
            "您禮拜二早上都去廟裡拜拜。",
        ),
        (
            "zh-Hans",
            "我年轻时在东北的国营工厂当会计。",
            "我年轻时是做什么工作的？",
            "我年轻时在东北的国营工厂当会计。",
            "您年轻时在东北的国营工厂当会计。",
        ),
    ],
)
def test_recall_is_the_memory_turned_to_face_the_elder(
    chat_app, world, language, fact, question, first_person, facing
):
    client, app = chat_app
    household = world.b if language == "en" else world.a
    script(app, "OK.")
    _say(client, household, fact)
    reply = _reply(client, app, household, question, first_person)
    assert reply["kind"] == "answer", reply
    assert reply["reply"].startswith(facing)
    assert first_person not in reply["reply"]
    assert reply["used_memory_ids"]


def test_a_distorting_model_cannot_change_every_sunday_into_every_day(chat_app, world):
    client, app = chat_app
    script(app, "好的。")
    _say(client, world.a, "我女兒叫美玲，她每個星期天來看我。")
    reply = _reply(client, app, world.a, "誰星期天來看我？", "您的女兒美玲，每天都很來看您。")
    assert "每個星期天" in reply["reply"]
    assert "每天" not in reply["reply"]


def test_a_shared_memory_in_the_past_tense_is_not_taken_for_a_question(chat_app, world):
    client, app = chat_app
    reply = _reply(
        client,
        app,
        world.b,
        "When I was a girl we spent every summer at my aunt's cottage by the sea.",
        "What a lovely memory. What did you like best about the sea?",
    )
    assert reply["kind"] == "answer"
    assert reply["reply"] != voice("en").say("not_known")
    assert reply["reply"] == "What a lovely memory. What did you like best about the sea?"


@pytest.mark.parametrize(
    "told",
    ["我年輕的時候在台南的紡織廠做女工，那時候很辛苦。", "我先生叫阿雄，他三年前過世了。"],
)
def test_a_refusing_model_is_replaced(chat_app, world, told):
    client, app = chat_app
    reply = _reply(client, app, world.a, told, "很抱歉，我不能提供關於您的個人經歷的詳細信息。")
    assert "抱歉" not in reply["reply"] and "信息" not in reply["reply"]
    assert reply["repairs"]["refusal"] == 1
    assert "您" in reply["reply"]


def test_a_model_inventing_a_school_is_never_heard(chat_app, world):
    client, app = chat_app
    model = script(app, "您小學是讀台南市中正區的國立中正高中。")
    gated = _say(client, world.a, "我小學是讀哪一間？")
    assert gated["kind"] == "not_known"
    assert model.prompts == []  # the gate: the model was never asked
    # Told something else, a model that adds a school of its own is repaired.
    reply = _reply(
        client,
        app,
        world.a,
        "我喜歡種花，陽台有很多盆蘭花。",
        "您小學是讀台南市中正區的國立中正高中。您最喜歡什麼花呢？",
    )
    assert "中正" not in reply["reply"]
    assert reply["reply"] == "您最喜歡什麼花呢？"
    assert reply["repairs"]["invented_detail"] == 1


def test_the_elders_own_characters_survive_script_conversion(chat_app, world):
    client, app = chat_app
    script(app, "好的。")
    _say(client, world.a, "我以前最喜歡吃虱目魚粥。")
    reply = _reply(client, app, world.a, "我以前最喜歡吃什麼？", "虱目魚粥真好吃。")
    assert "虱目魚粥" in reply["reply"]
    assert "蝨" not in reply["reply"]


def test_repairs_are_counted_for_metrics(chat_app, world):
    from companion.style import repair_counts

    client, app = chat_app
    before = repair_counts().get("refusal", 0)
    _reply(
        client,
        app,
        world.b,
        "I baked bread with my grandson today.",
        "I'm sorry, but I can't help.",
    )
    assert repair_counts()["refusal"] == before + 1


def test_when_code_has_answered_a_resting_model_costs_nothing(chat_app, world):
    client, app = chat_app
    app.state.companion.model = RestingModel(responses=["x"])
    reply = _say(client, world.a, "今天膝蓋很痛。")
    assert "膝蓋" in reply["reply"]


def test_today_is_answered_from_the_calendar(chat_app, world):
    client, app = chat_app
    model = script(app, "今天是1999年1月1日。")
    reply = _say(client, world.a, "今天幾號？")
    today = datetime.now(ZoneInfo("Asia/Taipei")).date()
    assert voice("zh-Hant").date(today) in reply["reply"]
    assert model.prompts == []


def test_a_memory_about_the_daughter_does_not_answer_where_the_elder_lives(chat_app, world):
    client, app = chat_app
    script(app, "好的。")
    _say(client, world.a, "我女兒淑芬住在新竹，她每個月回來一次。")
    gated = _reply(client, app, world.a, "我住在哪裡？", "您住在新竹。")
    assert gated["kind"] == "not_known"
    who = _reply(client, app, world.a, "誰每個月回來一次？", "好的。")
    assert "淑芬" in who["reply"]


def test_the_gate_finds_a_job_held_by_its_value_and_the_answer_faces_the_elder(chat_app):
    """ "What was my job?" is held by "I was a nurse" (no word in common), and the answer is
    the memory turned to face the elder."""
    from companion.chat import _answering_part, _second_person
    from memory.models import Memory
    from memory.search import Hit

    _, app = chat_app
    companion = app.state.companion
    memory = Memory(
        elder_id="x",
        kind="turn",
        text="I was a nurse at St. Mary's hospital for forty years.",
        role="elder",
        said_at=datetime.now(ZoneInfo("UTC")),
    )
    hit = Hit(memory=memory, score=1.0, sources=[], similarity=0.81)
    assert companion._relevant("What was my job?", hit)
    assert companion._supports("What was my job?", hit)
    assert not companion._supports("What was my school?", hit)
    facing = _second_person(_answering_part(memory.text, "What was my job?"), "en")
    assert facing == "you were a nurse at St. Mary's hospital for forty years."


def test_the_gate_finds_a_sons_wife_in_what_the_elder_told(chat_app):
    """ "Who is Kevin married to?" is held by "…with his wife Siobhan": it was 'I don't know
    that yet'."""
    from memory.models import Memory
    from memory.search import Hit

    _, app = chat_app
    companion = app.state.companion
    memory = Memory(
        elder_id="x",
        kind="turn",
        text="My son Kevin lives in Boston with his wife Siobhan.",
        role="elder",
        said_at=datetime.now(ZoneInfo("UTC")),
    )
    hit = Hit(memory=memory, score=1.0, sources=[], similarity=0.84)
    assert companion._supports("Who is Kevin married to?", hit)
    assert not companion._supports("Where did Kevin go to school?", hit)

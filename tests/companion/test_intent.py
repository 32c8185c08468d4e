"""Which words ask about the elder's own past (the grounding gate guards those), and which ask
how the companion knows."""

from __future__ import annotations

import pytest

from companion.intent import (
    about_someone_else,
    asked_slots,
    asks_about_own_past,
    asks_how_known,
    names_in,
    slots_held,
)


@pytest.mark.parametrize(
    "text",
    [
        "我女兒叫什麼?",
        "我哥哥叫什麼名字?",
        "誰星期天來看我?",
        "我以前住在哪裡?",
        "我小時候養過狗嗎?",
        "我是在哪裡出生的?",
        "我女儿叫什么名字?",
        "我以前做什么工作?",
        "谁每个星期天来看我?",
        "What was my brother's name?",
        "Who visits me on Sundays?",
        "Where did I grow up?",
        "Did I have a dog when I was little?",
        "What's my daughter called?",
        "我住在哪裡？",
        "我幾歲了？",
        "我是誰？",
        "美玲是誰？",
        "我哪一年結婚的？",
        "我有幾個孩子？",
        "昨天誰來過？",
        "我媽叫啥名字",
        "告訴我我女兒的名字",
        "我爱人叫什么名字？",
        "咱家老大叫啥？",
        "我最喜歡吃什麼？",
        "Who is Susan?",
        "Tell me about my husband.",
        "Where did we go on honeymoon?",
        "What is my favourite food?",
        "Who do I play bridge with?",
    ],
)
def test_questions_about_the_elders_past(text):
    assert asks_about_own_past(text)


@pytest.mark.parametrize(
    "text",
    [
        "今天天氣很好",
        "我今天想吃麵",
        "你叫什麼名字?",
        "你好嗎?",
        "今天星期幾?",
        "我女兒今天要來。",
        "How are you today?",
        "It is raining again.",
        "What is the weather like?",
        "你怎麼知道的?",
        "What should I do?",
        "Who can help me?",
        "Where can I buy bread?",
        "Should I call my daughter?",
        "我能打電話給我兒子嗎？",
        "我女兒今天要來嗎？",
        "誰可以陪我去散步？",
        "我明天幾點看醫生？",
        "我女兒叫美玲，你記住了嗎？",
        "My daughter is Susan, did you know?",
    ],
)
def test_other_words_are_not(text):
    assert not asks_about_own_past(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你怎麼知道的?", True),
        ("您怎麼會知道?", True),
        ("你怎么知道的?", True),
        ("誰告訴你的?", True),
        ("How do you know that?", True),
        ("Who told you?", True),
        ("你是怎麼知道的？", True),
        ("你咋知道的？", True),
        ("誰說的？", True),
        ("你聽誰說的？", True),
        ("Who said that?", True),
        ("How would you know?", True),
        ("How do you know Susan?", False),
        ("我知道了", False),
        ("I know.", False),
    ],
)
def test_how_do_you_know(text, expected):
    assert asks_how_known(text) is expected


def test_each_person_a_question_names_counts_once_with_all_it_can_mean():
    from companion.intent import named_people

    assert len(named_people("What is my daughter's husband called?")) == 2
    assert len(named_people("我的外孫女叫什麼")) == 1  # not 孫女 and 外孫 besides
    [brother] = named_people("my brother Tom")
    [older] = named_people("我哥哥")
    assert older < brother  # "brother" may be 哥哥 or 弟弟; 哥哥 is only 哥哥


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("今天早上我去公園散步，看到很多人在跳舞。", "share"),
        ("我年輕的時候在台南的紡織廠做女工，那時候很辛苦。", "share"),
        ("When I was a girl we spent every summer at my aunt's cottage by the sea.", "share"),
        ("我孙子昨天考上大学了，全家都去吃饭庆祝。", "share"),
        ("孙子考上大学了，我好开心！", "feeling"),
        ("我先生阿德前年過世了，我常常想他。", "feeling"),
        ("My husband Tom passed away last spring.", "feeling"),
        ("我一个人在家，好寂寞。", "feeling"),
        ("今天膝蓋很痛，走路都不太舒服。", "unwell"),
        ("My back hurts this morning.", "unwell"),
        ("你好", "small_talk"),
        ("Good morning!", "small_talk"),
        ("我禮拜二早上都去哪裡？", "recall"),
        ("我小學是讀哪一間？", "recall"),
        ("What was my job?", "recall"),
        ("我當兵的時候在哪裡？", "recall"),
        ("誰每個月回來看我？", "recall"),
        ("你怎麼知道的？", "how_known"),
        ("今天幾號？", "today"),
        ("What's the weather like today?", "today"),
        ("提醒我明天下午三點去看醫生", "reminder_request"),
        ("Remind me to call Mary tomorrow at 3pm", "reminder_request"),
    ],
)
def test_each_turn_is_read_once_as_what_the_elder_is_doing(text, kind):
    from datetime import datetime

    from companion.intent import read_turn

    assert read_turn(text, datetime(2026, 3, 2, 10, 0)).kind == kind


def test_a_turn_reading_names_the_people_and_the_body_part_as_written():
    from companion.intent import read_turn

    grief = read_turn("我先生阿德前年過世了，我常常想他。")
    assert (grief.feeling, grief.names, grief.relation) == ("grief", ("阿德",), "先生")
    assert read_turn("今天膝蓋很痛").body_part == "膝蓋"
    assert read_turn("I miss my husband Tom so much.").names == ("Tom",)


@pytest.mark.parametrize(
    ("sentence", "grounds", "invented"),
    [
        ("您小學是讀台南市中正區的國立中正高中。", "我小學是讀哪一間？", True),
        ("您的女兒美玲每天來看您。", "我女兒叫美玲，她每個星期天來看我。", True),
        ("美玲每個星期天來看您。", "我女兒叫美玲，她每個星期天來看我。", False),
        ("您今天去公園散步，真好。", "今天早上我去公園散步。", False),
        ("Your son Peter lives in York.", "My daughter Susan lives in Leeds.", True),
        ("Susan phones you every Friday.", "Susan phones me every Friday.", False),
    ],
)
def test_details_a_reply_may_only_repeat(sentence, grounds, invented):
    from companion.intent import unsupported_details

    assert bool(unsupported_details(sentence, grounds)) is invented


@pytest.mark.parametrize(
    "question",
    [
        "What did I do for a living?",
        "What was my career?",
        "What line of work was I in?",
        "我以前是干哪行的？",
    ],
)
def test_asking_what_one_did_for_a_living_asks_for_the_job(question):
    assert "job" in asked_slots(question)


@pytest.mark.parametrize(
    ("memory", "someone_else"),
    [
        ("My wife Jean and I ran a bakery in Leeds for forty years.", False),
        ("我和老伴開了一家麵包店。", False),
        ("My son Peter is an engineer.", True),
        ("我女兒淑芬住在新竹", True),
    ],
)
def test_the_elder_and_someone_together_are_the_elder_too(memory, someone_else):
    assert about_someone_else(memory) is someone_else


def test_a_month_is_not_whom_the_elder_misses():
    assert names_in("I've been feeling a bit low since the dog died in October.") == []
    assert names_in("I still miss Tom, he died on a Sunday in March.") == ["Tom"]


@pytest.mark.parametrize(
    "memory",
    ["My son Kevin lives in Boston with his wife Siobhan.", "建国的媳妇叫小丽，是个中学老师。"],
)
def test_a_spouse_named_holds_a_marriage(memory):
    assert "marriage" in slots_held(memory)

"""What is never a fact, and what the rules read with no model, in three languages: each
example is one the bundled model once got wrong."""

from __future__ import annotations

import pytest

from memory.fact_checks import check_model_fact
from memory.fact_rules import People, extract_rules
from memory.utterance import Kind, classify, statement_text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("我兒子叫什麼名字？", Kind.question),
        ("我兒子叫什麼", Kind.question),
        ("我儿子叫什么名字", Kind.question),
        ("what was my job", Kind.question),
        ("Which town was I born in?", Kind.question),
        ("Is Jake married", Kind.question),
        ("你怎麼知道的？", Kind.how_do_you_know),
        ("How do you know that?", Kind.how_do_you_know),
        ("記得提醒我明天早上吃藥", Kind.reminder_request),
        ("Remind me to call the pharmacy tomorrow.", Kind.reminder_request),
        ("早安啊", Kind.greeting),
        ("Good morning!", Kind.greeting),
        ("謝謝你陪我聊天", Kind.thanks),
        ("Thank you, dear.", Kind.thanks),
        ("I don't know where he lives", Kind.uncertain),
        ("我不知道孫子現在住在哪裡。", Kind.uncertain),
        ("When I was young I lived in Ohio.", Kind.statement),
        ("Will is my son.", Kind.statement),
        ("我什麼都不想吃", Kind.statement),
    ],
)
def test_what_kind_of_utterance(text, kind):
    assert classify(text) is kind


def test_a_statement_beside_a_question_is_kept_alone():
    assert statement_text("我住在台南，你呢？") == "我住在台南"
    assert statement_text("What was my job?") == ""


def _read(text: str, language: str, people: People | None = None, **kw) -> set[tuple]:
    return {
        (f.subject, f.attribute, f.value)
        for f in extract_rules(text, language, people=people, **kw)
    }


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("What was my job?", "en"),
        ("我兒子叫什麼名字？", "zh-Hant"),
        ("你怎麼知道的？", "zh-Hant"),
        ("Which town was I born in?", "en"),
        ("I don't know where he lives", "en"),
        ("提醒我下午三点去医院", "zh-Hans"),
    ],
)
def test_no_fact_from_what_is_not_a_statement(text, language):
    assert extract_rules(text, language) == []


def test_the_right_person_in_english():
    facts = extract_rules("My son David lives in Denver with his wife Karen.", "en")
    assert {(f.subject, f.attribute, f.value) for f in facts} == {
        ("David", "relation", "son"),
        ("David", "lives_in", "Denver"),
        ("David", "spouse", "Karen"),
    }
    home = next(f for f in facts if f.attribute == "lives_in")
    assert home.text == "Your son David lives in Denver"
    assert not any(f.subject == "self" for f in facts)  # Karen is not the elder's spouse

    lucy = _read("My granddaughter Lucy is studying music in Boston.", "en")
    assert ("self", "lives_in", "Boston") not in lucy
    assert ("Lucy", "relation", "granddaughter") in lucy

    tom = extract_rules("My late husband Tom loved fishing on Lake Erie.", "en")
    assert {(f.subject, f.attribute, f.value) for f in tom} == {
        ("Tom", "relation", "husband"),
        ("Tom", "died", "late"),
        ("Tom", "likes", "fishing on Lake Erie"),
    }
    assert next(f for f in tom if f.attribute == "died").sensitive


def test_slots_in_english():
    assert _read("I sing in the church choir every Thursday evening.", "en") == {
        ("self", "routine", "sing in the church choir every Thursday evening")
    }
    assert _read("I take metoprolol every morning for my heart.", "en") == {
        ("self", "medicine", "metoprolol")
    }
    assert _read("I was born in Cork in 1941.", "en") == {
        ("self", "born_in", "Cork"),
        ("self", "birth_year", "1941"),
    }
    assert _read("Mom takes lisinopril for her blood pressure.", "en", by_family=True) == {
        ("self", "medicine", "lisinopril")
    }


def test_the_right_person_in_chinese():
    people = People()
    assert _read("我兒子志明住在高雄。", "zh-Hant", people) == {
        ("志明", "relation", "兒子"),
        ("志明", "lives_in", "高雄"),
    }
    # A name said before is the same person in the next message.
    assert _read("志明上個月搬到台北了。", "zh-Hant", people) == {("志明", "lives_in", "台北")}
    [death] = [
        f for f in extract_rules("我的老姐妹阿珠去年走了。", "zh-Hant") if f.attribute == "died"
    ]
    assert (death.subject, death.sensitive) == ("阿珠", True)
    assert _read("我弟弟叫王建华，住在苏州。他的老婆叫李梅。", "zh-Hans") == {
        ("王建华", "relation", "弟弟"),
        ("王建华", "lives_in", "苏州"),
        ("王建华", "spouse", "李梅"),
    }


def test_slots_in_chinese_in_their_own_script():
    routine = extract_rules("我每個禮拜二早上去廟裡拜拜。", "zh-Hant")
    assert [(f.attribute, f.value, f.text) for f in routine] == [
        ("routine", "每個禮拜二早上去廟裡拜拜", "您每個禮拜二早上去廟裡拜拜")
    ]
    assert _read("我女兒叫美玲", "zh-Hant") == {("美玲", "relation", "女兒")}
    assert _read("我有高血压，每天早上吃一颗降血压的药。", "zh-Hans") == {
        ("self", "health_condition", "高血压"),
        ("self", "medicine", "降血压的药"),
    }
    [pet] = extract_rules("我家養了一隻貓，叫咪咪。", "zh-Hant")
    assert (pet.attribute, pet.value) == ("pet", "咪咪")


def _check(message: str, language: str = "en", **fact) -> str:
    people = People()
    rules = extract_rules(message, language, people=people)
    verdict = check_model_fact(
        subject=fact.get("subject", "self"),
        attribute=fact.get("attribute"),
        value=fact.get("value"),
        text=fact.get("text", message),
        message_text=message,
        language=language,
        rule_facts=rules,
        people=people,
    )
    return verdict.reason


@pytest.mark.parametrize(
    ("message", "language", "fact"),
    [
        ("What was my job?", "en", {"attribute": "job", "value": "job"}),
        ("我兒子叫什麼名字？", "zh-Hant", {"attribute": "name", "value": "儿子的名字"}),
        ("你怎麼知道的？", "zh-Hant", {"attribute": "event", "value": "知道"}),
        ("Which town was I born in?", "en", {"attribute": "lives_in", "value": "town"}),
        (
            "My son David lives in Denver with his wife Karen.",
            "en",
            {"attribute": "spouse", "value": "Karen"},
        ),
        (
            "My granddaughter Lucy is studying music in Boston.",
            "en",
            {"attribute": "lives_in", "value": "Boston"},
        ),
        (
            "My late husband Tom loved fishing on Lake Erie.",
            "en",
            {"attribute": "friend", "value": "Lake Erie"},
        ),
        (
            "I sing in the church choir every Thursday evening.",
            "en",
            {"attribute": "job", "value": "church choir"},
        ),
        ("I taught third grade.", "en", {"attribute": "job", "value": "教第三年级"}),
        ("我的老姐妹阿珠去年走了。", "zh-Hant", {"attribute": "event", "value": "去世"}),
        ("我的老姐妹阿珠去年走了。", "zh-Hant", {"attribute": "event", "value": "走了"}),
    ],
)
def test_the_models_junk_is_dropped(message, language, fact):
    assert _check(message, language, **fact) != "kept"


def test_what_the_model_adds_beyond_the_rules_is_kept():
    assert (
        _check(
            "I went fishing with my grandson last week.",
            attribute="event",
            value="went fishing with my grandson",
        )
        == "kept"
    )


@pytest.mark.parametrize(
    ("words", "language", "expected", "not_in"),
    [
        ("My daughter Susan calls me every Sunday night.", "en", "calls you every Sunday", " me "),
        ("I walk my dog every morning.", "en", "your dog", " my "),
        ("我女兒美玲每個禮拜天都會打電話給我。", "zh-Hant", "打電話給您", "給我"),
        ("我每天早上带我的狗去公园。", "zh-Hans", "您的狗", "我的"),
    ],
)
def test_the_elders_me_is_you_in_the_fact_they_read(words, language, expected, not_in):
    texts = [f.text for f in extract_rules(words, language)]
    assert any(expected in t for t in texts), texts
    assert not any(not_in in f" {t} " for t in texts), texts


def test_a_family_members_me_stays_theirs_and_values_stay_the_words_said():
    [fact] = [f for f in extract_rules("Mom calls me every Sunday.", "en", by_family=True)]
    assert fact.text == "You call me every Sunday"  # "me" is the family member
    [said] = [
        f
        for f in extract_rules("My daughter Susan calls me on Sundays.", "en")
        if f.subject == "Susan" and f.attribute == "routine"
    ]
    assert said.value == "calls me on Sundays" and "calls you on Sundays" in said.text


def test_a_title_or_saints_name_does_not_end_the_sentence():
    found = extract_rules("I was a nurse at St. Mary's for thirty years.", "en")
    assert ("workplace", "St. Mary's") in {(f.attribute, f.value) for f in found}


@pytest.mark.parametrize(
    ("words", "sentence"),
    [
        ("Mom watches the news every night.", "You watch the news every night"),
        (
            "Mom goes to the temple every Tuesday morning.",
            "You go to the temple every Tuesday morning",
        ),
    ],
)
def test_a_family_members_words_about_the_elder_are_said_of_you(words, sentence):
    assert sentence in [f.text for f in extract_rules(words, "en", by_family=True)]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Thanks love, I'll talk to you tomorrow.", "en"),
        ("Bye for now, I'm off to bed.", "en"),
        ("我要去睡了，明天再聊。", "zh-Hans"),
        ("好啦，先這樣，明天見", "zh-Hant"),
    ],
)
def test_a_goodbye_is_no_fact(text, language):
    assert statement_text(text) == ""
    assert extract_rules(text, language) == []


def test_a_span_of_time_is_not_a_name_and_today_is_not_every_day():
    found = _read("我先生十年前走了，有時候還是會想他。", "zh-Hant")
    assert found == {("先生", "died", "走了")}
    assert _read("你好，今天天气不错，我刚从菜市场回来。", "zh-Hans") == set()


def test_what_follows_a_spouses_name_is_said_of_the_spouse():
    people = People()
    _read("我儿子叫建国，他在深圳开了个小公司。", "zh-Hans", people)
    found = extract_rules("建国的媳妇叫小丽，是个中学老师。", "zh-Hans", people=people)
    assert {(f.subject, f.attribute, f.value) for f in found} == {
        ("建国", "spouse", "小丽"),
        ("小丽", "job", "中学老师"),
    }
    assert "建国的媳妇小丽的工作是中学老师" in [f.text for f in found]


@pytest.mark.parametrize(
    ("words", "language", "sentence"),
    [
        (
            "Every Friday I go to the bridge club at the parish hall.",
            "en",
            "Every Friday you go to the bridge club at the parish hall",
        ),
        ("每天早上六点我都去河边打太极拳。", "zh-Hans", "每天早上六点您都去河边打太极拳"),
    ],
)
def test_a_routine_that_names_the_elder_is_not_named_twice(words, language, sentence):
    assert [f.text for f in extract_rules(words, language) if f.attribute == "routine"] == [
        sentence
    ]


def test_taught_at_is_a_workplace_not_a_job():
    found = _read("I taught at the national school in Oughterard for thirty-five years.", "en")
    assert found == {("self", "workplace", "national school")}


def test_where_the_elder_lived_as_a_child_is_not_where_they_live():
    assert _read("我細漢住在嘉義的竹崎，厝邊都是種茶的。", "zh-Hant") == {
        ("self", "lived_in", "嘉義")
    }
    assert _read("我小时候住在哈尔滨。", "zh-Hans") == {("self", "lived_in", "哈尔滨")}
    assert _read("我闺女叫晓燕，她嫁到了大连。", "zh-Hans") == {("晓燕", "relation", "闺女")}


def test_names_end_where_the_words_about_them_begin():
    assert _read("我小女兒美華嫁去日本了。", "zh-Hant") == {("美華", "relation", "小女兒")}
    assert _read("我老伴儿姓刘，前年走的。", "zh-Hans") == set()  # no name 儿姓刘
    people = People()
    _read("我女儿叫丽娟，在北京当护士。", "zh-Hans", people)
    assert _read("丽娟的老公是个警察。", "zh-Hans", people) == {("丽娟的老公", "job", "警察")}


def test_someone_named_first_is_who_the_sentence_is_about():
    found = _read("Sue lives in Perth now with her husband Dave.", "en")
    assert found == {("Sue", "spouse", "Dave"), ("Sue", "lives_in", "Perth")}


def test_the_eldest_child_is_who_the_clause_is_about():
    assert _read("我有三個囡仔，老大住在桃園。", "zh-Hant") == {("老大", "lives_in", "桃園")}
    assert _read("我们家老大叫张伟，住在成都。", "zh-Hans") == {
        ("张伟", "relation", "老大"),
        ("张伟", "lives_in", "成都"),
    }

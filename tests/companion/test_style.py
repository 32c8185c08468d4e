"""Dementia-friendly replies, checked sentence by sentence as they stream."""

from __future__ import annotations

import pytest

from companion.persona import voice
from companion.style import StyleGuard, claims_elders_life


def _run(language: str, text: str, *, step: int = 3) -> tuple[list[str], StyleGuard]:
    guard = StyleGuard(voice(language))
    out: list[str] = []
    for i in range(0, len(text), step):  # fed in small pieces, as a model streams
        out += guard.feed(text[i : i + step])
    return out + guard.finish(), guard


@pytest.mark.parametrize(
    ("language", "text", "kept"),
    [
        ("zh-Hant", "你還記得嗎?美玲星期天會來。", ["美玲星期天會來。"]),
        ("zh-Hant", "我說過了,美玲星期天會來。美玲很愛您。", ["美玲很愛您。"]),
        ("zh-Hant", "您記得美玲嗎?她星期天會來。", ["她星期天會來。"]),
        ("zh-Hans", "你记得吗?美玲星期天会来。", ["美玲星期天会来。"]),
        ("zh-Hans", "你忘了吧。美玲星期天会来。", ["美玲星期天会来。"]),
        ("en", "Do you remember Susan? She phones every Friday.", ["She phones every Friday."]),
        ("en", "As I said, Susan phones on Fridays. She loves you.", ["She loves you."]),
    ],
)
def test_phrasings_that_make_a_person_feel_forgetful_are_removed(language, text, kept):
    out, guard = _run(language, text)
    assert out == kept
    assert guard.repairs["forgetful_phrasing"] == 1


def test_only_the_first_question_is_asked():
    out, guard = _run("en", "That sounds lovely. Did you enjoy it? Was it sunny?")
    assert out == ["That sounds lovely.", "Did you enjoy it?"]
    assert guard.repairs["second_question"] == 1


def test_a_long_sentence_is_cut_at_a_clause():
    long = (
        "美玲每個星期天都會帶著孫子來看您,他們會一起吃午飯,然後在公園裡散步聊天,一直到傍晚才回家。"
    )
    out, guard = _run("zh-Hant", long)
    assert len(out) == 2
    assert all(len(s) <= 41 for s in out)
    assert "".join(out).replace("。", "").replace(",", "") == long.replace("。", "").replace(
        ",", ""
    )
    assert guard.repairs["long_sentence"] == 1


def test_at_most_three_sentences_and_no_markdown():
    out, guard = _run("en", "**Hello!** - It is sunny.\n1. Tea is ready. Cake too. And biscuits.")
    assert out == ["Hello!", "It is sunny.", "Tea is ready."]
    assert guard.full
    assert guard.repairs["too_many_sentences"] == 2


def test_the_script_follows_the_elder():
    out, _ = _run("zh-Hans", "您的女兒會來。")
    assert out == ["您的女儿会来。"]
    out, _ = _run("zh-Hant", "您的女儿会来。")
    assert out == ["您的女兒會來。"]


def test_a_sentence_is_handed_over_only_once_it_is_complete():
    guard = StyleGuard(voice("zh-Hant"))
    assert guard.feed("美玲星期") == []
    assert guard.feed("天會來。她") == ["美玲星期天會來。"]
    assert guard.finish() == ["她"]


def test_traditional_text_is_not_converted_twice():
    from memory.language import to_traditional

    assert to_traditional("我年輕的時候在台南的糖廠當會計") == "我年輕的時候在台南的糖廠當會計"
    assert to_traditional("一起吃午飯，傍晚才回家") == "一起吃午飯，傍晚才回家"
    assert to_traditional("您的女儿会来台南") == "您的女兒會來台南"
    assert to_traditional("您的女兒会来") == "您的女兒會來"


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("zh-Hant", "您應該記得美玲吧？"),
        ("zh-Hant", "您有印象嗎？"),
        ("zh-Hant", "我剛才已經告訴過您了。"),
        ("zh-Hant", "您又忘記了。"),
        ("zh-Hant", "不對，美玲是星期六來。"),
        ("zh-Hans", "您记错了。"),
        ("en", "I\u2019ve already told you."),
        ("en", "You\u2019re wrong about that."),
        ("en", "You've already asked me that."),
        ("en", "That isn't right."),
    ],
)
def test_more_ways_of_making_someone_feel_forgetful_or_corrected(language, text):
    out, guard = _run(language, text)
    assert out == []
    assert guard.repairs["forgetful_phrasing"] == 1


def test_remembering_something_oneself_is_fine():
    out, _ = _run("zh-Hant", "我會記得您說的話，您累嗎？")
    assert out == ["我會記得您說的話，您累嗎？"]


def test_two_questions_without_a_space_and_questions_without_a_mark():
    out, guard = _run("en", "Did you enjoy it?Was it sunny? ")
    assert out == ["Did you enjoy it?"]
    out, guard = _run("zh-Hant", "您想喝茶嗎。您今天好嗎？")
    assert out == ["您想喝茶嗎。"]
    assert guard.repairs["second_question"] == 1


def test_a_title_does_not_end_a_sentence():
    out, _ = _run("en", "Mr. Chen called. He will come on Sunday. ")
    assert out == ["Mr. Chen called.", "He will come on Sunday."]


@pytest.mark.parametrize(
    ("message", "note", "model", "problem"),
    [
        (
            "今天早上我去公園散步，看到很多人在跳舞。",
            "",
            "今天早上我去公園散步，看到很多人在跳舞。",
            "echo",
        ),
        ("我先生阿德前年過世了，我常常想他。", "", "阿德前年過世了，我常常想他。", "echo"),
        (
            "我以前喜歡什麼菜？",
            "我以前最喜歡吃虱目魚粥。",
            "我以前最喜歡吃虱目魚粥。",
            "first_person_claim",
        ),
        (
            "What was my job?",
            "I was a nurse at St. Mary's hospital.",
            "I was a nurse at St. Mary's hospital.",
            "first_person_claim",
        ),
        ("我先生叫阿雄。", "", "很抱歉，我不能提供關於您的個人經歷的詳細信息。", "refusal"),
        ("I feel tired.", "", "As an AI language model, I cannot feel tired.", "refusal"),
        ("今天膝蓋很痛。", "", "我可以幫您做一些簡單的運動來舒緩疼痛。", "physical_promise"),
        (
            "我老伴叫淑珍，我們結婚四十八年了。",
            "",
            "淑珍是您的老伴，我們結婚四十八年了。",
            "first_person_claim",
        ),
        ("My knee hurts.", "", "I'll bring you an ice pack.", "physical_promise"),
        ("我小學是讀哪一間？", "", "您小學是讀台南市中正區的國立中正高中。", "invented_detail"),
    ],
)
def test_the_reply_checker_drops_what_must_not_be_said(message, note, model, problem):
    v = voice("en" if message.isascii() else "zh-Hant")
    guard = StyleGuard(v)
    guard.ground(message=message, note=note)
    assert guard.feed(model + " ") + guard.finish() == []
    assert guard.repairs[problem] == 1


def test_a_kind_sentence_passes_the_checker():
    guard = StyleGuard(voice("zh-Hant"))
    guard.ground(message="今天早上我去公園散步，看到很多人在跳舞。", note="")
    assert guard.feed("您今天去公園散步，真有精神。跳舞的人多嗎？") + guard.finish() == [
        "您今天去公園散步，真有精神。",
        "跳舞的人多嗎？",
    ]


def test_the_elders_own_characters_are_kept_through_script_conversion():
    from companion.style import keep_written

    converted = voice("zh-Hant").in_script("您以前最喜歡吃虱目魚粥。")
    assert keep_written(converted, "我以前最喜歡吃虱目魚粥。") == "您以前最喜歡吃虱目魚粥。"
    assert keep_written("臺南很熱。", "我住在台南") == "台南很熱。"


@pytest.mark.parametrize(
    ("reply", "said", "claims"),
    [
        ("志明在高雄開計程車，每次回來看我一次，真有精神。", "我兒子志明每個月回來看我一次。", True),
        ("志明每個月都回來看您，真孝順。", "我兒子志明每個月回來看我一次。", False),
        ("謝謝您跟我分享。", "我兒子志明每個月回來看我一次。", False),
        ("How lovely that Peter calls me every Sunday.", "My son Peter calls me on Sundays.", True),
        ("Tell me more about Peter.", "My son Peter calls me on Sundays.", False),
    ],
)
def test_the_elders_me_copied_into_a_reply_is_a_claim_on_their_life(reply, said, claims):
    assert claims_elders_life(reply, said) is claims

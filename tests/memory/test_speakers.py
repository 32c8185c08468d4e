"""The people a question names: the elder by name or by what family call them, other speakers
by name; when the elder asks, 媽媽 is the elder's own mother."""

from __future__ import annotations

from memory.speakers import People, name_forms, named_in, relation_words

PEOPLE = People(
    elder_names=("林美华", "阿华"),
    elder_words=tuple(name_forms("林美華") + name_forms("阿華")),
    kin_words=tuple(relation_words("女兒") + relation_words("granddaughter")),
    family_names=("林志明",),
)


def test_relation_words_are_what_that_relative_calls_the_elder():
    assert "媽媽" in relation_words("女兒") and "mom" in relation_words("daughter")
    assert "grandma" in relation_words("granddaughter")
    assert "mom" not in relation_words("granddaughter")  # a granddaughter is not a daughter
    assert relation_words("neighbour") == []


def test_the_elder_is_named_by_name_given_name_or_family_word():
    for question in ("美華上次去哪裡看醫生？", "阿華喜歡吃什麼", "媽媽說過她在哪裡長大?"):
        assert named_in(question, PEOPLE, []).elder, question
    assert named_in("When did Grandma last see Dr. Lee?", PEOPLE, []).elder


def test_when_the_elder_asks_mom_is_her_own_mother():
    assert not named_in("我媽媽以前住在哪裡", PEOPLE, [], by_elder=True)


def test_other_speakers_are_named_by_whole_word():
    named = named_in("When did Caroline go to the support group?", PEOPLE, ["Caroline", "Mel"])
    assert named.speakers == {"Caroline"} and not named.elder
    assert not named_in("Carolines are nice", PEOPLE, ["Caroline"])
    assert named_in("What did caroline's mom say?", PEOPLE, ["Caroline Smith"]).speakers == {
        "Caroline Smith"
    }

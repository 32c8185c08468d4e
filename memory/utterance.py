"""What kind of utterance a message is, in zh-Hant, zh-Hans and English, with no model: a
statement, or a question, greeting, thanks, "how do you know", a request for a reminder, or
the speaker's own uncertainty ("I don't know where he lives"). Only statements hold facts.

    >>> classify("我兒子叫什麼")
    <Kind.question: 'question'>
    >>> statement_text("我住在台南，你呢？")
    '我住在台南'

A message is read clause by clause (split at sentence ends and commas), so that the statement
in "I live in Tainan, and you?" is kept and the question beside it is not. Chinese is read in
Simplified form, so one word list serves both scripts.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from memory.language import fold

__all__ = ["Clause", "Kind", "classify", "clauses", "is_statement", "kinds", "statement_text"]


class Kind(enum.StrEnum):
    statement = "statement"
    question = "question"
    greeting = "greeting"
    thanks = "thanks"
    how_do_you_know = "how_do_you_know"
    reminder_request = "reminder_request"
    uncertain = "uncertain"  # the speaker does not know or remember: not a fact either way


@dataclass(frozen=True)
class Clause:
    """A piece of the message, as written (`text`, at `start` in the message) and its kind."""

    text: str
    start: int
    kind: Kind


# Sentence ends stay with their sentence; commas split clauses inside it.
_SENTENCE = re.compile(r"[^。！？!?；;\n]*[。！？!?；;\n]*")
_CLAUSE = re.compile(r"[^，,、]+[，,、]*")

_HOW_KNOW = re.compile(
    r"你(是)?怎么(会)?知道|谁(跟|和|告诉)你|谁说的|你从哪(里|儿)?(听|知道)|"
    r"\bhow (do|did|would|could) you know\b|\bwho told you\b|\bwhere did you (hear|get|learn)\b",
    re.I,
)
_REMINDER = re.compile(
    r"提醒我|叫我.{0,12}(吃|去|打|拿|看)|记得(叫|提醒|告诉)我|帮我(记|记得|记住)|别让我忘|"
    r"\bremind me\b|\bset (a|an|up a) (reminder|alarm)\b|\bdon'?t let me forget\b|"
    r"\bcan you remind\b",
    re.I,
)
_THANKS = re.compile(r"谢谢|多谢|感谢|感恩|\bthank(s| you)\b|\bthx\b|\bcheers\b", re.I)
_GREETING = re.compile(
    r"^(你好|您好|早安|早上好|午安|下午好|晚上好|晚安|哈啰|哈喽|嗨|喂|再见|拜拜|"
    r"hi|hello|hey|hiya|good (morning|afternoon|evening|night)|goodnight|morning|bye|goodbye)"
    r"\s*(呀|啊|喔|哦|啦|阿|there|dear|my dear|friend|everyone)?$",
    re.I,
)
# Leave-taking: "talk to you tomorrow", "我去睡了", "明天再聊". Said to 智安, of nobody's life.
_FAREWELL = re.compile(
    r"^((我们|咱们|那)?(明天|下次|改天|晚点|晚些|回头|有空)(再)?(聊|说|谈|见)|(那|好了|好啦)?(先)?(这样|不聊了|不说了)|"
    r"(那|好了|好啦)?我(要|得|先)?(去)?睡(觉)?(了|啦)|回头见|明天见|下次见|"
    r"((i'?ll|i will|we'?ll) )?(talk|speak|chat) (to|with) you (later|tomorrow|soon|again|in the morning|another time)|"
    r"(see|catch) you( later| tomorrow| soon| again| in the morning)?|bye for now|"
    r"(i'?m )?off to bed( now)?|(i'?ll )?let you go( now)?|that'?s (all|it) for (now|today)|night night|"
    r"take care|have a (good|nice|lovely) (day|night|evening))$",
    re.I,
)
_UNCERTAIN = re.compile(
    r"不知道|不晓得|不清楚|不确定|记不(清|得|起)|不记得|想不起|忘(了|记)|说不准|搞不清|"
    r"\b(don'?t|do not|didn'?t|can'?t|cannot|no longer) (know|remember|recall)\b|"
    r"\bnot sure\b|\bi (forget|forgot|wonder)\b|\bno idea\b|\bi'?m unsure\b",
    re.I,
)
# Chinese question words; "什么都" / "哪里都" / "谁都" ("anything", "anywhere") are not questions,
# nor is "不怎么" ("not very").
_ZH_QUESTION = re.compile(
    r"(什么|甚么|啥|谁|哪里|哪儿|哪个|哪些|哪一|哪|几(点|个|岁|号|年|天|次|位)|多少|(?<!不)怎么|"
    r"怎样|为什么|为何|如何|是不是|有没有|会不会|能不能|可不可以|要不要|对不对|好不好|是吗|对吗)"
    r"(?!都|也)|[吗么呢嘛][呀啊]?$"
)
_AUX = (
    r"(do|does|did|is|isn'?t|are|aren'?t|was|wasn'?t|were|can|could|will|would|should|shall|"
    r"have|has|had|am)"
)
_ASKED_OF = r"(you|i|we|he|she|they|it|my|your|his|her|our|their|the|a|an|there|this|that|any\w*|(?-i:[A-Z][a-z]+))\b"
_EN_QUESTION = re.compile(
    r"^(and |so |but |well |oh |um |hey )?("
    r"(what|who|whom|whose|which|why)\b(?! a\b| an\b)|what'?s\b|who'?s\b|where'?s\b|"
    rf"(when|where|how)\s+{_AUX}\b|how (much|many|long|old|often|far)\b|"
    rf"{_AUX}\s+{_ASKED_OF}|tell me\b|do you remember\b)",
    re.I,
)
_FILLER = re.compile(r"^[\s\W_]*$")
# A word alone that says nothing of anyone: "dear" in "Thank you, dear", "對" in "對，我很想她".
_ASIDE = re.compile(
    r"^(dear|my dear|honey|sweetie|love|darling|friend|ok|okay|yes|yeah|no|oh|well|hmm|ah|"
    r"亲爱的|宝贝|啊|喔|嗯|嗯嗯|哦|呀|好|好的|好啦|好了|好吧|对|对啊|对呀|是|是啊|是的|唉)$",
    re.I,
)


def _fold(text: str) -> str:
    return fold(text).strip()


def _kind(clause: str, ends_with_question_mark: bool) -> Kind:
    folded = _fold(clause).strip(" 。！？!?；;，,、.…~～")
    if _HOW_KNOW.search(folded):
        return Kind.how_do_you_know
    if _REMINDER.search(folded):
        return Kind.reminder_request
    if ends_with_question_mark:
        return Kind.question
    if _UNCERTAIN.search(folded):  # "我不知道他住哪裡": what they do not know, not a question
        return Kind.uncertain
    if _ZH_QUESTION.search(folded) or _EN_QUESTION.search(folded):
        return Kind.question
    if _GREETING.search(folded) or _ASIDE.search(folded) or _FAREWELL.search(folded):
        return Kind.greeting
    if _THANKS.search(folded) and len(folded) <= 40:
        return Kind.thanks
    return Kind.statement


def clauses(text: str) -> list[Clause]:
    """The message cut into clauses, each with its kind, in order; punctuation alone is left
    out. A question mark belongs to the clause it ends, not to the whole sentence."""
    found: list[Clause] = []
    for sentence in _SENTENCE.finditer(text):
        if _FILLER.match(sentence.group()):
            continue
        asks = bool(re.search(r"[？?]\s*$", sentence.group()))
        parts = list(_CLAUSE.finditer(sentence.group()))
        for i, part in enumerate(parts):
            if _FILLER.match(part.group()):
                continue
            last = i == len(parts) - 1
            found.append(
                Clause(
                    text=part.group().strip(),
                    start=sentence.start() + part.start(),
                    kind=_kind(part.group(), asks and last),
                )
            )
    return found


def kinds(text: str) -> set[Kind]:
    """Every kind of clause the message holds."""
    return {c.kind for c in clauses(text)}


_PRIORITY = (
    Kind.how_do_you_know,
    Kind.reminder_request,
    Kind.question,
    Kind.statement,
    Kind.uncertain,
    Kind.thanks,
    Kind.greeting,
)


def classify(text: str) -> Kind:
    """The message's main kind: what a reply should answer first. "謝謝，我住在台南" is a
    statement; "I live in Tainan, and you?" a question; an empty message a greeting-like
    nothing (`Kind.greeting`)."""
    present = kinds(text)
    return next((k for k in _PRIORITY if k in present), Kind.greeting)


def is_statement(text: str) -> bool:
    """Whether any part of the message says something (rather than asks, greets or thanks)."""
    return Kind.statement in kinds(text)


def statement_text(text: str) -> str:
    """The message with every clause that is not a statement left out: what facts may come
    from. Clauses keep their commas, so "In 1965, I moved to Boston" reads as one."""
    kept = [c.text for c in clauses(text) if c.kind is Kind.statement]
    joined = " ".join(kept).strip()
    return joined.rstrip("，,、").strip()

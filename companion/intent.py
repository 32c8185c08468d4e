"""What the elder's words ask for, where the answer must not come from the model alone: a
question about their own past (the grounding gate guards it), or how the companion knows."""

from __future__ import annotations

import re

from memory.language import CJK, _converter

# A message is read clause by clause: "我女兒叫美玲，你記住了嗎？" tells, then asks something else.
_CLAUSES = re.compile(r"[，,。．.!！;；\n]+")

# Chinese is matched in Simplified form (Traditional folded first).
_ZH_QUESTION = re.compile(r"[?\uff1f]|吗|什么|谁|哪|几|多少|怎么|何时|是不是|有没有|啥|多大|呢$")
_ZH_RECALL_REQUEST = re.compile(r"(?:告诉|提醒|说说|讲讲)(?:一下)?我")
_ZH_NOT_PAST = re.compile(
    r"要不要|要|能不能|能|该|应该|可以|会不会|明天|后天|待会|等一下|等会|今天|今晚|现在|怎么办|帮我|给我"
)
_ZH_SELF = re.compile(r"我|咱|谁是|是谁|谁来")
_ZH_PAST = re.compile(
    r"以前|从前|小时候|年轻|当年|那时|那年|过去|之前|上次|昨天|前天|上个|去年|当初|早年"
    r"|去过|住过|做过|见过|养过|学过|读过|念过|种过|当过|干过|有过"
    r"|名字|叫什么|叫啥|是谁|谁是|几岁|多大|生日|出生|结婚|嫁|娶|老家|家乡|故乡|住在哪|住哪"
    r"|工作|做什么的|干什么的|职业|学校|孩子|几个|来看|来过|陪|照顾"
    r"|喜欢|爱吃|爱听|爱看|最爱|每天|每个|平常|常常|习惯"
)
_EN_QUESTION = re.compile(
    r"\?|^\s*(?:who|what|where|when|which|how|did|do|does|was|were|have|had|is|are)\b"
    r"|^\s*(?:tell me about|remind me)\b",
    re.I,
)
_EN_NOT_PAST = re.compile(
    r"\b(?:should|can|could|will|would|shall|may|might|going to|tomorrow|tonight|today|now"
    r"|need|want)\b"
    r"|\bhow are you\b|\bwhat time is it\b",
    re.I,
)
_EN_SELF = re.compile(r"\b(?:my|i|me|we|our|us)\b|\bwho is [A-Z]|\bwho was [A-Z]", re.I)
_EN_PAST = re.compile(
    r"\b(?:was|were|did|used to|had|name|called|born|grew up|married|honeymoon|live|lived"
    r"|old am i|children|kids|school|job|worked|work|visits|visited|phones|who is|who was"
    r"|tell me about|remind me|favourite|favorite|like|love|usually|every|do i|am i)\b",
    re.I,
)
_HOW_KNOWN = re.compile(
    r"(?:你|您)(?:是)?(?:怎么|怎麼|咋)(?:会|會)?(?:知道|晓得|曉得)"
    r"|(?:谁|誰)(?:告诉|告訴|跟)(?:你|您)|(?:谁|誰)说的|(?:谁|誰)說的"
    r"|(?:你|您)(?:听|聽)(?:谁|誰)说|(?:你|您)(?:听|聽)(?:谁|誰)說"
    r"|(?:哪里|哪裡|哪兒|哪儿)(?:听|聽)(?:来|來)|(?:你|您)(?:从|從)(?:哪|那)(?:里|裡)?(?:知道|听|聽)"
    r"|\bhow (?:do|did|would) you know\b(?:\s+(?:that|this|it))?\s*\??\s*$"
    r"|\bwho (?:told|said) (?:you|that)\b|\bwhere did you (?:hear|get) that\b",
    re.I,
)

# Family and other people: a question naming one needs a memory naming the same one.
_RELATIONS: tuple[tuple[str, ...], ...] = (
    ("女儿", "闺女", "daughter"),
    ("儿子", "son"),
    ("哥哥", "大哥", "二哥", "兄长", "brother"),
    ("弟弟", "小弟", "brother"),
    ("姐姐", "大姐", "二姐", "sister"),
    ("妹妹", "小妹", "sister"),
    ("太太", "老婆", "妻子", "老伴", "爱人", "wife"),
    ("先生", "老公", "丈夫", "老伴", "爱人", "husband"),
    ("爸爸", "父亲", "爸", "father", "dad"),
    ("妈妈", "母亲", "妈", "mother", "mum", "mom"),
    ("孙子", "grandson"),
    ("孙女", "granddaughter"),
    ("外孙", "grandson"),
    ("外孙女", "granddaughter"),
    ("爷爷", "外公", "grandfather", "grandpa"),
    ("奶奶", "外婆", "grandmother", "grandma"),
    ("朋友", "老朋友", "friend"),
    ("邻居", "neighbor", "neighbour"),
    ("医生", "doctor"),
    ("狗", "dog", "spaniel", "puppy"),
    ("猫", "cat", "kitten"),
)


def _simplified(text: str) -> str:
    return _converter("t2s").convert(text)


def asks_how_known(text: str) -> bool:
    return bool(_HOW_KNOWN.search(text.replace("\u2019", "'")))


def is_question(text: str) -> bool:
    """Whether the words ask something (a memory that is a question supports no answer)."""
    if CJK.search(text):
        return bool(_ZH_QUESTION.search(_simplified(text)))
    return bool(_EN_QUESTION.search(text))


def asks_about_own_past(text: str) -> bool:
    """A question about the elder's own life (people, places, events, what they did), not a
    plan, a request or a question about today."""
    if asks_how_known(text):
        return False
    return any(_clause_asks_about_past(c.strip()) for c in _CLAUSES.split(text) if c.strip())


def _clause_asks_about_past(clause: str) -> bool:
    if CJK.search(clause):
        zh = _simplified(clause)
        if not (_ZH_QUESTION.search(zh) or _ZH_RECALL_REQUEST.search(zh)):
            return False
        if _ZH_NOT_PAST.search(zh.replace("要来看", "").replace("能记", "")) and not re.search(
            r"以前|从前|小时候|年轻|当年|去年|昨天|上次", zh
        ):
            return False
        return bool(_ZH_SELF.search(zh)) and bool(_ZH_PAST.search(zh) or named_relations(zh))
    clause = clause.replace("\u2019", "'")
    if not _EN_QUESTION.search(clause) or _EN_NOT_PAST.search(clause):
        return False
    return bool(_EN_SELF.search(clause)) and bool(
        _EN_PAST.search(clause) or named_relations(clause)
    )


def named_relations(text: str) -> set[int]:
    """Which kinds of people (indexes into _RELATIONS) the words name."""
    return set().union(*named_people(text))


# What a question asks for, and what a memory must hold to answer it: a question about where
# the daughter lives is not answered by a memory of her name.
_SLOTS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "name": (
        re.compile(r"叫什么|叫啥|名字|\bname\b|\bcalled\b", re.I),
        re.compile(r"叫|名字|\bnamed?\b|\bcalled\b|(?<=[a-z,] )[A-Z][a-z]+"),
    ),
    "residence": (
        re.compile(r"住|老家|家乡|故乡|\blive[sd]?\b|\bgr[oe]w up\b|\bborn\b|\bhometown\b", re.I),
        re.compile(r"住|老家|家乡|故乡|搬|\blive[sd]?\b|\bgrew up\b|\bborn\b|\bhometown\b", re.I),
    ),
    "location": (
        re.compile(r"在哪|哪里|哪儿|\bwhere\b", re.I),
        re.compile(r"在|到|\bin\b|\bat\b|\bnear\b|\bfrom\b", re.I),
    ),
    "job": (
        re.compile(r"工作|职业|做什么工作|干什么的|做什么的|\bjob\b|\bwork|\bprofession", re.I),
        re.compile(r"工作|当|做|职业|老师|医生|\bwork|\bjob\b|\bas an? ", re.I),
    ),
    "school": (
        re.compile(r"学校|读书|念书|读哪|念哪|\bschool|\bstud(?:y|ying|ies)\b", re.I),
        re.compile(r"学校|读|念|\bschool|\bstud", re.I),
    ),
    "age": (
        re.compile(r"几岁|多大|多少岁|\bhow old\b|\bage\b", re.I),
        re.compile(r"岁|\bold\b|\baged?\b", re.I),
    ),
    "marriage": (
        re.compile(r"结婚|嫁|娶|\bmarr(?:y|ied)\b|\bwedding\b|\bhoneymoon\b", re.I),
        re.compile(r"结婚|嫁|娶|\bmarr(?:y|ied)\b|\bwedding\b|\bhoneymoon\b", re.I),
    ),
    "time": (
        re.compile(r"什么时候|哪一年|哪年|\bwhen\b|\bwhat year\b", re.I),
        re.compile(r"年|月|时候|\b\d{4}\b|\bago\b|\bwhen\b|\bin (?:the )?\d", re.I),
    ),
    "likes": (
        re.compile(r"喜欢|爱吃|爱听|爱看|最爱|\bfavou?rite\b|\blike\b|\blove\b", re.I),
        re.compile(r"喜欢|爱|\bfavou?rite\b|\blikes?\b|\bloves?\b|\benjoy", re.I),
    ),
}


def asked_slots(question: str) -> set[str]:
    """What the question asks for: name, residence, location, job, school, age, marriage…"""
    text = _simplified(question)
    return {slot for slot, (asked, _) in _SLOTS.items() if asked.search(text)}


def slots_held(memory_text: str) -> set[str]:
    text = _simplified(memory_text)
    return {slot for slot, (_, held) in _SLOTS.items() if held.search(text)}


def named_people(text: str) -> list[set[int]]:
    """Each word for a person in the text, as the kinds it can mean ("brother": 哥哥 or 弟弟;
    老伴: wife or husband); a word inside a longer one (孫女 in 外孫女) is not counted twice."""
    folded = _simplified(text).lower()
    found: dict[str, set[int]] = {}
    for i, names in enumerate(_RELATIONS):
        for name in names:
            hit = re.search(rf"\b{name}s?\b", folded) if name.isascii() else name in folded
            if hit:
                found.setdefault(name, set()).add(i)
    return [
        kinds
        for name, kinds in found.items()
        if not any(name != other and name in other for other in found)
    ]

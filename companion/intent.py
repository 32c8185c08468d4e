"""What the elder's words ask for, where the answer must not come from the model alone: a
question about their own past (the grounding gate guards it), or how the companion knows."""

from __future__ import annotations

import re

from memory.language import _converter

_CJK = re.compile(r"[\u3400-\u9fff]")
# Chinese is matched in Simplified form (Traditional folded first).
_ZH_QUESTION = re.compile(r"[?\uff1f]|吗|什么|谁|哪|几|多少|怎么|何时|是不是|有没有|呢$")
_ZH_PAST = re.compile(
    r"我(?:以前|从前|小时候|年轻|当年|那时|那年|过去|之前|上次|昨天|前天|上个|去年)"
    r"|我(?:去过|住过|做过|见过|养过|学过|读过|念过|种过|当过)"
    r"|我(?:是在|在哪|是哪|是什么时候|是几)"
    r"|谁.{0,8}(?:来看|陪|照顾|带|给|送|是)我"
    r"|我(?:的)?(?:名字|生日|老家|家乡|故乡|工作|职业)"
)
_EN_QUESTION = re.compile(
    r"\?|^\s*(?:who|what|where|when|which|how|did|do|does|was|were|have|had|is|are)\b", re.I
)
_EN_PAST = re.compile(
    r"\b(?:what|who|where|when|which)(?:'s| is| was| were| did| do)?\b.{0,40}\b(?:my|i|me)\b"
    r"|\bdid i\b|\bhave i\b|\bwas i\b|\bwere we\b|\bdo i have\b|\bwhen i was\b|\bused to\b"
    r"|\bmy (?:name|birthday|hometown|job|childhood)\b",
    re.I,
)
_HOW_KNOWN = re.compile(
    r"(?:你|您)怎(?:么|麼)(?:会|會)?知道|(?:谁|誰)告(?:诉|訴)(?:你|您)|(?:哪里|哪裡|哪兒|哪儿)(?:听|聽)(?:来|來)"
    r"|(?:你|您)(?:从|從)(?:哪|那)(?:里|裡)?知道"
    r"|\bhow (?:do|did) you know\b|\bwho told you\b|\bwhere did you (?:hear|get) that\b",
    re.I,
)
_NOT_ABOUT_PAST = re.compile(r"\bhow are you\b|你好吗|您好吗|你叫什么", re.I)

# Family and other people: a question naming one needs a memory naming the same one.
_RELATIONS: tuple[tuple[str, ...], ...] = (
    ("女儿", "闺女", "daughter"),
    ("儿子", "son"),
    ("哥哥", "大哥", "二哥", "兄长", "brother"),
    ("弟弟", "小弟", "brother"),
    ("姐姐", "大姐", "二姐", "sister"),
    ("妹妹", "小妹", "sister"),
    ("太太", "老婆", "妻子", "老伴", "wife"),
    ("先生", "老公", "丈夫", "老伴", "husband"),
    ("爸爸", "父亲", "爸", "father", "dad"),
    ("妈妈", "母亲", "妈", "mother", "mum", "mom"),
    ("孙子", "孙女", "外孙", "外孙女", "grandson", "granddaughter", "grandchild"),
    ("爷爷", "奶奶", "外公", "外婆", "grandfather", "grandmother", "grandpa", "grandma"),
    ("朋友", "老朋友", "friend"),
    ("邻居", "neighbor", "neighbour"),
    ("医生", "doctor"),
    ("狗", "猫", "dog", "cat", "pet"),
)


def _simplified(text: str) -> str:
    return _converter("t2s").convert(text)


def asks_how_known(text: str) -> bool:
    return bool(_HOW_KNOWN.search(text))


def asks_about_own_past(text: str) -> bool:
    """A question about the elder's own life: people, places, events, what they did."""
    if asks_how_known(text) or _NOT_ABOUT_PAST.search(text):
        return False
    zh = _simplified(text)
    if _CJK.search(zh):
        if _ZH_QUESTION.search(zh) and (_ZH_PAST.search(zh) or named_relations(zh)):
            return "我" in zh or "咱" in zh
        return False
    if _EN_QUESTION.search(text) and (_EN_PAST.search(text) or named_relations(text)):
        return bool(re.search(r"\b(?:my|i|me|we|our)\b", text, re.I))
    return False


def named_relations(text: str) -> set[int]:
    """Which kinds of people (indexes into _RELATIONS) the words name."""
    zh = _simplified(text).lower()
    found = set()
    for i, names in enumerate(_RELATIONS):
        for name in names:
            if name.isascii():
                if re.search(rf"\b{name}s?\b", zh):
                    found.add(i)
            elif name in zh:
                found.add(i)
    return found

"""What the elder is doing in a turn, read once: sharing a memory or the day's news, a feeling,
pain, small talk, a question about their own past (the grounding gate guards it), how the
companion knows, a question about today, or asking for a reminder; and the details a reply
must not invent (names, places, numbers, time words)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

from companion.reminders.asked import Asked, asked_reminder
from memory.language import CJK, fold

# A message is read clause by clause: "我女兒叫美玲，你記住了嗎？" tells, then asks something else.
_CLAUSES = re.compile(r"[，,。．.!！;；\n]+")

# Chinese is matched in Simplified form (Traditional folded first).
_ZH_QUESTION = re.compile(r"[?\uff1f]|吗|什么|谁|哪|几|多少|怎么|何时|是不是|有没有|啥|多大|呢$")
_ZH_RECALL_REQUEST = re.compile(r"(?:告诉|提醒|说说|讲讲)(?:一下)?我")
_ZH_NOT_PAST = re.compile(
    r"要不要|要|能不能|能|该|应该|可以|会不会|明天|后天|待会|等一下|等会|今天|今晚|现在|怎么办|帮我|给我"
)
_ZH_SELF = re.compile(r"我|咱|谁是|是谁|谁来|谁(?:每|常|都|会来|回来|陪|打电话|照顾)")
_ZH_PAST = re.compile(
    r"以前|从前|小时候|年轻|当年|那时|那年|过去|之前|上次|昨天|前天|上个|去年|当初|早年"
    r"|去过|住过|做过|见过|养过|学过|读过|念过|种过|当过|干过|有过"
    r"|名字|叫什么|叫啥|是谁|谁是|几岁|多大|生日|出生|结婚|嫁|娶|老家|家乡|故乡|住在哪|住哪"
    r"|工作|做什么的|干什么的|职业|学校|孩子|几个|来看|来过|陪|照顾"
    r"|喜欢|爱吃|爱听|爱看|最爱|每天|每个|平常|常常|习惯"
    r"|小学|中学|初中|高中|大学|读哪|念哪|哪一间|哪间|哪所|都去|常去|都做|礼拜|星期|周末"
)
# "When I was a girl we…" tells; "When did we…" asks.
_EN_QUESTION = re.compile(
    r"\?|^\s*(?:who|what|where|which|how|did|do|does|was|were|have|had|is|are)\b"
    r"|^\s*when\s+(?:did|do|does|was|were|is|are|will|would|can|could|have|had)\b"
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
    return fold(text)


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
        # A question about oneself that is not about today, a plan or a request is about one's
        # life: "我當兵的時候在哪裡？" goes to the gate, never to the model alone.
        return bool(_ZH_SELF.search(zh)) and not re.search(r"[你您]", zh.replace("您说", ""))
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
        re.compile(r"在|到|去|住|\bin\b|\bat\b|\bnear\b|\bfrom\b|\bto\b", re.I),
    ),
    "job": (
        re.compile(
            r"工作|职业|做什么工作|干什么的|做什么的|干哪行|哪一行|什么行业|谋生|养家|\bjob\b|\bwork"
            r"|\bprofession|\bfor a living\b|\boccupation\b|\bcareer\b|\bline of work\b|"
            r"\bearn(ed)? (my|a) living\b|\bwhat was i\b.{0,20}\bby trade\b",
            re.I,
        ),
        re.compile(
            r"工作|当|做|职业|上班|老师|医生|护士|会计|女工|工人|司机|农|店|厂|公司|生意|教书"
            r"|\bwork|\bjob\b|\bas an? |\bI was an? (?:nurse|teacher|doctor|clerk|farmer"
            r"|miner|driver|secretary|engineer|cook|baker|tailor|nanny|accountant|postman"
            r"|soldier|typist|shopkeeper|seamstress|mechanic|librarian|policeman)\b",
            re.I,
        ),
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
        # "his wife Siobhan", "建国的媳妇叫小丽": a spouse named is a marriage told
        re.compile(
            r"结婚|嫁|娶|太太|老婆|媳妇|老公|丈夫|妻子|老伴|另一半|\bmarr(?:y|ied)\b|\bwedding\b|"
            r"\bhoneymoon\b|\b(?:wife|husband|spouse)\b",
            re.I,
        ),
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


# --- one reading of a turn -----------------------------------------------------------------


class TurnKind(enum.StrEnum):
    """What the elder is doing in a turn; each kind has its own handler in companion.chat."""

    reminder_request = "reminder_request"  # "提醒我明天下午三點去看醫生"
    how_known = "how_known"  # "你怎麼知道的？"
    recall = "recall"  # a question about the elder's own past
    today = "today"  # the date, the weather the family set, today's reminders
    unwell = "unwell"  # pain or feeling ill
    feeling = "feeling"  # grief, loneliness, worry, joy
    share = "share"  # a memory or the day's news
    small_talk = "small_talk"  # greetings, thanks, a question to 智安


TURN_KINDS = tuple(TurnKind)

_ZH_TODAY = re.compile(
    r"今天(?:是)?(?:几号|几月几|星期几|礼拜几|周几|什么日子)|几月几[号日]|今天天气|天气(?:怎么样|如何|好吗|好不好)"
    r"|今天(?:要|有)(?:做)?什么|今天有(?:没有|什么)(?:事|安排|提醒)|今天要吃(?:什么)?药|现在几点"
)
_EN_TODAY = re.compile(
    r"\bwhat(?:'s| is) (?:the date|today's date)\b|\bwhat day is (?:it|today)\b"
    r"|\b(?:what's|what is|how's|how is) the weather\b|\bweather (?:like )?today\b"
    r"|\bwhat (?:do I have|have I got|is on|'s on) (?:on )?today\b|\bwhat time is it\b"
    r"|\bany (?:appointments|reminders) today\b",
    re.I,
)
_ZH_UNWELL = re.compile(
    r"痛|疼|不舒服|头晕|头昏|咳嗽|发烧|感冒|没力气|没有力气|难受|胸闷|拉肚子|肚子不|喘不过|睡不着|失眠"
)
_EN_UNWELL = re.compile(
    r"\b(?:hurts?|hurting|pain(?:ful)?|aches?|aching|sore|dizzy|unwell|sick|poorly|nauseous"
    r"|can't sleep|couldn't sleep|feel ill|feeling ill|under the weather|cough(?:ing)?|fever)\b",
    re.I,
)
_FEELINGS_ZH = (
    ("grief", re.compile(r"过世|去世|走了|离开了?我们|不在了|往生|逝世|死了|想念|想他|想她|怀念")),
    ("lonely", re.compile(r"寂寞|孤单|一个人|没人(?:陪|说话|理)|冷清|孤独")),
    ("worry", re.compile(r"担心|烦恼|害怕|怕|紧张|不安|睡不好|焦虑|操心")),
    ("joy", re.compile(r"开心|高兴|快乐|好玩|太好了|真好|幸福|很棒|欢喜")),
)
_FEELINGS_EN = (
    (
        "grief",
        re.compile(
            r"\b(?:passed away|died|dead|lost my|miss (?:him|her|them)|missing (?:him|her)"
            r"|funeral|widow(?:ed|er)?|gone now)\b",
            re.I,
        ),
    ),
    ("lonely", re.compile(r"\b(?:lonely|alone|on my own|no one (?:comes|calls|visits))\b", re.I)),
    ("worry", re.compile(r"\b(?:worried|worry|anxious|afraid|scared|nervous|fret)\b", re.I)),
    (
        "joy",
        re.compile(r"\b(?:happy|glad|delighted|wonderful|lovely|so nice|excited|thrilled)\b", re.I),
    ),
)
_ZH_SMALL_TALK = re.compile(
    r"^(?:你好|您好|早安|早上好|午安|晚安|哈啰|嗨|谢谢|多谢|再见|拜拜|好的|好啊|嗯|对|是啊|没事)"
    r"|你(?:好吗|吃饭了|吃了吗|在吗|是谁|叫什么|几岁)"
)
_EN_SMALL_TALK = re.compile(
    r"^\s*(?:hi|hello|hey|good (?:morning|afternoon|evening|night)|thanks|thank you|bye"
    r"|goodbye|ok|okay|yes|no|right)\b|\bhow are you\b|\bwho are you\b|\bare you there\b",
    re.I,
)
_BODY_ZH = (
    "膝盖", "腰", "背", "头", "肚子", "胃", "脚", "腿", "手", "肩膀", "脖子", "牙", "眼睛",
    "胸口", "关节", "屁股", "喉咙",
)  # fmt: skip
_BODY_EN = re.compile(
    r"\b(knees?|back|head|hips?|stomach|tummy|feet|foot|legs?|hands?|shoulders?|neck|teeth"
    r"|tooth|eyes?|chest|joints?|wrists?|ankles?|throat)\b",
    re.I,
)


@dataclass(frozen=True)
class Reading:
    """The elder's words, read once: what they are doing, whom and what they name."""

    text: str
    kind: TurnKind
    question: bool
    feeling: str | None = None  # for "feeling": grief, lonely, worry or joy
    body_part: str | None = None  # for "unwell", in the elder's own characters
    people: list[set[int]] = field(default_factory=list)
    names: tuple[str, ...] = ()  # as the elder wrote them: 阿德, Tom
    relation: str | None = None  # the first family word, as written: 先生, husband
    details: frozenset[str] = frozenset()
    reminder: Asked | None = None


def read_turn(text: str, now_local: datetime | None = None) -> Reading:
    """What the elder is doing in this turn. A statement in the past tense is a share, never a
    question; telling and asking in one breath ("我女兒叫美玲，你記住了嗎？") tells."""
    zh = bool(CJK.search(text))
    folded = _simplified(text) if zh else text.replace("\u2019", "'")
    question = is_question(text)
    base = {
        "text": text,
        "question": question,
        "people": named_people(text),
        "names": tuple(names_in(text)),
        "relation": _relation_word(text),
        "details": frozenset(details(text)),
    }
    if now_local is not None and (asked := asked_reminder(text, now_local)) is not None:
        return Reading(kind=TurnKind.reminder_request, reminder=asked, **base)
    if asks_how_known(text):
        return Reading(kind=TurnKind.how_known, **base)
    if asks_about_own_past(text):
        return Reading(kind=TurnKind.recall, **base)
    if question and (_ZH_TODAY if zh else _EN_TODAY).search(folded):
        return Reading(kind=TurnKind.today, **base)
    if (_ZH_UNWELL if zh else _EN_UNWELL).search(folded):
        return Reading(kind=TurnKind.unwell, body_part=_body_part(text, folded, zh), **base)
    for feeling, pattern in _FEELINGS_ZH if zh else _FEELINGS_EN:
        if pattern.search(folded):
            return Reading(kind=TurnKind.feeling, feeling=feeling, **base)
    small = (_ZH_SMALL_TALK if zh else _EN_SMALL_TALK).search(folded)
    short = len(CJK.findall(text)) < 6 if zh else len(text.split()) < 4
    if small or short or (question and not _tells_something(folded, zh)):
        return Reading(kind=TurnKind.small_talk, **base)
    return Reading(kind=TurnKind.share, **base)


_ZH_NAME = re.compile(
    r"(?<=叫)[\u4e00-\u9fff]{2,3}?(?=[，,。.！!？?\s、]|$|[他她是住在的])|阿[\u4e00-\u9fff]"
)


def names_in(text: str) -> list[str]:
    """People's names, as written: 阿德, 美玲 (after 叫), Tom (a capitalised word inside a
    sentence)."""
    if CJK.search(text):
        return list(dict.fromkeys(m.group(0) for m in _ZH_NAME.finditer(text)))
    found = (m.group(0) for m in _EN_NAME.finditer(text.replace("\u2019", "'")))
    return list(
        dict.fromkeys(n for n in found if n.lower() not in _EN_NOT_NAMES | _EN_CALENDAR)
    )


def _relation_word(text: str) -> str | None:
    folded = _simplified(text).lower()
    best: tuple[int, str] | None = None
    for names in _RELATIONS:
        for name in names:
            at = (
                m.start()
                if (m := re.search(rf"\b{name}s?\b", folded) if name.isascii() else None)
                else folded.find(name)
            )
            if at >= 0 and (
                best is None or at < best[0] or (at == best[0] and len(name) > len(best[1]))
            ):
                best = (at, name)
    if best is None:
        return None
    at, name = best
    return text[at : at + len(name)] if len(folded) == len(text) else name


def _tells_something(folded: str, zh: bool) -> bool:
    """A clause that is not a question: "我女兒叫美玲，你記住了嗎？" tells before it asks."""
    clauses = [c for c in _CLAUSES.split(folded) if c.strip()]
    return any(not is_question(c) for c in clauses[:-1]) if len(clauses) > 1 else False


def _body_part(text: str, folded: str, zh: bool) -> str | None:
    if not zh:
        found = _BODY_EN.search(text)
        return found.group(1).lower() if found else None
    found = [(at, part) for part in _BODY_ZH if (at := folded.find(part)) >= 0]
    if not found or len(folded) != len(text):
        return None
    at, part = min(found)  # the first the elder names: 肩膀 in "肩膀痛到手都舉不起來"
    return text[at : at + len(part)]  # as the elder wrote it


# --- details a reply may only repeat ----------------------------------------------------------

_ZH_NUMERAL = "零〇一二两三四五六七八九十百千万"
_ZH_DETAIL = re.compile(
    r"\d+(?:[.:：]\d+)?\s*[年月日号岁点分个次]?"
    rf"|[{_ZH_NUMERAL}]+(?:年|岁|点|个月|月|号|日|次|口|个)"
    r"|(?:星期|礼拜|周)[一二三四五六日天]|每(?:天|日|周|个星期|个礼拜|个月|年|晚|早)"
    r"|(?:去|前|今|明)年|上个(?:月|星期|礼拜)|民国|(?:春|夏|秋|冬)天|昨天|前天|上次|上回"
    r"|[\u4e00-\u9fff]{1,4}(?:市|区|县|省|乡|镇|村|路|街|巷|庙|宫|寺|医院|学校|小学|中学|高中|国中"
    r"|国小|大学|公园|工厂|厂|公司|车站|市场)"
    r"|叫[\u4e00-\u9fff]{2,3}|阿[\u4e00-\u9fff]"
)
_EN_DETAIL = re.compile(
    r"\b\d+(?::\d\d)?(?:am|pm|s)?\b"
    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty"
    r"|fifty|sixty|seventy|eighty|ninety|hundred)\b"
    r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b"
    r"|\bevery (?:day|week|month|year|morning|evening|night)\b"
    r"|\b(?:last|next) (?:week|month|year)\b|\b(?:yesterday|tomorrow)\b",
    re.I,
)
# A capitalised word inside a sentence is a name or a place ("at St. Mary's", "in Leeds").
_EN_NAME = re.compile(r"(?<=[A-Za-z,;] )(?:St\. )?[A-Z][a-z]+")
_EN_NOT_NAMES = frozenset(
    "i i'm i'd i'll i've zhian mum mom dad sir madam god oh ok okay english chinese".split()  # noqa: SIM905
)
# Months, days and feasts are time words, never whom the elder misses ("since the dog died in
# October").
_EN_CALENDAR = frozenset(
    "january february march april may june july august september october november december "  # noqa: SIM905
    "monday tuesday wednesday thursday friday saturday sunday christmas easter".split()
)
# Words before a place that are not its name ("去公園", "讀台南市"); a place with no name left
# (公園, 市場) is no detail.
_ZH_LEADING = re.compile(
    r"^(?:叫|[我你您他她们們的在到去是和跟与了就也都个家那这些一起带陪读念住搬回来要想走着])+"
)
_ZH_SMALL_WORD = re.compile(
    r"[我你您他她们們的在到去是和跟与了就也都个那这些带陪读念住搬回来要想走着]"
)
# "一點", "一下", "一個人": words, not numbers.
_ZH_NOT_COUNTS = frozenset(["一点", "一个", "一次", "一口", "一日", "两个", "几个", "一号"])
_ZH_GENERIC_PLACE = re.compile(
    r"(?:附近的|家里的|家)?(?:公园|市场|医院|学校|车站|公司|工厂|厂|庙|路|街|菜市场|大学|小学|中学)"
)
_ZH_PLACE_END = re.compile(
    r"(?:市|区|县|省|乡|镇|村|路|街|巷|庙|宫|寺|医院|学校|小学|中学|高中|国中|国小|大学|公园|工厂|厂"
    r"|公司|车站|市场)$"
)


def details(text: str) -> list[str]:
    """The names, places, numbers and time words in the text (Chinese folded to Simplified),
    the things a reply may only say when the memory note or the elder's message holds them."""
    if CJK.search(text):
        folded = _simplified(text)
        found = [m.group(0) for m in _ZH_DETAIL.finditer(folded)]
        out = []
        for found_words in found:
            if found_words in _ZH_NOT_COUNTS:
                continue
            detail = found_words
            if _ZH_PLACE_END.search(detail) or detail.startswith("叫"):
                detail = _ZH_LEADING.sub("", detail)
            if _ZH_PLACE_END.search(detail):  # the name is what follows the last small word
                detail = _ZH_SMALL_WORD.split(detail)[-1]
            if detail and not _ZH_GENERIC_PLACE.fullmatch(detail):
                out.append(detail)
        return out
    out = [m.group(0).lower() for m in _EN_DETAIL.finditer(text)]
    out += [
        m.group(0).lower()
        for m in _EN_NAME.finditer(text.replace("\u2019", "'"))
        if m.group(0).lower() not in _EN_NOT_NAMES
    ]
    return out


def unsupported_details(sentence: str, grounds: str) -> list[str]:
    """The details of a reply sentence found neither in the memory note nor in the elder's
    message (`grounds`, the two together). A place counts as held when its last three
    characters are (公園 in "去公園散步" holds "早上去公園")."""
    folded = _simplified(grounds).lower() if CJK.search(grounds) else grounds.lower()
    folded += " " + _simplified(grounds).lower()
    missing = []
    for detail in details(sentence):
        if _ZH_PLACE_END.search(detail) and len(detail) > 3:
            held = any(detail[-k:] in folded for k in range(3, len(detail) + 1))
        else:
            held = detail.lower() in folded
        if not held:
            missing.append(detail)
    return missing


def about_someone_else(memory_text: str) -> bool:
    """The memory is about another person, who is its subject: "我女兒淑芬住在新竹", "My son
    Peter is an engineer" (not "I walk my dog", where the elder is)."""
    if CJK.search(memory_text):
        text = _simplified(memory_text)
        if re.match(r"\s*(?:我|咱)(?:们)?(?:和|跟|与|同)", text):
            return False  # "我和老伴開了麵包店": the elder is a subject too
        start = re.match(r"\s*(?:我|咱)(?:的|家)?(.{1,3})", text)
    else:
        text = memory_text.replace("\u2019", "'")
        if re.match(r"\s*(?:my|our) [\w\s]{1,30}? and (?:i|me)\b", text, re.I):
            return False  # "My wife Jean and I ran a bakery": the elder is a subject too
        start = re.match(r"\s*(?:my|our) (\w+)", text, re.I)
    return bool(start and named_people(start.group(1)))

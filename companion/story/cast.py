"""Who and where, from the elder's words and no model: the rules-first fact reading
(`memory.fact_rules`: "我女兒美玲", "my son David") and, for a story, the ways people are named
in telling one ("阿雄是我先生", "跟阿蓮去看戲", "Tom and I", "my friend, Mary"), each person with their
relation to the elder where the words give it; places by their names (台南, Leeds) and the
locales a scene is set in (紡織廠, 廟口, the mill).

Every person and place keeps the messages it was read from.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from memory.fact_rules import SELF, People, extract_rules
from memory.language import fold

_PLACE_SLOTS = frozenset({"lives_in", "lived_in", "hometown", "born_in", "workplace"})

# Place names a story in these languages often names (Simplified: text is read that way).
_ZH_PLACES = sorted(
    [
        "台北",
        "台中",
        "台南",
        "高雄",
        "基隆",
        "新竹",
        "嘉义",
        "彰化",
        "屏东",
        "宜兰",
        "花莲",
        "台东",
        "澎湖",
        "金门",
        "马祖",
        "桃园",
        "苗栗",
        "南投",
        "云林",
        "鹿港",
        "淡水",
        "北投",
        "板桥",
        "三重",
        "万华",
        "大稻埕",
        "西门町",
        "九份",
        "阿里山",
        "日月潭",
        "垦丁",
        "凤山",
        "新营",
        "斗六",
        "员林",
        "丰原",
        "竹南",
        "罗东",
        "苏澳",
        "旗津",
        "左营",
        "冈山",
        "美浓",
        "安平",
        "关子岭",
        "士林",
        "永和",
        "中和",
        "新庄",
        "艋舺",
        "北京",
        "上海",
        "天津",
        "重庆",
        "广州",
        "深圳",
        "杭州",
        "南京",
        "苏州",
        "无锡",
        "宁波",
        "温州",
        "福州",
        "厦门",
        "泉州",
        "漳州",
        "武汉",
        "长沙",
        "南昌",
        "合肥",
        "济南",
        "青岛",
        "郑州",
        "西安",
        "成都",
        "昆明",
        "贵阳",
        "南宁",
        "海口",
        "兰州",
        "银川",
        "西宁",
        "拉萨",
        "乌鲁木齐",
        "呼和浩特",
        "哈尔滨",
        "长春",
        "沈阳",
        "大连",
        "石家庄",
        "太原",
        "汕头",
        "潮州",
        "佛山",
        "东莞",
        "珠海",
        "扬州",
        "绍兴",
        "桂林",
        "洛阳",
        "开封",
        "延安",
        "香港",
        "澳门",
        "九龙",
        "新加坡",
        "马来西亚",
        "吉隆坡",
        "槟城",
        "日本",
        "东京",
        "大阪",
        "美国",
        "纽约",
        "旧金山",
        "洛杉矶",
        "加拿大",
        "温哥华",
        "多伦多",
        "英国",
        "伦敦",
        "澳洲",
        "雪梨",
        "悉尼",
        "墨尔本",
        "越南",
        "泰国",
        "菲律宾",
        "印尼",
        "韩国",
        "首尔",
        "德国",
        "法国",
        "巴黎",
        "大陆",
        "内地",
        "东北",
        "江南",
        "四川",
        "湖南",
        "湖北",
        "广东",
        "福建",
        "浙江",
        "江苏",
        "山东",
        "河南",
        "河北",
        "山西",
        "陕西",
        "甘肃",
        "云南",
        "贵州",
        "广西",
        "江西",
        "安徽",
        "辽宁",
        "吉林",
        "黑龙江",
        "台湾",
        "海南",
        "宝岛",
    ],
    key=len,
    reverse=True,
)
# Locales: where a scene happens, by its last word (紡織廠, 廟口, 菜市場).
_ZH_LOCALE = (
    r"[\u4e00-\u9fff]{0,4}?(?:纺织厂|工厂|糖厂|厂|庙口|庙|寺|教堂|菜市场|市场|夜市|老街|街|码头|港口|渔港|"
    r"火车站|车站|眷村|村|老家|老房子|三合院|四合院|农场|牧场|机车行|车行|公路|小学|中学|大学|学院|学校|医院|公园|戏院|电影院|稻田|田里|茶园|果园|海边|河边|溪边|"
    r"山上|工地|矿坑|军营|部队|店里|商店|杂货店|裁缝店|米店|布庄|百货公司|公司|银行|邮局|工会)"
)
_ZH_PLACE_BEFORE = (
    r"(?:在|到|去|从|回|住|进|往|来|于|跑|离开|搬到|搬去|嫁到|来到|回到|考上|考进|开了?(?:一家|一间|个)?)"
    r"(?:了|过|的)?"
)
_ZH_NOT_LOCALE = {
    "厂",
    "街",
    "村",
    "庙",
    "店里",
    "公司",
    "学校",
    "这里",
    "那里",
    "家里",
    "哪里",
    "田里",
}
_ZH_NICK = r"(?:阿(?!姨|嬷|嫲|公|婆|伯|爸|妈|母|兄|姐|姊|妹|弟|叔|舅|嫂|哥)[\u4e00-\u9fff]|小(?:[\u4e00-\u9fff])(?<!小时|小学|小孩|小姐|小心|小小|小的|小妹|小弟|小儿|小女|小吃|小店|小镇|小村|小路|小河|小山|小朋)|老(?:[王李张陈林黄吴刘蔡杨许郑谢郭洪邱曾廖赖周叶苏庄吕江何罗高萧潘朱简钟彭游詹胡施沈余卢梁赵颜柯翁魏孙戴范方宋邓杜傅侯曹薛丁卓马董唐蓝蒋石古纪姚连冯欧程汤田康姜白汪邹尤巫钱温黎易常武乔贺赖龚文]))"
_ZH_REL = (
    "大儿子|二儿子|小儿子|儿子|大女儿|二女儿|小女儿|女儿|先生|老公|丈夫|老伴|太太|老婆|妻子|外孙女|孙女|"
    "外孙|孙子|哥哥|弟弟|姐姐|妹妹|姊姊|大哥|二哥|大姐|小妹|爸爸|父亲|妈妈|母亲|儿媳妇|儿媳|媳妇|女婿|"
    "老大|老二|老三|老么|爱人|好朋友|老朋友|朋友|老同学|同学|同事|邻居|初恋|男朋友|女朋友|未婚夫|未婚妻|师傅|老师|侄子|侄女|外甥"
)
_ZH_FAMILY = (
    "大儿子|二儿子|小儿子|儿子|大女儿|二女儿|小女儿|女儿|老公|丈夫|老伴|太太|老婆|外孙女|孙女|外孙|孙子|"
    "哥哥|弟弟|姐姐|妹妹|姊姊|爸爸|父亲|妈妈|母亲|儿媳妇|女婿"
)
# A name right after a relation word, ending where a verb or a time word begins.
_ZH_NAME_AT = (
    r"(?!去年|今年|前年|明天|明年|昨天|今天|上个|下个|每|很|也|都|已|在|住|是|又|还|就|才|的|叫|和|跟|说|有|要|会|"
    r"前|早|晚|以前|后来|现在|小时|那年|出生|结婚)[\u4e00-\u9fff]{2,3}?"
    r"(?=出生|出世|嫁|娶|生了|考上|长大|住|在|是|每|今|去年|前年|昨|上|已|很|也|都|会|要|说|喜|爱|去|来|回|带|"
    r"打|给|的|好|前|[0-9一二三四五六七八九十]|岁|当|做|开|读|念|过|走|搬|早|晚|$|[，。,.\s和跟])"
)
_EN_REL = (
    "son-in-law|daughter-in-law|granddaughter|grandson|grandchild|husband|wife|son|daughter|"
    "brother|sister|mother|father|mom|mum|dad|best friend|friend|neighbour|neighbor|nephew|niece|"
    "cousin|partner|aunt|uncle|child|baby|boy|girl|mate|boyfriend|girlfriend|fiancé|fiancée|sweetheart|teacher|boss"
)
# Capitalised words that are not names (a sentence's first word, days, months, titles).
EN_NOT_NAMES = set(
    [
        "I",
        "I'm",
        "I've",
        "I'll",
        "I'd",
        "AI",
        "OK",
        "Hi",
        "Hello",
        "Thanks",
        "Thank",
        "Yes",
        "No",
        "Oh",
        "Well",
        "So",
        "But",
        "And",
        "The",
        "My",
        "What",
        "How",
        "Do",
        "Can",
        "It",
        "That",
        "This",
        "Today",
        "Yesterday",
        "Sure",
        "Maybe",
        "Also",
        "Recently",
        "Lately",
        "Have",
        "Are",
        "Is",
        "Could",
        "Would",
        "Should",
        "Please",
        "Let",
        "When",
        "Where",
        "Why",
        "Who",
        "Any",
        "Some",
        "Sometimes",
        "Hey",
        "Good",
        "Great",
        "By",
        "In",
        "On",
        "At",
        "For",
        "Yeah",
        "Just",
        "Actually",
        "Does",
        "Did",
        "You",
        "Your",
        "We",
        "Our",
        "They",
        "Their",
        "He",
        "She",
        "His",
        "Her",
        "Me",
        "If",
        "Or",
        "Not",
        "Now",
        "Then",
        "Wow",
        "Really",
        "Anyway",
        "Okay",
        "Mom",
        "Mum",
        "Dad",
        "Mother",
        "Father",
        "Grandma",
        "Grandpa",
        "God",
        "Christmas",
        "Easter",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Dear",
        "Mr",
        "Mrs",
        "Miss",
        "Ms",
        "Dr",
        "After",
        "Before",
        "Back",
        "There",
        "Those",
        "These",
        "Every",
        "Once",
        "Our",
        "Still",
        "Even",
        "English",
        "Chinese",
        "Irish",
        "Scottish",
        "Welsh",
        "American",
        "British",
        "Catholic",
        "Church",
        "Army",
        "Navy",
        "Air",
        "Force",
        "War",
    ]
    + list(calendar.month_name)[1:]
)
_EN_LOCALES = (
    "mill|factory|church|chapel|market|school|farm|harbour|harbor|docks|station|hospital|shop|"
    "bakery|dance hall|cinema|pictures|beach|seaside|lake|river|post office|office|pub|cafe|"
    "café|bank|garage|mine|pit|shipyard|base|camp|barracks|village hall|town hall|park|orchard|"
    "hardware store|cabin"
)
_EN_PLACE_NAME = r"((?:[A-Z][a-z'’.-]+)(?: (?:[A-Z][a-z'’.-]+)){0,2})"

FEMALE = re.compile(
    r"女儿|妈妈|母亲|太太|老婆|妻子|孙女|姐姐|妹妹|姊姊|大姐|小妹|媳妇|侄女|女朋友|未婚妻|老姐妹|"
    r"\b(?:daughter|mother|mom|mum|wife|granddaughter|sister|niece|aunt|girlfriend|fiancée|daughter-in-law)\b",
    re.I,
)
MALE = re.compile(
    r"儿子|先生|老公|丈夫|孙子|外孙(?!女)|哥哥|弟弟|大哥|二哥|爸爸|父亲|女婿|侄子|外甥|男朋友|未婚夫|"
    r"\b(?:son|husband|grandson|brother|father|dad|nephew|uncle|boyfriend|fiancé|son-in-law)\b",
    re.I,
)
# Years between the elder and a relation, for an era-typical age (a generated estimate).
_AGE_GAP = (
    (re.compile(r"外?孙|grand", re.I), -50),
    (re.compile(r"儿子|女儿|媳妇|女婿|侄|外甥|\b(?:son|daughter|nephew|niece)", re.I), -26),
    (re.compile(r"爸爸|父亲|妈妈|母亲|\b(?:father|mother|dad|mom|mum)\b", re.I), 27),
    (re.compile(r"老师|师傅|\b(?:teacher|boss|aunt|uncle)\b", re.I), 20),
)


def gender_of(relation: str | None) -> str | None:
    if not relation:
        return None
    folded = fold(relation)
    if FEMALE.search(folded):
        return "female"
    if MALE.search(folded):
        return "male"
    return None


def age_gap(relation: str | None) -> int:
    folded = fold(relation or "")
    return next((gap for pattern, gap in _AGE_GAP if pattern.search(folded)), 0)


@dataclass
class Found:
    name: str
    relation: str | None = None
    message_ids: set[int] = field(default_factory=set)
    memory_ids: set[int] = field(default_factory=set)
    named: bool = True  # False: known only by the relation ("媽媽", "my mother")


@dataclass
class Cast:
    people: dict[str, Found] = field(default_factory=dict)
    places: dict[str, Found] = field(default_factory=dict)

    def person(self, name: str, relation: str | None, source: int | None, *, named: bool = True):
        key = fold(name).lower()
        found = self.people.setdefault(key, Found(name=name, relation=relation, named=named))
        if relation and (not found.relation or found.relation == found.name):
            found.relation = relation
        if source is not None:
            found.message_ids.add(source)
        return found

    def place(self, name: str, source: int | None) -> Found:
        key = fold(name).lower()
        found = self.places.setdefault(key, Found(name=name))
        if source is not None:
            found.message_ids.add(source)
        return found


def _original(text: str, folded: str, words: str) -> str:
    at = folded.find(words)
    if at >= 0 and len(text) == len(folded):
        return text[at : at + len(words)]
    return words


def _zh_places(text: str, folded: str) -> list[str]:
    found: list[str] = []
    for name in _ZH_PLACES:
        if name in folded and not any(name in f for f in found):
            found.append(name)
    for m in re.finditer(_ZH_PLACE_BEFORE + "(" + _ZH_LOCALE + ")", folded):
        words = m.group(1)
        for name in _ZH_PLACES:  # 台南的紡織廠: the city, then the locale
            words = words.removeprefix(name)
        words = re.sub(r"^(?:的|那个|这个|一家|一间|读|念|上|做|当|住|开|在|到|去)+", "", words)
        if len(words) >= 2 and words not in _ZH_NOT_LOCALE and not any(words in f for f in found):
            found.append(words)
    return [_original(text, folded, f) for f in found]


def _zh_people(folded: str) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    name = rf"({_ZH_NICK}|[\u4e00-\u9fff]{{2,3}}?)"
    for m in re.finditer(
        rf"(?:^|(?<=[，。,、\s]))({_ZH_NICK}|[\u4e00-\u9fff]{{2,3}})是我(?:的)?({_ZH_REL})", folded
    ):
        found.append((m.group(1), m.group(2)))
    for m in re.finditer(
        rf"我(?:的)?({_ZH_REL})(?:叫|叫做|名叫)?{name}(?=[，。,、\s和跟也都在住是每今去前昨已很会要说喜爱来回带打给的当做开读念过走搬早晚年一从常]|$)",
        folded,
    ):
        if re.fullmatch(_ZH_NICK, m.group(2)) or re.search("叫", m.group(0)):
            found.append((m.group(2), m.group(1)))
    for m in re.finditer(
        rf"(?:和|跟|与|同|陪|带|找|给|嫁给|认识了?|遇到|碰到|叫)({_ZH_NICK})", folded
    ):
        found.append((m.group(1), None))
    for m in re.finditer(
        rf"(?:^|(?<=[，。,、\s]))({_ZH_NICK})(?=[和跟也都在常每说带教]|$)", folded
    ):
        found.append((m.group(1), None))
    for m in re.finditer(
        rf"(?:^|(?<=[我的年，。,、\s跟和与同了]))({_ZH_REL})((?!{_ZH_REL}){_ZH_NAME_AT})", folded
    ):
        if m.group(2) and not re.fullmatch(_ZH_REL, m.group(2)):
            found.append((m.group(2), m.group(1)))
    return found


def _zh_relatives(folded: str) -> list[str]:
    """Relatives named only by the relation ("媽媽帶我", "我先生"): characters with no name."""
    return [
        m.group(1)
        for m in re.finditer(
            rf"(?:我的|我|^|(?<=[，。,、\s候时年天]))({_ZH_FAMILY})(?![\u4e00-\u9fff]{{0,1}}(?:叫|是))",
            folded,
        )
    ]


def _en_places(text: str, people: set[str]) -> list[str]:
    found: list[str] = []
    for m in re.finditer(
        r"\b(?:in|at|on|to|from|near|into|outside|around|across|left|visit(?:ed)?|moved to)\s+"
        + _EN_PLACE_NAME,
        text,
    ):
        name = m.group(1).rstrip(".'’")
        first = name.split()[0]
        if first in EN_NOT_NAMES or first.removesuffix("s") in EN_NOT_NAMES or name in people:
            continue
        if name not in found:
            found.append(name)
        after = re.match(r",\s+" + _EN_PLACE_NAME, text[m.end() :])  # Dayton, Ohio
        if after and after.group(1).split()[0] not in EN_NOT_NAMES and after.group(1) not in found:
            found.append(after.group(1))
    for m in re.finditer(
        rf"\b(?:at|in|on|to|from|near|into|outside|by|above|behind|ran|opened|owned|kept|bought)"
        rf" (?:the|a|an|my|our|his|her|(?:my |our )?[a-z]+'s) ({_EN_LOCALES})\b",
        text,
        re.I,
    ):
        name = f"the {m.group(1).lower()}"
        if name not in found:
            found.append(name)
    return found


def _en_people(text: str) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    cap = r"([A-Z][a-z]+)"
    for m in re.finditer(rf"\b{cap},? (?:was|is|became)? ?(?:my|our) ({_EN_REL})\b", text):
        found.append((m.group(1), m.group(2)))
    for m in re.finditer(
        rf"\b(?i:my|our) (?:first |eldest |youngest |oldest |little )?({_EN_REL}),? "
        rf"(?:(?:was )?(?:called|named) )?{cap}\b",
        text,
    ):
        found.append((m.group(2), m.group(1)))
    for m in re.finditer(
        rf"\b(?:with|met|married|marry|and|beside|visit(?:ed)?|called|named|love[ds]?|kissed|saw|"
        rf"taught|helped|told|asked|dance[ds]? with) {cap}\b|\b{cap} and (?:I|me)\b",
        text,
    ):
        name = m.group(1) or m.group(2)
        found.append((name, None))
    return [(n, r) for n, r in found if n not in EN_NOT_NAMES]


def read_cast(messages: Iterable[tuple[int, str, str]]) -> Cast:
    """People and places in the elder's messages ((id, text, language), oldest first)."""
    cast = Cast()
    known = People()
    messages = list(messages)
    for message_id, text, language in messages:
        for fact in extract_rules(text, language, people=known):
            if fact.subject != SELF:
                named = fact.relation is None or fold(fact.subject) != fold(fact.relation)
                if named and fact.subject[:1].isascii() and fact.subject[:1].islower():
                    continue
                cast.person(fact.subject, fact.relation, message_id, named=named)
            if fact.attribute == "spouse" and fact.value:
                cast.person(fact.value, f"{fact.subject}'s spouse", message_id)
            if fact.attribute in _PLACE_SLOTS and fact.value:
                for place in _split_place(fact.value, language):
                    cast.place(place, message_id)
        if language.startswith("zh"):
            folded = fold(text)
            for name, relation in _zh_people(folded):
                cast.person(
                    _original(text, folded, name),
                    _original(text, folded, relation) if relation else None,
                    message_id,
                )
            for relation in _zh_relatives(folded):
                if not any(
                    p.relation and fold(p.relation) == relation and p.named
                    for p in cast.people.values()
                ):
                    word = _original(text, folded, relation)
                    cast.person(word, word, message_id, named=False)
            for place in _zh_places(text, folded):
                cast.place(place, message_id)
        else:
            for name, relation in _en_people(text):
                cast.person(name, relation, message_id)
    names = {p.name for p in cast.people.values()}
    for message_id, text, language in messages:
        if not language.startswith("zh"):
            for place in _en_places(text, names):
                cast.place(place, message_id)
    # Whoever is named is in every message that names them.
    for message_id, text, _language in messages:
        folded = fold(text).lower()
        for key, person in cast.people.items():
            if person.named and _mentioned(key, folded):
                person.message_ids.add(message_id)
        for key, place in cast.places.items():
            if _mentioned(key, folded):
                place.message_ids.add(message_id)
    named = {fold(p.relation or "") for p in cast.people.values() if p.named}
    for key in [  # "外孫女" beside "外孫女豆豆": the same person
        k for k, p in cast.people.items() if not p.named and fold(p.relation or "") in named
    ]:
        unnamed = cast.people.pop(key)
        person = next(
            p
            for p in cast.people.values()
            if p.named and fold(p.relation or "") == fold(unnamed.relation or "")
        )
        person.message_ids |= unnamed.message_ids
    for key in [k for k in cast.people if k in cast.places]:  # a name read both ways: a place
        del cast.people[key]
    for key in [  # "志明考" beside "志明": a name read with the verb after it
        k for k in cast.people if any(k != o and k.startswith(o) for o in cast.people)
    ]:
        longer = cast.people.pop(key)
        shorter = next(p for o, p in cast.people.items() if key.startswith(o))
        shorter.message_ids |= longer.message_ids
        shorter.relation = shorter.relation or longer.relation
    return cast


def _mentioned(key: str, folded: str) -> bool:
    key = re.sub(r"^(?:the|a|an) ", "", key)  # "the mill" is in "at a mill"
    if key.isascii():
        return re.search(rf"\b{re.escape(key)}\b", folded) is not None
    return key in folded


def _split_place(value: str, language: str) -> list[str]:
    """ "台南的紡織廠" is a city and a locale; "the mill" stays one."""
    if not language.startswith("zh"):
        value = value.strip()
        if value[:1].isupper():
            return [value]
        return [f"the {value.removeprefix('the ')}"] if value else []
    folded = fold(value)
    parts = [p for p in re.split("的", folded) if len(p) >= 2]
    return [_original(value, folded, p) for p in parts] or [value]


def mentioned(text: str, name: str) -> bool:
    """Whether the words name this person or place."""
    return _mentioned(fold(name).lower(), fold(text).lower())

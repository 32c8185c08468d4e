"""Facts the rules can read with no model, in zh-Hant, zh-Hans and English: names and
relations ("我女兒叫美玲", "my son David"), where someone lives or lived, job and workplace,
school, birth year and place, routines with their day and time, likes and dislikes, pets,
health and medicine, deaths (sensitive), and the spouse of a relative ("his wife Karen").

Each fact says whom it is about: the elder ("self") or a named person with their relation to
the elder, so that "My son David lives in Denver with his wife Karen" gives David a home and
a wife, and the elder neither. Values are the message's own words; the fact's text is a
sentence in the message's language and script, in the second person ("您的兒子志明住在高雄").
Only statements are read (`memory.utterance`): a question gives nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from memory.language import fold, in_script
from memory.utterance import statement_text

SELF = "self"

# The kind of memory each slot is.
KIND_OF = {
    "name": "person",
    "relation": "relationship",
    "spouse": "relationship",
    "lives_in": "place",
    "lived_in": "place",
    "hometown": "place",
    "born_in": "place",
    "birth_year": "event",
    "job": "event",
    "workplace": "place",
    "school": "event",
    "routine": "routine",
    "likes": "preference",
    "dislikes": "preference",
    "pet": "person",
    "health_condition": "health",
    "medicine": "health",
    "died": "event",
}

# Words for the elder's relatives and friends (Chinese in Simplified: text is read that way),
# longest first so that 外孙女 is not read as 孙女.
_ZH_RELATIONS = sorted(
    [
        "儿子",
        "大儿子",
        "二儿子",
        "三儿子",
        "小儿子",
        "女儿",
        "大女儿",
        "二女儿",
        "小女儿",
        "闺女",
        "大闺女",
        "小闺女",
        "先生",
        "老公",
        "丈夫",
        "老伴",
        "太太",
        "老婆",
        "妻子",
        "孙子",
        "孙女",
        "外孙",
        "外孙女",
        "哥哥",
        "弟弟",
        "姐姐",
        "妹妹",
        "姊姊",
        "大哥",
        "二哥",
        "大姐",
        "小妹",
        "爸爸",
        "父亲",
        "妈妈",
        "母亲",
        "媳妇",
        "儿媳妇",
        "儿媳",
        "女婿",
        "朋友",
        "老朋友",
        "好朋友",
        "老姐妹",
        "老同学",
        "邻居",
        "侄子",
        "侄女",
        "外甥",
    ],
    key=len,
    reverse=True,
)
_EN_RELATIONS = [
    "son",
    "daughter",
    "husband",
    "wife",
    "grandson",
    "granddaughter",
    "grandchild",
    "brother",
    "sister",
    "mother",
    "father",
    "mom",
    "mum",
    "dad",
    "friend",
    "neighbor",
    "neighbour",
    "nephew",
    "niece",
    "cousin",
    "son-in-law",
    "daughter-in-law",
    "partner",
    "aunt",
    "uncle",
]
# How family members speaking name the elder: then "媽媽" is the elder, not the elder's mother.
_ZH_ELDER_AS_FAMILY = "妈妈|妈|爸爸|爸|奶奶|阿嬷|外婆|爷爷|外公|阿公"
_EN_ELDER_AS_FAMILY = "mom|mum|mother|dad|father|grandma|granny|grandpa|nana"

_ZH_REL = "|".join(_ZH_RELATIONS)
_EN_REL = "|".join(sorted(_EN_RELATIONS, key=len, reverse=True))

# A Chinese name right after a relation word: two or three characters, then a verb, a time
# word or punctuation ("我女兒美玲住在台中", "我老伴老李十年前走了").
_ZH_NOT_NAME = (
    "去年|今年|前年|明天|明年|昨天|今天|上个|上礼拜|上星期|下个|每|很|也|都|已|在|住|是|又|还|就|才|"
    "的|叫|和|跟|说|有|要|会|前|早|晚|以前|后来|现在|"
    # a span of time or a count is no name: 我先生十年前走了, 我女儿两个月前搬走了
    "[零一二两三四五六七八九十百几半]+(?:年|个|岁|天|点|月|周|礼拜|星期|次)|"
    # 老伴儿姓刘: the 儿 of the relation word, then a surname said
    "儿|姓"
)
_ZH_AFTER_NAME = (
    r"(?=住|在|是|每|今|去年|前年|昨|上|已|很|也|都|会|要|说|喜|爱|去|来|回|带|打|给|的|前|"
    r"十|[0-9]|当|做|开|读|念|过|走|搬|早|晚|年|一|嫁|娶|生|养|教|退|考|$|[，。,.\s])"
)
_ZH_NAME = rf"([A-Za-z]+|(?!{_ZH_NOT_NAME})[\u4e00-\u9fff]{{2,3}}?{_ZH_AFTER_NAME})"
_ZH_CALLED = r"(?:叫做|名叫|叫|的名字是|的名字叫|名字叫)"
_ZH_FULL_NAME = r"([A-Za-z]+|[\u4e00-\u9fff]{2,4}?(?=[，。,.\s]|今年|是|$))"
_ZH_PLACE_END = (
    r"(?=的|，|。|、|,|\.|了|啦|呢|跟|和|与|一带|附近|那边|住|已|多|很|三|十|几|当|做|工作|上班|"
    r"读|念|上学|开|出生|$|\s)"
)
_ZH_PLACE = rf"([\u4e00-\u9fff]{{2,8}}?{_ZH_PLACE_END})"
_ZH_JOBS = (
    "老师|教师|医生|护士|工程师|工人|农民|会计|司机|警察|裁缝师|裁缝|厨师|律师|商人|军人|公务员|"
    "校长|店员|秘书|教授|记者|木匠|理发师|邮差|清洁工|保姆|家庭主妇|主妇|药剂师|银行员|售货员|"
    "教书|种田|卖菜|做生意|开店"
)
_ZH_CONDITIONS = (
    "高血压|糖尿病|关节炎|心脏病|失智症|失智|老人痴呆|骨质疏松|气喘|哮喘|白内障|青光眼|痛风|"
    "帕金森|中风|癌症|肾病|胃病|失眠|高血脂|肺病|风湿"
)
_ZH_DRUGS = (
    r"阿司匹林|阿斯匹灵|二甲双胍|氨氯地平|降压药|降血压的药|降血糖的药|胰岛素|"
    r"[\u4e00-\u9fffA-Za-z]{1,8}?(?:药|片|胶囊|胍|平|林|灵|素)"
)
_ZH_ROUTINE = (
    r"每(?:个|一个)?(?:礼拜|星期|周|週)[一二三四五六日天]|每(?:个)?(?:礼拜|星期|周)|每天|每日|"
    r"每(?:个)?月|每年|每晚|每早|(?<![今昨明前后当每])天天"
)
_ZH_DEATH = r"去世|过世|走了|不在了|死了|往生|离开了我们"

_EN_PLACE = r"((?-i:[A-Z][\w'.-]*)(?: (?-i:[A-Z][\w'.-]*))*)"
_EN_NAME = r"((?-i:[A-Z][a-z]+))"
_EN_JOBS = (
    "nurse|teacher|doctor|engineer|farmer|mailman|postman|secretary|accountant|librarian|"
    "lawyer|policeman|police officer|firefighter|fireman|carpenter|electrician|plumber|"
    "mechanic|chef|cook|baker|butcher|tailor|seamstress|hairdresser|barber|pharmacist|"
    "professor|principal|clerk|typist|bookkeeper|banker|dentist|soldier|sailor|pilot|"
    "housewife|homemaker|miner|driver|truck driver|bus driver|salesman|shopkeeper|waitress|"
    "social worker|architect|journalist|musician|minister|pastor|priest|nanny|cleaner"
)
_EN_CONDITIONS = (
    r"(?:type \d )?diabetes|high blood pressure|hypertension|arthritis|dementia|asthma|"
    r"heart disease|a bad heart|heart trouble|osteoporosis|glaucoma|cataracts|parkinson'?s|"
    r"copd|gout|cancer|high cholesterol|alzheimer'?s|a bad back|a bad hip|a bad knee"
)
_EN_DRUG = (
    r"([a-z]+(?:ol|in|ine|pril|pine|tan|statin|formin|azole|cillin|ide|one|am|arin|xin|lin)|"
    r"[A-Za-z]+ (?:pills|tablets|capsules)|insulin|aspirin|warfarin)\b"
)
_EN_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_EN_ROUTINE = re.compile(
    rf"\bevery (?:day|morning|afternoon|evening|night|week|weekend|month|year|{_EN_DAYS})\b|"
    rf"\bon (?:{_EN_DAYS})s\b|\bdaily\b",
    re.I,
)


@dataclass(frozen=True)
class FoundFact:
    """A fact read from a statement: whom it is about, the slot, the value as said."""

    attribute: str
    value: str
    text: str
    subject: str = SELF
    relation: str | None = None  # the subject's relation to the elder, as said ("兒子", "son")
    sensitive: bool = False

    @property
    def kind(self) -> str:
        return KIND_OF.get(self.attribute, "event")


@dataclass
class People:
    """Who has been named so far (name: relation), and who "he" or "she" is now: carried from
    message to message of one conversation."""

    relations: dict[str, str] = field(default_factory=dict)
    last: str | None = None

    def meet(self, name: str, relation: str | None) -> None:
        if relation:
            self.relations[name] = relation
        self.last = name


@dataclass
class _Subject:
    name: str  # SELF, a person's name, or the relation word when no name is said
    relation: str | None
    rest: str  # what the sentence says of them


def _fold(text: str) -> str:
    return fold(text)


# A full stop after a title or "St" does not end the sentence: "a nurse at St. Mary's".
_SENTENCE_END = re.compile(
    r"[。！!；;\n]|(?<=[A-Za-z0-9)\"'])(?<!\bSt)(?<!\bMt)(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bMrs)"
    r"(?<!\bJr)(?<!\bSr)\.(?:\s|$)"
)


def _sentences(text: str) -> Iterator[str]:
    for part in _SENTENCE_END.split(text):
        if part.strip():
            yield part.strip()


def extract_rules(
    text: str, language: str, *, people: People | None = None, by_family: bool = False
) -> list[FoundFact]:
    """The facts the rules find in a message (only in its statements). `people` carries names
    across messages; `by_family`: a family member speaking ("Mom takes...": the elder)."""
    people = people if people is not None else People()
    said = statement_text(text)
    found: list[FoundFact] = []
    chinese = language.startswith("zh")
    sentences = list(_sentences(said))
    if chinese:  # "我有三個囡仔，老大住在桃園": the clause after the comma is the eldest's
        sentences = [c for t in sentences for c in _ZH_CLAUSE_OF_SOMEONE.split(t) if c.strip()]
    for sentence in sentences:
        if chinese:
            folded = _fold(sentence)
            found += [
                _written(f, language, _original(sentence, folded), by_family=by_family)
                for f in _read_zh(folded, people, by_family)
            ]
        else:
            found += [
                _written(f, language, None, by_family=by_family)
                for f in _read_en(sentence, people, by_family)
            ]
    unique: dict[tuple[str, str, str], FoundFact] = {}
    for fact in found:
        unique.setdefault((fact.subject, fact.attribute, fact.value.lower()), fact)
    return list(unique.values())


# --- Chinese -------------------------------------------------------------------------------


_ZH_ELDEST = "老大|老二|老三|老四|老幺|老么"
# A comma, then a clause that opens with someone of the family: that clause is about them.
_ZH_CLAUSE_OF_SOMEONE = re.compile(rf"[，,]\s*(?=(?:{_ZH_ELDEST})(?!的))")


def _zh_subject(sentence: str, people: People, by_family: bool) -> tuple[_Subject, list]:
    """Whom the sentence is about, and the relation facts its opening says."""
    s = re.sub(
        r"^(后来|以前|现在|当年|那时候|年轻时|年轻的时候|去年|今年|其实|对了|嗯|啊)", "", sentence
    )
    s = s.lstrip("，, ")
    facts: list[FoundFact] = []
    if by_family:
        m = re.match(rf"^(?:我)?({_ZH_ELDER_AS_FAMILY})(?!的)", s)
        if m:
            return _Subject(SELF, None, s[m.end() :]), facts
    m = re.match(
        rf"^(?:我的|我家的|我家|我们家的|我们家|我)({_ZH_REL}){_ZH_CALLED}{_ZH_FULL_NAME}", s
    )
    if m:
        rel, name = m.group(1), m.group(2)
        people.meet(name, rel)
        facts.append(FoundFact("relation", rel, "", subject=name, relation=rel))
        return _Subject(name, rel, s[m.end() :]), facts
    m = re.match(rf"^(?:我的|我家的|我家|我们家的|我们家|我)({_ZH_REL})(?:{_ZH_NAME})?", s)
    if m:
        rel, name = m.group(1), m.group(2)
        if name:
            people.meet(name, rel)
            facts.append(FoundFact("relation", rel, "", subject=name, relation=rel))
            return _Subject(name, rel, s[m.end() :]), facts
        known = [n for n, r in people.relations.items() if r == rel]
        subject = known[-1] if len(known) == 1 else rel
        people.last = subject
        return _Subject(subject, rel, s[m.end() :]), facts
    known = "|".join(re.escape(n) for n in sorted(people.relations, key=len, reverse=True))
    m = re.match(
        rf"^(他|她|{known or '(?!)'})的?(太太|老婆|妻子|先生|老公|丈夫|媳妇)(?:叫做|叫|是)?"
        + _ZH_FULL_NAME,
        s,
    )
    if m and re.match(r"(个|一个|一名|一位|位|名)", m.group(3)):
        m = None  # "丽娟的老公是个警察": what the spouse does, not their name
    job = re.match(
        rf"^(他|她|{known or '(?!)'})的(太太|老婆|妻子|先生|老公|丈夫|媳妇)(?=是|在|当|做)", s
    )
    if not m and job:
        owner = people.last if job.group(1) in ("他", "她") else job.group(1)
        if owner:
            spouse = f"{owner}的{job.group(2)}"
            return _Subject(spouse, spouse, s[job.end() :]), facts
    owner = (people.last if m.group(1) in ("他", "她") else m.group(1)) if m else None
    if m and owner:
        facts.append(
            FoundFact(
                "spouse", m.group(3), "", subject=owner, relation=people.relations.get(owner)
            )
        )
        # What follows is said of the spouse: "建国的媳妇叫小丽，是个中学老师".
        spouse, relation = m.group(3), f"{owner}的{m.group(2)}"
        people.meet(spouse, relation)
        return _Subject(spouse, relation, s[m.end() :]), facts
    m = re.match(rf"^(?:我们家的|我们家|我家的|我家|我的|我)?({_ZH_ELDEST})(?!的)", s)
    if m:  # 老大 (the eldest child), named or not: 我们家老大叫张伟
        rel, rest = m.group(1), s[m.end() :]
        named = re.match(rf"{_ZH_CALLED}{_ZH_FULL_NAME}", rest)
        if named:
            people.meet(named.group(1), rel)
            facts.append(FoundFact("relation", rel, "", subject=named.group(1), relation=rel))
            return _Subject(named.group(1), rel, rest[named.end() :]), facts
        people.last = rel
        return _Subject(rel, rel, rest), facts
    m = re.match(r"^(他|她)", s)
    if m and people.last:
        return _Subject(people.last, people.relations.get(people.last), s[m.end() :]), facts
    for name in sorted(people.relations, key=len, reverse=True):
        if s.startswith(name):
            people.last = name
            return _Subject(name, people.relations[name], s[len(name) :]), facts
    if s.startswith("我"):
        return _Subject(SELF, None, s), facts
    return _Subject(SELF, None, s), facts


def _read_zh(sentence: str, people: People, by_family: bool) -> list[FoundFact]:
    subject, facts = _zh_subject(sentence, people, by_family)
    rest = subject.rest
    me = subject.name == SELF

    def add(attribute: str, value: str | None, *, sensitive: bool = False) -> None:
        value = (value or "").strip("，。,. ")
        if value:
            facts.append(
                FoundFact(
                    attribute,
                    value,
                    "",
                    subject=subject.name,
                    relation=subject.relation,
                    sensitive=sensitive,
                )
            )

    if me:
        m = re.search(rf"我(?:{_ZH_CALLED}){_ZH_FULL_NAME}", rest)
        if m and not re.match(_ZH_REL, m.group(1)):
            add("name", m.group(1))
        m = re.search(r"我姓([\u4e00-\u9fff])[，,\s]*叫([\u4e00-\u9fff]{2,3})", rest)
        if m:
            add("name", m.group(2))
        m = re.search(rf"我是{_ZH_PLACE}人", rest)
        if m and m.group(1) not in ("一个", "好", "老"):
            add("hometown", m.group(1))
    m = re.search(rf"老家在{_ZH_PLACE}", rest)
    if m:
        add("hometown", m.group(1))
    # where they live, lived, moved to
    # lived there once: 以前, 小时候, Taiwanese 细汉 ("when I was small")
    before = r"(?:以前|小时候|细汉|年轻时|年轻的时候|那时候|曾经)"
    past = re.search(rf"{before}住在|{before}住|住过", rest) or (
        re.match(before, sentence) and re.search("住在|住", rest)
    )
    if past:
        m = re.search(rf"(?:{before}住在|{before}住|住过|住在|住){_ZH_PLACE}", rest)
        if m:
            add("lived_in", m.group(1))
    m = re.search(
        rf"(?:搬到|搬去|搬来|搬回)(?:了)?(?:跟.{{1,5}}?住在|.{{1,5}}?家[，,\s]*现在住在)?{_ZH_PLACE}",
        rest,
    )
    if m and not m.group(1).endswith("家"):
        add("lives_in", m.group(1))
    elif not past:
        m = re.search(rf"(?<!以前)(?<!小时候)(?<!细汉)(?:住在|住)(?!过|了){_ZH_PLACE}", rest)
        if m:
            add("lives_in", m.group(1))
    # birth
    m = re.search(
        r"(民国[一二三四五六七八九十零〇\d]{1,4}年|\d{4}年|[一二三四五六七八九〇零]{4}年)", rest
    )
    if m and "出生" in rest:
        add("birth_year", m.group(1).removesuffix("年") if m.group(1)[0].isdigit() else m.group(1))
    m = re.search(rf"在{_ZH_PLACE}出生|出生(?:在|于){_ZH_PLACE}", rest)
    if m:
        add("born_in", m.group(1) or m.group(2))
    # job, workplace, school
    m = re.search(
        rf"(?:是|当过|当了|当|做过|做)(?:一名|一个|个|名)?(?:[\u4e00-\u9fff]{{1,6}}的)?([\u4e00-\u9fff]{{0,4}}?(?:{_ZH_JOBS}))",
        rest,
    )
    if m:
        add("job", m.group(1))
        w = re.search(rf"是({_ZH_PLACE[1:-1]})的(?:{_ZH_JOBS})", rest)
        if w:
            add("workplace", w.group(1))
    else:
        m = re.search(rf"(?:在[\u4e00-\u9fff]{{1,6}}?)?({_ZH_JOBS})", rest)
        if m and re.search(r"教书|种田|卖菜|做生意|开店", m.group(1)):
            add("job", m.group(1))
    m = re.search(
        r"在([\u4e00-\u9fff]{0,8}?(?:厂|公司|医院|学校|银行|市场|店|局|工厂|邮局|小学|中学))(?:上班|工作|当|教书)",
        rest,
    )
    if m:
        add("workplace", m.group(1))
    m = re.search(
        r"(?:读|念|唸|毕业于|毕业|上(?=(?:大学|高中|初中|中学|小学|幼儿园)))([\u4e00-\u9fff]{0,6}?(?:大学|高中|初中|中学|小学|学校|学院|幼儿园))",
        rest,
    )
    if m:
        add("school", m.group(1))
    # health and medicine
    m = re.search(rf"(?:有|得了|得过|患了|患有)({_ZH_CONDITIONS})", rest)
    if m:
        add("health_condition", m.group(1))
    medicine = re.search(
        rf"(?:吃的药是|吃的是|服用|吃)(?:一颗|两颗|一粒|两粒|一片|两片|半颗)?({_ZH_DRUGS})", rest
    )
    if medicine:
        add("medicine", medicine.group(1))
    # routine
    m = re.search(_ZH_ROUTINE, rest)
    if m and not medicine:
        add("routine", re.sub(r"[了啦呢喔哦]+$", "", rest[m.start() :]))
    # likes
    m = re.search(r"(?:不喜欢|不爱|讨厌|最怕|受不了)(.+)", rest)
    if m:
        add("dislikes", m.group(1))
    else:
        m = re.search(r"(?:很|最|非常|特别|真|也)?(?:喜欢|爱)((?:吃|喝|看|听|唱|去|玩)?.+)", rest)
        if m and not re.match(r"^(您|你|我)$", m.group(1)):
            add("likes", m.group(1))
    # pets
    m = re.search(
        r"(?:养了|养|有)(?:一|两|几)?(?:只|条|个)?(?:小)?(狗|猫|鸟|鱼|兔子)[，,\s]*(?:叫做|叫)([\u4e00-\u9fffA-Za-z]{1,4})",
        rest,
    )
    m = m or re.search(
        r"(?:的|家的)(狗|猫|鸟|鱼|兔子)(?:叫做|叫)([\u4e00-\u9fffA-Za-z]{1,4})", rest
    )
    if m:
        add("pet", m.group(2))
    # deaths: sensitive
    m = re.search(rf"(\d{{4}})年.{{0,4}}(?:{_ZH_DEATH})|({_ZH_DEATH})", rest)
    if m and not me:
        add("died", m.group(1) or m.group(2), sensitive=True)
    return facts


# --- English -------------------------------------------------------------------------------


# Capitalised at the start of a sentence, and nobody's name.
_EN_NOT_OPENING_NAMES = frozenset(
    "i we you they he she it there this that these those my our your their everyone everybody "  # noqa: SIM905
    "nobody someone somebody mum mom dad mother father grandma grandpa nan it's what who".split()
)


def _en_subject(sentence: str, people: People, by_family: bool) -> tuple[_Subject, list]:
    s = re.sub(
        r"^(?:(?:last \w+|in \d{4}|years ago|back then|these days|now|well|oh|and|so),?\s+)+",
        "",
        sentence,
        flags=re.I,
    )
    facts: list[FoundFact] = []
    if by_family:
        m = re.match(rf"^(?:{_EN_ELDER_AS_FAMILY})\b(?!'s)", s, re.I)
        if m:
            return _Subject(SELF, None, "she" + s[m.end() :]), facts
    m = re.match(
        rf"^(?:I lost )?(?:my|our) (late )?({_EN_REL})(?:'s name is| is called| is named|,)? {_EN_NAME}\b,?",
        s,
        re.I,
    )
    if m:
        rel, name = m.group(2).lower(), m.group(3)
        people.meet(name, rel)
        facts.append(FoundFact("relation", rel, "", subject=name, relation=rel))
        if m.group(1) or s.lower().startswith("i lost"):
            facts.append(
                FoundFact(
                    "died",
                    "late" if m.group(1) else "lost",
                    "",
                    subject=name,
                    relation=rel,
                    sensitive=True,
                )
            )
        return _Subject(name, rel, s[m.end() :]), facts
    m = re.match(rf"^{_EN_NAME} is my ({_EN_REL})\b", s, re.I)
    if m:
        name, rel = m.group(1), m.group(2).lower()
        people.meet(name, rel)
        facts.append(FoundFact("relation", rel, "", subject=name, relation=rel))
        return _Subject(name, rel, s[m.end() :]), facts
    m = re.match(rf"^(?:my|our) (late )?({_EN_REL})\b", s, re.I)
    if m:
        rel = m.group(2).lower()
        known = [n for n, r in people.relations.items() if r == rel]
        subject = known[-1] if len(known) == 1 else rel
        people.last = subject
        return _Subject(subject, rel, s[m.end() :]), facts
    m = re.match(r"^(he|she)\b", s, re.I)
    if m and people.last:
        return _Subject(people.last, people.relations.get(people.last), s[m.end() :]), facts
    for name in sorted(people.relations, key=len, reverse=True):
        if re.match(rf"^{re.escape(name)}\b", s):
            people.last = name
            return _Subject(name, people.relations[name], s[len(name) :]), facts
    # Someone named and not yet known opens the sentence: "Sue lives in Perth now" is Sue's.
    m = re.match(
        r"^((?-i:[A-Z][a-z]+))\s+(?=(?:lives|lived|works|worked|is|was|has|had|goes|went|moved|"
        r"studies|studied|teaches|taught|married|runs|ran|owns|plays|calls|visits)\b)",
        s,
    )
    if m and m.group(1).lower() not in _EN_NOT_OPENING_NAMES:
        people.last = m.group(1)
        return _Subject(m.group(1), None, s[m.end() :]), facts
    return _Subject(SELF, None, s), facts


def _read_en(sentence: str, people: People, by_family: bool) -> list[FoundFact]:
    subject, facts = _en_subject(sentence, people, by_family)
    rest = subject.rest
    me = subject.name == SELF

    def add(attribute: str, value: str | None, *, sensitive: bool = False) -> None:
        value = (value or "").strip(" ,.;!")
        if value:
            facts.append(
                FoundFact(
                    attribute,
                    value,
                    "",
                    subject=subject.name,
                    relation=subject.relation,
                    sensitive=sensitive,
                )
            )

    if me:
        m = re.search(
            rf"\bmy name is {_EN_NAME}|\bcall me {_EN_NAME}|^I'?m {_EN_NAME}\b(?=,|$| and)|\bI am called {_EN_NAME}",
            rest,
            re.I,
        )
        if m:
            add("name", next(g for g in m.groups() if g))
        m = re.search(rf"\bI'?m from {_EN_PLACE}|\bI come from {_EN_PLACE}", rest)
        if m:
            add("hometown", m.group(1) or m.group(2))
    m = re.search(
        rf"\b(?:with )?(?:his|her|their) (wife|husband|partner)(?: is| is called|,)? {_EN_NAME}",
        rest,
        re.I,
    )
    if m and not me:
        add("spouse", m.group(2))
    m = re.search(rf"\b(used to live|lived|was living) (?:in|on|at) {_EN_PLACE}", rest, re.I)
    if m:
        add("lived_in", m.group(2))
    else:
        m = re.search(
            rf"\b(?:lives?|living|'m living|am living|still live) (?:in|at|on) (?:a [\w ]{{1,20}}? in )?{_EN_PLACE}",
            rest,
            re.I,
        )
        m = m or re.search(
            rf"\bmoved (?:back )?to (?:an? [\w ]{{1,25}}? in )?{_EN_PLACE}", rest, re.I
        )
        if m:
            add("lives_in", m.group(1))
    m = re.search(rf"\bgrew up (?:[\w ]{{0,20}}? )?in {_EN_PLACE}", rest, re.I)
    if m:
        add("hometown", m.group(1))
    m = re.search(rf"\bborn (?:and raised )?in {_EN_PLACE}", rest, re.I)
    if m:
        add("born_in", m.group(1))
    m = re.search(r"\bborn (?:[\w ]{0,25}? )?(?:in )?((?:19|20)\d\d)\b", rest, re.I)
    if m:
        add("birth_year", m.group(1))
    # job, workplace, school
    m = re.search(
        rf"\b(?:was|am|'m|is|were|are) (?:a|an) (?:retired |former )?({_EN_JOBS})\b", rest, re.I
    )
    m = m or re.search(r"\bworked as (?:a|an) ((?:\w+ )?\w+?)\b(?= for| at| in|,|$)", rest, re.I)
    m = m or re.search(
        r"\b(taught (?!(?:at|in|for|from|there|until|till|on|with|a|the)\b)(?:\w+ grade|\w+))\b",
        rest,
        re.I,
    )
    if m:
        add("job", m.group(1))
    m = re.search(
        rf"\b(?:works?|worked|working|taught|was a \w+|teach(?:es)?)\b[\w ]{{0,25}}? at (?:the |a |an )?({_EN_PLACE[1:-1]}|[a-z]+(?: [a-z]+)?)(?= for| in| since| when|,|$)",
        rest,
    )
    if m:
        add("workplace", m.group(1))
    m = re.search(rf"\b(?:went to|go to|goes to|graduated from|studied at) {_EN_PLACE}", rest)
    if m and re.search(r"School|College|University|High|Elementary|Academy|Institute", m.group(1)):
        add("school", m.group(1))
    m = re.search(r"\b(?:is|are|was) studying ([a-z]+(?: [a-z]+)?)(?= in| at|,|$)", rest, re.I)
    if m:
        add("school", m.group(1))
    # health and medicine
    m = re.search(
        rf"\b(?:have|has|had|got|suffer from|diagnosed with) ({_EN_CONDITIONS})\b", rest, re.I
    )
    if m:
        add("health_condition", re.sub(r"^type \d ", "", m.group(1)))
    medicine = re.search(
        rf"\b(?:take|takes|taking|took|'m on|am on|is on|prescribed|put (?:me|her|him) on) {_EN_DRUG}",
        rest,
        re.I,
    )
    if medicine:
        add("medicine", medicine.group(1))
    # routine: what they do, with when
    if _EN_ROUTINE.search(rest) and not medicine:
        verb = re.sub(
            r"^(?:I|we|he|she|they)\s+(?:usually |always |still |often )?",
            "",
            rest.strip(),
            flags=re.I,
        )
        add("routine", verb)
    # likes and dislikes
    m = re.search(
        r"\b(?:don'?t|do not|never|doesn'?t|didn'?t) (?:really )?(?:like|enjoy|care for)\s+(.+?)(?=,|$| because| but)|\b(?:hate|hated|can'?t stand)\s+(.+?)(?=,|$| because| but)",
        rest,
        re.I,
    )
    if m:
        add("dislikes", m.group(1) or m.group(2))
    else:
        m = re.search(
            r"\b(?<!would )(?<!'d )(?:love|loves|loved|like|likes|liked|enjoy|enjoys|enjoyed|adore|adored)\s+(?!to (?:ask|know|talk))(.+?)(?=,|$| because| but| when)",
            rest,
            re.I,
        )
        m = m or re.search(r"\bfavou?rite [\w ]{1,20}? (?:is|was) (.+?)(?=,|$)", rest, re.I)
        if m and not re.match(r"^(you|it|that|this|him|her|them)\b", m.group(1), re.I):
            add("likes", re.sub(r"^(?:really |very much )", "", m.group(1)))
    # pets
    m = re.search(
        r"\bhave (?:a|an|one|two|three)(?: little| old| big| small| lovely)? (?:dog|cat|bird|parrot|budgie|rabbit|puppy|kitten)s?,?(?: (?:called|named))? "
        + _EN_NAME
        + r"(?: and "
        + _EN_NAME
        + ")?",
        rest,
        re.I,
    )
    m = m or re.search(
        r"\b(?:my|our|with my|with our) (?:little |old )?(?:dog|cat|bird|parrot|budgie|rabbit|puppy|kitten)(?:'s name is| is called| named|,)? "
        + _EN_NAME
        + r"(?: and "
        + _EN_NAME
        + ")?",
        rest,
        re.I,
    )
    if m:
        for name in m.groups():
            if name:
                add("pet", name)
    # deaths: sensitive
    m = re.search(
        r"\b(?:died|passed away|passed on|passed)\b(?: [\w ]{0,15}?\bin ((?:19|20)\d\d))?",
        rest,
        re.I,
    )
    if m and not me:
        add("died", m.group(1) or m.group(0).split(" in ")[0], sensitive=True)
    return facts


# --- the fact's sentence ----------------------------------------------------------------

_ZH_TEMPLATES = {
    "name": "{s}叫{v}",
    "relation": "{n}是您的{v}",
    "spouse": "{s}的另一半是{v}",
    "lives_in": "{s}住在{v}",
    "lived_in": "{s}以前住在{v}",
    "hometown": "{s}的老家在{v}",
    "born_in": "{s}在{v}出生",
    "birth_year": "{s}出生於{v}年",
    "job": "{s}的工作是{v}",
    "workplace": "{s}在{v}工作",
    "school": "{s}讀{v}",
    "routine": "{s}{v}",
    "likes": "{s}喜歡{v}",
    "dislikes": "{s}不喜歡{v}",
    "pet": "{s}的寵物叫{v}",
    "health_condition": "{s}有{v}",
    "medicine": "{s}吃{v}",
    "died": "{s}已經過世（{v}）",
}
_EN_TEMPLATES = {
    "name": ("Your name is {v}", "{s}'s name is {v}"),
    "relation": ("{n} is your {v}", "{n} is your {v}"),
    "spouse": ("Your spouse is {v}", "{s}'s spouse is {v}"),
    "lives_in": ("You live in {v}", "{s} lives in {v}"),
    "lived_in": ("You used to live in {v}", "{s} used to live in {v}"),
    "hometown": ("You grew up in {v}", "{s} grew up in {v}"),
    "born_in": ("You were born in {v}", "{s} was born in {v}"),
    "birth_year": ("You were born in {v}", "{s} was born in {v}"),
    "job": ("Your job: {v}", "{s}'s job: {v}"),
    "workplace": ("You worked at {v}", "{s} works at {v}"),
    "school": ("You went to {v}", "{s} studies {v}"),
    "routine": ("You {v}", "{s}: {v}"),
    "likes": ("You like {v}", "{s} likes {v}"),
    "dislikes": ("You do not like {v}", "{s} does not like {v}"),
    "pet": ("Your pet is called {v}", "{s}'s pet is called {v}"),
    "health_condition": ("You have {v}", "{s} has {v}"),
    "medicine": ("You take {v}", "{s} takes {v}"),
    "died": ("", "{s} has died ({v})"),
}


def person_words(subject: str, relation: str | None, language: str) -> str:
    """How a fact names its subject to the family: "您" / "you", "您的兒子志明", "your son David"."""
    if language.startswith("zh"):
        if subject == SELF:
            return "您"
        if relation and "的" in relation:  # someone's someone: 建国的媳妇小丽, 丽娟的老公
            return relation if relation == subject else f"{relation}{subject}"
        if relation and relation != subject:
            return f"您的{relation}{subject}"
        return f"您的{subject}" if relation == subject else subject
    if subject == SELF:
        return "you"
    if relation and relation != subject:
        return f"your {relation} {subject}"
    return f"your {subject}" if relation == subject else subject


def fact_sentence(fact: FoundFact, language: str) -> str:
    """The fact as a sentence a family member reads, in the message's language and script."""
    if language.startswith("zh"):
        s = person_words(fact.subject, fact.relation, language)
        value = fact.value.removesuffix("年") if fact.attribute == "birth_year" else fact.value
        template = _ZH_TEMPLATES.get(fact.attribute, "{s}：{v}")
        if fact.attribute == "routine" and fact.subject == SELF and re.search("您|你", value):
            template = "{v}"  # "每天早上六點您都去河邊": the routine names the elder itself
        text = template.format(s=s, n=fact.subject, v=value)
        return (
            in_script(_fold(text), language) if language == "zh-Hans" else in_script(text, language)
        )
    mine, theirs = _EN_TEMPLATES.get(fact.attribute, ("You: {v}", "{s}: {v}"))
    if fact.attribute == "routine" and re.search(r"\byou\b", fact.value, re.I):
        mine = "{v}"  # "Every Friday you go to the bridge club"
    s = person_words(fact.subject, fact.relation, language)
    text = (mine if fact.subject == SELF else theirs).format(s=s, n=fact.subject, v=fact.value)
    return text[:1].upper() + text[1:]


def _original(sentence: str, folded: str):  # type: ignore[no-untyped-def]
    """Words read in Simplified, given back as the message wrote them (where OpenCC kept the
    length, as it does character by character; else converted to the message's script)."""

    def words(read: str | None) -> str | None:
        if not read or read == SELF:
            return read
        at = folded.find(read)
        if at >= 0 and len(folded) == len(sentence):
            return sentence[at : at + len(read)]
        return None

    return words


_EN_FIRST_TO_SECOND = (
    (re.compile(r"\bI'm\b"), "you're"),
    (re.compile(r"\bI've\b"), "you've"),
    (re.compile(r"\bI'll\b"), "you'll"),
    (re.compile(r"\bI'd\b"), "you'd"),
    (re.compile(r"\bI\b"), "you"),
    (re.compile(r"\bmyself\b", re.I), "yourself"),
    (re.compile(r"\bmine\b", re.I), "yours"),
    (re.compile(r"\bmy\b", re.I), "your"),
    (re.compile(r"\bme\b", re.I), "you"),
)


_IRREGULAR_EN = {"has": "have", "does": "do", "goes": "go", "is": "are", "was": "were"}


def _as_you_do(value: str) -> str:
    """A family member's words about the elder, their first verb said of "you"."""
    first, _, rest = value.partition(" ")
    lower = first.lower()
    if lower in _IRREGULAR_EN:
        verb = _IRREGULAR_EN[lower]
    elif re.fullmatch(r"[a-z]+ies", lower) and len(lower) > 4:
        verb = lower[:-3] + "y"
    elif re.fullmatch(r"[a-z]+(ches|shes|sses|xes|zes)", lower):
        verb = lower[:-2]
    elif re.fullmatch(r"[a-z]+[^s]s", lower):
        verb = lower[:-1]
    else:
        return value
    return f"{verb} {rest}".strip()


def _to_the_elder(value: str, language: str) -> str:
    """The elder's own first person, as the fact speaks to them: "Susan calls me" is kept
    as "Susan calls you", "美玲打電話給我" as "美玲打電話給您"."""
    if language.startswith("zh"):
        plural = "你們" if language == "zh-Hant" else "你们"
        return re.sub("我(们|們)", plural, value).replace("我", "您")
    for pattern, second in _EN_FIRST_TO_SECOND:
        value = pattern.sub(second, value)
    return value


def _written(  # type: ignore[no-untyped-def]
    fact: FoundFact, language: str, original, *, by_family: bool = False
) -> FoundFact:
    """The fact with its words as the message wrote them (its value stays the message's own
    words) and its sentence written to the elder: their "me" and "my" become "you" and
    "your" there (a family member's "me" is theirs, and stays)."""
    value, relation, subject = fact.value, fact.relation, fact.subject
    if original is not None:
        value = original(value) or in_script(value, language)
        relation = (original(relation) or in_script(relation, language)) if relation else None
        subject = original(subject) or in_script(subject, language)
    facing = _to_the_elder(value, language) if not by_family else value
    if by_family and language == "en" and subject == SELF:
        facing = _as_you_do(facing)  # "Mom calls me": "You call me", not "You calls me"
    sentence = fact_sentence(
        FoundFact(
            fact.attribute, facing, "", subject=subject, relation=relation, sensitive=fact.sensitive
        ),
        language,
    )
    return FoundFact(
        fact.attribute,
        value,
        sentence,
        subject=subject,
        relation=relation,
        sensitive=fact.sensitive,
    )

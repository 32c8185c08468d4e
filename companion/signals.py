"""How the elder seems, from their own words: a mood and concern checks (falls, pain, not
eating or sleeping, confusion about time or place, loneliness, missed medicine, and distress
or talk of self-harm), in 繁體中文, 简体中文 and English.

A lexicon-and-rules pass that always runs and needs no model: cue words per concern, then
what takes them back: a negation ("我沒有跌倒", "I didn't fall"), a time long ago ("十年前",
"when I was young"), someone else ("隔壁的王太太跌倒了", "my neighbour fell"), a fear or a
hypothetical ("我怕會跌倒", "what if I fall"), a joke ("開玩笑的"), and idioms ("熱死了",
"dying to see"). The language model, when one is configured, may then refine it
(`refine`): it confirms or drops what the rules found that is not urgent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, select

from companion.persona import Voice, voice
from memory.concerns import open_recently, raise_flag
from memory.language import _converter
from memory.models import ConcernFlag, Elder, Message, MessageRole, MessageSignal, utcnow
from memory.reminders import in_quiet_hours, parse_clock
from memory.timeutil import zone

MOODS = ("content", "happy", "sad", "anxious", "lonely", "confused", "angry", "in_pain")
SEVERITY = {
    "self_harm": "urgent",
    "fall": "urgent",
    "pain": "warning",
    "not_eating": "warning",
    "not_sleeping": "warning",
    "confusion": "warning",
    "loneliness": "warning",
    "missed_medicine": "warning",
}
CONCERNS = tuple(SEVERITY)


def _any(*words: str) -> str:
    return "|".join(words)


# Chinese cues are matched on Simplified text (both scripts fold to it); English on lower case.
_CUES: dict[str, tuple[str, str]] = {
    "fall": (
        _any(
            r"(跌|摔|绊|滑)(倒|坐|了|跤|下来|下去|伤|断|到)",
            "倒在地",
            "爬不起来",
            "站不起来",
            "起不来",
            "站都站不稳",
        ),
        _any(
            r"\b(fell|fallen|falling|tripped|slipped|stumbled|took a tumble|lost my footing)\b",
            r"\bhad a fall\b",
            r"\b(lying|on) the floor\b",
            r"\bcan'?t get up\b",
            r"\bcannot get up\b",
        ),
    ),
    "self_harm": (
        _any(
            "不想活",
            "不如死",
            "死了算了",
            "死掉算",
            "想死(?!你)",
            "活够",
            "活著没意思",
            "活着没意思",
            "活着有什么意思",
            "活着太累",
            "拖累",
            "累赘",
            "结束.{0,4}生命",
            "一了百了",
            "去死",
            "寻死",
            "自杀",
            "轻生",
            "了结自己",
            "不想再活",
        ),
        _any(
            r"\bkill myself\b",
            r"\b(end|ending|take|taking) my (own )?life\b",
            r"\bwant (it all |everything )?to end\b",
            r"\bcan'?t go on\b",
            r"\bwant to die\b",
            r"\bbetter off (without me|dead|if i were dead)\b",
            r"\bno (reason|point) (to|in) (live|living|go on)",
            r"\bsuicid",
            r"\bend it all\b",
            r"\bdon'?t want to (live|be here)\b",
            r"\bwish i (was|were) dead\b",
            r"\bif i were dead\b",
            r"\ba burden\b",
        ),
    ),
    "pain": (
        _any(
            "痛",
            "疼",
            "不舒服",
            "难受",
            "胸闷",
            "喘不过气",
            "头晕",
            "扭到",
            "肿",
            "流血",
            "割",
            "烫伤",
            "抽筋",
        ),
        _any(
            r"\bhurt(s|ing)?\b",
            r"\bpain",
            r"\bache",
            r"\baching\b",
            r"\bsore\b",
            r"\bdizzy\b",
            r"\b(chest|it) feels tight\b",
            r"\bshort of breath\b",
            r"\bbleeding\b",
            r"\bheadache\b",
            r"\bcramps?\b",
            r"\bswollen\b",
            r"\bburn(ed|t) my",
        ),
    ),
    "not_eating": (
        _any(
            "吃不下",
            "没胃口",
            "没什么胃口",
            "不想吃(?!药)",
            "没吃(饭|东西)",
            "没有吃(饭|东西)",
            "一口饭都没",
            "都没吃(?!药)",
            "不吃饭",
            "吃不饱",
        ),
        _any(
            r"\bhaven'?t (eaten|had (a|any) (proper )?(meal|food))",
            r"\bno appetite\b",
            r"\bcan'?t eat\b",
            r"\bnot eating\b",
            r"\bskipp(ed|ing) (breakfast|lunch|dinner|meals?)\b",
            r"\bforgot to eat\b",
            r"\bhaven'?t had anything to eat\b",
        ),
    ),
    "not_sleeping": (
        _any("睡不着", "失眠", "没睡", "睡不好", "醒来.{0,6}睡不", "整晚没", "一夜没", "翻来覆去"),
        _any(
            r"\b(couldn'?t|can'?t|cannot) (get (back )?to )?sleep\b",
            r"\binsomnia\b",
            r"\b(awake|up) all night\b",
            r"\blying awake\b",
            r"\bdidn'?t sleep\b",
            r"\bkept me awake\b",
            r"\bhaven'?t slept\b",
            r"\bsleepless\b",
        ),
    ),
    "confusion": (
        _any(
            "几月几号",
            "几号",
            "星期几",
            "哪一年",
            "今年是",
            "早上还是晚上",
            "白天还是晚上",
            "这是哪",
            "这里是哪",
            "我在哪",
            "找不到回家",
            "迷路",
            "不是我家",
            "我是谁",
            "你是谁",
            "搞不清楚",
            "糊涂了",
            "妈妈怎么还没回来",
            "在做梦吗",
        ),
        _any(
            r"\bwhat (day|year|month) is it\b",
            r"\bmorning or (evening|night)\b",
            r"\bwhere am i\b",
            r"\b(isn'?t|not) my (house|home)\b",
            r"\b(couldn'?t|can'?t) find my way\b",
            r"\blost my way\b",
            r"\bwho are you\b",
            r"\bmixed up\b",
            r"\bwhere is my (mother|father|mum|mom|dad)\b",
        ),
    ),
    "loneliness": (
        _any(
            "寂寞",
            "孤单",
            "孤独",
            "没人陪",
            "没有人陪",
            "没人跟我说话",
            "没有人跟我说话",
            "都没有人",
            "没有人来",
            "不来看我",
            "没人理",
            "一个人吃",
            "空空的",
            "冷冷清清",
            "好安静",
            "常常想他",
            "常常想她",
            "不需要我",
            "没打电话",
            "没人打电话",
        ),
        _any(
            r"\blonely\b",
            r"\b(so|all|feel) alone\b",
            r"\bnobody (has )?(visit|come|call)",
            r"\bno one (to talk|visits|comes|calls)\b",
            r"\bmiss having people\b",
            r"\bso quiet\b",
            r"\ball by myself\b",
            r"\bisolated\b",
        ),
    ),
    "missed_medicine": (
        _any(
            "忘[了记]?.{0,6}吃.{0,6}药",
            "药.{0,6}忘[了记]?吃",
            "没吃药",
            "药没吃",
            "药.{0,4}好像没吃",
            "药吃完了",
            "不想吃药",
            "药没了",
            "停药",
        ),
        _any(
            r"\bforgot (to take )?(my )?(pills|medicine|meds|tablets)\b",
            r"\bforgot to take my\b",
            r"\bmissed my .{0,16}(pills|medicine|meds|tablets|dose)\b",
            r"\bran out of (my )?(pills|medicine|meds|tablets)",
            r"\bran out of my\b",
            r"\b(didn'?t|haven'?t) take?n? my (pills|medicine|meds|tablets)\b",
            r"\bstopped taking my\b",
        ),
    ),
}
_CUE_RE = {
    kind: (re.compile(zh), re.compile(en, re.IGNORECASE)) for kind, (zh, en) in _CUES.items()
}

# What takes a cue back.
_NEGATION_ZH = re.compile(r"(没有|没|不|未|别|不会|不用)$")
_NEGATION_EN = re.compile(
    r"\b(not|never|no|didn'?t|don'?t|haven'?t|wasn'?t|isn'?t|won'?t)\b[\w\s']{0,12}$", re.I
)
_LONG_AGO_ZH = re.compile(
    r"\d+\s*年前|[一二三四五六七八九十几]+年前|十几年|几十年|以前|小时候|年轻|当年|那时候|那次|过去|"
    r"后来治好|早就好了|现在没事"
)
_LONG_AGO_EN = re.compile(
    r"\b(years ago|when i was|back (then|in \d{4})|as a (child|girl|boy)|long ago|used to|in (19|20)\d\d)\b",
    re.I,
)
# Someone else, named in the clause before the cue: their fall is not the elder's.
_OTHERS_ZH = re.compile(
    r"(外孙|孙子|孙女|儿子|女儿|老伴|先生|太太|妈妈|爸爸|同事|邻居|隔壁|朋友|同学|老李|老王|有个|"
    r"那个人|主角|电视|人家|别人|他|她)"
)
_SUBJECT_EN = re.compile(
    r"\b(i|i'm|i've|me|my (\w+)|he|she|they|his|her|their|the \w+|someone|somebody)\b", re.I
)
_FEAR_ZH = re.compile(r"怕|担心会|如果|要是|万一|会不会")
_FEAR_EN = re.compile(r"\b(afraid|worry (i'?ll|i will|that i)|what if|if i|one day)\b", re.I)
_BETTER_EN = re.compile(
    r"^[\w\s']{0,20}\b(is|are|was) (gone|better|fine)\b|^[\w\s]{0,8}\b(went away|stopped)\b", re.I
)
# Idioms that only sound like it: 热死了, 笑死, 想死你了, "dying to", "died laughing".
_IDIOM_ZH = re.compile(r"(笑|热|冷|累|饿|气|烦|吓|忙|闷|困|美|乐)死|想死你")
_IDIOM_EN = re.compile(r"\b(dying to|died laughing|almost died|nearly died)\b", re.I)
_JOKE_ZH = re.compile(r"开玩笑|笑死|哈哈|骗你的")
_JOKE_EN = re.compile(r"\b(just kidding|joking|haha|lol)\b", re.I)
_SEASON_EN = re.compile(r"\bfall is\b|\bthis fall\b|\bin the fall\b|\bfall (season|leaves)\b", re.I)
# Kinds where someone else's trouble, a fear or a joke take it back; pain and feelings stay.
_EVENTS = ("fall", "self_harm", "missed_medicine", "not_eating", "not_sleeping")
_WHO = ("fall", "self_harm", "missed_medicine")  # told of someone else just as often

_MOOD_ZH = {
    "happy": "开心|高兴|快乐|好笑|真好|太好了|骄傲|热闹|好饱|很香|好吃|晒太阳|跳广场舞|谢谢关心|两碗|天气很好|很稳|很健康",
    "sad": "难过|伤心|没意思|想哭|可怜|不想活|想死|活着|一了百了|吃不下|瘦了|什么都不想做|没有?用|不饿|去世",
    "anxious": "担心|紧张|害怕|怕|吓人|心里乱|怎么办",
    "lonely": "寂寞|孤单|没人陪|没人跟我说话|没有人跟我说话|空空的",
    "confused": "几号|星期几|这里是哪|我在哪|迷路|不是我家|我是谁|做梦|想不起来",
    "angry": "生气|气死|烦死|态度很差|吵架|不听我的",
}
_MOOD_EN = {
    "happy": r"\b(happy|wonderful|lovely|proud|great|beautiful|laughing|slept like a log|nice nap|dying to)\b",
    "sad": r"\b(sad|no point|don'?t want to live|dead|die|ending my life|no appetite|haven'?t eaten|not hungry|kill myself|tired of)\b",
    "anxious": r"\b(worried|nervous|afraid|scared|couldn'?t sleep|can'?t get back to sleep|forgot|ran out|what if)\b|broke her",
    "lonely": r"\b(lonely|alone|nobody has visited)\b",
    "confused": r"\b(what day|where am i|who are you|couldn'?t find my way|isn'?t my house)\b",
    "angry": r"\b(furious|angry|rude|annoyed)\b",
}
_MOOD_ZH_RE = {k: re.compile(v) for k, v in _MOOD_ZH.items()}
_MOOD_EN_RE = {k: re.compile(v, re.I) for k, v in _MOOD_EN.items()}
# When several moods are heard, the one that needs care most.
_MOOD_ORDER = ("confused", "sad", "lonely", "anxious", "angry", "happy")
# With no mood words, what a concern says about the mood.
_MOOD_OF = {
    "not_sleeping": "anxious",
    "missed_medicine": "anxious",
    "not_eating": "sad",
    "loneliness": "lonely",
}


@dataclass
class Signals:
    mood: str = "content"
    concerns: list[str] = field(default_factory=list)
    by: str = "rules"

    @property
    def urgent(self) -> list[str]:
        return [c for c in self.concerns if SEVERITY[c] == "urgent"]


def _fold(text: str) -> str:
    return _converter("t2s").convert(text).lower()


def _clause(text: str, start: int, end: int) -> str:
    """The clause the cue is in (between punctuation)."""
    left = max(text.rfind(p, 0, start) for p in "，,。.!！?？;；")
    right = [i for i in (text.find(p, end) for p in "，,。.!！?？;；") if i >= 0]
    return text[left + 1 : min(right) if right else len(text)]


def _taken_back(kind: str, text: str, match: re.Match, chinese: bool) -> bool:
    before = text[: match.start()]
    clause = _clause(text, match.start(), match.end())
    if chinese:
        if _NEGATION_ZH.search(before[-3:]) and not match.group(0).startswith(("没", "不")):
            return True
        if kind in ("fall", "pain", "not_sleeping") and _LONG_AGO_ZH.search(text):
            return True
        fear = kind != "self_harm" and _FEAR_ZH.search(text)
        if kind == "self_harm" and _IDIOM_ZH.search(clause):
            return True
        others = kind in _WHO and _OTHERS_ZH.search(clause[: max(0, clause.find(match.group(0)))])
        if kind in _EVENTS and (others or fear or _JOKE_ZH.search(text)):
            return True
        return bool(kind == "fall" and "差点" in clause)
    words = match.group(0).lower()
    if "didn't fall" in words or "didnt fall" in words:
        return True
    if kind == "fall" and (words == "fall" or _SEASON_EN.search(text)):
        return not re.search(r"\bhad a fall\b", text, re.I)
    if _NEGATION_EN.search(before[-30:]):
        return True
    if kind in ("fall", "pain", "not_sleeping", "not_eating") and _LONG_AGO_EN.search(text):
        return True
    after = text[match.end() :]
    if re.match(r"\W*not me\b", after):  # "Lonely? Not me"
        return True
    if kind == "pain" and _BETTER_EN.search(after):  # "my headache is gone"
        return True
    subjects = _SUBJECT_EN.findall(clause[: max(0, clause.find(match.group(0)))])
    last = subjects[-1][0].lower() if subjects else "i"
    others = kind in _WHO and last not in ("i", "i'm", "i've", "me")
    if kind == "self_harm" and _IDIOM_EN.search(clause):
        return True
    fear = kind != "self_harm" and _FEAR_EN.search(text)
    return bool(kind in _EVENTS and (others or fear or _JOKE_EN.search(text)))


def read_signals(text: str) -> Signals:
    """The rules pass: the elder's mood and the concerns their words raise."""
    chinese = bool(re.search(r"[\u4e00-\u9fff]", text))
    folded = _fold(text)
    found: list[str] = []
    for kind, (zh, en) in _CUE_RE.items():
        pattern = zh if chinese else en
        for match in pattern.finditer(folded):
            if not _taken_back(kind, folded, match, chinese):
                found.append(kind)
                break
    moods = _MOOD_ZH_RE if chinese else _MOOD_EN_RE
    heard = [m for m in _MOOD_ORDER if _said_not_denied(moods[m], folded, chinese)]
    joking = bool(_JOKE_ZH.search(folded) or _JOKE_EN.search(folded))
    if "self_harm" in found:
        mood = "sad"
    elif "fall" in found or "pain" in found:
        mood = "in_pain"
    elif "confusion" in found:
        mood = "confused"
    elif joking:
        mood = "happy"
    elif heard:
        mood = heard[0]
    else:
        mood = next((_MOOD_OF[c] for c in found if c in _MOOD_OF), "content")
    return Signals(mood=mood, concerns=found)


def _said_not_denied(pattern: re.Pattern, text: str, chinese: bool) -> bool:
    for match in pattern.finditer(text):
        before = text[: match.start()]
        denied = _NEGATION_ZH.search(before[-3:]) if chinese else _NEGATION_EN.search(before[-30:])
        if not denied:
            return True
    return False


# --- the language model's second look ---------------------------------------------------


class _Answer(BaseModel):
    concerns: list[str]
    mood: str


_SYSTEM = (
    "You check what an older person said for things their family should know. Answer only "
    'JSON: {"concerns": [...], "mood": "..."}. concerns: any of '
    + ", ".join(CONCERNS)
    + " that are happening to the speaker NOW (not long ago, not to someone else, not a "
    "joke, a fear or an idiom such as 熱死了 or 'dying to'). mood: one of " + ", ".join(MOODS) + "."
)


def refine(model: BaseChatModel, text: str, found: Signals) -> Signals:
    """Ask the model whether what the rules heard is happening to the speaker now: it may drop
    a concern the rules found that is not urgent. It adds nothing, keeps the urgent ones (a
    missed fall costs more than a false alarm) and leaves the mood to the rules: measured on
    bench/concerns.py, the bundled 1.5B model's own additions and moods were wrong more often
    than right. A failure of the model leaves the rules' answer."""
    if not found.concerns or not [c for c in found.concerns if c not in found.urgent]:
        return Signals(mood=found.mood, concerns=list(found.concerns), by=found.by)
    prompt = [
        SystemMessage(content=_SYSTEM),
        HumanMessage(content=f"Said: {text}\nThe rules heard: {json.dumps(found.concerns)}\nJSON:"),
    ]
    try:
        raw = str(model.invoke(prompt, max_tokens=80).content)
        start, end = raw.find("{"), raw.rfind("}")
        answer = _Answer.model_validate_json(raw[start : end + 1])
    except (ValidationError, ValueError, Exception):  # noqa: BLE001 - the rules stand
        return found
    kept = [c for c in found.concerns if c in found.urgent or c in answer.concerns]
    return Signals(mood=found.mood, concerns=kept, by="rules+model")


# --- heard in a message: stored, and the family told -----------------------------------

RECENT = timedelta(days=1)  # older words (an import of history) get a mood but raise nothing


def _end_of_quiet_hours(elder: Elder, now: datetime) -> datetime | None:
    tz = zone(elder.timezone)
    local = now.astimezone(tz)
    if not in_quiet_hours(local, elder.quiet_hours_start, elder.quiet_hours_end):
        return None
    end = datetime.combine(
        local.date(), parse_clock(elder.quiet_hours_end, "quiet_hours_end"), tzinfo=tz
    )
    return end if end > local else end + timedelta(days=1)


def observe(session: Session, message: Message, *, email: bool = False) -> Signals | None:
    """Hear the elder's message: keep its mood and concerns, and open a flag for each concern
    (urgent ones tell the family at once; the others after the elder's quiet hours, and not
    again while one of the same kind is open from the last 12 hours)."""
    if message.role != MessageRole.elder.value or message.id is None:
        return None
    found = read_signals(message.text)
    session.add(
        MessageSignal(
            message_id=message.id,
            elder_id=message.elder_id,
            said_at=message.said_at,
            mood=found.mood,
            concerns=found.concerns,
        )
    )
    now = utcnow()
    if not found.concerns or now - message.said_at > RECENT:
        return found
    elder = session.get(Elder, message.elder_id)
    assert elder is not None
    raise_concerns(session, elder, message, found.concerns, email=email, now=now)
    return found


def raise_concerns(
    session: Session,
    elder: Elder,
    message: Message,
    kinds: list[str],
    *,
    email: bool,
    now: datetime,
) -> list[ConcernFlag]:
    v = voice(elder.language)
    later = _end_of_quiet_hours(elder, now)
    raised = []
    if "fall" in kinds:  # the pain of a fall is the fall's: one flag, the urgent one
        kinds = [k for k in kinds if k != "pain"]
    for kind in kinds:
        severity = SEVERITY[kind]
        if severity != "urgent" and open_recently(session, elder.id, kind, now):
            continue
        raised.append(
            raise_flag(
                session,
                elder.id,
                kind=kind,
                severity=severity,
                summary=v.say("concern_summary", what=v.say(f"concern_{kind}"), words=message.text),
                message_id=message.id,
                email=email,
                not_before=later,
            )
        )
    return raised


def care_reply(found: Signals, v: Voice) -> str | None:
    """What 智安 says, in code and not through the model, when the words are urgent."""
    if "self_harm" in found.concerns:
        return v.say("care_self_harm")
    if "fall" in found.concerns:
        return v.say("care_fall")
    return None


SECOND_LOOK_WITHIN = timedelta(days=2)


def refine_pending(engine: sa.Engine, model: BaseChatModel, *, limit: int = 20) -> int:
    """The model's second look at what the elder said lately (see `refine`): a concern it
    drops resolves the flag the rules raised for that message."""
    from memory.db import session_scope

    since = utcnow() - SECOND_LOOK_WITHIN
    with session_scope(engine) as session:
        waiting = [
            (s.message_id, s.concerns, s.mood)
            for s in session.exec(
                select(MessageSignal)
                .where(MessageSignal.refined.is_(False), MessageSignal.said_at >= since)  # type: ignore[attr-defined]
                .order_by(MessageSignal.said_at)
                .limit(limit)
            )
        ]
    done = 0
    for message_id, concerns, mood in waiting:
        with session_scope(engine) as session:
            message = session.get(Message, message_id)
            if message is None:
                continue
            text = message.text
        second = refine(
            model, text, Signals(mood=mood, concerns=list(concerns))
        )  # outside any transaction
        with session_scope(engine) as session:
            signal = session.get(MessageSignal, message_id)
            if signal is None:  # the message was deleted meanwhile
                continue
            dropped = [c for c in signal.concerns if c not in second.concerns]
            signal.mood, signal.concerns, signal.by, signal.refined = (
                second.mood,
                second.concerns,
                second.by,
                True,
            )
            session.add(signal)
            if dropped:
                for flag in session.exec(
                    select(ConcernFlag).where(
                        ConcernFlag.message_id == message_id,
                        ConcernFlag.kind.in_(dropped),  # type: ignore[attr-defined]
                        ConcernFlag.state != "resolved",
                    )
                ):
                    flag.state, flag.resolved_at = "resolved", utcnow()
                    flag.resolved_by = "智安 (second look: not a concern)"
                    session.add(flag)
        done += 1
    return done

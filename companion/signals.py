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
import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, select

from companion.alerts.concerns import open_recently, raise_flag
from companion.meaning import ConcernBank, Reading
from companion.persona import Voice, voice
from memory import prompts, utterance
from memory.embed import DEFAULT_EMBEDDER, make_embedder
from memory.language import CJK, fold
from memory.models import (
    ConcernFlag,
    ConcernState,
    Elder,
    Message,
    MessageRole,
    MessageSignal,
    utcnow,
)
from memory.timeutil import in_quiet_hours, parse_clock, zone

log = logging.getLogger(__name__)

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
            "滚下(来|去|楼)",
            r"(昏|晕)(倒|过去)",
            "栽(在地|倒|下去)|一头栽",
            r"(倒|躺|趴|瘫|跪)(在)?(了)?地(上|板)",
            "在地上(躺|趴|爬)",
            r"(撞|磕)(到|在|了)?.{0,3}(头|额头|脑门|后脑勺)|(额头|脑门|后脑勺)(撞|磕)",
            r"(扑|撞|推)倒|踩空|(腿|膝盖)(一)?软",
            r"倒在(了)?[^，。]{0,4}(阳台|厨房|客厅|浴室|厕所|卫生间|门口|床边|路边|地|楼梯|院子|马路)",
            r"倒在(了)?[^，。]{0,4}(沙发|床|椅子|桌子|饭桌|马桶|浴缸)(旁|边|前|下)",
            r"一屁股(坐|摔|跌)|(被|给).{0,4}(撞|推|绊).{0,8}(坐|倒|摔|跌)(在)?地",
            r"坐(在)?地上.{0,10}(站不起|起不来|疼|痛|扭|伤|动不了)",
            r"(晕|软|黑)(了)?(一下)?[，,]?(就)?(整个人)?倒(下|了)",
        ),
        _any(
            r"\b(fell|fallen|falling|tripped|slipped|stumbled|took a tumble|lost my footing)\b",
            r"\bhad a fall\b",
            r"\b(lying|on) the floor\b",
            r"\bcan'?t get up\b",
            r"\bcannot get up\b",
            r"\bwent (flying|over|down|sprawling)\b",
            r"\b(legs?|knees?) (gave (way|out)|went|buckled)\b",
            r"\b(collapsed|fainted|passed out|blacked out|keeled over|toppled)\b",
            r"\b(came round|came to|woke( up)?) on the floor\b",
            r"\bon the (ground|pavement)\b",
            r"\bknocked (me )?(over|down|flat)\b",
            r"\b(hit|banged|cracked) my head\b",
            r"\bcan'?t (stand|climb) (up|out)\b",
            r"\btumbl(e|ed|ing)\b",
            r"\bended up on the\b",
            r"\bmissed (a|my) (step|footing)\b",
            r"\bhit the (floor|ground|deck)\b|\bpitched (forward|over)\b|\bonto my (front|face)\b",
            r"\b(lying|lay|lain|stuck|sitting|been) on the (\w+ )?(floor|ground)\b",
            r"\bflat on (the|my) (ground|floor|back|face)\b|\bsat down hard\b",
            r"\b(rolled|fell|tumbled|slid) (off|out of) (the |my )?bed\b",
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
            # What screening scales ask after: a method, means kept ready, preparations, a plan.
            "遗书|绝笔",
            r"(攒|囤|藏|存起来|存了|存着|留着|收着|留一[颗片粒]|偷偷留).{0,12}药",
            r"药.{0,12}(攒|囤|藏起来|存起来|存了|一次吃|一口气吃|一次吞|全部吃|全吃掉|吃掉算)",
            r"(一次|一口气)(吃|吞)(掉|下去|光|完)",
            "跳下去|跳楼|跳河|跳海|卧轨|上吊|割腕|烧炭|开煤气|开瓦斯|往自己身上划",
            r"(早点|也该|就该|想早点)(去|下去)(陪|找)(他|她|老伴|老头子|老公|老婆|先生|太太)",
            r"(去|下去)陪(他|她|你|老伴|老头子)(了)?(。|！|$)",
            r"(该|想|要)跟(着)?(他|她|老伴)(一起)?(去|走)(?!(市场|公园|买|看|吃|玩|旅|医院))",
            r"不(想|要|用)(再)?醒(来|过来)?|一睡不起|(睡着|睡过去)(了)?(就)?(不|别)(要|再)?醒",
            r"最后一次(跟你|和你)?(说话|聊|讲话)",
            r"活(着)?(干嘛|图啥|图个啥|为了什么|有什么用|有啥用|没盼头|没有盼头|没有意思)",
            r"早(就)?该死|(收|带)我走|把我(收|带)走",
            r"结束(这一切|一切|这条命|痛苦)|了断|了结",
            r"(想|要)消失|消失(算了|好了)",
            r"死了(干净|痛快|比较好|对大家都好|就好|就不)|不如(早点)?死|宁(可|愿)死(?!也)",
            r"我死了(大家|你们|他们|对)",
            r"(想|要)(割|划)(手|腕|自己)",
            r"(不在|走)了(以后|之后)?.{0,6}(再|才)(看|拆|打开)",
            "活不下去|不想再撑|不想撑了",
            r"(留着|活着)(我)?(也)?没(有)?(什么)?用",
            r"(想|要|想过|打算).{0,6}(撞(墙|车|山)|跳|割|吊|卧轨)",
            r"怎么(死|走)(比较|才)?(不|没)?(痛|疼|快)|用什么(办法|方法).{0,4}(死|走|结束)",
            r"吃(很多|好多|一大把|一堆|一大堆)(很多|好多)?的?药",
            r"药.{0,15}(没吃|不吃).{0,10}(收|存|留|藏|攒)",
            r"倒(在|出).{0,6}(桌|手).{0,10}(数|够)",
            r"(刀|剪刀|剪子|绳子|绳|药|木炭).{0,20}(会不会用|用得到|用得上|哪天(会)?用|就用)",
            r"先走一步(了)?(?![，,]?(去|到|回|接|买|出))",
            r"(托给|送给|交给).{0,12}(以后|再也)(我)?(管不了|照顾不了|不能照顾|养不了|用不到|用不着)",
            # What one is still here for; a painless method; poison set by the bed.
            r"留着(干啥|干嘛|干什么|做什么|图啥|有什么意思)",
            r"(啥|什么|哪种|哪个)(法子|办法|方法).{0,6}(不疼|不痛|不会痛|不会疼|最快|不受罪|比较快)",
            r"(农药|敌敌畏|百草枯|老鼠药|除草剂|杀虫剂).{0,12}(床头|床边|枕头|拿出来|准备好|身边)",
            r"一睡不醒|死了(更好|最好)",
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
            r"\bend it\b(?! (with|for|there))",
            r"\b(sav(e|ed|ing)|hoard\w*|stockpil\w*|stash\w*|putting aside|holding back|kept back)\b"
            r"[\w\s']{0,30}\b(pills|tablets|medicine)\b",
            # Means counted out and "enough": "counting my sleeping tablets, there's enough now".
            r"\b(count\w*|collect\w*|gather\w*|add\w* up)\b[\w\s']{0,30}\b(pills|tablets)\b"
            r".{0,30}\b(enough|plenty)\b(?! (for|to last|till|until|of them for))",
            r"\btake (them all|all of them|the lot|all my (pills|tablets))\b",
            r"\b(pills|tablets) (all )?at once\b",
            r"\boverdose\b",
            r"\b(jump|jumping|throw myself) (off|from|in front)",
            r"\bin front of a (train|bus|car|lorry)\b",
            r"\bhang myself\b|\bcut(ting)? (my wrists|myself)\b|\bwalk into the (sea|river|water)\b",
            r"\b(suicide|goodbye) (note|letter)\b",
            r"\b(notes?|letters?)\b.{0,30}\b(when|once|after) i'?m gone\b",
            r"\b(not|never) (to )?wake up\b|\bdon'?t want to wake\b|\bnever wake\b",
            r"\b(god|lord)\b.{0,30}\btake me\b",
            r"\bshould have (gone|died) with\b|\bwish i'?d died\b",
            r"\bwhat'?s the (use|point)( of| in)? (living|going on|carrying on|it all)\b",
            r"\bwaste of space\b",
            r"\bno (reason|point) (left )?(to|in) (live|living|go on|going on|carry on)",
            r"\bwon'?t be (here|around) (much longer|for long|any ?more)\b",
            r"\blast time (we'?ll|i'?ll|you'?ll) (talk|speak)\b",
            r"\b(rather|sooner) (be )?(die|dead)\b(?!\s+than)",
            r"\blet me (die|slip away)\b|\bjust let me go\b",
            r"\bwant (it|everything|this) (all )?over( with)?\b",
            r"\b(want|like|should|might as well|wish i could) (to )?(just )?(disappear|vanish)\b",
            r"\btired of living\b|\bhad enough of life\b|\bcan'?t (go on|carry on) living\b",
            r"\bdon'?t want to (go on|carry on|keep going)\b",
            r"\b((don'?t|do not|can'?t|cannot) see (the|any)|no|not any) point (of|in) "
            r"(going on|carrying on|living|being alive)\b",
            r"\b(easier|better) for (everyone|everybody|them|the family)\b.{0,20}\bif i\b",
            r"\bif i (just )?(wasn'?t|weren'?t) (here|around)\b",
            r"\b(don'?t|won'?t|never) have to wake up\b",
            r"\b(a|the) way to die\b|\bhow to (die|end it|kill myself)\b",
            r"\btake (a lot of|lots of|a great many|many|loads of|all (of )?(the|my)) (pills|tablets)\b",
            r"\bwon'?t last (long|much longer)\b",
            r"\b(all )?my (pills|tablets) (out )?on the table\b",
            r"\b(knife|rope|pills|tablets|scissors)\b.{0,50}\b(whether i'?ll use|i'?ll use (it|them)|"
            r"for when i need|when i can'?t stand)\b",
            r"\btell (the children|the kids|my (son|daughter|children|family)|them) (that )?i "
            r"(love|am sorry|'?m sorry)",
            r"\b(going|go) on ahead\b(?! (to|and|with))",
            r"\bwhat am i (still )?(here|alive|living|around) for\b|\bnothing (left )?to live for\b",
            r"\bwhich way (would|will|might) hurt (the )?least\b|"
            r"\b(least painful|painless|quickest|easiest) way (to go|out|to do it|to end)\b",
            r"\b(weedkiller|pesticide|poison|rat poison|bleach|paraquat)\b.{0,40}\b(by|next to|beside|"
            r"under) my (bed|pillow)\b",
            r"\b(driv(e|ing)|step(ping)?|walk(ing)?) (into|in front of|off) (a |the )?(wall|tree|train|bus|"
            r"traffic|cliff)\b",
            r"\b(never|didn'?t|haven'?t|instead of) (take|taken|taking|took)\b.{0,60}\b(kept|saved|keeping|saving|"
            r"stored|hid|hidden)\b",
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
# Words that may be preparations for ending one's life, or may be nothing (a rope for the
# tomatoes, a day picked for a wedding): raised, and marked as uncertain for the family.
_UNSURE_CUES = {
    "self_harm": (
        re.compile(
            _any(
                r"(买|准备|藏|放)(了)?.{0,6}(绳子|绳|木炭|农药|刀)(?!.{0,6}(绑|晒|烤|切|煮|做菜|修|种|钓|削))",
                r"(阳台|顶楼|楼顶|窗|桥).{0,12}(往下看|往下望|看下面)(?!.{0,6}(孙|孩子|人|跳舞|玩|风景))",
                r"((选好|挑好|定好|决定)(了)?(日子|时间|哪天)|(日子|时间)(我)?(已经)?(选好|挑好|定好))"
                r"(?!.{0,10}(婚|生日|旅|聚|约|出发|搬))",
                r"准备好(要)?(走|离开)了(?![，,]?(去|到|回))",
                r"(过户|存款.{0,4}转给|交代好|分好).{0,16}(放心|安心|没牵挂|可以走|反正)",
                r"(我)?自己走了(?!(一|去|到|回|路|过去|好|很))",
            )
        ),
        re.compile(
            _any(
                r"\b(bought|got|hid|hidden|keep|kept|there'?s) (a |some )?(length of )?"
                r"(rope|charcoal|weedkiller|poison|knife)\b(?!.{0,20}\b(to tie|for the|to cut|garden|"
                r"tomatoes|barbecue|cooking|chopping)\b)",
                r"\b(balcony|roof|bridge|window|ledge)\b.{0,40}\blooking down\b(?! at (the )?"
                r"(children|kids|grandchildren|people|garden|view))",
                r"\b(picked|chosen|chose|set) (the|a) (day|date|time)\b(?!.{0,20}\b(wedding|party|"
                r"holiday|trip|birthday|appointment|visit|move)\b)",
                r"\b(signed .{0,12} over|moved my savings|given away|divided up)\b.{0,40}\b(sorted|"
                r"in order|settled|won'?t need|anyway|all done)\b",
                r"\b(won'?t|will not|can'?t) (be able to )?(look after|care for|feed) (her|him|them|it)\b",
                r"\b(taken|take) myself off\b",
            ),
            re.IGNORECASE,
        ),
    )
}

# What takes a cue back.
_NEGATION_ZH = re.compile(r"(没有|没|不|未|别|不会|不用|不要|不至于)$")
_NEGATION_EN = re.compile(
    r"\b(not|never|no|didn'?t|don'?t|haven'?t|wasn'?t|isn'?t|won'?t)\b[\w\s']{0,12}$", re.I
)
_LONG_AGO_ZH = re.compile(
    r"\d+\s*年前|[一二三四五六七八九十几]+年前|十几年|几十年|以前|小时候|年轻|当年|那时候|那次|"
    r"(?<![晕昏睡摔跌倒走跳滑滚])过去|"
    r"后来治好|早就好了|早好了|现在没事|前年|上回|上次|好多年|(\d+|[一二三四五六七八九十]+)岁(那年|的时候)"
)
_LONG_AGO_EN = re.compile(
    r"\b(years ago|when i was|back (then|in \d{4})|as a (child|girl|boy)|long ago|used to|in (19|20)\d\d|"
    r"last (winter|year|spring|summer|autumn)\b.*\b(fine|better|recovered|healed|over it) now)\b",
    re.I,
)
# Someone else, named in the clause before the cue: their fall is not the elder's.
_OTHERS_ZH = re.compile(
    r"(外孙|孙子|孙女|儿子|女儿|闺女|老伴|老头子|先生|太太|妈妈|爸爸|姐|姊|妹|哥|弟|表|同事|邻居|隔壁|"
    r"朋友|同学|大爷|大妈|阿伯|阿姨|老太太|老先生|老人|小孩|老李|老王|有个|有人|那个人|主角|"
    r"电视|电影|新闻|小说|剧|节目|报纸|报道|歌|书|梦|人家|别人|他|她|狗|猫)"
)
# Things that fall or break, and prices, rates and marks that "跌": not a person's fall.
_THINGS_ZH = re.compile(
    r"(手机|眼镜|碗|杯|盘|花瓶|花盆|果子|苹果|叶子|东西|手表|遥控器|价|股|票|市|指数|汇率|利率|"
    r"金|油|基金|行情|分数|信用分|积分|成绩|名次|排名|业绩|人气|温|血糖|血压|体重|美元|美金|台币|人民币|币)"
)
# Where something happened, which may hold a "thing" word: 在菜市场, 去超市, 到夜市.
_PLACE_ZH = re.compile(r"(在|去|到|从|逛)[^，。,]{0,6}(菜市场|市场|超市|夜市|市区|市中心|菜市)")
# Earlier thoughts of dying, told as over: "以前很想死，现在不会了".
_RECOVERED_ZH = re.compile(
    r"(以前|年轻|那时候|那年|过去|当年|有一段时间|有段时间).*(现在|后来).{0,8}"
    r"(好了|不会|走出来|过去了|珍惜|很好|挺好)"
)
_RECOVERED_EN = re.compile(
    r"\b(years ago|when i was (young|younger)|there was a time|used to|as a young)\b.*"
    r"\b(now|not any ?more|behind me|came through|come through|treasure|well now|got over)\b",
    re.I,
)
_SCENE_EN = re.compile(
    r"\b(dream\w*|film|movie|book|novel|news|paper|drama|programme|program|show|song|telly|tv|"
    r"story|series|character)\b",
    re.I,
)
_NOT_A_FALL_EN = re.compile(
    r"\s*(asleep|in love|for\b|through|behind|apart|out of (favour|favor|touch)|short|silent|"
    r"ill|sick|on (my|a|the|his|her) (birthday|day|sunday|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|weekend))",
    re.I,
)
# "My legs went": the elder's body is the elder.
_BODY_EN = frozenset(
    ("leg", "legs", "knee", "knees", "foot", "feet", "ankle", "ankles", "hip", "hips")
    + ("slipper", "slippers", "shoe", "shoes", "body", "balance", "head", "back")
)
_SUBJECT_EN = re.compile(
    r"\b(i|i'm|i've|me|my (\w+)|our \w+|your \w+|he|she|they|his|her|their|the \w+|someone|"
    r"somebody|(mr|mrs|ms|miss|dr|old|auntie|aunt|uncle)\.? \w+|neighbou?rs?)\b",
    re.I,
)
_FEAR_ZH = re.compile(
    r"怕|担心|如果|要是|万一|会不会|容易|不然|(?<!不)小心|(?<![没不])注意|免得|以免|会$"
)
_FEAR_EN = re.compile(
    r"\b(afraid|scared|frightened|terrified|fear|worr(y|ied)|careful|mind|in case|what if|if i|"
    r"one day|so i don'?t)\b",
    re.I,
)
# Prices, rates and marks that fall; things knocked over.
_THINGS_EN = re.compile(
    r"\b(price|prices|shares|stocks?|market|pound|dollar|rates?|temperature|score|marks|sales|"
    r"pension|fund|value|vote|ranking|rankings)\b",
    re.I,
)
_THING_AFTER_EN = re.compile(
    r"^\s*(in (price|value)|(over )?(a|the|my|his|her) (cup|glass|mug|vase|plate|bowl|bottle|jug|"
    r"pot|lamp|phone|tea|coffee|milk|pan))",
    re.I,
)
# On the floor by choice, to do something, and getting up when done.
_CHOSEN_FLOOR_EN = re.compile(
    r"\b(sitting|sat|kneeling|knelt|playing) (down )?on the (\w+ )?(floor|ground|carpet|rug)\b"
    r"[\w\s,']{0,20}\b(sort|clean|play|fold|read|stretch|pack|tidy|look|do|wrap|pick)\w*|"
    r"\bget up (again )?when i'?m (done|finished|through)\b",
    re.I,
)
_BETTER_EN = re.compile(
    r"^[\w\s']{0,20}\b(is|are|was) (gone|better|fine)\b|^[\w\s]{0,8}\b(went away|stopped)\b", re.I
)
# Idioms that only sound like it: 热死了, 笑死, 想死你了, "dying to", "died laughing".
_IDIOM_ZH = re.compile(
    r"(笑|热|冷|累|饿|气|烦|吓|忙|闷|困|美|乐|急|挤|臭|丑|羡慕|好吃|无聊|痛|疼|渴|晒|吵|馋|怕)死|"
    r"想死你|死也不|宁死|打死也|死活"
)
_IDIOM_EN = re.compile(
    r"\b(dying (to|for)|to die for|died laughing|almost died|nearly died|bored to death|"
    r"(scared|frightened|worried|tickled|bored) [\w\s]{0,12}to death|over my dead body|"
    r"(sooner|rather) die than|nearly killed me|killing me|killing time|could (kill|murder)|"
    r"kill for)\b",
    re.I,
)
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
    # Urgent concerns raised on an uncertain reading (the family is told so), and the earlier
    # messages a reading needed.
    uncertain: list[str] = field(default_factory=list)
    earlier: list[str] = field(default_factory=list)
    # The message's vector, for the memory search of the same turn to reuse.
    vector: list[float] | None = None
    embedder: str | None = None

    @property
    def urgent(self) -> list[str]:
        return [c for c in self.concerns if SEVERITY[c] == "urgent"]


def _fold(text: str) -> str:
    # OpenCC leaves 著 where Simplified also writes it (著名); as a particle it is 着.
    return fold(text).replace("著", "着").lower()


def _clause(text: str, start: int, end: int) -> str:
    """The clause the cue is in (between punctuation)."""
    left = max(text.rfind(p, 0, start) for p in "，,。.!！?？;；")
    right = [i for i in (text.find(p, end) for p in "，,。.!！?？;；") if i >= 0]
    return text[left + 1 : min(right) if right else len(text)]


def _someone_else_zh(before: str) -> bool:
    """Whether the last person named before the cue is someone else: "孫子學走路，老是摔跤",
    "我老伴摔倒了"; but "被狗撲倒" and "孫子跑太快，我跌倒了" are the elder's."""
    if "被" in before[-8:]:
        return False
    other = [m.end() for m in _OTHERS_ZH.finditer(before)]
    if not other:
        return False
    mine = [m.start() for m in re.finditer("我(?!的?(" + _OTHERS_ZH.pattern + "))", before)]
    return max(other) > max(mine, default=-1)


def _sentence_before(text: str, start: int) -> str:
    """What the sentence says before the cue: "我怕會跌倒" is a fear, "我跌倒了，好怕" a fall."""
    left = max(text.rfind(p, 0, start) for p in "。.!！?？")
    return text[left + 1 : start]


def _taken_back(kind: str, text: str, match: re.Match, chinese: bool) -> bool:
    before = text[: match.start()]
    clause = _clause(text, match.start(), match.end())
    if chinese:
        if _NEGATION_ZH.search(before[-3:]) and not match.group(0).startswith(("没", "不")):
            return True
        if kind in ("fall", "pain", "not_sleeping") and _LONG_AGO_ZH.search(text):
            return True
        fear = kind != "self_harm" and _FEAR_ZH.search(_sentence_before(text, match.start()))
        if kind == "self_harm" and (_IDIOM_ZH.search(clause) or _RECOVERED_ZH.search(text)):
            return True
        said_before = clause[: max(0, clause.find(match.group(0)))]
        others = kind in _WHO and (
            _someone_else_zh(_sentence_before(text, match.start()))
            or re.match(r".{0,3}的(人)?是", text[match.end() :])  # "摔跤的是我邻居"
        )
        if kind in _EVENTS and (others or fear or _JOKE_ZH.search(text)):
            return True
        after = text[match.end() :]
        # A thing or a price "跌", not a person; a place named on the way (在菜市场) is no
        # thing, and only people faint (晕倒).
        thing_before = _THINGS_ZH.search(_PLACE_ZH.sub("", said_before))
        fainted = re.match("[昏晕]", match.group(0))
        if kind == "fall" and not fainted and (thing_before or re.match("[坏破碎烂]", after)):
            return True
        if kind == "fall" and re.match("(了)?过", after):  # 摔过, 跌倒过: it has happened, once
            return True
        return bool(kind == "fall" and re.search("差(一)?点", clause))
    words = match.group(0).lower()
    if "didn't fall" in words or "didnt fall" in words:
        return True
    if kind == "fall" and (words == "fall" or _SEASON_EN.search(text)):
        return not re.search(r"\bhad a fall\b", text, re.I)
    if _NEGATION_EN.search(before[-30:]):
        return True
    if kind == "fall" and (
        re.search(r"\b(nearly|almost)\b[\w\s]{0,6}$", before)
        or (re.match(r"(fell|fallen)\b", words) and _NOT_A_FALL_EN.match(text[match.end() :]))
    ):
        return True
    if kind == "self_harm" and _RECOVERED_EN.search(text):
        return True
    if kind in ("fall", "pain", "not_sleeping", "not_eating") and _LONG_AGO_EN.search(text):
        return True
    after = text[match.end() :]
    if re.match(r"\W*not me\b", after):  # "Lonely? Not me"
        return True
    if kind == "pain" and _BETTER_EN.search(after):  # "my headache is gone"
        return True
    if kind == "fall" and _CHOSEN_FLOOR_EN.search(text):  # sitting down to sort the drawers
        return True
    said_before = clause[: max(0, clause.find(match.group(0)))]
    if kind == "fall" and (_THINGS_EN.search(said_before) or _THING_AFTER_EN.match(after)):
        return True
    subjects = _SUBJECT_EN.findall(said_before)
    # "I took the bin out and fell": the verbs share the clause's first subject.
    shared = re.search(r"\b(and|then|but)\s+(\w+\s+)?$", said_before)
    last = (subjects[0] if shared else subjects[-1])[0].lower() if subjects else "i"
    mine = last in ("i", "i'm", "i've", "me") or last.split()[-1] in _BODY_EN
    others = kind in _WHO and (not mine or _SCENE_EN.search(said_before))
    if kind == "self_harm" and _IDIOM_EN.search(clause):
        return True
    fear = kind != "self_harm" and _FEAR_EN.search(_sentence_before(text, match.start()))
    return bool(kind in _EVENTS and (others or fear or _JOKE_EN.search(text)))


def read_signals(text: str) -> Signals:
    """The rules pass: the elder's mood and the concerns their words raise."""
    chinese = bool(re.search(r"[\u4e00-\u9fff]", text))
    folded = _fold(text)
    found: list[str] = []
    unsure: list[str] = []
    for kind, (zh, en) in _CUE_RE.items():
        pattern = zh if chinese else en
        for match in pattern.finditer(folded):
            if not _taken_back(kind, folded, match, chinese):
                found.append(kind)
                break
    for kind, (zh, en) in _UNSURE_CUES.items():
        if kind in found:
            continue
        for match in (zh if chinese else en).finditer(folded):
            if not _taken_back(kind, folded, match, chinese):
                found.append(kind)
                unsure.append(kind)
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
    return Signals(mood=mood, concerns=found, uncertain=unsure)


def _said_not_denied(pattern: re.Pattern, text: str, chinese: bool) -> bool:
    for match in pattern.finditer(text):
        before = text[: match.start()]
        denied = _NEGATION_ZH.search(before[-3:]) if chinese else _NEGATION_EN.search(before[-30:])
        if not denied:
            return True
    return False


# --- the recogniser: meaning, not only words ----------------------------------------------


@dataclass(frozen=True)
class Margins:
    """How near a message must come to a concern's examples in the bank (companion/meaning.py)
    for the recogniser to raise it; chosen on the tune part of bench/concerns.py's labelled
    set. An urgent concern read between `uncertain` and `sure` is raised as well, marked as
    uncertain: a missed fall, or missed words of ending one's life, cost more than a false
    alarm."""

    sure: dict[str, float]
    uncertain: dict[str, float]
    # A message that may only make sense with the ones before ("我不想再這樣了") is read again
    # with them when its own margin reaches this.
    context_floor: float = -0.08
    # After words of trouble (a concern raised, or a reading of this one), a message this
    # near is enough: "我覺得沒有什麼好留戀的了" after "老伴走了以後，家裡好安靜".
    troubled: float = -0.04
    # A reading of talk of dying with none of its words ("I've never been in this room
    # before" came close) must reach this to be sure; from `unanchored_unsure` it is raised as
    # uncertain.
    unanchored: float = 0.04
    unanchored_unsure: float = 0.0
    # A fall told in none of the words a fall is told in ("ended up on the lino") must reach
    # this.
    unanchored_fall: float = 0.06
    # A reading this clear stands, as uncertain, even when the rules' take-backs would drop it.
    over_take_back: float = 0.10


MARGINS = Margins(
    sure={
        "self_harm": 0.04,
        "fall": 0.03,
        "pain": 0.03,
        "not_eating": 0.03,
        "not_sleeping": 0.02,
        "confusion": 0.0,
        "loneliness": 0.0,
        "missed_medicine": 0.02,
    },
    uncertain={"self_harm": -0.04, "fall": -0.02},
)

# The words a fall, or talk of dying, is told in. When every one of them in a message is taken
# back (someone else's, long ago, a fear, a joke, an idiom, a negation), the recogniser's
# reading is taken back too; a reading with none of them stands on its meaning.
_ANCHORS = {
    "fall": (
        re.compile(
            # Whole words first, so that the 倒 of 沒有摔倒 is taken back with it; dizziness
            # alone (头晕) is not a fall.
            r"(摔|跌|滑|绊|扑|撞|推|晕|昏)倒|(晕|昏)过去|摔|跌|滑|倒|绊|趴|跪|滚|栽|掉|地上|地板|"
            r"起不来|站不起来|撞|磕|躺|坐地|动不了|扶我"
        ),
        re.compile(
            r"\b(fell|fall\w*|slip\w*|trip\w*|tumbl\w*|collaps\w*|(went|gone|go) (down|over|flying)|knock\w*|"
            r"keeled|crumpled|sprawl\w*|flying|floor|ground|pavement|get up|stand up|passed out|"
            r"faint\w*|blacked out|came round|came to|gave way|buckled|came off|landed|hit|down|"
            r"lying|legs? went)\b",
            re.I,
        ),
    ),
    "self_harm": (
        re.compile(
            r"死|走|活|结束|了结|了断|跳|药|遗书|醒|消失|自杀|想不开|撑|拖累|负担|累赘|割|"
            r"绳|刀|炭|煤气|瓦斯|后事|不在"
        ),
        re.compile(
            r"\b(die|dying|died|dead|death|live|living|alive|life|end\w*|over|kill\w*|suicid\w*|"
            r"gone|go|going|pills|tablets|jump\w*|wake|disappear|burden|join|rope|knife|gas|"
            r"charcoal|here|around|goodbye|funeral|will)\b",
            re.I,
        ),
    ),
}
# Said to live, or of a fear of dying: not talk of ending one's life.
_LIVING_ZH = re.compile(
    r"不想死|还不想死|不怕死|怕死|好好活|想活到|多活|还想活|珍惜生命|活着真好|不会想不开|才不会|"
    r"期待|盼着|盼望|等不及"
)
_LIVING_EN = re.compile(
    r"\b(not ready to die|want to live|i'?ll keep going|i'?d never|never do anything|live to|"
    r"few more years|treasure life|life is (good|wonderful|beautiful|for)|"
    r"(afraid|scared|terrified) of dying|not afraid of dying|can'?t wait|looking forward|excited)\b",
    re.I,
)


# Care planned ahead (no tubes, a simple funeral, the bank card for a hospital stay) sits close
# to preparations for ending one's life; without words of not wanting to go on, it is not.
_PLANNING_ZH = re.compile(
    r"插管|急救|抢救|呼吸器|维生|安宁|从简|火化|塔位|墓地|遗嘱|律师|公证|万一.{0,6}住院"
)
_PLANNING_EN = re.compile(
    r"\b(machine|resuscitat\w*|ventilator|life support|tubes?|hospice|cremat\w*|burial|plot|"
    r"cemetery|solicitor|lawyer|will|in case i'?m in hospital|pay (the )?bills)\b",
    re.I,
)
# Going out, not going away: "我要走了，去廟裡拜拜".
_LEAVING_ZH = re.compile(
    r"出门|出去|走(了)?[，,]?\s*(去|到|回)|去(公园|市场|超市|庙|医院|上班|买|散步|拜)"
)
_LEAVING_EN = re.compile(
    r"\b(off to|going out|go out|get ready to go out|walk to|on my way to)\b", re.I
)
_RESIDING_EN = re.compile(
    r"(live[sd]?|living) (in|at|near|on|by) (?:(?-i:[A-Z])|(a|an|the|my|our|this) (little )?"
    r"(flat|house|home|bungalow|village|town|city|street|cottage|apartment|care home))",
    re.I,
)
_NOT_GOING_ON_ZH = re.compile(r"不想(再)?(活|撑)|撑不了|活不(了)?多久|想死|随时可以走|不想再")
_NOT_GOING_ON_EN = re.compile(
    r"\b(won'?t last|don'?t want to (live|go on|be here|last)|want to die|ready to go|not be here)\b",
    re.I,
)


def _reading_taken_back(kind: str, text: str) -> bool | None:
    """The rules' take-backs, applied to what the recogniser heard: True when taken back,
    None when the message has none of the kind's words (a fall is always told in some)."""
    chinese = bool(CJK.search(text))
    folded = _fold(text)
    if (_JOKE_ZH if chinese else _JOKE_EN).search(folded):
        return True
    if kind == "self_harm":
        if (_LIVING_ZH if chinese else _LIVING_EN).search(folded):
            return True
        planning = (_PLANNING_ZH if chinese else _PLANNING_EN).search(folded) or (
            _LEAVING_ZH if chinese else _LEAVING_EN
        ).search(folded)
        if planning and not (_NOT_GOING_ON_ZH if chinese else _NOT_GOING_ON_EN).search(folded):
            return True
    if kind not in _ANCHORS:
        return False
    zh, en = _ANCHORS[kind]
    anchors = list((zh if chinese else en).finditer(folded))
    if kind == "self_harm" and not chinese:  # "I live in Harrogate now": where, not whether
        said = text if len(text) == len(folded) else folded
        anchors = [m for m in anchors if not _RESIDING_EN.match(said, m.start())]
    if not anchors:
        return None
    return all(_taken_back(kind, folded, m, chinese) for m in anchors)


def read_by_meaning(
    text: str, reading: Reading, *, margins: Margins = MARGINS
) -> tuple[list[str], list[str]]:
    """The concerns the recogniser alone hears, and which of them on an uncertain reading."""
    heard, unsure = [], []
    for kind in CONCERNS:
        margin = reading.margins.get(kind, -1.0)
        if margin < margins.uncertain.get(kind, margins.sure[kind]):
            continue
        taken_back = _reading_taken_back(kind, text)
        if taken_back:
            if SEVERITY[kind] == "urgent" and margin >= margins.over_take_back:
                heard.append(kind)
                unsure.append(kind)
            continue
        if taken_back is None:  # meaning alone must be clear
            floor = {"fall": margins.unanchored_fall, "self_harm": margins.unanchored_unsure}
            floor = floor.get(kind, margins.unanchored)
            if margin < floor:
                continue
            unsure_reading = margin < max(margins.unanchored, margins.sure[kind])
            # An unsure reading with none of the kind's words yields to a clearer reading of
            # another concern: "I miss my old neighbours" is loneliness, not talk of dying.
            if unsure_reading and any(
                m > margin for k, m in reading.margins.items() if k != kind
            ):
                continue
            heard.append(kind)
            if unsure_reading:
                unsure.append(kind)
            continue
        heard.append(kind)
        if margin < margins.sure[kind]:
            unsure.append(kind)
    return heard, unsure


@lru_cache(maxsize=1)
def concern_bank() -> ConcernBank:
    """The recogniser's bank, read with the same embedder the memory index uses by default, so
    that a chat turn embeds the elder's words once for both."""
    return ConcernBank(make_embedder(DEFAULT_EMBEDDER, None))


def _short(text: str) -> bool:
    return len(CJK.findall(text)) <= 16 if CJK.search(text) else len(text.split()) <= 10


def hear(
    text: str,
    *,
    earlier: Sequence[str] = (),
    raised_earlier: Collection[str] = (),
    vector: list[float] | None = None,
    bank: ConcernBank | None = None,
    margins: Margins = MARGINS,
) -> Signals:
    """The rules, then the recogniser: what the words mean, with the same take-backs. A short
    message whose own reading leans towards an urgent concern is read again with the elder's
    messages just before it (`earlier`, oldest first). When the recogniser cannot run (the
    embedder fails), the rules' answer stands and the failure is logged."""
    found = read_signals(text)
    bank = bank or concern_bank()
    try:
        reading = bank.read(text, vector)
    except Exception as exc:  # noqa: BLE001 - the rules stand; the log says why
        log.warning("The concern recogniser could not read a message: %s", exc)
        return found
    found.vector, found.embedder = reading.vector, bank.embedder_name
    meant, unsure = read_by_meaning(text, reading, margins=margins)
    # "提醒我晚上十一點吃藥" comes near "準備晚上把藥吃掉": a request for a reminder and nothing
    # else is read by the rules alone.
    only_asks = utterance.kinds(text) == {utterance.Kind.reminder_request}
    if only_asks:
        meant, unsure = [], []
    if any(SEVERITY[k] != "urgent" for k in found.concerns):
        # An unsure reading with none of its words yields to what the rules heard plainly:
        # "我很擔心志明，他好久沒打電話回來了" is loneliness.
        meant = [k for k in meant if not (k in unsure and _reading_taken_back(k, text) is None)]
    added = [k for k in meant if k not in found.concerns]
    found.uncertain += [k for k in unsure if k in added]
    urgent_now = [k for k in (*found.concerns, *added) if SEVERITY[k] == "urgent"]
    if earlier and not urgent_now and not only_asks and _short(text):
        for kind in _read_with_earlier(text, reading, earlier, raised_earlier, bank, margins):
            added.append(kind)
            found.uncertain.append(kind)
            found.earlier = list(earlier)
    if added:
        found.concerns += added
        found.by = "rules+meaning"
        if "self_harm" in found.concerns:
            found.mood = "sad"
        elif "fall" in found.concerns:
            found.mood = "in_pain"
        elif found.mood == "content":
            found.mood = next((_MOOD_OF[c] for c in added if c in _MOOD_OF), "content")
    return found


def _read_with_earlier(
    text: str,
    reading: Reading,
    earlier: Sequence[str],
    raised_earlier: Collection[str],
    bank: ConcernBank,
    margins: Margins,
) -> list[str]:
    """The urgent concerns a short message raises when read with the elder's messages just
    before it: after words of pain and of being a burden, "我不想再這樣了" is enough, and a
    reading too faint alone counts when the words together reach it."""
    heard = []
    for kind in margins.uncertain:
        own = reading.margins[kind]
        if own < margins.context_floor:
            continue
        if kind == "fall" and kind in raised_earlier:  # the same fall, told on
            continue
        taken_back = _reading_taken_back(kind, text)
        if taken_back or (taken_back is None and kind == "fall"):
            continue
        before = [bank.read(e).margins[kind] for e in earlier]
        troubled = bool(raised_earlier) or max(before) >= margins.uncertain[kind]
        if own >= margins.troubled and troubled:
            heard.append(kind)
            continue
        joiner = "。" if CJK.search(text) else " "
        # Read together, the words must be as clear as a sure reading of one message.
        needed = margins.unanchored if taken_back is None else margins.sure[kind]
        if bank.read(joiner.join([*earlier, text])).margins[kind] >= needed:
            heard.append(kind)
    return heard


# --- the language model's second look ---------------------------------------------------


class _Answer(BaseModel):
    concerns: list[str]
    mood: str


def refine(model: BaseChatModel, text: str, found: Signals) -> Signals:
    """Ask the model whether what the rules heard is happening to the speaker now: it may drop
    a concern the rules found that is not urgent. It adds nothing, keeps the urgent ones (a
    missed fall costs more than a false alarm) and leaves the mood to the rules: measured on
    bench/concerns.py, the bundled 1.5B model's own additions and moods were wrong more often
    than right. A failure of the model leaves the rules' answer."""
    if not found.concerns or not [c for c in found.concerns if c not in found.urgent]:
        return Signals(mood=found.mood, concerns=list(found.concerns), by=found.by)
    prompt = [
        SystemMessage(
            content=prompts.text(
                "second_look", concerns=", ".join(CONCERNS), moods=", ".join(MOODS)
            )
        ),
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


EARLIER = timedelta(minutes=30)  # the elder's messages a new one is read with
EARLIER_MESSAGES = 3


def _earlier_words(session: Session, message: Message) -> tuple[list[str], set[str]]:
    """The elder's last few messages before this one (oldest first), and what they raised."""
    rows = session.exec(
        select(Message.text, MessageSignal.concerns)
        .join(MessageSignal, MessageSignal.message_id == Message.id, isouter=True)  # type: ignore[arg-type]
        .where(
            Message.elder_id == message.elder_id,
            Message.role == MessageRole.elder.value,
            Message.id != message.id,
            Message.said_at >= message.said_at - EARLIER,
            Message.said_at <= message.said_at,
        )
        .order_by(Message.said_at.desc(), Message.id.desc())  # type: ignore[attr-defined]
        .limit(EARLIER_MESSAGES)
    ).all()
    return [text for text, _ in reversed(rows)], {k for _, kinds in rows for k in kinds or []}


def observe(session: Session, message: Message, *, email: bool = False) -> Signals | None:
    """Hear the elder's message: keep its mood and concerns, and open a flag for each concern
    (urgent ones tell the family at once; the others after the elder's quiet hours, and not
    again while one of the same kind is open from the last 12 hours). Words older than a day
    (an import of history) get the rules' mood and raise nothing."""
    if message.role != MessageRole.elder.value or message.id is None:
        return None
    now = utcnow()
    recent = now - message.said_at <= RECENT
    if recent:
        earlier, raised_earlier = _earlier_words(session, message)
        found = hear(message.text, earlier=earlier, raised_earlier=raised_earlier)
    else:
        found = read_signals(message.text)
    session.add(
        MessageSignal(
            message_id=message.id,
            elder_id=message.elder_id,
            said_at=message.said_at,
            mood=found.mood,
            concerns=found.concerns,
            by=found.by,
        )
    )
    if not found.concerns or not recent:
        return found
    elder = session.get(Elder, message.elder_id)
    assert elder is not None
    raise_concerns(session, elder, message, found, email=email, now=now)
    return found


# How an uncertain reading is marked for the family, before the elder's words.
_UNCERTAIN = {
    "zh-Hant": ("（不確定，請關心一下）", "（不確定：和前面幾句話一起讀的，請關心一下）"),
    "zh-Hans": ("（不确定，请关心一下）", "（不确定：和前面几句话一起读的，请关心一下）"),
    "en": (
        " (not certain: please check on them)",
        " (not certain, read with what they said just before: please check on them)",
    ),
}


def raise_concerns(
    session: Session,
    elder: Elder,
    message: Message,
    found: Signals,
    *,
    email: bool,
    now: datetime,
) -> list[ConcernFlag]:
    v = voice(elder.language)
    later = _end_of_quiet_hours(elder, now)
    raised = []
    kinds = found.concerns
    if "fall" in kinds:  # the pain of a fall is the fall's: one flag, the urgent one
        kinds = [k for k in kinds if k != "pain"]
    for kind in kinds:
        severity = SEVERITY[kind]
        if severity != "urgent" and open_recently(session, elder.id, kind, now):
            continue
        what = v.say(f"concern_{kind}")
        if kind in found.uncertain:
            marks = _UNCERTAIN.get(v.language, _UNCERTAIN["en"])
            what += marks[1] if found.earlier else marks[0]
        raised.append(
            raise_flag(
                session,
                elder.id,
                kind=kind,
                severity=severity,
                summary=v.say("concern_summary", what=what, words=message.text),
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
                        ConcernFlag.state != ConcernState.resolved.value,
                    )
                ):
                    flag.state, flag.resolved_at = ConcernState.resolved.value, utcnow()
                    flag.resolved_by = "智安 (second look: not a concern)"
                    session.add(flag)
        done += 1
    return done

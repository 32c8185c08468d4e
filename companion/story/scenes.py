"""Character sheets and scene cards: the look of each character in each decade (era-typical
clothing and hair for the region, generated and labelled, the same words in every scene), one
style and palette for the whole film, and per timeline entry a scene card whose prompt is
built from its parts, each part either the elder's cited words or a labelled generated phrase.
"""

from __future__ import annotations

import re
from datetime import date

from companion.story.cast import mentioned
from companion.story.era import era_label
from companion.story.schema import (
    Character,
    Film,
    Generated,
    Phrase,
    SceneCard,
    ScenePrompt,
    TimelineEntry,
)
from memory.language import fold

STYLES = ("cinematic", "documentary", "watercolour", "black-and-white")

_STYLE = {
    "cinematic": (
        ("Cinematic realism", "電影寫實風格"),
        ("warm amber and muted teal, soft film grain", "溫暖琥珀色與低飽和青綠，柔和底片顆粒"),
        ("slow dolly-in, 50mm lens, shallow depth of field", "緩慢推近，50mm 鏡頭，淺景深"),
    ),
    "documentary": (
        ("Documentary photograph", "紀實攝影風格"),
        (
            "natural, slightly faded colour, as on period photographs",
            "自然、略為褪色的色彩，像當年的照片",
        ),
        ("handheld 35mm at eye level, natural framing", "手持 35mm，平視，自然構圖"),
    ),
    "watercolour": (
        ("Watercolour illustration", "水彩插畫風格"),
        ("soft pastel washes, warm paper white", "柔和粉彩暈染，溫暖紙白"),
        ("wide illustrative composition, soft edges", "寬景插畫構圖，柔和邊緣"),
    ),
    "black-and-white": (
        ("Black-and-white film still", "黑白電影劇照"),
        ("monochrome silver tones, deep blacks", "單色銀灰調，深邃黑色"),
        ("static 35mm frame, deep focus, film grain", "固定 35mm 鏡頭，深焦，底片顆粒"),
    ),
}

# Era-typical dress and hair, by region and decade: (women en, men en, women zh, men zh).
_DRESS: dict[str, dict[int, tuple[str, str, str, str]]] = {
    "taiwan": {
        1940: (
            "plain cotton blouse and dark trousers, hair in a low bun",
            "short-sleeved cotton shirt, khaki trousers, close-cropped hair",
            "素色棉布衫配深色長褲，低髮髻",
            "短袖棉襯衫、卡其長褲，平頭",
        ),
        1950: (
            "floral cotton blouse, long skirt, hair in two braids or a bun",
            "white undershirt, loose trousers, wooden clogs, crew cut",
            "碎花棉布衫、長裙，雙辮或髮髻",
            "白色汗衫、寬鬆長褲、木屐，平頭",
        ),
        1960: (
            "fitted qipao-style dress or blouse and A-line skirt, short permed hair",
            "white short-sleeved shirt, belted slacks, neat side part",
            "合身旗袍式洋裝或襯衫配A字裙，短燙髮",
            "白色短袖襯衫、繫皮帶西褲，整齊旁分",
        ),
        1970: (
            "bell-bottoms or a printed dress, long straight hair or a curly perm",
            "wide-collar shirt, flared trousers, longer side-parted hair",
            "喇叭褲或印花洋裝，長直髮或捲燙髮",
            "大翻領襯衫、喇叭褲，稍長的旁分頭",
        ),
        1980: (
            "shoulder-padded blouse, high-waisted skirt, big permed hair",
            "polo shirt tucked into slacks, side-parted hair",
            "墊肩襯衫、高腰裙，蓬鬆燙髮",
            "Polo 衫紮進西褲，旁分頭",
        ),
        1990: (
            "loose knit cardigan, long skirt, shoulder-length hair",
            "short-sleeved shirt, pleated trousers, short hair",
            "寬鬆針織外套、長裙，及肩髮",
            "短袖襯衫、打摺褲，短髮",
        ),
        2000: (
            "simple blouse and slacks, short practical hair",
            "cotton jacket, slacks, short greying hair",
            "簡單上衣配長褲，俐落短髮",
            "棉外套、長褲，灰白短髮",
        ),
        2010: (
            "cardigan over a blouse, short grey perm",
            "vest over a shirt, short grey hair",
            "襯衫外搭開襟毛衣，灰色短燙髮",
            "襯衫外搭背心，灰白短髮",
        ),
        2020: (
            "soft cardigan, comfortable trousers, short white hair",
            "knit vest, comfortable trousers, thin white hair",
            "柔軟開襟毛衣、舒適長褲，白色短髮",
            "針織背心、舒適長褲，稀疏白髮",
        ),
    },
    "china": {
        1940: (
            "padded cotton jacket, dark trousers, hair in a bun",
            "padded cotton jacket with cloth buttons, cloth shoes",
            "棉襖、深色長褲，髮髻",
            "盤扣棉襖、布鞋",
        ),
        1950: (
            "Lenin-style jacket, two braids",
            "blue cotton tunic suit, cloth shoes, short hair",
            "列寧裝，兩條辮子",
            "藍布中山裝、布鞋，短髮",
        ),
        1960: (
            "blue or grey cotton jacket, short bobbed hair or braids",
            "blue worker's jacket, cap, short hair",
            "藍灰色棉布外衣，齊耳短髮或辮子",
            "藍色工作服、帽子，短髮",
        ),
        1970: (
            "army-green or blue jacket, short bob, cloth shoes",
            "army-green jacket, cap, canvas shoes",
            "軍綠或藍色外衣，齊耳短髮，布鞋",
            "軍綠外衣、帽子、解放鞋",
        ),
        1980: (
            "knitted sweater, flared trousers, permed hair",
            "western suit jacket, bell-bottoms, longer hair",
            "毛線衣、喇叭褲，燙髮",
            "西裝外套、喇叭褲，稍長頭髮",
        ),
        1990: (
            "bright blouse, pleated skirt, permed hair",
            "suit jacket over a sweater, short hair",
            "鮮豔上衣、百褶裙，燙髮",
            "西裝外套內搭毛衣，短髮",
        ),
        2000: (
            "casual jacket and trousers, short hair",
            "jacket and trousers, short greying hair",
            "休閒外套長褲，短髮",
            "夾克長褲，灰白短髮",
        ),
        2010: (
            "padded vest, trousers, short grey perm",
            "padded vest, trousers, short grey hair",
            "鋪棉背心、長褲，灰色短燙髮",
            "鋪棉背心、長褲，灰白短髮",
        ),
        2020: (
            "soft cardigan, comfortable trousers, short white hair",
            "knit vest, comfortable trousers, thin white hair",
            "柔軟開襟毛衣、舒適長褲，白色短髮",
            "針織背心、舒適長褲，稀疏白髮",
        ),
    },
    "west": {
        1940: (
            "tea dress with padded shoulders, victory-roll curls",
            "high-waisted trousers, braces, short back and sides",
            "墊肩茶會洋裝，勝利捲髮型",
            "高腰長褲、吊帶，兩側推短",
        ),
        1950: (
            "full-skirted dress, cardigan, short set curls",
            "sports jacket, narrow tie, slicked-back hair",
            "蓬裙洋裝、開襟毛衣，短捲髮",
            "休閒西裝外套、窄領帶，油頭",
        ),
        1960: (
            "shift dress or twinset, beehive or bob",
            "slim suit, thin tie, neat short hair",
            "直筒洋裝或針織兩件套，蜂窩頭或鮑伯頭",
            "修身西裝、細領帶，整齊短髮",
        ),
        1970: (
            "flared trousers, wide-collar blouse, feathered hair",
            "wide-lapel jacket, flared trousers, sideburns",
            "喇叭褲、大翻領上衣，羽毛剪髮型",
            "寬翻領外套、喇叭褲，鬢角",
        ),
        1980: (
            "shoulder-pad blazer, permed volume",
            "knitted jumper, straight jeans, side-parted hair",
            "墊肩西裝外套，蓬鬆燙髮",
            "針織毛衣、直筒牛仔褲，旁分頭",
        ),
        1990: (
            "long cardigan, midi skirt, layered bob",
            "fleece jacket, chinos, short hair",
            "長版開襟毛衣、中長裙，層次鮑伯頭",
            "刷毛外套、卡其褲，短髮",
        ),
        2000: (
            "soft blouse and slacks, short layered hair",
            "polo shirt, slacks, short greying hair",
            "柔軟上衣配長褲，層次短髮",
            "Polo 衫、長褲，灰白短髮",
        ),
        2010: (
            "cardigan, slacks, short silver hair",
            "V-neck jumper, slacks, thinning grey hair",
            "開襟毛衣、長褲，銀色短髮",
            "V領毛衣、長褲，稀疏灰髮",
        ),
        2020: (
            "soft cardigan, comfortable trousers, short white hair",
            "cardigan, comfortable trousers, white hair",
            "柔軟開襟毛衣、舒適長褲，白色短髮",
            "開襟毛衣、舒適長褲，白髮",
        ),
    },
}
# What a scene of the decade has around it: (en, zh).
_DETAILS: dict[str, dict[int, tuple[str, str]]] = {
    "taiwan": {
        1940: ("Japanese-era wooden houses, bicycles, oil lamps", "日式木造房舍、腳踏車、油燈"),
        1950: ("tiled-roof houses, pedicabs, hand-painted signs", "瓦頂平房、三輪車、手繪招牌"),
        1960: (
            "Tatung fans, black bicycles, enamel basins, radio",
            "大同電扇、黑色鐵馬、搪瓷臉盆、收音機",
        ),
        1970: ("scooters, TTV television sets, red-brick walls", "機車、電視機、紅磚牆"),
        1980: (
            "crowded scooters, neon shop signs, cassette players",
            "擁擠的機車、霓虹招牌、卡式錄音機",
        ),
        1990: ("convenience stores, pagers, karaoke signs", "便利商店、呼叫器、KTV 招牌"),
        2000: ("mobile phones, MRT stations, plastic stools", "手機、捷運站、塑膠椅"),
        2010: ("smartphones, tidy shopfronts", "智慧型手機、整潔店面"),
        2020: ("smartphones, masks, bright convenience stores", "智慧型手機、口罩、明亮的便利商店"),
    },
    "china": {
        1940: ("courtyard houses, rickshaws, paper lanterns", "四合院、人力車、紙燈籠"),
        1950: ("slogans on walls, bicycles, thermos flasks", "牆上標語、自行車、熱水瓶"),
        1960: (
            "propaganda posters, enamel mugs, Flying Pigeon bicycles",
            "宣傳海報、搪瓷杯、飛鴿自行車",
        ),
        1970: ("ration coupons, loudspeakers, army-green satchels", "糧票、大喇叭、軍綠書包"),
        1980: (
            "cassette recorders, black-and-white TVs, bicycle crowds",
            "錄音機、黑白電視、自行車潮",
        ),
        1990: ("street markets, pagers, new high-rises", "街市、傳呼機、新建高樓"),
        2000: ("mobile phones, busy construction, buses", "手機、繁忙工地、公車"),
        2010: ("smartphones, high-speed trains", "智慧型手機、高鐵"),
        2020: ("smartphones, QR codes, masks", "智慧型手機、二維碼、口罩"),
    },
    "west": {
        1940: (
            "ration books, wireless radio, blackout curtains",
            "配給簿、無線電收音機、燈火管制窗簾",
        ),
        1950: (
            "valve radios, milk bottles on doorsteps, steam trains",
            "真空管收音機、門口的牛奶瓶、蒸汽火車",
        ),
        1960: (
            "transistor radios, Formica kitchens, small cars",
            "電晶體收音機、美耐板廚房、小型汽車",
        ),
        1970: (
            "orange and brown interiors, rotary phones, colour TV",
            "橘棕色室內、轉盤電話、彩色電視",
        ),
        1980: ("cassette walkmans, hatchback cars, bright neon", "隨身聽、掀背車、鮮豔霓虹"),
        1990: ("cordless phones, CD players, minivans", "無線電話、CD 播放機、休旅車"),
        2000: ("flip phones, flat-screen TVs", "摺疊手機、平面電視"),
        2010: ("smartphones, tablets", "智慧型手機、平板電腦"),
        2020: ("smartphones, video calls, masks", "智慧型手機、視訊通話、口罩"),
    },
}
_REGION_EN = {"taiwan": "Taiwan", "china": "China", "west": "the West"}
_AGE_WORDS = (
    (13, "a child of about {a}", "約{a}歲的孩子"),
    (20, "a teenager of about {a}", "約{a}歲的少年"),
    (35, "a young adult of about {a}", "約{a}歲的年輕人"),
    (55, "a middle-aged person of about {a}", "約{a}歲的中年人"),
    (70, "an older person of about {a}", "約{a}歲的長者"),
    (200, "an elderly person of about {a}", "約{a}歲的老人"),
)
_LIGHT = (
    (
        re.compile(r"早上|清晨|早晨|天亮|morning|dawn", re.I),
        "MORNING",
        "soft early-morning light",
        "清晨柔和的光",
    ),
    (re.compile(r"中午|noon|midday", re.I), "DAY", "high midday sun", "正午的陽光"),
    (re.compile(r"下午|afternoon", re.I), "AFTERNOON", "warm afternoon light", "午後溫暖的陽光"),
    (
        re.compile(r"傍晚|黄昏|黃昏|evening|dusk|sunset", re.I),
        "EVENING",
        "golden dusk light",
        "黃昏金色的光",
    ),
    (
        re.compile(r"晚上|夜|那晚|night|tonight", re.I),
        "NIGHT",
        "warm lamplight at night",
        "夜晚溫暖的燈光",
    ),
)
_INTERIOR = re.compile(
    r"厂|廠|家|屋|房|店|行|医院|醫院|学校|學校|教室|布庄|布莊|百货|百貨|公司|银行|銀行|邮局|郵局|戏院|戲院|"
    r"电影院|電影院|\b(?:hospital|mill|factory|shop|store|bakery|pub|church|chapel|dance hall|school|"
    r"office|flat|kitchen|cabin|house|home|cinema)\b",
    re.I,
)
_EXTERIOR = re.compile(
    r"口|街|路|港|码头|碼頭|市场|市場|田|农场|農場|海边|海邊|河边|河邊|公园|公園|山|潭|村|院|"
    r"\b(?:beach|lake|farm|docks|street|park|market|harbou?r|river|seaside|garden|field)\b",
    re.I,
)
_MOOD = {
    "loss": ("quiet grief", "安靜的哀傷"),
    "longing": ("tender longing", "溫柔的思念"),
    "pride": ("quiet pride", "含蓄的驕傲"),
    "joy": ("warm joy", "溫暖的喜悅"),
    "love": ("shy tenderness", "羞澀的柔情"),
    "hardship": ("weary endurance", "疲憊中的堅忍"),
}
BEATS = {
    "loss": re.compile(
        r"过世|去世|走了|离开我们|离开了|不在了|往生|\bdied\b|passed away|\blost (?:my|our)\b", re.I
    ),
    "longing": re.compile(
        r"想念|思念|怀念|好想|很想|\bmiss(?:ed)?\b|long for|wish .* (?:were|was) here", re.I
    ),
    "pride": re.compile(r"骄傲|自豪|得意|考上|\bproud\b", re.I),
    "love": re.compile(
        r"认识|嫁给|嫁到|结婚|喜酒|\bmet\b|\bmarried\b|\bwedding\b|\bdanced?\b", re.I
    ),
    "hardship": re.compile(r"穷|苦|累|兇|凶|饿|地震|\bpoor\b|\bhard\b|\bhungry\b|\bwar\b", re.I),
    "joy": re.compile(
        r"开心|高兴|快乐|幸福|笑|热闹|\bhappy\b|\bjoy|wonderful|lovely|\bfun\b", re.I
    ),
}


def local(text: str, language: str) -> str:
    """A generated phrase (written in Traditional characters) in the elder's language."""
    if language == "zh-Hans":
        return fold(text)
    return text


def region_of(language: str) -> str:
    return "taiwan" if language == "zh-Hant" else "china" if language == "zh-Hans" else "west"


def film(style: str, language: str) -> Film:
    (name_en, name_zh), (pal_en, pal_zh), (cam_en, cam_zh) = _STYLE[style]

    def g(en: str, zh: str) -> Generated:
        return Generated(en=en, local=en if language == "en" else local(zh, language))

    return Film(
        style=style,
        style_words=g(name_en, name_zh),
        palette=g(pal_en, pal_zh),
        camera=g(cam_en, cam_zh),
        region=region_of(language),  # type: ignore[arg-type]
    )


def _decade_key(decade: int) -> int:
    return min(max(decade, 1940), 2020)


def look_words(
    *, region: str, decade: int, gender: str | None, age: int | None, language: str
) -> tuple[str, str]:
    """The generated look of a character in a decade (the same words whenever asked)."""
    women_en, men_en, women_zh, men_zh = _DRESS[region][_decade_key(decade)]
    if gender == "female":
        dress_en, dress_zh = women_en, women_zh
    elif gender == "male":
        dress_en, dress_zh = men_en, men_zh
    else:
        dress_en, dress_zh = (
            f"{women_en} (if a woman); {men_en} (if a man)",
            f"{women_zh}（女）；{men_zh}（男）",
        )
    if age is not None and age < 13:
        dress_en, dress_zh = f"a child's version of {dress_en}", f"孩童版的{dress_zh}"
    if age is None:
        who_en, who_zh = "age not said", "年齡未提"
    else:
        who_en, who_zh = next((en, zh) for limit, en, zh in _AGE_WORDS if age < limit)
        who_en, who_zh = who_en.format(a=age), who_zh.format(a=age)
    en = f"{who_en}, {dress_en}, typical of {_REGION_EN[region]} in the {decade}s"
    zh = f"{who_zh}，{dress_zh}，{decade}年代{ {'taiwan': '台灣', 'china': '中國', 'west': '西方'}[region] }的典型打扮"
    return en, (en if language == "en" else local(zh, language))


def era_details(region: str, decade: int, language: str) -> Generated:
    en, zh = _DETAILS[region][_decade_key(decade)]
    return Generated(
        en=f"Era details: {en}",
        local=f"Era details: {en}" if language == "en" else local(f"時代細節：{zh}", language),
    )


def beat_of(words: str) -> tuple[str, str] | None:
    """The beat's kind and the words that carry it (verbatim from `words`)."""
    folded = fold(words)
    for kind, pattern in BEATS.items():
        if m := pattern.search(folded):
            cue = words[m.start() : m.end()] if len(words) == len(folded) else m.group(0)
            return kind, cue
    return None


def scene_card(
    number: int,
    entry: TimelineEntry,
    *,
    characters: dict[str, Character],
    language: str,
    the_film: Film,
    born: date | None,
) -> SceneCard:
    """One scene: its heading, who is in it, what happens in the elder's words, the beat, and
    a prompt built from those parts."""
    words = " ".join([entry.text] + [s.words for s in entry.sources])
    message_ids = [s.message_id for s in entry.sources]
    folded = fold(words).lower()
    ordered = sorted(
        entry.places,
        key=lambda name: folded.find(re.sub(r"^(?:the|a|an) ", "", fold(name).lower())),
    )
    place = ordered[-1] if ordered else None  # "離開嘉義，到台北的鐵工廠": where it ends up
    era = entry.era
    light = next(((tod, en, zh) for p, tod, en, zh in _LIGHT if p.search(words)), None)
    inside = (
        "INT."
        if place and _INTERIOR.search(place)
        else "EXT."
        if place and _EXTERIOR.search(place)
        else "INT./EXT."
    )
    era_en = era.label_en if era else "an era not said"
    era_local = (
        era.label_local if era else local("年代未提", language) if language != "en" else era_en
    )
    unsaid = "A PLACE NOT SAID" if language == "en" else local("地點未提", language)
    heading_place = " / ".join(ordered[-2:]) if ordered else unsaid
    heading = f"{inside} {heading_place} - {era_local.upper() if language == 'en' else era_local}"
    if light:
        heading += f" - {light[0]}"
    cast_ids = ["elder"] + [c for c in entry.people if c != "elder"]
    family = [entry.memory_id] if entry.memory_id is not None and not entry.sources else []
    action = (
        [Phrase(generated=False, text=s.words, message_ids=[s.message_id]) for s in entry.sources]
        if entry.sources
        else [Phrase(generated=False, text=entry.text, memory_ids=family)]
    )
    found_beat = beat_of(words)
    beat = None
    if found_beat:
        cited = next((s for s in entry.sources if found_beat[1] in s.words), None)
        beat = Phrase(
            generated=cited is None,
            text=found_beat[1] if cited else _MOOD[found_beat[0]][0],
            local=None if cited else local(_MOOD[found_beat[0]][1], language),
            message_ids=[cited.message_id] if cited else [],
        )
    details = era_details(the_film.region, era.decade, language) if era else None

    parts: list[Phrase] = [
        Phrase(
            generated=True,
            text=f"{the_film.style_words.en}, {the_film.palette.en}",
            local=f"{the_film.style_words.local}，{the_film.palette.local}",
        ),
        Phrase(generated=True, text=era_en[:1].upper() + era_en[1:], local=era_local),
    ]
    for name in ordered:
        cited = [s for s in entry.sources if mentioned(s.words, name)]
        ids = [s.message_id for s in cited]
        # As said ("台南"), cited; as named here ("the farm" of "on a farm"), labelled generated.
        verbatim = all(name in s.words for s in cited) if cited else name in entry.text
        parts.append(
            Phrase(
                generated=not verbatim,
                text=name,
                local=None if verbatim else name,
                message_ids=ids,
                memory_ids=[] if ids else family or ([entry.memory_id] if entry.memory_id else []),
            )
        )
    for cid in cast_ids:
        c = characters.get(cid)
        if c is None:
            continue
        look = next((lk for lk in c.looks if era and lk.decade == era.decade), None)
        who = c.name if c.named or c.id == "elder" else c.relation or c.name
        if look:
            parts.append(
                Phrase(
                    generated=True,
                    text=f"{who}: {look.cues_en}",
                    local=f"{who}：{look.cues_local}"
                    if language != "en"
                    else f"{who}: {look.cues_local}",
                )
            )
        else:
            parts.append(Phrase(generated=True, text=who, local=who))
    parts += [a.model_copy() for a in action]
    if details:
        parts.append(Phrase(generated=True, text=details.en, local=details.local))
    light_en, light_zh = (light[1], light[2]) if light else ("natural daylight", "自然光")
    mood_en, mood_zh = _MOOD.get(
        found_beat[0] if found_beat else "", ("quiet, nostalgic", "安靜懷舊")
    )
    parts += [
        Phrase(
            generated=True, text=f"Light: {light_en}", local=local(f"光線：{light_zh}", language)
        ),
        Phrase(generated=True, text=f"Mood: {mood_en}", local=local(f"氛圍：{mood_zh}", language)),
        Phrase(
            generated=True,
            text=f"Camera: {the_film.camera.en}",
            local=local("鏡頭：", language) + the_film.camera.local,
        ),
    ]
    prompt_en = ". ".join(p.text if p.generated else f'"{p.text}"' for p in parts) + "."
    if language == "en":
        prompt_local = prompt_en
    else:
        prompt_local = (
            "。".join((p.local or p.text) if p.generated else f"「{p.text}」" for p in parts) + "。"
        )
    prompt = ScenePrompt(
        style=the_film.style,
        prompt_en=prompt_en,
        prompt_local=prompt_local,
        parts=parts,
        memory_ids=[entry.memory_id] if entry.memory_id is not None else [],
        message_ids=message_ids,
    )
    return SceneCard(
        number=number,
        heading=heading,
        interior=inside,  # type: ignore[arg-type]
        place=place,
        era=era,
        time_of_day=light[0] if light else None,
        characters=cast_ids,
        action=action,
        beat=beat,
        beat_kind=found_beat[0] if found_beat else None,
        era_details=details,
        prompt=prompt,
        memory_ids=prompt.memory_ids,
        message_ids=message_ids,
    )


def era_of_label(year: int, language: str, estimate: bool) -> tuple[str, str]:
    return era_label(year, "en", estimate=estimate), era_label(year, language, estimate=estimate)

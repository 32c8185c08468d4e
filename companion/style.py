"""Dementia-friendly replies, checked in code after generation: short sentences, at most one
question, none of the phrasings that make a person feel forgetful or corrected. Works sentence
by sentence, so a streamed reply is checked before each sentence is shown."""

from __future__ import annotations

import re
import threading
from collections import Counter

from companion.intent import unsupported_details
from companion.persona import Voice
from memory.language import CJK, fold

MAX_SENTENCES = 3
MAX_CJK_CHARS = 40  # per sentence
MAX_WORDS = 24  # per sentence, English

# Sentence ends: Chinese punctuation ends one at once; Latin punctuation when a space follows.
_ZH_END = re.compile(
    r"[\u3002\uff01\uff1f]+[\u300d\u300f\u201d\"')]*|[!?]+(?=[\u3400-\u9fff\u300c])"
)
_EN_END = re.compile(r"[.!?]+[\"'\u201d\u2019)*_]*(?=\s)")
_QUESTION = re.compile(r"[?\uff1f]\W*$")
_MARKDOWN = re.compile(r"^\s*(?:[-*•#>]+|\d+[.)、])\s*|\*\*|__|`")
_SPEAKER = re.compile(r"^\s*(?:智安|Zhian)\s*[:\uff1a]\s*")
# "您記得美玲嗎？", "Do you remember Susan?": asking the elder to remember.
_RECALL_QUESTION = re.compile(
    r"(?:您|你)(?:還|还|應該|应该)?(?:記得|记得|記不記得|记不记得).{0,12}[嗎吗]"
    r"|\bremember\b[^.!]*\?",
    re.IGNORECASE,
)
# A question that does not end with a question mark: "您累嗎", "是不是".
_ZH_QUESTION_WORD = re.compile(r"[嗎吗呢]\W*$")
# Abbreviations whose full stop ends no sentence.
_ABBREVIATION = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Prof)\.$")
_CLAUSE = re.compile(r"[,\uff0c\u3001;\uff1b]")

# Checks of what a sentence says, against the elder's message and the memory note.
_REFUSAL = re.compile(
    r"抱歉.{0,8}(?:不能|无法|無法|沒辦法|没办法)|(?:不能|无法|無法)(?:提供|回答|透露|分享)"
    r"|作為(?:一個)?(?:AI|人工智慧|人工智能|語言模型|助手)|作为(?:一个)?(?:AI|人工智能|语言模型|助手)"
    r"|(?:語言|语言)模型|人工智(?:慧|能)|個人(?:經歷|信息|資料|隱私)|个人(?:经历|信息|资料|隐私)"
    r"|\bI(?:'m| am) (?:sorry|afraid),? but I (?:can(?:no|')t|am unable|'m unable)"
    r"|\bI (?:can(?:no|')t|am unable to|'m unable to) (?:provide|share|access|help with that)"
    r"|\bas an (?:AI|artificial|language model)|\blanguage model\b|\bpersonal (?:information|details)\b",
    re.IGNORECASE,
)
# Help 智安 cannot give: it has no hands ("我可以幫您做運動", "I'll bring you a blanket").
_PHYSICAL_PROMISE = re.compile(
    r"我(?:可以|會|会|來|来|去|馬上|马上|幫|帮|陪)+(?:您|你)?(?:做|按摩|拿|扶|煮|送|帶|带|推|抱|揉|倒|買|买"
    r"|開車|开车|去|幫您|帮您)"
    r"|\bI(?:'ll| will| can| could)? (?:help you (?:do|with (?:some )?exercises|up|walk|get)|bring"
    r"|fetch|make you|cook|drive|take you|walk with you|massage|carry|come over|get you)\b"
    r"|\blet me (?:bring|get|fetch|make|take|help you up)\b",
    re.IGNORECASE,
)
# Past a loss, never "cheer up".
_CHEER_UP = re.compile(
    r"開心點|开心点|別難過|别难过|不要難過|不要难过|振作|往好處想|往好处想|看開|看开|別傷心|别伤心"
    r"|\bcheer up\b|\bdon't be sad\b|\bbright side\b|\bmove on\b|\bsmile\b",
    re.IGNORECASE,
)
_ZH_PERSON = re.compile(r"[我您你]們?|[我您你]们")
_EN_PERSON = re.compile(
    r"\b(?:i|me|my|mine|you|your|yours|we|our|us|am|are|was|were)\b", re.IGNORECASE
)
_PUNCTUATION = re.compile(r"[\W_]+")


def _plain(text: str) -> str:
    """Text without person words and punctuation, Simplified, lower-case: for comparing."""
    if CJK.search(text):
        return _PUNCTUATION.sub("", _ZH_PERSON.sub("", fold(text)))
    return " ".join(_PUNCTUATION.sub(" ", _EN_PERSON.sub(" ", text.lower())).split())


def _longest_common(a: str, b: str) -> int:
    best = 0
    previous = [0] * (len(b) + 1)
    for ca in a:
        current = [0]
        for j, cb in enumerate(b):
            current.append(previous[j] + 1 if ca == cb else 0)
        best = max(best, max(current))
        previous = current
    return best


def _bigrams(text: str) -> set[str]:
    if CJK.search(text):
        return {text[i : i + 2] for i in range(len(text) - 1)}
    words = text.split()
    return {" ".join(words[i : i + 2]) for i in range(len(words) - 1)} | set(words)


def echoes(sentence: str, message: str) -> bool:
    """The sentence says back the elder's message (or most of a clause of it)."""
    said, heard = _plain(sentence), _plain(message)
    if not said or not heard:
        return False
    if CJK.search(sentence):
        run = _longest_common(said, heard)
        return run >= 6 and run >= 0.6 * len(said)
    run = _longest_common(said.split(), heard.split())  # type: ignore[arg-type]
    return run >= 5 and run >= 0.6 * len(said.split())


def _copies_elders_me(sentence: str, grounds: str) -> bool:
    """The elder's "me" copied with the verb before it: the elder said "每個月回來看我", and the
    reply says "回來看我", as if the son visited 智安; "he calls me" the same."""
    if CJK.search(sentence):
        said, heard = fold(sentence), fold(grounds)
        return any(
            said[i - 1] + "我" in heard
            for i, char in enumerate(said)
            if char == "我"
            and i > 0
            and CJK.match(said[i - 1])
            and said[i - 1] not in "讓让和跟與与"
        )
    heard = grounds.lower()
    return any(
        f"{verb} me" in heard
        for verb in re.findall(r"\b([a-z]+) me\b", sentence.lower())
        if verb not in ("tell", "let", "for", "to", "with", "remind", "show", "help", "ask", "and")
    )


def claims_elders_life(sentence: str, grounds: str) -> bool:
    """The sentence says in the first person what belongs to the elder's life: "我以前最喜歡吃
    虱目魚粥", "I was a nurse", "志明每個月回來看我"."""
    if _copies_elders_me(sentence, grounds):
        return True
    if CJK.search(sentence):
        if "我" not in sentence:  # 我們 too: "我們結婚四十八年了" is the elder's marriage
            return False
        own = sentence.split("我", 1)[1]
    else:
        found = re.search(r"\b(?:I|my|I'm|I've|I was)\b(.*)", sentence.replace("\u2019", "'"))
        if not found:
            return False
        own = found.group(1)
    content = _bigrams(_plain(own)) - {""}
    return len(content & _bigrams(_plain(grounds))) >= (3 if CJK.search(sentence) else 2)


def keep_written(text: str, written: str) -> str:
    """The reply in the script it was converted to, except for words the elder or the memory
    note wrote: 虱目魚 stays 虱目魚 when the elder wrote it so, whatever the converter does."""
    if not CJK.search(text) or not written:
        return text
    simplified = fold
    if len(simplified(text)) != len(text):
        return text
    folded_written = simplified(written)
    if len(folded_written) != len(written):
        return text
    spelling: dict[str, str] = {}
    for n in (2, 3, 4):
        for i in range(len(written) - n + 1):
            word = written[i : i + n]
            if CJK.fullmatch(word[0]) and CJK.fullmatch(word[-1]):
                spelling.setdefault(folded_written[i : i + n], word)
    out = list(text)
    folded = simplified(text)
    for n in (4, 3, 2):
        for i in range(len(text) - n + 1):
            word = spelling.get(folded[i : i + n])
            if word is not None:
                out[i : i + n] = list(word)
    return "".join(out)


_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()


def repair_counts() -> dict[str, int]:
    """How many replies were repaired, by kind, since this process started."""
    with _counts_lock:
        return dict(_counts)


class StyleGuard:
    """Feed it the model's text as it streams; it hands back finished, checked sentences."""

    def __init__(self, voice: Voice) -> None:
        self.voice = voice
        self.repairs: Counter[str] = Counter()
        self._buffer = ""
        self._sentences = 0
        self._asked = False
        self._message = ""
        self._grounds = ""
        self._said: list[str] = []
        self._grief = False
        self._note = ""
        self._facts_said = False
        self.most = MAX_SENTENCES

    def ground(
        self,
        *,
        message: str,
        note: str,
        said: tuple[str, ...] = (),
        grief: bool = False,
        facts_said: bool = False,
        most: int = MAX_SENTENCES,
    ) -> None:
        """What the model's sentences are checked against: the elder's message and the memory
        note; what code has already said this turn (counted, and not said twice); at most
        `most` sentences from the model."""
        self._message, self._grounds, self._grief = message, note + "\n" + message, grief
        self._note, self._facts_said = note, facts_said
        for sentence in said:
            self._said.append(sentence)
            self._sentences += 1
            if _QUESTION.search(sentence) or _ZH_QUESTION_WORD.search(sentence):
                self._asked = True
        self.most = min(MAX_SENTENCES, len(self._said) + most)

    @property
    def full(self) -> bool:
        """Enough has been said: the caller can stop generating."""
        return self._sentences >= self.most

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        out: list[str] = []
        while (cut := self._next_end()) is not None:
            sentence, self._buffer = self._buffer[:cut], self._buffer[cut:]
            out.extend(self._accept(sentence))
        return out

    def finish(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        out = self._accept(rest) if rest.strip() else []
        self._record()
        return out

    def _next_end(self) -> int | None:
        newline = self._buffer.find("\n")
        ends = [m.end() for m in (_ZH_END.search(self._buffer),) if m]
        for match in _EN_END.finditer(self._buffer):
            if not _ABBREVIATION.search(self._buffer[: match.end()]):
                ends.append(match.end())
                break
        if newline >= 0:
            ends.append(newline + 1)
        if not ends:
            return None
        cut = min(ends)
        # "…?」" may still be growing: wait for one more character before cutting there.
        return cut if cut < len(self._buffer) or self._buffer[-1] == "\n" else None

    def _accept(self, raw: str) -> list[str]:
        sentence = keep_written(self.voice.in_script(raw.strip()), self._grounds)
        while (cleaned := _SPEAKER.sub("", _MARKDOWN.sub("", sentence)).strip()) != sentence:
            sentence = cleaned
        if not sentence or not _PUNCTUATION.sub("", sentence):
            return []
        if self.full:
            self.repairs["too_many_sentences"] += 1
            return []
        if (problem := self._problem(sentence)) is not None:
            self.repairs[problem] += 1
            return []
        lowered = sentence.lower().replace("\u2019", "'")
        if any(phrase in lowered for phrase in self.voice.avoid) or _RECALL_QUESTION.search(
            sentence
        ):
            self.repairs["forgetful_phrasing"] += 1
            return []
        sentence = self._one_question_inside(sentence)
        if _QUESTION.search(sentence) or (
            self.voice.language.startswith("zh") and _ZH_QUESTION_WORD.search(sentence)
        ):
            if self._asked:
                self.repairs["second_question"] += 1
                return []
            self._asked = True
        out = []
        for part in self._shorten(sentence):
            if self._sentences < self.most:
                self._sentences += 1
                out.append(part)
                self._said.append(part)
        return out

    def _problem(self, sentence: str) -> str | None:
        """Why the sentence must not be said, or None: what 智安 says about the elder's life
        comes from code, and the model's words are held to it."""
        if _REFUSAL.search(sentence):
            return "refusal"
        if self.voice.language == "en" and CJK.search(sentence):
            return "wrong_language"
        if _PHYSICAL_PROMISE.search(sentence):
            return "physical_promise"
        if self._grief and _CHEER_UP.search(sentence):
            return "cheer_up_after_loss"
        if not self._message and not self._grounds.strip():
            return None
        if self._facts_said and len(_bigrams(_plain(sentence)) & _bigrams(_plain(self._note))) >= 3:
            return "restates_memory"  # code has said what the memory holds; the model adds warmth
        if echoes(sentence, self._message):
            return "echo"
        if claims_elders_life(sentence, self._grounds):
            return "first_person_claim"
        if any(
            len(_bigrams(_plain(sentence)) & _bigrams(_plain(earlier)))
            >= 0.5 * max(1, len(_bigrams(_plain(sentence))))
            for earlier in self._said
        ):
            return "said_twice"
        if unsupported_details(sentence, self._grounds):
            return "invented_detail"
        return None

    def replace(self) -> None:
        """The model's words are replaced by a template: counted in the answer and in metrics."""
        self.repairs["replaced_by_template"] += 1
        with _counts_lock:
            _counts["replaced_by_template"] += 1

    def _one_question_inside(self, sentence: str) -> str:
        """ "Did you enjoy it?Was it sunny?" arrives as one sentence: keep its first question."""
        marks = [m.start() for m in re.finditer(r"[?\uff1f]", sentence)]
        if len(marks) > 1 and marks[0] < len(sentence) - 1:
            self.repairs["second_question"] += 1
            return sentence[: marks[0] + 1]
        return sentence

    def _shorten(self, sentence: str) -> list[str]:
        cjk = len(CJK.findall(sentence))
        too_long = cjk > MAX_CJK_CHARS if cjk else len(sentence.split()) > MAX_WORDS
        if not too_long:
            return [sentence]
        clauses = [m.start() for m in _CLAUSE.finditer(sentence)]
        if not clauses:
            return [sentence]
        middle = min(clauses, key=lambda i: abs(i - len(sentence) / 2))
        first, second = sentence[:middle].strip(), sentence[middle + 1 :].strip()
        if not first or not second:
            return [sentence]
        self.repairs["long_sentence"] += 1
        stop = "\u3002" if cjk else "."
        if cjk == 0 and second[:1].islower():
            second = second[0].upper() + second[1:]
        return [first + stop, *self._shorten(second)]

    def _record(self) -> None:
        if self.repairs:
            with _counts_lock:
                _counts.update(self.repairs)
                _counts["replies_repaired"] += 1


def join_sentences(sentences: list[str], language: str) -> str:
    return ("" if language.startswith("zh") else " ").join(sentences)

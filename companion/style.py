"""Dementia-friendly replies, checked in code after generation: short sentences, at most one
question, none of the phrasings that make a person feel forgetful or corrected. Works sentence
by sentence, so a streamed reply is checked before each sentence is shown."""

from __future__ import annotations

import re
import threading
from collections import Counter

from companion.persona import Voice
from memory.language import CJK

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

    @property
    def full(self) -> bool:
        """Enough has been said: the caller can stop generating."""
        return self._sentences >= MAX_SENTENCES

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
        sentence = self.voice.in_script(raw.strip())
        while (cleaned := _SPEAKER.sub("", _MARKDOWN.sub("", sentence)).strip()) != sentence:
            sentence = cleaned
        if not sentence:
            return []
        if self.full:
            self.repairs["too_many_sentences"] += 1
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
            if self._sentences < MAX_SENTENCES:
                self._sentences += 1
                out.append(part)
        return out

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

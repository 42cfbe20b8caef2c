"""The demo's constraint kinds, one class each, as lm-evaluation-harness's IFEval registry has one class per
instruction: its sentence, how its value is drawn, its check, its minimal fix and the kinds it cannot be combined
with. `REGISTRY` lists them in the order the reviser fixes them: text is added first, then removed, then wrapped,
then the case is set. An unknown kind is an error.
"""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar

from ...evaluation.guards import sentences, wrapped_in_quotes

KEYWORDS = ["calm", "simple", "bright", "gentle", "warm", "fresh", "special", "peaceful", "lively", "wonderful"]
END_PHRASES = ["that is all.", "hope this helps.", "thank you for reading."]
AVOID = ["the", "and", "is", "very"]
# Sentences the reviser adds when an answer is too short: on the topic, and free of the words of AVOID.
MORE = [
    "Many people have their own stories about {topic}.",
    "Everyone can learn something new from {topic}.",
    "Taking a closer look at {topic} can be rewarding.",
    "People often remember {topic} for a long time.",
    "Each person finds something different in {topic}.",
    "Friends can share what they enjoy about {topic}.",
]
USING_KEYWORD = [
    "Many people find {topic} {0}.",
    "A day with {topic} can feel {0}.",
    "Something about {topic} feels {0}.",
]

HIGHLIGHT = re.compile(r"\*[^\n*]+\*")
# The prompt's own example of a highlight: copying it into the answer highlights nothing.
PLACEHOLDER = re.compile(r"[ \t]*\*\s*highlighted section\s*\*", re.IGNORECASE)
# Its example of a title: an answer titled <<my title>> has copied the request, not given itself a title.
TITLE_PLACEHOLDER = re.compile(r"<<\s*my title\s*>>", re.IGNORECASE)
DIVIDER = re.compile(r"\s*\*\*\*\s*")
BULLET = re.compile(r"\s*[*-]\s+.*[^\W\d_]")  # a markdown bullet with at least one letter


def paragraphs(text: str) -> list[str]:
    """Paragraphs separated by the markdown divider *** (as the instruction-following benchmarks count them)."""
    return [p for p in DIVIDER.split(text) if p.strip()]


def count_word(text: str, word: str) -> int:
    return len(re.findall(rf"\b{re.escape(word)}\b", text, re.IGNORECASE))


def has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


def highlights(text: str) -> list[str]:
    """The highlighted sections of a text, without copies of the prompt's placeholder *highlighted section*."""
    return HIGHLIGHT.findall(PLACEHOLDER.sub("", text))


def bullet_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if BULLET.match(line)]


def _append(text: str, sentence: str) -> str:
    return f"{text.rstrip()} {sentence}" if sentence else text


class Kind:
    """One constraint kind. `sentence` is its template in the prompt ({0}, {1}: its value); `numeric` kinds read
    their value back as an integer."""

    name: ClassVar[str]
    sentence: ClassVar[str]
    numeric: ClassVar[bool] = False
    conflicts: ClassVar[frozenset[str]] = frozenset()

    def draw(self, rng: random.Random) -> Any:
        return None

    def holds(self, text: str, value: Any) -> bool:
        raise NotImplementedError

    def fix(self, text: str, value: Any, topic: str) -> str:
        """The smallest change we know that makes the constraint hold (called only when it does not)."""
        raise NotImplementedError


class Title(Kind):
    name, sentence = "title", "Give your answer a title wrapped in double angular brackets, such as <<my title>>."

    def holds(self, text, value):
        return re.search(r"<<[^<>\n]+>>", TITLE_PLACEHOLDER.sub("", text)) is not None

    def fix(self, text, value, topic):
        """The topic as the title: in place of a copied <<my title>>, else above the answer."""
        if TITLE_PLACEHOLDER.search(text):
            return TITLE_PLACEHOLDER.sub(f"<<{topic}>>", text, count=1)
        return f"<<{topic}>>\n\n{text}"


class Bullets(Kind):
    name, numeric = "bullets", True
    sentence = "Your answer must contain exactly {0} bullet points, using markdown bullets such as * item."

    def draw(self, rng):
        return rng.randint(2, 4)

    def holds(self, text, value):
        return len(bullet_lines(text)) == value

    def fix(self, text, value, topic):
        lines = text.splitlines()
        bullets = [i for i, line in enumerate(lines) if BULLET.match(line)]
        if len(bullets) > value:
            drop = set(bullets[value:])
            return "\n".join(line for i, line in enumerate(lines) if i not in drop)
        is_bullet = set(bullets)
        prose = " ".join(line for i, line in enumerate(lines) if i not in is_bullet).strip()
        found = [s for s in re.split(r"(?<=[.!?])\s+", prose) if s]
        need = value - len(bullets)
        new = [f"* {s}" for s in found[:need]]
        new += [f"* {sentence.format(topic=topic)}" for sentence in MORE[: need - len(new)]]
        rest = found[need:]
        return "\n".join([lines[i] for i in bullets] + new + ([" ".join(rest)] if rest else []))


class Keywords(Kind):
    name, sentence = "keywords", 'Include the keywords "{0}" and "{1}" in your response.'
    conflicts = frozenset({"keyword_frequency"})

    def draw(self, rng):
        return tuple(rng.sample(KEYWORDS, 2))

    def holds(self, text, value):
        return all(has_word(text, k) for k in value)

    def fix(self, text, value, topic):
        missing = [k for k in value if not has_word(text, k)]
        return _append(text, USING_KEYWORD[0].format(" and ".join(missing), topic=topic))


class KeywordFrequency(Kind):
    name, sentence = "keyword_frequency", 'In your response, the word "{0}" should appear at least {1} times.'

    def draw(self, rng):
        return rng.choice(KEYWORDS), rng.choice([2, 3])

    def holds(self, text, value):
        return count_word(text, value[0]) >= value[1]

    def fix(self, text, value, topic):
        word, times = value
        added = [
            USING_KEYWORD[i % len(USING_KEYWORD)].format(word, topic=topic)
            for i in range(times - count_word(text, word))
        ]
        return _append(text, " ".join(added))


class _Lengthening(Kind):
    def fix(self, text, value, topic):
        """Append on-topic sentences (each one once) until the word or sentence count is reached."""
        for sentence in MORE:
            if self.holds(text, value):
                break
            text = _append(text, sentence.format(topic=topic))
        return text


class MinSentences(_Lengthening):
    name, sentence, numeric = "min_sentences", "Your response should contain at least {0} sentences.", True

    def draw(self, rng):
        return rng.choice([4, 5, 6])

    def holds(self, text, value):
        return len(sentences(text)) >= value


class MinWords(_Lengthening):
    name, sentence, numeric = "min_words", "Answer with at least {0} words.", True

    def draw(self, rng):
        return rng.choice([40, 50, 60])

    def holds(self, text, value):
        return len(text.split()) >= value


class Paragraphs(Kind):
    name, numeric = "paragraphs", True
    sentence = "There should be {0} paragraphs. Paragraphs are separated with the markdown divider: ***"
    conflicts = frozenset({"bullets", "quotes", "title"})

    def draw(self, rng):
        return rng.choice([2, 3])

    def holds(self, text, value):
        return len(paragraphs(text)) == value

    def fix(self, text, value, topic):
        """Regroup the answer's sentences into n paragraphs joined by the divider (adding sentences if too few)."""
        found = sentences(" ".join(p.strip() for p in paragraphs(text)))
        found += [m.format(topic=topic) for m in MORE[: max(value - len(found), 0)]]
        size, extra = divmod(len(found), value)
        groups, start = [], 0
        for i in range(value):
            end = start + size + (i < extra)
            groups.append(" ".join(found[start:end]))
            start = end
        return "\n\n***\n\n".join(groups)


class Highlights(Kind):
    name, numeric = "highlights", True
    sentence = "Highlight at least {0} sections in your answer with markdown, i.e. *highlighted section*."
    conflicts = frozenset({"bullets"})

    def draw(self, rng):
        return rng.choice([2, 3])

    def holds(self, text, value):
        return len(highlights(text)) >= value

    def fix(self, text, value, topic):
        """Remove copies of the placeholder, then highlight whole sentences that are not highlighted yet, first to
        last, until n sections are."""
        text = PLACEHOLDER.sub("", text).strip()
        need = value - len(highlights(text))
        for sentence in sentences(text):
            core = sentence.rstrip(".!?").strip(" *")
            if need <= 0 or "*" in sentence or not core or "\n" in core:
                continue
            text = text.replace(core, f"*{core}*", 1)
            need -= 1
        return text


class Postscript(Kind):
    name, sentence = "postscript", "At the end of your response, add a postscript starting with P.S."

    def holds(self, text, value):  # as IFEval's PostscriptChecker: "p.s." anywhere, in any case
        return re.search(r"p\.\s?s\.", text.lower()) is not None

    def fix(self, text, value, topic):
        return f"{text.rstrip()}\n\nP.S. I hope you enjoy {topic}."


class EndPhrase(Kind):
    name, sentence = "end_phrase", 'End your response with the exact phrase "{0}".'

    def draw(self, rng):
        return rng.choice(END_PHRASES)

    def holds(self, text, value):  # as IFEval's EndChecker: quotes around the answer and case do not count
        return text.strip().strip('"').lower().endswith(value.strip().lower())

    def fix(self, text, value, topic):
        return f"{text.rstrip()} {value}"


class AvoidWord(Kind):
    name, sentence = "avoid_word", 'Do not use the word "{0}" in your response.'
    conflicts = frozenset(
        {"keywords", "end_phrase", "postscript", "min_words", "min_sentences", "paragraphs", "keyword_frequency"}
    )

    def draw(self, rng):
        return rng.choice(AVOID)

    def holds(self, text, value):
        return not has_word(text, value)

    def fix(self, text, value, topic):
        return re.sub(rf"\s*\b{re.escape(value)}\b", "", text, flags=re.IGNORECASE).strip()


class NoCommas(Kind):
    name, sentence = "no_commas", "Do not use any commas in your response."

    def holds(self, text, value):
        return "," not in text

    def fix(self, text, value, topic):
        return re.sub(r",\s*", " ", text).replace(" \n", "\n")


class MaxWords(Kind):
    name, sentence, numeric = "max_words", "Answer with at most {0} words.", True
    conflicts = frozenset(
        {
            "keywords",
            "postscript",
            "end_phrase",
            "bullets",
            "title",
            "min_words",
            "min_sentences",
            "paragraphs",
            "keyword_frequency",
            "highlights",
        }
    )

    def draw(self, rng):
        return rng.choice([20, 30, 40])

    def holds(self, text, value):
        return len(text.split()) <= value

    def fix(self, text, value, topic):
        spans = list(re.finditer(r"\S+", text))
        return text if len(spans) <= value else text[: spans[value - 1].end()]


class Quotes(Kind):
    name, sentence = "quotes", "Wrap your entire response with double quotation marks."
    conflicts = frozenset({"end_phrase", "bullets"})

    def holds(self, text, value):
        return wrapped_in_quotes(text)

    def fix(self, text, value, topic):
        return f'"{text.strip()}"'


class Lowercase(Kind):
    name, sentence = "lowercase", "Your entire response should be in lowercase letters."
    conflicts = frozenset({"uppercase", "postscript"})

    def holds(self, text, value):
        return text == text.lower()

    def fix(self, text, value, topic):
        return text.lower()


class Uppercase(Kind):
    name, sentence = "uppercase", "Your entire response should be in English, and in all capital letters."
    conflicts = frozenset({"end_phrase", "avoid_word"})

    def holds(self, text, value):
        return text == text.upper()

    def fix(self, text, value, topic):
        return text.upper()


# In fix order: text is added first, then removed, then wrapped, then the case is set.
REGISTRY: dict[str, Kind] = {
    kind.name: kind()
    for kind in (
        Title,
        Bullets,
        Keywords,
        KeywordFrequency,
        MinSentences,
        MinWords,
        Paragraphs,
        Highlights,
        Postscript,
        EndPhrase,
        AvoidWord,
        NoCommas,
        MaxWords,
        Quotes,
        Lowercase,
        Uppercase,
    )
}
# Every kind's value is drawn for each constraint, in this order, whichever kind it is: so the prompts a seed gives
# stay those of earlier versions (and of the experiments page).
DRAW_ORDER = (
    "keywords",
    "end_phrase",
    "bullets",
    "max_words",
    "avoid_word",
    "min_words",
    "min_sentences",
    "paragraphs",
    "highlights",
    "keyword_frequency",
)


def kind_of(name: str) -> Kind:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown constraint kind {name!r}; the kinds are {', '.join(REGISTRY)}") from None


def conflict(a: str, b: str) -> bool:
    """Whether the kinds A and B cannot be asked for together (declared on either side)."""
    return b in kind_of(a).conflicts or a in kind_of(b).conflicts


def draw_value(name: str, rng: random.Random) -> Any:
    values = {kind: REGISTRY[kind].draw(rng) for kind in DRAW_ORDER}
    kind_of(name)
    return values.get(name)

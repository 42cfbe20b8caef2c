"""The demo's constraint-following task: prompts, a verifiable reward, and a programmatic minimal reviser.

A prompt is a request about a topic followed by one or two constraint sentences. Each constraint kind writes
its sentence from a fixed template, so the reward and the reviser read the constraints back from the prompt
text alone (they are used as `python:figa.demo.task:reward` and `python:figa.demo.task:revise`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

TRAIN_TOPICS = [
    "autumn leaves", "coffee", "the ocean", "mountains", "city parks", "libraries", "bicycles", "rainy days",
    "gardening", "the moon", "trains", "honeybees", "friendship", "winter mornings", "bread baking", "museums",
    "owls", "kites", "lighthouses", "farmers markets", "old maps", "thunderstorms", "penguins", "board games",
    "volcanoes", "street music", "sunflowers", "rivers", "camping", "clocks", "deserts", "snowmen",
    "public transport", "recycling", "birthdays", "soap bubbles", "orchards", "paper airplanes", "the wind",
    "bridges", "fireflies", "picnics", "ice cream", "telescopes", "dolphins", "tea", "pottery", "marathons",
]
HELDOUT_TOPICS = [
    "chess", "forests", "space travel", "chocolate", "whales", "sailing", "jazz", "waterfalls", "robots",
    "rainbows", "castles", "hiking boots", "pancakes", "the night sky", "foxes", "umbrellas", "islands",
    "violins", "snails", "summer festivals",
]
REQUESTS = [
    "Write a short paragraph about {topic}.", "Write a short poem about {topic}.",
    "Give three tips about {topic}.", "Describe {topic} to a child.", "Write a short story about {topic}.",
    "Explain why people like {topic}.", "Write a short blog post about {topic}.",
]
KEYWORDS = ["happy", "green", "quiet", "golden", "simple", "bright", "gentle", "small", "warm", "fresh"]
END_PHRASES = ["that is all.", "hope this helps.", "thank you for reading."]
AVOID = ["the", "and", "is", "very"]


SENTENCES = {
    "lowercase": "Your entire response should be in lowercase letters.",
    "uppercase": "Your entire response should be in English, and in all capital letters.",
    "no_commas": "Do not use any commas in your response.",
    "keywords": "Include the keywords \"{0}\" and \"{1}\" in your response.",
    "end_phrase": "End your response with the exact phrase \"{0}\".",
    "title": "Give your answer a title wrapped in double angular brackets, such as <<my title>>.",
    "bullets": "Your answer must contain exactly {0} bullet points, using markdown bullets such as * item.",
    "max_words": "Answer with at most {0} words.",
    "quotes": "Wrap your entire response with double quotation marks.",
    "postscript": "At the end of your response, add a postscript starting with P.S.",
    "avoid_word": "Do not use the word \"{0}\" in your response.",
}
NUMERIC = {"bullets", "max_words"}


@dataclass(frozen=True)
class Constraint:
    kind: str
    value: object = None

    def sentence(self) -> str:
        values = self.value if isinstance(self.value, tuple) else (self.value,)
        return SENTENCES[self.kind].format(*values)

    def holds(self, text: str) -> bool:
        v = self.value
        if self.kind == "lowercase":
            return text == text.lower()
        if self.kind == "uppercase":
            return text == text.upper()
        if self.kind == "no_commas":
            return "," not in text
        if self.kind == "keywords":
            return all(_has_word(text, k) for k in v)
        if self.kind == "end_phrase":
            return text.rstrip().endswith(v)
        if self.kind == "title":
            return re.search(r"<<[^<>\n]+>>", text) is not None
        if self.kind == "bullets":
            return len(_bullet_lines(text)) == v
        if self.kind == "max_words":
            return len(text.split()) <= v
        if self.kind == "quotes":
            stripped = text.strip()
            return len(stripped) > 1 and stripped[0] == '"' and stripped[-1] == '"'
        if self.kind == "postscript":
            return re.search(r"^\s*P\.S\.", text, re.MULTILINE) is not None
        return not _has_word(text, v)  # avoid_word

    def fix(self, text: str, topic: str) -> str:
        """The smallest change we know that makes the constraint hold (text that already satisfies it is kept)."""
        if self.holds(text):
            return text
        v = self.value
        if self.kind == "lowercase":
            return text.lower()
        if self.kind == "uppercase":
            return text.upper()
        if self.kind == "no_commas":
            return re.sub(r",\s*", " ", text).replace(" \n", "\n")
        if self.kind == "keywords":
            missing = [k for k in v if not _has_word(text, k)]
            return f"{text.rstrip()} It is {' and '.join(missing)}."
        if self.kind == "end_phrase":
            return f"{text.rstrip()} {v}"
        if self.kind == "title":
            return f"<<{topic}>>\n\n{text}"
        if self.kind == "bullets":
            return _fix_bullets(text, v, topic)
        if self.kind == "max_words":
            return _first_words(text, v)
        if self.kind == "quotes":
            return f"\"{text.strip()}\""
        if self.kind == "postscript":
            return f"{text.rstrip()}\n\nP.S. I hope you enjoy {topic}."
        return re.sub(rf"\s*\b{re.escape(v)}\b", "", text, flags=re.IGNORECASE).strip()


# Fixes run in this order: text is added first, then removed, then wrapped, then the case is set.
FIX_ORDER = ["title", "bullets", "keywords", "postscript", "end_phrase", "avoid_word", "no_commas", "max_words",
             "quotes", "lowercase", "uppercase"]
CONFLICTS = [{"lowercase", "uppercase"}, {"lowercase", "postscript"}, {"uppercase", "end_phrase"},
             {"quotes", "end_phrase"}, {"quotes", "bullets"}, {"max_words", "keywords"},
             {"max_words", "postscript"}, {"max_words", "end_phrase"}, {"max_words", "bullets"},
             {"max_words", "title"}, {"avoid_word", "keywords"}, {"avoid_word", "end_phrase"},
             {"avoid_word", "postscript"}, {"uppercase", "avoid_word"}]
CONSTRAINT_KINDS = FIX_ORDER


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


BULLET = re.compile(r"\s*[*-]\s+.*[^\W\d_]")  # a markdown bullet with at least one letter


def _bullet_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if BULLET.match(line)]


def _first_words(text: str, n: int) -> str:
    spans = list(re.finditer(r"\S+", text))
    return text if len(spans) <= n else text[:spans[n - 1].end()]


def _fix_bullets(text: str, n: int, topic: str) -> str:
    lines = text.splitlines()
    bullets = [i for i, line in enumerate(lines) if BULLET.match(line)]
    if len(bullets) > n:
        drop = set(bullets[n:])
        return "\n".join(line for i, line in enumerate(lines) if i not in drop)
    is_bullet = set(bullets)
    prose = " ".join(line for i, line in enumerate(lines) if i not in is_bullet).strip()
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", prose) if s]
    need = n - len(bullets)
    kept = [lines[i] for i in bullets]
    new = [f"* {s}" for s in sentences[:need]]
    new += [f"* One more thing about {topic}." for _ in range(need - len(new))]
    rest = sentences[need:]
    return "\n".join(kept + new + ([" ".join(rest)] if rest else []))


def _pattern(kind: str) -> re.Pattern:
    group = r"(\d+)" if kind in NUMERIC else "(.+?)"
    return re.compile(re.escape(SENTENCES[kind]).replace(r"\{0\}", group).replace(r"\{1\}", group))


def _value(kind: str, match: re.Match):
    groups = match.groups()
    if kind in NUMERIC:
        return int(groups[0])
    return groups if len(groups) > 1 else (groups[0] if groups else None)


PATTERNS = [(kind, _pattern(kind)) for kind in SENTENCES]
TOPIC = re.compile("|".join(re.escape(r).replace(re.escape("{topic}"), f"(?P<t{i}>.+?)")
                            for i, r in enumerate(REQUESTS)))


def constraints_in(prompt: str) -> list[Constraint]:
    return [Constraint(kind, _value(kind, match)) for kind, pattern in PATTERNS
            for match in [pattern.search(prompt)] if match]


def topic_of(prompt: str) -> str:
    match = TOPIC.search(prompt)
    return next((v for v in match.groupdict().values() if v), "this") if match else "this"


def degenerate(text: str) -> bool:
    """Empty, or a loop: fewer than half of the word trigrams of a longer response are distinct."""
    words = text.lower().split()
    if not words:
        return True
    trigrams = list(zip(words, words[1:], words[2:]))
    return len(trigrams) >= 10 and len(set(trigrams)) < 0.5 * len(trigrams)


def satisfied(prompt: str, response: str) -> dict[str, bool]:
    """Per constraint kind of the prompt: does the response satisfy it (False for a degenerate response)."""
    bad = degenerate(response)
    return {c.kind: (not bad) and c.holds(response) for c in constraints_in(prompt)}


def reward(prompts: list[str], responses: list[str]) -> list[float]:
    """The fraction of the prompt's constraints that the response satisfies; 0 if empty or degenerate."""
    scores = []
    for prompt, response in zip(prompts, responses):
        result = satisfied(prompt, response)
        scores.append(sum(result.values()) / len(result) if result else 0.0)
    return scores


def revise(prompt: str, original: str, reference: str | None = None) -> str:
    """Apply the minimal fix of each violated constraint to the policy's own response."""
    topic = topic_of(prompt)
    text = original
    for constraint in sorted(constraints_in(prompt), key=lambda c: FIX_ORDER.index(c.kind)):
        text = constraint.fix(text, topic)
    return text


def _random_constraint(kind: str, rng: random.Random) -> Constraint:
    value = {"keywords": tuple(rng.sample(KEYWORDS, 2)), "end_phrase": rng.choice(END_PHRASES),
             "bullets": rng.randint(2, 4), "max_words": rng.choice([20, 30, 40]),
             "avoid_word": rng.choice(AVOID)}.get(kind)
    return Constraint(kind, value)


def make_prompts(topics: list[str], count: int, seed: int, prefix: str) -> list[dict]:
    """`count` prompts: a request about a topic, then one or two compatible constraints."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        topic = topics[index % len(topics)]
        kinds = [rng.choice(CONSTRAINT_KINDS)]
        if rng.random() < 0.5:
            second = [k for k in CONSTRAINT_KINDS if k != kinds[0] and {k, kinds[0]} not in CONFLICTS]
            kinds.append(rng.choice(second))
        constraints = [_random_constraint(kind, rng) for kind in kinds]
        request = rng.choice(REQUESTS).format(topic=topic)
        rows.append({"id": f"{prefix}-{index:04d}", "prompt": " ".join([request] + [c.sentence() for c in constraints])})
    return rows

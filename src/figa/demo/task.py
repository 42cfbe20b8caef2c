"""The demo's constraint-following task: prompts, a reward, and a programmatic minimal reviser.

A prompt is a request about a topic followed by one or two constraint sentences. Each constraint kind writes
its sentence from a fixed template, so the reward and the reviser read the constraints back from the prompt
text alone (they are used as `python:figa.demo.task:reward` and `python:figa.demo.task:revise`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from .quality import completeness, relevance

TRAIN_TOPICS = [
    "autumn leaves",
    "coffee",
    "the ocean",
    "mountains",
    "city parks",
    "libraries",
    "bicycles",
    "rainy days",
    "gardening",
    "the moon",
    "trains",
    "honeybees",
    "friendship",
    "winter mornings",
    "bread baking",
    "museums",
    "owls",
    "kites",
    "lighthouses",
    "farmers markets",
    "old maps",
    "thunderstorms",
    "penguins",
    "board games",
    "volcanoes",
    "street music",
    "sunflowers",
    "rivers",
    "camping",
    "clocks",
    "deserts",
    "snowmen",
    "public transport",
    "recycling",
    "birthdays",
    "soap bubbles",
    "orchards",
    "paper airplanes",
    "the wind",
    "bridges",
    "fireflies",
    "picnics",
    "ice cream",
    "telescopes",
    "dolphins",
    "tea",
    "pottery",
    "marathons",
]
HELDOUT_TOPICS = [
    "chess",
    "forests",
    "space travel",
    "chocolate",
    "whales",
    "sailing",
    "jazz",
    "waterfalls",
    "robots",
    "rainbows",
    "castles",
    "hiking boots",
    "pancakes",
    "the night sky",
    "foxes",
    "umbrellas",
    "islands",
    "violins",
    "snails",
    "summer festivals",
]
REQUESTS = [  # each asks for a length SmolLM2-135M ends within the demo's token limit (docs/experiments.md)
    "Write a short paragraph of three or four sentences about {topic}.",
    "Give three short tips about {topic}.",
    "Describe {topic} to a child in a few sentences.",
    "Explain in a few sentences why people like {topic}.",
    "List three facts about {topic}.",
    "Write a very short story about {topic} in three sentences.",
    "Write a two-sentence summary of what makes {topic} interesting.",
]
KEYWORDS = ["calm", "simple", "bright", "gentle", "warm", "fresh", "special", "peaceful", "lively", "wonderful"]
END_PHRASES = ["that is all.", "hope this helps.", "thank you for reading."]
AVOID = ["the", "and", "is", "very"]


SENTENCES = {
    "lowercase": "Your entire response should be in lowercase letters.",
    "uppercase": "Your entire response should be in English, and in all capital letters.",
    "no_commas": "Do not use any commas in your response.",
    "keywords": 'Include the keywords "{0}" and "{1}" in your response.',
    "end_phrase": 'End your response with the exact phrase "{0}".',
    "title": "Give your answer a title wrapped in double angular brackets, such as <<my title>>.",
    "bullets": "Your answer must contain exactly {0} bullet points, using markdown bullets such as * item.",
    "max_words": "Answer with at most {0} words.",
    "quotes": "Wrap your entire response with double quotation marks.",
    "postscript": "At the end of your response, add a postscript starting with P.S.",
    "avoid_word": 'Do not use the word "{0}" in your response.',
    "min_words": "Answer with at least {0} words.",
    "min_sentences": "Your response should contain at least {0} sentences.",
    "paragraphs": "There should be {0} paragraphs. Paragraphs are separated with the markdown divider: ***",
    "highlights": "Highlight at least {0} sections in your answer with markdown, i.e. *highlighted section*.",
    "keyword_frequency": 'In your response, the word "{0}" should appear at least {1} times.',
}
NUMERIC = {"bullets", "max_words", "min_words", "min_sentences", "paragraphs", "highlights"}
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


@dataclass(frozen=True)
class Constraint:
    kind: str
    value: Any = None

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
        if self.kind == "min_words":
            return len(text.split()) >= v
        if self.kind == "min_sentences":
            return len(_sentences(text)) >= v
        if self.kind == "paragraphs":
            return len(_paragraphs(text)) == v
        if self.kind == "highlights":
            return len(HIGHLIGHT.findall(text)) >= v
        if self.kind == "keyword_frequency":
            return _count_word(text, v[0]) >= v[1]
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
            return _append(text, USING_KEYWORD[0].format(" and ".join(missing), topic=topic))
        if self.kind == "end_phrase":
            return f"{text.rstrip()} {v}"
        if self.kind == "title":
            return f"<<{topic}>>\n\n{text}"
        if self.kind == "bullets":
            return _fix_bullets(text, v, topic)
        if self.kind == "max_words":
            return _first_words(text, v)
        if self.kind == "quotes":
            return f'"{text.strip()}"'
        if self.kind == "postscript":
            return f"{text.rstrip()}\n\nP.S. I hope you enjoy {topic}."
        if self.kind in ("min_words", "min_sentences"):
            return _lengthen(text, self, topic)
        if self.kind == "paragraphs":
            return _fix_paragraphs(text, v, topic)
        if self.kind == "highlights":
            return _fix_highlights(text, v)
        if self.kind == "keyword_frequency":
            word, times = v
            added = [
                USING_KEYWORD[i % len(USING_KEYWORD)].format(word, topic=topic)
                for i in range(times - _count_word(text, word))
            ]
            return _append(text, " ".join(added))
        return re.sub(rf"\s*\b{re.escape(v)}\b", "", text, flags=re.IGNORECASE).strip()


# Fixes run in this order: text is added first, then removed, then wrapped, then the case is set.
FIX_ORDER = [
    "title",
    "bullets",
    "keywords",
    "keyword_frequency",
    "min_sentences",
    "min_words",
    "paragraphs",
    "highlights",
    "postscript",
    "end_phrase",
    "avoid_word",
    "no_commas",
    "max_words",
    "quotes",
    "lowercase",
    "uppercase",
]
CONFLICTS = [
    {"lowercase", "uppercase"},
    {"lowercase", "postscript"},
    {"uppercase", "end_phrase"},
    {"quotes", "end_phrase"},
    {"quotes", "bullets"},
    {"max_words", "keywords"},
    {"max_words", "postscript"},
    {"max_words", "end_phrase"},
    {"max_words", "bullets"},
    {"max_words", "title"},
    {"avoid_word", "keywords"},
    {"avoid_word", "end_phrase"},
    {"avoid_word", "postscript"},
    {"uppercase", "avoid_word"},
    {"min_words", "max_words"},
    {"min_sentences", "max_words"},
    {"paragraphs", "max_words"},
    {"keyword_frequency", "max_words"},
    {"highlights", "max_words"},
    {"paragraphs", "bullets"},
    {"paragraphs", "quotes"},
    {"paragraphs", "title"},
    {"highlights", "bullets"},
    {"avoid_word", "min_words"},
    {"avoid_word", "min_sentences"},
    {"avoid_word", "paragraphs"},
    {"avoid_word", "keyword_frequency"},
    {"keywords", "keyword_frequency"},
]
CONSTRAINT_KINDS = FIX_ORDER


HIGHLIGHT = re.compile(r"\*[^\n*]+\*")
DIVIDER = re.compile(r"\s*\*\*\*\s*")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text.strip()) if re.search(r"[^\W\d_]", s)]


def _paragraphs(text: str) -> list[str]:
    """Paragraphs separated by the markdown divider *** (as the instruction-following benchmarks count them)."""
    return [p for p in DIVIDER.split(text) if p.strip()]


def _count_word(text: str, word: str) -> int:
    return len(re.findall(rf"\b{re.escape(word)}\b", text, re.IGNORECASE))


def _append(text: str, sentence: str) -> str:
    return f"{text.rstrip()} {sentence}" if sentence else text


def _lengthen(text: str, constraint: Constraint, topic: str) -> str:
    """Append on-topic sentences (each one once) until the word or sentence count is reached."""
    for sentence in MORE:
        if constraint.holds(text):
            break
        text = _append(text, sentence.format(topic=topic))
    return text


def _fix_paragraphs(text: str, n: int, topic: str) -> str:
    """Regroup the answer's sentences into n paragraphs joined by the divider (adding sentences if too few)."""
    sentences = _sentences(" ".join(p.strip() for p in _paragraphs(text)))
    sentences += [m.format(topic=topic) for m in MORE[: max(n - len(sentences), 0)]]
    size, extra = divmod(len(sentences), n)
    groups, start = [], 0
    for i in range(n):
        end = start + size + (i < extra)
        groups.append(" ".join(sentences[start:end]))
        start = end
    return "\n\n***\n\n".join(groups)


def _fix_highlights(text: str, n: int) -> str:
    """Highlight whole sentences that are not highlighted yet, first to last, until n sections are."""
    need = n - len(HIGHLIGHT.findall(text))
    for sentence in _sentences(text):
        core = sentence.rstrip(".!?").strip(" *")
        if need <= 0 or "*" in sentence or not core or "\n" in core:
            continue
        text = text.replace(core, f"*{core}*", 1)
        need -= 1
    return text


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


BULLET = re.compile(r"\s*[*-]\s+.*[^\W\d_]")  # a markdown bullet with at least one letter


def _bullet_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if BULLET.match(line)]


def _first_words(text: str, n: int) -> str:
    spans = list(re.finditer(r"\S+", text))
    return text if len(spans) <= n else text[: spans[n - 1].end()]


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
    first, second = (r"(\d+)" if kind in NUMERIC else "(.+?)"), (r"(\d+)" if kind == "keyword_frequency" else "(.+?)")
    return re.compile(re.escape(SENTENCES[kind]).replace(r"\{0\}", first).replace(r"\{1\}", second))


def _value(kind: str, match: re.Match):
    groups = match.groups()
    if kind in NUMERIC:
        return int(groups[0])
    if kind == "keyword_frequency":
        return groups[0], int(groups[1])
    return groups if len(groups) > 1 else (groups[0] if groups else None)


PATTERNS = [(kind, _pattern(kind)) for kind in SENTENCES]
TOPIC = re.compile(
    "|".join(re.escape(r).replace(re.escape("{topic}"), f"(?P<t{i}>.+?)") for i, r in enumerate(REQUESTS))
)


def constraints_in(prompt: str) -> list[Constraint]:
    return [
        Constraint(kind, _value(kind, match))
        for kind, pattern in PATTERNS
        for match in [pattern.search(prompt)]
        if match
    ]


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


def request_of(prompt: str) -> str:
    """The request sentence of a prompt, without its constraints ("Write a short poem about owls.")."""
    match = TOPIC.search(prompt)
    return match.group(0) if match else prompt


def reward_parts(prompts: list[str], responses: list[str]) -> list[dict]:
    """Per response: the fraction of constraints satisfied (0 if empty or degenerate), the relevance and the
    completeness (`figa.demo.quality`), and the reward, their product."""
    requests = [request_of(p) for p in prompts]
    relevant = relevance(requests, responses)
    parts = []
    for prompt, request, response, rel in zip(prompts, requests, responses, relevant):
        result = satisfied(prompt, response)
        limit = next((c.value for c in constraints_in(prompt) if c.kind == "max_words"), None)
        part = {
            "constraints": sum(result.values()) / len(result) if result else 0.0,
            "relevance": rel,
            "completeness": completeness(request, response, limit),
        }
        part["reward"] = part["constraints"] * part["relevance"] * part["completeness"]
        parts.append(part)
    return parts


def reward(prompts: list[str], responses: list[str]) -> list[float]:
    """The fraction of the prompt's constraints that the response satisfies, times how well it answers the
    request (relevance x completeness, `figa.demo.quality`); 0 if empty or degenerate."""
    return [part["reward"] for part in reward_parts(prompts, responses)]


def revise(prompt: str, original: str, reference: str | None = None) -> str:
    """Apply the minimal fix of each violated constraint to the policy's own response."""
    topic = topic_of(prompt)
    text = original
    for constraint in sorted(constraints_in(prompt), key=lambda c: FIX_ORDER.index(c.kind)):
        text = constraint.fix(text, topic)
    return text


def answer_from_scratch(prompt: str, original: str | None = None, reference: str | None = None) -> str:
    """The reviser's own answer, written without the policy's: four of its sentences on the topic, then the fix of
    each constraint (the distribution-shift baseline of the ablation: SFT on someone else's answers)."""
    topic = topic_of(prompt)
    return revise(prompt, " ".join(sentence.format(topic=topic) for sentence in MORE[:4]))


def _random_constraint(kind: str, rng: random.Random) -> Constraint:
    value = {
        "keywords": tuple(rng.sample(KEYWORDS, 2)),
        "end_phrase": rng.choice(END_PHRASES),
        "bullets": rng.randint(2, 4),
        "max_words": rng.choice([20, 30, 40]),
        "avoid_word": rng.choice(AVOID),
        "min_words": rng.choice([40, 50, 60]),
        "min_sentences": rng.choice([4, 5, 6]),
        "paragraphs": rng.choice([2, 3]),
        "highlights": rng.choice([2, 3]),
        "keyword_frequency": (rng.choice(KEYWORDS), rng.choice([2, 3])),
    }.get(kind)
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
        rows.append(
            {"id": f"{prefix}-{index:04d}", "prompt": " ".join([request] + [c.sentence() for c in constraints])}
        )
    return rows

"""The demo's constraint-following task: prompts, a reward, and a programmatic minimal reviser.

A prompt is a request about a topic followed by one or two constraint sentences. Each constraint kind writes
its sentence from a fixed template, so the reward and the reviser read the constraints back from the prompt
text alone (they are used as `python:figa.tasks.constraints.task:reward` and
`python:figa.tasks.constraints.task:revise`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from ...evaluation.guards import degenerate
from .kinds import MORE, REGISTRY, conflict, draw_value, kind_of
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
VALIDATION_TOPICS = [  # settings are chosen on these (`figa demo --tune`), never on the test topics
    "hot air balloons",
    "lanterns",
    "seashells",
    "windmills",
    "butterflies",
    "puzzles",
    "harbors",
    "meadows",
    "glaciers",
    "bakeries",
    "canoes",
    "squirrels",
    "postcards",
    "caves",
    "zoos",
    "tulips",
]
TEST_TOPICS = [
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
# Each request asks for a length SmolLM2-135M ends within the demo's token limit (docs/experiments.md), and
# states (most sentences, number of items) where it fixes them: a constraint must not contradict them.
REQUEST_LIMITS: dict[str, tuple[int | None, int | None]] = {
    "Write a short paragraph of three or four sentences about {topic}.": (4, None),
    "Give three short tips about {topic}.": (None, 3),
    "Describe {topic} to a child in a few sentences.": (None, None),
    "Explain in a few sentences why people like {topic}.": (None, None),
    "List three facts about {topic}.": (None, 3),
    "Write a very short story about {topic} in three sentences.": (3, None),
    "Write a two-sentence summary of what makes {topic} interesting.": (2, None),
}
REQUESTS = list(REQUEST_LIMITS)


@dataclass(frozen=True)
class Constraint:
    """One constraint of a prompt: its kind (a class of `figa.tasks.constraints.kinds.REGISTRY`) and its value."""

    kind: str
    value: Any = None

    def sentence(self) -> str:
        values = self.value if isinstance(self.value, tuple) else (self.value,)
        return kind_of(self.kind).sentence.format(*values)

    def holds(self, text: str) -> bool:
        return kind_of(self.kind).holds(text, self.value)

    def fix(self, text: str, topic: str) -> str:
        """The smallest change we know that makes the constraint hold (text that already satisfies it is kept)."""
        return text if self.holds(text) else kind_of(self.kind).fix(text, self.value, topic)


CONSTRAINT_KINDS = list(REGISTRY)  # in fix order


def _pattern(kind: str) -> re.Pattern:
    numeric = REGISTRY[kind].numeric
    first, second = (r"(\d+)" if numeric else "(.+?)"), (r"(\d+)" if kind == "keyword_frequency" else "(.+?)")
    return re.compile(re.escape(REGISTRY[kind].sentence).replace(r"\{0\}", first).replace(r"\{1\}", second))


def _value(kind: str, match: re.Match):
    groups = match.groups()
    if REGISTRY[kind].numeric:
        return int(groups[0])
    if kind == "keyword_frequency":
        return groups[0], int(groups[1])
    return groups if len(groups) > 1 else (groups[0] if groups else None)


# The order constraints are read back from a prompt (as earlier versions listed them; reports follow it).
READ_ORDER = (
    "lowercase",
    "uppercase",
    "no_commas",
    "keywords",
    "end_phrase",
    "title",
    "bullets",
    "max_words",
    "quotes",
    "postscript",
    "avoid_word",
    "min_words",
    "min_sentences",
    "paragraphs",
    "highlights",
    "keyword_frequency",
)
PATTERNS = [(kind, _pattern(kind)) for kind in READ_ORDER]
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


def contradicts(request: str, constraint: Constraint) -> bool:
    """Whether a constraint asks for more sentences or paragraphs than the request allows, or for another number
    of bullets than the items it asks for ("Write a two-sentence summary ... at least 5 sentences")."""
    most_sentences, items = REQUEST_LIMITS[request]
    if most_sentences and constraint.kind in ("min_sentences", "paragraphs"):
        return constraint.value > most_sentences
    return bool(items) and constraint.kind == "bullets" and constraint.value != items


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
    completeness (`figa.tasks.constraints.quality`), and the reward, their product."""
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
    request (relevance x completeness, `figa.tasks.constraints.quality`); 0 if empty or degenerate."""
    return [part["reward"] for part in reward_parts(prompts, responses)]


def revise(prompt: str, original: str, reference: str | None = None) -> str:
    """Apply the minimal fix of each violated constraint to the policy's own response."""
    topic = topic_of(prompt)
    text = original
    for constraint in sorted(constraints_in(prompt), key=lambda c: CONSTRAINT_KINDS.index(c.kind)):
        text = constraint.fix(text, topic)
    return text


def answer_from_scratch(prompt: str, original: str | None = None, reference: str | None = None) -> str:
    """The reviser's own answer, written without the policy's: four of its sentences on the topic, then the fix of
    each constraint (the distribution-shift baseline of the ablation: SFT on someone else's answers)."""
    topic = topic_of(prompt)
    return revise(prompt, " ".join(sentence.format(topic=topic) for sentence in MORE[:4]))


def _random_constraint(kind: str, rng: random.Random) -> Constraint:
    return Constraint(kind, draw_value(kind, rng))


def make_prompts(topics: list[str], count: int, seed: int, prefix: str) -> list[dict]:
    """`count` prompts: a request about a topic, then one or two compatible constraints."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        topic = topics[index % len(topics)]
        kinds = [rng.choice(CONSTRAINT_KINDS)]
        if rng.random() < 0.5:
            second = [k for k in CONSTRAINT_KINDS if k != kinds[0] and not conflict(k, kinds[0])]
            kinds.append(rng.choice(second))
        constraints = [_random_constraint(kind, rng) for kind in kinds]
        fitting = [r for r in REQUESTS if not any(contradicts(r, c) for c in constraints)]
        request = rng.choice(fitting).format(topic=topic)
        rows.append(
            {"id": f"{prefix}-{index:04d}", "prompt": " ".join([request] + [c.sentence() for c in constraints])}
        )
    return rows


TOPICS = {"train": TRAIN_TOPICS, "validation": VALIDATION_TOPICS, "test": TEST_TOPICS}
SPLIT_SEEDS = {"train": 0, "test": 1, "validation": 2}  # added to the seed (the test's is that of earlier versions)


def split_prompts(split: str, count: int, seed: int) -> list[dict]:
    """COUNT prompts of SPLIT (train, validation, test: each on its own topics), as `figa demo` writes them."""
    return make_prompts(TOPICS[split], count, seed + SPLIT_SEEDS[split], split)

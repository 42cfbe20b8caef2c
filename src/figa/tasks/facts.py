"""A grounded-answer task whose revisions fix a few wrong facts: the case FIGA's token weighting is about.

Each prompt holds a short passage of facts about a made-up landmark (the year it was built, who designed it, the
town it stands in, its height, the month it opened) and a question about one of them, with a length request. The
reward checks the answer against the passage: the asked fact present and right, no fact of the passage stated
wrongly, the length request met, and no shortcut (copying the passage, repeating the question). The reviser
changes only what is wrong: `revise` swaps each wrong value for the passage's (a few tokens), `revise_sentence`
rewrites each sentence holding a wrong value (a denser edit of the same fix), and both add the asked fact in one
short sentence when the answer never states it. Names, towns, people and numbers come from a program, and the
training, validation and test splits draw them from disjoint pools, so a model improves only by reading the
passage better, never by remembering answers. Use as `python:figa.tasks.facts:reward` and
`python:figa.tasks.facts:revise` (or `:revise_sentence`).

What the passage does not say is a wrong fact too: a year other than the passage's (a small model likes to add
"in 2022") and a country (the towns are made up). The reviser cuts those, and with a length request the answer
breaks, the sentences that do not hold the asked fact.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

SPLITS = ("train", "validation", "test")
KINDS = (
    "bridge",
    "tower",
    "library",
    "lighthouse",
    "museum",
    "observatory",
    "theatre",
    "market hall",
)
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# Disjoint value ranges per split: a year or height of the test split never occurs in training.
YEARS = {"train": (1700, 1799), "validation": (1800, 1849), "test": (1850, 1949)}
HEIGHTS = {"train": (20, 199), "validation": (200, 299), "test": (300, 499)}
_FIRST = (
    "ka",
    "lo",
    "mi",
    "se",
    "tor",
    "va",
    "ren",
    "dal",
    "bri",
    "ost",
    "fen",
    "mar",
    "quil",
    "zan",
    "hel",
    "ru",
)
_SECOND = (
    "mora",
    "vik",
    "land",
    "dore",
    "stad",
    "wyn",
    "bury",
    "holm",
    "ley",
    "mont",
    "sel",
    "ton",
    "gard",
    "via",
)
_SURNAME = ("son", "berg", "strom", "ova", "ski", "elli")
_GIVEN = (
    "Anna",
    "Bruno",
    "Clara",
    "Dmitri",
    "Elsa",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Lucas",
)

QUESTIONS = {
    "year": "In which year was {name} built?",
    "designer": "Who designed {name}?",
    "town": "In which town does {name} stand?",
    "height": "How tall is {name}?",
    "month": "In which month did {name} open?",
}
LENGTHS = {
    "one sentence": "Answer in one sentence.",
    "at most 15 words": "Answer in at most 15 words.",
    "at most 25 words": "Answer in at most 25 words.",
}
COUNTRIES = (
    "Austria", "Belgium", "Canada", "China", "Czech Republic", "Denmark", "England", "Estonia", "Finland", "France",
    "Germany", "Greece", "Hungary", "Iceland", "India", "Ireland", "Italy", "Japan", "Latvia", "Lithuania", "Malta",
    "Netherlands", "Norway", "Poland", "Portugal", "Romania", "Russia", "Scotland", "Spain", "Sweden",
    "Switzerland", "Turkey", "UK", "USA", "United Kingdom", "United States", "Wales",
)  # fmt: skip
PASSAGE = (
    "{name} is a {kind} in {town}. It was built in {year} and designed by {designer}. It is {height} metres tall. "
    "It opened to visitors in {month}."
)
PROMPT = "Read the passage and answer the question.\n\nPassage: {passage}\n\nQuestion: {question} {length}"
ANSWER = {  # the sentence the reviser adds when the answer never states the asked fact
    "year": "{name} was built in {year}.",
    "designer": "{name} was designed by {designer}.",
    "town": "{name} stands in {town}.",
    "height": "{name} is {height} metres tall.",
    "month": "{name} opened in {month}.",
}


@dataclass(frozen=True)
class Facts:
    name: str
    kind: str
    town: str
    year: int
    designer: str
    height: int
    month: str
    asked: str  # the fact the question asks for
    length: str  # a key of LENGTHS
    passage: str = ""  # the whole passage: this landmark's paragraph and the other one's

    def value(self, fact: str) -> str:
        return str(getattr(self, fact))


@functools.cache
def pools() -> dict[str, dict[str, tuple[str, ...]]]:
    """Per split, the landmark names, towns and designers it draws from: disjoint between splits (and a designer's
    surname is never a town or a landmark's name)."""
    rng = random.Random(1234)
    words = [a.capitalize() + b for a in _FIRST for b in _SECOND]
    surnames = [a.capitalize() + b for a in _FIRST for b in _SURNAME]
    rng.shuffle(words)
    rng.shuffle(surnames)
    people = [f"{rng.choice(_GIVEN)} {surname}" for surname in surnames]
    per = 30
    return {
        split: {
            "name": tuple(words[per * k : per * (k + 1)]),
            "town": tuple(words[3 * per + per * k : 3 * per + per * (k + 1)]),
            "designer": tuple(people[per * k : per * (k + 1)]),
        }
        for k, split in enumerate(SPLITS)
    }


def _landmark(split: str, rng: random.Random, unlike: dict | None = None) -> dict:
    """One landmark's facts; with UNLIKE, every one of them differs from UNLIKE's (so each is told apart)."""
    pool = pools()[split]
    while True:
        kind = rng.choice(KINDS)
        landmark = {
            "name": f"{rng.choice(pool['name'])} {kind.title()}",
            "kind": kind,
            "town": rng.choice(pool["town"]),
            "year": rng.randint(*YEARS[split]),
            "designer": rng.choice(pool["designer"]),
            "height": rng.randint(*HEIGHTS[split]),
            "month": rng.choice(MONTHS),
        }
        clash = unlike and any(
            landmark[k] == unlike[k] or (k == "name" and str(landmark[k]).split()[0] == str(unlike[k]).split()[0])
            for k in ("name", "town", "year", "designer", "height", "month")
        )
        if not clash:
            return landmark


def make_facts(split: str, rng: random.Random) -> Facts:
    """A passage about two landmarks and a question about one of them: the other's values are the answers a model
    that reads carelessly gives."""
    asked = _landmark(split, rng)
    other = _landmark(split, rng, unlike=asked)
    paragraphs = [PASSAGE.format(**asked), PASSAGE.format(**other)]
    rng.shuffle(paragraphs)
    return Facts(
        **asked, asked=rng.choice(list(QUESTIONS)), length=rng.choice(list(LENGTHS)), passage=" ".join(paragraphs)
    )


def prompt_of(facts: Facts) -> str:
    return PROMPT.format(
        passage=facts.passage,
        question=QUESTIONS[facts.asked].format(name=facts.name),
        length=LENGTHS[facts.length],
    )


def make_prompts(split: str, count: int, seed: int) -> list[dict]:
    """COUNT prompt records of SPLIT (`id`, `prompt`), drawn with SEED."""
    rng = random.Random(f"{split}-{seed}")
    return [{"id": f"facts-{split}-{seed}-{k}", "prompt": prompt_of(make_facts(split, rng))} for k in range(count)]


_PARSE = re.compile(r"Passage: (?P<passage>.+?)\s+Question: (?P<question>.+?\?) (?P<length>.+)$", re.S)
_LANDMARK = re.compile(
    r"(?P<name>[A-Z]\w+(?: [A-Z][a-z]+)+) is a (?P<kind>[a-z ]+?) in (?P<town>\w+)\. It was built in (?P<year>\d+) "
    r"and designed by (?P<designer>\w+ \w+)\. It is (?P<height>\d+) metres tall\. It opened to visitors in "
    r"(?P<month>\w+)\."
)


def facts_of(prompt: str) -> Facts:
    """The asked landmark's facts, what the question asks and the whole passage, read back from the prompt text."""
    match = _PARSE.search(prompt)
    landmarks = [m.groupdict() for m in _LANDMARK.finditer(match.group("passage"))] if match else []
    for found in landmarks:
        asked = [f for f, q in QUESTIONS.items() if q.format(name=found["name"]) == match["question"]]
        length = [k for k, text in LENGTHS.items() if text == match["length"].strip()]
        if asked and length:
            return Facts(
                found["name"], found["kind"], found["town"], int(found["year"]), found["designer"],
                int(found["height"]), found["month"], asked[0], length[0], match["passage"].strip(),
            )  # fmt: skip
    raise ValueError(f"not a prompt of the facts task: {prompt[:80]!r}")


@functools.cache
def _known() -> dict[str, tuple[str, ...]]:
    """Every value of each kind of fact that any split can hold: what a stated fact is recognised by."""
    every = pools()
    return {
        "name": tuple(n for split in SPLITS for n in every[split]["name"]),
        "town": tuple(t for split in SPLITS for t in every[split]["town"]),
        "designer": tuple(d for split in SPLITS for d in every[split]["designer"]),
        "month": MONTHS,
    }


_YEAR = r"\b(?:1[0-9]|20)\d\d\b"
_HEIGHT = r"\b(\d{1,3})(?:-| )?(?:m\b|metres?\b|meters?\b|metre-|meter-)"
_COUNTRY = r"\b(?:" + "|".join(re.escape(c) for c in COUNTRIES) + r")\b"


def stated(fact: str, text: str) -> list[str]:
    """The values of FACT (a kind of fact) that TEXT states, in order."""
    if fact == "year":
        return re.findall(_YEAR, text)
    if fact == "height":
        return re.findall(_HEIGHT, text)
    if fact == "country":
        return re.findall(_COUNTRY, text)
    names = "|".join(re.escape(value) for value in _known()[fact])
    found = re.findall(rf"\b({names})\b", text)
    if fact == "designer":  # a designer may be named by surname alone, or made up ("Jonas Ostrik")
        surnames = "|".join(re.escape(v.split()[-1]) for v in _known()["designer"])
        found += [s for s in re.findall(rf"\b({surnames})\b", text) if not any(s in f for f in found)]
        found += [p for p in re.findall(rf"\b(?:{'|'.join(_GIVEN)}) [A-Z][a-z]+\b", text) if p not in found]
    return found


def _right(fact: str, value: str, facts: Facts) -> bool:
    if fact == "country":  # the passage names none
        return False
    truth = facts.value(fact)
    return value == truth or (fact == "designer" and value == truth.split()[-1])


_PLACE = re.compile(
    r"\b(?:in|at|near|of)\s+(?:the\s+)?(?:(?:[a-z]+\s+)?(?:town|city|village)\s+of\s+)?([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)"
)


def places(facts: Facts, text: str) -> list[str]:
    """Places TEXT names that no split's pools hold and the passage does not say ("in Se Vik", "Mistad, Somerset"):
    a town the model made up, or a region it added."""
    after_town = re.findall(rf"\b{facts.town},\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)", text)
    known = _known()
    not_places = {*facts.name.split(), *facts.designer.split(), *MONTHS, *known["town"], *known["name"], "The", "It"}
    return [
        place
        for place in [m.group(1) for m in _PLACE.finditer(text)] + after_town
        if place.split()[0] not in not_places and not stated("country", place)
    ]


def wrong_values(facts: Facts, text: str) -> list[tuple[str, str]]:
    """(fact, value) for each value TEXT states that contradicts the passage, or names a place the passage does not
    ("place")."""
    return [
        (f, v)
        for f in ("year", "height", "town", "designer", "month", "country")
        for v in stated(f, text)
        if not _right(f, v, facts)
    ] + [("place", place) for place in places(facts, text)]


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def length_met(facts: Facts, text: str) -> bool:
    if facts.length == "one sentence":
        return len(sentences(text)) == 1
    return 0 < len(text.split()) <= int(facts.length.split()[2])


def shortcut(facts: Facts, prompt: str, text: str) -> str | None:
    """A way to score without answering that the reward refuses: copying the passage or repeating the question."""
    passage = _PARSE.search(prompt)
    lowered = text.lower()
    copied = [s for s in sentences(facts.passage or PASSAGE.format(**vars(facts))) if s.lower() in lowered]
    if len(copied) >= 2:
        return "copies the passage"
    if passage and passage.group("question").lower() in lowered:
        return "repeats the question"
    return None


def reward_parts(prompt: str, response: str) -> dict[str, bool]:
    facts = facts_of(prompt)
    answered = any(_right(facts.asked, v, facts) for v in stated(facts.asked, response))
    return {
        "asked_fact_right": answered,
        "no_wrong_fact": not wrong_values(facts, response),
        "length_met": length_met(facts, response),
        "no_shortcut": shortcut(facts, prompt, response) is None,
    }


def reward(prompts: list[str], responses: list[str]) -> list[float]:
    """0 to 1: half for the asked fact stated rightly, a quarter for stating no fact wrongly, a quarter for the
    length request; 0 for an empty answer or a shortcut (a copied passage, a repeated question)."""
    scores = []
    for prompt, response in zip(prompts, responses):
        parts = reward_parts(prompt, response or "")
        if not (response or "").strip() or not parts["no_shortcut"]:
            scores.append(0.0)
            continue
        scores.append(0.5 * parts["asked_fact_right"] + 0.25 * parts["no_wrong_fact"] + 0.25 * parts["length_met"])
    return scores


def _fix_value(facts: Facts, sentence: str, fact: str, value: str) -> str:
    """SENTENCE with one wrong VALUE of FACT fixed: replaced by the passage's value, or cut where the passage says
    nothing of it (a country; a region; a year that is not when the landmark was built). A made-up town becomes the
    passage's where the sentence does not name it already."""
    if fact == "place" and not re.search(rf"\b{facts.town}\b", sentence):
        return re.sub(rf"\b{re.escape(value)}\b", facts.town, sentence)
    if fact in ("country", "place"):
        clause = re.search(rf",[^,.;!?]*\b{re.escape(value)}\b[^,.;!?]*", sentence)  # ", a town in the heart of Spain"
        if clause and not any(stated(f, clause.group()) for f in ANSWER):
            return sentence[: clause.start()] + sentence[clause.end() :]
        place = r"(?:(?:a |the )?(?:small |large )?(?:city|town|village|country) )?(?:in |of )?(?:the )?"
        return re.sub(rf",?\s*{place}{re.escape(value)}\b", "", sentence, count=1)
    if fact == "year" and not re.search(rf"\bbuilt(?:\W+\w+){{0,2}}?\W+{value}\b", sentence):  # not the build year
        cut = re.sub(rf"^In {value},\s*(\w)", lambda m: m.group(1).upper(), sentence, count=1)
        return cut if cut != sentence else re.sub(rf",?\s*(?:in )?\b{value}\b", "", sentence, count=1)
    truth = facts.value(fact)
    if fact == "designer" and " " not in value:
        truth = truth.split()[-1]  # a surname stays a surname
    return re.sub(rf"\b{re.escape(value)}\b", truth, sentence, count=1)


def _fix_values(facts: Facts, text: str) -> str:
    fixed = []
    for sentence in sentences(text):
        for _ in range(3):  # a fix can show another: "in Sedor, New York" -> "in Sedore, New York" -> "in Sedore"
            wrong = wrong_values(facts, sentence)
            for fact, value in wrong:
                sentence = _fix_value(facts, sentence, fact, value)
            if not wrong:
                break
        fixed.append(sentence)
    return " ".join(fixed) if fixed else text


def _holds_asked(facts: Facts, text: str) -> bool:
    return any(_right(facts.asked, v, facts) for v in stated(facts.asked, text))


def _with_asked(facts: Facts, text: str) -> str:
    if _holds_asked(facts, text):
        return text
    added = ANSWER[facts.asked].format(**vars(facts))
    return f"{text.rstrip()} {added}" if text.strip() else added


def _shortened(facts: Facts, prompt: str, text: str) -> str:
    """TEXT without the sentences that do not hold the asked fact, while it breaks the length request or copies the
    passage (the cut a reviser makes of what was not asked)."""
    kept = sentences(text)
    while len(kept) > 1 and not (
        length_met(facts, " ".join(kept)) and shortcut(facts, prompt, " ".join(kept)) is None
    ):
        spare = [s for s in kept if not _holds_asked(facts, s)]
        if not spare:
            break
        kept.remove(spare[-1])
    return " ".join(kept)


def revise(prompt: str, original: str, reference: str | None = None) -> str:
    """The fewest changes that make the answer right: each wrong value becomes the passage's (or goes, where the
    passage says nothing of it), sentences that were not asked for go while the answer is too long, and the asked
    fact is added in one short sentence when the answer never states it."""
    facts = facts_of(prompt)
    return _with_asked(facts, _shortened(facts, prompt, _fix_values(facts, original)))


def revise_sentence(prompt: str, original: str, reference: str | None = None) -> str:
    """The same fixes, made by rewriting every sentence that holds a wrong value as the passage's sentence for that
    fact (a denser edit: the dose-response's other arm)."""
    facts = facts_of(prompt)
    fixed = []
    for sentence in sentences(original):
        wrong = [{"place": "town"}.get(fact, fact) for fact, _ in wrong_values(facts, sentence) if fact != "country"]
        fixed.append(ANSWER[wrong[0]].format(**vars(facts)) if wrong else _fix_values(facts, sentence))
    return _with_asked(facts, _shortened(facts, prompt, " ".join(fixed)))

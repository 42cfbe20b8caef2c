"""The sparse-facts task: its splits share no landmark, town, designer, year or height; its reward scores hand-made
answers as intended; its reviser changes only the wrong facts (the sentence reviser, whole sentences)."""

import re

import pytest
from rapidfuzz.distance import Levenshtein

from figa.tasks.facts import (
    SPLITS,
    facts_of,
    make_prompts,
    pools,
    revise,
    revise_sentence,
    reward,
    reward_parts,
)

PROMPT = make_prompts("test", 1, 0)[0]["prompt"]
F = facts_of(PROMPT)


def test_the_splits_share_no_entity_or_value():
    seen = {}
    for split in SPLITS:
        facts = [facts_of(r["prompt"]) for r in make_prompts(split, 300, 0)]
        seen[split] = {
            "name": {f.name.split()[0] for f in facts},
            "town": {f.town for f in facts},
            "designer": {f.designer for f in facts},
            "year": {f.year for f in facts},
            "height": {f.height for f in facts},
        }
    for kind in seen["train"]:
        for a, b in (
            ("train", "validation"),
            ("train", "test"),
            ("validation", "test"),
        ):
            assert not seen[a][kind] & seen[b][kind], (kind, a, b)
    assert len({r["id"] for split in SPLITS for r in make_prompts(split, 50, 0)}) == 150
    assert make_prompts("train", 5, 3) == make_prompts("train", 5, 3) != make_prompts("train", 5, 4)


def answer(fact, value=None):
    """One sentence stating FACT of the test prompt's landmark (VALUE in place of the passage's, if given)."""
    value = value or F.value(fact)
    return {
        "year": f"{F.name} was built in {value}.",
        "designer": f"{F.name} was designed by {value}.",
        "town": f"{F.name} stands in {value}.",
        "height": f"{F.name} is {value} metres tall.",
        "month": f"{F.name} opened in {value}.",
    }[fact]


WRONG = {
    "year": "1949",
    "designer": "Anna Kaelli",
    "town": "Lomora",
    "height": "499",
    "month": "Smarch",
}


def fitted(text):
    """TEXT, one short sentence: it meets every length request."""
    return text


def test_the_reward_scores_right_wrong_contradicting_and_shortcut_answers():
    wrong_value = WRONG[F.asked] if F.asked != "month" else next(m for m in ("May", "June") if m != F.month)
    right, wrong = fitted(answer(F.asked)), fitted(answer(F.asked, wrong_value))
    other = next(f for f in ("year", "height") if f != F.asked)
    contradicting = answer(F.asked) + " " + answer(other, WRONG[other])
    assert reward([PROMPT], [right]) == [1.0]
    assert reward_parts(PROMPT, wrong) == {
        "asked_fact_right": False, "no_wrong_fact": False, "length_met": True, "no_shortcut": True
    }  # fmt: skip
    assert reward([PROMPT], [wrong]) == [0.25]
    parts = reward_parts(PROMPT, contradicting)
    assert parts["asked_fact_right"] and not parts["no_wrong_fact"]
    passage = re.search(r"Passage: (.*?)\n", PROMPT).group(1)
    assert (
        reward(
            [PROMPT, PROMPT, PROMPT],
            [
                passage,
                "",
                f"{re.search(r'Question: (.*?[?])', PROMPT).group(1)} {right}",
            ],
        )
        == [0.0] * 3
    )


@pytest.mark.parametrize("fact", ["year", "height", "designer", "town"])
def test_the_reviser_changes_only_the_wrong_fact(fact):
    prompt = next(  # a length request the answer meets, so that only the wrong fact needs fixing
        r["prompt"]
        for r in make_prompts("train", 200, 1)
        if facts_of(r["prompt"]).asked == fact and facts_of(r["prompt"]).length == "at most 25 words"
    )
    facts = facts_of(prompt)
    truth = facts.value(fact)
    others = {kind: [v for v in pools()["train"][kind] if v != facts.value(kind)] for kind in ("designer", "town")}
    wrong = {"year": str(facts.year - 3), "height": str(facts.height + 7)}.get(fact) or others[fact][0]
    original = (
        f"Well, {facts.name} is quite famous. "
        + {
            "year": f"It was built in {wrong}, people say.",
            "height": f"It is {wrong} metres tall, people say.",
            "designer": f"It was designed by {wrong}, people say.",
            "town": f"It stands in {wrong}, people say.",
        }[fact]
    )
    revised = revise(prompt, original)
    words_before, words_after = original.split(), revised.split()
    changed = [op for op in Levenshtein.opcodes(words_before, words_after) if op.tag != "equal"]
    assert revised == original.replace(wrong, truth)
    assert sum(max(op.src_end - op.src_start, op.dest_end - op.dest_start) for op in changed) <= 2
    assert reward([prompt], [revised])[0] > reward([prompt], [original])[0]
    by_sentence = revise_sentence(prompt, original)
    assert by_sentence.startswith(f"Well, {facts.name} is quite famous. ") and truth in by_sentence
    assert "people say" not in by_sentence  # the sentence was rewritten whole


def test_an_answer_without_the_asked_fact_gets_one_short_sentence():
    original = f"{F.name} is a lovely {F.kind}."
    revised = revise(PROMPT, original)
    assert revised.startswith(original) and len(revised.split()) - len(original.split()) <= 8
    assert reward_parts(PROMPT, revised)["asked_fact_right"]


def test_what_the_passage_does_not_say_is_wrong_and_cut():
    prompt = next(r["prompt"] for r in make_prompts("train", 100, 2) if facts_of(r["prompt"]).asked == "month")
    facts = facts_of(prompt)
    answers = {
        f"{facts.name} opened in {facts.month} 2022.": f"{facts.name} opened in {facts.month}.",
        f"In 2021, {facts.name} opened in {facts.month}.": f"{facts.name} opened in {facts.month}.",
        f"{facts.name} in {facts.town}, Norway, opened in {facts.month}.": (
            f"{facts.name} in {facts.town}, opened in {facts.month}."
        ),
        f"{facts.name} opened in {facts.month} in {facts.town}, a medieval town in the heart of the Netherlands.": (
            f"{facts.name} opened in {facts.month} in {facts.town}."
        ),
        f"{facts.name} opened in {facts.month}, in the heart of Spain.": f"{facts.name} opened in {facts.month}.",
        f"{facts.name} opened in {facts.month}, in {facts.town} in Spain.": (
            f"{facts.name} opened in {facts.month}, in {facts.town}."
        ),
    }
    for original, revised in answers.items():
        assert not reward_parts(prompt, original)["no_wrong_fact"], original
        assert revise(prompt, original) == revised
        assert reward([prompt], [revised]) == [1.0] or not reward_parts(prompt, revised)["length_met"]


def test_sentences_not_asked_for_are_cut_while_the_answer_is_too_long():
    prompt = next(r["prompt"] for r in make_prompts("train", 200, 3) if facts_of(r["prompt"]).length == "one sentence")
    facts = facts_of(prompt)
    asked = {
        "year": f"It was built in {facts.year}.",
        "designer": f"It was designed by {facts.designer}.",
        "town": f"It stands in {facts.town}.",
        "height": f"It is {facts.height} metres tall.",
        "month": f"It opened in {facts.month}.",
    }[facts.asked]
    original = f"{facts.name} is a fine {facts.kind}. {asked} People like it."
    assert not reward_parts(prompt, original)["length_met"]
    assert revise(prompt, original) == asked and reward([prompt], [asked]) == [1.0]


def test_a_place_the_passage_does_not_name_is_wrong_a_made_up_town_becomes_the_passages():
    prompt = next(r["prompt"] for r in make_prompts("train", 100, 3) if facts_of(r["prompt"]).asked == "town")
    facts = facts_of(prompt)
    answers = {
        f"{facts.name} stands in Se Vik, a town in the Far East.": f"{facts.name} stands in {facts.town}.",
        f"{facts.name} stands in Sedor, New York.": f"{facts.name} stands in {facts.town}.",
        f"{facts.name} stands in {facts.town}, Somerset.": f"{facts.name} stands in {facts.town}.",
        f"{facts.name} stands in {facts.town}, a town in Settlements 11 and 12.": (
            f"{facts.name} stands in {facts.town}."
        ),
    }
    for original, revised in answers.items():
        assert not reward_parts(prompt, original)["no_wrong_fact"], original
        assert revise(prompt, original) == revised
        assert reward([prompt], [revised]) == [1.0] or not reward_parts(prompt, revised)["length_met"]
    right = f"{facts.name} stands in the town of {facts.town}. It opened in {facts.month}."
    assert reward_parts(prompt, right)["no_wrong_fact"]


def test_the_other_landmarks_values_and_a_made_up_designer_are_wrong_and_swapped():
    prompt = next(r["prompt"] for r in make_prompts("train", 100, 4) if facts_of(r["prompt"]).asked == "designer")
    facts = facts_of(prompt)
    other = next(d for d in re.findall(r"designed by (\w+ \w+)\.", facts.passage) if d != facts.designer)
    first, surname = facts.designer.split()
    for wrong in (other, f"{first} Ostrik"):
        original = f"{facts.name} was designed by {wrong}."
        assert reward([prompt], [original]) == [0.25], original  # the asked fact wrong: only the length is met
        assert revise(prompt, original) == f"{facts.name} was designed by {facts.designer}."
    assert reward([prompt], [f"{facts.name} was designed by {surname}."]) == [1.0]

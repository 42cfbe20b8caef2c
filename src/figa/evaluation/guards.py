"""Signs that a reward gain is not a gain, read from the answers alone (the demo's table and the IFBench table
report them): loops, answers cut at the token limit, quotes and lowercase nobody asked for, length."""

from __future__ import annotations

import re

from rapidfuzz import fuzz, process

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    """The text's sentences that contain a letter (split after . ! or ? and whitespace)."""
    return [s for s in SENTENCE_END.split(text.strip()) if re.search(r"[^\W\d_]", s)]


# Two sentences this alike (rapidfuzz's normalised Levenshtein ratio, 0-100, on their lowercased words) say the same
# thing: "Forests are home to many animals." and "Forests are also home to many animals." score 93 (rounded).
NEAR_DUPLICATE = 85


def degenerate(text: str) -> bool:
    """Empty, or a loop: fewer than half of the word trigrams of a longer response are distinct, or one sentence or
    line comes three times or more, word for word or nearly (a short loop has too few trigrams to tell)."""
    words = text.lower().split()
    if not words:
        return True
    trigrams = list(zip(words, words[1:], words[2:]))
    if len(trigrams) >= 10 and len(set(trigrams)) < 0.5 * len(trigrams):
        return True
    lines = [line for s in sentences(text) for line in s.splitlines() if re.search(r"[^\W\d_]", line)]
    said = [" ".join(re.findall(r"[^\W_]+", line.lower())) for line in lines]
    if len(said) < 3:
        return False
    alike = process.cdist(said, said, scorer=fuzz.ratio, score_cutoff=NEAR_DUPLICATE)
    return int((alike > 0).sum(axis=1).max()) >= 3


def wrapped_in_quotes(text: str) -> bool:
    stripped = text.strip()
    return len(stripped) > 1 and stripped[0] == '"' and stripped[-1] == '"'


def all_lowercase(text: str) -> bool:
    return text == text.lower() and any(ch.isalpha() for ch in text)


def shown_unasked(answers, asked, shows) -> float:
    """The share of ANSWERS that show a surface form (`shows(text)`, such as `wrapped_in_quotes`) among those whose
    prompt did not ask for it (ASKED: one bool per answer); 0 when every prompt asked."""
    shown = [shows(answer or "") for answer, was_asked in zip(answers, asked) if not was_asked]
    return sum(shown) / len(shown) if shown else 0.0

"""Signs that a reward gain is not a gain, read from the answers alone (the demo's table and the IFBench table
report them): loops, answers cut at the token limit, quotes and lowercase nobody asked for, length."""

from __future__ import annotations

import re
from collections import Counter

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    """The text's sentences that contain a letter (split after . ! or ? and whitespace)."""
    return [s for s in SENTENCE_END.split(text.strip()) if re.search(r"[^\W\d_]", s)]


def degenerate(text: str) -> bool:
    """Empty, or a loop: fewer than half of the word trigrams of a longer response are distinct, or one sentence
    comes three times or more (a short loop has too few trigrams to tell)."""
    words = text.lower().split()
    if not words:
        return True
    trigrams = list(zip(words, words[1:], words[2:]))
    if len(trigrams) >= 10 and len(set(trigrams)) < 0.5 * len(trigrams):
        return True
    said = Counter(" ".join(re.findall(r"[^\W_]+", s.lower())) for s in sentences(text))
    return max(said.values(), default=0) >= 3


def wrapped_in_quotes(text: str) -> bool:
    stripped = text.strip()
    return len(stripped) > 1 and stripped[0] == '"' and stripped[-1] == '"'


def all_lowercase(text: str) -> bool:
    return text == text.lower() and any(ch.isalpha() for ch in text)

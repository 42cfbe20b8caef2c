"""Token edit labels from the Levenshtein edit script original -> revised (docs/loss.md: edit kinds).

rapidfuzz computes a minimal edit script from the original tokens (source) to the revised tokens
(destination). Each operation labels tokens:

    insert  (-, j): revised[j] was added          -> revised "add"
    delete  (i, -): original[i] was deleted       -> original "del"
    replace (i, j): original[i] became revised[j] -> original "sub", revised "sub"

Every token that no operation touches is "keep" on its side.

`bow_codes` labels by bag of words instead, the paper's comparison: a token is changed when its word does not
occur in the other response at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein

# int8 codes, one per token of one side: ADD exists on the revised side only and DEL on the original side only,
# so they share the value 1 (a side's codes are read with that side's kinds below).
KEEP, ADD, DEL, SUB = 0, 1, 1, 2
REVISED_KINDS = ("keep", "add", "sub")
ORIGINAL_KINDS = ("keep", "del", "sub")


@dataclass(frozen=True)
class EditLabels:
    """One kind string per token: `original` in {"keep", "del", "sub"}, `revised` in {"keep", "add", "sub"}."""

    original: list[str]
    revised: list[str]


def edit_codes(original_ids: Sequence[int], revised_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The labels as int8 arrays (original codes: 0 keep, 1 del, 2 sub; revised: 0 keep, 1 add, 2 sub)."""
    original = np.zeros(len(original_ids), dtype=np.int8)
    revised = np.zeros(len(revised_ids), dtype=np.int8)
    for tag, *positions in Levenshtein.editops(original_ids, revised_ids).as_list():
        i, j = int(positions[0]), int(positions[1])
        if tag == "insert":
            revised[j] = ADD
        elif tag == "delete":
            original[i] = DEL
        else:  # "replace"
            original[i] = SUB
            revised[j] = SUB
    return original, revised


def label_edits(original_ids: Sequence[int], revised_ids: Sequence[int]) -> EditLabels:
    """Label each token of the original and of the revised response by the edit that produced it."""
    original, revised = edit_codes(original_ids, revised_ids)
    return EditLabels(original=[ORIGINAL_KINDS[c] for c in original], revised=[REVISED_KINDS[c] for c in revised])


_WORDS = re.compile(r"\w+|[^\w\s]")


def _token_words(text: str, offsets: Sequence[tuple[int, int]]) -> list[str]:
    """The word (lowercased) each token belongs to: the first word that overlaps the token's characters."""
    spans = [(m.start(), m.end(), m.group().lower()) for m in _WORDS.finditer(text)]
    words, k = [], 0
    for start, end in offsets:
        while k < len(spans) and spans[k][1] <= start:
            k += 1
        words.append(spans[k][2] if k < len(spans) and spans[k][0] < end else text[start:end].strip().lower())
    return words


def bow_codes(original: str, original_offsets, revised: str, revised_offsets) -> tuple[np.ndarray, np.ndarray]:
    """Bag-of-words labels (the paper's `bow` weighting): 1 for a token whose word does not occur on the other side
    (added to the revision, or dropped from the original), 0 for every other token. Tokens map to words by their
    character offsets, so any fast tokenizer works."""
    original_words, revised_words = _token_words(original, original_offsets), _token_words(revised, revised_offsets)
    in_original = {m.group().lower() for m in _WORDS.finditer(original)}
    in_revised = {m.group().lower() for m in _WORDS.finditer(revised)}
    return (
        np.array([w not in in_revised for w in original_words], dtype=np.int8),
        np.array([w not in in_original for w in revised_words], dtype=np.int8),
    )

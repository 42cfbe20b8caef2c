"""Token edit labels from the Levenshtein edit script original -> revised (README, "The loss": edit kinds).

rapidfuzz computes a minimal edit script from the original tokens (source) to the revised tokens
(destination). Each operation labels tokens:

    insert  (-, j): revised[j] was added          -> revised "add"
    delete  (i, -): original[i] was deleted       -> original "del"
    replace (i, j): original[i] became revised[j] -> original "sub", revised "sub"

Every token that no operation touches is "keep" on its side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

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
    for tag, i, j in Levenshtein.editops(original_ids, revised_ids).as_list():
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
    return EditLabels(original=[ORIGINAL_KINDS[c] for c in original],
                      revised=[REVISED_KINDS[c] for c in revised])

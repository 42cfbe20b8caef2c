"""Which prompts and revisions make it into the training set (the paper's thresholds; docs/guides/curate.md)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy
from rapidfuzz.distance import Levenshtein

_WORD = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """Word and punctuation tokens: the unit of edit distance in curation (independent of any tokenizer)."""
    return _WORD.findall(text)


def edit_ratio(original: str, revised: str) -> float:
    """Token edit distance from original to revised, divided by the original's length in tokens."""
    source = words(original)
    return Levenshtein.distance(source, words(revised)) / max(len(source), 1)


@dataclass(frozen=True)
class Thresholds:
    # eta2 and eta3 are None when they were given as quantiles and no prompt has a reference (they are not used)
    eta1: float | None = 0.5  # keep a prompt while reward(original) < eta1 (the policy did poorly)
    eta2: float | None = 0.5  # with a reference: reward(reference) > eta2 (the reference is good)
    eta3: float | None = 0.0  # with a reference: reward(reference) - reward(original) > eta3
    min_gain: float = 1e-9  # keep a revision when reward(revised) - reward(original) >= min_gain ...
    max_edit_ratio: float = 0.5  # ... and edit distance / original length <= max_edit_ratio


# The thresholds that may be given as a quantile of what the run observed ("q0.5"), and what each is a quantile of.
QUANTILE_OF = {
    "eta1": "reward(original), over every answer scored",
    "eta2": "reward(reference), over the prompts with a reference",
    "eta3": "reward(reference) - reward(original), over the prompts with a reference",
}
_QUANTILE = re.compile(r"q(\d*\.?\d+)")


def parse_threshold(value, option: str) -> tuple[float | None, float | None]:
    """(number, None) for a threshold given as a number, (None, P) for one given as `qP`, the P quantile (0..1) of
    what the run observed. VALUE comes from a flag (a string) or from Python or YAML (a number)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        text = str(value).strip()
        match = _QUANTILE.fullmatch(text)
        if match:
            quantile = float(match.group(1))
            if not 0 <= quantile <= 1:
                raise ValueError(f"{option} {text}: a quantile is q0 to q1 (q0.5: the median), got {quantile}")
            return None, quantile
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{option} must be a number or a quantile qP (q0.5: the median), got {text!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{option} must be a finite number, got {number}")
    return number, None


def quantile(values: Sequence[float], q: float) -> float | None:
    """The Q quantile of VALUES (linear between the two nearest, numpy's default); None when there are none."""
    return float(numpy.quantile(numpy.asarray(values, dtype=float), q)) if len(values) else None


def select_for_revision(rewards: dict, t: Thresholds) -> str | None:
    """None when the prompt should be revised, else the reason it is rejected."""
    original, reference = rewards["original"], rewards.get("reference")
    if not original < t.eta1:
        return f"reward(original)={original:.4g} is not below eta1={t.eta1}"
    if reference is not None:
        if not reference > t.eta2:
            return f"reward(reference)={reference:.4g} is not above eta2={t.eta2}"
        if not reference - original > t.eta3:
            return f"reward(reference)-reward(original)={reference - original:.4g} is not above eta3={t.eta3}"
    return None


def accept_revision(rewards: dict, ratio: float, t: Thresholds) -> str | None:
    """None when the revision is kept, else the reason it is rejected."""
    gain = rewards["revised"] - rewards["original"]
    if not gain >= t.min_gain:
        return f"reward gain {gain:.4g} is below min_gain={t.min_gain}"
    if not ratio <= t.max_edit_ratio:
        return f"edit ratio {ratio:.3g} is above max_edit_ratio={t.max_edit_ratio} (not a minimal edit)"
    return None

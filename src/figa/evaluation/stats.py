"""Paired statistics over prompts: bootstrap confidence intervals, win/tie/loss, response lengths."""

from __future__ import annotations

import numpy as np

TIE_TOLERANCE = 1e-9


def _percentile_interval(means: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def bootstrap_mean_ci(values, samples: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, resampling prompts with replacement."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(samples, len(values)))].mean(axis=1)
    return _percentile_interval(means, level)


def win_tie_loss(rewards, baseline) -> dict:
    """Fractions of prompts where `rewards` beats, ties or loses to `baseline` (paired by position)."""
    difference = np.asarray(rewards, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    n = max(len(difference), 1)
    return {
        "win": float((difference > TIE_TOLERANCE).sum() / n),
        "tie": float((np.abs(difference) <= TIE_TOLERANCE).sum() / n),
        "loss": float((difference < -TIE_TOLERANCE).sum() / n),
    }


def length_stats(texts: list[str]) -> dict:
    words = np.array([len(t.split()) for t in texts], dtype=np.float64)
    if len(words) == 0:
        return {"count": 0}
    return {
        "count": len(words),
        "mean_words": float(words.mean()),
        "median_words": float(np.median(words)),
        "max_words": int(words.max()),
        "empty": int(sum(1 for t in texts if not t.strip())),
    }


def bootstrap_seeds_prompts_ci(values, samples: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values[seed, prompt]`: resample the training seeds, then the
    prompts (the same prompts under every seed drawn, so paired differences stay paired). One seed: the prompt
    bootstrap of `bootstrap_mean_ci`."""
    values = np.asarray(values, dtype=np.float64)
    n_seeds, n_prompts = values.shape
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, n_seeds, size=(samples, n_seeds))
    prompts = rng.integers(0, n_prompts, size=(samples, n_prompts))
    means = np.array([values[s][:, p].mean() for s, p in zip(seeds, prompts)])
    return _percentile_interval(means, level)


def bootstrap_groups_mean_ci(
    values, groups, samples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of VALUES, resampling whole groups (the values that share a group
    key, such as one paragraph edited by several writers) with replacement. One value per group: the interval of
    `bootstrap_mean_ci`."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    first_seen: dict = {}
    index = np.array([first_seen.setdefault(g, len(first_seen)) for g in groups])
    sums, counts = np.bincount(index, weights=values), np.bincount(index)
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(sums), size=(samples, len(sums)))
    means = sums[drawn].sum(axis=1) / counts[drawn].sum(axis=1)
    return _percentile_interval(means, level)


def bootstrap_ratio_ci(values, weights, samples: int = 1000, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of sum(values) / sum(weights) (a ratio of totals, such as instructions
    followed over instructions checked), resampling prompts."""
    values, weights = np.asarray(values, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(values), size=(samples, len(values)))
    ratios = values[draws].sum(axis=1) / np.maximum(weights[draws].sum(axis=1), 1)
    return [float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))]


def mean_interval(values, samples: int = 1000, seed: int = 0) -> dict:
    """{"mean", "ci95"} of VALUES over prompts (a vector), or over training seeds and prompts (a seeds x prompts
    matrix, `bootstrap_seeds_prompts_ci`): the one shape every report writes an interval in."""
    values = np.asarray(values, dtype=np.float64)
    low, high = (bootstrap_seeds_prompts_ci if values.ndim == 2 else bootstrap_mean_ci)(values, samples, seed)
    return {"mean": float(values.mean()) if values.size else float("nan"), "ci95": [low, high]}


def format_interval(value: dict | None, signed: bool = False, empty: str = "") -> str:
    """A {"mean", "ci95"} value as "0.123 [0.045, 0.210]" (with signs when SIGNED); EMPTY when there is none."""
    if not value:
        return empty
    sign = "+" if signed else ""
    low, high = value["ci95"]
    return f"{value['mean']:{sign}.3f} [{low:{sign}.3f}, {high:{sign}.3f}]"

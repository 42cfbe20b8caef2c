"""Each compared method's numbers over seeds and held-out prompts, for any reward: the reward with its interval,
paired differences against SFT and DPO with the smallest difference the run detects, lengths, loops, answers cut at
the token limit, and the examples behind the means (docs/guides/compare.md)."""

from __future__ import annotations

import numpy as np
from rapidfuzz.distance import Levenshtein

from ..curate.filters import edit_ratio
from ..curate.filters import words as tokens
from ..evaluation.guards import degenerate
from ..evaluation.stats import mean_interval
from ..results import EvalResults

BASELINES = ("sft", "dpo")  # what every other method is compared with, pair by pair, when it was trained


def run_name(method: str, seed: int) -> str:
    """The name of METHOD's model trained with SEED among the evaluated models ("base" is not trained)."""
    return method if method == "base" else f"{method}-s{seed}"


def matrix(results: EvalResults, method: str, seeds: list[int], key) -> np.ndarray:
    """`key(entry, by_model)` for every (seed, held-out prompt) of METHOD; base repeats over seeds."""
    return np.array(
        [[key(entry, entry["by_model"][run_name(method, s)]) for entry in results["responses"]] for s in seeds],
        dtype=np.float64,
    )


def paired(difference: np.ndarray, samples: int, seed: int) -> dict:
    """A paired difference (seeds x prompts) with its interval, the standard deviation over prompts of its
    seed-averaged per-prompt values, and the smallest true difference the run detects with 80% power at the 5%
    level (2.80 standard errors; docs/experiments.md)."""
    per_prompt = difference.mean(axis=0)
    sd = float(per_prompt.std(ddof=1)) if per_prompt.size > 1 else 0.0
    detectable = (1.96 + 0.84) * sd / np.sqrt(max(per_prompt.size, 1))
    return {**mean_interval(difference, samples, seed), "paired_sd": sd, "detectable": float(detectable)}


def edit_sizes(records: list[dict]) -> dict:
    """How much the revisions of the training pairs change: per pair, the words (and punctuation) changed from the
    original to the revision (`curate.filters.words`, Levenshtein distance), and that count over the original's
    length (curation's edit ratio); their medians and means."""
    if not records:
        return {"pairs": 0}
    changed = np.array(
        [Levenshtein.distance(tokens(r["original_output"]), tokens(r["revised_output"])) for r in records], dtype=float
    )
    ratio = np.array([edit_ratio(r["original_output"], r["revised_output"]) for r in records], dtype=float)
    return {
        "pairs": len(records),
        "words_changed": {"median": float(np.median(changed)), "mean": float(changed.mean())},
        "edit_ratio": {"median": float(np.median(ratio)), "mean": float(ratio.mean())},
    }


def words(text: str | None) -> int:
    return len((text or "").split())


def method_summary(results: EvalResults, method: str, seeds: list[int], samples: int = 1000, seed: int = 0) -> dict:
    """METHOD's row: reward, per seed, against the baselines, length against the base model, loops, cut answers."""
    seeds = seeds if method != "base" else seeds[:1]
    reward = matrix(results, method, seeds, lambda e, r: r["reward"])
    length = matrix(results, method, seeds, lambda e, r: words(r["response"]))
    base_length = matrix(results, "base", seeds[:1], lambda e, r: words(r["response"]))
    row = {
        "method": method,
        "seeds": len(seeds),
        "prompts": reward.shape[1],
        "reward": mean_interval(reward, samples, seed),
        "reward_by_seed": [float(v) for v in reward.mean(axis=1)],
        "mean_words": float(length.mean()),
        "words_vs_base": float(length.mean() / max(base_length.mean(), 1e-9)),
        "repeating": float(matrix(results, method, seeds, lambda e, r: degenerate(r["response"] or "")).mean()),
        "hit_token_limit": float(matrix(results, method, seeds, lambda e, r: bool(r.get("truncated"))).mean()),
    }
    trained = results["responses"][0]["by_model"] if results["responses"] else {}
    for other in BASELINES:
        if other != method and method != "base" and run_name(other, seeds[0]) in trained:
            difference = reward - matrix(results, other, seeds, lambda e, r: r["reward"])
            row[f"vs_{other}"] = paired(difference, samples, seed)
    return row


def examples(results: EvalResults, methods: list[str], seed: int, count: int = 3) -> list[dict]:
    """The prompts where the methods' rewards (seed SEED's models) differ most, each with every method's answer
    and reward: what the means are made of."""
    names = ["base", *methods]

    def spread(entry) -> float:
        rewards = [entry["by_model"][run_name(m, seed)]["reward"] for m in names]
        return max(rewards) - min(rewards)

    chosen = sorted(results["responses"], key=spread, reverse=True)[:count]
    return [
        {
            "id": entry["id"],
            "prompt": entry["prompt"],
            "answers": {
                m: {
                    "response": entry["by_model"][run_name(m, seed)]["response"],
                    "reward": entry["by_model"][run_name(m, seed)]["reward"],
                }
                for m in names
            },
        }
        for entry in chosen
    ]

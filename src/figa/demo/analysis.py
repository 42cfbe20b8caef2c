"""The demo's numbers per method, over seeds and held-out prompts: reward with its interval, paired differences,
lengths, a length-controlled reward, signs of degeneration, and per-constraint success (docs/experiments.md)."""

from __future__ import annotations

import numpy as np

from ..compare.analysis import matrix as _matrix
from ..compare.analysis import paired as _paired
from ..compare.analysis import run_name
from ..evaluation.guards import all_lowercase, degenerate, shown_unasked, wrapped_in_quotes
from ..evaluation.stats import mean_interval as _interval
from ..results import EvalResults
from ..tasks.constraints.task import CONSTRAINT_KINDS, MORE, constraints_in, satisfied, topic_of

LENGTH_KINDS = {"max_words", "min_words", "min_sentences", "paragraphs"}  # constraints that set the length


def _not_asked(results: EvalResults, method: str, seeds: list[int], kind: str, shows) -> float:
    """`guards.shown_unasked` over every seed's answers: a constraint's surface form where no prompt asked for it."""
    entries = results["responses"]
    asked = [any(c.kind == kind for c in constraints_in(e["prompt"])) for e in entries]
    runs = [run_name(method, seed) for seed in seeds]
    answers = [e["by_model"][run]["response"] for run in runs for e in entries]
    return shown_unasked(answers, asked * len(runs), shows)


def stock_sentence(prompt: str, response: str) -> bool:
    """Does the response contain, word for word (any case), one of the reviser's stock sentences on the prompt's
    topic (`task.MORE`, what its fixes add to lengthen an answer)? Copied filler, not an answer of the model's own."""
    topic, text = topic_of(prompt), response.lower()
    return any(sentence.format(topic=topic).lower() in text for sentence in MORE)


def _degeneration(results: EvalResults, method: str, seeds: list[int]) -> dict:
    truncated = _matrix(results, method, seeds, lambda e, r: bool(r.get("truncated")))
    repeating = _matrix(results, method, seeds, lambda e, r: degenerate(r["response"] or ""))
    return {
        "hit_token_limit": float(truncated.mean()),
        "repeating": float(repeating.mean()),
        "quotes_not_asked": _not_asked(results, method, seeds, "quotes", wrapped_in_quotes),
        "lowercase_not_asked": _not_asked(results, method, seeds, "lowercase", all_lowercase),
        "stock_sentences": float(
            _matrix(results, method, seeds, lambda e, r: stock_sentence(e["prompt"], r["response"] or "")).mean()
        ),
    }


def method_summary(results: EvalResults, method: str, seeds: list[int], samples: int = 1000, seed: int = 0) -> dict:
    reward = _matrix(results, method, seeds, lambda e, r: r["reward"])
    words = _matrix(results, method, seeds, lambda e, r: len((r["response"] or "").split()))
    base_words = _matrix(results, "base", [seeds[0]], lambda e, r: len((r["response"] or "").split()))
    free = np.array([not ({c.kind for c in constraints_in(e["prompt"])} & LENGTH_KINDS) for e in results["responses"]])
    row = {
        "method": method,
        "seeds": len(seeds) if method != "base" else 1,
        "prompts": reward.shape[1],
        "reward": _interval(reward, samples, seed),
        "reward_by_seed": [float(v) for v in reward.mean(axis=1)],
        "mean_words": float(words.mean()),
        "words_vs_base": float(words.mean() / max(base_words.mean(), 1e-9)),
        "no_length_constraint": {
            "prompts": int(free.sum()),
            "reward": _interval(reward[:, free], samples, seed) if free.any() else None,
            "words_vs_base": float(words[:, free].mean() / max(base_words[:, free].mean(), 1e-9))
            if free.any()
            else None,
        },
        "degeneration": _degeneration(results, method, seeds),
    }
    for other in ("sft", "dpo"):
        if other != method and method != "base" and f"{other}-s{seeds[0]}" in results["responses"][0]["by_model"]:
            difference = reward - _matrix(results, other, seeds, lambda e, r: r["reward"])
            row[f"vs_{other}"] = _paired(difference, samples, seed)
    return row


def per_constraint(results: EvalResults, methods: list[str], seeds: list[int]) -> dict:
    """Per method and constraint kind: the share of held-out prompts with that kind whose constraint holds."""
    table = {}
    for method in methods:
        counts: dict[str, list[int]] = {}
        for s in seeds if method != "base" else seeds[:1]:
            for entry in results["responses"]:
                response = entry["by_model"][run_name(method, s)]["response"] or ""
                for kind, ok in satisfied(entry["prompt"], response).items():
                    hit_total = counts.setdefault(kind, [0, 0])
                    hit_total[0] += ok
                    hit_total[1] += 1
        table[method] = {
            kind: {"satisfied": hit / total, "prompts": total}
            for kind, (hit, total) in sorted(counts.items(), key=lambda kv: CONSTRAINT_KINDS.index(kv[0]))
        }
    return table


def summarize_methods(results: EvalResults, methods: list[str], seeds: list[int], samples: int = 1000) -> list[dict]:
    return [method_summary(results, method, seeds, samples) for method in ["base", *methods]]

"""What a curation run did, as numbers: counts per stage, reward and edit-ratio distributions (stats.json), and the
table `figa curate` prints."""

from __future__ import annotations

import statistics
from collections import Counter

from ..records import LoadReport
from ..results import CURATE_STATS_FORMAT, CurateStats, Distribution


def distribution(values: list[float]) -> Distribution:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def quantile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "count": len(values),
        "mean": statistics.fmean(values),
        "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
        "min": ordered[0],
        "p25": quantile(0.25),
        "median": quantile(0.5),
        "p75": quantile(0.75),
        "max": ordered[-1],
    }


def curation_stats(prompts: list, report: LoadReport, train: list[dict], rejected: list[dict]) -> CurateStats:
    """`prompts` are the pipeline's `Prompt`s (their rewards and rejections), `train` and `rejected` its rows."""
    stages = Counter(prompt.rejected[0] for prompt in prompts if prompt.rejected)
    rewards = {
        name: [p.rewards[name] for p in prompts if name in p.rewards] for name in ("original", "revised", "reference")
    }
    return {
        "format": CURATE_STATS_FORMAT,
        "counts": {
            "read": report.read,
            "bad_input": len(report.skipped),
            "prompts": len(prompts),
            "rejected_by_stage": dict(stages),
            "train": len(train),
            "rejected": len(rejected),
            "truncated_rollouts": sum(prompt.truncated for prompt in prompts),
        },
        "rewards": {name: distribution(values) for name, values in rewards.items()},
        "train_rewards": {
            name: distribution([r["rewards"][name] for r in train if name in r["rewards"]])
            for name in ("original", "revised")
        },
        "edit_ratio": distribution([r["edits"]["edit_ratio"] for r in train]),
    }


def curation_numbers(stats: CurateStats) -> dict[str, float]:
    """The counts and reward means of a run, flat, for trackers (`curate/train`, `curate/rejected/rollout`, ...)."""
    counts = stats["counts"]
    numbers: dict[str, float] = {
        f"curate/{k}": counts[k] for k in ("read", "prompts", "train", "rejected", "truncated_rollouts")
    }
    numbers.update({f"curate/rejected/{stage}": n for stage, n in counts["rejected_by_stage"].items()})
    numbers.update({f"curate/reward_{name}_mean": d["mean"] for name, d in stats["rewards"].items() if d["count"]})
    return numbers


def summary_table(stats: CurateStats) -> str:
    c = stats["counts"]
    lines = [f"prompts read {c['read']}  ->  train {c['train']}, rejected {c['rejected']}"]
    if c["bad_input"]:
        lines.append(f"  rejected at input      {c['bad_input']:>6}")
    for stage, count in c["rejected_by_stage"].items():
        lines.append(f"  rejected at {stage:<10} {count:>6}")
    lines.append(f"{'reward':<12}{'count':>7}{'mean':>9}{'median':>9}{'min':>9}{'max':>9}")
    for name, d in stats["rewards"].items():
        if d["count"]:
            lines.append(
                f"{name:<12}{d['count']:>7}{d['mean']:>9.3f}{d['median']:>9.3f}{d['min']:>9.3f}{d['max']:>9.3f}"
            )
    e = stats["edit_ratio"]
    if e["count"]:
        lines.append(f"edit ratio of kept pairs: mean {e['mean']:.3f}, median {e['median']:.3f}, max {e['max']:.3f}")
    return "\n".join(lines)

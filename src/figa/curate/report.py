"""What a curation run did, as numbers: counts per stage, reward and edit-ratio distributions (stats.json), and the
table `figa curate` prints."""

from __future__ import annotations

import statistics
from array import array
from collections import Counter
from collections.abc import Sequence

from ..records import LoadReport
from ..results import CURATE_STATS_FORMAT, CurateStats, Distribution


def distribution(values: Sequence[float]) -> Distribution:
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


class CurationTally:
    """The numbers of stats.json, counted one prompt at a time (a run never holds all its prompts): counts, and
    each reward and edit ratio as 8 bytes in an array for the exact quantiles."""

    def __init__(self):
        self.prompts = self.train = self.rejected = self.truncated = 0
        self.stages: Counter = Counter()
        self.rewards = {name: array("d") for name in ("original", "revised", "reference")}
        self.train_rewards = {name: array("d") for name in ("original", "revised")}
        self.edit_ratio = array("d")

    def add(self, prompt, train_row: dict | None) -> None:
        """One pipeline `Prompt` after every stage, and its train.jsonl row (None: it was rejected)."""
        self.prompts += 1
        self.truncated += prompt.truncated
        for name, values in self.rewards.items():
            if name in prompt.rewards:
                values.append(prompt.rewards[name])
        if train_row is None:
            self.rejected += 1
            self.stages[prompt.rejected[0]] += 1
            return
        self.train += 1
        for name, values in self.train_rewards.items():
            if name in train_row["rewards"]:
                values.append(train_row["rewards"][name])
        self.edit_ratio.append(train_row["edits"]["edit_ratio"])

    def stats(self, report: LoadReport) -> CurateStats:
        return {
            "format": CURATE_STATS_FORMAT,
            "counts": {
                "read": report.read,
                "bad_input": len(report.skipped),
                "prompts": self.prompts,
                "rejected_by_stage": dict(self.stages),
                "train": self.train,
                "rejected": self.rejected + len(report.skipped),
                "truncated_rollouts": self.truncated,
            },
            "rewards": {name: distribution(values) for name, values in self.rewards.items()},
            "train_rewards": {name: distribution(values) for name, values in self.train_rewards.items()},
            "edit_ratio": distribution(self.edit_ratio),
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
    if "thresholds" in stats:
        used = ", ".join(f"{k} {v:.4g}" for k, v in stats["thresholds"].items() if v is not None)
        lines.append(f"thresholds: {used}")
    e = stats["edit_ratio"]
    if e["count"]:
        lines.append(f"edit ratio of kept pairs: mean {e['mean']:.3f}, median {e['median']:.3f}, max {e['max']:.3f}")
    return "\n".join(lines)

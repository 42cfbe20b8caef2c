"""`figa curate`'s settings: the inputs, the back ends, the paper's thresholds (docs/guides/curate.md)."""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..backends.generation import EndpointOptions, GenerationOptions
from ..backends.policies import POLICY_BACKEND_HELP, POLICY_BACKENDS
from ..errors import FigaError
from ..tracking import check_trackers
from .filters import QUANTILE_OF, Thresholds, parse_threshold, quantile


@dataclass
class CurateConfig(GenerationOptions, EndpointOptions):
    prompts: str = field(
        default=None,
        metadata={
            "help": "Prompts: JSONL/JSON/Parquet with prompt | messages | "
            "instruction (+input), optional output and id."
        },
    )
    output_dir: str = field(default=None, metadata={"help": "Where train.jsonl, rejected.jsonl, stats.json go."})
    policy: str = field(default=None, metadata={"help": "The model being aligned (path, hub id or API model)."})
    policy_backend: str = field(default="hf", metadata={"help": POLICY_BACKEND_HELP, "choices": list(POLICY_BACKENDS)})
    reward: str = field(default=None, metadata={"help": "hf:MODEL, python:module:function or openai:MODEL."})
    reviser: str = field(
        default=None, metadata={"help": "openai:MODEL, hf:MODEL, reference-edit or python:module:function."}
    )
    eta1: float | str = field(
        default=Thresholds.eta1,
        metadata={
            "help": "Keep a prompt when reward(original) < eta1: a number on the reward's scale, or qP, the P "
            "quantile of the rewards of the policy's answers in this run (q0.5: revise the worse half)."
        },
    )
    eta2: float | str = field(
        default=Thresholds.eta2,
        metadata={
            "help": "With a reference: and reward(reference) > eta2 (a number, or qP of the references' rewards)."
        },
    )
    eta3: float | str = field(
        default=Thresholds.eta3,
        metadata={
            "help": "With a reference: and reward(reference) - reward(original) > eta3 (a number, or qP of those "
            "differences)."
        },
    )
    min_gain: float = field(
        default=Thresholds.min_gain,
        metadata={"help": "Keep a revision when reward(revised) - reward(original) >= min_gain."},
    )
    max_edit_ratio: float = field(
        default=Thresholds.max_edit_ratio,
        metadata={"help": "... and word edit distance / original length <= max_edit_ratio."},
    )
    revise_target: float | None = field(
        default=None, metadata={"help": "reference-edit stops once the reward reaches this (default: eta1)."}
    )
    revision_template: str | None = field(
        default=None, metadata={"help": "A file with your revision prompt ({prompt}, {original}, {reference_block})."}
    )
    keep_truncated: bool = field(
        default=False,
        metadata={
            "help": "Keep responses cut at max_new_tokens (by "
            "default they are rejected: training on them "
            "would teach the model to stop mid-answer)."
        },
    )
    skip_bad_records: bool = field(
        default=False, metadata={"help": "Reject bad prompt records (listed in rejected.jsonl) instead of stopping."}
    )
    block_size: int = field(
        default=10_000,
        metadata={
            "help": "Prompts held in memory at once: each stage runs over the prompts in blocks of this size, so "
            "memory does not grow with the number of prompts."
        },
    )
    shard: str | None = field(
        default=None,
        metadata={
            "help": "I/N: curate only part I (0 to N-1) of N, the prompts whose id hashes to I; run the N parts "
            "with the same settings (on N machines) and combine them with `figa curate merge`."
        },
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow model repository code to run."})
    push_to_hub: str | None = field(
        default=None,
        metadata={
            "help": "Upload the SPA data set, its card (README.md), "
            "stats.json and the rejections to this hub "
            "dataset repo (org/name)."
        },
    )
    hub_private_repo: bool = field(default=False, metadata={"help": "Create the hub repo as private."})
    report_to: list[str] = field(
        default_factory=lambda: ["none"],
        metadata={
            "help": "Log the stage counts and reward means to these trackers: tensorboard (OUTPUT_DIR/runs/curate), "
            "trackio, or none."
        },
    )
    project: str = field(default="figa", metadata={"help": "The trackio project."})

    def check(self) -> None:
        for name in ("prompts", "output_dir", "policy", "reward", "reviser"):
            if not getattr(self, name):
                raise FigaError(f"--{name} is required")
        check_trackers(self.report_to)
        self.check_generation()
        self.check_endpoint()
        for name in QUANTILE_OF:
            try:
                number, _ = parse_threshold(getattr(self, name), f"--{name}")
            except ValueError as error:
                raise FigaError(str(error)) from None
            setattr(self, name, number if number is not None else str(getattr(self, name)).strip())
        for name in ("min_gain", "max_edit_ratio"):
            if not math.isfinite(getattr(self, name)):
                raise FigaError(f"--{name} must be a finite number, got {getattr(self, name)}")
        quantiles = self.quantiles()
        if self.shard_part() and quantiles:
            name = next(iter(quantiles))
            raise FigaError(
                f"--{name} {getattr(self, name)} with --shard: each part "
                "would take the quantile of its own prompts; give the thresholds as numbers (the values a whole or "
                "partial run used are in its stats.json, `thresholds`)"
            )
        if self.block_size < 1:
            raise FigaError(f"--block_size must be at least 1, got {self.block_size}")
        if self.policy_backend not in POLICY_BACKENDS:
            raise FigaError(f"--policy_backend must be one of {', '.join(POLICY_BACKENDS)}")
        remote = [
            f"--{name} {getattr(self, name)}"
            for name in ("reward", "reviser")
            if getattr(self, name).startswith("openai:")
        ]
        if self.policy_backend == "openai":
            remote.append("--policy_backend openai")
        if remote and importlib.util.find_spec("openai") is None:
            raise FigaError(f"{remote[0]} needs the `openai` package: pip install 'figa-align[openai]'")

    def shard_part(self) -> tuple[int, int] | None:
        """(I, N) of --shard I/N; None when the run curates every prompt."""
        if self.shard is None:
            return None
        index, _, count = self.shard.partition("/")
        if not (re.fullmatch("[0-9]+", index) and re.fullmatch("[0-9]+", count) and int(index) < int(count)):
            raise FigaError(f"--shard must be I/N with 0 <= I < N (for example 0/4), got {self.shard!r}")
        return int(index), int(count)

    def quantiles(self) -> dict[str, float]:
        """The thresholds given as quantiles (name: P); the run resolves them once every answer is scored."""
        found = {}
        for name in QUANTILE_OF:
            _, p = parse_threshold(getattr(self, name), f"--{name}")
            if p is not None:
                found[name] = p
        return found

    def thresholds(self, observed: Mapping[str, Sequence[float]] | None = None) -> Thresholds:
        """The thresholds in the reward's units; those given as quantiles are taken of OBSERVED (threshold name:
        the values the run observed, `QUANTILE_OF`), which they need."""
        values = {}
        for name in QUANTILE_OF:
            number, p = parse_threshold(getattr(self, name), f"--{name}")
            if p is not None and observed is None:
                raise ValueError(f"--{name} is a quantile: the thresholds need the rewards the run observed")
            values[name] = number if p is None else quantile(observed[name], p)
        return Thresholds(**values, min_gain=self.min_gain, max_edit_ratio=self.max_edit_ratio)

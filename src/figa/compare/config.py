"""`figa compare`'s settings (docs/guides/compare.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import FigaError
from ..modeling import native_bf16
from ..tasks import TASKS
from .methods import METHODS
from .training import Budget

TASK_INPUTS = ("data", "prompts", "validation_prompts", "test_prompts", "reward", "reviser")


@dataclass
class CompareConfig:
    task: str | None = field(
        default=None,
        metadata={
            "help": "A built-in task instead of your data: "
            + "; ".join(f"{name}, {task.description}" for name, task in TASKS.items())
            + ". Its prompts are written to OUTPUT_DIR/task/ and curated with --model as the policy.",
            "choices": list(TASKS),
        },
    )
    task_prompts: list[int] = field(
        default_factory=lambda: [256, 64, 192],
        metadata={"help": "With --task: training, validation and test prompts (disjoint splits)."},
    )
    data: str | None = field(default=None, metadata={"help": "SPA training pairs (figa curate's train.jsonl)."})
    prompts: str | None = field(
        default=None,
        metadata={
            "help": "Instead of --data: training prompts, curated first (`figa curate` with --model as the policy, "
            "--reward and --reviser) into OUTPUT_DIR/spa/."
        },
    )
    reviser: str | None = field(default=None, metadata={"help": "With --prompts: the reviser, as for figa curate."})
    curate_config: str | None = field(
        default=None,
        metadata={"help": "With --prompts: YAML of other figa curate options (thresholds, decoding, endpoints)."},
    )
    model: str | None = field(default=None, metadata={"help": "The starting model every method trains from."})
    validation_prompts: str | None = field(
        default=None, metadata={"help": "Prompts each method's settings are chosen on (never the test prompts)."}
    )
    test_prompts: str | None = field(
        default=None, metadata={"help": "Prompts the chosen settings are scored on, with every seed."}
    )
    reward: str | None = field(
        default=None, metadata={"help": "What scores the answers: hf:MODEL, python:module:function or openai:MODEL."}
    )
    output_dir: str = field(default="figa-compare", metadata={"help": "Where every result and the report go."})
    methods: list[str] = field(
        default_factory=lambda: ["sft", "dpo", "figa"],
        metadata={
            "help": "The methods compared (each against the base model, and against SFT and DPO when they are "
            "among them): " + ", ".join(METHODS) + ".",
            "choices": list(METHODS),
        },
    )
    grid: str | None = field(
        default=None,
        metadata={
            "help": "A JSON file of method -> list of settings to try on the validation prompts (default: each "
            "method's grid around its published defaults, docs/guides/compare.md)."
        },
    )
    seeds: int = field(default=3, metadata={"help": "Training seeds of the chosen settings (seed, seed+1, ...)."})
    seed: int = field(
        default=0, metadata={"help": "The first training seed (the grid trains with it), and the bootstrap's."}
    )
    train_batch_size: int = field(default=8, metadata={"help": "Pairs per optimizer step, for every method."})
    max_length: int = field(default=1024, metadata={"help": "Longest prompt + response in training, in tokens."})
    max_new_tokens: int = field(default=256, metadata={"help": "Longest answer in evaluation, in tokens."})
    repetition_penalty: float = field(default=1.0, metadata={"help": "Decoding, the same for every model."})
    generation_batch_size: int = field(default=16, metadata={"help": "Prompts per generate call."})
    precision: str = field(
        default="auto",
        metadata={
            "help": "bf16 (mixed-precision training, bfloat16 generation), fp32, or auto: bf16 where the machine "
            "computes it natively.",
            "choices": ["auto", "bf16", "fp32"],
        },
    )
    study: str | None = field(
        default=None,
        metadata={
            "help": "Share the trainings and evaluations with other workers: an Optuna journal file (on a file "
            "system they all reach) that every worker's `figa compare`, started with the same options, names. "
            "Without it this process does every job."
        },
    )
    report_to: list[str] = field(
        default_factory=lambda: ["none"], metadata={"help": "Trackers for every training: tensorboard, trackio, none."}
    )
    project: str = field(default="figa-compare", metadata={"help": "The trackio project of the runs."})

    def check(self) -> None:
        if bool(self.data) == bool(self.prompts):
            raise FigaError(
                "give the training pairs (--data SPA.jsonl) or prompts to curate them from (--prompts "
                "with --reviser), one of the two"
            )
        if self.prompts and not self.reviser:
            raise FigaError("--prompts are curated first: --reviser is required (as for figa curate)")
        for name in ("model", "validation_prompts", "test_prompts", "reward"):
            if not getattr(self, name):
                raise FigaError(f"--{name} is required")
        given = [name for name in ("data", "prompts", "curate_config") if getattr(self, name)]
        for name in (*given, "validation_prompts", "test_prompts"):
            if not os.path.isfile(getattr(self, name)):
                raise FigaError(f"--{name} {getattr(self, name)}: no such file")
        if os.path.realpath(self.validation_prompts) == os.path.realpath(self.test_prompts):
            raise FigaError(
                "--validation_prompts and --test_prompts are one file: settings chosen on the test "
                "prompts would flatter every method; give held-out prompts of their own to each"
            )
        if self.seeds < 1:
            raise FigaError(f"--seeds must be at least 1, got {self.seeds}")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise FigaError(
                f"--methods: unknown {', '.join(unknown) or 'none given'}; choose from {', '.join(METHODS)}"
            )
        if len(set(self.methods)) != len(self.methods):
            raise FigaError("--methods names a method twice")

    def bf16(self) -> bool:
        return self.precision == "bf16" or (self.precision == "auto" and native_bf16())

    def budget(self) -> Budget:
        return Budget(self.train_batch_size, self.bf16(), tuple(self.report_to), self.project, self.max_length)

    def decoding(self) -> dict:
        """The generation settings of every evaluation (validation and test): the same for every model."""
        return {
            "max_new_tokens": self.max_new_tokens,
            "repetition_penalty": self.repetition_penalty,
            "batch_size": self.generation_batch_size,
            "seed": self.seed,
            "dtype": "bfloat16" if self.bf16() else "auto",
        }

    def training_seeds(self) -> list[int]:
        return [self.seed + k for k in range(self.seeds)]

"""One training of a compared method: its `figa train` arguments, with the budget every method shares."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from typing import Any

from transformers import TrainingArguments

from ..baselines import DPOConfig, SFTConfig
from ..modeling import has_accelerator
from ..trainer import FIGAConfig
from ..training import TrainingConfig
from .methods import MethodSpec


@dataclass(frozen=True)
class Budget:
    """What every method's training shares: pairs per micro-batch, precision, trackers, sequence length, and the
    FIGA-only switches that change compute, not the loss."""

    train_batch_size: int = 8
    bf16: bool = False
    report_to: tuple[str, ...] = ("none",)
    project: str = "figa"
    max_length: int = 512
    eos_weight: float | None = None
    share_prompt: bool = True


def training_args(
    spec: MethodSpec, settings: dict[str, Any], out: str, seed: int, pairs: int, budget: Budget
) -> TrainingConfig:
    """SPEC's config at SETTINGS (learning_rate, epochs, optional pairs_per_step, and its own: FIGA's loss settings
    or DPO's dpo_beta, over `spec.loss`): every method gets the same `TrainingArguments` values (schedule, batch,
    seed, logging). A method asking for more pairs per step than the batch accumulates gradients, up to one step
    over all PAIRS."""
    settings = {**spec.loss, **settings}
    per_step = min(settings.pop("pairs_per_step", budget.train_batch_size), pairs)
    shared: dict[str, Any] = dict(
        output_dir=out,
        num_train_epochs=settings.pop("epochs"),
        learning_rate=settings.pop("learning_rate"),
        per_device_train_batch_size=budget.train_batch_size,
        gradient_accumulation_steps=max(math.ceil(per_step / budget.train_batch_size), 1),
        lr_scheduler_type="constant",
        seed=seed,
        logging_steps=1,
        save_strategy="steps",
        save_steps=10,
        save_total_limit=1,
        report_to=list(budget.report_to),
        project=budget.project,
        run_name=os.path.basename(out),
        disable_tqdm=False,
        remove_unused_columns=False,
        **({"bf16": True, "use_cpu": not has_accelerator()} if budget.bf16 else {}),
    )
    if spec.trainer == "figa":
        return FIGAConfig(
            **shared,
            max_length=budget.max_length,
            eos_weight=budget.eos_weight,
            share_prompt=budget.share_prompt,
            **{"weighting": "figa", **settings},
        )
    # TRL's configs change some TrainingArguments defaults (gradient checkpointing, bf16, logging): every
    # TrainingArguments value is given, so that all methods train with the same ones
    arguments = TrainingArguments(**shared)
    common = {f.name: getattr(arguments, f.name) for f in fields(TrainingArguments) if f.init}
    if spec.trainer == "sft":
        return SFTConfig(**common, max_length=budget.max_length)
    loss_type = ["sigmoid" if spec.trainer == "dpo" else "apo_zero"]
    return DPOConfig(
        **common,
        max_length=budget.max_length,
        beta=settings["dpo_beta"],
        loss_type=loss_type,
        precompute_ref_log_probs=True,
    )


def pairs_in(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())

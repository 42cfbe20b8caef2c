"""`train(...)`: load the model and data, run `FIGATrainer`, save the model and the run report.

What `figa train` runs, and what the demo calls as a library. Messages about the data (records kept and
skipped) and the checkpoint it resumes from are printed by the main process as the run goes.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field

import torch
from transformers import TrainerCallback, set_seed
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, sort_checkpoints

from .baselines import DPOConfig, SFTConfig, method_of, trl_trainer
from .checkpoints import checkpoint_problem
from .errors import FigaError
from .files import prepare_output_dir, write_json
from .hub import TRAINING_FIELDS, check_hub_access, model_card, push_model, token_to_environment
from .modeling import ModelArguments, load_model, load_tokenizer, lora_config, model_version
from .records import LoadReport
from .trainer import FIGAConfig, FIGATrainer, save_lora_merged, saving

logger = logging.getLogger(__name__)

TrainingConfig = FIGAConfig | SFTConfig | DPOConfig  # one config per method: FIGA, TRL's SFT, TRL's DPO / APO-zero

REPORT_NAME = "figa_train_report.json"
CHECKPOINT_LOSS_NAME = "figa_loss.json"  # in each checkpoint: the loss it was trained with


@dataclass
class DataArguments:
    data: str = field(
        default=None,
        metadata={"help": "SPA training data: a .jsonl, .json or .parquet file, or a directory saved by `datasets`."},
    )
    eval_data: str | None = field(default=None, metadata={"help": "SPA data to evaluate the loss on."})


@dataclass
class TrainResult:
    """The saved model's directory and the run report (also written to OUTPUT_DIR/figa_train_report.json)."""

    output_dir: str
    report: dict


def _last_complete_checkpoint(output_dir: str) -> str | None:
    for checkpoint in reversed(sort_checkpoints(output_dir)):
        problem = checkpoint_problem(checkpoint)
        if problem is None:
            return checkpoint
        logger.info(f"skipping {checkpoint}: incomplete ({problem})")
    return None


def resume_point(value: str | None, output_dir: str, loss: dict) -> str | None:
    """The checkpoint `--resume_from_checkpoint VALUE` means: none ('false'), the last complete one ('latest'), a
    path; not given, the last complete one when OUTPUT_DIR holds one (a run stopped there: the same command goes
    on, as figa's other commands do). A checkpoint trained with loss settings other than LOSS is refused."""
    checkpoint = _resume_point(value, output_dir)
    if checkpoint:
        _check_resumed_loss(checkpoint, loss)
    return checkpoint


def _resume_point(value: str | None, output_dir: str) -> str | None:
    if value is None:
        last = _last_complete_checkpoint(output_dir)
        if last is not None:
            logger.info(
                f"{output_dir} holds a checkpoint: going on from it (--resume_from_checkpoint false starts over)"
            )
        return last
    if value.lower() in ("false", "no", ""):
        return None
    if value.lower() in ("true", "yes", "latest"):
        last = _last_complete_checkpoint(output_dir)
        if last is None:
            raise FigaError(f"--resume_from_checkpoint {value}: no complete checkpoint in {output_dir}")
        return last
    if not os.path.isdir(value):
        raise FigaError(f"--resume_from_checkpoint {value}: no such checkpoint directory")
    problem = checkpoint_problem(value)
    if problem:
        raise FigaError(
            f"--resume_from_checkpoint {value}: incomplete checkpoint ({problem}): pick an earlier one, or 'latest'"
        )
    return value


def _print_load_reports(reports: list[LoadReport]) -> None:
    for report in reports:
        logger.info(report.summary())
        for problem in report.skipped[:10]:
            logger.info(f"  skipped {problem}")
        if len(report.skipped) > 10:
            logger.info(f"  ... and {len(report.skipped) - 10} more")


class _NoFinalCheckpoint(TrainerCallback):
    """The model is saved right after the last step: a checkpoint there would only repeat it, with the optimizer
    state (1.6 GB for SmolLM2-135M)."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_save = False

    on_epoch_end = on_step_end


class _LossInCheckpoints(TrainerCallback):
    """Writes the run's loss settings into each checkpoint, so that a resume under other settings is refused."""

    def __init__(self, settings: dict):
        self.settings = settings

    def on_save(self, args, state, control, **kwargs):
        checkpoint = os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")
        if state.is_world_process_zero and os.path.isdir(checkpoint):
            write_json(os.path.join(checkpoint, CHECKPOINT_LOSS_NAME), self.settings)


def _check_resumed_loss(checkpoint: str, settings: dict) -> None:
    """Refuse to resume CHECKPOINT under loss settings other than those it was trained with."""
    path = os.path.join(checkpoint, CHECKPOINT_LOSS_NAME)
    if not os.path.isfile(path):  # a checkpoint of an earlier figa, or of another tool: nothing to compare
        return
    with open(path, encoding="utf-8") as handle:
        saved = json.load(handle)
    now = json.loads(json.dumps(settings))
    changed = [
        f"{k} {saved.get(k)} (now {now.get(k)})" for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)
    ]
    if changed:
        raise FigaError(
            f"--resume_from_checkpoint: {checkpoint} was trained with other loss settings ({', '.join(changed)}); "
            "one run would mix two objectives, and its report would name only the second. To train on from its "
            f"weights under the new settings, start a new run: --model_name_or_path {checkpoint}"
        )


def _build_trainer(data_args: DataArguments, model_args: ModelArguments, config: TrainingConfig):
    tokenizer = load_tokenizer(
        model_args.tokenizer_name_or_path or model_args.model_name_or_path,
        trust_remote_code=model_args.trust_remote_code,
        gguf_file=model_args.gguf_file,
    )
    peft_config = lora_config(model_args) if model_args.use_peft else None
    if not isinstance(config, FIGAConfig):
        return trl_trainer(load_model(model_args), tokenizer, config, data_args.data, data_args.eval_data, peft_config)
    return FIGATrainer(
        model=load_model(model_args),
        args=config,
        train_dataset=data_args.data,
        eval_dataset=data_args.eval_data,
        processing_class=tokenizer,
        peft_config=peft_config,
    )


def _save(trainer: FIGATrainer, model_args: ModelArguments, config: TrainingConfig) -> None:
    with saving(
        config.output_dir,
        "The checkpoints are kept: free some space and run the same command with `--resume_from_checkpoint latest`",
    ):
        if model_args.use_peft and model_args.merge_lora:
            if trainer.is_world_process_zero():
                save_lora_merged(trainer, config.output_dir)
        else:
            trainer.save_model(config.output_dir)


def check_budget(config: TrainingConfig) -> None:
    """The settings any method's trainer accepts silently but cannot train with (a negative learning rate climbs
    the loss; an empty batch or no accumulation step never steps)."""
    if not (math.isfinite(config.learning_rate) and config.learning_rate >= 0):
        raise FigaError(f"--learning_rate must be a finite number >= 0, got {config.learning_rate}")
    for name in ("per_device_train_batch_size", "gradient_accumulation_steps"):
        if getattr(config, name) < 1:
            raise FigaError(f"--{name} must be at least 1, got {getattr(config, name)}")


def train(
    data_args: DataArguments,
    model_args: ModelArguments,
    config: TrainingConfig,
    final_checkpoint: bool = True,
    callbacks: list[TrainerCallback] | None = None,
    recipe: str | None = None,
) -> TrainResult:
    """Train `model_args`' model on `data_args.data` with the FIGA loss (a `FIGAConfig`) or a TRL baseline (its
    `SFTConfig` or `DPOConfig`) and save it, with its tokenizer and the run report, to `config.output_dir`.
    `final_checkpoint=False` skips the trainer's checkpoint at the last step (the saved model is the same);
    `callbacks` are added to the trainer; `recipe` names the recipe the settings came from (report and card)."""
    if not data_args.data:
        raise FigaError("--data is required (SPA records: prompt, original_output, revised_output)")
    if not model_args.model_name_or_path:
        raise FigaError("--model_name_or_path is required")
    check_budget(config)
    prepare_output_dir(config.output_dir, "--output_dir")
    token_to_environment(config)
    resume = resume_point(config.resume_from_checkpoint, config.output_dir, loss_settings_of(config))
    push = config.push_to_hub
    if push:
        check_hub_access("--push_to_hub")
        config = copy.copy(config)
        config.push_to_hub = False  # figa pushes the saved model with its own card once training is done
    set_seed(config.seed)
    trainer = _build_trainer(data_args, model_args, config)
    trainer.add_callback(_LossInCheckpoints(loss_settings_of(config)))
    if not final_checkpoint:
        trainer.add_callback(_NoFinalCheckpoint())
    for callback in callbacks or []:
        trainer.add_callback(callback)
    main_process = trainer.is_world_process_zero()
    if main_process:
        _print_load_reports(trainer.load_reports)
        if resume:
            logger.info(f"resuming from {resume}")
    result = trainer.train(resume_from_checkpoint=resume)
    if data_args.eval_data:
        result.metrics.update(trainer.evaluate())
    _save(trainer, model_args, config)
    report = {
        "data": [
            {"source": r.source, "read": r.read, "kept": r.kept, "skipped": r.skipped} for r in trainer.load_reports
        ],
        "metrics": result.metrics,
        "log_history": trainer.state.log_history,
        "loss": loss_settings_of(config),
        "training": training_settings_of(data_args, model_args, config),
        **({"recipe": recipe} if recipe else {}),
    }
    if main_process:
        write_json(os.path.join(config.output_dir, REPORT_NAME), report)
        _write_card(model_args, config, report)
        if push:
            repo = config.hub_model_id or os.path.basename(os.path.normpath(config.output_dir))
            logger.info(f"pushed to {push_model(config.output_dir, repo, bool(config.hub_private_repo))}")
    _close_process_group(trainer)
    return TrainResult(config.output_dir, report)


def train_or_reuse(
    data_args: DataArguments,
    model_args: ModelArguments,
    config: TrainingConfig,
    callbacks: list[TrainerCallback] | None = None,
) -> TrainResult:
    """For pipelines that need only the final model (`figa demo`, `figa loop`): reuse a finished run in
    `config.output_dir` that used the same loss settings, budget and data file, else train, resuming from the last
    complete checkpoint when a run was stopped part-way; no checkpoint is written at the last step, and once the
    model is saved the earlier ones are removed (they repeat the model and add the optimizer state: about 1.6 GB
    for SmolLM2-135M)."""
    out = config.output_dir
    report_path = os.path.join(out, REPORT_NAME)
    if os.path.isfile(report_path):
        with open(report_path, encoding="utf-8") as handle:
            report = json.load(handle)
        if report["loss"] != loss_settings_of(config):
            raise FigaError(
                f"{out} was trained with other loss settings ({report['loss']}); pass another "
                "output directory to train with these"
            )
        now = training_settings_of(data_args, model_args, config)
        changed = [
            f"{name} {str(value)[:12]} (now {str(now[name])[:12]})"
            for name, value in report.get("training", {}).items()
            if value != now[name]
        ]
        if changed:
            raise FigaError(
                f"{out} was trained with other training settings, data or start model: {', '.join(changed)}; pass "
                "another output directory to train with these"
            )
        logger.info(f"already trained: {out}")
        result = TrainResult(out, report)
    else:
        if config.resume_from_checkpoint is None and _last_complete_checkpoint(out):
            config.resume_from_checkpoint = "latest"
        result = train(data_args, model_args, config, final_checkpoint=False, callbacks=callbacks)
        logger.info(f"saved the trained model to {out}")
    for checkpoint in sort_checkpoints(out):
        shutil.rmtree(checkpoint)
        logger.info(f"removed {checkpoint}: training finished and the model is saved in {out}")
    return result


def _write_card(model_args: ModelArguments, config: TrainingConfig, report: dict) -> None:
    card = model_card(
        model_args.model_name_or_path,
        report["data"],
        report["loss"],
        {name: getattr(config, name) for name in TRAINING_FIELDS},
        report["metrics"],
        os.path.basename(os.path.normpath(config.output_dir)),
        report.get("recipe"),
    )
    with saving(config.output_dir, "The model is saved; only its card is missing"):
        card.save(os.path.join(config.output_dir, "README.md"))


def loss_settings_of(config: TrainingConfig) -> dict:
    """What the run report records of the loss: the FIGA objective's settings, or the baseline and its settings."""
    if isinstance(config, FIGAConfig):
        return config.make_objective().report()
    if isinstance(config, DPOConfig):
        return {"method": method_of(config), "beta": config.beta, "loss_type": list(config.loss_type)}
    return {"method": method_of(config)}


def training_settings_of(data_args: DataArguments, model_args: ModelArguments, config: TrainingConfig) -> dict:
    """What the run report records of the budget (the model card's fields), of the data (its file's hash) and of
    the model training started from (a local directory's `model_version`, so that a run from a model trained again
    at the same path, as `figa loop`'s next round is, is not taken for the earlier one)."""
    return {
        **{name: getattr(config, name) for name in TRAINING_FIELDS},
        "data_sha256": _file_sha256(data_args.data),
        "start_model_version": model_version(model_args.model_name_or_path),
    }


def _file_sha256(path) -> str | None:
    if not isinstance(path, str) or not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _close_process_group(trainer: FIGATrainer) -> None:
    """Under DDP, close the process group once the DDP model that holds it is gone (in the other order, or left
    to the interpreter's exit, gloo can hang or abort at exit)."""
    if not torch.distributed.is_initialized():
        return
    trainer.accelerator.free_memory()
    trainer.model_wrapped = trainer.model
    gc.collect()
    torch.distributed.destroy_process_group()

"""Baselines trained by TRL on the same SPA data and training arguments as FIGA (`figa train --method`):

- `sft`: TRL's `SFTTrainer` on prompt + revised response (loss on the completion only);
- `dpo`: TRL's `DPOTrainer`, chosen = revised, rejected = original, the reference model a frozen copy of the
  starting model (TRL's default);
- `apo_zero`: the same with `loss_type="apo_zero"` (D'Oosterlinck et al., 2024, the loss published with
  minimal-revision preference data).

With `precompute_ref_log_probs`, the reference log-probabilities TRL computes are kept for the rest of the process
and reused by a later run whose reference weights, tokenized data and settings other than the loss are the same:
DPO and APO-zero (and their other seeds) in `figa demo` compute them once.

Records are validated by `figa.records.load_records` as for FIGA. With a chat template the data is
conversational (TRL applies the template, as figa does); without one, the prompt is rendered by
`figa.prompts.render_prompt` and the responses are plain completions.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any

from transformers import TrainingArguments

from .data import token_ids
from .errors import FigaError, RecordError
from .prompts import adds_special_tokens, as_messages, render_prompt, resolve_format
from .records import LoadReport, load_records

logger = logging.getLogger(__name__)

METHODS = ("figa", "sft", "dpo", "apo_zero")


def _query(record: dict, tokenizer, prompt_format: str):
    if prompt_format == "chat":
        render_prompt(record, prompt_format, tokenizer)  # a template that refuses the messages: an error here
        return as_messages(record)
    return render_prompt(record, prompt_format, tokenizer)


def _response(text: str, prompt_format: str):
    return [{"role": "assistant", "content": text}] if prompt_format == "chat" else text


def trl_rows(records: list[dict], method: str, tokenizer, prompt_format: str) -> list[dict]:
    """SPA records as TRL data: prompt-completion for `sft`, prompt/chosen/rejected for `dpo` and `apo_zero`."""
    rows = []
    for r in records:
        row = {"prompt": _query(r, tokenizer, prompt_format)}
        if method == "sft":
            row["completion"] = _response(r["revised_output"], prompt_format)
        else:
            row["chosen"] = _response(r["revised_output"], prompt_format)
            row["rejected"] = _response(r["original_output"], prompt_format)
        rows.append(row)
    return rows


def _fitting(records: list[dict], report: LoadReport, tokenizer, prompt_format: str, config) -> list[dict]:
    """The records whose prompt fits `max_length` by FIGA's rule (`figa.data`): TRL would drop the others without
    a word. A prompt too long is an error naming the file and line, or (`--skip_bad_records`) skipped and listed."""
    prompts = [render_prompt(r, prompt_format, tokenizer) for r in records]
    lengths = [len(ids) for ids in token_ids(tokenizer, prompts, adds_special_tokens(prompt_format))[0]]
    kept, lines = [], []
    for record, line, length in zip(records, report.lines, lengths):
        if length + 2 <= config.max_length:
            kept.append(record)
            lines.append(line)
            continue
        error = RecordError(
            report.source,
            line,
            "prompt",
            f"the prompt has {length} tokens, too long for max_length={config.max_length}",
        )
        if not config.skip_bad_records:
            raise error
        report.skipped.append(str(error))
    if not kept:
        raise FigaError(f"{report.source}: no usable records left; first problem: {report.skipped[-1]}")
    report.kept, report.lines = len(kept), lines
    return kept


def _dataset(source, method: str, tokenizer, config) -> tuple[Any, LoadReport]:
    from datasets import Dataset

    records, report = load_records(source, skip_bad_records=config.skip_bad_records)
    prompt_format = resolve_format(config.prompt_format, tokenizer)
    if prompt_format == "auto":
        prompt_format = "plain"
    records = _fitting(records, report, tokenizer, prompt_format, config)
    return Dataset.from_list(trl_rows(records, method, tokenizer, prompt_format)), report


def _trl_args(config, method: str):
    """TRL's config for METHOD with every `TrainingArguments` value of `config` (a `FIGAConfig`)."""
    from trl import DPOConfig, SFTConfig

    shared = {f.name: getattr(config, f.name) for f in fields(TrainingArguments) if f.init}
    shared.update(max_length=config.max_length, dataset_num_proc=config.dataset_num_proc)
    if method == "sft":
        return SFTConfig(**shared, completion_only_loss=True)
    return DPOConfig(
        **shared,
        beta=config.dpo_beta,
        loss_type=["sigmoid" if method == "dpo" else "apo_zero"],
        precompute_ref_log_probs=config.precompute_ref_log_probs,
    )


# Settings that do not change the reference log-probabilities: the loss and where the run writes.
_LOSS_ONLY = {"loss_type", "loss_weights", "beta", "label_smoothing", "output_dir", "run_name", "logging_dir"}
_reference_log_probs: dict[str, object] = {}


def _reference_key(trainer, dataset, batch_size: int) -> str | None:
    """What the reference log-probabilities depend on, hashed; None where figa cannot tell (then TRL computes)."""
    from datasets.fingerprint import Hasher

    columns = ["prompt_ids", "chosen_ids", "rejected_ids"]
    model_hash = getattr(trainer, "_precompute_model_hash", None)
    if trainer.accelerator.num_processes > 1 or model_hash is None or not set(columns) <= set(dataset.column_names):
        return None  # several ranks would each need the same answer; another TRL or data layout
    settings = {k: v for k, v in trainer.args.to_dict().items() if k not in _LOSS_ONLY}
    if getattr(trainer.args, "disable_dropout", False):  # a deterministic reference forward: the seed does not matter
        settings = {k: v for k, v in settings.items() if k not in ("seed", "data_seed")}
    return Hasher.hash((model_hash, batch_size, settings, dataset.select_columns(columns).to_dict()))


def _dpo_trainer_class():
    from datasets import concatenate_datasets
    from trl import DPOTrainer

    class SharedReferenceDPOTrainer(DPOTrainer):
        """TRL's DPOTrainer; its precomputed reference log-probabilities are reused within the process (above)."""

        def _precompute_ref_logps(self, dataset, name, batch_size):
            key = _reference_key(self, dataset, batch_size)
            if key is None:
                return super()._precompute_ref_logps(dataset, name, batch_size)
            if key not in _reference_log_probs:
                computed = super()._precompute_ref_logps(dataset, name, batch_size)
                _reference_log_probs[key] = computed.select_columns(["ref_chosen_logps", "ref_rejected_logps"])
                return computed
            logger.info(
                f"reference log probs for the {name} dataset: reusing those of an earlier run on the same data"
            )
            return concatenate_datasets([dataset, _reference_log_probs[key]], axis=1)

    return SharedReferenceDPOTrainer


def trl_trainer(method: str, model, tokenizer, config, train_data, eval_data=None, peft_config=None):
    """A TRL trainer for `method` and the load reports of its data."""
    try:
        from trl import SFTTrainer
    except ImportError:
        raise FigaError(f"--method {method} trains with TRL: pip install trl") from None
    train, report = _dataset(train_data, method, tokenizer, config)
    reports = [report]
    evaluation = None
    if eval_data is not None:
        evaluation, eval_report = _dataset(eval_data, method, tokenizer, config)
        reports.append(eval_report)
    trainer_class: type = SFTTrainer if method == "sft" else _dpo_trainer_class()
    trainer = trainer_class(
        model=model,
        args=_trl_args(config, method),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    trainer.load_reports = reports
    if len(trainer.train_dataset) != len(train):  # a filter of a TRL version figa does not know: never silent
        raise FigaError(
            f"TRL's {trainer_class.__name__} dropped {len(train) - len(trainer.train_dataset)} of the "
            f"{len(train)} records figa passed it"
        )
    return trainer

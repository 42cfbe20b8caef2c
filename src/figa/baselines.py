"""Baselines trained by TRL on SPA data (`figa train --method`), each with TRL's own config:

- `sft`: TRL's `SFTTrainer` on prompt + revised response (loss on the completion only);
- `dpo`: TRL's `DPOTrainer`, chosen = revised, rejected = original, the reference model a frozen copy of the
  starting model (TRL's default);
- `apo_zero`: the same with `loss_type=["apo_zero"]` (D'Oosterlinck et al., 2024, the loss published with
  minimal-revision preference data).

`SFTConfig` and `DPOConfig` here are TRL's, with the two options every method has for reading SPA records
(`prompt_format`, `skip_bad_records`) and, for SFT, `completion_only_loss=True` by default. Only TRL's public API is
used: its trainers, its configs, and `precompute_ref_log_probs` with TRL's own cache.

Records are validated by `figa.records.load_records` as for FIGA, and a prompt too long for `max_length` is an
error (or skipped) by FIGA's rule, where TRL would drop it without a word. With a chat template the data is
conversational (TRL applies the template, as figa does); without one, the prompt is rendered by
`figa.prompts.render_prompt` and the responses are plain completions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import trl

from .data import token_ids
from .errors import FigaError, RecordError
from .modeling import has_accelerator
from .prompts import FORMATS, adds_special_tokens, as_messages, render_prompt, resolve_format
from .records import LoadReport, load_records

logger = logging.getLogger(__name__)

METHODS = ("figa", "sft", "dpo", "apo_zero")


@dataclass
class SPAReading:
    """How SPA records are read, for every method (FIGA's `FIGAConfig` declares the same two options)."""

    prompt_format: str = field(
        default="auto",
        metadata={
            "help": "auto (chat template if the tokenizer has one), chat, alpaca or plain.",
            "choices": list(FORMATS),
        },
    )
    skip_bad_records: bool = field(
        default=False, metadata={"help": "Skip bad records (counted and reported) instead of stopping at the first."}
    )

    def __post_init__(self):
        if getattr(self, "bf16", False) is None and not getattr(self, "fp16", False) and not has_accelerator():
            self.bf16 = False  # TRL's configs default to bf16, which a machine without an accelerator refuses
        super().__post_init__()


@dataclass
class SFTConfig(SPAReading, trl.SFTConfig):
    """TRL's `SFTConfig`, reading SPA records; the loss is on the completion (the revised response) only."""

    completion_only_loss: bool | None = field(
        default=True, metadata={"help": "Loss on the completion only (the revised response), not on the prompt."}
    )


@dataclass
class DPOConfig(SPAReading, trl.DPOConfig):
    """TRL's `DPOConfig`, reading SPA records (chosen = revised, rejected = original). `--method apo_zero` sets
    `loss_type=["apo_zero"]`."""


def method_of(config) -> str:
    """The method a training config trains: figa, sft, dpo or apo_zero."""
    if isinstance(config, trl.SFTConfig):
        return "sft"
    if isinstance(config, trl.DPOConfig):
        return "apo_zero" if list(config.loss_type) == ["apo_zero"] else "dpo"
    return "figa"


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


def trl_trainer(model, tokenizer, config: SFTConfig | DPOConfig, train_data, eval_data=None, peft_config=None):
    """TRL's trainer for the method of CONFIG, with the load reports of its data."""
    method = method_of(config)
    train, report = _dataset(train_data, method, tokenizer, config)
    reports = [report]
    evaluation = None
    if eval_data is not None:
        evaluation, eval_report = _dataset(eval_data, method, tokenizer, config)
        reports.append(eval_report)
    trainer_class: type = trl.SFTTrainer if method == "sft" else trl.DPOTrainer
    trainer = trainer_class(
        model=model,
        args=config,
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

"""`FIGAConfig` (a `TrainingArguments`) and `FIGATrainer` (a `Trainer` that trains with the FIGA loss)."""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from typing import Any

import torch
from datasets import Dataset
from transformers import (
    AutoModelForCausalLM,
    PreTrainedModel,
    ProgressCallback,
    Trainer,
    TrainingArguments,
    modeling_utils,
)
from transformers.trainer_utils import unwrap_peft_model

from .baselines import SPAReading
from .chunked import capture_head_inputs, chunkable, chunked_nll, chunking_pays, head_gives_logits
from .data import FIGACollator, tokenize_pairs
from .errors import FigaError
from .hub import token_to_environment
from .loss import WEIGHTINGS, loss_field, scale_for_processes, token_nll
from .modeling import has_accelerator, pad_with_eos, require_eos
from .objectives import Objective, TokenBatch, make_objective
from .records import LoadReport, load_records
from .reference import with_reference_nll

logger = logging.getLogger(__name__)


@dataclass
class FIGAConfig(SPAReading, TrainingArguments):
    """Training arguments plus the FIGA loss and data settings. `alpha=gamma=1, beta=0` is SFT."""

    alpha: float = loss_field("alpha")
    beta: float = loss_field("beta")
    gamma: float = loss_field("gamma")
    tau: float = loss_field("tau")
    eos_weight: float | None = loss_field("eos_weight")
    weighting: str = loss_field("weighting", choices=list(WEIGHTINGS))
    prob_scale: bool = loss_field("prob_scale")
    anchor_tau: float | None = loss_field("anchor_tau")
    objective: str = loss_field("objective")
    pref_beta: float = loss_field("pref_beta")
    objective_args: str | None = field(
        default=None,
        metadata={
            "help": "A JSON object of the objective's own settings, for those that are not flags here (an objective "
            "from outside, --objective python:module:Class); they override the flags of the same name."
        },
    )
    cut_rows: bool = field(
        default=True,
        metadata={
            "help": "End each row at its last weighted position and leave out rows with no weight (the same loss and "
            "gradients as full rows, less compute)."
        },
    )
    share_prompt: bool | None = field(
        default=None,
        metadata={
            "help": "Run a pair's prompt once: its revised and original rows become one row with restarting position "
            "ids and a 4D attention mask (the same loss and gradients; sdpa or eager attention only). Default: on "
            "under sdpa and eager attention, off otherwise."
        },
    )
    packing: str = field(
        default="auto",
        metadata={
            "help": "Lay a batch's rows end to end in one row without padding, position ids restarting per row (the "
            "same loss and gradients): auto (with flash-attention, whose variable-length kernel computes no "
            "attention across rows; with sdpa or eager attention the block-causal mask over the whole packed row "
            "costs more than the padding it saves), always, never. Not with --share_prompt.",
            "choices": ["auto", "always", "never"],
        },
    )
    chunked_loss: str = field(
        default="auto",
        metadata={
            "help": "Compute each weighted token's nll from the hidden states and the LM head a chunk of rows at a "
            "time, recomputed in the backward pass, without the [tokens, vocabulary] logits (the same loss and "
            "gradients): auto (when those logits would exceed 256 MiB and the LM head is a plain linear layer), "
            "always, never.",
            "choices": ["auto", "always", "never"],
        },
    )
    chunk_rows: int = field(default=1024, metadata={"help": "Rows per chunk of --chunked_loss."})
    precompute_ref_log_probs: bool = field(
        default=True,
        metadata={
            "help": "With a reference (--anchor_tau, --objective preference): compute its nll of every response "
            "token once before training and cache it under $FIGA_CACHE/reference, keyed by the data and the "
            "reference's weights, so that runs differing in seed or loss settings reuse it; off: a reference "
            "forward pass at every step."
        },
    )
    max_length: int = field(
        default=1024, metadata={"help": "Longest prompt + response in tokens; longer responses are truncated."}
    )
    dataset_num_proc: int | None = field(default=None, metadata={"help": "Processes for preprocessing."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Kept False: FIGA batches need their own columns."}
    )
    logging_steps: float = field(default=10, metadata={"help": "Log every N steps."})

    def __post_init__(self):
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not has_accelerator():
            self.use_cpu = True  # DDP over gloo when launched on several processes of a CPU-only machine
        super().__post_init__()
        if not math.isfinite(self.learning_rate):
            raise FigaError(f"learning_rate must be a finite number, got {self.learning_rate}")
        self.make_objective()  # its settings check themselves
        if self.max_length < 4:
            raise FigaError(f"max_length must be at least 4, got {self.max_length}")
        if self.packing not in ("auto", "always", "never"):
            raise FigaError(f"packing must be auto, always or never, got {self.packing!r}")
        if self.packing == "always" and self.share_prompt:
            raise FigaError(
                "--packing and --share_prompt each lay out the rows their own way: choose one (--share_prompt saves "
                "the most where prompts are long, --packing where lengths vary)"
            )
        if self.chunked_loss not in ("auto", "always", "never") or self.chunk_rows < 1:
            raise FigaError(
                f"chunked_loss must be auto, always or never and chunk_rows at least 1, got {self.chunked_loss!r} "
                f"and {self.chunk_rows}"
            )

    def make_objective(self) -> Objective:
        """The objective these arguments name (`figa.objectives`), with its settings from the flags of the same
        name and --objective_args."""
        values = {name: getattr(self, name) for name in LOSS_FLAGS}
        if self.objective_args:
            try:
                extra = json.loads(self.objective_args)
            except ValueError as error:
                raise FigaError(f"--objective_args must be a JSON object: {error}") from None
            if not isinstance(extra, dict):
                raise FigaError(f"--objective_args must be a JSON object, got {self.objective_args!r}")
            values.update(extra)
        objective = make_objective(self.objective, values)
        unknown = sorted(set(json.loads(self.objective_args or "{}")) - set(objective.settings_names()))
        if unknown:
            raise FigaError(f"--objective_args: {self.objective} has no settings {', '.join(unknown)}")
        return objective


# The flags an objective's settings of the same name take their values from.
LOSS_FLAGS = ("weighting", "alpha", "beta", "gamma", "tau", "eos_weight", "prob_scale", "anchor_tau", "pref_beta")


def _logits_mode(forward) -> str:
    """How the model can project only some positions: transformers with `slice_logits_to_keep` take a boolean mask
    per row; earlier 5.x versions take a 1D tensor of positions shared by every row."""
    if "logits_to_keep" not in inspect.signature(forward).parameters:
        return "all"
    return "mask" if hasattr(modeling_utils, "slice_logits_to_keep") else "columns"


class FIGATrainer(Trainer):
    """A `transformers.Trainer` whose loss is the FIGA loss over pairs of (original, revised) responses.

    `train_dataset` / `eval_dataset` may be a path to SPA data (JSONL/JSON/Parquet), a `datasets.Dataset` or
    a list of SPA records, or data already returned by `figa.data.tokenize_pairs`.
    """

    loss_is_scaled_for_ga = True

    args: FIGAConfig
    objective: Objective

    def __init__(
        self,
        model: PreTrainedModel | str,
        args: FIGAConfig,
        train_dataset=None,
        eval_dataset=None,
        processing_class=None,
        peft_config=None,
        **kwargs,
    ):
        if isinstance(model, str):
            model = AutoModelForCausalLM.from_pretrained(model)
        if processing_class is None:
            raise FigaError("FIGATrainer needs the tokenizer: pass processing_class=tokenizer")
        require_eos(processing_class)
        pad_with_eos(processing_class)
        token_to_environment(args)
        # the reference of an anchored push-down: the model as training starts, frozen (with LoRA, the base model
        # with its adapters disabled would do; a copy keeps one code path)
        self.objective = args.make_objective()
        anchored = self.objective.needs_reference
        self.reference = copy.deepcopy(model).eval().requires_grad_(False) if anchored else None
        if peft_config is not None:
            from peft import get_peft_model

            model = get_peft_model(model, peft_config)
        self.load_reports: list[LoadReport] = []
        with args.main_process_first(desc="preprocessing SPA data"):
            train_dataset = self._prepare(train_dataset, processing_class, args)
            if isinstance(eval_dataset, dict):
                eval_dataset = {k: self._prepare(v, processing_class, args) for k, v in eval_dataset.items()}
            else:
                eval_dataset = self._prepare(eval_dataset, processing_class, args)
        attention = getattr(getattr(unwrap_peft_model(model), "config", None), "_attn_implementation", None)
        if args.share_prompt and attention not in ("sdpa", "eager"):
            raise FigaError(
                f"--share_prompt needs a 4D attention mask, which {attention} attention does not take: "
                "load the model with --attn_implementation sdpa or eager"
            )
        shares = shares_prompt(args, attention)
        collator = kwargs.pop("data_collator", None) or FIGACollator(
            processing_class.pad_token_id, self.objective, args.cut_rows, shares, packs(args, attention, shares)
        )
        super().__init__(
            model=model,  # type: ignore[arg-type]
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            data_collator=collator,
            **kwargs,
        )
        base = unwrap_peft_model(self.accelerator.unwrap_model(self.model))
        self.logits_mode = _logits_mode(base.forward)
        self._stats: dict[str, dict[str, torch.Tensor]] = {}  # per mode: running sums of the logged metrics
        self._heads_checked: dict[int, bool] = {}  # id(model): whether its logits are its LM head's output

    def _prepare(self, data: Any, tokenizer, args: FIGAConfig):
        if data is None or (isinstance(data, Dataset) and "revised_codes" in data.column_names):
            return data
        records, report = load_records(data, skip_bad_records=args.skip_bad_records)
        tokenized, skipped = tokenize_pairs(
            records,
            tokenizer,
            prompt_format=args.prompt_format,
            max_length=args.max_length,
            source=report.source,
            lines=report.lines,
            skip_bad_records=args.skip_bad_records,
            num_proc=args.dataset_num_proc,
        )
        report.skipped += skipped
        report.kept = len(tokenized)
        self.load_reports.append(report)
        return tokenized

    def _get_num_items_in_batch(self, batch_samples: list, device: torch.device) -> torch.Tensor | None:
        """N of the loss: the non-zero weights of the whole optimizer step, over all processes."""
        if not batch_samples:
            return None
        count = self.objective.count(batch_samples).to(device)
        if self.args.world_size > 1:
            count = self.accelerator.gather(count).sum()
        return count

    def compute_loss(self, model, inputs: dict, return_outputs: bool = False, num_items_in_batch=None):
        weights = inputs["weights"]
        active = weights != 0
        targets = inputs["targets"][active]
        outputs, nll = self._weighted_nll(model, inputs, active, targets)
        if num_items_in_batch is None:  # evaluation, one micro-batch at a time
            num_items_in_batch = self.objective.count([inputs]).to(nll.device).clamp(min=1)
        batch = TokenBatch(
            nll,
            weights[active],
            inputs["pairs"][active],
            len(inputs["ids"]),
            num_items_in_batch,
            self._reference_nll(inputs, active, targets) if self.objective.needs_reference else None,
        )
        loss, stats = self.objective.loss(batch)
        if not torch.isfinite(loss):
            raise FigaError(
                f"the loss is {loss.item()} at step {self.state.global_step + 1}; the batch holds "
                f"records {inputs.get('ids')}. Stopping before the model is corrupted "
                "(lower the learning rate, or check these records)."
            )
        stats = {**stats, "weighted_tokens": active.sum(), "response_tokens": inputs["num_response_tokens"]}
        running = self._stats.setdefault("train" if model.training else "eval", {})
        for name, value in stats.items():
            value = value.detach().to(loss.device, torch.float32)
            running[name] = running[name] + value if name in running else value
        if num_items_in_batch is not None and self.accelerator.num_processes > 1:
            loss = scale_for_processes(loss, self.accelerator.num_processes)
        return (loss, outputs) if return_outputs else loss

    def _reference_nll(self, inputs: dict, active: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
        """The reference model's nll of each active target, for the anchored push-down (None without one)."""
        if self.reference is None:
            return None
        if "ref_nll" in inputs:  # computed once before training (`figa.reference`)
            return inputs["ref_nll"][active]
        device = inputs["input_ids"].device
        if next(self.reference.parameters()).device != device:
            self.reference.to(device)
        with torch.no_grad():
            return self._weighted_nll(self.reference, inputs, active, targets)[1]

    def _weighted_nll(self, model, inputs: dict, active: torch.Tensor, targets: torch.Tensor):
        """The model's outputs and the nll `[M]` of the target at each of the M active positions: from the logits
        there, or (`--chunked_loss`) from the LM head's input rows, a chunk at a time (`figa.chunked`)."""
        base = model if model is self.reference else unwrap_peft_model(self.accelerator.unwrap_model(model))
        head = chunkable(base)
        chunked = head is not None and chunking_pays(len(targets), head.out_features, self.args.chunked_loss)
        if not (chunked and self._head_is_exact(base, head, inputs["input_ids"])):
            outputs, logits = self._weighted_logits(model, inputs, active)
            return outputs, token_nll(logits, targets)
        with capture_head_inputs(head) as captured:
            outputs = self._forward(model, inputs, active)
        return outputs, chunked_nll(self._active_rows(captured[-1], active), head, targets, self.args.chunk_rows)

    def _head_is_exact(self, model, head: torch.nn.Linear, input_ids: torch.Tensor) -> bool:
        """Whether MODEL's logits are HEAD's output (checked once per model, on a few tokens of the first batch);
        when not, said once: the nll then comes from the model's own logits, unchunked."""
        checked = self._heads_checked.get(id(model))
        if checked is None:
            checked = self._heads_checked[id(model)] = head_gives_logits(model, head, input_ids[:1, :8])
            if not checked:
                logger.warning(
                    f"--chunked_loss {self.args.chunked_loss}: {type(model).__name__}'s logits are not its LM head's "
                    "output (scaled or capped after it); the loss uses the model's own logits, unchunked"
                )
        return checked

    def _keep(self, active: torch.Tensor):
        return {"mask": active, "columns": active.any(0).nonzero().squeeze(1), "all": None}[self.logits_mode]

    def _active_rows(self, values: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """VALUES at the active positions: `[M, ...]` from what the model projected (all, some columns, or them)."""
        if values.dim() == 3:
            return values[active[:, self._keep(active)]] if self.logits_mode == "columns" else values[active]
        return values

    def _weighted_logits(self, model, inputs: dict, active: torch.Tensor):
        """The model's outputs and its logits `[M, V]` at the M active positions, projecting onto the vocabulary
        only there (a boolean `logits_to_keep`), or only at the columns where some row is active (older
        transformers take a 1D index), or everywhere (a model without `logits_to_keep`)."""
        outputs = self._forward(model, inputs, active)
        return outputs, self._active_rows(outputs.logits, active)

    def _forward(self, model, inputs: dict, active: torch.Tensor):
        keep = self._keep(active)
        extra = {} if keep is None else {"logits_to_keep": keep}
        mask = inputs.get("attention_mask")
        if mask is None:  # packed rows: attention stays inside each sequence, from the restarting position ids
            extra["position_ids"] = inputs["position_ids"]
        elif mask.dim() == 4:  # shared-prompt rows: an additive mask in the model's dtype, as eager attention adds it
            dtype = next(model.parameters()).dtype
            mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)
            extra["position_ids"] = inputs["position_ids"]
        return model(input_ids=inputs["input_ids"], attention_mask=mask, use_cache=False, **extra)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    def _precompute_reference(self) -> None:
        """The reference's nll of every response token of the training and evaluation data, once per data set and
        reference weights (cached), on the device training runs on; then the reference leaves that device."""
        if self.reference is None or not self.args.precompute_ref_log_probs:
            return
        pad = getattr(self.processing_class, "pad_token_id", None)
        batch_size = self.args.per_device_eval_batch_size

        def add(data):
            return with_reference_nll(data, self.reference, pad, batch_size) if isinstance(data, Dataset) else data

        self.reference.to(self.args.device)
        with self.args.main_process_first(desc="reference log-probabilities"):
            self.train_dataset = add(self.train_dataset)
            if isinstance(self.eval_dataset, dict):
                self.eval_dataset = {name: add(data) for name, data in self.eval_dataset.items()}
            else:
                self.eval_dataset = add(self.eval_dataset)
        self.reference.to("cpu")  # kept for data given later (evaluate(eval_dataset=...)), off the accelerator

    def train(self, *args, **kwargs):
        self._precompute_reference()
        try:
            return super().train(*args, **kwargs)
        except FigaError:
            for callback in self.callback_handler.callbacks:  # the bar's last line would print after the error
                if isinstance(callback, ProgressCallback) and callback.training_bar is not None:
                    callback.training_bar.close()
                    callback.training_bar = None
            raise

    def _save_checkpoint(self, model, trial) -> None:
        checkpoint = os.path.join(self._get_output_dir(trial=trial), f"checkpoint-{self.state.global_step}")
        with saving(checkpoint, "The incomplete checkpoint was removed", own_directory=self.is_world_process_zero()):
            super()._save_checkpoint(model, trial)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        mode = "eval" if any(key.startswith("eval_") for key in logs) else "train"
        running = self._stats.pop(mode, {})
        names = sorted(running)  # the same on every process: the objective's metrics
        totals = torch.stack([running[name] for name in names]) if names else torch.zeros(0)
        if self.accelerator.num_processes > 1 and names:
            totals = self.accelerator.reduce(totals.to(self.accelerator.device), reduction="sum")
        sums = dict(zip(names, totals.cpu().tolist()))
        if sums.get("response_tokens", 0) > 0:
            prefix = "eval_" if mode == "eval" else ""
            values = {
                **self.objective.log_values(sums),
                "weighted_fraction": sums["weighted_tokens"] / sums["response_tokens"],
            }
            logs.update({prefix + name: value for name, value in values.items()})
        super().log(logs, start_time)


def shares_prompt(args: FIGAConfig, attention: str | None) -> bool:
    """Whether a pair's rows share their prompt: as --share_prompt says, else wherever it is exact and does not
    stand in the way of --packing always (sdpa and eager attention take its 4D mask)."""
    if args.share_prompt is not None:
        return args.share_prompt
    return attention in ("sdpa", "eager") and args.packing != "always"


def packs(args: FIGAConfig, attention: str | None, shared: bool) -> bool:
    """Whether batches are packed: --packing always, or auto with a flash-attention kernel (and no shared prompt)."""
    if args.packing == "auto":
        return not shared and "flash" in str(attention or "")
    return args.packing == "always"


def _entries(directory: str) -> dict[str, int]:
    """The files directly in DIRECTORY and their modification times (none when it does not exist)."""
    if not os.path.isdir(directory):
        return {}
    return {entry.path: entry.stat().st_mtime_ns for entry in os.scandir(directory) if entry.is_file()}


@contextlib.contextmanager
def saving(path: str, recovery: str, own_directory: bool = False):
    """Turn a failed write (a full disk shows as OSError, as RuntimeError from torch.save, or as safetensors'
    SafetensorError) into a clear error, and remove what the failed save wrote, so that nothing looks complete:
    PATH whole when OWN_DIRECTORY (a checkpoint), else the files in PATH that the save created or changed."""
    from safetensors import SafetensorError

    before = _entries(path)
    try:
        yield
    except (OSError, RuntimeError, SafetensorError) as error:
        if own_directory:
            shutil.rmtree(path, ignore_errors=True)
        else:
            for name, mtime in _entries(path).items():
                if before.get(name) != mtime:
                    with contextlib.suppress(OSError):
                        os.remove(name)
        raise FigaError(
            f"could not save {path}: {type(error).__name__}: {error}. Is the disk full? {recovery}."
        ) from error


def save_lora_merged(trainer: FIGATrainer, output_dir: str) -> None:
    """Save the LoRA adapter to OUTPUT_DIR/adapter and the merged full model to OUTPUT_DIR."""
    trainer.model.save_pretrained(os.path.join(output_dir, "adapter"))  # type: ignore[operator]
    merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
    merged.save_pretrained(output_dir)
    trainer.processing_class.save_pretrained(output_dir)

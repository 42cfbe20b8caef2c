"""Tokenised pairs and batches for FIGA training.

Preprocessing (once per data set, cached by `datasets`): render the prompt, tokenise each response on
its own, label its tokens with their edit kinds, end it with EOS and truncate to `max_length`. The codes carry
only what the edit script says (one per response token, none for the EOS).
Collation (per batch): take each pair's token weights from the objective (`figa.objectives`) and pad.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

import torch
from datasets import Dataset, Features, List, Value
from datasets.fingerprint import Hasher

from .edits import bow_codes, edit_codes
from .errors import FigaError, RecordError
from .modeling import require_eos
from .objectives import FIGAObjective, Objective
from .prompts import adds_special_tokens, render_prompt, resolve_format

PREPROCESSING_VERSION = "5"
_IDS, _CODES, _WEIGHTS = List(Value("int32")), List(Value("int8")), List(Value("float32"))
TOKENIZED_FEATURES = Features(
    {
        "id": Value("string"),
        "prompt_ids": _IDS,
        "original_ids": _IDS,
        "original_codes": _CODES,
        "revised_ids": _IDS,
        "revised_codes": _CODES,
        "original_bow": _CODES,
        "revised_bow": _CODES,
        "original_ext": _WEIGHTS,
        "revised_ext": _WEIGHTS,
        "problem": Value("string"),
    }
)


def cache_dir() -> str:
    return os.environ.get("FIGA_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "figa"))


def token_ids(tokenizer, texts: list[str], add_special_tokens: bool) -> tuple[list[list[int]], list | None]:
    """`tokenizer(texts)["input_ids"]` and the tokens' character offsets (None for a slow tokenizer); for a fast
    tokenizer without saved truncation or padding, straight from its Rust backend, which skips transformers'
    per-text conversion (a third of the preprocessing time)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and backend.truncation is None and backend.padding is None:
        encodings = backend.encode_batch(texts, add_special_tokens=add_special_tokens)
        return [e.ids for e in encodings], [e.offsets for e in encodings]
    if getattr(tokenizer, "is_fast", False):
        encoded = tokenizer(texts, add_special_tokens=add_special_tokens, return_offsets_mapping=True)
        return encoded["input_ids"], encoded["offset_mapping"]
    return tokenizer(texts, add_special_tokens=add_special_tokens)["input_ids"], None


def spans_to_tokens(spans: list[dict], offsets) -> list[float]:
    """Each token's weight from character spans: the weight of the span that covers any of its characters (a span
    that cuts a token weights the whole token; a token two spans cut takes the larger weight); 0 outside spans."""
    weights = []
    for start, end in offsets:
        covering = [s["weight"] for s in spans if s["start"] < max(end, start + 1) and start < s["end"]]
        weights.append(max(covering, default=0.0))
    return weights


def _tokenize_batch(batch: dict, tokenizer, prompt_format: str, max_length: int) -> dict:
    rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
    prompts = [render_prompt(row, prompt_format, tokenizer) for row in rows]
    prompt_ids, _ = token_ids(tokenizer, prompts, adds_special_tokens(prompt_format))
    original, original_offsets = token_ids(tokenizer, batch["original_output"], False)
    revised, revised_offsets = token_ids(tokenizer, batch["revised_output"], False)
    eos = tokenizer.eos_token_id
    out: dict[str, list] = {name: [] for name in TOKENIZED_FEATURES if name != "id"}
    for i, (row, p_ids, o_ids, r_ids) in enumerate(zip(rows, prompt_ids, original, revised)):
        o_codes, r_codes = edit_codes(o_ids, r_ids)
        o_bow, r_bow = (
            bow_codes(row["original_output"], original_offsets[i], row["revised_output"], revised_offsets[i])
            if original_offsets
            else (None, None)
        )
        problem = None
        if len(p_ids) + 2 > max_length:
            problem = ("prompt", f"the prompt has {len(p_ids)} tokens, too long for max_length={max_length}")
        elif not o_ids or not r_ids:
            problem = ("revised_output" if not r_ids else "original_output", "tokenises to no tokens")
        weights = row.get("token_weights")
        if row.get("span_weights") is not None:
            if original_offsets is None:
                problem = ("span_weights", "mapping character spans onto tokens needs a fast tokenizer (offsets)")
            else:
                weights = {
                    "original": spans_to_tokens(row["span_weights"]["original"], original_offsets[i]),
                    "revised": spans_to_tokens(row["span_weights"]["revised"], revised_offsets[i]),
                }
        for side, ids in (("original", o_ids), ("revised", r_ids)):
            if weights is not None and problem is None and len(weights[side]) != len(ids):
                problem = (
                    f"token_weights.{side}",
                    f"has {len(weights[side])} weights but the response has {len(ids)} tokens",
                )
        budget = max(max_length - len(p_ids), 0)
        o_ids, o_codes = (o_ids + [eos])[:budget], o_codes[:budget].tolist()
        r_ids, r_codes = (r_ids + [eos])[:budget], r_codes[:budget].tolist()
        out["prompt_ids"].append(p_ids)
        out["original_ids"].append(o_ids)
        out["original_codes"].append(o_codes)
        out["revised_ids"].append(r_ids)
        out["revised_codes"].append(r_codes)
        out["original_bow"].append(None if o_bow is None else o_bow[: len(o_codes)].tolist())
        out["revised_bow"].append(None if r_bow is None else r_bow[: len(r_codes)].tolist())
        out["original_ext"].append(weights["original"][: len(o_codes)] if weights and not problem else None)
        out["revised_ext"].append(weights["revised"][: len(r_codes)] if weights and not problem else None)
        out["problem"].append(json.dumps(problem) if problem else None)
    return out


def tokenize_pairs(
    records: list[dict],
    tokenizer,
    *,
    prompt_format: str = "auto",
    max_length: int = 1024,
    source: str = "dataset",
    lines: list[int] | None = None,
    skip_bad_records: bool = False,
    num_proc: int | None = None,
) -> tuple[Dataset, list[str]]:
    """Tokenise and label SPA records (as returned by `figa.records.load_records`).

    Returns the data set (columns `id`, `prompt_ids`, `original_ids`, `original_codes`, `revised_ids`,
    `revised_codes`, `original_ext`, `revised_ext`) and the list of records skipped as bad.
    """
    require_eos(tokenizer)
    prompt_format = resolve_format(prompt_format, tokenizer)
    records_hash = hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()
    fingerprint = Hasher.hash([PREPROCESSING_VERSION, records_hash, tokenizer, prompt_format, max_length])
    os.makedirs(os.path.join(cache_dir(), "pairs"), exist_ok=True)
    data = Dataset.from_list(records).map(
        _tokenize_batch,
        batched=True,
        batch_size=1000,
        num_proc=num_proc,
        fn_kwargs={"tokenizer": tokenizer, "prompt_format": prompt_format, "max_length": max_length},
        remove_columns=[c for c in records[0] if c != "id"],
        features=TOKENIZED_FEATURES,
        cache_file_name=os.path.join(cache_dir(), "pairs", f"{fingerprint}.arrow"),
        new_fingerprint=fingerprint,
        desc="Tokenising and labelling pairs",
    )
    problems = [(i, json.loads(p)) for i, p in enumerate(data.data.column("problem").to_pylist()) if p is not None]
    skipped = []
    for index, (name, problem) in problems:
        error = RecordError(source, lines[index] if lines else index + 1, name, problem)
        if not skip_bad_records:
            raise error
        skipped.append(str(error))
    if problems:
        bad = {index for index, _ in problems}
        data = data.select([i for i in range(len(data)) if i not in bad])
        if len(data) == 0:
            raise FigaError(f"{source}: no usable records left; first problem: {skipped[0]}")
    return data.remove_columns("problem"), skipped


@dataclass
class FIGACollator:
    """Pads tokenised pairs into one batch of rows: each pair's revised row, then (when the loss has a push-down
    term) its original row. Both share the prompt ids. Outputs, per row and position p: `weights[p]`, the signed
    weight (the objective's `pair_weights`) of predicting `targets[p]` (= input_ids[p + 1]) from position p.

    With `cut_rows` (the default), a row ends at its last weighted position and a row with no weight at all (an
    original whose revision only added text) is left out: causal attention never looks ahead, so the loss and its
    gradients are those of the full rows (tested), for less compute.

    With `share_prompt`, a pair's two rows become one: the prompt but its last token, then the revised segment,
    then the original segment, each segment starting again from the prompt's last token at its position (one
    position cannot predict two first tokens). Position ids restart for each segment, and `attention_mask` becomes
    a `[rows, 1, length, length]` boolean mask (True: may attend) under which a segment sees the shared prompt and
    itself, never the other segment: the loss and gradients of separate rows (tested), without running the prompt
    twice.

    With `packing`, the batch's rows are laid end to end in one row without padding, with position ids that start
    again at 0 for each: with no attention mask, transformers keeps attention inside each sequence from the
    restarting positions (a block-causal mask for sdpa and eager attention, the variable-length kernel for
    flash-attention). The loss and gradients of padded rows (tested), without computing padding."""

    pad_token_id: int
    objective: Objective = field(default_factory=FIGAObjective)
    cut_rows: bool = True
    share_prompt: bool = False
    packing: bool = False

    def _rows(self, pair: dict, sides: dict) -> list[tuple[list[int], list[int], torch.Tensor, torch.Tensor]]:
        """(inputs, targets, weights, reference nll) per row, cut after the last weighted position; the reference
        nll (`figa.reference`) is zero where the pair has none."""
        rows: list[tuple[list[int], list[int], torch.Tensor, torch.Tensor]] = []
        for side, response_weights in sides.items():
            ids = pair["prompt_ids"] + pair[f"{side}_ids"]
            weights, reference = torch.zeros(len(ids) - 1), torch.zeros(len(ids))
            start = len(pair["prompt_ids"]) - 1
            weights[start : start + len(response_weights)] = response_weights
            if pair.get(f"{side}_ref") is not None:
                reference[start : start + len(response_weights)] = torch.tensor(pair[f"{side}_ref"])
            weighted = weights.nonzero()
            if self.cut_rows and len(weighted) == 0 and rows:
                continue
            if self.cut_rows and len(weighted):
                end = int(weighted.max()) + 1
                rows.append((ids[:end], ids[1 : end + 1], weights[:end], reference[:end]))
            else:  # the whole row; its last token predicts nothing
                rows.append((ids, ids[1:] + [self.pad_token_id], torch.cat([weights, torch.zeros(1)]), reference))
        return rows

    def _segmented(self, pair: dict, sides: dict) -> list[tuple]:
        """The pair's rows as (inputs, targets, weights, reference nll, positions, segments): segment 0 is the
        shared prompt, 1 the revised row's own part, 2 the original row's."""
        rows = self._rows(pair, sides)
        if not self.share_prompt or len(rows) == 1:
            return [(*row, list(range(len(row[0]))), [1] * len(row[0])) for row in rows]
        shared = len(pair["prompt_ids"]) - 1
        (
            (revised, revised_targets, revised_weights, revised_ref),
            (original, original_targets, original_weights, original_ref),
        ) = rows
        return [
            (
                revised + original[shared:],
                revised_targets + original_targets[shared:],
                torch.cat([revised_weights, original_weights[shared:]]),
                torch.cat([revised_ref, original_ref[shared:]]),
                list(range(len(revised))) + list(range(shared, len(original))),
                [0] * shared + [1] * (len(revised) - shared) + [2] * (len(original) - shared),
            )
        ]

    def __call__(self, pairs: list[dict]) -> dict:
        weights_of = [self.objective.pair_weights(pair) for pair in pairs]
        segmented = [(k, row) for k, pair in enumerate(pairs) for row in self._segmented(pair, weights_of[k])]
        rows = [row for _, row in segmented]
        length = max(len(inputs) for inputs, *_ in rows)
        input_ids = torch.full((len(rows), length), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), length), dtype=torch.long)
        targets = torch.zeros((len(rows), length), dtype=torch.long)
        weights = torch.zeros((len(rows), length), dtype=torch.float32)
        reference = torch.zeros((len(rows), length), dtype=torch.float32)
        positions = torch.zeros((len(rows), length), dtype=torch.long)
        segments = torch.full((len(rows), length), -1, dtype=torch.long)
        for i, (inputs, row_targets, row_weights, row_reference, row_positions, row_segments) in enumerate(rows):
            input_ids[i, : len(inputs)] = torch.tensor(inputs)
            attention_mask[i, : len(inputs)] = 1
            targets[i, : len(inputs)] = torch.tensor(row_targets)
            weights[i, : len(inputs)] = row_weights
            reference[i, : len(inputs)] = row_reference
            positions[i, : len(inputs)] = torch.tensor(row_positions)
            segments[i, : len(inputs)] = torch.tensor(row_segments)
        # the response tokens of the sides the objective reads: the denominator of the weighted fraction
        response_tokens = sum(len(pair[f"{side}_ids"]) for pair, sides in zip(pairs, weights_of) for side in sides)
        row_pairs = torch.tensor([k for k, _ in segmented], dtype=torch.long)
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "targets": targets,
            "weights": weights,
            "num_response_tokens": torch.tensor(response_tokens),
            "ids": [pair["id"] for pair in pairs],
            "pairs": row_pairs[:, None].expand(-1, length).contiguous(),  # each position's pair in the batch
        }
        if all(pair.get("revised_ref") is not None for pair in pairs):
            batch["ref_nll"] = reference  # the reference's nll of each target (`figa.reference`)
        if self.share_prompt:
            batch["position_ids"] = positions
            batch["attention_mask"] = _segment_mask(segments)
        if self.packing:
            return _packed(batch)
        return batch


def _packed(batch: dict) -> dict:
    """The padded rows of BATCH end to end in one row, padding left out; `position_ids` restart at each row."""
    kept = batch.pop("attention_mask").bool()
    names = ("input_ids", "targets", "weights", "pairs", "ref_nll")
    packed = {name: batch[name][kept][None] for name in names if name in batch}
    packed["position_ids"] = (kept.cumsum(1) - 1)[kept][None]
    return {**batch, **packed}


def _segment_mask(segments: torch.Tensor) -> torch.Tensor:
    """[rows, 1, L, L]: position i may attend to j <= i in the shared prompt (0) or in its own segment; padding
    (-1) attends to itself only, so that no row of the mask is empty."""
    causal = torch.ones(segments.shape[1], segments.shape[1], dtype=torch.bool).tril()
    query, key = segments[:, :, None], segments[:, None, :]
    visible = causal & (key >= 0) & (query >= 0) & ((key == 0) | (key == query))
    return (visible | torch.eye(segments.shape[1], dtype=torch.bool)).unsqueeze(1)

"""The reference model's nll of every response token of a tokenised data set, computed once and cached.

The anchored push-down (`anchor_tau`) and the preference objective compare the policy with the model as training
began. Instead of a forward pass of that reference at every step of every run, `with_reference_nll` adds the
columns `revised_ref` and `original_ref` (one float per response token: the reference's nll of that token given
the prompt and the response before it) and caches them under `$FIGA_CACHE/reference/`, keyed by the data set's
fingerprint and a hash of the reference's weights: runs that differ only in seed, objective or loss settings
reuse them, as TRL's `precompute_ref_log_probs` does for DPO's sequence sums.
"""

from __future__ import annotations

import hashlib
import os

import torch
from datasets import Dataset
from datasets.fingerprint import Hasher

from .data import cache_dir

REFERENCE_VERSION = "1"
SIDES = ("revised", "original")


def weights_fingerprint(model) -> str:
    """A hash of every parameter and buffer of MODEL (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().reshape(-1).contiguous()
        digest.update(f"{name}|{flat.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(memoryview(flat.view(torch.uint8).cpu().numpy()))
    return digest.hexdigest()[:16]


def _batch_nll(batch: dict, model, pad_token_id: int) -> dict:
    out: dict[str, list] = {}
    device = next(model.parameters()).device
    for side in SIDES:
        rows = [prompt + response for prompt, response in zip(batch["prompt_ids"], batch[f"{side}_ids"])]
        length = max(len(row) for row in rows)
        ids = torch.full((len(rows), length), pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), 1
        with torch.no_grad():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False).logits
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].float().transpose(1, 2), ids[:, 1:].to(device), reduction="none"
        ).cpu()
        out[f"{side}_ref"] = [
            nll[i, len(prompt) - 1 : len(prompt) - 1 + len(response)].tolist()
            for i, (prompt, response) in enumerate(zip(batch["prompt_ids"], batch[f"{side}_ids"]))
        ]
    return out


def with_reference_nll(data: Dataset, model, pad_token_id: int, batch_size: int = 8) -> Dataset:
    """DATA (from `figa.data.tokenize_pairs`) with the columns `revised_ref` and `original_ref` computed by MODEL
    (in eval mode, without gradients), from the cache when the same data and weights were seen before."""
    if "revised_ref" in data.column_names:
        return data
    fingerprint = Hasher.hash([REFERENCE_VERSION, data._fingerprint, weights_fingerprint(model), batch_size])
    os.makedirs(os.path.join(cache_dir(), "reference"), exist_ok=True)
    training = model.training
    model.eval()
    try:
        return data.map(
            _batch_nll,
            batched=True,
            batch_size=batch_size,
            fn_kwargs={"model": model, "pad_token_id": pad_token_id},
            cache_file_name=os.path.join(cache_dir(), "reference", f"{fingerprint}.arrow"),
            new_fingerprint=fingerprint,
            desc="Reference log-probabilities",
        )
    finally:
        model.train(training)

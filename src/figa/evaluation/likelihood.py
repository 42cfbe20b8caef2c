"""An evaluation that needs no generation: on held-out edited pairs, did training move each model's probabilities
the way the edits ask, compared with the baseline model (docs/guides/eval.md, "Likelihood on edited pairs")?

Per model and pair: the margin, log p(revised | prompt) - log p(original | prompt), summed over the response tokens
(and the EOS figa appends). Reported against the baseline (the first model):

- `pairs_gained`: the share of pairs whose margin is larger than the baseline's;
- `tokens_moved`: the share of edited tokens whose log-probability moved as the edit asks: the tokens the revision
  inserted or substituted up, the original tokens it deleted or substituted down (edit labels of `figa.edits`);
- `margin_gain`: the mean of margin - the baseline's margin.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data import tokenize_pairs
from ..edits import KEEP
from ..modeling import ModelArguments, load_model, load_tokenizer
from ..records import load_records


@torch.no_grad()
def _token_log_probs(model, prompt: list[int], response: list[int]) -> np.ndarray:
    ids = torch.tensor([prompt + response])
    logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1].float()
    return torch.log_softmax(logits, dim=-1).gather(1, ids[0, len(prompt) :, None])[:, 0].numpy()


def pair_log_probs(model_path: str, pairs) -> list[dict[str, np.ndarray]]:
    """Each pair's per-token log-probabilities of its revised and original response under the model at PATH."""
    model = load_model(ModelArguments(model_name_or_path=model_path)).eval()
    return [
        {side: _token_log_probs(model, p["prompt_ids"], p[f"{side}_ids"]) for side in ("revised", "original")}
        for p in pairs
    ]


def likelihood_comparison(names: list[str], models: list[str], data: str, max_length: int = 1024) -> dict:
    """{model name: {pairs, pairs_gained, tokens_moved, margin_gain, mean_margin}} on the SPA pairs in DATA, the
    first model the baseline (its gains are 0 by definition)."""
    tokenizer = load_tokenizer(models[0])
    records, report = load_records(data)
    pairs, _ = tokenize_pairs(records, tokenizer, max_length=max_length, source=data, lines=report.lines)
    scored = {name: pair_log_probs(model, pairs) for name, model in zip(names, models)}
    base = scored[names[0]]
    margins = {name: np.array([s["revised"].sum() - s["original"].sum() for s in got]) for name, got in scored.items()}
    table = {}
    for name in names:
        moved, edited = 0, 0
        for pair, mine, theirs in zip(pairs, scored[name], base):
            for side, sign in (("revised", 1), ("original", -1)):
                codes = np.asarray(pair[f"{side}_codes"])
                changed = codes != KEEP
                delta = (mine[side][: len(codes)] - theirs[side][: len(codes)])[changed]
                moved += int((sign * delta > 0).sum())
                edited += int(changed.sum())
        gain = margins[name] - margins[names[0]]
        table[name] = {
            "pairs": len(pairs),
            "pairs_gained": float((gain > 0).mean()),
            "tokens_moved": moved / max(edited, 1),
            "margin_gain": float(gain.mean()),
            "mean_margin": float(margins[name].mean()),
        }
    return table

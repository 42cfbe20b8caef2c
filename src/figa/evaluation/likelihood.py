"""An evaluation that needs no generation: on held-out edited pairs, did training move each model's probabilities
the way the edits ask, compared with the baseline model (docs/guides/eval.md, "Likelihood on edited pairs")?

Per model and pair: the margin, log p(revised | prompt) - log p(original | prompt), summed over the response tokens
(and the EOS figa appends). Reported against the baseline (the first model):

- `pairs_gained`: the share of pairs whose margin is larger than the baseline's;
- `tokens_moved`: the share of edited tokens whose log-probability moved as the edit asks: the tokens the revision
  inserted or substituted up, the original tokens it deleted or substituted down (edit labels of `figa.edits`);
- `margin_gain`: the mean of margin - the baseline's margin, with `margin_gain_ci95`, a bootstrap interval that
  resamples whole groups of pairs: the pairs that share `meta.paragraph` (one text edited by several writers, as
  `figa import --format lamp` writes) are drawn together, every other pair alone;
- `margins`: each pair's margin, in the order of `pair_ids` (the pairs' record ids), for reading the pairs behind
  the means.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data import tokenize_pairs
from ..edits import KEEP
from ..errors import FigaError
from ..modeling import ModelArguments, load_model, load_tokenizer
from ..records import iter_raw_records, load_records, normalize_record
from ..results import LikelihoodRow
from .stats import bootstrap_groups_mean_ci


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


def _paragraphs(data: str) -> dict[str, str]:
    """Each record's `meta.paragraph` by record id (the loaded records keep no `meta`)."""
    found = {}
    for _, _, raw in iter_raw_records(data):
        meta = raw.get("meta") if isinstance(raw, dict) else None
        if isinstance(meta, dict) and meta.get("paragraph") not in (None, ""):
            found[normalize_record(raw)["id"]] = f"paragraph:{meta['paragraph']}"
    return found


WHOLE = 1 << 40  # a max_length that cuts nothing: pairs are scored whole


def _tokenized_alike(names: list[str], models: list[str], records: list, data: str, lines, pairs) -> None:
    """Refuse models whose tokenizers split the pairs otherwise than the baseline's: their margins and edited
    tokens would not be comparable token by token."""
    columns = ("prompt_ids", "revised_ids", "original_ids")
    for name, model in zip(names[1:], models[1:]):
        theirs, _ = tokenize_pairs(records, load_tokenizer(model), max_length=WHOLE, source=data, lines=lines)
        if any(mine[c] != other[c] for mine, other in zip(pairs, theirs) for c in columns):
            raise FigaError(
                f"--pairs: {name} ({model}) tokenises the pairs otherwise than the baseline {names[0]} "
                f"({models[0]}): the likelihood comparison needs models that share one tokenizer"
            )


def likelihood_comparison(names: list[str], models: list[str], data: str) -> dict[str, LikelihoodRow]:
    """{model name: LikelihoodRow} on the SPA pairs in DATA, each scored whole, the first model the baseline (its
    gains are 0 by definition)."""
    tokenizer = load_tokenizer(models[0])
    records, report = load_records(data)
    pairs, _ = tokenize_pairs(records, tokenizer, max_length=WHOLE, source=data, lines=report.lines)
    _tokenized_alike(names, models, records, data, report.lines, pairs)
    scored = {name: pair_log_probs(model, pairs) for name, model in zip(names, models)}
    base = scored[names[0]]
    paragraph_of = _paragraphs(data)
    groups = [paragraph_of.get(p["id"], f"id:{p['id']}") for p in pairs]
    margins = {name: np.array([s["revised"].sum() - s["original"].sum() for s in got]) for name, got in scored.items()}
    table: dict[str, LikelihoodRow] = {}
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
            "pair_ids": [str(p["id"]) for p in pairs],
            "pairs_gained": float((gain > 0).mean()),
            "tokens_moved": moved / max(edited, 1),
            "margin_gain": float(gain.mean()),
            "margin_gain_ci95": list(bootstrap_groups_mean_ci(gain, groups)),
            "mean_margin": float(margins[name].mean()),
            "margins": [float(m) for m in margins[name]],
        }
    return table

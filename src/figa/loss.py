"""The FIGA loss, whole: the token weights of every weighting, the EOS rule, the count N, and the loss
(docs/loss.md). Pure torch.

For one pair, over response tokens only:

    L = sum_t w+_t * nll(revised_t)  -  sum_t beta * g_t * nll(original_t)      (then / N)

    w+_t = alpha  if revised token t was added or substituted (`bow`: if its word is not in the original)
           gamma  if it was kept (`bow`: if its word is in the original)
           alpha  for the EOS that ends the revision, always (`eos_weight` overrides it, for ablations)
    the second sum runs over original tokens that were deleted or substituted (`bow`: whose word is not in the
    revision), never the original's EOS;
    g_t  = 1 if nll(original_t) <= tau else 0   (the gate: only push down tokens that still have mass)
           anchored: 1 if nll(original_t) - nll_ref(original_t) <= anchor_tau + ANCHOR_SLACK else 0
    N    = number of tokens whose weight is non-zero, over the whole optimizer step, counted before the gate.

Weights are signed so that one tensor carries both terms: w > 0 pushes a token up, w < 0 pushes it down (gated).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .edits import KEEP
from .errors import FigaError

WEIGHTINGS = ("figa", "bow", "external")
# Nats within which the policy's nll counts as equal to the reference's in the anchored gate. At the first step the
# policy is the reference, but the two nlls come from different batch shapes (the reference's is precomputed), so
# float32 and bf16 rounding leave them 1e-6 to 1e-3 apart in either direction: without the slack, rounding decides
# whether a token is pushed down at anchor_tau 0.
ANCHOR_SLACK = 1e-2


@dataclass(frozen=True)
class LossSettings:
    """The loss's settings; the defaults are those of the authors' released code. `alpha=gamma=1, beta=0` is SFT."""

    weighting: str = "figa"  # figa: edit kinds; bow: bag of words; external: the records'
    alpha: float = 1.0
    beta: float = 0.5
    gamma: float = 0.0
    tau: float = 0.6
    eos_weight: float | None = None  # the weight of the EOS ending the revision; None: alpha (the paper's rule)
    prob_scale: bool = False  # scale each raised token's weight by its probability (DFT, Wu et al. 2025)
    anchor_tau: float | None = None  # gate the push-down by nll - reference nll <= anchor_tau instead of nll <= tau
    objective: str = "figa"  # figa: the weighted nll above; preference: the edit-weighted preference loss
    pref_beta: float = 0.1  # the preference loss's beta (DPO's)


LOSS_HELP = {  # the one help text of each loss setting, for every command that exposes it
    "alpha": "FIGA: weight of the revised tokens that were added or substituted.",
    "beta": "FIGA: weight of the push-down term on the deleted/substituted original tokens (0 turns it off).",
    "gamma": "FIGA: weight of the revised tokens that were kept.",
    "tau": "FIGA: the gate: push an original token down only while its nll <= tau.",
    "eos_weight": "FIGA: weight of the EOS that ends each revision (default: alpha, the paper's rule).",
    "anchor_tau": "Anchor the push-down to the reference (the starting model): an original token is pushed down "
    "only while its nll exceeds the reference's nll by at most anchor_tau nats, instead of while nll <= tau; so "
    "unlikelihood stops once the token is suppressed relative to where training began (keeps a frozen copy).",
    "objective": "figa: the FIGA loss (weighted nll, push-down); anchor: FIGA with the push-down anchored to the "
    "reference (--anchor_tau, default 2.0; also what figa with --anchor_tau trains); preference: the edit-weighted "
    "preference loss, -log sigmoid(pref_beta * (sum_t w_t log-ratio(revised_t) - sum_t w_t log-ratio(original_t))), "
    "the log-ratio to the reference (the starting model, kept frozen), w_t alpha on edited tokens and gamma on kept "
    "ones, on both sides; python:module:Class: your own `figa.objectives.Objective` (docs/objectives.md).",
    "pref_beta": "The preference objective's beta (DPO's; TRL's default 0.1).",
    "prob_scale": "Scale the weight of each raised (revised) token by the model's current probability of it, not "
    "differentiated, as TRL's loss_type='dft' does (Wu et al., 2025). With --alpha 1 --gamma 1 --beta 0 it is DFT on "
    "the revisions, a weighting that needs no diff.",
    "weighting": "FIGA: figa: weights from edit kinds; bow: from bag-of-words changes; external: per-token weights "
    "from each record's `token_weights` or `span_weights`. (SFT on the revisions is --alpha 1 --gamma 1 --beta 0, "
    "or TRL's trainer with `figa train --method sft`.)",
}


def loss_field(name: str, **metadata):
    """A dataclass field for the loss setting NAME: LossSettings' default and LOSS_HELP's text."""
    return field(default=getattr(LossSettings, name), metadata={"help": LOSS_HELP[name], **metadata})


def revised_weights(codes: torch.Tensor, alpha: float, gamma: float) -> torch.Tensor:
    """Weights of the revised tokens from their edit codes (keep -> gamma, add/sub -> alpha)."""
    return torch.where(codes == KEEP, gamma, alpha).float()


def original_weights(codes: torch.Tensor, beta: float) -> torch.Tensor:
    """Signed weights of the original tokens (del/sub -> -beta, keep -> 0)."""
    return torch.where(codes == KEEP, 0.0, -beta).float()


def _ending_with_eos(weights: torch.Tensor, length: int, eos_weight: float) -> torch.Tensor:
    """A row of `length` tokens ends with the EOS figa appended when it is one longer than its edit codes
    (a response truncated to fit max_length has no EOS)."""
    return torch.cat([weights, torch.full((length - len(weights),), eos_weight)])


def pair_weights(pair: Mapping, settings: LossSettings) -> dict[str, torch.Tensor]:
    """The signed weight of every response token of one tokenised pair (`figa.data.tokenize_pairs` columns:
    `revised_ids`, `revised_codes`, `original_ids`, `original_codes`, and for `external` weighting the records'
    `revised_ext` / `original_ext`). Returns {"revised": w} and, when the loss has a push-down term, "original"."""
    n_revised, n_original = len(pair["revised_ids"]), len(pair["original_ids"])
    if settings.weighting == "external":
        if pair.get("revised_ext") is None:
            raise FigaError(
                f"record {pair.get('id')!r} has no token_weights or span_weights, which weighting='external' needs"
            )
        up = torch.tensor(pair["revised_ext"], dtype=torch.float32)  # the record's weights replace alpha/gamma
        down = -settings.beta * torch.tensor(pair["original_ext"], dtype=torch.float32)
    else:  # figa: the Levenshtein edit codes; bow: 1 where the token's word is missing from the other response
        kind = "codes" if settings.weighting == "figa" else "bow"
        if pair.get(f"revised_{kind}") is None:
            raise FigaError("weighting='bow' maps tokens to words by their character offsets: use a fast tokenizer")
        up = revised_weights(torch.as_tensor(pair[f"revised_{kind}"]), settings.alpha, settings.gamma)
        down = original_weights(torch.as_tensor(pair[f"original_{kind}"]), settings.beta)
    eos = settings.alpha if settings.eos_weight is None else settings.eos_weight
    weights = {"revised": _ending_with_eos(up, n_revised, eos)}
    if settings.objective == "preference":  # the original side weighted like the revised one, with the minus sign
        if settings.weighting == "external":
            against = -torch.tensor(pair["original_ext"], dtype=torch.float32)
        else:
            kind = "codes" if settings.weighting == "figa" else "bow"
            against = -revised_weights(torch.as_tensor(pair[f"original_{kind}"]), settings.alpha, settings.gamma)
        weights["original"] = _ending_with_eos(against, n_original, -eos)
    elif settings.beta != 0:
        weights["original"] = _ending_with_eos(down, n_original, 0.0)
    return weights


def count_weighted(weights: Iterable[torch.Tensor]) -> torch.Tensor:
    """N: the non-zero weights of an optimizer step (pass every micro-batch's weights; sum over processes after).

    Counted before the gate: the gate depends on the forward pass, so a count taken after it is unknown until
    every micro-batch has run, and each micro-batch's loss could not be divided by the step's N. Counted before,
    a step gives the same loss and gradients whole, accumulated over micro-batches, or spread over processes."""
    return sum(w.ne(0).sum() for w in weights)  # type: ignore[return-value]


def figa_loss(
    nll: torch.Tensor,
    weights: torch.Tensor,
    tau: float,
    num_items: torch.Tensor | float,
    prob_scale: bool = False,
    reference_nll: torch.Tensor | None = None,
    anchor_tau: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The FIGA loss over the weighted positions of a micro-batch.

    Args:
        nll: `[M]` float32 negative log-likelihood of the target at each of the M positions whose target carries a
            non-zero weight (`token_nll`, or `figa.chunked.chunked_nll` without the `[M, V]` logits).
        weights: `[M]` signed weights (see `pair_weights`); none is zero.
        tau: the gate threshold on nll for the push-down term.
        num_items: N (`count_weighted`) of the whole optimizer step.
        prob_scale: multiply each positive weight by exp(-nll), detached (DFT).
        reference_nll, anchor_tau: with both, the gate is nll - reference_nll <= anchor_tau + ANCHOR_SLACK
            (anchored to the reference model) instead of nll <= tau.

    Returns the loss and detached statistics (sums and counts) for logging.
    """
    positive = weights > 0
    negative = weights < 0
    if anchor_tau is not None and reference_nll is not None:
        gate = negative & (nll.detach() - reference_nll <= anchor_tau + ANCHOR_SLACK)
    else:
        gate = negative & (nll.detach() <= tau)
    raise_weights = torch.where(positive, weights, 0.0)
    if prob_scale:
        raise_weights = raise_weights * torch.exp(-nll.detach())
    up = raise_weights * nll
    down = torch.where(gate, -weights, 0.0) * nll
    loss = (up.sum() - down.sum()) / num_items
    stats = {
        "positive_nll_sum": (nll.detach() * positive).sum(),
        "positive_count": positive.sum(),
        "negative_nll_sum": (nll.detach() * negative).sum(),
        "negative_count": negative.sum(),
        "gate_pass_count": gate.sum(),
    }
    return loss, stats


def token_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """`[M]` nll of each target from `[M, V]` logits, the log-softmax in float32."""
    return F.cross_entropy(logits.float(), targets, reduction="none")


def edit_preference_loss(
    log_probs: torch.Tensor,
    reference_log_probs: torch.Tensor,
    weights: torch.Tensor,
    pair_index: torch.Tensor,
    num_pairs_here: int,
    num_items: torch.Tensor | float,
    beta: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The edit-weighted preference loss over the weighted positions of a micro-batch (docs/loss.md).

    For each pair p: z_p = sum_t w_t (log pi - log pi_ref)(token t) over its revised tokens (w_t > 0) and its
    original tokens (w_t < 0), and the loss is sum_p -log sigmoid(beta z_p) / N, N the pairs of the whole optimizer
    step. `pair_index` gives each position's pair among the `num_pairs_here` of this micro-batch.
    """
    margins = torch.zeros(num_pairs_here, device=log_probs.device, dtype=torch.float32)
    margins = margins.index_add(0, pair_index, weights * (log_probs - reference_log_probs))
    loss = -F.logsigmoid(beta * margins).sum() / num_items
    positive, negative = weights > 0, weights < 0
    nll = -log_probs.detach()
    stats = {
        "positive_nll_sum": (nll * positive).sum(),
        "positive_count": positive.sum(),
        "negative_nll_sum": (nll * negative).sum(),
        "negative_count": negative.sum(),
        "gate_pass_count": torch.zeros(()),
        "margin_sum": beta * margins.detach().sum(),  # the implicit reward margins, as TRL logs rewards/margins
        "pairs": torch.tensor(num_pairs_here),
        "pairs_ahead": (margins.detach() > 0).sum(),  # pairs whose implicit reward prefers the revision
    }
    return loss, stats


def scale_for_processes(loss: torch.Tensor, num_processes: int) -> torch.Tensor:
    """DDP averages gradients over processes while N already counts the weights of all of them: scale each
    process's loss by the number of processes so that the step's gradient is that of the whole sum over N."""
    return loss * num_processes

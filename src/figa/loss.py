"""The FIGA loss (DESIGN.md, "The loss"), pure torch.

For one pair, over response tokens only:

    L = sum_t w+_t * nll(revised_t)  -  sum_t beta * g_t * nll(original_t)      (then / N)

    w+_t = alpha  if revised token t was added or substituted (and for the EOS ending the revision)
           gamma  if it was kept
    the second sum runs over original tokens that were deleted or substituted;
    g_t  = 1 if nll(original_t) <= tau else 0   (the gate: only push down tokens that still have mass)
    N    = number of tokens whose weight is non-zero, over the whole optimizer step.

Weights are signed so that one tensor carries both terms: w > 0 pushes a token up, w < 0 pushes it
down (gated). N counts non-zero weights before the gate, so it is known before the forward pass and
the loss of an optimizer step is the same whether its batch runs whole, split into micro-batches, or
across processes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .edits import KEEP


def revised_weights(codes: torch.Tensor, alpha: float, gamma: float) -> torch.Tensor:
    """Weights of the revised tokens from their edit codes (keep -> gamma, add/sub -> alpha)."""
    return torch.where(codes == KEEP, gamma, alpha).float()


def original_weights(codes: torch.Tensor, beta: float) -> torch.Tensor:
    """Signed weights of the original tokens (del/sub -> -beta, keep -> 0)."""
    return torch.where(codes == KEEP, 0.0, -beta).float()


def figa_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, tau: float,
              num_items: torch.Tensor | float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The FIGA loss over the weighted positions of a micro-batch.

    Args:
        logits: `[M, V]` next-token logits at the M positions whose target carries a non-zero weight.
        targets: `[M]` the token each position predicts.
        weights: `[M]` signed weights (see module docstring); none is zero.
        tau: the gate threshold on nll for the push-down term.
        num_items: N, the number of non-zero weights in the whole optimizer step.

    Returns the loss and detached statistics (sums and counts) for logging.
    """
    nll = F.cross_entropy(logits.float(), targets, reduction="none")  # log-softmax in float32
    positive = weights > 0
    negative = weights < 0
    gate = negative & (nll.detach() <= tau)
    up = torch.where(positive, weights, 0.0) * nll
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

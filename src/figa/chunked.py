"""Each weighted position's nll from hidden states and the LM head, without the `[M, V]` logits: an autograd
function that projects onto the vocabulary a chunk of rows at a time, in float32, and recomputes each chunk's
logits in the backward pass (the approach of Liger's fused linear cross-entropy and TRL's chunked LM head, in
pure PyTorch so it runs on any device). Peak memory: `chunk_rows x V` float32 values instead of `M x V`.

`capture_head_inputs` runs a causal LM while it skips the LM head's projection and keeps the rows it would have
projected, so the nll can be computed here from them (docs/loss.md, "Large vocabularies").
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

CHUNK_ROWS = 1024
AUTO_BYTES = 1 << 28  # `auto`: chunk when the full float32 logits would take more than 256 MiB


class _ChunkedNLL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk_rows):
        nll = torch.empty(hidden.shape[0], dtype=torch.float32, device=hidden.device)
        for start in range(0, hidden.shape[0], chunk_rows):
            rows = slice(start, start + chunk_rows)
            logits = _logits(hidden[rows], weight, bias)
            nll[rows] = torch.logsumexp(logits, dim=-1) - logits.gather(1, targets[rows, None]).squeeze(1)
        ctx.save_for_backward(hidden, weight, bias, targets)
        ctx.chunk_rows = chunk_rows
        return nll

    @staticmethod
    def backward(ctx, grad_nll):
        hidden, weight, bias, targets = ctx.saved_tensors
        grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if ctx.needs_input_grad[1] else None
        wants_bias = bias is not None and ctx.needs_input_grad[2]
        grad_bias = torch.zeros_like(bias, dtype=torch.float32) if wants_bias else None
        for start in range(0, hidden.shape[0], ctx.chunk_rows):
            rows = slice(start, start + ctx.chunk_rows)
            grad_logits = torch.softmax(_logits(hidden[rows], weight, bias), dim=-1)  # d nll / d logits
            grad_logits[torch.arange(grad_logits.shape[0]), targets[rows]] -= 1
            grad_logits *= grad_nll[rows, None].float()
            if grad_hidden is not None:
                grad_hidden[rows] = (grad_logits @ weight.float()).to(hidden.dtype)
            if grad_weight is not None:
                grad_weight += grad_logits.T @ hidden[rows].float()
            if grad_bias is not None:
                grad_bias += grad_logits.sum(0)
        return (
            grad_hidden,
            None if grad_weight is None else grad_weight.to(weight.dtype),
            None if grad_bias is None else grad_bias.to(bias.dtype),
            None,
            None,
        )


def _logits(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    with torch.autocast(hidden.device.type, enabled=False):  # under --bf16 too: float32, as the unchunked loss
        return F.linear(hidden.float(), weight.float(), None if bias is None else bias.float())


def chunked_nll(
    hidden: torch.Tensor, head: torch.nn.Linear, targets: torch.Tensor, chunk_rows: int = CHUNK_ROWS
) -> torch.Tensor:
    """`[M]` nll of TARGETS under `head(hidden)` (`hidden`: `[M, H]`), computed `chunk_rows` rows at a time."""
    return _ChunkedNLL.apply(hidden, head.weight, head.bias, targets, chunk_rows)


def chunking_pays(rows: int, vocabulary: int, mode: str) -> bool:
    """Whether to chunk: `always`, `never`, or `auto` (when the full float32 logits would exceed AUTO_BYTES)."""
    return mode == "always" or (mode == "auto" and rows * vocabulary * 4 > AUTO_BYTES)


def chunkable(model) -> torch.nn.Linear | None:
    """The model's LM head when its logits are exactly `head(hidden)`: a plain `nn.Linear` and no logit scaling or
    soft-capping in the config (Gemma 2's `final_logit_softcapping`, Cohere's `logit_scale`); else None."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    config = getattr(model, "config", None)
    if type(head) is not torch.nn.Linear or config is None:
        return None
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None) not in (None, 1, 1.0):
        return None
    return head


@contextlib.contextmanager
def capture_head_inputs(head: torch.nn.Module):
    """While active, calls to HEAD project nothing (an empty batch of rows) and the rows they were given are
    appended to the yielded list."""
    captured: list[torch.Tensor] = []

    def hook(module, args):
        captured.append(args[0])
        return (args[0][..., :0, :],)

    handle = head.register_forward_pre_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()

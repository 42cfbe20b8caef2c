"""Each weighted position's nll from hidden states and the LM head, without the `[M, V]` logits: an autograd
function that projects onto the vocabulary a chunk of rows at a time and recomputes each chunk's logits in the
backward pass (the approach of Liger's fused linear cross-entropy and TRL's chunked LM head, in pure PyTorch so it
runs on any device). The projection runs in the dtype the LM head itself would run in (its weights', or autocast's
under `--bf16`), as the unchunked path's does; each chunk's log-softmax and the head's gradient sum are float32.
Peak memory: `chunk_rows x V` float32 values instead of `M x V`.

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
        ctx.dtype = _head_dtype(hidden, weight)
        ctx.chunk_rows = chunk_rows
        ctx.save_for_backward(hidden, weight, bias, targets)
        hidden_, weight_, bias_ = _cast(ctx.dtype, hidden, weight, bias)
        nll = torch.empty(hidden.shape[0], dtype=torch.float32, device=hidden.device)
        for start in range(0, hidden.shape[0], chunk_rows):
            rows = slice(start, start + chunk_rows)
            logits = _logits(hidden_[rows], weight_, bias_)
            nll[rows] = torch.logsumexp(logits, dim=-1) - logits.gather(1, targets[rows, None]).squeeze(1)
        return nll

    @staticmethod
    def backward(ctx, grad_nll):
        hidden, weight, bias, targets = ctx.saved_tensors
        hidden_, weight_, bias_ = _cast(ctx.dtype, hidden, weight, bias)
        grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if ctx.needs_input_grad[1] else None
        wants_bias = bias is not None and ctx.needs_input_grad[2]
        grad_bias = torch.zeros_like(bias, dtype=torch.float32) if wants_bias else None
        for start in range(0, hidden.shape[0], ctx.chunk_rows):
            rows = slice(start, start + ctx.chunk_rows)
            grad_logits = torch.softmax(_logits(hidden_[rows], weight_, bias_), dim=-1)  # d nll / d logits
            grad_logits[torch.arange(grad_logits.shape[0]), targets[rows]] -= 1
            grad_logits *= grad_nll[rows, None].float()
            if grad_bias is not None:
                grad_bias += grad_logits.sum(0)
            grad_logits = grad_logits.to(ctx.dtype)  # the head's backward matmuls, in its forward's dtype
            if grad_hidden is not None:
                grad_hidden[rows] = (grad_logits @ weight_).to(hidden.dtype)
            if grad_weight is not None:
                grad_weight += grad_logits.T @ hidden_[rows]
        return (
            grad_hidden,
            None if grad_weight is None else grad_weight.to(weight.dtype),
            None if grad_bias is None else grad_bias.to(bias.dtype),
            None,
            None,
        )


def _head_dtype(hidden: torch.Tensor, weight: torch.Tensor) -> torch.dtype:
    """The dtype `F.linear(hidden, weight)` computes in here: autocast's where it is on, else the inputs'."""
    device = hidden.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return torch.promote_types(hidden.dtype, weight.dtype)


def _cast(dtype: torch.dtype, *tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    return [None if t is None else t.to(dtype) for t in tensors]


def _logits(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Float32 logits of a chunk, projected in the dtype of its inputs (cast by `_cast`)."""
    with torch.autocast(hidden.device.type, enabled=False):
        return F.linear(hidden, weight, bias).float()


def chunked_nll(
    hidden: torch.Tensor, head: torch.nn.Linear, targets: torch.Tensor, chunk_rows: int = CHUNK_ROWS
) -> torch.Tensor:
    """`[M]` nll of TARGETS under `head(hidden)` (`hidden`: `[M, H]`), computed `chunk_rows` rows at a time."""
    return _ChunkedNLL.apply(hidden, head.weight, head.bias, targets, chunk_rows)


def chunking_pays(rows: int, vocabulary: int, mode: str) -> bool:
    """Whether to chunk: `always`, `never`, or `auto` (when the full float32 logits would exceed AUTO_BYTES)."""
    return mode == "always" or (mode == "auto" and rows * vocabulary * 4 > AUTO_BYTES)


def chunkable(model) -> torch.nn.Linear | None:
    """The model's LM head when it is a plain `nn.Linear`, else None. Whether the model's logits are that head's
    output, unscaled and uncapped (Gemma 2 caps them, Cohere and Granite scale them), `head_gives_logits` checks
    on the model's own forward: no list of architectures to keep current."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return head if type(head) is torch.nn.Linear else None


@torch.no_grad()
def head_gives_logits(model, head: torch.nn.Linear, input_ids: torch.Tensor) -> bool:
    """Whether MODEL's logits are exactly HEAD's output on INPUT_IDS (a few tokens): a model that scales, caps or
    shifts its logits after the head fails."""
    outputs: list[torch.Tensor] = []
    handle = head.register_forward_hook(lambda module, args, output: outputs.append(output))
    try:
        logits = model(input_ids=input_ids, use_cache=False).logits
    finally:
        handle.remove()
    return bool(outputs) and torch.equal(outputs[-1].float(), logits.float())


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

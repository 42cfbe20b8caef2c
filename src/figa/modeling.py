"""Loading the policy model and its tokenizer, and the LoRA options (transformers + peft)."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field

import torch

from .errors import FigaError

DTYPES = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def has_accelerator() -> bool:
    """A GPU (CUDA or ROCm), an XPU or Apple's MPS: what bf16 training and DDP over NCCL need."""
    return (
        torch.cuda.is_available()
        or (hasattr(torch, "xpu") and torch.xpu.is_available())
        or torch.backends.mps.is_available()
    )


def native_bf16() -> bool:
    """Whether this machine computes bfloat16 natively: a GPU that supports it, or a CPU with AMX or AVX512-BF16
    (where, on the demo, bf16 mixed precision trains 1.4-2x and generates 1.8x faster than float32; elsewhere it
    is emulated and slower)."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    if has_accelerator():
        return False
    cpu = torch.cpu
    return any(getattr(cpu, name, lambda: False)() for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))


def model_version(model: str | None) -> str | None:
    """A local model directory's fingerprint: the names, sizes and modification times of its files, which a model
    trained again at the same path rewrites; None for anything else (a hub id, a served model's name)."""
    if not model or not os.path.isdir(model):
        return None
    with os.scandir(model) as entries:
        files = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries if e.is_file())
    return hashlib.sha256(repr(files).encode()).hexdigest()[:12]


@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        default=None, metadata={"help": "A local model directory or a Hugging Face hub id (needs network access)."}
    )
    gguf_file: str | None = field(
        default=None,
        metadata={"help": "Load weights from this GGUF file inside the model directory (needs the `gguf` package)."},
    )
    tokenizer_name_or_path: str | None = field(
        default=None, metadata={"help": "Tokenizer to use, when not the model's own."}
    )
    dtype: str = field(
        default="auto",
        metadata={
            "help": "Weights dtype: auto (the checkpoint's), float32, bfloat16 or float16.",
            "choices": list(DTYPES),
        },
    )
    trust_remote_code: bool = field(
        default=False,
        metadata={"help": "Allow code from the model repository to run. Off unless you trust the source."},
    )
    attn_implementation: str | None = field(
        default=None, metadata={"help": "Attention kernel, e.g. sdpa, eager, flash_attention_2."}
    )
    use_peft: bool = field(default=False, metadata={"help": "Train a LoRA adapter instead of all weights."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["all-linear"],
        metadata={"help": "Modules to adapt (default: all linear layers but the output head)."},
    )
    merge_lora: bool = field(
        default=False,
        metadata={"help": "After LoRA training, save the merged full model (the adapter goes to OUTPUT_DIR/adapter)."},
    )


def _check_local(path: str, what: str) -> None:
    """A path that is neither on disk nor shaped like a hub id (`org/name`) is a typo: say so before loading."""
    if os.path.exists(path):
        return
    if path.startswith((".", "/", "~")) or not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", path):
        raise FigaError(f"{what} {path!r}: no such directory")


def require_eos(tokenizer, name: str = "the tokenizer") -> None:
    """FIGA ends every response with EOS, and generation stops at it."""
    if tokenizer.eos_token_id is None:
        raise FigaError(f"{name} has no EOS token; FIGA ends every response with EOS (set `tokenizer.eos_token`)")


def pad_with_eos(tokenizer, name: str = "the tokenizer") -> None:
    """Batches need a pad token: a tokenizer without one pads with EOS (padded positions are masked anyway)."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise FigaError(f"{name} has neither a pad nor an EOS token to pad batches with; set its pad_token")
        tokenizer.pad_token = tokenizer.eos_token


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False, gguf_file: str | None = None):
    from transformers import AutoTokenizer

    _check_local(name_or_path, "tokenizer")
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            name_or_path, trust_remote_code=trust_remote_code, gguf_file=gguf_file
        )
    except (OSError, ValueError) as error:
        raise FigaError(f"cannot load the tokenizer from {name_or_path!r}: {error}") from None
    require_eos(tokenizer, f"the tokenizer of {name_or_path!r}")
    pad_with_eos(tokenizer)
    return tokenizer


def load_model(args: ModelArguments):
    from transformers import AutoModelForCausalLM

    _check_local(args.model_name_or_path, "model")
    kwargs = {"dtype": DTYPES[args.dtype], "trust_remote_code": args.trust_remote_code}
    if args.gguf_file:
        kwargs["gguf_file"] = args.gguf_file
    if args.attn_implementation:
        kwargs["attn_implementation"] = args.attn_implementation
    try:
        return AutoModelForCausalLM.from_pretrained(args.model_name_or_path, **kwargs)
    except (OSError, ValueError) as error:
        raise FigaError(f"cannot load the model from {args.model_name_or_path!r}: {error}") from None


def lora_config(args: ModelArguments):
    from peft import LoraConfig

    targets = args.lora_target_modules
    return LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=targets[0] if targets == ["all-linear"] else targets,
        task_type="CAUSAL_LM",
    )

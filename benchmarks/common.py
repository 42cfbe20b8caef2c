"""Shared pieces of the benchmarks: a tokenizer with a realistic vocabulary and synthetic chat-like pairs."""

from __future__ import annotations

import json
import platform
import random

import torch

WORDS = [f"w{i}" for i in range(3000)]


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "platform": platform.platform(),
    }


def synthetic_pairs(
    n: int,
    prompt_words: int = 100,
    response_words: int = 200,
    edit_fraction: float = 0.2,
    seed: int = 0,
    skewed: bool = False,
) -> list[dict]:
    """Pairs whose revision edits about `edit_fraction` of the original's words; SKEWED: response lengths drawn
    from a long-tailed distribution up to `response_words` (most short, a few long, as in chat data)."""
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        length = max(8, int(response_words * rng.random() ** 3)) if skewed else response_words
        original = [rng.choice(WORDS) for _ in range(length)]
        revised = list(original)
        for j in rng.sample(range(length), int(edit_fraction * length)):
            revised[j] = rng.choice(WORDS)
        pairs.append(
            {
                "id": str(i),
                "prompt": " ".join(rng.choice(WORDS) for _ in range(prompt_words)),
                "original_output": " ".join(original),
                "revised_output": " ".join(revised),
            }
        )
    return pairs


def word_tokenizer(vocab_size: int = 32000):
    """A word-level fast tokenizer (one token per benchmark word) padded to `vocab_size` entries."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<s>", "</s>", "<unk>"] + WORDS)}
    vocab.update({f"x{i}": i for i in range(len(vocab), vocab_size)})
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )


def print_table(rows: list[dict], columns: list[str]) -> None:
    widths = [max([len(c), *(len(_fmt(r.get(c))) for r in rows)]) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(columns, widths)))


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_json(path: str, payload: dict) -> None:
    with open(path, "w") as handle:
        json.dump(payload, handle, indent=2)

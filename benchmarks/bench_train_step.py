"""Training step: median step time and peak memory of FIGA against SFT, TRL's SFT and DPO, and a naive FIGA.

    python benchmarks/bench_train_step.py --json train_step.json            # random Llama, 4 layers, hidden 256
    python benchmarks/bench_train_step.py --layers 2 --steps 3 --json x.json # quicker
    python benchmarks/bench_train_step.py --skewed_lengths --pairs 8 --response_words 512 \
        --variants figa figa_packed --json packing.json                     # packed against padded rows
    python benchmarks/bench_train_step.py --vocab 128000 --layers 2 --pairs 1 --prompt_words 64 \
        --response_words 1900 --max_length 2048 --steps 2 --variants sft_revised sft_revised_unchunked trl_sft \
        --json vocab128k.json                                                   # a 128k vocabulary, 2k-token rows
    python benchmarks/bench_train_step.py --model ~/.cache/figa/models/SmolLM2-135M-Instruct --pairs 2 \
        --prompt_words 48 --response_words 96 --steps 3 --json smollm2.json   # the real model (~6 min on 2 cores)
    python benchmarks/bench_train_step.py --model ~/.cache/figa/models/SmolLM2-135M-Instruct \
        --data figa-demo/spa/train.jsonl --prompt_format auto --pairs 8 --steps 3 --max_length 512 \
        --variants figa figa_full_rows figa_shared_prompt sft_revised sft_same_tokens --json demo_pairs.json

Each variant runs in its own process on the same synthetic pairs: `--pairs` pairs per step of a
128-word prompt and 256-word responses (`--prompt_words`, `--response_words`) with a fifth of the words
edited.
  figa             FIGATrainer, weighting=figa (vocabulary projection only at weighted positions; each row ends at
                   its last weighted position and rows with no weight are left out)
  figa_full_rows   the same with cut_rows=False: every row whole (the computation before rows were cut)
  figa_shared_prompt  figa with share_prompt=True: a pair's two rows in one, the prompt run once (4D mask)
  figa_packed      figa with packing=True: the batch's rows end to end in one row, no padding (with
                   --skewed_lengths, long-tailed response lengths, where padding costs most)
  sft_same_tokens  FIGATrainer, weighting=sft, over the revised *and* the original rows: the same tokens as
                   figa, every response position weighted 1 (row b of issue 5, the baseline of the ratios)
  sft_revised      FIGATrainer at alpha=gamma=1, beta=0 (SFT), revised rows only (--chunked_loss auto: the
                   chunked nll once the logits would exceed 256 MiB)
  sft_revised_unchunked  the same with --chunked_loss never: the [tokens, vocabulary] logits
  trl_sft          TRL's SFTTrainer on prompt + revised response (completion-only loss)
  trl_dpo          TRL's DPOTrainer, chosen = revised, rejected = original, with a reference model
  naive            a first reimplementation: full-vocabulary logits everywhere, revised and original rows in
                   two forward passes, and a Python loop over tokens for the tau gate
The TRL rows need `pip install trl` (the `bench` extra); without it they are left out.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, print_table, synthetic_pairs, word_tokenizer, write_json  # noqa: E402

VARIANTS = (
    "figa",
    "figa_full_rows",
    "figa_shared_prompt",
    "figa_packed",
    "sft_same_tokens",
    "sft_revised",
    "sft_revised_unchunked",
    "trl_sft",
    "trl_dpo",
    "naive",
)
BASELINE, PEER = "sft_same_tokens", "trl_dpo"
SCRATCH = tempfile.TemporaryDirectory(prefix="figa-bench-")  # the trainers' output_dir (nothing is saved)


def naive_figa_loss(model, batch, tau: float):
    import torch.nn.functional as F

    total, count = 0.0, 0
    for rows in (batch["weights"] > 0).any(1), (batch["weights"] < 0).any(1):  # revised rows, then original
        logits = model(input_ids=batch["input_ids"][rows], attention_mask=batch["attention_mask"][rows]).logits
        nll = F.cross_entropy(logits.float().transpose(1, 2), batch["targets"][rows], reduction="none")
        weights = batch["weights"][rows]
        for i in range(weights.shape[0]):
            for t in range(weights.shape[1]):
                w = weights[i, t].item()
                if w > 0:
                    total = total + w * nll[i, t]
                elif w < 0 and nll[i, t].item() <= tau:
                    total = total + w * nll[i, t]
                count += w != 0
    return total / max(count, 1)


class PeakRSS:
    """The largest resident set size of this process while the `with` block runs (sampled every 2 ms)."""

    def __enter__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            with open("/proc/self/statm") as handle:
                self.peak = max(self.peak, int(handle.read().split()[1]) * page)
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def figa_trainer(variant: str, model, tokenizer, pairs: list[dict], args):
    from figa import FIGAConfig, FIGATrainer

    batch_size = args.pairs
    if variant == "sft_same_tokens":  # each pair becomes two records whose revised rows are its two responses
        pairs = [
            dict(p, id=f"{p['id']}{side}", revised_output=p[a], original_output=p[b])
            for p in pairs
            for side, a, b in (("r", "revised_output", "original_output"), ("o", "original_output", "revised_output"))
        ]
        batch_size *= 2
    config = FIGAConfig(
        output_dir=tempfile.mkdtemp(),
        report_to="none",
        disable_tqdm=True,
        **({"alpha": 1.0, "gamma": 1.0, "beta": 0.0} if variant.startswith("sft") else {}),
        cut_rows=variant not in ("figa_full_rows", "naive"),
        chunked_loss="never" if variant in ("sft_revised_unchunked", "naive") else "auto",
        share_prompt=variant == "figa_shared_prompt",
        packing="always" if variant == "figa_packed" else "never",
        prompt_format=args.prompt_format,
        per_device_train_batch_size=batch_size,
        max_length=args.max_length,
    )
    trainer = FIGATrainer(model=model, args=config, train_dataset=pairs, processing_class=tokenizer)
    if variant == "naive":
        return trainer, lambda m, b: naive_figa_loss(m, b, config.tau)
    return trainer, trainer.compute_loss


def trl_trainer(variant: str, model, tokenizer, pairs: list[dict], args):
    from datasets import Dataset

    common = dict(
        output_dir=tempfile.mkdtemp(),
        report_to="none",
        disable_tqdm=True,
        per_device_train_batch_size=args.pairs,
        max_length=args.max_length,
        bf16=False,
    )
    if variant == "trl_sft":
        from trl import SFTConfig, SFTTrainer

        data = Dataset.from_list([{"prompt": p["prompt"], "completion": " " + p["revised_output"]} for p in pairs])
        trainer = SFTTrainer(model=model, args=SFTConfig(**common), train_dataset=data, processing_class=tokenizer)
    else:
        from trl import DPOConfig, DPOTrainer

        data = Dataset.from_list(
            [
                {"prompt": p["prompt"], "chosen": " " + p["revised_output"], "rejected": " " + p["original_output"]}
                for p in pairs
            ]
        )
        reference = copy.deepcopy(model).eval().requires_grad_(False)
        trainer = DPOTrainer(
            model=model, ref_model=reference, args=DPOConfig(**common), train_dataset=data, processing_class=tokenizer
        )
    return trainer, trainer.compute_loss


def spa_pairs(path: str, count: int) -> list[dict]:
    """COUNT pairs from an SPA file (cycled when it has fewer), with fresh ids."""
    from figa.records import load_records

    records, _ = load_records(path)
    return [dict(records[i % len(records)], id=str(i), token_weights=None) for i in range(count)]


def real_tokens(batch: dict) -> int:
    """Tokens in a batch: a 2D padding mask's ones; in a 4D shared-prompt mask every real token, and no padding,
    sees the row's first position; a packed batch has no padding."""
    mask = batch.get("attention_mask")
    if mask is None:
        return batch["input_ids"].numel()
    return int(mask.sum() if mask.dim() == 2 else mask[:, 0, :, 0].sum())


def run_variant(args) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if args.model:
        model = AutoModelForCausalLM.from_pretrained(args.model)
        tokenizer = AutoTokenizer.from_pretrained(args.model)
    else:
        tokenizer = word_tokenizer(args.vocab)
        model = LlamaForCausalLM(
            LlamaConfig(
                vocab_size=args.vocab,
                hidden_size=args.hidden,
                intermediate_size=4 * args.hidden,
                num_hidden_layers=args.layers,
                num_attention_heads=max(args.hidden // 64, 1),
                max_position_embeddings=max(2048, args.max_length),
                tie_word_embeddings=False,
            )
        )
    if args.attn_implementation:
        model.set_attn_implementation(args.attn_implementation)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.bf16:
        model = model.to(torch.bfloat16)
    pairs = (
        spa_pairs(args.data, args.pairs * (args.steps + 1))
        if args.data
        else synthetic_pairs(
            args.pairs * (args.steps + 1), args.prompt_words, args.response_words, skewed=args.skewed_lengths
        )
    )
    build = trl_trainer if args.variant.startswith("trl_") else figa_trainer
    trainer, loss_fn = build(args.variant, model.to(device), tokenizer, pairs, args)
    model = trainer.model
    model.train()
    batches = [trainer._prepare_inputs(b) for b in trainer.get_train_dataloader()][: args.steps + 1]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    times = []
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    first_loss = None
    with PeakRSS() as rss:
        for batch in batches:
            start = time.perf_counter()
            loss = loss_fn(model, batch)
            if first_loss is None:  # the warm-up step's, untimed: equal across variants that compute the same loss
                first_loss = float(loss.detach())
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else rss.peak / 2**20
    tokens = int(sum(real_tokens(b) for b in batches[1:]) / args.steps)
    padded = int(sum(b["input_ids"].numel() for b in batches[1:]) / args.steps)
    return {
        "variant": args.variant,
        "median_step_s": statistics.median(times[1:]),
        "peak_mib": peak,
        "tokens_per_step": tokens,
        "computed_per_step": padded,
        "tokens_per_s": tokens / statistics.median(times[1:]),
        "first_loss": first_loss,
        "device": device,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=VARIANTS, help="run one variant in this process and print its JSON")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--model", default="", help="a local model directory instead of the random Llama")
    parser.add_argument("--data", default="", help="time real pairs from this SPA file instead of synthetic ones")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--prompt_words", type=int, default=128)
    parser.add_argument("--response_words", type=int, default=256)
    parser.add_argument("--max_length", type=int, default=1024)
    parser.add_argument("--skewed_lengths", action="store_true", help="long-tailed response lengths")
    parser.add_argument(
        "--prompt_format",
        default="plain",
        help="plain (the synthetic pairs) or auto (the model's chat template, as figa train renders real pairs)",
    )
    parser.add_argument(
        "--bf16", action="store_true", help="the model in bfloat16 (on a CPU too, where it has bf16 matrix units)"
    )
    parser.add_argument(
        "--attn_implementation", default="", help="attention kernel (sdpa, eager, flex_attention, ...); default: sdpa"
    )
    parser.add_argument("--json", default="train_step.json")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args)))
        return
    variants = [v for v in args.variants if not v.startswith("trl_") or importlib.util.find_spec("trl")]
    if len(variants) < len(args.variants):
        print("trl is not installed: the trl_sft and trl_dpo rows are left out (pip install trl)", file=sys.stderr)
    rows: list[dict] = []
    failed: list[dict] = []
    for variant in variants:
        shared = (
            "model",
            "data",
            "layers",
            "hidden",
            "vocab",
            "pairs",
            "steps",
            "prompt_words",
            "response_words",
            "max_length",
            "prompt_format",
            "attn_implementation",
        )
        argv = [
            sys.executable,
            __file__,
            "--variant",
            variant,
            *(f"--{k}={getattr(args, k)}" for k in shared),
            *(["--bf16"] if args.bf16 else []),
            *(["--skewed_lengths"] if args.skewed_lengths else []),
        ]
        print(f"running {variant} ...", file=sys.stderr, flush=True)
        out = subprocess.run(argv, capture_output=True, text=True)
        if out.returncode:  # the other variants still run; the row says why this one has no numbers
            print(f"{variant} failed:\n{out.stderr[-3000:]}", file=sys.stderr)
            failed.append({"variant": variant, "failed": out.stderr.strip().splitlines()[-1][:200]})
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    by_name = {r["variant"]: r for r in rows}
    for r in rows:
        for name, ref in (
            ("b", by_name.get(BASELINE)),
            ("dpo", by_name.get(PEER)),
            ("sft_revised", by_name.get("sft_revised")),
        ):
            if ref:
                r[f"time_vs_{name}"] = r["median_step_s"] / ref["median_step_s"]
                r[f"memory_vs_{name}"] = r["peak_mib"] / ref["peak_mib"]
        if "naive" in by_name:
            r["naive_vs_this"] = by_name["naive"]["median_step_s"] / r["median_step_s"]
    print_table(
        rows,
        [
            "variant",
            "median_step_s",
            "peak_mib",
            "tokens_per_step",
            "computed_per_step",
            "tokens_per_s",
            "time_vs_b",
            "memory_vs_b",
            "time_vs_dpo",
            "memory_vs_dpo",
            "time_vs_sft_revised",
            "naive_vs_this",
            "first_loss",
        ],
    )
    for f in failed:
        print(f"{f['variant']}: failed ({f['failed']})")
    write_json(args.json, {"machine": machine(), "settings": vars(args), "rows": rows, "failed": failed})
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()

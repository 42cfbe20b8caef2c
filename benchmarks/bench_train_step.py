"""Training step: median step time and peak memory of FIGA vs the SFT-weights baseline vs a naive FIGA.

    python benchmarks/bench_train_step.py --json train_step.json            # random Llama, 4 layers, hidden 256
    python benchmarks/bench_train_step.py --layers 2 --steps 3 --json x.json # quicker

Each variant runs in its own process (peak memory is per process) on the same batches: `--pairs` pairs of
a ~128-word prompt and ~256-word responses with a fifth of the words edited.
  figa   FIGATrainer.compute_loss, weighting=figa (vocabulary projection only at weighted positions)
  sft    FIGATrainer.compute_loss, weighting=sft (revised rows only, every token weighted)
  naive  a first reimplementation: full-vocabulary logits everywhere, revised and original rows in two
         forward passes, and a Python loop over tokens for the tau gate
TRL's SFTTrainer and DPOTrainer rows are not here yet (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, print_table, synthetic_pairs, word_tokenizer, write_json  # noqa: E402

VARIANTS = ("figa", "sft", "naive")


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


def run_variant(args) -> dict:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from figa import FIGAConfig, FIGATrainer

    torch.manual_seed(0)
    tokenizer = word_tokenizer(args.vocab)
    config = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=4 * args.hidden,
                         num_hidden_layers=args.layers, num_attention_heads=max(args.hidden // 64, 1),
                         max_position_embeddings=2048, tie_word_embeddings=False)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = LlamaForCausalLM(config).to(device)
    weighting = "sft" if args.variant == "sft" else "figa"
    figa_args = FIGAConfig(output_dir=tempfile.mkdtemp(), report_to="none", weighting=weighting,
                           per_device_train_batch_size=args.pairs, prompt_format="plain", disable_tqdm=True)
    pairs = synthetic_pairs(args.pairs * (args.steps + 1), prompt_words=128, response_words=256)
    trainer = FIGATrainer(model=model, args=figa_args, train_dataset=pairs, processing_class=tokenizer)
    batches = [trainer._prepare_inputs(b) for b in trainer.get_train_dataloader()][: args.steps + 1]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    times = []
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for batch in batches:
        start = time.perf_counter()
        if args.variant == "naive":
            loss = naive_figa_loss(model, batch, figa_args.tau)
        else:
            loss = trainer.compute_loss(model, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    tokens = int(sum(b["attention_mask"].sum().item() for b in batches[1:]) / args.steps)
    return {"variant": args.variant, "median_step_s": statistics.median(times[1:]), "peak_mib": peak,
            "tokens_per_step": tokens, "device": device}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=VARIANTS)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--json", default="train_step.json")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args)))
        return
    rows = []
    for variant in VARIANTS:
        argv = [sys.executable, __file__, "--variant", variant] + [
            f"--{k}={getattr(args, k)}" for k in ("layers", "hidden", "vocab", "pairs", "steps")]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        rows.append(json.loads(out))
    base = {r["variant"]: r for r in rows}
    for r in rows:
        r["time_vs_sft"] = r["median_step_s"] / base["sft"]["median_step_s"]
        r["memory_vs_sft"] = r["peak_mib"] / base["sft"]["peak_mib"]
        r["naive_vs_this"] = base["naive"]["median_step_s"] / r["median_step_s"]
    print_table(rows, ["variant", "median_step_s", "peak_mib", "tokens_per_step", "time_vs_sft", "memory_vs_sft",
                       "naive_vs_this"])
    write_json(args.json, {"machine": machine(), "settings": vars(args), "rows": rows})


if __name__ == "__main__":
    main()

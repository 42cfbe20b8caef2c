"""Offline quickstart: FIGA vs SFT on the same small, generated SPA data, with a tiny model built locally.

Runs `figa train` twice (weighting figa and sft) with the same budget and compares, on held-out pairs,
the NLL of the revised responses' edited tokens (lower is better) and of the original responses' deleted or
substituted tokens (higher is better: the model moved away from its mistakes).
"""

from __future__ import annotations

import argparse
import json
import os
import time

from figa.cli import main as figa
from figa.data import cache_dir
from figa.records import write_jsonl
from figa.testing import corpus, make_spa_records, save_tiny_model


def heldout_metrics(model_path: str, heldout: str, output_dir: str) -> dict:
    """The same FIGA-weighted NLLs (edited tokens only) for every model, so the rows compare."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from figa import FIGAConfig, FIGATrainer

    args = FIGAConfig(output_dir=os.path.join(output_dir, "eval"), report_to="none", disable_tqdm=True,
                      tau=float("inf"), per_device_eval_batch_size=16)
    trainer = FIGATrainer(model=AutoModelForCausalLM.from_pretrained(model_path), args=args, eval_dataset=heldout,
                          processing_class=AutoTokenizer.from_pretrained(model_path))
    return trainer.evaluate()


def run(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output_dir", default=os.path.join(cache_dir(), "quickstart"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.time()
    os.makedirs(args.output_dir, exist_ok=True)
    model_dir = os.path.join(args.output_dir, "tiny-llama")
    if not os.path.exists(os.path.join(model_dir, "config.json")):
        save_tiny_model(model_dir, corpus(), hidden_size=64, seed=args.seed)
    train, heldout = os.path.join(args.output_dir, "train.jsonl"), os.path.join(args.output_dir, "heldout.jsonl")
    write_jsonl(train, make_spa_records(96, seed=args.seed))
    write_jsonl(heldout, [dict(r, id=f"heldout-{i}") for i, r in enumerate(make_spa_records(32, seed=args.seed + 1))])

    results = {}
    for weighting in ("figa", "sft"):
        out = os.path.join(args.output_dir, weighting)
        code = figa(["train", "--model_name_or_path", model_dir, "--data", train,
                     "--output_dir", out, "--weighting", weighting, "--max_steps", str(args.steps),
                     "--learning_rate", "3e-3", "--per_device_train_batch_size", "8", "--logging_steps", "10",
                     "--save_strategy", "no", "--seed", str(args.seed), "--disable_tqdm", "true"])
        if code:
            return code
    for name, path in (("base", model_dir), ("sft", os.path.join(args.output_dir, "sft")),
                       ("figa", os.path.join(args.output_dir, "figa"))):
        results[name] = heldout_metrics(path, heldout, args.output_dir)
    with open(os.path.join(args.output_dir, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    print(f"\nHeld-out pairs, {args.steps} training steps per model (seed {args.seed}):")
    print(f"{'model':<6} {'NLL of revised edited tokens (lower=better)':>46} "
          f"{'NLL of original bad tokens (higher=better)':>44}")
    for name, metrics in results.items():
        print(f"{name:<6} {metrics['eval_positive_nll']:>46.3f} {metrics['eval_negative_nll']:>44.3f}")
    print(f"\nmodels and reports in {args.output_dir} ({time.time() - start:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run())

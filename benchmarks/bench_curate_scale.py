"""Curation at scale, by simulation: `figa curate` on 10k, 100k and 1M prompts with the policy, the reward (an LLM
judge) and the reviser all on a local OpenAI-compatible server (`figa.simulated_server`) with a set latency and
capacity.

    python benchmarks/bench_curate_scale.py --sizes 10000 100000 --json curate_scale.json
    python benchmarks/bench_curate_scale.py --sizes 1000000 --json curate_1m.json          # 2-5 h on 2 cores
    python benchmarks/bench_curate_scale.py --sizes 100000 --kill_at 0.5 --json resume.json # kill, resume, check

For each size it reports each stage's prompts per second and wall time, `figa curate`'s peak memory (the maximum
resident set of its process), and figa's own cost per stage: the stage's wall time less what the same number of
requests takes the bare client (`figa.backends.openai_client.chat` on the same threads, measured in the same run:
the baseline), as prompts per second. A quarter of the prompts get a good answer and stop at the filter; the
others are revised (one word added) and kept.

With `--kill_at F`, the run of each size is killed (SIGKILL) at fraction F of its uninterrupted wall time and
started again: the table gives the seconds from the restart to the first new result saved, and the check that
every stage file holds each id once and train.jsonl + rejected.jsonl hold every prompt once, equal to the
uninterrupted run's.

With `--in_process`, only the policy is on the server; the reward and the reviser are
`figa.simulated_server.judge` and `.revise`, Python functions with the server's decisions, so that a million
prompts take a million requests instead of 3.5 million and the reward, revise and re-score stages measure figa's
own cost directly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, print_table, write_json  # noqa: E402

PYTHON = sys.executable
STAGES = ("rollout", "reward", "revise", "rescore")


def write_prompts(path: str, n: int) -> None:
    with open(path, "w") as handle:
        for i in range(n):
            kind = "an easy one" if i % 4 == 0 else "a harder one"
            handle.write(json.dumps({"id": f"p{i}", "prompt": f"Question {i}: {kind}, about topic {i % 97}."}) + "\n")


def start_server(latency: float, capacity: int) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [PYTHON, "-m", "figa.simulated_server", "--latency", str(latency), "--capacity", str(capacity)],
        stdout=subprocess.PIPE,
        text=True,
    )
    return server, server.stdout.readline().strip()


def raw_rate(url: str, requests: int, concurrency: int) -> float:
    """Requests per second of the bare client: what a stage would cost if figa did nothing else."""
    from figa.backends.openai_client import EndpointConfig, chat, run_concurrently

    endpoint = EndpointConfig(base_url=url, max_tokens=64)
    messages = [{"role": "user", "content": "Question 1: a harder one, about topic 1."}]
    started = time.perf_counter()
    run_concurrently(range(requests), lambda _: chat(endpoint, "sim", messages), lambda *_: None, concurrency)
    return requests / (time.perf_counter() - started)


def curate_command(prompts: str, out: str, url: str, args) -> list[str]:
    from figa.simulated_server import curate_arguments

    figa = os.path.join(os.path.dirname(PYTHON), "figa")
    arguments = curate_arguments(prompts, out, url, args.concurrency, args.block_size, args.in_process)
    return [figa, "curate", *arguments]


def run_measured(command: list[str], kill_after: float | None = None) -> tuple[str, float, float, bool]:
    """(output, seconds, peak resident MiB, killed) of COMMAND, killed after KILL_AFTER seconds when given."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "child = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)\n"
        "limit = float(sys.argv[1])\n"
        "try:\n"
        "    out, _ = child.communicate(timeout=limit if limit > 0 else None)\n"
        "except subprocess.TimeoutExpired:\n"
        "    child.kill(); out, _ = child.communicate()\n"
        "print(out); print('PEAK_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print('RETURN', child.returncode)\n"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-c", wrapper, str(kill_after or 0), *command], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - started
    peak = int(re.search(r"PEAK_KIB (\d+)", done.stdout).group(1)) / 1024
    code = int(re.search(r"RETURN (-?\d+)", done.stdout).group(1))
    if code not in (0, -signal.SIGKILL):
        raise SystemExit(f"figa curate failed ({code}):\n{done.stdout[-3000:]}")
    return done.stdout, seconds, peak, code == -signal.SIGKILL


def stage_seconds(output: str) -> dict[str, float]:
    line = next(line for line in output.splitlines() if line.startswith("seconds: "))
    return {name: float(value) for name, value in re.findall(r"(\w+) ([\d.]+)", line[len("seconds: ") :])}


def entering(stats: dict) -> dict[str, int]:
    counts, rejected = stats["counts"], stats["counts"]["rejected_by_stage"]
    rollout = counts["prompts"]
    reward = rollout - rejected.get("rollout", 0)
    revise = reward - rejected.get("reward", 0) - rejected.get("filter", 0)
    return {"rollout": rollout, "reward": reward, "revise": revise, "rescore": revise - rejected.get("revise", 0)}


def ids(path: str) -> list[str]:
    with open(path) as handle:
        return [json.loads(line)["id"] for line in handle]


def exactly_once(out: str, n: int) -> bool:
    for name in os.listdir(os.path.join(out, "stages")):
        found = ids(os.path.join(out, "stages", name))
        if len(found) != len(set(found)):
            return False
    kept = ids(os.path.join(out, "train.jsonl")) + ids(os.path.join(out, "rejected.jsonl"))
    return sorted(kept) == sorted(f"p{i}" for i in range(n))


def first_new_work(command: list[str], out: str) -> tuple[float, subprocess.Popen]:
    """Seconds from starting COMMAND until a stage file grows (new work saved); the process goes on."""
    stages = os.path.join(out, "stages")
    sizes = {name: os.path.getsize(os.path.join(stages, name)) for name in os.listdir(stages)}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    while process.poll() is None:
        now = {name: os.path.getsize(os.path.join(stages, name)) for name in os.listdir(stages)}
        if any(size > sizes.get(name, 0) for name, size in now.items()):
            return time.perf_counter() - started, process
        time.sleep(0.05)
    return time.perf_counter() - started, process


def one_size(n: int, args, url: str, rate: float, work: str) -> dict:
    prompts = os.path.join(work, f"prompts-{n}.jsonl")
    write_prompts(prompts, n)
    out = os.path.join(work, f"run-{n}")
    output, seconds, peak, _ = run_measured(curate_command(prompts, out, url, args))
    with open(os.path.join(out, "stats.json")) as handle:
        stats = json.load(handle)
    per_stage, count = stage_seconds(output), entering(stats)
    row = {"prompts": n, "wall_s": round(seconds, 1), "peak_mib": round(peak), "train": stats["counts"]["train"]}
    for stage in STAGES:
        requests = 1 if stage == "rollout" or not args.in_process else 0
        own = per_stage[stage] - count[stage] * requests / rate
        row[f"{stage}_per_s"] = round(count[stage] / per_stage[stage])
        row[f"{stage}_own_per_s"] = round(count[stage] / own) if own > 0 else None
    row["outputs_s"] = per_stage["outputs"]
    if args.kill_at:
        resumed = os.path.join(work, f"resumed-{n}")
        command = curate_command(prompts, resumed, url, args)
        _, _, _, killed = run_measured(command, kill_after=args.kill_at * seconds)
        delay, process = first_new_work(command, resumed)
        process.communicate()
        row["killed"] = killed
        row["restart_to_new_work_s"] = round(delay, 1)
        row["exactly_once"] = exactly_once(resumed, n)
        row["equal_to_uninterrupted"] = ids(os.path.join(resumed, "train.jsonl")) == ids(
            os.path.join(out, "train.jsonl")
        )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--latency", type=float, default=0.0, help="The server's seconds per answer.")
    parser.add_argument("--capacity", type=int, default=256, help="Answers the server gives at once.")
    parser.add_argument("--concurrency", type=int, default=64, help="figa curate --concurrency.")
    parser.add_argument("--block_size", type=int, default=10_000, help="figa curate --block_size.")
    parser.add_argument("--baseline_requests", type=int, default=20_000)
    parser.add_argument("--kill_at", type=float, default=None, help="Kill each run at this fraction and resume.")
    parser.add_argument(
        "--in_process",
        action="store_true",
        help="Only the policy on the server; the judge and the reviser in figa's process (the same decisions).",
    )
    parser.add_argument("--work_dir", default=None, help="Where the runs go (default: a temporary directory).")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.work_dir:
        os.makedirs(args.work_dir, exist_ok=True)
    server, url = start_server(args.latency, args.capacity)
    try:
        rate = raw_rate(url, args.baseline_requests, args.concurrency)
        print(f"baseline: the bare client, {rate:.0f} requests per second at concurrency {args.concurrency}")
        with tempfile.TemporaryDirectory(dir=args.work_dir) as work:
            rows = [one_size(n, args, url, rate, work) for n in args.sizes]
    finally:
        server.terminate()
    columns = ["prompts", "wall_s", "peak_mib", "train"]
    columns += [f"{stage}_{kind}" for stage in STAGES for kind in ("per_s", "own_per_s")]
    if args.kill_at:
        columns += ["restart_to_new_work_s", "exactly_once", "equal_to_uninterrupted"]
    print_table(rows, columns)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("json", "work_dir")}
        write_json(
            args.json, {"machine": machine(), "settings": settings, "baseline_requests_per_s": rate, "rows": rows}
        )


if __name__ == "__main__":
    main()

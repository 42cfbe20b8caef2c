"""`figa curate`: build the SPA training set from prompts, resumably; `figa curate merge DIR...`: combine the parts
of a run split with --shard."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..argparsing import parse_args
from ..curate import CurateConfig, curate, summary_table
from ..curate.merge import merge_parts
from ..errors import FigaError


@dataclass
class MergeConfig:
    parts: list[str] = field(default_factory=list, metadata={"help": "The output directories of the N parts."})
    output_dir: str | None = field(default=None, metadata={"help": "Where the merged outputs go."})


def _merge(argv: list[str]) -> int:
    split = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    (config,) = parse_args(
        (MergeConfig,),
        ["--parts", *argv[:split], *argv[split:]] if split else argv,
        prog="figa curate merge",
        description="Combine the parts of a run split with --shard I/N into one train.jsonl, rejected.jsonl "
        "and stats.json.",
    )
    if not config.output_dir:
        raise FigaError("--output_dir is required")
    stats = merge_parts(config.parts, config.output_dir)
    print(summary_table(stats))
    print(f"wrote {os.path.join(config.output_dir, 'train.jsonl')} from {len(config.parts)} parts")
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "merge":
        return _merge(argv[1:])
    (config,) = parse_args(
        (CurateConfig,),
        argv,
        prog="figa curate",
        description="Rollout -> reward -> filter -> revise -> re-score -> filter: SPA records "
        "for `figa train`. Rerun the same command to resume.",
    )
    result = curate(config)
    counts = result.stats["counts"]
    print(summary_table(result.stats))
    print("seconds: " + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in result.seconds.items()))
    print(
        f"wrote {os.path.join(config.output_dir, 'train.jsonl')} ({counts['train']} pairs), "
        f"rejected.jsonl ({counts['rejected']}), stats.json and the data set card README.md"
    )
    if result.url:
        print(f"pushed to {result.url}")
    return 0

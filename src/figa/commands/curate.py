"""`figa curate`: build the SPA training set from prompts, resumably."""

from __future__ import annotations

import os

from ..argparsing import parse_args
from ..curate import CurateConfig, curate, summary_table


def main(argv: list[str]) -> int:
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

"""`figa loop`: rounds of curate -> train -> evaluate, each round's policy the model the round before trained."""

from __future__ import annotations

import os

from ..argparsing import parse_args
from ..loop import LoopConfig, loop


def main(argv: list[str]) -> int:
    (config,) = parse_args(
        (LoopConfig,),
        argv,
        prog="figa loop",
        description="Round K curates with the model round K-1 trained as the policy, trains from "
        "it, and every round's model is evaluated on the held-out prompts. Rerun the "
        "same command to resume.",
    )
    result = loop(config)
    print(
        f"\n{len(result.rounds)} rounds; per-round table in {os.path.join(config.output_dir, 'rounds.json')}, "
        f"the last model in {result.rounds[-1].model}"
    )
    return 0

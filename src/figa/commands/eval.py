"""`figa eval`: compare models on held-out prompts with a reward back end, or compare saved results."""

from __future__ import annotations

import os

from ..argparsing import parse_args
from ..evaluation import EvalConfig, evaluate, table

LIST_FLAGS = ("--model", "--names", "--compare", "--lm_eval")


def merge_repeated_flags(argv: list[str]) -> list[str]:
    """`--model a --model=b` -> `--model a b` (argparse would keep only the last)."""
    values: dict[str, list[str]] = {}
    rest: list[str] = []
    flag = None
    for arg in argv:
        name, equals, value = arg.partition("=")
        if equals and name in LIST_FLAGS:
            flag = None
            values.setdefault(name, []).append(value)
        elif arg in LIST_FLAGS:
            flag = arg
            values.setdefault(flag, [])
        elif flag and not arg.startswith("--"):
            values[flag].append(arg)
        else:
            flag = None
            rest.append(arg)
    for name, items in values.items():
        rest += [name, *items]
    return rest


def main(argv: list[str]) -> int:
    (config,) = parse_args(
        (EvalConfig,),
        merge_repeated_flags(argv),
        prog="figa eval",
        description="Generate with each model (the baseline first) on held-out prompts under "
        "the same decoding settings, score with a reward, and report mean reward "
        "with 95% bootstrap intervals and win/tie/loss against the baseline. "
        "Rerun the same command to resume.",
    )
    results = evaluate(config)
    print(table(results))
    if config.output_dir:
        print(f"wrote {os.path.join(config.output_dir, 'results.json')}")
    return 0

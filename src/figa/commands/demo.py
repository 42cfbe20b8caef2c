"""`figa demo`: align SmolLM2-135M-Instruct offline on a constraint task and compare base, SFT and FIGA."""

from __future__ import annotations

from ..argparsing import parse_args
from ..demo.config import DemoConfig
from ..demo.run import run


def main(argv: list[str]) -> int:
    (config,) = parse_args((DemoConfig,), argv, prog="figa demo",
                           description="Offline, on a laptop: curate SPA pairs from a small real model's own "
                                       "answers to constraint-following prompts, train SFT and FIGA on the same "
                                       "pairs with the same budget, evaluate base / SFT / FIGA on held-out "
                                       "prompts and write report.html + report.json. Rerun to resume.")
    run(config)
    return 0

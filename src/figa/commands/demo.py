"""`figa demo`: align SmolLM2-135M-Instruct offline on a constraint task and compare base, SFT and FIGA."""

from __future__ import annotations

import json
import os

from ..argparsing import parse_args
from ..demo.config import DemoConfig
from ..demo.report import table
from ..demo.run import run
from ..demo.settings import load_chosen, load_grid
from ..demo.tune import tune, tune_table
from ..errors import FigaError


def main(argv: list[str]) -> int:
    (config,) = parse_args(
        (DemoConfig,),
        argv,
        prog="figa demo",
        description="Offline, on a laptop: curate SPA pairs from a small real model's own "
        "answers to constraint-following prompts, train SFT and FIGA on the same "
        "pairs, each at its settings chosen on validation prompts (--tune chooses them), evaluate them on test "
        "prompts and write report.html + report.json. Rerun to resume.",
    )
    if config.grid:  # checked before the model is loaded
        if not config.tune:
            raise FigaError("--grid is what --tune searches: add --tune, or leave --grid out")
        load_grid(config.grid)
    if config.settings:
        load_chosen(config.settings)
    if config.tune:
        path = tune(config)
        with open(path, encoding="utf-8") as handle:
            tuned = json.load(handle)
        print(tune_table(tuned["grid"], tuned["base"]))
        print(f"\nchosen on the validation prompts: {os.path.abspath(path)}")
        print(f"train and test with them: figa demo --settings {path}")
        return 0
    path = run(config)
    with open(os.path.join(os.path.dirname(path), "report.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    print(table(report["methods"]))
    print(f"\nreport: {os.path.abspath(path)} (and report.json); {report['timing']['total_seconds'] / 60:.1f} minutes")
    return 0

"""`figa compare`: does FIGA beat tuned SFT and DPO on my data? Every method tuned on validation prompts, trained with
seeds, scored on test prompts, with paired intervals."""

from __future__ import annotations

import json
import os

from ..argparsing import parse_args
from ..compare import CompareConfig, compare
from ..compare.report import table


def main(argv: list[str]) -> int:
    (config,) = parse_args(
        (CompareConfig,),
        argv,
        prog="figa compare",
        description="The fair comparison on your data: choose each method's settings on validation prompts, train "
        "them with several seeds on the same pairs and budget, score every model on test prompts, and write "
        "report.md, report.json and intervals.png with paired intervals against SFT and DPO. Rerun to resume.",
    )
    path = compare(config)
    with open(os.path.join(os.path.dirname(path), "report.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    print(table(report["methods"]))
    print(f"\nreport: {os.path.abspath(path)} (and report.json, intervals.png); {report['seconds'] / 60:.1f} minutes")
    return 0

"""The dose-response of the sparse-edit experiment (docs/experiments.md): each method's difference from SFT, with
its interval, on the facts task and on facts_sentence, placed at the edit density of each arm's training pairs (the
median share of the original's words the revisions change). Prints the table and writes a PNG.

    .venv/bin/python experiments/facts_dose_response.py OUT.png facts2/report.json facts_sentence/report.json
"""

from __future__ import annotations

import json
import sys

from figa.compare.methods import METHODS
from figa.evaluation.stats import format_interval
from figa.files import atomic_file


def arms(paths: list[str]) -> list[dict]:
    reports = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
        reports.append(
            {
                "task": report["settings"]["task"] or path,
                "density": report["edits"]["edit_ratio"]["median"],
                "words_changed": report["edits"]["words_changed"]["median"],
                "vs_sft": {row["method"]: row["vs_sft"] for row in report["methods"] if "vs_sft" in row},
            }
        )
    return sorted(reports, key=lambda arm: arm["density"])


def table(reports: list[dict]) -> str:
    methods = sorted({m for arm in reports for m in arm["vs_sft"]}, key=list(METHODS).index)
    lines = [
        "| task | edit ratio (median) | words changed (median) | " + " | ".join(f"{m} - SFT" for m in methods) + " |",
        "|---|---|---|" + "---|" * len(methods),
    ]
    for arm in reports:
        cells = [format_interval(arm["vs_sft"].get(m), True, empty="-") for m in methods]
        head = f"| {arm['task']} | {arm['density']:.0%} | {arm['words_changed']:g} | "
        lines.append(head + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(reports: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = sorted({m for arm in reports for m in arm["vs_sft"]}, key=list(METHODS).index)
    figure, axis = plt.subplots(figsize=(6, 4))
    for k, method in enumerate(methods):
        shown = [arm for arm in reports if method in arm["vs_sft"]]
        x = [arm["density"] + 0.004 * (k - len(methods) / 2) for arm in shown]
        y = [arm["vs_sft"][method]["mean"] for arm in shown]
        error = [
            [v - arm["vs_sft"][method]["ci95"][0] for v, arm in zip(y, shown)],
            [arm["vs_sft"][method]["ci95"][1] - v for v, arm in zip(y, shown)],
        ]
        axis.errorbar(x, y, yerr=error, fmt="o-", capsize=3, color=METHODS[method].color, label=method)
    axis.axhline(0, color="#8c8c8c", linewidth=0.8)
    axis.set_xlabel("edit density of the training pairs (median share of words changed)")
    axis.set_ylabel("reward difference from SFT [95% CI]")
    axis.legend(fontsize=8)
    figure.tight_layout()
    with atomic_file(path, binary=True) as handle:
        figure.savefig(handle, format="png", dpi=120)
    plt.close(figure)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    reports = arms(argv[1:])
    print(table(reports))
    plot(reports, argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

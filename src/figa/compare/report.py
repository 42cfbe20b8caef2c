"""`figa compare`'s report: report.json, report.md (the table, every setting tried, the examples behind the means)
and intervals.png (each method's reward and its difference from SFT, with their intervals)."""

from __future__ import annotations

import os

from ..evaluation.stats import format_interval
from ..files import atomic_file, write_json
from .methods import METHODS
from .tuning import tune_table

REPORT_FORMAT = "figa-compare-report/1"
HEADER = [
    "method",
    "reward [95% CI]",
    "by seed",
    "vs SFT [95% CI]",
    "paired sd / detectable",
    "vs DPO [95% CI]",
    "words / base",
    "repeating",
    "hit token limit",
]


def _cells(row: dict) -> list[str]:
    return [
        row["method"],
        format_interval(row["reward"], empty="-"),
        " / ".join(f"{v:.3f}" for v in row["reward_by_seed"]) if row["seeds"] > 1 else "",
        format_interval(row.get("vs_sft"), True, empty="-"),
        f"{row['vs_sft']['paired_sd']:.2f} / {row['vs_sft']['detectable']:.2f}" if "vs_sft" in row else "",
        format_interval(row.get("vs_dpo"), True, empty="-"),
        f"{row['words_vs_base']:.2f}",
        f"{row['repeating']:.0%}",
        f"{row['hit_token_limit']:.0%}",
    ]


def table(rows: list[dict]) -> str:
    """The methods as a markdown table (printed, and the head of report.md)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    return "\n".join(lines + ["| " + " | ".join(_cells(row)) + " |" for row in rows])


def _examples_markdown(examples: list[dict]) -> str:
    parts = []
    for example in examples:
        parts.append(f"### {example['id']}\n\n> {example['prompt'].strip()}\n")
        for method, answer in example["answers"].items():
            text = (answer["response"] or "").strip().replace("\n", " ")
            parts.append(f"- **{method}** (reward {answer['reward']:.3f}): {text}")
        parts.append("")
    return "\n".join(parts)


def plot(rows: list[dict], path: str) -> None:
    """Each method's mean reward with its interval, and (when SFT was trained) each one's difference from SFT."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    versus = [row for row in rows if "vs_sft" in row]
    figure, axes = plt.subplots(1, 2 if versus else 1, figsize=(10 if versus else 5, 0.5 * len(rows) + 1.5))
    axes = list(axes) if versus else [axes]
    for axis, shown, key, title in ((axes[0], rows, "reward", "reward [95% CI]"),) + (
        ((axes[1], versus, "vs_sft", "difference from SFT [95% CI]"),) if versus else ()
    ):
        for y, row in enumerate(shown):
            value = row[key]
            color = METHODS[row["method"]].color if row["method"] in METHODS else "#8c8c8c"
            low, high = value["ci95"]
            axis.errorbar(value["mean"], y, xerr=[[value["mean"] - low], [high - value["mean"]]], fmt="o", color=color)
        axis.set_yticks(range(len(shown)), [row["method"] for row in shown])
        axis.invert_yaxis()
        axis.set_title(title)
        if key == "vs_sft":
            axis.axvline(0, color="#8c8c8c", linewidth=0.8)
    figure.tight_layout()
    with atomic_file(path, binary=True) as handle:
        figure.savefig(handle, format="png", dpi=120)
    plt.close(figure)


def _edits_line(edits: dict | None) -> str:
    if not edits or not edits.get("pairs"):
        return ""
    changed, ratio = edits["words_changed"], edits["edit_ratio"]
    return (
        f"Words changed per pair by the revisions: {changed['median']:g} (median; mean {changed['mean']:.1f}), "
        f"{ratio['median']:.0%} of the original's words (median; mean {ratio['mean']:.0%})."
    )


def write_report(out: str, report: dict) -> str:
    """report.json, report.md and intervals.png in OUT; returns report.md's path."""
    write_json(os.path.join(out, "report.json"), report)
    plot(report["methods"], os.path.join(out, "intervals.png"))
    tuned, settings = report["tuning"], report["settings"]
    lines = [
        "# figa compare",
        "",
        f"{settings['model']} trained on {report['pairs']} pairs by {', '.join(settings['methods'])}, each at the "
        f"settings chosen on {tuned['validation_prompts']} validation prompts, then with {len(report['seeds'])} "
        f"seeds scored on {report['test_prompts']} test prompts by {settings['reward']}.",
        "",
        _edits_line(report.get("edits")),
        "",
        table(report["methods"]),
        "",
        "![each method's reward and its difference from SFT](intervals.png)",
        "",
        "## Settings chosen on the validation prompts",
        "",
        tune_table(tuned["grid"], tuned["base"]) if tuned["grid"] else "(no method had settings to choose)",
        "",
        "Trained at: " + "; ".join(f"{m} {s}" for m, s in report["method_settings"].items()),
        "",
        "## The examples behind the means",
        "",
        "The test prompts where the methods' rewards differ most (first seed's models):",
        "",
        _examples_markdown(report["examples"]),
    ]
    path = os.path.join(out, "report.md")
    with atomic_file(path) as handle:
        handle.write("\n".join(lines) + "\n")
    return path

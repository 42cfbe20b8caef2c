"""The demo's report: report.json, and report.html (one self-contained file: matplotlib charts as inline SVG, the
table, curation and yield numbers, training curves and examples)."""

from __future__ import annotations

import html
import io
import os

from ..compare.methods import METHODS
from ..evaluation.stats import format_interval
from ..files import atomic_file, write_json
from ..results import DEMO_REPORT_FORMAT, CurateStats, DemoReport, EvalResults
from .analysis import per_constraint, run_name, summarize_methods

COLORS = {"base": "#8c8c8c", **{name: spec.color for name, spec in METHODS.items()}}


def _interval(value: dict | None, signed: bool = False) -> str:
    return format_interval(value, signed, empty="-")


HEADER = [
    "method",
    "reward [95% CI]",
    "seeds",
    "vs SFT [95% CI]",
    "paired sd / detectable",
    "vs DPO [95% CI]",
    "words",
    "words / base",
    "reward, no length constraint",
    "words / base there",
    "quotes not asked",
    "lowercase not asked",
    "repeating",
    "hit token limit",
    "reviser's stock sentences",
]


def _cells(r: dict) -> list[str]:
    free, deg = r["no_length_constraint"], r["degeneration"]
    return [
        r["method"],
        _interval(r["reward"]),
        " / ".join(f"{v:.3f}" for v in r["reward_by_seed"]) if r["seeds"] > 1 else "",
        _interval(r.get("vs_sft"), True),
        f"{r['vs_sft']['paired_sd']:.2f} / {r['vs_sft']['detectable']:.2f}" if "vs_sft" in r else "",
        _interval(r.get("vs_dpo"), True),
        f"{r['mean_words']:.1f}",
        f"{r['words_vs_base']:.2f}",
        _interval(free["reward"]),
        f"{free['words_vs_base']:.2f}" if free["words_vs_base"] is not None else "-",
        f"{deg['quotes_not_asked']:.0%}",
        f"{deg['lowercase_not_asked']:.0%}",
        f"{deg['repeating']:.0%}",
        f"{deg['hit_token_limit']:.0%}",
        f"{deg['stock_sentences']:.0%}",
    ]


def table(rows: list[dict]) -> str:
    """The methods as a markdown table (printed, and pasted into docs/experiments.md)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    return "\n".join(lines + ["| " + " | ".join(_cells(r)) + " |" for r in rows])


def _html_table(rows: list[dict]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _svg(figure) -> str:
    """The figure as inline SVG (text kept as text: searchable, and smaller than glyph paths)."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"
    return plt


def _reward_chart(rows: list[dict]) -> str:
    plt = _pyplot()

    figure, axes = plt.subplots(figsize=(6, 3))
    names = [r["method"] for r in rows]
    means = [r["reward"]["mean"] for r in rows]
    errors = [
        [m - r["reward"]["ci95"][0] for m, r in zip(means, rows)],
        [r["reward"]["ci95"][1] - m for m, r in zip(means, rows)],
    ]
    axes.bar(names, means, yerr=errors, capsize=4, color=[COLORS.get(n, "#555") for n in names])
    axes.set_ylabel("mean test reward")
    axes.set_title("Test reward, 95% CI over seeds and prompts")
    return _svg(figure)


def _constraint_chart(constraints: dict) -> str:
    plt = _pyplot()

    methods = list(constraints)
    kinds = list(dict.fromkeys(k for m in methods for k in constraints[m]))
    figure, axes = plt.subplots(figsize=(max(7, 0.75 * len(kinds)), 3.4))
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        xs = [k + (i - (len(methods) - 1) / 2) * width for k in range(len(kinds))]
        axes.bar(
            xs,
            [constraints[method].get(k, {}).get("satisfied", 0.0) for k in kinds],
            width,
            label=method,
            color=COLORS.get(method, "#555"),
        )
    axes.set_xticks(range(len(kinds)), kinds, rotation=40, ha="right")
    axes.set_ylabel("share satisfied")
    axes.set_ylim(0, 1.05)
    axes.legend(ncol=len(methods), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.18))
    return _svg(figure)


def _curves(training: dict) -> str:
    plt = _pyplot()

    figure, axes = plt.subplots(figsize=(7, 3))
    for name, report in training.items():
        points = [(e["step"], e["loss"]) for e in report["log_history"] if "loss" in e and "step" in e]
        if points:
            axes.plot(*zip(*points), label=name, color=COLORS.get(name.rsplit("-s", 1)[0], None))
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("training loss (each method's own)")
    axes.legend(fontsize=8)
    return _svg(figure)


def _examples(results: EvalResults, names: list[str], count: int = 6) -> str:
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for entry in results["responses"][:count]:
        cells = "".join(
            f"<td><pre>{html.escape(entry['by_model'][n]['response'] or '')}</pre>"
            f"<small>reward {entry['by_model'][n]['reward']}</small></td>"
            for n in names
        )
        rows.append(f"<tr><td>{html.escape(entry['prompt'])}</td>{cells}</tr>")
    return f"<table><tr><th>test prompt</th>{head}</tr>{''.join(rows)}</table>"


def summary(settings: dict, curation: CurateStats, training: dict, results: EvalResults, timing: dict) -> DemoReport:
    methods, seeds = settings["methods"], settings["training_seeds"]
    rows = summarize_methods(results, methods, seeds)
    counts = curation["counts"]
    usable = counts["prompts"] - counts["rejected_by_stage"].get("rollout", 0)
    return {
        "format": DEMO_REPORT_FORMAT,
        "settings": settings,
        "timing": {k: round(v, 1) for k, v in timing.items()},
        "curation": {
            "counts": counts,
            "train_rewards": curation["train_rewards"],
            "edit_ratio": curation["edit_ratio"],
            "pairs_per_minute_of_demo": counts["train"] / (timing["total_seconds"] / 60),
            "pairs_per_minute_of_curation": counts["train"] / (timing["curation_seconds"] / 60),
            "usable_rollouts": usable / max(counts["prompts"], 1),
        },
        "training": {
            name: {
                "steps": t["log_history"][-1].get("step"),
                "metrics": t["metrics"],
                "loss": t["loss"],
                "budget": t.get("training", {}),  # learning rate, epochs, batch, seed, precision, the data's hash
            }
            for name, t in training.items()
        },
        "methods": rows,
        "per_constraint": per_constraint(results, ["base", *methods], seeds),
    }


def _stage_minutes(timing: dict) -> str:
    return ", ".join(f"{k.replace('_seconds', '')} {v / 60:.1f}" for k, v in timing.items() if k != "total_seconds")


def _rounds(settings: dict, counts: dict) -> str:
    rounds = settings.get("later_rounds") or []
    if not rounds:
        return ""
    items = "".join(
        f"<li>{html.escape(r['name'])}: rollouts by {html.escape(os.path.basename(r['policy']))}, "
        f"{r['pairs']} pairs kept of {r['prompts']} prompts, {r['seconds'] / 60:.1f} minutes "
        "(curation and training)</li>"
        for r in rounds
    )
    return (
        f"<h2>Rounds (figa loop)</h2><p>Round 1 is <code>figa</code>, trained on the {counts['train']} pairs "
        f"above; each later round curates the same training prompts with the round before's model as the "
        f"policy and trains from it.</p><ul>{items}</ul>"
    )


def _settings_table(method_settings: dict) -> str:
    keys = sorted({k for settings in method_settings.values() for k in settings})
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    rows = "".join(
        f"<tr><td>{html.escape(method)}</td>"
        + "".join(f"<td>{html.escape(str(settings.get(k, '')))}</td>" for k in keys)
        + "</tr>"
        for method, settings in method_settings.items()
    )
    return f"<table><tr><th>method</th>{head}</tr>{rows}</table>"


def write_report(
    out: str, settings: dict, curation: CurateStats, training: dict, results: EvalResults, timing: dict
) -> str:
    report = summary(settings, curation, training, results, timing)
    write_json(os.path.join(out, "report.json"), report)
    c, minutes = report["curation"]["counts"], timing["total_seconds"] / 60
    shown = ["base", *(run_name(m, settings["training_seeds"][0]) for m in settings["methods"])]
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>figa demo report</title>
<style>body{{font:14px/1.45 system-ui,sans-serif;margin:24px;max-width:1200px;color:#1d1d1f}}
pre{{white-space:pre-wrap;margin:0;font-size:12px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ddd;padding:6px;vertical-align:top;text-align:left}}h2{{margin-top:28px}}</style></head>
<body><h1>figa demo: base vs {html.escape(" vs ".join(settings["methods"]))}</h1>
<p>Model {html.escape(str(settings["model"]))}; {settings["train_prompts"]} training and {settings["test_prompts"]}
test prompts on disjoint topics; training seeds {settings["training_seeds"]};
{minutes:.1f} minutes ({html.escape(_stage_minutes(timing))}). Each method at the settings chosen on the
validation prompts (<code>figa demo --tune</code>), with a constant learning rate:</p>
{_settings_table(settings["method_settings"])}
<h2>Test reward</h2>{_html_table(report["methods"])}{_reward_chart(report["methods"])}
<h2>Per constraint kind</h2>{_constraint_chart(report["per_constraint"])}
<h2>Curated data</h2><p>{c["read"]} prompts, {c["train"]} pairs kept, {c["rejected"]} rejected
({html.escape(", ".join(f"{k}: {v}" for k, v in c["rejected_by_stage"].items()))});
{report["curation"]["usable_rollouts"]:.0%} of the rollouts usable ({c["truncated_rollouts"]} cut at the token
limit); {report["curation"]["pairs_per_minute_of_demo"]:.1f} pairs per minute of the whole demo.</p>
{_rounds(settings, c)}
<h2>Training</h2>{_curves(training)}
<h2>Examples (seed {settings["training_seeds"][0]})</h2>{_examples(results, shown)}
</body></html>"""
    path = os.path.join(out, "report.html")
    with atomic_file(path) as handle:
        handle.write(page)
    return path

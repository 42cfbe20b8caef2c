"""The demo's report: report.json and a self-contained report.html with inline SVG plots."""

from __future__ import annotations

import html
import os

from ..evaluation import table
from ..files import write_json
from .task import CONSTRAINT_KINDS, satisfied

COLORS = {"base": "#8c8c8c", "sft": "#2563eb", "figa": "#16a34a"}


def per_constraint(results: dict) -> dict:
    """Per model and constraint kind: the fraction of held-out prompts with that kind whose constraint holds."""
    names = [row["name"] for row in results["models"]]
    counts = {name: {} for name in names}
    for entry in results["responses"]:
        for name in names:
            response = entry["by_model"][name]["response"] or ""
            for kind, ok in satisfied(entry["prompt"], response).items():
                hit, total = counts[name].get(kind, (0, 0))
                counts[name][kind] = (hit + ok, total + 1)
    return {name: {kind: {"satisfied": hit / total, "prompts": total}
                   for kind, (hit, total) in sorted(by_kind.items(), key=lambda kv: CONSTRAINT_KINDS.index(kv[0]))}
            for name, by_kind in counts.items()}


def _curve(log_history: list[dict], key: str) -> list[tuple[int, float]]:
    return [(row["step"], row[key]) for row in log_history if key in row and "step" in row]


def _bars(groups: list[str], series: dict[str, list[float]], errors: dict | None = None, width: int = 640,
          height: int = 240, ymax: float = 1.0, label: str = "") -> str:
    left, bottom, top = 40, 40, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    slot = plot_w / max(len(groups), 1)
    bar = slot * 0.8 / max(len(series), 1)
    y = lambda v: top + plot_h * (1 - v / ymax)
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(label)}">']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(tick * ymax):.1f}" y2="{y(tick * ymax):.1f}" '
                     f'stroke="#eee"/><text x="{left - 4}" y="{y(tick * ymax) + 4:.1f}" text-anchor="end" '
                     f'font-size="10">{tick * ymax:.2g}</text>')
    for g, group in enumerate(groups):
        for s, (name, values) in enumerate(series.items()):
            x = left + g * slot + slot * 0.1 + s * bar
            v = values[g]
            parts.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bar - 1:.1f}" height="{y(0) - y(v):.1f}" '
                         f'fill="{COLORS.get(name, "#555")}"><title>{html.escape(name)} {html.escape(group)}: '
                         f'{v:.3f}</title></rect>')
            if errors and name in errors:
                low, high = errors[name][g]
                cx = x + (bar - 1) / 2
                parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(low):.1f}" y2="{y(high):.1f}" '
                             f'stroke="#000"/>')
        parts.append(f'<text x="{left + (g + 0.5) * slot:.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                     f'font-size="10">{html.escape(group)}</text>')
    return "".join(parts) + "</svg>"


def _lines(series: dict[str, list[tuple[int, float]]], width: int = 640, height: int = 220, label: str = "") -> str:
    points = [p for values in series.values() for p in values]
    if not points:
        return "<p>(no training log)</p>"
    left, bottom, top = 50, 30, 10
    x_max = max(p[0] for p in points) or 1
    y_min, y_max = min(p[1] for p in points), max(p[1] for p in points)
    y_span = (y_max - y_min) or 1.0
    sx = lambda v: left + (width - left - 10) * v / x_max
    sy = lambda v: top + (height - top - bottom) * (1 - (v - y_min) / y_span)
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(label)}">',
             f'<text x="{left - 4}" y="{sy(y_max) + 4:.1f}" text-anchor="end" font-size="10">{y_max:.3g}</text>',
             f'<text x="{left - 4}" y="{sy(y_min):.1f}" text-anchor="end" font-size="10">{y_min:.3g}</text>',
             f'<text x="{width - 10}" y="{height - 8}" text-anchor="end" font-size="10">step {x_max}</text>']
    for name, values in series.items():
        path = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in values)
        color = COLORS.get(name.split()[0], "#555")
        dash = ' stroke-dasharray="4 3"' if "original" in name else ""
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5"{dash} points="{path}">'
                     f'<title>{html.escape(name)}</title></polyline>')
    legend = "".join(f'<span style="color:{COLORS.get(n.split()[0], "#555")}">&#9632; {html.escape(n)}</span> '
                     for n in series)
    return "".join(parts) + "</svg><div>" + legend + "</div>"


def _examples(results: dict, count: int = 6) -> str:
    names = [row["name"] for row in results["models"]]
    rows = []
    for entry in results["responses"][:count]:
        cells = "".join(f"<td><pre>{html.escape(entry['by_model'][n]['response'] or '')}</pre>"
                        f"<small>reward {entry['by_model'][n]['reward']}</small></td>" for n in names)
        rows.append(f"<tr><td>{html.escape(entry['prompt'])}</td>{cells}</tr>")
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    return f"<table><tr><th>held-out prompt</th>{head}</tr>{''.join(rows)}</table>"


def write_report(out: str, settings: dict, curation: dict, training: dict, results: dict, seconds: float) -> str:
    constraints = per_constraint(results)
    names = [row["name"] for row in results["models"]]
    kinds = [k for k in CONSTRAINT_KINDS if any(k in constraints[n] for n in names)]
    report = {
        "settings": settings, "wall_seconds": round(seconds, 1),
        "curation": {"counts": curation["counts"], "train_rewards": curation["train_rewards"],
                     "edit_ratio": curation["edit_ratio"]},
        "training": {name: {"steps": t["log_history"][-1].get("step"), "metrics": t["metrics"]}
                     for name, t in training.items()},
        "eval": {"compared": results["compared"], "models": results["models"]},
        "per_constraint": constraints,
    }
    write_json(os.path.join(out, "report.json"), report)
    reward_plot = _bars(["mean reward on held-out prompts"],
                        {n: [row["reward"]["mean"]] for n, row in zip(names, results["models"])},
                        {n: [row["reward"]["ci95"]] for n, row in zip(names, results["models"])},
                        width=360, label="mean held-out reward per model")
    kind_plot = _bars(kinds, {n: [constraints[n].get(k, {}).get("satisfied", 0.0) for k in kinds] for n in names},
                      width=max(640, 70 * len(kinds)), label="fraction satisfied per constraint kind")
    curves = {f"{name} loss": _curve(t["log_history"], "loss") for name, t in training.items()}
    nll = {"figa revised (edited) nll": _curve(training["figa"]["log_history"], "positive_nll"),
           "figa original (edited) nll": _curve(training["figa"]["log_history"], "negative_nll")}
    c = curation["counts"]
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>figa demo report</title>
<style>body{{font:14px/1.45 system-ui,sans-serif;margin:24px;max-width:1100px;color:#1d1d1f}}
pre{{white-space:pre-wrap;margin:0;font-size:12px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ddd;padding:6px;vertical-align:top;text-align:left}}h2{{margin-top:28px}}</style></head>
<body><h1>figa demo: base vs SFT vs FIGA</h1>
<p>Model {html.escape(str(settings['model']))}; {settings['train_prompts']} training prompts and
{settings['heldout_prompts']} held-out prompts on disjoint topics; seed {settings['seed']};
{settings['epochs']} epochs at learning rate {settings['learning_rate']} for both SFT and FIGA;
this run took {seconds / 60:.1f} minutes.</p>
<h2>Held-out reward (fraction of constraints satisfied)</h2>
<pre>{html.escape(table(results))}</pre>{reward_plot}
<h2>Per constraint kind</h2>{kind_plot}
<h2>Curated data</h2><p>{c['read']} prompts, {c['train']} pairs kept, {c['rejected']} rejected
({html.escape(', '.join(f'{k}: {v}' for k, v in c['rejected_by_stage'].items()))}).</p>
<h2>Training</h2>{_lines(curves, label="training loss")}{_lines(nll, label="FIGA token nll")}
<h2>Examples</h2>{_examples(results)}
</body></html>"""
    path = os.path.join(out, "report.html")
    with open(f"{path}.tmp", "w", encoding="utf-8") as handle:
        handle.write(page)
    os.replace(f"{path}.tmp", path)
    print("\nper constraint kind (fraction satisfied): " + "  ".join(
        f"{k}: " + "/".join(f"{constraints[n].get(k, {}).get('satisfied', 0):.2f}" for n in names) for k in kinds)
        + f"  ({'/'.join(names)})")
    print(f"\nreport: {os.path.abspath(path)} (and report.json); {seconds / 60:.1f} minutes")
    return path

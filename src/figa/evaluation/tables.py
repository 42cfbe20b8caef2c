"""The printed table of `figa eval`: reward statistics, likelihood on edited pairs, lm-eval metrics."""

from __future__ import annotations

from ..results import EvalResults


def table(results: EvalResults) -> str:
    """The printed comparison: reward statistics (when prompts were scored) and each lm-eval task's main metric."""
    harness = results.get("lm_eval") or {}
    tasks = sorted({task for by_task in harness.values() for task in by_task})
    rows = {
        row["name"]: "".join(f"{_metric(harness.get(row['name'], {}).get(t)):>14}" for t in tasks)
        for row in results["models"]
    }
    task_header = "".join(f"{t[:13]:>14}" for t in tasks)
    likelihood = _likelihood_table(results.get("likelihood"), results["baseline"])
    if not results.get("compared"):
        lines = [f"{'model':<16}{task_header}"] + [f"{name[:15]:<16}{cells}" for name, cells in rows.items()]
        return "\n".join((lines if tasks else []) + likelihood)
    baseline = results["baseline"]
    header = (
        f"{'model':<16}{'reward':>8}  {'95% CI':<16}{'vs ' + baseline[:10]:>11}  {'95% CI':<18}"
        f"{'win/tie/loss':<16}{'words':>7}{task_header}"
    )
    lines = [f"{results['compared']} prompts compared (of {results['prompts']}); baseline: {baseline}", header]
    for row in results["models"]:
        low, high = row["reward"]["ci95"]
        line = f"{row['name'][:15]:<16}{row['reward']['mean']:>8.3f}  {f'[{low:.3f}, {high:.3f}]':<16}"
        if "vs_baseline" in row:
            v = row["vs_baseline"]
            dl, dh = v["ci95"]
            outcome = f"{v['win']:.0%}/{v['tie']:.0%}/{v['loss']:.0%}"
            line += f"{v['delta']:>+11.3f}  {f'[{dl:+.3f}, {dh:+.3f}]':<18}{outcome:<16}"
        else:
            line += f"{'-':>11}  {'':<18}{'':<16}"
        lines.append(line + f"{row['length'].get('mean_words', 0):>7.1f}" + rows[row["name"]])
    return "\n".join(lines + likelihood)


def _likelihood_table(likelihood: dict | None, baseline: str) -> list[str]:
    if not likelihood:
        return []
    pairs = next(iter(likelihood.values()))["pairs"]
    lines = [
        f"\nlikelihood on {pairs} held-out edited pairs, against {baseline}:",
        f"{'model':<16}{'pairs gained':>14}{'edited tokens moved':>21}{'margin gain [95% CI]':>30}{'mean margin':>13}",
    ]
    for name, row in likelihood.items():
        low, high = row.get("margin_gain_ci95", (float("nan"), float("nan")))
        gain = f"{row['margin_gain']:+.2f} [{low:+.2f}, {high:+.2f}]"
        lines.append(
            f"{name[:15]:<16}{row['pairs_gained']:>14.0%}{row['tokens_moved']:>21.0%}{gain:>30}"
            f"{row['mean_margin']:>+13.2f}"
        )
    return lines


def _metric(value: dict | None) -> str:
    return f"{value['metric']} {value['value']:.3f}" if value else "-"

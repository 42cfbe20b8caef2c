"""IFBench's accuracy from a `figa eval` results.json (`python -m figa.evaluation.ifbench_report results.json`):
per model, prompt-level accuracy (every instruction followed) and instruction-level accuracy (the share of instructions
followed), IFBench's strict mode, with 95% bootstrap intervals over prompts and paired against the baseline (the
first model), and the guards: words against the baseline, quotes and lowercase nobody asked for, repetition, the
token limit. Beside IFBench's own prompt-level accuracy, the same with loops and answers cut at the token limit
counted as failures ("guarded"): IFBench's verifiers pass "パイパイパイ..." for "every 5th word in Japanese" and a
line of emoji for "an emoji at the end of every sentence", which the demo's reward would score 0. Instructions
that could not be checked offline are left out and counted."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from ..files import write_json
from .guards import all_lowercase, degenerate, shown_unasked, wrapped_in_quotes
from .ifbench import follows, row_of, test_set
from .stats import bootstrap_ratio_ci, format_interval, mean_interval
from .summary import load_results

ASKS_FOR = {"quotes": ("quote",), "lowercase": ("lower", "case")}  # instruction ids that could ask for it


def _responses(results: dict, name: str) -> list[str | None]:
    return [e["by_model"][name]["response"] for e in results["responses"]]


def _verdicts(results: dict, name: str) -> list[list[bool | None]]:
    return [follows(e["prompt"], e["by_model"][name]["response"] or "") for e in results["responses"]]


def _not_asked(results: dict, name: str, what: str, shows) -> float:
    words = ASKS_FOR[what]
    asked = [any(w in i for i in _instruction_ids(e["prompt"]) for w in words) for e in results["responses"]]
    return shown_unasked(_responses(results, name), asked, shows)


def _instruction_ids(prompt: str) -> list[str]:
    return row_of(prompt)["instruction_id_list"]


def _loops_and_cuts(results: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Per prompt: whether the answer loops (`guards.degenerate`), and whether it was cut at the token limit."""
    entries = [e["by_model"][name] for e in results["responses"]]
    loops = np.array([degenerate(e["response"] or "") for e in entries], dtype=bool)
    return loops, np.array([bool(e["truncated"]) for e in entries], dtype=bool)


def accuracy(results: dict, samples: int = 1000, seed: int = 0) -> dict:
    """IFBench's numbers per model of a results.json, the baseline first (docs/experiments.md)."""
    names = [m["name"] for m in results["models"]]
    verdicts = {name: _verdicts(results, name) for name in names}
    # instructions every model could be checked on (a check that needs missing data is None for all)
    checked = [[v is not None for v in row] for row in verdicts[names[0]]]
    followed = {
        name: np.array([sum(bool(v) for v, c in zip(row, ok) if c) for row, ok in zip(rows, checked)], dtype=float)
        for name, rows in verdicts.items()
    }
    count = np.array([sum(ok) for ok in checked], dtype=float)
    keep = count > 0
    words = {name: float(np.mean([len((r or "").split()) for r in _responses(results, name)])) for name in names}
    rows = []
    loops_and_cuts = {name: _loops_and_cuts(results, name) for name in names}
    guarded_every = {
        name: ((followed[name] == count) & ~(loops | cut))[keep].astype(float)
        for name, (loops, cut) in loops_and_cuts.items()
    }
    for name in names:
        every = (followed[name] == count)[keep].astype(float)
        row = {
            "name": name,
            "prompts": int(keep.sum()),
            "instructions": int(count.sum()),
            "prompt_level": mean_interval(every, samples, seed),
            "instruction_level": {
                "mean": float(followed[name].sum() / count.sum()),
                "ci95": bootstrap_ratio_ci(followed[name][keep], count[keep], samples, seed),
            },
            "guarded_prompt_level": mean_interval(guarded_every[name], samples, seed),
            "words_vs_baseline": float(words[name] / max(words[names[0]], 1e-9)),
            "quotes_not_asked": _not_asked(results, name, "quotes", wrapped_in_quotes),
            "lowercase_not_asked": _not_asked(results, name, "lowercase", all_lowercase),
            "repeating": float(loops_and_cuts[name][0].mean()),
            "hit_token_limit": float(loops_and_cuts[name][1].mean()),
        }
        if name != names[0]:
            base_every = (followed[names[0]] == count)[keep].astype(float)
            prompt_gain = every - base_every
            instruction_gain = (followed[name] - followed[names[0]])[keep]
            row["vs_baseline"] = {
                "prompt_level": mean_interval(prompt_gain, samples, seed),
                "instruction_level": {
                    "mean": float(instruction_gain.sum() / count[keep].sum()),
                    "ci95": bootstrap_ratio_ci(instruction_gain, count[keep], samples, seed),
                },
                "guarded_prompt_level": mean_interval(guarded_every[name] - guarded_every[names[0]], samples, seed),
            }
        rows.append(row)
    unchecked = sum(len(row) - sum(ok) for row, ok in zip(verdicts[names[0]], checked))
    return {"format": "figa-ifbench/1", "baseline": names[0], "unchecked_instructions": unchecked, "models": rows}


def _cell(value: dict | None, signed: bool = False) -> str:
    return format_interval(value, signed)


def table(report: dict) -> str:
    lines = [
        "| model | prompt-level [95% CI] | vs baseline | instruction-level [95% CI] | vs baseline "
        "| guarded prompt-level | vs baseline | words / baseline "
        "| quotes not asked | lowercase not asked | repeating | hit token limit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["models"]:
        gain = row.get("vs_baseline", {})
        lines.append(
            f"| {row['name']} | {_cell(row['prompt_level'])} | {_cell(gain.get('prompt_level'), True)} | "
            f"{_cell(row['instruction_level'])} | {_cell(gain.get('instruction_level'), True)} | "
            f"{_cell(row['guarded_prompt_level'])} | {_cell(gain.get('guarded_prompt_level'), True)} | "
            f"{row['words_vs_baseline']:.2f} | {row['quotes_not_asked']:.0%} | {row['lowercase_not_asked']:.0%} | "
            f"{row['repeating']:.0%} | {row['hit_token_limit']:.0%} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m figa.evaluation.ifbench_report", description=__doc__)
    parser.add_argument("results", nargs="?", help="a results.json of `figa eval` on IFBench's test prompts")
    parser.add_argument("--prompts", action="store_true", help="print the path of IFBench_test.jsonl and exit")
    args = parser.parse_args(argv)
    if args.prompts or not args.results:
        print(test_set())
        return 0
    report = accuracy(dict(load_results(args.results)))
    write_json(os.path.join(os.path.dirname(os.path.abspath(args.results)), "ifbench.json"), report)
    print(table(report))
    print(
        f"\n{report['models'][0]['prompts']} prompts, {report['models'][0]['instructions']} instructions checked; "
        f"{report['unchecked_instructions']} need NLTK data no wheel ships (left out)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

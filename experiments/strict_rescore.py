"""A stricter reader's rescoring of saved answers, to check whether a result depends on what the demo's reward lets
through (docs/experiments.md). Not the demo's reward: an answer keeps its reward unless it copies a sentence of the
request's instructions (five words or more, as 'P.S. In your response, the word "gentle" should appear at least 2
times.' does to earn the keyword) or says one sentence or line of four words or more twice, nearly word for
word (rapidfuzz ratio 85, the demo's loop threshold, which counts three times); then it scores 0.

    .venv/bin/python experiments/strict_rescore.py RESULTS.json [RESULTS.json ...] [--versus sft]

Prints, per model of each `figa eval` results file: the reward, the strict score, the answers that copy an
instruction and those that repeat; and, where model names end in -sN (seeds), per method: the seed-averaged means
and each method's paired difference to --versus with a 95% bootstrap interval over prompts.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict

import numpy as np
from rapidfuzz import fuzz, process

from figa.evaluation.guards import NEAR_DUPLICATE, sentences
from figa.evaluation.stats import bootstrap_mean_ci


def _words(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def copies_instruction(prompt: str, answer: str) -> bool:
    said = _words(answer)
    instructions = [_words(s) for s in sentences(prompt)[1:]]  # the first sentence is the task itself
    return any(len(i.split()) >= 5 and i in said for i in instructions)


def repeats(answer: str) -> bool:
    lines = [line for s in sentences(answer) for line in s.splitlines()]
    said = [w for w in map(_words, lines) if len(w.split()) >= 4]
    if len(said) < 2:
        return False
    alike = process.cdist(said, said, scorer=fuzz.ratio, score_cutoff=NEAR_DUPLICATE)
    return int((alike > 0).sum(axis=1).max()) >= 2


def strict(prompt: str, answer: str | None, reward: float | None) -> float:
    answer = answer or ""
    return 0.0 if copies_instruction(prompt, answer) or repeats(answer) else float(reward or 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+")
    parser.add_argument("--versus", default="sft")
    args = parser.parse_args()
    per_method: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: {"reward": [], "strict": []})
    for path in args.results:
        with open(path, encoding="utf-8") as handle:
            results = json.load(handle)
        for model in results["models"]:
            rows = [(r["prompt"], r["by_model"][model["name"]]) for r in results["responses"]]
            reward = np.array([float(x.get("reward") or 0.0) for _, x in rows])
            scored = np.array([strict(p, x.get("response"), x.get("reward")) for p, x in rows])
            copied = sum(copies_instruction(p, x.get("response") or "") for p, x in rows)
            repeated = sum(repeats(x.get("response") or "") for _, x in rows)
            print(
                f"{model['name']:44s} reward {reward.mean():.3f}  strict {scored.mean():.3f}  "
                f"copies an instruction {copied:3d}  repeats {repeated:3d}  of {len(rows)}"
            )
            method = re.sub(r"-s\d+$", "", model["name"])
            per_method[method]["reward"].append(reward)
            per_method[method]["strict"].append(scored)
    if args.versus not in per_method:
        return
    print(f"\nseed-averaged; difference to {args.versus} with a 95% bootstrap interval over prompts")
    for method, scores in per_method.items():
        line = f"{method:24s} seeds {len(scores['reward'])}"
        for kind in ("reward", "strict"):
            mean = np.mean(scores[kind], axis=0)
            base = np.mean(per_method[args.versus][kind], axis=0)
            low, high = bootstrap_mean_ci(mean - base)
            line += f"  {kind} {mean.mean():.3f} ({mean.mean() - base.mean():+.3f} [{low:+.3f}, {high:+.3f}])"
        print(line)


if __name__ == "__main__":
    main()

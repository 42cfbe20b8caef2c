"""Results of `figa eval` as statistics: each model's reward with its interval and its paired difference from the
baseline on the prompts every model was scored on; and saved results.json files read back and compared."""

from __future__ import annotations

import json
import os

import numpy as np

from ..backends.protocols import Truncated
from ..backends.rewards import finite
from ..errors import FigaError
from ..results import EVAL_RESULTS_FORMAT, EvalResults, ModelRow
from .stats import bootstrap_mean_ci, length_stats, mean_interval, win_tie_loss


def saved_text(row: dict) -> str | None:
    """A saved generation (a `Truncated` one when it hit the token limit); None when generation failed."""
    text = row.get("response")
    return Truncated(text) if text is not None and row.get("truncated") else text


def summarize(
    names: list[str], models: dict, prompts: dict, responses: dict, rewards: dict, samples: int, seed: int
) -> EvalResults:
    """Statistics over the prompts where every model has a finite reward, the first model as the baseline."""
    ids = [i for i in prompts if all(rewards[name].get(i) is not None for name in names)]
    if not ids:
        raise FigaError("no prompt has a finite reward for every model: nothing to compare")
    baseline = np.array([rewards[names[0]][i] for i in ids])
    rows: list[ModelRow] = []
    for name in names:
        values = np.array([rewards[name][i] for i in ids])
        row: ModelRow = {
            "name": name,
            "model": models.get(name),
            "n": len(ids),
            "unscored": sum(1 for i in prompts if rewards[name].get(i) is None),
            "reward": {
                "mean": float(values.mean()),
                "std": float(values.std()),
                "ci95": tuple(mean_interval(values, samples, seed)["ci95"]),
            },
            "length": length_stats([responses[name][i] or "" for i in ids]),
        }
        if name != names[0]:
            row["vs_baseline"] = {  # type: ignore[typeddict-item]
                "delta": float((values - baseline).mean()),
                "ci95": bootstrap_mean_ci(values - baseline, samples, seed),
                **win_tie_loss(values, baseline),
            }
        rows.append(row)
    return {
        "format": EVAL_RESULTS_FORMAT,
        "baseline": names[0],
        "prompts": len(prompts),
        "compared": len(ids),
        "models": rows,
        "responses": [
            {
                "id": i,
                "prompt": prompts[i],
                "by_model": {
                    name: {
                        "response": responses[name].get(i),
                        "reward": rewards[name].get(i),
                        "truncated": isinstance(responses[name].get(i), Truncated),
                    }
                    for name in names
                },
            }
            for i in prompts
        ],
    }


def load_results(path: str) -> EvalResults:
    if not os.path.isfile(path):
        raise FigaError(f"--compare {path}: no such file")
    try:
        with open(path, encoding="utf-8") as handle:
            results = json.load(handle)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise FigaError(f"--compare {path}: not valid JSON: {error or 'nested too deeply'}") from None
    if not isinstance(results, dict) or results.get("format") != EVAL_RESULTS_FORMAT:
        raise FigaError(f"--compare {path}: not a results.json written by `figa eval`")
    problem = _results_problem(results)
    if problem:
        raise FigaError(f"--compare {path}: incomplete or damaged results: {problem}")
    return results  # type: ignore[return-value]


def _results_problem(results: dict) -> str | None:
    """What a results.json lacks that `compare` reads, or None."""
    models, responses = results.get("models"), results.get("responses")
    if not isinstance(models, list) or not all(isinstance(m, dict) and isinstance(m.get("name"), str) for m in models):
        return "field 'models': expected a list of {\"name\": ...}"
    if not isinstance(responses, list):
        return "field 'responses': expected a list"
    for i, entry in enumerate(responses):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or "prompt" not in entry:
            return f"field 'responses[{i}]': expected an object with 'id' and 'prompt'"
        by_model = entry.get("by_model")
        if not isinstance(by_model, dict) or not all(isinstance(v, dict) for v in by_model.values()):
            return f"field 'responses[{i}].by_model': expected an object of {{model name: {{response, reward}}}}"
    return None


def compare(paths: list[str], samples: int = 1000, seed: int = 0) -> EvalResults:
    """One report over saved results, on the prompts they share; the first file's baseline stays the baseline."""
    names: list[str] = []
    models: dict[str, str | None] = {}
    prompts: dict[str, str] = {}
    responses: dict[str, dict] = {}
    rewards: dict[str, dict] = {}
    for path in paths:
        results = load_results(path)
        label = os.path.basename(os.path.dirname(os.path.abspath(path))) or path
        for row in results["models"]:
            name = row["name"] if row["name"] not in names else f"{row['name']}@{label}"
            if name in names:
                raise FigaError(f"--compare: model {row['name']!r} appears twice in {path}")
            names.append(name)
            models[name] = row.get("model")
            responses[name], rewards[name] = {}, {}
            for entry in results["responses"]:
                prompts.setdefault(entry["id"], entry["prompt"])
                got: dict = dict(entry["by_model"].get(row["name"], {}))
                responses[name][entry["id"]] = saved_text(got)
                rewards[name][entry["id"]] = finite(got.get("reward"))
    shared = {i: p for i, p in prompts.items() if all(i in responses[name] for name in names)}
    results = summarize(names, models, shared, responses, rewards, samples, seed)
    results["compared_files"] = list(paths)
    return results

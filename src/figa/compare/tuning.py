"""Choosing each method's settings on validation prompts: every point of its grid is trained with the first seed
and scored on the validation prompts; the point with the highest mean validation reward is chosen, the earlier one
in the grid on a tie. Points that differ only in epochs share one training (the model after each earlier epoch is
saved on the way). tune.json holds every point's validation reward and the choice; it is rewritten after each
training, and a rerun skips what it holds. A point's models are deleted once scored."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback

from ..errors import FigaError
from ..evaluation import EvalConfig, evaluate
from ..evaluation.stats import format_interval
from ..files import write_json
from ..modeling import ModelArguments
from ..records import parse_json
from ..training import DataArguments, train_or_reuse
from .engine import run_jobs
from .methods import MethodSpec, method
from .training import Budget, pairs_in, training_args

logger = logging.getLogger(__name__)
TUNE_FORMAT = "figa-demo-tune/1"
_SHORT = {
    "learning_rate": "lr",
    "dpo_beta": "dpobeta",
    "pref_beta": "prefbeta",
    "beta": "beta",
    "gamma": "gamma",
    "tau": "tau",
    "anchor_tau": "anchor",
}


def point_name(method: str, point: dict[str, Any]) -> str:
    """A grid point's name without its epochs ("figa-lr3e-05-beta0.5-gamma0.3-tau0.6"): one training per name."""
    return "-".join([method] + [f"{short}{point[key]:g}" for key, short in _SHORT.items() if key in point])


class EpochSnapshots(TrainerCallback):
    """Saves the model and tokenizer after each of EPOCHS (before the last) as OUTPUT_DIR/epoch-K."""

    def __init__(self, epochs: list[int]):
        self.epochs = set(epochs)

    def on_epoch_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        epoch = round(state.epoch)
        target = snapshot(args.output_dir, epoch)
        if epoch not in self.epochs or epoch >= args.num_train_epochs or os.path.isdir(target):
            return
        staging = tempfile.mkdtemp(prefix=".epoch-", dir=args.output_dir)
        model.save_pretrained(staging)
        processing_class.save_pretrained(staging)
        os.replace(staging, target)


def snapshot(directory: str, epoch: int) -> str:
    return os.path.join(directory, f"epoch-{epoch}")


def trainings(method: str, points: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The grid's points of METHOD grouped by the training they share (all settings but the epochs)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        groups.setdefault(point_name(method, point), []).append(point)
    return groups


def validation_rewards(
    reward: str, prompts: str, models: dict[str, str], out: str, decoding: dict[str, Any]
) -> dict[str, dict]:
    """Each of MODELS' mean reward on PROMPTS, its interval, and the share of answers cut at the token limit."""
    results = evaluate(
        EvalConfig(
            model=list(models.values()), names=list(models), prompts=prompts, reward=reward, output_dir=out, **decoding
        )
    )
    truncated = {name: 0 for name in models}
    for entry in results["responses"]:
        for name, response in entry["by_model"].items():
            truncated[name] += response["truncated"]
    return {
        row["name"]: {
            "validation_reward": row["reward"]["mean"],
            "ci95": row["reward"]["ci95"],
            "hit_token_limit": truncated[row["name"]] / max(results["prompts"], 1),
        }
        for row in results["models"]
    }


def earlier_rows(path: str, context: dict[str, Any]) -> list[dict]:
    """The rows of the tune.json at PATH, when it was tuned in CONTEXT (else an error naming what changed)."""
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as handle:
        earlier = parse_json(handle.read())
    if earlier.get("context") != context:
        changed = sorted(
            k for k in {**earlier.get("context", {}), **context} if earlier["context"].get(k) != context.get(k)
        )
        raise FigaError(f"{path} was tuned with another {', '.join(changed)}; pass another --output_dir")
    return earlier["grid"]


def choose(rows: list[dict]) -> dict[str, dict[str, Any]]:
    """Per method, the settings of its row with the highest validation reward (the first such row in the grid)."""
    chosen: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(row["method"] for row in rows):
        best = max((row for row in rows if row["method"] == name), key=lambda row: row["validation_reward"])
        chosen[name] = dict(best["settings"])
    return chosen


def score_training(
    spec: MethodSpec,
    name: str,
    group: list[dict[str, Any]],
    model: str,
    data: str,
    seed: int,
    budget: Budget,
    score: Callable[[dict[str, str], str], dict[str, dict]],
    out: str,
) -> list[dict]:
    """Train one group of grid points (all settings but epochs shared) once, score every epoch's model with
    SCORE(models, eval directory), delete the models; the group's tune.json rows."""
    epochs = sorted(int(point["epochs"]) for point in group)
    directory = os.path.join(out, "models", name)
    settings = {**group[0], "epochs": epochs[-1], "pairs_per_step": budget.train_batch_size}
    arguments = training_args(spec, settings, directory, seed, pairs_in(data), budget)
    report = train_or_reuse(
        DataArguments(data=data), ModelArguments(model_name_or_path=model), arguments, [EpochSnapshots(epochs)]
    ).report
    models = {f"{name}-e{e}": snapshot(directory, e) if e < epochs[-1] else directory for e in epochs}
    scores = score(models, os.path.join(out, "eval", name))
    shutil.rmtree(directory)  # the scores are what the choice needs; the models can be trained again
    return [
        {
            "method": spec.name,
            "name": name,
            "settings": {**point, "epochs": int(point["epochs"])},
            "steps_trained": max(entry.get("step", 0) for entry in report["log_history"]),
            **scores[f"{name}-e{int(point['epochs'])}"],
        }
        for point in sorted(group, key=lambda p: p["epochs"])
    ]


def tune_json(context: dict, base: dict, rows: list[dict], grid: dict) -> dict:
    complete = all(
        any(r["method"] == m and r["settings"] == {**p, "epochs": int(p["epochs"])} for r in rows)
        for m, points in grid.items()
        for p in points
    )
    return {
        "format": TUNE_FORMAT,
        "context": context,
        "base": base,
        "grid": rows,
        "complete": complete,
        "chosen": choose(rows),
    }


def _reward(row: dict) -> str:
    return format_interval({"mean": row["validation_reward"], "ci95": row["ci95"]})


def tune_table(rows: list[dict], base: dict) -> str:
    """Every grid point's validation reward, the chosen ones marked."""
    chosen = choose(rows)
    lines = [
        "| method | settings | validation reward [95% CI] | hit token limit | chosen |",
        "|---|---|---|---|---|",
        f"| base |  | {_reward(base)} | {base['hit_token_limit']:.0%} |  |",
    ]
    for row in rows:
        settings = ", ".join(f"{k} {v:g}" for k, v in row["settings"].items())
        mark = "✓" if chosen[row["method"]] == row["settings"] else ""
        lines.append(f"| {row['method']} | {settings} | {_reward(row)} | {row['hit_token_limit']:.0%} | {mark} |")
    return "\n".join(lines)


def run_grid(
    grid: dict[str, list[dict[str, Any]]],
    model: str,
    data: str,
    seed: int,
    budget: Budget,
    score: Callable[[dict[str, str], str], dict[str, dict]],
    out: str,
    context: dict[str, Any],
    progress: Callable[[str], None] = logger.info,
    study: str | None = None,
) -> dict:
    """Score the base model and every point of GRID (method -> points) on the validation prompts SCORE reads, one
    job per training (`engine.run_jobs`: here, or shared by the workers of STUDY); each job's rows are kept in
    OUT/rows/, and OUT/tune.json (rewritten after each job, read back on a rerun) gathers them. Returns tune.json."""
    os.makedirs(os.path.join(out, "rows"), exist_ok=True)
    path = os.path.join(out, "tune.json")
    earlier = earlier_rows(path, context)
    groups = {name: (m, group) for m, points in grid.items() for name, group in trainings(m, points).items()}
    order = ["base", *groups]

    def kept(job: str) -> list[dict] | None:
        """JOB's rows: from its file, else from an earlier tune.json when it holds every one; None if not done."""
        row_path = os.path.join(out, "rows", f"{job}.json")
        if os.path.isfile(row_path):
            with open(row_path, encoding="utf-8") as handle:
                saved = parse_json(handle.read())
            if saved.get("context") != context:
                raise FigaError(
                    f"{row_path} was scored in another setting (model, data, budget or decoding); pass "
                    "another --output_dir"
                )
            return saved["rows"]
        if job != "base":
            rows = [row for row in earlier if row["name"] == job]
            if {row["settings"]["epochs"] for row in rows} >= {int(p["epochs"]) for p in groups[job][1]}:
                return rows
        return None

    def gathered() -> dict:
        base = kept("base")
        rows = [row for job in order[1:] for row in kept(job) or []]
        return tune_json(context, base[0] if base else None, rows, grid)

    def work(job: str) -> None:
        if kept(job) is not None:
            logger.info(f"already scored: {job}")
            return
        if job == "base":
            rows = [score({"base": model}, os.path.join(out, "eval", "base"))["base"]]
        else:
            number = order.index(job)
            name_of_method, group = groups[job]
            progress(f"grid point {number}/{len(groups)}: {job}, epochs {sorted(p['epochs'] for p in group)}")
            rows = score_training(method(name_of_method), job, group, model, data, seed, budget, score, out)
        write_json(os.path.join(out, "rows", f"{job}.json"), {"context": context, "rows": rows})
        write_json(path, gathered())

    run_jobs("tune", order, work, os.path.join(out, "locks"), study, lambda job: kept(job) is not None)
    tuned = gathered()
    write_json(path, tuned)
    return tuned

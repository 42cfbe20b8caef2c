"""`figa demo --tune`: choose each method's settings on the validation prompts.

Every point of the grid of the methods trained (`figa.demo.settings.GRID`, or `--grid`) is trained on the demo's
curated training pairs with the first seed and scored on the validation prompts (their own topics); the point
with the highest mean validation reward is chosen, the earlier one in the grid on a tie. The test prompts are
neither written nor read. Points that differ only in epochs share one training: the model after each earlier
epoch is saved on the way. OUTPUT_DIR/tune/tune.json holds every point's validation reward and the choice; it is
rewritten after each training, and a rerun skips what it holds. A point's models are deleted once scored (540 MB
each for SmolLM2).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import Any

from transformers import TrainerCallback

from ..backends.fingerprints import spec_key
from ..errors import FigaError
from ..evaluation import EvalConfig, evaluate
from ..files import write_json
from ..modeling import ModelArguments
from ..records import parse_json
from ..training import DataArguments, train_or_reuse
from .config import TASK, DemoConfig
from .run import _decoding, _step, _training_args, curated_pairs, evaluation_dtype, pairs_in
from .settings import GRID, load_grid, point_name

logger = logging.getLogger(__name__)
TUNE_FORMAT = "figa-demo-tune/1"


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


def _trainings(method: str, points: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The grid's points of METHOD grouped by the training they share (all settings but the epochs)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        groups.setdefault(point_name(method, point), []).append(point)
    return groups


def _validation_rewards(config: DemoConfig, prompts: str, models: dict[str, str], out: str) -> dict[str, dict]:
    results = evaluate(
        EvalConfig(
            model=list(models.values()),
            names=list(models),
            prompts=prompts,
            reward=f"{TASK}:reward",
            output_dir=out,
            dtype=evaluation_dtype(config),
            **_decoding(config),
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


def _context(config: DemoConfig, model: str, data: str, n_validation: int) -> dict[str, Any]:
    """What every row of a tune.json depends on besides its own settings."""
    return {
        "model": model,
        "reward": spec_key(f"{TASK}:reward"),
        "pairs": pairs_in(data),
        "data": data,
        "validation_prompts": n_validation,
        "seed": config.seed,
        "train_batch_size": config.train_batch_size,
        "max_new_tokens": config.max_new_tokens,
        "repetition_penalty": config.repetition_penalty,
        **({"bf16": True} if config.bf16() else {}),  # float32 tunings before --precision have no such key
    }


def _earlier_rows(path: str, context: dict[str, Any]) -> list[dict]:
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
    for method in dict.fromkeys(row["method"] for row in rows):
        best = max((row for row in rows if row["method"] == method), key=lambda row: row["validation_reward"])
        chosen[method] = dict(best["settings"])
    return chosen


def tune(config: DemoConfig) -> str:
    """Run the grid on the validation prompts; returns the path of tune.json."""
    _, n_validation, _ = config.sizes()
    methods = config.tuned_methods()
    grid = load_grid(config.grid) if config.grid else {m: GRID[m] for m in methods if m in GRID}
    if not grid:
        raise FigaError(f"--tune: none of {', '.join(methods)} has settings to choose ({', '.join(GRID)} have)")
    points, n_trainings = sum(map(len, grid.values())), sum(len(_trainings(m, p)) for m, p in grid.items())
    logger.info(
        f"--tune: {points} grid points ({n_trainings} trainings) of {', '.join(grid)} on {n_validation} validation "
        "prompts"
    )
    model, prompts, curation, _ = curated_pairs(config, "validation")
    data = os.path.join(curation.output_dir, "train.jsonl")
    out = os.path.join(config.output_dir, "tune")
    os.makedirs(out, exist_ok=True)
    path, context = os.path.join(out, "tune.json"), _context(config, model, data, n_validation)
    rows = _earlier_rows(path, context)
    validation = prompts["validation"]
    base = _validation_rewards(config, validation, {"base": model}, os.path.join(out, "eval", "base"))["base"]
    trainings = [(m, name, group) for m, points in grid.items() for name, group in _trainings(m, points).items()]
    for number, (method, name, group) in enumerate(trainings, 1):
        _step(5, f"grid point {number}/{len(trainings)}: {name}, epochs {sorted(p['epochs'] for p in group)}")
        done = {(row["name"], row["settings"]["epochs"]) for row in rows}
        if all((name, point["epochs"]) in done for point in group):
            logger.info(f"already scored: {name}")
            continue
        rows += _score_training(config, model, data, validation, method, name, group, out)
        write_json(path, _tune_json(context, base, rows, grid))
    write_json(path, _tune_json(context, base, rows, grid))
    _step(6, "chosen on the validation prompts")
    return path


def _score_training(
    config: DemoConfig, model: str, data: str, validation: str, method: str, name: str, group: list, out: str
) -> list[dict]:
    epochs = sorted(int(point["epochs"]) for point in group)
    directory = os.path.join(out, "models", name)
    settings = {**group[0], "epochs": epochs[-1], "pairs_per_step": config.train_batch_size}
    arguments = _training_args(config, directory, method, config.seed, pairs_in(data), settings)
    report = train_or_reuse(
        DataArguments(data=data), ModelArguments(model_name_or_path=model), arguments, [EpochSnapshots(epochs)]
    ).report
    models = {f"{name}-e{e}": snapshot(directory, e) if e < epochs[-1] else directory for e in epochs}
    scores = _validation_rewards(config, validation, models, os.path.join(out, "eval", name))
    shutil.rmtree(directory)  # the scores are what the choice needs; the models can be trained again
    return [
        {
            "method": method,
            "name": name,
            "settings": {**point, "epochs": int(point["epochs"])},
            "steps_trained": max(entry.get("step", 0) for entry in report["log_history"]),
            **scores[f"{name}-e{int(point['epochs'])}"],
        }
        for point in sorted(group, key=lambda p: p["epochs"])
    ]


def _tune_json(context: dict, base: dict, rows: list[dict], grid: dict) -> dict:
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


def tune_table(rows: list[dict], base: dict) -> str:
    """Every grid point's validation reward, the chosen ones marked."""
    chosen = choose(rows)
    lines = [
        "| method | settings | validation reward [95% CI] | hit token limit | chosen |",
        "|---|---|---|---|---|",
        f"| base |  | {base['validation_reward']:.3f} [{base['ci95'][0]:.3f}, {base['ci95'][1]:.3f}] | "
        f"{base['hit_token_limit']:.0%} |  |",
    ]
    for row in rows:
        settings = ", ".join(f"{k} {v:g}" for k, v in row["settings"].items())
        low, high = row["ci95"]
        mark = "✓" if chosen[row["method"]] == row["settings"] else ""
        lines.append(
            f"| {row['method']} | {settings} | {row['validation_reward']:.3f} [{low:.3f}, {high:.3f}] | "
            f"{row['hit_token_limit']:.0%} | {mark} |"
        )
    return "\n".join(lines)

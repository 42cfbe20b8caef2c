"""`figa compare`: the fair comparison on anyone's data. Every method's settings are chosen on validation prompts
(each point of its grid trained with the first seed and scored), the chosen settings are trained with every seed,
and all models are scored on test prompts with the same decoding; the report gives paired intervals against SFT
and DPO, the smallest detectable difference, lengths, loops, cut answers, the examples behind the means and every
setting tried. Each training and evaluation is kept once finished: run the same command again to resume."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, replace
from typing import Any

from ..argparsing import from_values, read_yaml
from ..backends.fingerprints import spec_key
from ..curate import CurateConfig, curate
from ..curate.finished import content_hash
from ..errors import FigaError
from ..evaluation import EvalConfig, evaluate
from ..files import check_outputs, prepare_output_dir, write_jsonl
from ..modeling import ModelArguments
from ..records import load_records
from ..tasks import SPLITS, TASKS
from ..training import REPORT_NAME, DataArguments, train_or_reuse
from .analysis import edit_sizes, examples, method_summary, run_name
from .config import TASK_INPUTS, CompareConfig
from .engine import run_jobs
from .methods import METHODS, load_grid
from .report import REPORT_FORMAT, write_report
from .training import pairs_in, training_args
from .tuning import run_grid, validation_rewards

logger = logging.getLogger(__name__)
REPORT_FILES = ("report.json", "report.md", "intervals.png")


def default_grid(methods: list[str]) -> dict[str, list[dict[str, Any]]]:
    return {m: list(METHODS[m].grid) for m in methods if METHODS[m].grid}


def settings_for(method: str, chosen: dict[str, dict[str, Any]], batch: int) -> tuple[dict[str, Any], str]:
    """METHOD's training settings and where they came from: chosen here, borrowed from the method it ablates, or
    (a method with no grid, such as the authors' recipe) its own fixed ones."""
    spec = METHODS[method]
    if method in chosen:
        settings, source = dict(chosen[method]), "chosen on the validation prompts"
    elif spec.borrows and spec.borrows in chosen:
        settings, source = {**chosen[spec.borrows], **spec.loss}, f"{spec.borrows}'s, chosen on the validation prompts"
    else:
        fixed = spec.chosen or METHODS[spec.borrows or spec.trainer].chosen or {}
        settings, source = {**fixed, **spec.loss}, "fixed (not tuned here)"
    return {"pairs_per_step": batch, **settings}, source


def _curation(config: CompareConfig) -> CurateConfig:
    """The curation of --prompts: the --curate_config values, and the policy, reward and reviser of the comparison."""
    values = read_yaml(config.curate_config, "--curate_config") if config.curate_config else {}
    if config.task:  # the task's curation settings, under the file's
        values = {**TASKS[config.task].curation, **values}
    fixed = {
        "prompts": config.prompts,
        "output_dir": os.path.join(config.output_dir, "spa"),
        "policy": config.model,
        "reward": config.reward,
        "reviser": config.reviser,
    }
    clash = sorted(set(values) & set(fixed))
    if clash:
        raise FigaError(f"--curate_config {config.curate_config}: {', '.join(clash)} are set by figa compare")
    (curation,) = from_values((CurateConfig,), {**values, **fixed}, "--curate_config")
    curation.check()
    return curation


def with_task(config: CompareConfig) -> CompareConfig:
    """CONFIG with --task's prompts written to OUTPUT_DIR/task/ and its reward and reviser."""
    given = [f"--{name}" for name in TASK_INPUTS if getattr(config, name)]
    if given:
        raise FigaError(f"--task {config.task} sets {', '.join(given)} itself; leave them out")
    if len(config.task_prompts) != 3 or min(config.task_prompts) < 1:
        raise FigaError(
            f"--task_prompts: training, validation and test counts, each at least 1; got {config.task_prompts}"
        )
    directory = os.path.join(config.output_dir, "task")
    prepare_output_dir(directory, "--output_dir")
    paths = {}
    task = TASKS[config.task]
    for split, count in zip(SPLITS, config.task_prompts):
        paths[split] = os.path.join(directory, f"prompts-{split}.jsonl")
        write_jsonl(paths[split], task.prompts(split, count, config.seed))
    return replace(
        config,
        prompts=paths["train"],
        validation_prompts=paths["validation"],
        test_prompts=paths["test"],
        reward=task.reward,
        reviser=task.reviser,
    )


def _curated(config: CompareConfig, curation: CurateConfig) -> CompareConfig:
    """CONFIG with --data the pairs curated from --prompts (once, by one worker)."""
    logger.info(f"[0/3] figa curate {config.prompts}: the pairs every method trains on")

    def curated(_: str) -> bool:
        return os.path.isfile(os.path.join(curation.output_dir, "stats.json"))

    def curate_once(_: str) -> None:
        curate(curation)

    run_jobs("curate", ["curate"], curate_once, os.path.join(config.output_dir, "locks"), config.study, curated)
    return replace(config, data=os.path.join(curation.output_dir, "train.jsonl"))


def _tuned(config: CompareConfig, grid: dict, pairs: int) -> dict:
    """Step 1: every method's grid scored on the validation prompts; tune.json with the choices."""
    budget, decoding = config.budget(), config.decoding()
    logger.info(f"[1/3] settings chosen on {config.validation_prompts}: {sum(map(len, grid.values()))} grid points")
    context = {  # what the grid's scores depend on besides each point's settings (as tune.json holds it)
        "model": config.model,
        "reward": spec_key(config.reward),
        "data": content_hash(config.data),
        "pairs": pairs,
        "validation_prompts": content_hash(config.validation_prompts),
        "seed": config.seed,
        "budget": asdict(budget),
        "decoding": decoding,
    }

    def score(models: dict[str, str], directory: str) -> dict[str, dict]:
        return validation_rewards(config.reward, config.validation_prompts, models, directory, decoding)

    out = os.path.join(config.output_dir, "tune")
    context = json.loads(json.dumps(context))
    tuned = run_grid(grid, config.model, config.data, config.seed, budget, score, out, context, study=config.study)
    return {**tuned, "validation_prompts": pairs_in(config.validation_prompts)}


def _trained(config: CompareConfig, settings: dict, pairs: int) -> dict[str, str]:
    """Step 2: every method at its settings with every seed; {run name: model directory}."""
    seeds, budget = config.training_seeds(), config.budget()
    logger.info(f"[2/3] {', '.join(config.methods)} at the chosen settings, seeds {seeds}")
    models: dict[str, str] = {}
    jobs: dict[str, tuple[str, int]] = {}
    for method in config.methods:
        for seed in seeds:
            name = run_name(method, seed)
            # the settings in the directory's name: settings chosen anew (another grid) train a model of their own
            tag = hashlib.sha256(json.dumps(settings[method][0], sort_keys=True).encode()).hexdigest()[:8]
            models[name], jobs[name] = os.path.join(config.output_dir, "models", f"{name}-{tag}"), (method, seed)

    def train_one(name: str) -> None:
        method, seed = jobs[name]
        arguments = training_args(METHODS[method], settings[method][0], models[name], seed, pairs, budget)
        train_or_reuse(DataArguments(data=config.data), ModelArguments(model_name_or_path=config.model), arguments)

    def trained(name: str) -> bool:
        return os.path.isfile(os.path.join(models[name], REPORT_NAME))

    run_jobs("train", list(jobs), train_one, os.path.join(config.output_dir, "locks"), config.study, trained)
    return models


def _reported(config: CompareConfig, models: dict[str, str], report: dict, started: float) -> None:
    """Step 3: the base model and MODELS scored on the test prompts, and the report (REPORT: what it says besides;
    STARTED: when the run began)."""
    seeds, out = config.training_seeds(), config.output_dir

    def report_one(_: str) -> None:
        logger.info(f"[3/3] every model on {config.test_prompts}")
        results = evaluate(
            EvalConfig(
                model=[config.model, *models.values()],
                names=["base", *models],
                prompts=config.test_prompts,
                reward=config.reward,
                output_dir=os.path.join(out, "eval"),
                **config.decoding(),
            )
        )
        results["responses"] = [  # the prompts every model has a finite reward on (`figa eval` compares those)
            entry for entry in results["responses"] if all(r["reward"] is not None for r in entry["by_model"].values())
        ]
        rows = [method_summary(results, m, seeds, seed=config.seed) for m in ["base", *config.methods]]
        write_report(
            out,
            {
                "format": REPORT_FORMAT,
                "settings": asdict(config),
                **report,
                "test_prompts": len(results["responses"]),
                "seeds": seeds,
                "methods": rows,
                "examples": examples(results, config.methods, seeds[0]),
                "seconds": time.time() - started,
            },
        )

    def reported(_: str) -> bool:
        path = os.path.join(out, "report.json")
        if not os.path.isfile(path):
            return False
        with open(path, encoding="utf-8") as handle:
            return json.load(handle).get("settings") == json.loads(json.dumps(asdict(config)))

    run_jobs("report", ["report"], report_one, os.path.join(out, "locks"), config.study, reported)


def compare(config: CompareConfig) -> str:
    """Tune, train with every seed, score on the test prompts, report; returns report.md's path."""
    if config.task:
        config = with_task(config)
    config.check()
    grid = load_grid(config.grid, config.methods) if config.grid else default_grid(config.methods)
    check_outputs(
        {f"--output_dir's {name}": os.path.join(config.output_dir, name) for name in REPORT_FILES},
        {
            f"--{name}": getattr(config, name)
            for name in ("data", "prompts", "validation_prompts", "test_prompts")
            if getattr(config, name)
        },
    )
    curation = _curation(config) if config.prompts else None  # checked before any work
    prepare_output_dir(config.output_dir, "--output_dir")
    started = time.time()
    if curation is not None:
        config = _curated(config, curation)
    pairs = pairs_in(config.data)
    if pairs == 0:
        raise FigaError(f"{config.data}: no pairs to train on")
    tuned = _tuned(config, grid, pairs)
    settings = {m: settings_for(m, tuned["chosen"], config.train_batch_size) for m in config.methods}
    models = _trained(config, settings, pairs)
    report = {
        "pairs": pairs,
        "edits": edit_sizes(load_records(config.data)[0]),
        "tuning": tuned,
        "method_settings": {m: s for m, (s, _) in settings.items()},
        "settings_source": {m: source for m, (_, source) in settings.items()},
    }
    _reported(config, models, report, started)
    return os.path.join(config.output_dir, "report.md")

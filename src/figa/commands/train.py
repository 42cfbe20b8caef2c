"""`figa train`: FIGA training on SPA data, every `FIGAConfig` / `TrainingArguments` field a flag."""

from __future__ import annotations

from ..argparsing import parse_args
from ..modeling import ModelArguments
from ..trainer import FIGAConfig
from ..training import DataArguments, train


def main(argv: list[str]) -> int:
    data_args, model_args, config = parse_args(
        (DataArguments, ModelArguments, FIGAConfig),
        argv,
        prog="figa train",
        description="Train a causal LM with the FIGA loss on SPA pairs (original, revised).",
    )
    result = train(data_args, model_args, config)
    if config.process_index == 0:
        print(f"saved the trained model to {result.output_dir}")
    return 0

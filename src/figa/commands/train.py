"""`figa train`: one method's training on SPA data. `--method` picks the config: FIGA's `FIGAConfig`, or TRL's
`SFTConfig` / `DPOConfig` for the baselines; every field of that config is a flag, and a flag of another method's
config is refused."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..argparsing import config_path, parse_args, read_yaml
from ..baselines import METHODS, DPOConfig, SFTConfig
from ..errors import FigaError
from ..modeling import ModelArguments
from ..trainer import FIGAConfig
from ..training import DataArguments, train

CONFIGS = {"figa": FIGAConfig, "sft": SFTConfig, "dpo": DPOConfig, "apo_zero": DPOConfig}


@dataclass
class MethodArguments:
    method: str = field(
        default="figa",
        metadata={
            "help": "figa: the FIGA loss (FIGAConfig's options); sft: TRL's SFTTrainer (SFTConfig); dpo, apo_zero: "
            "TRL's DPOTrainer (DPOConfig; apo_zero sets loss_type apo_zero). Each method has its own options and "
            "TRL's defaults (e.g. DPO's learning rate 1e-6).",
            "choices": list(METHODS),
        },
    )


def _given(argv: list[str]) -> set[str]:
    """The option names on the command line and in its --config file."""
    names = {arg[2:].split("=", 1)[0] for arg in argv if arg.startswith("--")}
    path = config_path(argv)
    return names | set(read_yaml(path, "--config")) if path else names


def _method(argv: list[str]) -> str:
    for index, arg in enumerate(argv):
        if arg == "--method" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--method="):
            return arg.split("=", 1)[1]
    path = config_path(argv)
    return str(read_yaml(path, "--config").get("method", "figa")) if path else "figa"


def _foreign(method: str, given: set[str]) -> list[str]:
    """The given options that belong to another method's config only."""
    own = {f.name for f in dataclasses.fields(CONFIGS[method])}
    others = {f.name for cls in set(CONFIGS.values()) for f in dataclasses.fields(cls)} - own
    return sorted(given & others)


def _model_arguments(method: str) -> type:
    """ModelArguments; for TRL's configs, which declare `trust_remote_code` themselves, without it (one flag)."""
    if method == "figa":
        return ModelArguments
    kept = [(f.name, f.type, f) for f in dataclasses.fields(ModelArguments) if f.name != "trust_remote_code"]
    return dataclasses.make_dataclass("ModelArguments", kept)


def main(argv: list[str]) -> int:
    method = _method(argv)
    if method not in CONFIGS:
        raise FigaError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    foreign = _foreign(method, _given(argv))
    if foreign:
        raise FigaError(
            f"{', '.join('--' + name for name in foreign)}: not an option of --method {method} (see `figa train "
            f"--method {method} --help`)"
        )
    _, data_args, model_args, config = parse_args(
        (MethodArguments, DataArguments, _model_arguments(method), CONFIGS[method]),
        argv,
        prog="figa train",
        description="Train a causal LM on SPA pairs (original, revised): with the FIGA loss, or a TRL baseline.",
    )
    if method != "figa":
        model_args = ModelArguments(**dataclasses.asdict(model_args), trust_remote_code=config.trust_remote_code)
    if method == "apo_zero" and list(config.loss_type) == ["sigmoid"]:
        config = dataclasses.replace(config, loss_type=["apo_zero"])
    result = train(data_args, model_args, config)
    if config.process_index == 0:
        print(f"saved the trained model to {result.output_dir}")
    return 0

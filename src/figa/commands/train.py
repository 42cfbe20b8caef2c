"""`figa train`: one method's training on SPA data. `--method` picks the config: FIGA's `FIGAConfig`, or TRL's
`SFTConfig` / `DPOConfig` for the baselines; every field of that config is a flag, and a flag of another method's
config is refused."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .. import recipes
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
    recipe: str | None = field(
        default=None,
        metadata={
            "help": f"Named settings to start from (YAML files in figa/recipes): {', '.join(recipes.names())}, or "
            "none (the config class's own defaults). figa, the default of --method figa, holds the settings figa's "
            "own tuning chose (3e-5, gamma 0.3, 2 epochs); paper, the authors' (1e-5 constant, gamma 0, 5 epochs, "
            "128 pairs per step); anchor, sft, dpo and apo_zero, each at its chosen settings. --config and flags "
            "override a recipe's values."
        },
    )


def _given(argv: list[str]) -> set[str]:
    """The option names on the command line and in its --config file."""
    names = {arg[2:].split("=", 1)[0] for arg in argv if arg.startswith("--")}
    path = config_path(argv)
    return names | set(read_yaml(path, "--config")) if path else names


def _option(argv: list[str], name: str) -> str | None:
    """The value of --NAME on the command line, else in its --config file; None when neither gives it."""
    for index, arg in enumerate(argv):
        if arg == f"--{name}" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    path = config_path(argv)
    value = read_yaml(path, "--config").get(name) if path else None
    return None if value is None else str(value)


def _recipe(argv: list[str]) -> tuple[str | None, dict, str]:
    """The recipe's name (None for none), its values and the method: --method, else the recipe's, else figa; a
    run of --method figa that names no recipe runs the default one."""
    name, method = _option(argv, "recipe"), _option(argv, "method")
    if name is None and method in (None, "figa"):
        name = recipes.DEFAULT
    if name is None or name.lower() == "none":
        return None, {}, method or "figa"
    values = recipes.recipe_values(name)
    if method is not None and method != values["method"]:
        raise FigaError(f"--recipe {name} is a recipe for --method {values['method']}, not --method {method}")
    return name, values, values["method"]


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
    recipe, recipe_values, method = _recipe(argv)
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
        description="Train a causal LM on SPA pairs (original, revised): with the FIGA loss, or a TRL baseline. "
        "Without --recipe, --method figa runs the recipe figa (the settings figa's own tuning chose).",
        defaults=recipe_values,
        defaults_source=f"--recipe {recipe}",
    )
    if method != "figa":
        model_args = ModelArguments(**dataclasses.asdict(model_args), trust_remote_code=config.trust_remote_code)
    if method == "apo_zero" and list(config.loss_type) == ["sigmoid"]:
        config = dataclasses.replace(config, loss_type=["apo_zero"])
    if recipe and config.process_index == 0:
        ran = [
            f"{k} {getattr(getattr(config, k), 'value', getattr(config, k))}" for k in recipe_values if k != "method"
        ]
        print(f"recipe {recipe}: {', '.join(ran)} (with the flags given)")
    result = train(data_args, model_args, config, recipe=recipe)
    if config.process_index == 0:
        print(f"saved the trained model to {result.output_dir}")
    return 0

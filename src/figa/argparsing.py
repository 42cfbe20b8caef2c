"""Command-line parsing over dataclasses (`HfArgumentParser`), with `--config file.yaml` defaults, as in `trl`."""

from __future__ import annotations

import os

import yaml
from transformers import HfArgumentParser

from .errors import FigaError


def parse_args(dataclass_types: tuple, argv: list[str], prog: str, description: str) -> tuple:
    """Every dataclass field is a flag; values in `--config` YAML are defaults that flags override."""
    parser = HfArgumentParser(dataclass_types, prog=prog, description=description)
    parser.add_argument("--config", default=None, help="YAML file of option values (flags override it).")
    config_path = None
    if "--config" in argv:
        index = argv.index("--config")
        if index + 1 >= len(argv):
            raise FigaError("--config needs a file path")
        config_path = argv[index + 1]
    if config_path:
        values = read_yaml(config_path, "--config")
        known = {action.dest for action in parser._actions}
        unknown = sorted(set(values) - known)
        if unknown:
            raise FigaError(f"--config {config_path}: unknown options {', '.join(unknown)}")
        parser.set_defaults(**values)
        for action in parser._actions:
            if action.dest in values:
                action.required = False
    try:
        parsed = parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    except ValueError as error:  # raised by a dataclass's own checks (e.g. TrainingArguments.__post_init__)
        raise FigaError(str(error)) from None
    return tuple(parsed[: len(dataclass_types)])


def read_yaml(path: str, option: str) -> dict:
    """The option: value mapping in the YAML file PATH (given as OPTION, for messages)."""
    if not os.path.isfile(path):
        raise FigaError(f"{option} {path}: no such file")
    try:
        with open(path, encoding="utf-8") as handle:
            values = yaml.safe_load(handle) or {}
    except yaml.YAMLError as error:
        raise FigaError(f"{option} {path}: not valid YAML: {error}") from None
    if not isinstance(values, dict):
        raise FigaError(f"{option} {path}: expected a mapping of option: value")
    return values


def from_values(dataclass_types: tuple, values: dict, option: str) -> tuple:
    """The dataclasses filled from VALUES (a command's options by name, as in its `--config` YAML)."""
    parser = HfArgumentParser(dataclass_types)
    known = {action.dest for action in parser._actions}
    unknown = sorted(set(values) - known)
    if unknown:
        raise FigaError(f"{option}: unknown options {', '.join(unknown)}")
    try:
        return tuple(parser.parse_dict(values))
    except (ValueError, TypeError) as error:
        raise FigaError(f"{option}: {error}") from None

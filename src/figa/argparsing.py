"""Command-line parsing over dataclasses (`HfArgumentParser`), with `--config file.yaml` defaults, as in `trl`."""

from __future__ import annotations

import dataclasses
import enum
import os
import types
import typing

import yaml
from transformers import HfArgumentParser

from .errors import FigaError


def parse_args(
    dataclass_types: tuple,
    argv: list[str],
    prog: str,
    description: str,
    defaults: dict | None = None,
    defaults_source: str = "",
) -> tuple:
    """Every dataclass field is a flag; values in `--config` YAML are defaults that flags override, and DEFAULTS
    (from DEFAULTS_SOURCE, e.g. a recipe) are defaults that `--config` and flags override."""
    parser = HfArgumentParser(dataclass_types, prog=prog, description=description)
    parser.add_argument("--config", default=None, help="YAML file of option values (flags override it).")
    for action in parser._actions:  # a `bool | None` field (None: decided later) takes a bare flag, as a bool does
        if getattr(action.type, "__name__", "") == "string_to_bool" and action.nargs is None:
            action.nargs, action.const = "?", True
    either = {f.name for cls in dataclass_types for f in dataclasses.fields(cls) if _number_or_word(cls, f.name)}
    for action in parser._actions:  # HfArgumentParser reads `float | str` as float: take the word too
        if action.dest in either:
            action.type = number_or_word
    config_file = config_path(argv)
    layers = [(defaults or {}, defaults_source)]
    if config_file:
        layers.append((read_yaml(config_file, "--config"), f"--config {config_file}"))
    for values, source in layers:
        known = {action.dest for action in parser._actions}
        unknown = sorted(set(values) - known)
        if unknown:
            raise FigaError(f"{source}: unknown options {', '.join(unknown)}")
        check_types(dataclass_types, values, source)
        parser.set_defaults(**values)
        for action in parser._actions:
            if action.dest in values:
                action.required = False
    try:
        parsed = parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    except ValueError as error:  # raised by a dataclass's own checks (e.g. TrainingArguments.__post_init__)
        raise FigaError(str(error)) from None
    return tuple(parsed[: len(dataclass_types)])


def _number_or_word(cls, name: str) -> bool:
    hint = typing.get_type_hints(cls).get(name)
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and set(typing.get_args(hint)) == {float, str}


def number_or_word(text: str) -> float | str:
    """A `float | str` option's value: the number when TEXT is one, else TEXT (such as a quantile, q0.5)."""
    try:
        return float(text)
    except ValueError:
        return text


def config_path(argv: list[str]) -> str | None:
    """The value of `--config PATH` or `--config=PATH` (the last one given), None without one."""
    path = None
    for index, arg in enumerate(argv):
        if arg == "--config":
            if index + 1 >= len(argv) or argv[index + 1].startswith("--"):
                raise FigaError("--config needs a file path")
            path = argv[index + 1]
        elif arg.startswith("--config="):
            path = arg.split("=", 1)[1]
            if not path:
                raise FigaError("--config needs a file path")
    return path


def _type_name(hint) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return f"a list of {_type_name(typing.get_args(hint)[0])}" if typing.get_args(hint) else "a list"
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))


def _fits(value, hint) -> bool | None:
    """Whether VALUE (from YAML) is of type HINT; None for a type this check does not know (left to the class)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        verdicts = [_fits(value, a) for a in args]
        return True if True in verdicts else (None if None in verdicts else False)
    if hint is type(None):
        return value is None
    if origin is list or hint is list:
        return (
            isinstance(value, list) and all(_fits(v, args[0]) is not False for v in value)
            if args
            else isinstance(value, list)
        )
    if origin is typing.Literal:
        return value in args
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return isinstance(value, hint) or value in {member.value for member in hint}
    return None


def check_types(dataclass_types: tuple, values: dict, option: str) -> None:
    """Every value in VALUES (option name: value, from a YAML file) has its option's declared type."""
    for cls in dataclass_types:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name in values and _fits(values[f.name], hints.get(f.name, typing.Any)) is False:
                raise FigaError(
                    f"{option}: option '{f.name}': expected {_type_name(hints[f.name])}, got {values[f.name]!r}"
                )


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
    check_types(dataclass_types, values, option)
    try:
        return tuple(parser.parse_dict(values))
    except (ValueError, TypeError) as error:
        raise FigaError(f"{option}: {error}") from None

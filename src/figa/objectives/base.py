"""The interface every training objective implements, the registry, and loading one from outside."""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from ..errors import FigaError
from ..loss import count_weighted

REGISTRY: dict[str, type[Objective]] = {}


@dataclass(frozen=True)
class ObjectiveSettings:
    """An objective's settings: a frozen dataclass whose fields are its options (a field named as a `figa train`
    flag takes that flag's value) and whose `check` refuses values the objective cannot train with."""

    def __post_init__(self):
        self.check()  # the objective's own ranges first: their messages say more
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise FigaError(f"{f.name} must be a finite number, got {value}")

    def check(self) -> None:
        """Raise FigaError for settings the objective cannot train with."""


@dataclass(frozen=True)
class TokenBatch:
    """What an objective reads of one micro-batch, at its M positions whose target carries a non-zero weight."""

    nll: torch.Tensor  # [M] the policy's nll of each target, float32, differentiable
    weights: torch.Tensor  # [M] the signed weights the objective's `pair_weights` gave
    pair_index: torch.Tensor  # [M] each position's pair among the micro-batch's
    num_pairs: int  # pairs in the micro-batch
    num_items: torch.Tensor | float  # N (`Objective.count`) of the whole optimizer step, over every process
    reference_nll: torch.Tensor | None = None  # [M] the reference's nll, when `needs_reference`


class Objective:
    """A training objective over SPA pairs. Subclass it, set `name` and `Settings`, implement `pair_weights` and
    `loss`; `register` it to make it a `figa train --objective` name, or pass `python:module:Class`."""

    name: ClassVar[str] = ""
    Settings: ClassVar[type[ObjectiveSettings]] = ObjectiveSettings
    normaliser: ClassVar[str] = "tokens"  # N: "tokens", the non-zero weights of the step; or "pairs"

    settings: Any  # an instance of `Settings`

    def __init__(self, settings: ObjectiveSettings | None = None):
        self.spec = self.name  # what `--objective` said: the name, or python:module:Class
        self.settings = settings if settings is not None else self.Settings()
        if not isinstance(self.settings, self.Settings):
            raise FigaError(f"{type(self).__name__} takes {self.Settings.__name__}, got {type(settings).__name__}")

    @classmethod
    def from_values(cls, values: Mapping) -> Objective:
        """The objective with the settings named in VALUES (other names ignored; None leaves the default)."""
        names = {f.name for f in dataclasses.fields(cls.Settings)}
        return cls(cls.Settings(**{k: v for k, v in values.items() if k in names and v is not None}))

    @classmethod
    def settings_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls.Settings)]

    @property
    def needs_reference(self) -> bool:
        """Whether the loss compares with a frozen copy of the model as training starts (`reference_nll`)."""
        return False

    def pair_weights(self, pair: Mapping) -> dict[str, torch.Tensor]:
        """The signed weight of every response token of one tokenised pair (`figa.data.tokenize_pairs` columns),
        by side: "revised", and "original" when the objective reads it. Zero leaves a token out."""
        raise NotImplementedError

    def loss(self, batch: TokenBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The micro-batch's loss, already divided by N, and its metrics as sums keyed by name (summed over the
        micro-batches and processes of a logging interval, then turned into logged values by `log_values`)."""
        raise NotImplementedError

    def log_values(self, sums: Mapping[str, float]) -> dict[str, float]:
        """The values to log from the summed metrics (means, fractions); by default none."""
        return {}

    def count(self, batches: Iterable[Mapping]) -> torch.Tensor:
        """N of an optimizer step from its collated micro-batches: its non-zero weights, or its pairs."""
        batches = list(batches)
        if self.normaliser == "pairs":
            return torch.tensor(sum(len(batch["ids"]) for batch in batches))
        return count_weighted(batch["weights"] for batch in batches)

    def report(self) -> dict:
        """The settings that go into run reports, checkpoints and model cards."""
        return {"objective": self.spec, **dataclasses.asdict(self.settings)}


def register(cls: type[Objective]) -> type[Objective]:
    """Make CLS a `figa train --objective` name (a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Objective) and cls.name):
        raise TypeError("register an Objective subclass with a name")
    REGISTRY[cls.name] = cls
    return cls


def objective_names() -> list[str]:
    return list(REGISTRY)


def objective_class(spec: str) -> type[Objective]:
    """The class a `--objective` value names: a registered name, or python:module:Class."""
    if spec in REGISTRY:
        return REGISTRY[spec]
    if not spec.startswith("python:"):
        raise FigaError(f"--objective must be one of {', '.join(REGISTRY)} or python:module:Class, got {spec!r}")
    module_name, _, class_name = spec[len("python:") :].rpartition(":")
    if not module_name or not class_name:
        raise FigaError(f"--objective {spec}: expected python:module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise FigaError(f"--objective {spec}: cannot import {module_name}: {error}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Objective)):
        raise FigaError(f"--objective {spec}: {class_name} is not a figa.objectives.Objective subclass")
    return cls


def make_objective(spec: str, values: Mapping) -> Objective:
    """The objective SPEC names, with the settings in VALUES (`figa train`'s flags and --objective_args)."""
    cls = objective_class(spec)
    objective = cls.from_values(values)
    objective.spec = spec
    return objective

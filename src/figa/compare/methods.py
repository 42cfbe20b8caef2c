"""The methods `figa compare` and `figa demo` train, one `MethodSpec` each: which trainer, which fixed loss settings,
which data, the settings chosen on validation prompts, the grid around their published defaults they were chosen
from, and the colour of their plots (docs/experiments.md has the grid with every point's validation reward)."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import FigaError

TRAINERS = ("figa", "sft", "dpo", "apo_zero")  # `figa train --method`


@dataclass(frozen=True)
class MethodSpec:
    name: str
    trainer: str  # figa (FIGATrainer, with `loss` over the defaults) or a TRL trainer: sft, dpo, apo_zero
    description: str
    loss: dict[str, Any] = field(default_factory=dict)  # FIGA loss settings fixed for this method
    data: str = "pairs"  # pairs: the SPA pairs; scratch: the reviser's answers written from scratch as revisions
    tuned: tuple[str, ...] = ()  # the settings chosen on validation prompts (learning_rate and epochs at least)
    grid: tuple[dict[str, Any], ...] = ()  # the points tried, each giving every tuned setting
    chosen: dict[str, Any] | None = None  # what the demo's tuning chose; None: `borrows`'s, with `loss` on top
    borrows: str | None = None  # the method whose chosen settings this one trains at (an ablation of it)
    color: str = "#555"

    def __post_init__(self):
        if self.trainer not in TRAINERS:
            raise ValueError(f"{self.name}: trainer must be one of {', '.join(TRAINERS)}")
        if self.grid and any(set(point) != set(self.tuned) for point in self.grid):
            raise ValueError(f"{self.name}: every grid point gives exactly {', '.join(self.tuned)}")


def grid(**values: list) -> tuple[dict[str, Any], ...]:
    """Every combination of VALUES (setting name -> values), as grid points."""
    return tuple(dict(zip(values, point)) for point in itertools.product(*values.values()))


def one_at_a_time(base: dict[str, Any], changes: list[dict[str, Any]], **values: list) -> tuple[dict[str, Any], ...]:
    """BASE and BASE with each of CHANGES, at every combination of VALUES."""
    return tuple({**base, **change, **point} for point in grid(**values) for change in [{}, *changes])


_LR_EPOCHS = ("learning_rate", "epochs")
_FIGA = ("learning_rate", "beta", "gamma", "tau", "epochs")

# Grids around each method's published defaults: TRL's SFTConfig (learning rate 2e-5) and DPOConfig (1e-6, beta 0.1;
# APO-zero is a DPOConfig loss type), the paper's FIGA (1e-5; beta 0.5, gamma 0, tau 0.6, and each changed alone, at
# 1e-5 and 3e-5). Epochs 1 and 2 come from one two-epoch training: with a constant learning rate its model after the
# first epoch is the one-epoch model. Chosen: what `figa demo --tune` chose on the validation prompts (bf16 mixed
# precision, 66 pairs, seed 0; the core methods on 2026-11-30, the objectives beyond the paper on 2026-12-01).
METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            "sft",
            "sft",
            "TRL's SFTTrainer on the revisions",
            tuned=_LR_EPOCHS,
            grid=grid(learning_rate=[1e-5, 2e-5, 5e-5], epochs=[1, 2]),
            chosen={"learning_rate": 5e-5, "epochs": 2},
            color="#2563eb",
        ),
        MethodSpec(
            "dpo",
            "dpo",
            "TRL's DPOTrainer, the revision preferred to the original",
            tuned=("learning_rate", "dpo_beta", "epochs"),
            grid=grid(learning_rate=[1e-6, 1e-5], dpo_beta=[0.1, 0.5], epochs=[1, 2]),
            chosen={"learning_rate": 1e-6, "dpo_beta": 0.5, "epochs": 1},
            color="#d97706",
        ),
        MethodSpec(
            "apo_zero",
            "apo_zero",
            "TRL's DPOTrainer with loss_type apo_zero",
            tuned=("learning_rate", "dpo_beta", "epochs"),
            grid=grid(learning_rate=[1e-6, 1e-5], dpo_beta=[0.1, 0.5], epochs=[1, 2]),
            chosen={"learning_rate": 1e-6, "dpo_beta": 0.1, "epochs": 2},
            color="#9333ea",
        ),
        MethodSpec(
            "figa",
            "figa",
            "the FIGA loss",
            tuned=_FIGA,
            grid=one_at_a_time(
                {"beta": 0.5, "gamma": 0.0, "tau": 0.6},
                [{"gamma": 0.3}, {"beta": 1.0}, {"tau": 3.0}],
                learning_rate=[1e-5, 3e-5],
                epochs=[1, 2],
            ),
            chosen={"learning_rate": 3e-5, "beta": 0.5, "gamma": 0.3, "tau": 0.6, "epochs": 2},
            color="#16a34a",
        ),
        MethodSpec("figa_bow", "figa", "FIGA with bag-of-words weights", {"weighting": "bow"}, borrows="figa"),
        MethodSpec("figa_beta0", "figa", "FIGA without the push-down", {"beta": 0.0}, borrows="figa"),
        MethodSpec("figa_gamma0", "figa", "FIGA with kept tokens out of the loss", {"gamma": 0.0}, borrows="figa"),
        MethodSpec("figa_gamma0.3", "figa", "FIGA with kept tokens weighted 0.3", {"gamma": 0.3}, borrows="figa"),
        MethodSpec("figa_gamma1", "figa", "FIGA with every revised token weighted 1", {"gamma": 1.0}, borrows="figa"),
        MethodSpec("figa_tau3", "figa", "FIGA with the gate at tau 3", {"tau": 3.0}, borrows="figa"),
        # the objectives beyond the paper (docs/loss.md): the preference objective from DPO's published defaults,
        # the anchored push-down from the paper's FIGA settings and then at FIGA's chosen gamma 0.3 and 3e-5 (the
        # anchor changes the push-down only), the probability-scaled weighting (TRL's "dft") from SFT's rates
        MethodSpec(
            "figa_preference",
            "figa",
            "the edit-weighted preference objective",
            {"objective": "preference"},
            tuned=("learning_rate", "pref_beta", "epochs"),
            grid=grid(learning_rate=[1e-6, 1e-5], pref_beta=[0.1, 0.5], epochs=[1, 2]),
            chosen={"learning_rate": 1e-6, "pref_beta": 0.5, "epochs": 2},
        ),
        MethodSpec(
            "figa_anchor",
            "figa",
            "FIGA with the push-down anchored to the starting model",
            {"anchor_tau": 1.0},
            tuned=("learning_rate", "beta", "gamma", "tau", "anchor_tau", "epochs"),
            grid=grid(
                learning_rate=[1e-5, 3e-5], beta=[0.5], gamma=[0.0], tau=[0.6], anchor_tau=[0.5, 2.0], epochs=[1, 2]
            )
            + grid(learning_rate=[3e-5], beta=[0.5], gamma=[0.3], tau=[0.6], anchor_tau=[0.5, 2.0], epochs=[1, 2]),
            chosen={"learning_rate": 3e-5, "beta": 0.5, "gamma": 0.3, "tau": 0.6, "anchor_tau": 2.0, "epochs": 2},
        ),
        MethodSpec(
            "figa_dft",
            "figa",
            "DFT's probability-scaled nll on the revisions",
            {"alpha": 1.0, "gamma": 1.0, "beta": 0.0, "prob_scale": True},
            tuned=_LR_EPOCHS,
            grid=grid(learning_rate=[1e-5, 2e-5, 5e-5], epochs=[1, 2]),
            chosen={"learning_rate": 2e-5, "epochs": 1},
        ),
        # RUCAIBox/FIGA bash/run_7b.sh: 5 epochs at a constant 1e-5, 128 pairs per step, alpha 1, beta 0.5, gamma 0
        MethodSpec(
            "figa_paper",
            "figa",
            "the authors' recipe",
            chosen={"learning_rate": 1e-5, "beta": 0.5, "gamma": 0.0, "tau": 0.6, "epochs": 5, "pairs_per_step": 128},
        ),
        MethodSpec(
            "sft_from_scratch",
            "sft",
            "SFT on the reviser's answers written from scratch",
            data="scratch",
            borrows="sft",
        ),
    )
}


MAX_POINTS = 1000  # a grid of the demo's size has 4 to 16 points per method; each point is a training
MAX_EPOCHS = 100


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def check_grid(grid: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """A grid's methods tune settings, and every point gives exactly that method's tuned settings, as numbers."""
    tuned = {name: spec.tuned for name, spec in METHODS.items() if spec.tuned}
    points_in_all = sum(len(points) for points in grid.values())
    if points_in_all > MAX_POINTS:
        raise FigaError(f"grid: {points_in_all} points, each a training; at most {MAX_POINTS}")
    for name, points in grid.items():
        if name not in tuned:
            raise FigaError(f"grid: {name!r} is not a tuned method ({', '.join(tuned)})")
        if not points:
            raise FigaError(f"grid: {name} has no point")
        for point in points:
            if set(point) != set(tuned[name]):
                raise FigaError(f"grid: each {name} point gives {', '.join(tuned[name])}; got {sorted(point)}")
            bad = [k for k, v in point.items() if not _number(v)]
            if bad or not float(point["epochs"]).is_integer() or not 1 <= point["epochs"] <= MAX_EPOCHS:
                raise FigaError(
                    f"grid: {name} point {point}: settings are finite numbers (not true/false), not negative; "
                    f"epochs whole, 1 to {MAX_EPOCHS}"
                )
    return grid


def load_grid(path: str, methods: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """A grid from a JSON file ({"figa": [{"learning_rate": 1e-05, "beta": 0.5, ...}, ...], ...}), checked against
    the settings each method tunes, and (given METHODS) the methods compared."""
    try:
        with open(path, encoding="utf-8") as handle:
            grid = json.load(handle)
    except (OSError, ValueError) as error:
        raise FigaError(f"--grid {path}: {error}") from None
    if not isinstance(grid, dict) or not all(
        isinstance(points, list) and all(isinstance(p, dict) for p in points) for points in grid.values()
    ):
        raise FigaError(f"--grid {path}: expected an object of method -> list of settings objects")
    outside = sorted(set(grid) - set(methods)) if methods is not None else []
    if outside:
        raise FigaError(f"--grid {path}: {', '.join(outside)} not among --methods ({', '.join(methods or [])})")
    return check_grid(grid)


def method(name: str) -> MethodSpec:
    if name not in METHODS:
        raise FigaError(f"unknown method {name!r}; the methods are {', '.join(METHODS)}")
    return METHODS[name]

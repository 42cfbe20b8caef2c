"""Each method's settings in `figa demo`: the grid that `figa demo --tune` searches on the validation prompts, the
settings it chose there (the demo's defaults), and the authors' recipe (`figa_paper`). docs/experiments.md shows
the grid with every point's validation reward.

A method's settings: learning_rate, epochs, and its own: DPO's and APO-zero's `dpo_beta` (TRL's beta); FIGA's
`beta`, `gamma`, `tau` (docs/loss.md). Every method trains with a constant learning rate and 8 pairs per step;
`figa_paper` accumulates gradients to one step over every pair (at most 128).
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

from ..errors import FigaError

KEYS = {  # the methods whose settings are chosen on validation prompts, and those settings
    "sft": ("learning_rate", "epochs"),
    "dpo": ("learning_rate", "dpo_beta", "epochs"),
    "apo_zero": ("learning_rate", "dpo_beta", "epochs"),
    "figa": ("learning_rate", "beta", "gamma", "tau", "epochs"),
    # the objectives beyond the paper (docs/loss.md)
    "figa_preference": ("learning_rate", "pref_beta", "epochs"),
    "figa_anchor": ("learning_rate", "beta", "gamma", "tau", "anchor_tau", "epochs"),
    "figa_dft": ("learning_rate", "epochs"),
}


def _grid(**values: list) -> list[dict[str, Any]]:
    return [dict(zip(values, point)) for point in itertools.product(*values.values())]


def _one_at_a_time(base: dict[str, Any], changes: list[dict[str, Any]], **values: list) -> list[dict[str, Any]]:
    """BASE and BASE with each of CHANGES, at every combination of VALUES."""
    return [{**base, **change, **point} for point in _grid(**values) for change in [{}, *changes]]


# Around each method's published defaults: TRL's SFTConfig (learning rate 2e-5) and DPOConfig (1e-6, beta 0.1;
# APO-zero is a DPOConfig loss type), the paper's FIGA (1e-5; beta 0.5, gamma 0, tau 0.6, and each changed alone,
# at 1e-5 and the earlier demo's 3e-5). Epochs 1 and 2 come
# from one two-epoch training: with a constant learning rate its model after the first epoch is the one-epoch model.
GRID: dict[str, list[dict[str, Any]]] = {
    "sft": _grid(learning_rate=[1e-5, 2e-5, 5e-5], epochs=[1, 2]),
    "dpo": _grid(learning_rate=[1e-6, 1e-5], dpo_beta=[0.1, 0.5], epochs=[1, 2]),
    "apo_zero": _grid(learning_rate=[1e-6, 1e-5], dpo_beta=[0.1, 0.5], epochs=[1, 2]),
    "figa": _one_at_a_time(
        {"beta": 0.5, "gamma": 0.0, "tau": 0.6},
        [{"gamma": 0.3}, {"beta": 1.0}, {"tau": 3.0}],
        learning_rate=[1e-5, 3e-5],
        epochs=[1, 2],
    ),
    # the preference objective starts from DPO's published defaults, the anchored push-down from the paper's FIGA
    # settings and then at FIGA's chosen gamma 0.3 and 3e-5 (the anchor changes the push-down only, so it is tried
    # where FIGA's weighting is best), the probability-scaled weighting (TRL's "dft") from SFT's learning rates
    "figa_preference": _grid(learning_rate=[1e-6, 1e-5], pref_beta=[0.1, 0.5], epochs=[1, 2]),
    "figa_anchor": _grid(
        learning_rate=[1e-5, 3e-5], beta=[0.5], gamma=[0.0], tau=[0.6], anchor_tau=[0.5, 2.0], epochs=[1, 2]
    )
    + _grid(learning_rate=[3e-5], beta=[0.5], gamma=[0.3], tau=[0.6], anchor_tau=[0.5, 2.0], epochs=[1, 2]),
    "figa_dft": _grid(learning_rate=[1e-5, 2e-5, 5e-5], epochs=[1, 2]),
}
# The demo's defaults: what `figa demo --tune` chose on the validation prompts (bf16 mixed precision, 66 pairs,
# seed 0; the core methods on 2026-11-30, the objectives beyond the paper on 2026-12-01; the grid with every
# point's validation reward is on docs/experiments.md).
CHOSEN: dict[str, dict[str, Any]] = {
    "sft": {"learning_rate": 5e-5, "epochs": 2},
    "dpo": {"learning_rate": 1e-6, "dpo_beta": 0.5, "epochs": 1},
    "apo_zero": {"learning_rate": 1e-6, "dpo_beta": 0.1, "epochs": 2},
    "figa": {"learning_rate": 3e-5, "beta": 0.5, "gamma": 0.3, "tau": 0.6, "epochs": 2},
    "figa_preference": {"learning_rate": 1e-6, "pref_beta": 0.5, "epochs": 2},
    "figa_anchor": {"learning_rate": 3e-5, "beta": 0.5, "gamma": 0.3, "tau": 0.6, "anchor_tau": 2.0, "epochs": 2},
    "figa_dft": {"learning_rate": 2e-5, "epochs": 1},
}
# RUCAIBox/FIGA bash/run_7b.sh: 5 epochs at a constant 1e-5, 128 pairs per step, alpha 1, beta 0.5, gamma 0, tau 0.6.
PAPER = {"learning_rate": 1e-5, "beta": 0.5, "gamma": 0.0, "tau": 0.6, "epochs": 5, "pairs_per_step": 128}


def point_name(method: str, point: dict[str, Any]) -> str:
    """A grid point's name without its epochs ("figa-lr3e-05-beta0.5-gamma0.3-tau0.6"): one training per name."""
    return "-".join([method] + [f"{short}{point[key]:g}" for key, short in _SHORT.items() if key in point])


_SHORT = {
    "learning_rate": "lr",
    "dpo_beta": "dpobeta",
    "pref_beta": "prefbeta",
    "beta": "beta",
    "gamma": "gamma",
    "tau": "tau",
    "anchor_tau": "anchor",
}


MAX_POINTS = 1000  # a grid of the demo's size has 4 to 16 points per method; each point is a training
MAX_EPOCHS = 100


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def check_grid(grid: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """A grid's methods are tuned methods, and every point gives exactly that method's settings, as numbers."""
    points_in_all = sum(len(points) for points in grid.values())
    if points_in_all > MAX_POINTS:
        raise FigaError(f"grid: {points_in_all} points, each a training; at most {MAX_POINTS}")
    for method, points in grid.items():
        if method not in KEYS:
            raise FigaError(f"grid: {method!r} is not a tuned method ({', '.join(KEYS)})")
        if not points:
            raise FigaError(f"grid: {method} has no point")
        for point in points:
            if set(point) != set(KEYS[method]):
                raise FigaError(f"grid: each {method} point gives {', '.join(KEYS[method])}; got {sorted(point)}")
            bad = [k for k, v in point.items() if not _number(v)]
            if bad or not float(point["epochs"]).is_integer() or not 1 <= point["epochs"] <= MAX_EPOCHS:
                raise FigaError(
                    f"grid: {method} point {point}: settings are finite numbers (not true/false), not negative; "
                    f"epochs whole, 1 to {MAX_EPOCHS}"
                )
    return grid


def load_grid(path: str) -> dict[str, list[dict[str, Any]]]:
    """A grid from a JSON file: {"figa": [{"learning_rate": 1e-05, "beta": 0.5, ...}, ...], ...}."""
    try:
        with open(path, encoding="utf-8") as handle:
            grid = json.load(handle)
    except (OSError, ValueError) as error:
        raise FigaError(f"--grid {path}: {error}") from None
    if not isinstance(grid, dict) or not all(
        isinstance(points, list) and all(isinstance(p, dict) for p in points) for points in grid.values()
    ):
        raise FigaError(f"--grid {path}: expected an object of method -> list of settings objects")
    return check_grid(grid)


def load_chosen(path: str, bf16: bool | None = None) -> dict[str, dict[str, Any]]:
    """The settings `figa demo --tune` chose, from its tune.json (`figa demo --settings`): only a finished tuning's,
    and (given BF16, the run's precision) only one tuned in the same precision."""
    try:
        with open(path, encoding="utf-8") as handle:
            tuned = json.load(handle)
        chosen = tuned["chosen"]
        if not isinstance(chosen, dict) or not all(isinstance(v, dict) for v in chosen.values()):
            raise TypeError("'chosen' is not an object of method -> settings")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FigaError(f"--settings {path}: not a tune.json of `figa demo --tune` ({error})") from None
    check_grid({method: [settings] for method, settings in chosen.items()})
    if tuned.get("complete") is False:
        raise FigaError(
            f"--settings {path}: its tuning has not finished (grid points are not scored yet); run the same "
            "`figa demo --tune` again to finish it"
        )
    context = tuned.get("context")
    tuned_bf16 = isinstance(context, dict) and bool(context.get("bf16"))
    if bf16 is not None and tuned_bf16 != bf16:
        names = {True: "bf16", False: "fp32"}
        raise FigaError(
            f"--settings {path}: tuned in {names[tuned_bf16]}, but this run trains in {names[bf16]}; pass "
            f"--precision {names[tuned_bf16]}, or tune again"
        )
    return {**CHOSEN, **chosen}

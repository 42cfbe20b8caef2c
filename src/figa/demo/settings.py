"""Each method's settings in `figa demo`: the grid that `figa demo --tune` searches on the validation prompts, the
settings it chose there (the demo's defaults), and the authors' recipe (`figa_paper`). docs/experiments.md shows
the grid with every point's validation reward.

A method's settings: learning_rate, epochs, and its own: DPO's and APO-zero's `dpo_beta` (TRL's beta); FIGA's
`beta`, `gamma`, `tau` (docs/loss.md). Every method trains with a constant learning rate and 8 pairs per step;
`figa_paper` accumulates gradients to one step over every pair (at most 128).
"""

from __future__ import annotations

import json
from typing import Any

from ..compare.methods import METHODS, check_grid, load_grid
from ..compare.tuning import point_name
from ..errors import FigaError

__all__ = ["CHOSEN", "GRID", "KEYS", "PAPER", "check_grid", "load_chosen", "load_grid", "point_name"]

# Views of `figa.compare.METHODS` by setting: the methods whose settings are chosen on validation prompts and
# those settings; the grid each is chosen from; what the demo's tuning chose; the authors' recipe.
KEYS = {name: spec.tuned for name, spec in METHODS.items() if spec.tuned}
GRID = {name: list(spec.grid) for name, spec in METHODS.items() if spec.grid}
CHOSEN: dict[str, dict[str, Any]] = {name: dict(spec.chosen or {}) for name, spec in METHODS.items() if spec.tuned}
PAPER = dict(METHODS["figa_paper"].chosen or {})


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

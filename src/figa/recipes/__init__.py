"""Named training recipes (`figa train --recipe NAME`): YAML files of `figa train` options shipped with the
package, as TRL's and torchtune's example configs. `--config` and flags override a recipe's values."""

from __future__ import annotations

from importlib import resources

from ..argparsing import read_yaml
from ..errors import FigaError

DEFAULT = "figa"  # what `figa train --method figa` runs when no recipe is named


def names() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml"))


def recipe_values(name: str) -> dict:
    """The options of the recipe NAME (its `method` included)."""
    if name not in names():
        raise FigaError(f"--recipe {name}: no such recipe; the recipes are {', '.join(names())} (or none)")
    with resources.as_file(resources.files(__name__).joinpath(f"{name}.yaml")) as path:
        return read_yaml(str(path), f"--recipe {name}")

"""accelerate config files for `figa train`: ddp, zero2, zero3 (DeepSpeed) and fsdp (FSDP2).

accelerate launch --config_file "$(python -m figa.accelerate_configs zero3)" --num_processes 8 -m figa train ...
"""

from __future__ import annotations

from importlib import resources

from ..errors import FigaError

NAMES = ("ddp", "zero2", "zero3", "fsdp")


def config_path(name: str) -> str:
    """The path of the shipped accelerate config NAME (one of NAMES)."""
    if name not in NAMES:
        raise FigaError(f"unknown accelerate config {name!r}; choose one of {', '.join(NAMES)}")
    return str(resources.files(__name__).joinpath(f"{name}.yaml"))

"""figa: align language models with FIGA, token-level signals from minimal revisions of their own answers.

The names below are imported when first used, so that `figa curate` or `figa --help` does not load torch and
transformers before it needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
_WHERE = {
    "EditLabels": "edits",
    "label_edits": "edits",
    "FigaError": "errors",
    "RecordError": "errors",
    "figa_loss": "loss",
    "load_records": "records",
    "FIGAConfig": "trainer",
    "FIGATrainer": "trainer",
}
__all__ = [
    "EditLabels",
    "FIGAConfig",
    "FIGATrainer",
    "FigaError",
    "RecordError",
    "figa_loss",
    "label_edits",
    "load_records",
    "__version__",
]

if TYPE_CHECKING:
    from .edits import EditLabels, label_edits
    from .errors import FigaError, RecordError
    from .loss import figa_loss
    from .records import load_records
    from .trainer import FIGAConfig, FIGATrainer


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'figa' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value

"""figa: align language models with FIGA, token-level signals from minimal revisions of their own answers."""

from .edits import EditLabels, label_edits
from .errors import FigaError, RecordError
from .loss import figa_loss
from .records import load_records
from .trainer import FIGAConfig, FIGATrainer

__version__ = "0.1.0"
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

"""Token weights from a judge: `figa weigh` writes `span_weights` for `--weighting external` (see `pipeline`)."""

from .pipeline import WeighConfig, WeighResult, weigh

__all__ = ["WeighConfig", "WeighResult", "weigh"]

"""Evaluation: generate with several models on held-out prompts, score them, compare with paired statistics."""

from .config import EvalConfig
from .runner import evaluate
from .summary import compare
from .tables import table

__all__ = ["EvalConfig", "compare", "evaluate", "table"]

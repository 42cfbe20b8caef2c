"""`figa compare`: every method tuned on validation prompts, trained with seeds, scored on test prompts, reported
with paired intervals (docs/guides/compare.md)."""

from .config import CompareConfig
from .methods import METHODS, MethodSpec
from .run import compare

__all__ = ["METHODS", "CompareConfig", "MethodSpec", "compare"]

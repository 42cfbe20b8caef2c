"""Evaluation: generate with several models on held-out prompts, score them, compare with paired statistics."""

from .runner import EvalConfig, compare, evaluate, table

__all__ = ["EvalConfig", "compare", "evaluate", "table"]

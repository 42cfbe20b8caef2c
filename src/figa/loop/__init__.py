"""Iterated revision-based training: `figa loop` (see `pipeline`), one round at a time (`rounds`)."""

from .pipeline import LoopConfig, LoopResult, loop, round_table
from .rounds import Round, run_round

__all__ = ["LoopConfig", "LoopResult", "Round", "loop", "round_table", "run_round"]

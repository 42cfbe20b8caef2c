"""Training objectives as typed, registered objects: each says which token weights it needs, its normaliser N,
whether it needs a reference model, its loss over a micro-batch's weighted positions, and the settings that go
into reports (docs/objectives.md). `figa train --objective NAME` picks a registered one, `python:module:Class`
one from outside."""

from .base import Objective, ObjectiveSettings, TokenBatch, make_objective, objective_names, register
from .builtin import AnchoredFIGA, EditPreference, FIGAObjective

__all__ = [
    "AnchoredFIGA",
    "EditPreference",
    "FIGAObjective",
    "Objective",
    "ObjectiveSettings",
    "TokenBatch",
    "make_objective",
    "objective_names",
    "register",
]

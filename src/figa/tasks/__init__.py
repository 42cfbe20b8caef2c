"""Built-in tasks made by a program, offline (`figa compare --task NAME`): each writes its training, validation and
test prompts (disjoint) and names its reward and reviser as `python:` specs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import facts
from .constraints import task as constraint_task
from .facts import SPLITS

__all__ = ["SPLITS", "TASKS", "Task"]


@dataclass(frozen=True)
class Task:
    description: str
    prompts: Callable[[str, int, int], list[dict]]  # (split, count, seed) -> prompt records
    reward: str
    reviser: str
    curation: dict[str, Any] = field(default_factory=dict)  # figa curate settings over its defaults


TASKS = {
    "facts": Task(
        "short answers about a passage of made-up facts on two landmarks, whose revisions swap the few wrong "
        "values for the passage's",
        facts.make_prompts,
        "python:figa.tasks.facts:reward",
        "python:figa.tasks.facts:revise",
        {"eta1": 1.0, "max_new_tokens": 96},
    ),
    "facts_sentence": Task(
        "the facts task with each sentence that holds a wrong value rewritten whole, a denser edit of the same fix",
        facts.make_prompts,
        "python:figa.tasks.facts:reward",
        "python:figa.tasks.facts:revise_sentence",
        {"eta1": 1.0, "max_new_tokens": 96},
    ),
    "constraints": Task(
        "figa demo's task, requests on topics with constraints to follow such as quotes, lowercase or a word "
        "limit, whose reviser fixes each one not followed",
        constraint_task.split_prompts,
        "python:figa.tasks.constraints.task:reward",
        "python:figa.tasks.constraints.task:revise",
        {"eta1": 1.0, "max_new_tokens": 160},
    ),
}

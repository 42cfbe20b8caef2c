"""The policy's answers to prompts as a resumable stage: the one sequence `figa curate`'s rollout and `figa eval`'s
generation both run (what an answer depends on, which answers are missing, the prompts too long for the model, the
stage itself)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .policies import prompts_too_long
from .stages import Job, answering_version, generation_inputs, pending, run_stage, text_row, with_version
from .store import StageStore


class AnswerSettings(Protocol):
    prompts: str  # the prompts file, named in the errors about its records
    skip_bad_records: bool
    concurrency: int
    batch_size: int


def answer(
    name: str,
    records: list[dict],
    lines: list[int],
    store: StageStore,
    version: str | None,
    get_policy: Callable[[], Any],
    field_name: str,
    settings: AnswerSettings,
    allow_empty: bool = False,
    bar=None,
) -> None:
    """Save in STORE, under FIELD_NAME, the policy's answer to each of RECORDS (read from LINES of the prompts file)
    that it holds no answer to from the same record and model VERSION (`figa.modeling.model_version`). The policy is
    made by GET_POLICY only when an answer is missing; a prompt longer than the model's context is stored as an error
    (or refused, per `prompts_too_long`)."""
    version = answering_version(version, store, records[0]["id"]) if records else None
    jobs = [Job(r["id"], r, generation_inputs(r, version)) for r in records]
    todo = {job.id for job in pending(jobs, store)}
    policy, refused = None, None
    if todo:
        policy = get_policy()
        waiting = [(record, line) for record, line in zip(records, lines) if record["id"] in todo]
        refused = prompts_too_long(
            policy,
            [record for record, _ in waiting],
            [line for _, line in waiting],
            settings.prompts,
            settings.skip_bad_records,
        )
    to_row = with_version(text_row(field_name, allow_empty), version)
    run_stage(name, jobs, store, policy, to_row, settings.concurrency, settings.batch_size, refused, bar)

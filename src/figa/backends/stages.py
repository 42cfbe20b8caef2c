"""Running one stage (generate, revise or score) over jobs resumably: each result is saved in a `StageStore` as
soon as it exists, and a rerun skips the jobs whose result is saved.

A saved row carries a fingerprint of what the stage read, so a job whose input changed under the same id (an
edited prompt, a new rollout) is computed again instead of reused.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from ..errors import FigaError
from .openai_client import run_concurrently
from .protocols import ReplyError, ServerUnavailable, Truncated
from .store import StageStore, settings_key


@dataclass(frozen=True)
class Job:
    """One unit of a stage: `payload` is what the back end takes; `inputs`, what the result depends on."""

    id: str
    payload: Any
    inputs: tuple

    @property
    def fingerprint(self) -> str:
        return settings_key(*self.inputs)


def pending(jobs: list[Job], store: StageStore) -> list[Job]:
    """The jobs that `store` has no result for, or a result computed from other inputs."""
    return [job for job in jobs if store.fingerprint(job.id) != job.fingerprint]


def _counted(bar, jobs: list[Job], todo: list[Job]) -> None:
    """Advance a bar its owner passed in by the jobs that need no work."""
    if bar is not None:
        bar.update(len(jobs) - len(todo))


def _progress(name: str, jobs: list[Job], todo: list[Job], bar=None):
    """BAR, left open for its owner, or a bar of this stage's own."""
    if bar is not None:
        return contextlib.nullcontext(bar)
    return tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=name, unit="prompt", dynamic_ncols=True)


def run_stage(
    name: str,
    jobs: list[Job],
    store: StageStore,
    backend,
    to_row: Callable[[str, Any], dict],
    concurrency: int,
    batch_size: int,
    refused: dict[str, str] | None = None,
    bar=None,
) -> None:
    """Run `backend` (a batch or per-record back end, see `figa.backends.protocols`) on the pending jobs and save
    `to_row(job.id, result)` for each as soon as it exists; the jobs in REFUSED (id: reason) are saved as errors
    with their reason and not sent. BAR: the progress bar to advance (default: one of its own)."""
    todo = pending(jobs, store)
    _counted(bar, jobs, todo)
    if not todo:
        return

    held: list[tuple[Job, ReplyError]] = []  # failures before any request succeeded: stored once one has
    unanswered: list[ServerUnavailable] = []  # never stored: a rerun asks again
    answered = False

    def store_row(job: Job, result) -> None:
        store.add({**to_row(job.id, result), "input": job.fingerprint})

    def save(job: Job, result) -> None:
        nonlocal answered
        if isinstance(result, ServerUnavailable):
            if not answered:
                raise result  # down, or refusing the key: stop before asking it everything
            unanswered.append(result)
        elif isinstance(result, ReplyError) and not answered:
            held.append((job, result))
        else:
            store_row(job, result)
            answered = True
            for failed_job, error in held:
                store_row(failed_job, error)
            held.clear()
        bar.update()

    with _progress(name, jobs, todo, bar) as bar:
        for job in todo:
            if refused and job.id in refused:
                store_row(job, ReplyError(refused[job.id]))
                bar.update()
        todo = [job for job in todo if not refused or job.id not in refused]
        if backend.per_record:
            run_concurrently(todo, lambda job: backend.one(job.payload), save, concurrency)
        else:
            for start in range(0, len(todo), batch_size):
                chunk = todo[start : start + batch_size]
                for job, result in zip(chunk, backend.batch([job.payload for job in chunk])):
                    save(job, result)
    _fail_unless_answered(name, len(todo), unanswered, [error for _, error in held])


def _fail_unless_answered(name: str, sent: int, unanswered: list, failed: list) -> None:
    """The stage's end: requests the server did not answer, or a stage where every request failed, fail the run
    (neither was stored, so the same command asks again)."""
    if unanswered:
        raise ServerUnavailable(
            f"{name}: {len(unanswered)} of {sent} requests got no answer; the first: {unanswered[0]}"
        )
    if failed:
        raise FigaError(
            f"{name}: every one of the {len(failed)} requests failed (the first: {failed[0]}); none is stored as "
            "the record's verdict: check the server or the code behind it and run the same command again"
        )


def text_row(field_name: str, allow_empty: bool = False) -> Callable[[str, Any], dict]:
    """How a stage stores one generated text (or the error that replaced it); a `Truncated` text is marked."""

    def row(job_id: str, result) -> dict:
        if isinstance(result, ReplyError):
            return {"id": job_id, "error": str(result)}
        if isinstance(result, BaseException):
            raise result
        if not allow_empty and not result.strip():
            return {"id": job_id, "error": "empty response"}
        return {"id": job_id, field_name: result, **({"truncated": True} if isinstance(result, Truncated) else {})}

    return row


def score_job(job_id: str, prompt: str, reference: str | None, texts: dict[str, str | None]) -> Job:
    """A scoring job: each named text (None: nothing to score) is scored against the prompt and the reference."""
    return Job(
        job_id, {"prompt": prompt, "reference": reference, "texts": texts}, (prompt, reference, *texts.values())
    )


def score_stage(name: str, jobs: list[Job], store: StageStore, reward, batch_size: int, bar=None) -> None:
    """Score the pending `score_job`s in batches with `reward` (a `figa.backends.protocols.Reward`), saving
    `{text name: score}` per job, NaN stored as "nan"; BAR as in `run_stage`."""
    todo = pending(jobs, store)
    _counted(bar, jobs, todo)
    if not todo:
        return
    with _progress(name, jobs, todo, bar) as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            scores: dict[tuple[str, str], float] = {}
            for text_name in chunk[0].payload["texts"]:
                scored = [job for job in chunk if job.payload["texts"][text_name] is not None]
                if not scored:
                    continue
                values = reward.score(
                    [job.payload["prompt"] for job in scored],
                    [job.payload["texts"][text_name] for job in scored],
                    [job.payload["reference"] for job in scored],
                )
                scores.update({(job.id, text_name): value for job, value in zip(scored, values)})
            for job in chunk:
                store.add(
                    {
                        "id": job.id,
                        **{
                            text_name: _json_float(scores.get((job.id, text_name)))
                            for text_name in job.payload["texts"]
                        },
                        "input": job.fingerprint,
                    }
                )
            bar.update(len(chunk))


def _json_float(value: float | None):
    return None if value is None else ("nan" if math.isnan(value) else value)


def generation_inputs(record: dict, version: str | None) -> tuple:
    """What a saved answer depends on: the record and, for a local model directory, the version of the model saved
    there (`figa.modeling.model_version`), so a model trained again at the same path answers anew."""
    return (record,) if version is None else (record, version)


def answering_version(version: str | None, generated: StageStore, first_id: str) -> str | None:
    """VERSION; or, for a model directory removed since, the version its saved answers carry: they stand, as
    nothing else can be generated from it."""
    return version or (generated.get(first_id) or {}).get("model")


def with_version(to_row, version: str | None):
    return to_row if version is None else lambda job_id, result: {**to_row(job_id, result), "model": version}

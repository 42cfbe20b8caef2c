"""Who does which job of a comparison (a grid point's training and scoring, a seed's training, the evaluation):
this process alone, or several workers sharing an Optuna study (`--study FILE`, Optuna's journal file storage)
whose grid sampler hands each worker the jobs no worker has taken. Start the same `figa compare ... --study FILE`
once per GPU or machine (a file system they share); every worker returns once every job is done.

Each job runs under an exclusive lock on OUT/locks/JOB.lock (`fcntl.flock`), so that two workers never run one job
at once: the grid sampler may hand a job out twice near the end of a study, and a worker that finds a job
unfinished and unlocked (its worker died) runs it itself. A job's results are kept on disk, so running one again
after it finished costs a check, not the work."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator

from ..errors import FigaError
from ..files import open_append

logger = logging.getLogger(__name__)
POLL_SECONDS = 2.0


@contextlib.contextmanager
def _lock(directory: str, job: str) -> Iterator[bool]:
    """Whether this process holds JOB's lock (False: another worker runs it now)."""
    os.makedirs(directory, exist_ok=True)
    handle = open_append(os.path.join(directory, f"{job}.lock"))  # never through a planted link
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def run_jobs(
    stage: str,
    jobs: list[str],
    work: Callable[[str], None],
    locks: str,
    study: str | None,
    done: Callable[[str], bool],
) -> None:
    """Every one of JOBS (names) done once by WORK(job), in this process (STUDY None) or by the workers sharing the
    Optuna journal STUDY; DONE(job) tells a job whose results are on disk. Returns when every job is done."""
    if study is None:
        for job in jobs:
            with _lock(locks, job) as mine:
                if not mine:
                    raise FigaError(
                        f"{stage} job {job} is running in another process on this output directory; wait for it, "
                        "or start every worker with the same --study FILE to share the jobs"
                    )
                work(job)
        return
    _shared(stage, jobs, work, locks, study, done)


def _shared(stage: str, jobs: list[str], work, locks: str, study_path: str, done) -> None:
    try:
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
    except ImportError:
        raise FigaError("--study needs Optuna: pip install 'figa-align[compare]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(study_path))
    study = optuna.create_study(
        study_name=stage,
        storage=storage,
        sampler=optuna.samplers.GridSampler({"job": jobs}),
        direction="maximize",
        load_if_exists=True,
    )

    def objective(trial) -> float:
        job = trial.suggest_categorical("job", jobs)
        with _lock(locks, job) as mine:
            if mine and not done(job):
                logger.info(f"{stage}: {job} (this worker)")
                work(job)
        return 0.0

    if any(not done(job) for job in jobs):
        study.optimize(objective)  # the grid sampler stops the study once every job was handed out
    while True:  # jobs handed to other workers: wait for them, or take over one whose worker died
        waiting = [job for job in jobs if not done(job)]
        if not waiting:
            return
        for job in waiting:
            with _lock(locks, job) as mine:
                if mine and not done(job):
                    logger.info(f"{stage}: {job} (unfinished, its worker is gone: this worker)")
                    work(job)
        time.sleep(POLL_SECONDS)

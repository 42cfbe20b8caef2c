"""`figa curate`: prompts -> rollout -> reward -> select -> revise -> re-score and accept -> SPA records.

One function per stage, over a block of `Prompt`s; a stage that rejects a prompt records the stage and the reason
on it, and later stages skip it. Each stage appends its results to `OUTPUT_DIR/stages/<stage>-<key>.jsonl`, where
the key hashes the stage's settings and those of the stages before it: a rerun skips finished records, and a
changed setting recomputes its stage and the ones after it only. Every input prompt ends in exactly one of
train.jsonl / rejected.jsonl.

A run holds `block_size` prompts in memory at a time, whatever the number of prompts: each stage makes one pass
over the prompts in blocks, reading what the stages before it decided back from their stage files (`replay`),
so a stage's back end (a policy model, a reviser model) is loaded once and released before the next stage's.
A block a pass has finished is marked (`finished.py`); a resumed run skips it without reading it again.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import json
import logging
import os
import time
from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from tqdm.auto import tqdm

from ..backends.answering import answer
from ..backends.fingerprints import spec_key
from ..backends.policies import make_policy
from ..backends.rewards import finite, make_reward
from ..backends.stages import (
    Job,
    pending,
    run_stage,
    score_job,
    score_stage,
    text_row,
)
from ..backends.store import StageStore, settings_key
from ..errors import FigaError
from ..files import atomic_file, check_outputs, prepare_output_dir, write_json
from ..hub import check_hub_access, dataset_card, push_dataset
from ..modeling import model_version
from ..prompts import query_text
from ..records import QUERY_COLUMNS, LoadReport, check_loaded, iter_records
from ..results import CurateStats
from ..tracking import log_numbers
from .config import CurateConfig
from .filters import QUANTILE_OF, Thresholds, accept_revision, edit_ratio, select_for_revision, words
from .finished import FinishedBlocks, content_hash
from .report import CurationTally, curation_numbers
from .revisers import REVISION_TEMPLATE, check_template, make_reviser

logger = logging.getLogger(__name__)


@dataclass
class Prompt:
    """One input prompt on its way through the stages."""

    id: str
    record: dict
    text: str
    reference: str | None
    line: int  # in the prompts file
    original: str | None = None
    rewards: dict = field(default_factory=dict)
    revised: str | None = None
    edit_ratio: float | None = None
    truncated: bool = False  # the rollout hit max_new_tokens
    rejected: tuple[str, str] | None = None  # (stage, reason)

    def reject(self, stage: str, reason: str) -> None:
        self.rejected = (stage, reason)


@dataclass
class CurateResult:
    """What a run wrote (train.jsonl and rejected.jsonl are in OUTPUT_DIR; a run does not hold them in memory)."""

    stats: CurateStats
    output_dir: str
    url: str | None = None  # where --push_to_hub put the data set
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each stage's pass and of the outputs

    @property
    def train(self) -> list[dict]:
        """The rows of train.jsonl (read from the file on each access)."""
        return _read_jsonl(os.path.join(self.output_dir, "train.jsonl"))

    @property
    def rejected(self) -> list[dict]:
        """The rows of rejected.jsonl (read from the file on each access)."""
        return _read_jsonl(os.path.join(self.output_dir, "rejected.jsonl"))


def _read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


OUTPUT_NAMES = ("train.jsonl", "rejected.jsonl", "stats.json", "curate_config.json", "README.md")


class _Run:
    """What every stage reads: the settings, the open stage stores, the shared reward, and the stage's back end
    (made when a block first needs it, released at the end of the stage's pass)."""

    def __init__(self, config: CurateConfig, template: str):
        self.config, self.template = config, template
        self.directory = os.path.join(config.output_dir, "stages")
        self.generation = config.generation()
        self.endpoint = config.endpoint(config.max_new_tokens)
        self.keys = {
            "rollout": settings_key(
                "rollout", config.policy, config.policy_backend, asdict(self.generation), config.prompt_format
            )
        }
        self.keys["reward"] = settings_key("reward", spec_key(config.reward), self.keys["rollout"])
        self.thresholds: Thresholds | None = None
        if not config.quantiles():
            self.use_thresholds(config.thresholds())
        self.reward = make_reward(
            config.reward, self.endpoint, config.batch_size, config.trust_remote_code, config.concurrency
        )
        self.policy_version = model_version(config.policy) if config.policy_backend in ("hf", "vllm") else None
        self.stores: dict[str, StageStore] = {}
        self.backend = None
        self.bar = None  # the progress of the stage being computed
        self.warned_of_scale = False

    def use_thresholds(self, thresholds: Thresholds) -> None:
        """The thresholds in the reward's units, and the settings keys of the stages that depend on them (the
        reference-edit reviser aims at eta1 unless --revise_target is given)."""
        config = self.config
        self.thresholds = thresholds
        self.target = thresholds.eta1 if config.revise_target is None else config.revise_target
        self.keys["revise"] = settings_key(
            "revise",
            spec_key(config.reviser, "reviser"),
            self.template,
            self.target,
            asdict(self.generation),
            self.keys["reward"],
        )
        self.keys["rescore"] = settings_key("rescore", self.keys["revise"])

    def store(self, stage: str) -> StageStore:
        if stage not in self.stores:
            self.stores[stage] = StageStore(self.directory, stage, self.keys[stage])
        return self.stores[stage]

    def backend_for(self, make):
        if self.backend is None:
            self.backend = make()
        return self.backend

    def end_pass(self) -> None:
        self.backend = None
        gc.collect()  # a released policy or reviser model frees its memory before the next stage loads one

    def close(self) -> None:
        for store in self.stores.values():
            store.close()


def _live(prompts: list[Prompt]) -> list[Prompt]:
    return [prompt for prompt in prompts if prompt.rejected is None]


def rollout(prompts: list[Prompt], run: _Run, compute: bool) -> None:
    """The policy answers each prompt; an error, an empty answer or (unless --keep_truncated) an answer cut at
    max_new_tokens rejects the prompt."""
    config = run.config
    store = run.store("rollout")
    if compute:
        answer(
            "rollout",
            [p.record for p in prompts],
            [p.line for p in prompts],
            store,
            run.policy_version,
            lambda: run.backend_for(
                lambda: make_policy(
                    config.policy,
                    config.policy_backend,
                    run.generation,
                    run.endpoint,
                    config.prompt_format,
                    config.trust_remote_code,
                )
            ),
            "original_output",
            config,
            bar=run.bar,
        )
    for prompt in prompts:
        row = store.get(prompt.id)
        prompt.truncated = bool(row.get("truncated"))
        if "error" in row:
            prompt.reject("rollout", row["error"])
        elif prompt.truncated and not config.keep_truncated:
            prompt.reject(
                "rollout",
                f"the response was cut at max_new_tokens={config.max_new_tokens} "
                "(raise --max_new_tokens, or pass --keep_truncated)",
            )
        else:
            prompt.original = row["original_output"]


def score(prompts: list[Prompt], run: _Run, compute: bool) -> None:
    """The reward scores each answer and its reference; a score that is not a finite number rejects the prompt."""
    live = _live(prompts)
    store = run.store("reward")
    if compute:
        jobs = [score_job(p.id, p.text, p.reference, {"original": p.original, "reference": p.reference}) for p in live]
        score_stage("reward", jobs, store, run.reward, run.config.batch_size, run.bar)
    for prompt in live:
        row = store.get(prompt.id)
        rewards = {name: finite(row[name]) for name in ("original", "reference") if row.get(name) is not None}
        if None in rewards.values():
            prompt.reject("reward", "the reward is not a finite number")
        else:
            prompt.rewards = rewards


def select(prompts: list[Prompt], run: _Run, compute: bool) -> None:
    """Keep the prompts the policy answered poorly (η1, and with a reference η2 and η3). It opens the revise pass,
    since thresholds given as quantiles are known only once every answer is scored; the prompts it drops count as
    done on that pass's progress bar."""
    live = _live(prompts)
    if compute:
        _warn_of_scale(live, run)
    for prompt in live:
        reason = select_for_revision(prompt.rewards, run.thresholds)
        if reason:
            prompt.reject("filter", reason)
    if compute and run.bar is not None:
        run.bar.update(len(live) - len(_live(prompts)))


def _warn_of_scale(live: list[Prompt], run: _Run) -> None:
    """Once per run, before any revision is asked for: a reward whose scores leave 0..1 while the thresholds are
    the defaults, which assume that scale (a reward model's raw logits run from about -8 to 8)."""
    scores = sorted(p.rewards["original"] for p in live)
    on_scale = ("eta1", "eta2", "eta3", "min_gain")  # the thresholds in the reward's units
    defaults = all(getattr(run.config, name) == getattr(Thresholds, name) for name in on_scale)
    if run.warned_of_scale or not scores or not defaults or 0 <= scores[0] and scores[-1] <= 1:
        return
    run.warned_of_scale = True
    logger.warning(
        f"--reward {run.config.reward} scores answers from {scores[0]:.3g} to {scores[-1]:.3g}, outside 0..1, the "
        f"scale the default thresholds assume (--eta1 {Thresholds.eta1}, --eta2 {Thresholds.eta2}, --min_gain "
        f"{Thresholds.min_gain}): set them on its scale, e.g. --eta1 {scores[len(scores) // 2]:.3g}, or --eta1 q0.5 "
        "(the median of the run's rewards) to revise the worse half"
    )


def observed(source: PromptSource, run: _Run) -> dict[str, array]:
    """What the thresholds given as quantiles are quantiles of (`QUANTILE_OF`), over every prompt of the run, read
    back from the rollout and reward stores."""
    seen = {name: array("d") for name in QUANTILE_OF}
    for block in source.blocks():
        rollout(block, run, compute=False)
        score(block, run, compute=False)
        for prompt in _live(block):
            original, reference = prompt.rewards["original"], prompt.rewards.get("reference")
            seen["eta1"].append(original)
            if reference is not None:
                seen["eta2"].append(reference)
                seen["eta3"].append(reference - original)
    return seen


def resolve_thresholds(source: PromptSource, run: _Run) -> None:
    """Once every answer is scored: the thresholds given as quantiles, in the reward's units (logged)."""
    seen = observed(source, run)
    run.use_thresholds(run.config.thresholds(seen))
    for name, p in run.config.quantiles().items():
        value = getattr(run.thresholds, name)
        shown = "unused (no prompt has a reference)" if value is None else f"{value:.4g}"
        logger.info(f"--{name} q{p:g} is {shown}: the {p:g} quantile of {QUANTILE_OF[name]} ({len(seen[name])})")


def revise(prompts: list[Prompt], run: _Run, compute: bool) -> None:
    """The reviser edits each selected answer; an error or a revision that changes nothing rejects the prompt."""
    config, live = run.config, _live(prompts)
    store = run.store("revise")
    if compute:
        jobs = [
            Job(
                p.id,
                {"prompt": p.text, "original": p.original, "reference": p.reference, "target": run.target},
                (p.text, p.original, p.reference, run.target),
            )
            for p in live
        ]
        if pending(jobs, store):
            run.backend_for(
                lambda: make_reviser(
                    config.reviser, run.reward, run.endpoint, run.template, run.generation, config.trust_remote_code
                )
            )
        run_stage(
            "revise",
            jobs,
            store,
            run.backend,
            text_row("revised_output"),
            config.concurrency,
            config.batch_size,
            bar=run.bar,
        )
    for prompt in live:
        row = store.get(prompt.id)
        if "error" in row:
            prompt.reject("revise", row["error"])
        elif row["revised_output"].strip() == prompt.original.strip():
            prompt.reject("revise", "the revision made no change")
        else:
            prompt.revised = row["revised_output"]


def rescore_and_accept(prompts: list[Prompt], run: _Run, compute: bool) -> None:
    """Score each revision; keep it when it is better by min_gain and a minimal edit (max_edit_ratio)."""
    live, thresholds = _live(prompts), run.thresholds
    store = run.store("rescore")
    if compute:
        jobs = [score_job(p.id, p.text, p.reference, {"revised": p.revised}) for p in live]
        score_stage("rescore", jobs, store, run.reward, run.config.batch_size, run.bar)
    for prompt in live:
        value = finite(store.get(prompt.id)["revised"])
        if value is None:
            prompt.reject("rescore", "the reward of the revision is not a finite number")
            continue
        prompt.rewards["revised"] = value
        prompt.edit_ratio = edit_ratio(prompt.original, prompt.revised)
        reason = accept_revision(prompt.rewards, prompt.edit_ratio, thresholds)
        if reason:
            prompt.reject("filter_revision", reason)


# Each pass is named after the stage store it fills; selecting needs no back end and opens the reviser's pass.
PASSES = {"rollout": (rollout,), "reward": (score,), "revise": (select, revise), "rescore": (rescore_and_accept,)}


def spa_record(prompt: Prompt, run: _Run) -> dict:
    config, record = run.config, prompt.record
    return {
        "id": prompt.id,
        **{k: record[k] for k in QUERY_COLUMNS if record.get(k) is not None},
        "original_output": prompt.original,
        "revised_output": prompt.revised,
        **({"output": prompt.reference} if prompt.reference else {}),
        "rewards": prompt.rewards,
        "edits": {
            "edit_ratio": prompt.edit_ratio,
            "original_words": len(words(prompt.original)),
            "revised_words": len(words(prompt.revised)),
        },
        "meta": {
            "policy": config.policy,
            "policy_backend": config.policy_backend,
            "reward": config.reward,
            "reviser": config.reviser,
            "config_hash": run.keys["rescore"],
        },
    }


def prompts_identity(path: str) -> dict:
    """Where the prompts file is and what it holds, for readers of the output (`figa studio`, `curate merge`) that
    must find the same file from another working directory, or tell another file from it."""
    return {"prompts_abspath": os.path.abspath(path), "prompts_sha256": content_hash(path)}


def in_shard(record_id: str, part: tuple[int, int] | None) -> bool:
    """Whether RECORD_ID belongs to part (I, N): a hash of the id, so every machine splits the same way whatever
    the order of the prompts."""
    if part is None:
        return True
    return int(hashlib.sha256(record_id.encode()).hexdigest()[:16], 16) % part[1] == part[0]


class PromptSource:
    """The input prompts (of this run's --shard), read again for each pass, `block_size` at a time; the first read
    checks every record (so a bad record stops the run before any work) and counts them in `report`. Bad records
    have no trustworthy id: they belong to part 0."""

    def __init__(self, config: CurateConfig):
        self.config, self.part = config, config.shard_part()
        self.report, self.count = LoadReport(source=config.prompts), 0
        for record, _ in iter_records(config.prompts, self.report, config.skip_bad_records, require_responses=False):
            self.count += in_shard(record["id"], self.part)
        check_loaded(self.report)
        if self.part and self.part[0]:
            self.report.skipped = []
        self.report.read = self.count + len(self.report.skipped)

    def __len__(self) -> int:
        return self.count

    def block_count(self) -> int:
        return -(-self.count // self.config.block_size)

    def blocks(self) -> Iterator[list[Prompt]]:
        again = LoadReport(source=self.config.prompts)
        block: list[Prompt] = []
        for r, line in iter_records(self.config.prompts, again, skip_bad_records=True, require_responses=False):
            if not in_shard(r["id"], self.part):
                continue
            block.append(Prompt(r["id"], r, query_text(r), r["output"] or None, line))
            if len(block) == self.config.block_size:
                yield block
                block = []
        if block:
            yield block


def run_passes(source: PromptSource, run: _Run, finished: FinishedBlocks) -> dict[str, float]:
    """Each pass: for every block it has not finished, replay the earlier passes' stages from their stores, then
    compute this one; a finished block (or pass) is skipped without being read. Returns each pass's seconds."""
    entering, seconds = len(source), {}
    for index, name in enumerate(PASSES):
        started = time.perf_counter()
        if run.thresholds is None and name == "revise":
            resolve_thresholds(source, run)
        done = [finished.get(name, run.keys[name], block) for block in range(source.block_count())]
        run.bar = bar = tqdm(total=entering, desc=name, unit="prompt", dynamic_ncols=True)
        try:
            blocks = source.blocks() if None in done else iter(())
            entering = sum(
                _skip(row, bar) if row else _compute(index, number, block, run, finished)
                for number, (row, block) in enumerate(itertools.zip_longest(done, blocks))
            )
        finally:
            bar.close()
            run.end_pass()
        seconds[name] = time.perf_counter() - started
    return seconds


def _skip(row: dict, bar) -> int:
    """A block this pass finished earlier: counted, not read. Returns the prompts it left for the next pass."""
    bar.update(row["entered"])
    return row["left"]


def _compute(index: int, number: int, block: list[Prompt], run: _Run, finished: FinishedBlocks) -> int:
    """Pass INDEX over block NUMBER: the earlier passes' stages replayed, this pass's computed, the block marked
    finished. Returns the prompts it left for the next pass."""
    names, passes = list(PASSES), list(PASSES.values())
    for stage in (stage for earlier in passes[:index] for stage in earlier):
        stage(block, run, compute=False)
    entered = len(_live(block))
    for stage in passes[index]:
        stage(block, run, compute=True)
    left = len(_live(block))
    finished.add(
        names[index], run.keys[names[index]], number, entered, left, [run.store(n) for n in names[: index + 1]]
    )
    return left


def write_outputs(source: PromptSource, run: _Run) -> CurateResult:
    """train.jsonl, rejected.jsonl (stage and reason), stats.json and curate_config.json, written a block at a
    time from what the stages saved."""
    out, report, tally = run.config.output_dir, source.report, CurationTally()
    with (
        atomic_file(os.path.join(out, "train.jsonl")) as train,
        atomic_file(os.path.join(out, "rejected.jsonl")) as rejected,
    ):
        for problem in report.skipped:
            rejected.write(_json_line({"id": None, "stage": "input", "reason": problem}))
        for block in source.blocks():
            for stage in (stage for stages in PASSES.values() for stage in stages):
                stage(block, run, compute=False)
            for p in block:
                row = None if p.rejected else spa_record(p, run)
                tally.add(p, row)
                if row:
                    train.write(_json_line(row))
                else:
                    rejected.write(
                        _json_line(
                            {
                                "id": p.id,
                                "stage": p.rejected[0],
                                "reason": p.rejected[1],
                                **({"original_output": p.original} if p.original else {}),
                                **({"rewards": p.rewards} if p.rewards else {}),
                            }
                        )
                    )
    stats = tally.stats(report)
    stats["thresholds"] = asdict(run.thresholds)
    if source.part:
        stats["shard"] = {"index": source.part[0], "count": source.part[1]}
    write_json(os.path.join(out, "stats.json"), stats)
    settings = dict(asdict(run.config), config_hash=run.keys["rescore"], **prompts_identity(run.config.prompts))
    write_json(os.path.join(out, "curate_config.json"), settings)
    card = dataset_card(run.config.push_to_hub or os.path.basename(os.path.normpath(out)), settings, stats)
    with atomic_file(os.path.join(out, "README.md")) as handle:
        handle.write(str(card))
    return CurateResult(stats, out)


def _json_line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


def _template(config: CurateConfig) -> str:
    if not config.revision_template:
        return REVISION_TEMPLATE
    if not os.path.isfile(config.revision_template):
        raise FigaError(f"--revision_template {config.revision_template}: no such file")
    with open(config.revision_template, encoding="utf-8") as handle:
        return check_template(handle.read(), f"--revision_template {config.revision_template}")


def curate(config: CurateConfig) -> CurateResult:
    """Run every stage (resuming what a previous run saved) and write the outputs."""
    config.check()
    if config.push_to_hub:
        check_hub_access(f"--push_to_hub {config.push_to_hub}")
    check_outputs(
        {f"--output_dir's {name}": os.path.join(config.output_dir, name) for name in OUTPUT_NAMES},
        {"--prompts": config.prompts, "--revision_template": config.revision_template},
    )
    prepare_output_dir(config.output_dir, "--output_dir")
    template = _template(config)
    source = PromptSource(config)
    run = _Run(config, template)
    finished = FinishedBlocks(run.directory, config, template, run.policy_version)
    try:
        seconds = run_passes(source, run, finished)
        started = time.perf_counter()
        result = write_outputs(source, run)
        result.seconds = {**seconds, "outputs": time.perf_counter() - started}
    finally:
        finished.close()
        run.close()
    log_numbers(
        config.report_to,
        config.output_dir,
        config.project,
        "curate",
        curation_numbers(result.stats),
        {
            k: v
            for k, v in asdict(config).items()
            if k in ("policy", "reward", "reviser", "eta1", "eta2", "eta3", "min_gain", "max_edit_ratio")
        },
    )
    if config.push_to_hub:
        result.url = push_dataset(config.output_dir, config.push_to_hub, config.hub_private_repo)
    return result

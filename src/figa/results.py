"""The results that cross a module boundary, as typed dicts with a schema version in their JSON: what `figa eval`
writes to results.json (read by `--compare`, the demo and the loop), what `figa curate` writes to stats.json (read
by the demo, the loop, the data set card and the trackers), and the demo's report.json. Every reader reads them
through these types, so a key is spelled and shaped in one place and checked by the type checker."""

from __future__ import annotations

from typing import NotRequired, TypedDict

EVAL_RESULTS_FORMAT = "figa-eval-results/1"
CURATE_STATS_FORMAT = "figa-curate-stats/1"
DEMO_REPORT_FORMAT = "figa-demo-report/1"


class RewardStats(TypedDict):
    mean: float
    std: float
    ci95: tuple[float, float]  # 95% bootstrap interval of the mean


class VsBaseline(TypedDict):
    delta: float  # mean paired difference, this model minus the baseline
    ci95: tuple[float, float]
    win: float  # share of prompts where this model's reward is higher
    tie: float
    loss: float


class ModelRow(TypedDict, total=False):
    name: str
    model: str | None
    n: int  # prompts every model has a finite reward for
    unscored: int
    reward: RewardStats
    length: dict
    vs_baseline: VsBaseline  # absent for the baseline


class ModelResponse(TypedDict):
    response: str | None
    reward: float | None
    truncated: bool


class ResponseEntry(TypedDict):
    id: str
    prompt: str
    by_model: dict[str, ModelResponse]


class LikelihoodRow(TypedDict):  # figa.evaluation.likelihood
    pairs: int
    pair_ids: list[str]
    pairs_gained: float
    tokens_moved: float
    margin_gain: float  # mean over pairs of this model's margin minus the baseline's
    margin_gain_ci95: list[float]  # pairs that share meta.paragraph resampled together
    mean_margin: float
    margins: list[float]  # one per pair, in the order of pair_ids


class EvalResults(TypedDict, total=False):
    format: str  # EVAL_RESULTS_FORMAT
    baseline: str
    prompts: int
    compared: int
    models: list[ModelRow]
    responses: list[ResponseEntry]
    skipped_prompts: list[str]
    settings: dict
    lm_eval: dict
    likelihood: dict[str, LikelihoodRow]  # by model name
    compared_files: list[str]


class Distribution(TypedDict, total=False):  # only `count` when there are no values
    count: int
    mean: float
    std: float
    min: float
    p25: float
    median: float
    p75: float
    max: float


class CurateCounts(TypedDict):
    read: int
    bad_input: int
    prompts: int
    rejected_by_stage: dict[str, int]
    train: int
    rejected: int
    truncated_rollouts: int


class CurateStats(TypedDict):
    format: str  # CURATE_STATS_FORMAT
    counts: CurateCounts
    rewards: dict[str, Distribution]  # original, revised, reference
    train_rewards: dict[str, Distribution]
    edit_ratio: Distribution
    thresholds: NotRequired[dict[str, float | None]]  # eta1 .. max_edit_ratio as used, quantiles resolved
    shard: NotRequired[dict[str, int]]  # index, count: one part of a run split with --shard


class DemoReport(TypedDict):
    format: str  # DEMO_REPORT_FORMAT
    settings: dict
    timing: dict[str, float]
    curation: dict
    training: dict
    methods: list[dict]
    per_constraint: dict

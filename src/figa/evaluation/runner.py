"""`figa eval`: generate with each model under the same decoding settings, score with a reward back end, and
compare the models on the same prompts (the first model is the baseline).

Generations and scores are saved per record under `OUTPUT_DIR/stages/`, so an interrupted run resumes where it
stopped. `compare` builds the same report from saved results.json files.
"""

from __future__ import annotations

import gc
import json
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from ..backends.fingerprints import spec_key
from ..backends.generation import EndpointOptions, GenerationOptions
from ..backends.policies import POLICY_BACKEND_HELP, POLICY_BACKENDS, make_policy, prompts_too_long
from ..backends.protocols import Truncated
from ..backends.rewards import finite, make_reward
from ..backends.stages import (
    Job,
    answering_version,
    generation_inputs,
    pending,
    run_stage,
    score_job,
    score_stage,
    text_row,
    with_version,
)
from ..backends.store import StageStore, settings_key
from ..errors import FigaError
from ..files import check_outputs, prepare_output_dir, write_json
from ..modeling import DTYPES, model_version
from ..prompts import query_text
from ..records import load_records
from ..results import EVAL_RESULTS_FORMAT, EvalResults, ModelRow
from .harness import run_lm_eval
from .likelihood import likelihood_comparison
from .stats import bootstrap_mean_ci, length_stats, mean_interval, win_tie_loss

RESULTS_FORMAT = EVAL_RESULTS_FORMAT  # kept for earlier imports


@dataclass
class EvalConfig(GenerationOptions, EndpointOptions):
    model: list[str] = field(
        default_factory=list,
        metadata={"help": "Models to evaluate (local path or hub id), the baseline first: --model BASE ALIGNED ..."},
    )
    names: list[str] = field(default_factory=list, metadata={"help": "Display names, one per --model."})
    prompts: str | None = field(
        default=None, metadata={"help": "Held-out prompts (JSONL/JSON/Parquet with prompt | messages | instruction)."}
    )
    reward: str | None = field(default=None, metadata={"help": "hf:MODEL, python:module:function or openai:MODEL."})
    output_dir: str | None = field(default=None, metadata={"help": "Where results.json and stages/ go."})
    compare: list[str] = field(
        default_factory=list,
        metadata={"help": "Compare saved results.json files instead of generating: --compare a.json b.json"},
    )
    backend: str = field(default="hf", metadata={"help": POLICY_BACKEND_HELP, "choices": list(POLICY_BACKENDS)})
    dtype: str = field(
        default="auto",
        metadata={
            "help": "hf back end: the weights' dtype while generating: auto (each checkpoint's), float32, bfloat16 "
            "(about 1.8x faster on a CPU with AMX or AVX512-BF16) or float16.",
            "choices": list(DTYPES),
        },
    )
    bootstrap_samples: int = field(default=1000, metadata={"help": "Bootstrap resamples for the 95%% intervals."})
    skip_bad_records: bool = field(default=False, metadata={"help": "Skip bad prompt records instead of stopping."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow model repository code to run."})
    lm_eval: list[str] = field(
        default_factory=list,
        metadata={
            "help": "lm-evaluation-harness tasks to run on each model too (e.g. --lm_eval arc_easy hellaswag); "
            "alone, without --prompts and --reward, only these run."
        },
    )
    lm_eval_include_path: str | None = field(
        default=None, metadata={"help": "A directory of your own lm-eval task YAML files."}
    )
    lm_eval_limit: int | None = field(default=None, metadata={"help": "At most this many examples per task."})
    pairs: str | None = field(
        default=None,
        metadata={
            "help": "Held-out SPA pairs (e.g. `figa import --heldout_fraction`'s NAME.heldout.jsonl): compare how "
            "each model's log-probabilities moved on them against the baseline, without generating; alone, "
            "without --prompts and --reward, only this runs."
        },
    )

    def check(self) -> None:
        if self.compare:
            if len(self.compare) < 2:
                raise FigaError("--compare needs two or more results.json files")
            return
        for name in ("model", "output_dir") + (
            ("prompts", "reward") if not (self.lm_eval or self.pairs) or self.prompts or self.reward else ()
        ):
            if not getattr(self, name):
                raise FigaError(f"--{name} is required (or use --compare a.json b.json)")
        if self.names and len(self.names) != len(self.model):
            raise FigaError(f"--names gives {len(self.names)} names for {len(self.model)} models")
        for name in self.display_names():
            if not name or name in (".", "..") or "/" in name or os.sep in name:
                raise FigaError(
                    f"--names {name!r}: a name cannot be empty or hold a path separator (each names a "
                    "file under --output_dir)"
                )
        if len(set(self.display_names())) != len(self.model):
            raise FigaError("two models have the same name; give distinct ones with --names")
        self.check_generation()
        self.check_endpoint()
        if self.bootstrap_samples < 1:
            raise FigaError("--bootstrap_samples must be at least 1")

    def display_names(self) -> list[str]:
        return list(self.names) or [os.path.basename(os.path.normpath(m)) or m for m in self.model]


def _generate_and_score(
    name: str, model: str, records: list[dict], lines: list[int], reward, reward_key: str, config: EvalConfig
) -> tuple[dict, dict]:
    """One model's responses and rewards by record id, from its stage stores (resuming what they hold); REWARD_KEY
    is `spec_key` of the reward, computed once per run."""
    gen, stages_dir = config.generation(), os.path.join(config.output_dir, "stages")
    weights = () if config.dtype == "auto" else (config.dtype,)  # "auto" keeps the key of runs before --dtype
    key = settings_key("eval-generate", model, config.backend, asdict(gen), config.prompt_format, *weights)
    generated = StageStore(stages_dir, "generate", key)
    version = answering_version(model_version(model), generated, records[0]["id"]) if records else None
    jobs = [Job(r["id"], r, generation_inputs(r, version)) for r in records]
    todo = {job.id for job in pending(jobs, generated)}
    if todo:
        policy = make_policy(
            model,
            config.backend,
            gen,
            config.endpoint(config.max_new_tokens),
            config.prompt_format,
            config.trust_remote_code,
            config.dtype,
        )
        waiting = [(r, line) for r, line in zip(records, lines) if r["id"] in todo]
        refused = prompts_too_long(
            policy, [r for r, _ in waiting], [line for _, line in waiting], config.prompts, config.skip_bad_records
        )
        run_stage(
            f"generate {name}",
            jobs,
            generated,
            policy,
            with_version(text_row("response", allow_empty=True), version),
            config.concurrency,
            config.batch_size,
            refused,
        )
        del policy
        gc.collect()
    responses = {r["id"]: _text(generated.get(r["id"])) for r in records}
    scored = StageStore(stages_dir, "score", settings_key("eval-score", reward_key, key))
    score_stage(
        f"score {name}",
        [score_job(r["id"], query_text(r), r["output"] or None, {"reward": responses[r["id"]]}) for r in records],
        scored,
        reward,
        config.batch_size,
    )
    rewards = {r["id"]: finite(scored.get(r["id"]).get("reward")) for r in records}
    generated.close()
    scored.close()
    return responses, rewards


def _text(row: dict) -> str | None:
    """A saved generation (a `Truncated` one when it hit the token limit); None when generation failed."""
    text = row.get("response")
    return Truncated(text) if text is not None and row.get("truncated") else text


def evaluate(config: EvalConfig) -> EvalResults:
    """Generate with each model, score, compare (or, with `compare`, compare saved results); writes
    OUTPUT_DIR/results.json (when there is an output_dir) and returns the results."""
    config.check()
    if config.output_dir:
        check_outputs(
            {"--output_dir's results.json": os.path.join(config.output_dir, "results.json")},
            {
                "--prompts": config.prompts,
                "--pairs": config.pairs,
                **{f"--compare {path}": path for path in config.compare},
            },
        )
        prepare_output_dir(config.output_dir, "--output_dir")
    if config.compare:
        results = compare(config.compare, config.bootstrap_samples, config.seed)
        if config.output_dir:
            write_json(os.path.join(config.output_dir, "results.json"), results)
        return results
    names = config.display_names()
    results = (
        _reward_results(config, names)
        if config.prompts
        else {
            "format": RESULTS_FORMAT,
            "baseline": names[0],
            "prompts": 0,
            "compared": 0,
            "responses": [],
            "models": [{"name": name, "model": model} for name, model in zip(names, config.model)],
        }
    )
    if config.pairs:
        results["likelihood"] = likelihood_comparison(names, config.model, config.pairs)
    if config.lm_eval:
        results["lm_eval"] = run_lm_eval(
            dict(zip(names, config.model)),
            config.lm_eval,
            config.output_dir,
            config.lm_eval_include_path,
            config.lm_eval_limit,
            config.batch_size,
            config.trust_remote_code,
        )
    results["settings"] = {k: v for k, v in asdict(config).items() if k != "compare"}
    write_json(os.path.join(config.output_dir, "results.json"), results)
    return results


def _reward_results(config: EvalConfig, names: list[str]) -> EvalResults:
    records, report = load_records(config.prompts, skip_bad_records=config.skip_bad_records, require_responses=False)
    reward = make_reward(
        config.reward,
        config.endpoint(config.max_new_tokens),
        config.batch_size,
        config.trust_remote_code,
        config.concurrency,
    )
    responses, rewards, reward_key = {}, {}, spec_key(config.reward)
    for name, model in zip(names, config.model):
        responses[name], rewards[name] = _generate_and_score(
            name, model, records, report.lines, reward, reward_key, config
        )
    results = summarize(
        names,
        dict(zip(names, config.model)),
        {r["id"]: query_text(r) for r in records},
        responses,
        rewards,
        config.bootstrap_samples,
        config.seed,
    )
    results["skipped_prompts"] = report.skipped
    return results


def summarize(
    names: list[str], models: dict, prompts: dict, responses: dict, rewards: dict, samples: int, seed: int
) -> EvalResults:
    """Statistics over the prompts where every model has a finite reward, the first model as the baseline."""
    ids = [i for i in prompts if all(rewards[name].get(i) is not None for name in names)]
    if not ids:
        raise FigaError("no prompt has a finite reward for every model: nothing to compare")
    baseline = np.array([rewards[names[0]][i] for i in ids])
    rows: list[ModelRow] = []
    for name in names:
        values = np.array([rewards[name][i] for i in ids])
        row: ModelRow = {
            "name": name,
            "model": models.get(name),
            "n": len(ids),
            "unscored": sum(1 for i in prompts if rewards[name].get(i) is None),
            "reward": {**mean_interval(values, samples, seed), "std": float(values.std())},
            "length": length_stats([responses[name][i] or "" for i in ids]),
        }
        if name != names[0]:
            row["vs_baseline"] = {  # type: ignore[typeddict-item]
                "delta": float((values - baseline).mean()),
                "ci95": bootstrap_mean_ci(values - baseline, samples, seed),
                **win_tie_loss(values, baseline),
            }
        rows.append(row)
    return {
        "format": RESULTS_FORMAT,
        "baseline": names[0],
        "prompts": len(prompts),
        "compared": len(ids),
        "models": rows,
        "responses": [
            {
                "id": i,
                "prompt": prompts[i],
                "by_model": {
                    name: {
                        "response": responses[name].get(i),
                        "reward": rewards[name].get(i),
                        "truncated": isinstance(responses[name].get(i), Truncated),
                    }
                    for name in names
                },
            }
            for i in prompts
        ],
    }


def load_results(path: str) -> EvalResults:
    if not os.path.isfile(path):
        raise FigaError(f"--compare {path}: no such file")
    try:
        with open(path, encoding="utf-8") as handle:
            results = json.load(handle)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise FigaError(f"--compare {path}: not valid JSON: {error or 'nested too deeply'}") from None
    if not isinstance(results, dict) or results.get("format") != RESULTS_FORMAT:
        raise FigaError(f"--compare {path}: not a results.json written by `figa eval`")
    problem = _results_problem(results)
    if problem:
        raise FigaError(f"--compare {path}: incomplete or damaged results: {problem}")
    return results  # type: ignore[return-value]


def _results_problem(results: dict) -> str | None:
    """What a results.json lacks that `compare` reads, or None."""
    models, responses = results.get("models"), results.get("responses")
    if not isinstance(models, list) or not all(isinstance(m, dict) and isinstance(m.get("name"), str) for m in models):
        return "field 'models': expected a list of {\"name\": ...}"
    if not isinstance(responses, list):
        return "field 'responses': expected a list"
    for i, entry in enumerate(responses):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or "prompt" not in entry:
            return f"field 'responses[{i}]': expected an object with 'id' and 'prompt'"
        by_model = entry.get("by_model")
        if not isinstance(by_model, dict) or not all(isinstance(v, dict) for v in by_model.values()):
            return f"field 'responses[{i}].by_model': expected an object of {{model name: {{response, reward}}}}"
    return None


def compare(paths: list[str], samples: int = 1000, seed: int = 0) -> EvalResults:
    """One report over saved results, on the prompts they share; the first file's baseline stays the baseline."""
    names: list[str] = []
    models: dict[str, str | None] = {}
    prompts: dict[str, str] = {}
    responses: dict[str, dict] = {}
    rewards: dict[str, dict] = {}
    for path in paths:
        results = load_results(path)
        label = os.path.basename(os.path.dirname(os.path.abspath(path))) or path
        for row in results["models"]:
            name = row["name"] if row["name"] not in names else f"{row['name']}@{label}"
            if name in names:
                raise FigaError(f"--compare: model {row['name']!r} appears twice in {path}")
            names.append(name)
            models[name] = row.get("model")
            responses[name], rewards[name] = {}, {}
            for entry in results["responses"]:
                prompts.setdefault(entry["id"], entry["prompt"])
                got: dict = dict(entry["by_model"].get(row["name"], {}))
                responses[name][entry["id"]] = _text(got)
                rewards[name][entry["id"]] = finite(got.get("reward"))
    shared = {i: p for i, p in prompts.items() if all(i in responses[name] for name in names)}
    results = summarize(names, models, shared, responses, rewards, samples, seed)
    results["compared_files"] = list(paths)
    return results


def table(results: EvalResults) -> str:
    """The printed comparison: reward statistics (when prompts were scored) and each lm-eval task's main metric."""
    harness = results.get("lm_eval") or {}
    tasks = sorted({task for by_task in harness.values() for task in by_task})
    rows = {
        row["name"]: "".join(f"{_metric(harness.get(row['name'], {}).get(t)):>14}" for t in tasks)
        for row in results["models"]
    }
    task_header = "".join(f"{t[:13]:>14}" for t in tasks)
    likelihood = _likelihood_table(results.get("likelihood"), results["baseline"])
    if not results.get("compared"):
        lines = [f"{'model':<16}{task_header}"] + [f"{name[:15]:<16}{cells}" for name, cells in rows.items()]
        return "\n".join((lines if tasks else []) + likelihood)
    baseline = results["baseline"]
    header = (
        f"{'model':<16}{'reward':>8}  {'95% CI':<16}{'vs ' + baseline[:10]:>11}  {'95% CI':<18}"
        f"{'win/tie/loss':<16}{'words':>7}{task_header}"
    )
    lines = [f"{results['compared']} prompts compared (of {results['prompts']}); baseline: {baseline}", header]
    for row in results["models"]:
        low, high = row["reward"]["ci95"]
        line = f"{row['name'][:15]:<16}{row['reward']['mean']:>8.3f}  {f'[{low:.3f}, {high:.3f}]':<16}"
        if "vs_baseline" in row:
            v = row["vs_baseline"]
            dl, dh = v["ci95"]
            outcome = f"{v['win']:.0%}/{v['tie']:.0%}/{v['loss']:.0%}"
            line += f"{v['delta']:>+11.3f}  {f'[{dl:+.3f}, {dh:+.3f}]':<18}{outcome:<16}"
        else:
            line += f"{'-':>11}  {'':<18}{'':<16}"
        lines.append(line + f"{row['length'].get('mean_words', 0):>7.1f}" + rows[row["name"]])
    return "\n".join(lines + likelihood)


def _likelihood_table(likelihood: dict | None, baseline: str) -> list[str]:
    if not likelihood:
        return []
    pairs = next(iter(likelihood.values()))["pairs"]
    lines = [
        f"\nlikelihood on {pairs} held-out edited pairs, against {baseline}:",
        f"{'model':<16}{'pairs gained':>14}{'edited tokens moved':>21}{'margin gain [95% CI]':>30}{'mean margin':>13}",
    ]
    for name, row in likelihood.items():
        low, high = row.get("margin_gain_ci95", (float("nan"), float("nan")))
        gain = f"{row['margin_gain']:+.2f} [{low:+.2f}, {high:+.2f}]"
        lines.append(
            f"{name[:15]:<16}{row['pairs_gained']:>14.0%}{row['tokens_moved']:>21.0%}{gain:>30}"
            f"{row['mean_margin']:>+13.2f}"
        )
    return lines


def _metric(value: dict | None) -> str:
    return f"{value['metric']} {value['value']:.3f}" if value else "-"

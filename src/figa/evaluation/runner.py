"""`figa eval`: generate with each model under the same decoding settings, score with a reward back end, and
compare the models on the same prompts (the first model is the baseline).

Generations and scores are saved per record under `OUTPUT_DIR/stages/`, so an interrupted run resumes where it
stopped. `compare` builds the same report from saved results.json files.
"""

from __future__ import annotations

import gc
import os
from dataclasses import asdict

from ..backends.answering import answer
from ..backends.fingerprints import spec_key
from ..backends.policies import make_policy
from ..backends.rewards import finite, make_reward
from ..backends.stages import (
    score_job,
    score_stage,
)
from ..backends.store import StageStore, settings_key
from ..files import check_outputs, prepare_output_dir, write_json
from ..modeling import model_version
from ..prompts import query_text
from ..records import load_records
from ..results import EVAL_RESULTS_FORMAT, EvalResults
from .config import EvalConfig
from .harness import run_lm_eval
from .likelihood import likelihood_comparison
from .summary import compare, saved_text, summarize


def _generate_and_score(
    name: str, model: str, records: list[dict], lines: list[int], reward, reward_key: str, config: EvalConfig
) -> tuple[dict, dict]:
    """One model's responses and rewards by record id, from its stage stores (resuming what they hold); REWARD_KEY
    is `spec_key` of the reward, computed once per run."""
    gen, stages_dir = config.generation(), os.path.join(config.output_dir, "stages")
    weights = () if config.dtype == "auto" else (config.dtype,)  # "auto" keeps the key of runs before --dtype
    key = settings_key("eval-generate", model, config.backend, asdict(gen), config.prompt_format, *weights)
    generated = StageStore(stages_dir, "generate", key)
    answer(
        f"generate {name}",
        records,
        lines,
        generated,
        model_version(model),
        lambda: make_policy(
            model,
            config.backend,
            gen,
            config.endpoint(config.max_new_tokens),
            config.prompt_format,
            config.trust_remote_code,
            config.dtype,
        ),
        "response",
        config,
        allow_empty=True,
    )
    gc.collect()  # the policy is released: free its memory before the next model loads
    responses = {r["id"]: saved_text(generated.get(r["id"])) for r in records}
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
            "format": EVAL_RESULTS_FORMAT,
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

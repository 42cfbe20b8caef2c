"""`figa curate`: prompts -> rollout -> reward -> filter -> revise -> re-score -> filter -> SPA records.

Each stage appends its results to `OUTPUT_DIR/stages/<stage>-<key>.jsonl`, where the key hashes the stage's
settings and those of the stages before it: a rerun skips finished records, and a changed setting recomputes
its stage and the ones after it only. Every input prompt ends in exactly one of train.jsonl / rejected.jsonl.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from ..errors import FigaError
from ..files import write_json, write_jsonl
from ..prompts import query_text
from ..records import load_records
from .filters import Thresholds, accept_revision, edit_ratio, select_for_revision, words
from .options import EndpointOptions, GenerationOptions
from .revise import REVISION_TEMPLATE, check_template, make_reviser
from .reward import make_reward
from .rollout import BACKENDS, make_policy
from .stages import (
    RecordBackend,
    distribution,
    is_number,
    pending,
    run_stage,
    score_stage,
    text_row,
)
from .store import StageStore, settings_key


@dataclass
class CurateConfig(GenerationOptions, EndpointOptions):
    prompts: str = field(default=None, metadata={"help": "Prompts: JSONL/JSON/Parquet with prompt | messages | "
                                                         "instruction (+input), optional output and id."})
    output_dir: str = field(default=None, metadata={"help": "Where train.jsonl, rejected.jsonl, stats.json go."})
    policy: str = field(default=None, metadata={"help": "The model being aligned (path, hub id or API model)."})
    policy_backend: str = field(default="hf", metadata={"help": "hf, vllm or openai.", "choices": list(BACKENDS)})
    reward: str = field(default=None, metadata={"help": "hf:MODEL, python:module:function or openai:MODEL."})
    reviser: str = field(default=None, metadata={"help": "openai:MODEL, hf:MODEL, reference-edit or "
                                                         "python:module:function."})
    eta1: float = field(default=0.5, metadata={"help": "Keep a prompt when reward(original) < eta1."})
    eta2: float = field(default=0.5, metadata={"help": "With a reference: and reward(reference) > eta2."})
    eta3: float = field(default=0.0, metadata={"help": "With a reference: and reward(reference) - "
                                                       "reward(original) > eta3."})
    min_gain: float = field(default=1e-9, metadata={"help": "Keep a revision when reward(revised) - "
                                                            "reward(original) >= min_gain."})
    max_edit_ratio: float = field(default=0.5, metadata={"help": "... and word edit distance / original "
                                                                 "length <= max_edit_ratio."})
    revise_target: float | None = field(default=None, metadata={"help": "reference-edit stops once the reward "
                                                                        "reaches this (default: eta1)."})
    revision_template: str | None = field(default=None, metadata={"help": "A file with your revision prompt "
                                                                          "({prompt}, {original}, "
                                                                          "{reference_block})."})
    keep_truncated: bool = field(default=False, metadata={"help": "Keep responses cut at max_new_tokens (by "
                                                                  "default they are rejected: training on them "
                                                                  "would teach the model to stop mid-answer)."})
    skip_bad_records: bool = field(default=False, metadata={"help": "Reject bad prompt records (listed in "
                                                                    "rejected.jsonl) instead of stopping."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow model repository code to run."})

    def check(self) -> None:
        for name in ("prompts", "output_dir", "policy", "reward", "reviser"):
            if not getattr(self, name):
                raise FigaError(f"--{name} is required")
        if self.policy_backend not in BACKENDS:
            raise FigaError(f"--policy_backend must be one of {', '.join(BACKENDS)}")

    def thresholds(self) -> Thresholds:
        return Thresholds(self.eta1, self.eta2, self.eta3, self.min_gain, self.max_edit_ratio)


QUERY_FIELDS = ("prompt", "messages", "instruction", "input")
ROLLOUT_INPUTS = ("record",)
REVISE_INPUTS = ("prompt", "original", "reference", "target")


def run(config: CurateConfig) -> dict:
    config.check()
    template = REVISION_TEMPLATE
    if config.revision_template:
        if not os.path.isfile(config.revision_template):
            raise FigaError(f"--revision_template {config.revision_template}: no such file")
        with open(config.revision_template, encoding="utf-8") as handle:
            template = check_template(handle.read())
    records, report = load_records(config.prompts, skip_bad_records=config.skip_bad_records,
                                   require_responses=False)
    os.makedirs(config.output_dir, exist_ok=True)
    stages_dir = os.path.join(config.output_dir, "stages")
    target = config.eta1 if config.revise_target is None else config.revise_target
    gen = config.generation()
    k_rollout = settings_key("rollout", config.policy, config.policy_backend, asdict(gen), config.prompt_format)
    k_reward = settings_key("reward", config.reward, k_rollout)
    k_revise = settings_key("revise", config.reviser, template, target, asdict(gen), k_reward)
    k_rescore = settings_key("rescore", k_revise)
    settings = asdict(config)
    settings["config_hash"] = k_rescore

    items = [{"id": r["id"], "prompt": query_text(r), "reference": r["output"] or None, "record": r} for r in records]
    by_id = {item["id"]: item for item in items}
    endpoint = config.endpoint(config.max_new_tokens)

    rollout = StageStore(stages_dir, "rollout", k_rollout)
    if pending(items, rollout, ROLLOUT_INPUTS):
        policy = make_policy(config.policy, config.policy_backend, gen, endpoint, config.prompt_format,
                             config.trust_remote_code)
        rollout_backend = RecordBackend(policy)
        run_stage("rollout", items, rollout, rollout_backend, text_row("original_output"), config.concurrency,
                  config.batch_size, ROLLOUT_INPUTS)
    for item in items:
        item["original"] = rollout.get(item["id"]).get("original_output")

    reward = make_reward(config.reward, endpoint, config.batch_size, config.trust_remote_code, config.concurrency)
    scored = StageStore(stages_dir, "reward", k_reward)
    usable = [item for item in items if item["original"]
              and (config.keep_truncated or not rollout.get(item["id"]).get("truncated"))]
    score_stage("reward", usable, scored, reward, config.batch_size,
                {"original": "original", "reference": "reference"})

    thresholds = config.thresholds()
    rejected: dict[str, tuple[str, str]] = {}
    for item in items:
        if not item["original"]:
            rejected[item["id"]] = ("rollout", rollout.get(item["id"])["error"])
            continue
        if rollout.get(item["id"]).get("truncated") and not config.keep_truncated:
            rejected[item["id"]] = ("rollout", f"the response was cut at max_new_tokens={config.max_new_tokens} "
                                               "(raise --max_new_tokens, or pass --keep_truncated)")
            continue
        rewards = scored.get(item["id"])
        if not is_number(rewards["original"]) or (item["reference"] and not is_number(rewards["reference"])):
            rejected[item["id"]] = ("reward", "the reward is not a finite number")
            continue
        item["rewards"] = {k: rewards[k] for k in ("original", "reference") if rewards.get(k) is not None}
        reason = select_for_revision(item["rewards"], thresholds)
        if reason:
            rejected[item["id"]] = ("filter", reason)
    selected = [dict(item, target=target) for item in items if item["id"] not in rejected]

    revised = StageStore(stages_dir, "revise", k_revise)
    if pending(selected, revised, REVISE_INPUTS):
        reviser = make_reviser(config.reviser, reward, endpoint, template, gen, config.trust_remote_code)
        run_stage("revise", selected, revised, reviser, text_row("revised_output", "original"),
                  config.concurrency, config.batch_size, REVISE_INPUTS)
    for item in selected:
        result = revised.get(item["id"])
        if "error" in result:
            rejected[item["id"]] = ("revise", result["error"])
        else:
            by_id[item["id"]]["revised"] = result["revised_output"]

    rescored = StageStore(stages_dir, "rescore", k_rescore)
    to_rescore = [by_id[item["id"]] for item in selected if item["id"] not in rejected]
    score_stage("rescore", to_rescore, rescored, reward, config.batch_size, {"revised": "revised"})

    train = []
    for item in to_rescore:
        value = rescored.get(item["id"])["revised"]
        if not is_number(value):
            rejected[item["id"]] = ("rescore", "the reward of the revision is not a finite number")
            continue
        item["rewards"]["revised"] = value
        ratio = edit_ratio(item["original"], item["revised"])
        reason = accept_revision(item["rewards"], ratio, thresholds)
        if reason:
            rejected[item["id"]] = ("filter_revision", reason)
            continue
        record = item["record"]
        train.append({
            "id": item["id"], **{k: record[k] for k in QUERY_FIELDS if record.get(k) is not None},
            "original_output": item["original"], "revised_output": item["revised"],
            **({"output": item["reference"]} if item["reference"] else {}),
            "rewards": item["rewards"],
            "edits": {"edit_ratio": ratio, "original_words": len(words(item["original"])),
                      "revised_words": len(words(item["revised"]))},
            "meta": {"policy": config.policy, "policy_backend": config.policy_backend, "reward": config.reward,
                     "reviser": config.reviser, "config_hash": k_rescore},
        })
    for store in (rollout, scored, revised, rescored):
        store.close()

    rejected_rows = [{"id": None, "stage": "input", "reason": problem} for problem in report.skipped]
    rejected_rows += [{"id": item["id"], "stage": rejected[item["id"]][0], "reason": rejected[item["id"]][1],
                       **({"original_output": item["original"]} if item.get("original") else {})}
                      for item in items if item["id"] in rejected]
    stats = _stats(items, report, rejected, train, rejected_rows)
    write_jsonl(os.path.join(config.output_dir, "train.jsonl"), train)
    write_jsonl(os.path.join(config.output_dir, "rejected.jsonl"), rejected_rows)
    write_json(os.path.join(config.output_dir, "stats.json"), stats)
    write_json(os.path.join(config.output_dir, "curate_config.json"), settings)
    return stats


def _stats(items, report, rejected, train, rejected_rows) -> dict:
    stages = {}
    for stage, _ in rejected.values():
        stages[stage] = stages.get(stage, 0) + 1
    rewards = {name: [i["rewards"][name] for i in items if is_number(i.get("rewards", {}).get(name))]
               for name in ("original", "revised", "reference")}
    return {
        "counts": {"read": report.read, "bad_input": len(report.skipped), "prompts": len(items),
                   "rejected_by_stage": stages, "train": len(train), "rejected": len(rejected_rows)},
        "rewards": {name: distribution(values) for name, values in rewards.items()},
        "train_rewards": {name: distribution([r["rewards"][name] for r in train if name in r["rewards"]])
                          for name in ("original", "revised")},
        "edit_ratio": distribution([r["edits"]["edit_ratio"] for r in train]),
    }


def summary_table(stats: dict) -> str:
    c = stats["counts"]
    lines = [f"prompts read {c['read']}  ->  train {c['train']}, rejected {c['rejected']}"]
    if c["bad_input"]:
        lines.append(f"  rejected at input      {c['bad_input']:>6}")
    for stage, count in c["rejected_by_stage"].items():
        lines.append(f"  rejected at {stage:<10} {count:>6}")
    lines.append(f"{'reward':<12}{'count':>7}{'mean':>9}{'median':>9}{'min':>9}{'max':>9}")
    for name, d in stats["rewards"].items():
        if d["count"]:
            lines.append(f"{name:<12}{d['count']:>7}{d['mean']:>9.3f}{d['median']:>9.3f}{d['min']:>9.3f}"
                         f"{d['max']:>9.3f}")
    e = stats["edit_ratio"]
    if e["count"]:
        lines.append(f"edit ratio of kept pairs: mean {e['mean']:.3f}, median {e['median']:.3f}, max {e['max']:.3f}")
    return "\n".join(lines)

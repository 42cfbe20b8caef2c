"""`figa loop`: N rounds of curate -> train from the last round's model -> evaluate every round's model on the
held-out prompts, with a per-round table (docs/guides/loop.md)."""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import asdict, dataclass, field, fields

from ..argparsing import from_values, read_yaml
from ..backends.generation import EndpointOptions, GenerationOptions
from ..curate import CurateConfig
from ..errors import FigaError
from ..evaluation import EvalConfig, evaluate
from ..files import check_outputs, make_dir, prepare_output_dir, write_json, write_jsonl
from ..modeling import ModelArguments
from ..records import load_records
from ..results import EvalResults
from ..trainer import FIGAConfig
from .rounds import Round, run_round

logger = logging.getLogger(__name__)

FIXED_CURATE = ("prompts", "output_dir", "policy", "reward", "reviser")  # set by figa loop, not by --curate_config
FIXED_TRAIN = ("output_dir", "model_name_or_path", "data")


@dataclass
class LoopConfig:
    prompts: str = field(default=None, metadata={"help": "Training prompts (as for figa curate)."})
    heldout_prompts: str = field(
        default=None, metadata={"help": "Held-out prompts every round's model is evaluated on."}
    )
    policy: str = field(default=None, metadata={"help": "The model of round 1 (local path or hub id)."})
    reward: str = field(default=None, metadata={"help": "As for figa curate; it also scores the evaluation."})
    reviser: str = field(default=None, metadata={"help": "As for figa curate."})
    output_dir: str = field(default=None, metadata={"help": "round-K/ (spa/, model/), eval/, rounds.json."})
    rounds: int = field(default=2, metadata={"help": "Rounds; round K's policy is round K-1's model."})
    prompts_per_round: int | None = field(
        default=None,
        metadata={
            "help": "Each round curates the next slice of this many prompts (default: every round the same prompts)."
        },
    )
    curate_config: str | None = field(
        default=None, metadata={"help": "YAML of other figa curate options (decoding, thresholds, endpoints)."}
    )
    train_config: str | None = field(
        default=None, metadata={"help": "YAML of figa train options (loss, learning rate, epochs, LoRA)."}
    )

    def check(self) -> None:
        for name in ("prompts", "heldout_prompts", "policy", "reward", "reviser", "output_dir"):
            if not getattr(self, name):
                raise FigaError(f"--{name} is required")
        if self.rounds < 1:
            raise FigaError(f"--rounds must be at least 1, got {self.rounds}")
        if self.prompts_per_round is not None and self.prompts_per_round < 1:
            raise FigaError(f"--prompts_per_round must be at least 1, got {self.prompts_per_round}")
        check_outputs(
            {"--output_dir's rounds.json": os.path.join(self.output_dir, "rounds.json")},
            {"--prompts": self.prompts, "--heldout_prompts": self.heldout_prompts},
        )


def _yaml(path: str | None, option: str, fixed: tuple[str, ...]) -> dict:
    values = read_yaml(path, option) if path else {}
    clash = sorted(set(values) & set(fixed))
    if clash:
        raise FigaError(f"{option} {path}: {', '.join(clash)} are set by figa loop for each round")
    return values


@dataclass
class LoopResult:
    rounds: list[Round]
    results: EvalResults  # figa eval's results: base and every round's model on the held-out prompts


def _prompt_files(config: LoopConfig) -> list[str]:
    if config.prompts_per_round is None:
        return [config.prompts] * config.rounds
    records, _ = load_records(config.prompts, require_responses=False)
    need = config.rounds * config.prompts_per_round
    if len(records) < need:
        raise FigaError(
            f"--prompts {config.prompts}: {len(records)} prompts; {config.rounds} rounds of "
            f"{config.prompts_per_round} need {need}"
        )
    paths = []
    for k in range(config.rounds):
        path = os.path.join(config.output_dir, f"round-{k + 1}", "prompts.jsonl")
        make_dir(os.path.dirname(path))
        chunk = records[k * config.prompts_per_round : (k + 1) * config.prompts_per_round]
        write_jsonl(path, [{name: value for name, value in r.items() if value is not None} for r in chunk])
        paths.append(path)
    return paths


def evaluation_of(curation: CurateConfig, models: list[str], names: list[str], prompts: str, out: str) -> EvalConfig:
    """Evaluate with the curation's reward, decoding and endpoint settings."""
    shared = {f.name: getattr(curation, f.name) for f in (*fields(GenerationOptions), *fields(EndpointOptions))}
    return EvalConfig(
        model=models,
        names=names,
        prompts=prompts,
        reward=curation.reward,
        output_dir=out,
        trust_remote_code=curation.trust_remote_code,
        **shared,
    )


def _curation(config: LoopConfig, values: dict, prompts: str, out: str, policy: str) -> CurateConfig:
    """A round's curation settings: the --curate_config values, and what figa loop sets for each round."""
    fixed = {
        "prompts": prompts,
        "output_dir": out,
        "policy": policy,
        "reward": config.reward,
        "reviser": config.reviser,
    }
    (settings,) = from_values((CurateConfig,), {**values, **fixed}, "--curate_config")
    if settings.policy_backend == "openai":
        raise FigaError("figa loop trains the policy, so it generates locally: --policy_backend hf or vllm")
    return settings


def _training(values: dict, policy: str, out: str) -> tuple[ModelArguments, FIGAConfig]:
    fixed = {"output_dir": out, "model_name_or_path": policy}
    return from_values((ModelArguments, FIGAConfig), {**values, **fixed}, "--train_config")


def loop(config: LoopConfig) -> LoopResult:
    config.check()
    curate_values = _yaml(config.curate_config, "--curate_config", FIXED_CURATE)
    train_values = _yaml(config.train_config, "--train_config", FIXED_TRAIN)
    curation = functools.partial(_curation, config, curate_values)
    training = functools.partial(_training, train_values)
    # every option is checked before any stage runs, not when the round that uses it starts
    curation(config.prompts, config.output_dir, config.policy).check()
    training(config.policy, config.output_dir)
    prepare_output_dir(config.output_dir, "--output_dir")
    rounds: list[Round] = []
    policy = config.policy
    for number, prompts in enumerate(_prompt_files(config), start=1):
        logger.info(f"\n[round {number}/{config.rounds}] policy: {policy}")
        finished = run_round(
            number, policy, prompts, os.path.join(config.output_dir, f"round-{number}"), curation, training
        )
        if finished.model is None:
            logger.info(f"round {number} kept no pair: the loop stops here")
            break
        rounds.append(finished)
        policy = finished.model
        results = evaluate(
            evaluation_of(
                curation(prompts, "", config.policy),
                [config.policy, *(r.model for r in rounds)],
                ["base", *(f"round-{r.number}" for r in rounds)],
                config.heldout_prompts,
                os.path.join(config.output_dir, "eval"),
            )
        )
        write_json(
            os.path.join(config.output_dir, "rounds.json"),
            {"rounds": [asdict(r) for r in rounds], "table": round_rows(rounds, results)},
        )
        logger.info(round_table(rounds, results))
    if not rounds:
        raise FigaError("round 1 kept no pair: nothing was trained (see round-1/spa/rejected.jsonl)")
    return LoopResult(rounds, results)


def round_rows(rounds: list[Round], results: EvalResults) -> list[dict]:
    """One row per model: the base (round 0) and each round's, with its reward, interval, difference to the base,
    mean words, the pairs it was trained on and the minutes its round took."""
    by_name = {row["name"]: row for row in results["models"]}
    rows = []
    for number, name, trained in [(0, "base", None), *((r.number, f"round-{r.number}", r) for r in rounds)]:
        model = by_name[name]
        rows.append(
            {
                "round": number,
                "reward": model["reward"]["mean"],
                "ci95": model["reward"]["ci95"],
                "vs_base": model.get("vs_baseline", {}).get("delta"),
                "vs_base_ci95": model.get("vs_baseline", {}).get("ci95"),
                "words": model["length"].get("mean_words"),
                "pairs": trained.pairs if trained else None,
                "prompts": trained.prompts if trained else None,
                "minutes": trained.seconds / 60 if trained else None,
            }
        )
    return rows


def round_table(rounds: list[Round], results: EvalResults) -> str:
    lines = [
        f"{'round':<7}{'reward':>8}  {'95% CI':<16}{'vs base':>9}  {'95% CI':<18}{'words':>7}{'pairs':>12}"
        f"{'minutes':>9}"
    ]
    for row in round_rows(rounds, results):
        low, high = row["ci95"]
        line = f"{row['round']:<7}{row['reward']:>8.3f}  {f'[{low:.3f}, {high:.3f}]':<16}"
        if row["vs_base"] is None:
            line += f"{'-':>9}  {'':<18}{row['words']:>7.1f}{'-':>12}{'-':>9}"
        else:
            dl, dh = row["vs_base_ci95"]
            pairs = f"{row['pairs']}/{row['prompts']}"
            line += (
                f"{row['vs_base']:>+9.3f}  {f'[{dl:+.3f}, {dh:+.3f}]':<18}{row['words']:>7.1f}{pairs:>12}"
                f"{row['minutes']:>9.1f}"
            )
        lines.append(line)
    return "\n".join(lines)

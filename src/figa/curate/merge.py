"""`figa curate merge`: the N parts of a run split with `--shard I/N` (on N machines) as one output directory.

The parts must be the N different parts of one split, curated with the same settings (the same stages' hash and
thresholds); no prompt id may be in two parts. train.jsonl and rejected.jsonl are the parts' rows in part order;
stats.json sums the parts' counts and recomputes the distributions from the rows (rejected rows carry the rewards
their prompt had), so it equals what one machine would have written up to the order of the rows.
"""

from __future__ import annotations

import json
import os
from array import array
from collections import Counter

from ..errors import FigaError
from ..files import atomic_file, check_outputs, prepare_output_dir, write_json
from ..hub import dataset_card
from ..results import CURATE_STATS_FORMAT, CurateCounts, CurateStats
from .report import distribution

# The settings that decide what a part wrote; the rest (paths, servers, concurrency) may differ per machine.
SAME_SETTINGS = (
    "config_hash",
    "eta1",
    "eta2",
    "eta3",
    "min_gain",
    "max_edit_ratio",
    "revise_target",
    "keep_truncated",
    "skip_bad_records",
    "prompts_sha256",
)
PART_FILES = ("train.jsonl", "rejected.jsonl", "stats.json", "curate_config.json")


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise FigaError(f"{path}: no such file; is it the output of a finished `figa curate --shard`?") from None
    except ValueError as error:
        raise FigaError(f"{path}: not valid JSON ({error})") from None


def _check_parts(parts: list[str]) -> list[tuple[str, CurateStats, dict]]:
    """Each part's (directory, stats, settings), in part order, after checking that they make one whole run."""
    loaded = []
    for part in parts:
        stats, settings = (_read_json(os.path.join(part, name)) for name in ("stats.json", "curate_config.json"))
        if "shard" not in stats:
            raise FigaError(f"{part}: not a part of a split run (its stats.json has no shard; run with --shard I/N)")
        loaded.append((part, stats, settings))
    count = loaded[0][1]["shard"]["count"]
    indexes = sorted(stats["shard"]["index"] for _, stats, _ in loaded)
    if any(stats["shard"]["count"] != count for _, stats, _ in loaded) or indexes != list(range(count)):
        found = ", ".join(f"{part}: {s['shard']['index']}/{s['shard']['count']}" for part, s, _ in loaded)
        raise FigaError(f"expected the parts 0/{count} to {count - 1}/{count}, each once; got {found}")
    first_part, _, first = loaded[0]
    for part, _, settings in loaded[1:]:
        for name in SAME_SETTINGS:
            if settings.get(name) != first.get(name):
                raise FigaError(
                    f"{part} and {first_part} were curated with different settings or prompt files ({name}: "
                    f"{settings.get(name)!r} and {first.get(name)!r}); merge parts of one run only"
                )
    for part, stats, _ in loaded:
        for name, key in (("train.jsonl", "train"), ("rejected.jsonl", "rejected")):
            rows = _count_lines(os.path.join(part, name))
            if rows != stats["counts"][key]:
                raise FigaError(
                    f"{part}: {name} has {rows} rows, its stats.json says {stats['counts'][key]}: the part is "
                    "incomplete or was changed; curate it again (the same command resumes)"
                )
    return sorted(loaded, key=lambda item: item[1]["shard"]["index"])


def _count_lines(path: str) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    except FileNotFoundError:
        raise FigaError(f"{path}: no such file; is it the output of a finished `figa curate --shard`?") from None


def _rows(path: str):
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def merge_parts(parts: list[str], output_dir: str) -> CurateStats:
    """Write OUTPUT_DIR's train.jsonl, rejected.jsonl, stats.json, curate_config.json and README.md from PARTS."""
    if not parts:
        raise FigaError("give the output directories of the parts: figa curate merge DIR... --output_dir OUT")
    outputs = {f"--output_dir's {name}": os.path.join(output_dir, name) for name in (*PART_FILES, "README.md")}
    check_outputs(outputs, {f"{part}'s {n}": os.path.join(part, n) for part in parts for n in PART_FILES})
    loaded = _check_parts(parts)
    prepare_output_dir(output_dir, "--output_dir")
    seen: dict[str, int] = {}
    rewards = {name: array("d") for name in ("original", "revised", "reference")}
    train_rewards = {name: array("d") for name in ("original", "revised")}
    edit_ratio = array("d")
    with (
        atomic_file(outputs["--output_dir's train.jsonl"]) as train,
        atomic_file(outputs["--output_dir's rejected.jsonl"]) as rejected,
    ):
        for part_dir, stats, _ in loaded:
            index = stats["shard"]["index"]
            for name, handle in (("train.jsonl", train), ("rejected.jsonl", rejected)):
                for row in _rows(os.path.join(part_dir, name)):
                    if row["id"] is not None:
                        if row["id"] in seen:
                            raise FigaError(
                                f"prompt id {row['id']!r} is in part {seen[row['id']]} and in part {index}: the "
                                "parts were split from different prompt files"
                            )
                        seen[row["id"]] = index
                    for reward, values in rewards.items():
                        if reward in row.get("rewards", {}):
                            values.append(row["rewards"][reward])
                    if name == "train.jsonl":
                        for reward, values in train_rewards.items():
                            if reward in row["rewards"]:
                                values.append(row["rewards"][reward])
                        edit_ratio.append(row["edits"]["edit_ratio"])
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    merged = _merged_stats([stats for _, stats, _ in loaded], rewards, train_rewards, edit_ratio)
    write_json(outputs["--output_dir's stats.json"], merged)
    settings = {key: value for key, value in loaded[0][2].items() if key != "shard"}
    settings.update(output_dir=output_dir, merged_from=list(parts))
    write_json(outputs["--output_dir's curate_config.json"], settings)
    card = dataset_card(os.path.basename(os.path.normpath(output_dir)), settings, merged)
    with atomic_file(outputs["--output_dir's README.md"]) as handle:
        handle.write(str(card))
    return merged


def _merged_stats(parts: list[CurateStats], rewards, train_rewards, edit_ratio) -> CurateStats:
    stages: Counter = Counter()
    for stats in parts:
        stages.update(stats["counts"]["rejected_by_stage"])

    def total(key: str) -> int:
        return sum(stats["counts"][key] for stats in parts)  # type: ignore[literal-required]

    counts: CurateCounts = {
        "read": total("read"),
        "bad_input": total("bad_input"),
        "prompts": total("prompts"),
        "rejected_by_stage": dict(stages),
        "train": total("train"),
        "rejected": total("rejected"),
        "truncated_rollouts": total("truncated_rollouts"),
    }
    merged: CurateStats = {
        "format": CURATE_STATS_FORMAT,
        "counts": counts,
        "rewards": {name: distribution(values) for name, values in rewards.items()},
        "train_rewards": {name: distribution(values) for name, values in train_rewards.items()},
        "edit_ratio": distribution(edit_ratio),
    }
    if "thresholds" in parts[0]:  # the same in every part: --shard takes thresholds as numbers only
        merged["thresholds"] = parts[0]["thresholds"]
    return merged

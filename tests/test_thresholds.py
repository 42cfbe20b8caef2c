"""Thresholds on any reward's scale: `--eta1 q0.5` and the like are quantiles of the rewards the run observed,
taken over every prompt (not per block), recorded in stats.json, and refused where they cannot mean one thing."""

import json

import numpy
import pytest

from figa.cli import main

from .conftest import read, write_jsonl
from .test_faults import one_line_error

N = 9  # prompts numbered 0..8: reward(original) = n - 8, so its median is -4


def numbered_prompts(tmp_path, references=False):
    rows = [
        {"id": f"p{n}", "prompt": f"Question {n}: say something.", **({"output": f"answer {n}"} if references else {})}
        for n in range(N)
    ]
    return write_jsonl(tmp_path / "prompts.jsonl", rows)


def arguments(model_dir, prompts, out, *extra):
    return [
        *("curate", "--prompts", prompts, "--output_dir", str(out), "--policy", model_dir),
        *("--reward", "python:tests.curation_helpers:numbered_reward"),
        *("--reviser", "python:tests.curation_helpers:revise_by_saying_revised"),
        *("--max_new_tokens", "6", "--keep_truncated", "--max_edit_ratio", "2.0"),
        *map(str, extra),
    ]


def ids(path):
    return sorted(row["id"] for row in read(path))


def test_a_quantile_threshold_is_taken_over_every_prompt_of_the_run(tiny_model_dir, tmp_path, in_repo, capsys):
    prompts = numbered_prompts(tmp_path)
    assert main(arguments(tiny_model_dir, prompts, tmp_path / "blocks", "--eta1", "q0.5", "--block_size", "2")) == 0
    printed = capsys.readouterr()
    logged = printed.out + printed.err
    assert "--eta1 q0.5 is -4: the 0.5 quantile of reward(original)" in logged
    assert "outside 0..1" not in logged  # thresholds set for this reward: no warning of its scale
    stats = json.loads((tmp_path / "blocks" / "stats.json").read_text())
    assert stats["thresholds"]["eta1"] == numpy.median([n - 8 for n in range(N)]) == -4
    assert "thresholds: eta1 -4" in printed.out
    assert ids(tmp_path / "blocks" / "train.jsonl") == ["p0", "p1", "p2", "p3"]  # strictly below the median
    rejected = read(tmp_path / "blocks" / "rejected.jsonl")
    assert {row["id"] for row in rejected} == {"p4", "p5", "p6", "p7", "p8"}
    assert {row["stage"] for row in rejected} == {"filter"} and "below eta1=-4" in rejected[0]["reason"]

    # the same run in one block writes the same files; run again, it resumes and asks nothing anew
    assert main(arguments(tiny_model_dir, prompts, tmp_path / "whole", "--eta1", "q0.5")) == 0
    for name in ("train.jsonl", "rejected.jsonl", "stats.json"):
        assert (tmp_path / "blocks" / name).read_text() == (tmp_path / "whole" / name).read_text(), name
    assert main(arguments(tiny_model_dir, prompts, tmp_path / "whole", "--eta1", "q0.5")) == 0
    assert ids(tmp_path / "whole" / "train.jsonl") == ["p0", "p1", "p2", "p3"]


def test_quantiles_of_the_references_rewards(tiny_model_dir, tmp_path, in_repo, capsys):
    prompts = numbered_prompts(tmp_path, references=True)
    # reward(reference) = n - 8 too; its 0.5 quantile is -4: kept when above it, below eta1 0 and 1 above eta3 -1
    args = arguments(tiny_model_dir, prompts, tmp_path / "spa", "--eta1", "0", "--eta2", "q0.5", "--eta3", "-1")
    assert main(args) == 0
    stats = json.loads((tmp_path / "spa" / "stats.json").read_text())
    assert stats["thresholds"]["eta1"] == 0 and stats["thresholds"]["eta2"] == -4
    assert ids(tmp_path / "spa" / "train.jsonl") == ["p5", "p6", "p7"]
    assert "--eta2 q0.5 is -4: the 0.5 quantile of reward(reference)" in "".join(capsys.readouterr())


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--eta1", "q1.5"), "--eta1 q1.5: a quantile is q0 to q1"),
        (("--eta2", "half"), "--eta2 must be a number or a quantile qP"),
        (("--eta1", "nan"), "--eta1 must be a finite number"),
        (("--eta1", "q0.5", "--shard", "0/2"), "--eta1 q0.5 with --shard: each part would take the quantile"),
    ],
)
def test_thresholds_that_cannot_be_used_are_one_line(tmp_path, capsys, extra, message):
    prompts = numbered_prompts(tmp_path)
    assert main(arguments("no-model", prompts, tmp_path / "spa", *extra)) == 2
    one_line_error(capsys, message)
    assert not (tmp_path / "spa").exists()

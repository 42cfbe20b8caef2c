"""`figa loop`: each round's policy is the model the round before trained; rounds resume; prompts slice."""

import json
import os
import shutil

import pytest

from figa.cli import main

from .conftest import write_jsonl

WORDS = [("cat", "mat"), ("dog", "rug"), ("fox", "hill"), ("bird", "roof"), ("goat", "bed"), ("horse", "sofa")]


pytestmark = pytest.mark.usefixtures("in_repo")


def setup(tmp_path):
    prompts = write_jsonl(
        tmp_path / "prompts.jsonl",
        [{"id": f"p{i}", "prompt": f"say it. mention {a} and {b}."} for i, (a, b) in enumerate(WORDS)],
    )
    heldout = write_jsonl(
        tmp_path / "heldout.jsonl",
        [
            {"id": "h0", "prompt": "say it. mention cow and barn."},
            {"id": "h1", "prompt": "say it. mention owl and tree."},
        ],
    )
    (tmp_path / "curate.yaml").write_text(
        "max_new_tokens: 6\nkeep_truncated: true\nmax_edit_ratio: 5.0\nbatch_size: 4\n"
    )
    (tmp_path / "train.yaml").write_text(
        "max_steps: 2\nper_device_train_batch_size: 2\nsave_strategy: 'no'\nlearning_rate: 0.001\nreport_to: none\n"
    )
    return prompts, heldout


def loop_args(tiny_model_dir, tmp_path, prompts, heldout, *extra):
    return [
        "loop",
        "--prompts",
        prompts,
        "--heldout_prompts",
        heldout,
        "--policy",
        tiny_model_dir,
        "--reward",
        "python:tests.curation_helpers:keyword_reward",
        "--reviser",
        "python:tests.curation_helpers:revise_by_appending",
        "--output_dir",
        str(tmp_path / "loop"),
        "--curate_config",
        str(tmp_path / "curate.yaml"),
        "--train_config",
        str(tmp_path / "train.yaml"),
        *map(str, extra),
    ]


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


@pytest.mark.slow  # over 5 s on 2 cores; the full suite (CI) runs it
def test_round_two_curates_with_round_ones_model_and_the_table_has_every_round(tiny_model_dir, tmp_path, capsys):
    prompts, heldout = setup(tmp_path)
    args = loop_args(tiny_model_dir, tmp_path, prompts, heldout, "--rounds", "2")
    assert main(args) == 0
    out = tmp_path / "loop"
    first, second = read_json(out / "round-1" / "round.json"), read_json(out / "round-2" / "round.json")
    assert first["policy"] == tiny_model_dir and first["model"] == str(out / "round-1" / "model")
    assert second["policy"] == first["model"] and second["model"] == str(out / "round-2" / "model")
    assert read_json(out / "round-2" / "spa" / "curate_config.json")["policy"] == first["model"]
    assert f"from `{first['model']}`" in (out / "round-2" / "model" / "README.md").read_text()  # the model card
    rows = read_json(out / "rounds.json")["table"]
    assert [r["round"] for r in rows] == [0, 1, 2]
    for row, number in zip(rows[1:], (1, 2)):
        with open(out / f"round-{number}" / "spa" / "train.jsonl") as handle:
            assert row["pairs"] == sum(1 for _ in handle) > 0
        assert row["prompts"] == len(WORDS)
    results = read_json(out / "eval" / "results.json")
    assert [m["model"] for m in results["models"]] == [tiny_model_dir, first["model"], second["model"]]
    assert rows[2]["reward"] == results["models"][2]["reward"]["mean"]
    printed = capsys.readouterr().out
    assert "vs base" in printed and "2 rounds" in printed

    models = {n: os.path.getmtime(out / f"round-{n}" / "model" / "model.safetensors") for n in (1, 2)}
    assert main(args) == 0  # a rerun finds both rounds done: nothing is curated or trained again
    assert "round 1: already done" in capsys.readouterr().out
    assert {n: os.path.getmtime(out / f"round-{n}" / "model" / "model.safetensors") for n in (1, 2)} == models
    assert read_json(out / "rounds.json")["table"] == rows


@pytest.mark.slow  # over 5 s on 2 cores; the full suite (CI) runs it
def test_prompts_per_round_gives_each_round_the_next_slice(tiny_model_dir, tmp_path, capsys):
    prompts, heldout = setup(tmp_path)
    assert (
        main(loop_args(tiny_model_dir, tmp_path, prompts, heldout, "--rounds", "3", "--prompts_per_round", "3")) == 2
    )
    assert "6 prompts; 3 rounds of 3 need 9" in capsys.readouterr().err
    assert (
        main(loop_args(tiny_model_dir, tmp_path, prompts, heldout, "--rounds", "2", "--prompts_per_round", "3")) == 0
    )
    for number, ids in ((1, ["p0", "p1", "p2"]), (2, ["p3", "p4", "p5"])):
        with open(tmp_path / "loop" / f"round-{number}" / "prompts.jsonl") as handle:
            assert [json.loads(line)["id"] for line in handle] == ids


def test_options_figa_loop_sets_itself_are_refused_in_the_yaml(tiny_model_dir, tmp_path, capsys):
    prompts, heldout = setup(tmp_path)
    (tmp_path / "curate.yaml").write_text("policy: other\n")
    assert main(loop_args(tiny_model_dir, tmp_path, prompts, heldout)) == 2
    assert "policy are set by figa loop for each round" in capsys.readouterr().err
    (tmp_path / "curate.yaml").write_text("max_new_token: 6\n")
    assert main(loop_args(tiny_model_dir, tmp_path, prompts, heldout)) == 2
    assert "unknown options max_new_token" in capsys.readouterr().err


@pytest.mark.slow  # over 5 s on 2 cores; the full suite (CI) runs it
def test_a_round_trained_again_is_not_followed_by_the_rounds_made_from_its_old_model(tiny_model_dir, tmp_path, capsys):
    prompts, heldout = setup(tmp_path)
    args = loop_args(tiny_model_dir, tmp_path, prompts, heldout, "--rounds", "2")
    assert main(args) == 0
    out = tmp_path / "loop"
    shutil.rmtree(out / "round-1" / "model")  # the user removes round one's model to train it again
    capsys.readouterr()
    assert main(args) == 2  # round one trains again; round two's model came from the old one and is not reused
    printed = capsys.readouterr()
    assert "round 1: already done" not in printed.out and os.path.isdir(out / "round-1" / "model")
    assert f"{out / 'round-2' / 'model'} was trained with other" in printed.err
    assert "start_model_version" in printed.err
    shutil.rmtree(out / "round-2" / "model")
    assert main(args) == 0
    report = read_json(out / "round-2" / "model" / "figa_train_report.json")
    assert report["training"]["start_model_version"] is not None

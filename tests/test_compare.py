"""`figa compare` on data of its own: each method's settings chosen on the validation prompts (the best point of
its grid), the chosen settings trained with two seeds and scored on the test prompts, the paired difference
against SFT equal to the one computed by hand from the answers' rewards, and a rerun that trains nothing again."""

import json

import numpy as np
import pytest

from figa.cli import main
from figa.testing import make_spa_records

from .conftest import write_jsonl
from .test_faults import one_line_error

REWARD = "python:tests.curation_helpers:length_reward"
GRID = {
    "sft": [
        {"learning_rate": 1e-4, "epochs": 1},
        {"learning_rate": 1e-4, "epochs": 2},
        {"learning_rate": 3e-3, "epochs": 1},
    ],
    "figa": [{"learning_rate": 3e-3, "beta": 0.5, "gamma": 0.3, "tau": 0.6, "epochs": 1}],
}


def prompts(path, names):
    return write_jsonl(path, [{"id": n, "prompt": f"Where did the {n} sit?"} for n in names])


@pytest.fixture
def inputs(tmp_path, in_repo):
    (tmp_path / "grid.json").write_text(json.dumps(GRID))
    return {
        "data": write_jsonl(tmp_path / "spa.jsonl", make_spa_records(16)),
        "validation_prompts": prompts(tmp_path / "validation.jsonl", ["cat", "dog", "fox"]),
        "test_prompts": prompts(tmp_path / "test.jsonl", ["owl", "hen", "cow", "pig"]),
        "grid": str(tmp_path / "grid.json"),
    }


def arguments(model, inputs, out, *extra):
    return [
        *("compare", "--model", model, "--reward", REWARD, "--output_dir", str(out)),
        *(f"--{name}={value}" for name, value in inputs.items()),
        *("--methods", "sft", "figa", "--seeds", "2", "--max_new_tokens", "8", "--max_length", "128"),
        *("--train_batch_size", "4", "--precision", "fp32"),
        *map(str, extra),
    ]


@pytest.mark.slow  # 7 trainings and 3 evaluations of the tiny model
def test_compare_tunes_on_validation_trains_seeds_and_reports_paired_differences(
    tiny_model_dir, inputs, tmp_path, capsys
):
    out = tmp_path / "compare"
    assert main(arguments(tiny_model_dir, inputs, out)) == 0
    printed = capsys.readouterr().out
    assert "| base |" in printed and "| sft |" in printed and "| figa |" in printed
    report = json.loads((out / "report.json").read_text())
    tune = json.loads((out / "tune" / "tune.json").read_text())

    rows = [row for row in tune["grid"] if row["method"] == "sft"]
    assert len(rows) == 3  # epochs 1 and 2 of one training, and the other learning rate
    best = max(rows, key=lambda row: row["validation_reward"])
    assert report["tuning"]["chosen"]["sft"] == best["settings"]
    assert {k: report["method_settings"]["sft"][k] for k in best["settings"]} == best["settings"]
    assert report["settings_source"]["figa"] == "chosen on the validation prompts"

    results = json.loads((out / "eval" / "results.json").read_text())
    test_ids = {entry["id"] for entry in results["responses"]}
    assert test_ids == {"owl", "hen", "cow", "pig"}  # the validation prompts were never scored as test prompts

    def rewards(name):
        return np.array([entry["by_model"][name]["reward"] for entry in results["responses"]])

    by_method = {row["method"]: row for row in report["methods"]}
    difference = np.mean([rewards(f"figa-s{s}") - rewards(f"sft-s{s}") for s in (0, 1)])
    assert by_method["figa"]["vs_sft"]["mean"] == pytest.approx(difference)
    low, high = by_method["figa"]["vs_sft"]["ci95"]
    assert low <= difference <= high
    assert by_method["base"]["reward"]["mean"] == pytest.approx(rewards("base").mean())
    assert by_method["sft"]["reward_by_seed"] == pytest.approx([rewards(f"sft-s{s}").mean() for s in (0, 1)])
    assert len(report["examples"]) == 3 and set(report["examples"][0]["answers"]) == {"base", "sft", "figa"}
    assert (out / "intervals.png").stat().st_size > 0 and "## The examples behind the means" in (
        out / "report.md"
    ).read_text()

    weights = sorted(out.glob("models/*/model.safetensors"))
    assert len(weights) == 4  # two methods, two seeds: the grid's models are deleted once scored
    before = {path: path.stat().st_mtime_ns for path in weights}
    assert main(arguments(tiny_model_dir, inputs, out)) == 0  # resumed: nothing trained or scored again
    assert {path: path.stat().st_mtime_ns for path in weights} == before
    assert json.loads((out / "report.json").read_text())["methods"] == report["methods"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"test_prompts": "validation_prompts"}, "--validation_prompts and --test_prompts are one file"),
        ({"grid": {"dpo": [{"learning_rate": 1e-6, "dpo_beta": 0.1, "epochs": 1}]}}, "dpo not among --methods"),
        ({"grid": {"sft": [{"learning_rate": 1e-6}]}}, "grid: each sft point gives learning_rate, epochs"),
        ({"data": "missing"}, "--data missing: no such file"),
    ],
)
def test_a_comparison_that_cannot_be_fair_or_run_is_one_line(inputs, tmp_path, capsys, change, message):
    for name, value in change.items():
        if name == "grid":
            (tmp_path / "grid.json").write_text(json.dumps(value))
        else:
            inputs[name] = inputs.get(value, value)
    assert main(arguments("no-such-model", inputs, tmp_path / "compare")) == 2
    one_line_error(capsys, message)
    assert not (tmp_path / "compare").exists()

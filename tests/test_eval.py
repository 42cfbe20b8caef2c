import json
import shutil
import sys

import numpy as np
import pytest

from figa.cli import main
from figa.evaluation.stats import bootstrap_groups_mean_ci, bootstrap_mean_ci, win_tie_loss
from figa.testing import corpus, save_tiny_model

from .conftest import write_jsonl
from .curation_helpers import length_reward

REWARD = "python:tests.curation_helpers:length_reward"


pytestmark = pytest.mark.usefixtures("in_repo")


@pytest.fixture(scope="module")
def second_model(tmp_path_factory):
    return save_tiny_model(str(tmp_path_factory.mktemp("tiny2") / "model"), corpus(), seed=7)


def heldout(tmp_path, n=12):
    return write_jsonl(
        tmp_path / "heldout.jsonl",
        [
            {"id": f"h{i}", "prompt": f"tell me about the {w}"}
            for i, w in enumerate(
                ["cat", "dog", "fox", "hill", "mat", "bird", "roof", "goat", "bed", "horse", "sofa", "mouse"][:n]
            )
        ],
    )


def eval_args(models, names, prompts, out, *extra):
    return [
        "eval",
        *sum((["--model", m] for m in models), []),
        "--names",
        *names,
        "--prompts",
        prompts,
        "--reward",
        REWARD,
        "--output_dir",
        str(out),
        "--max_new_tokens",
        "6",
        "--batch_size",
        "5",
        *map(str, extra),
    ]


def load(path):
    with open(path) as handle:
        return json.load(handle)


def test_group_bootstrap_draws_whole_groups():
    values = np.random.default_rng(0).normal(size=11)
    copies = np.repeat(values, 3)  # each value three times, as one paragraph edited by three writers
    groups = np.repeat([f"p{i}" for i in range(11)], 3)
    assert bootstrap_groups_mean_ci(copies, groups) == pytest.approx(bootstrap_mean_ci(values))
    naive_low, naive_high = bootstrap_mean_ci(copies)  # treating the copies as independent narrows the interval
    low, high = bootstrap_groups_mean_ci(copies, groups)
    assert high - low > 1.4 * (naive_high - naive_low)
    assert bootstrap_groups_mean_ci(values, range(11)) == bootstrap_mean_ci(values)


def test_bootstrap_and_win_tie_loss_by_hand():
    assert bootstrap_mean_ci([0.25] * 9) == (0.25, 0.25)
    low, high = bootstrap_mean_ci([0.0, 1.0] * 50, samples=2000, seed=1)
    assert 0.38 < low < 0.5 < high < 0.62  # the normal approximation gives 0.5 +- 0.098
    assert win_tie_loss([1, 0.5, 0, 0.5], [0.5, 0.5, 0.5, 0]) == {"win": 0.5, "tie": 0.25, "loss": 0.25}


def test_eval_two_models_reports_paired_statistics(tiny_model_dir, second_model, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(eval_args([tiny_model_dir, second_model], ["base", "other"], heldout(tmp_path), out)) == 0
    printed = capsys.readouterr().out
    results = load(out / "results.json")
    assert [m["name"] for m in results["models"]] == ["base", "other"]
    assert results["prompts"] == results["compared"] == 12
    entries = results["responses"]
    for name in ("base", "other"):
        responses = [e["by_model"][name]["response"] for e in entries]
        assert [e["by_model"][name]["reward"] for e in entries] == length_reward(None, responses)
    base = np.array([e["by_model"]["base"]["reward"] for e in entries])
    other = np.array([e["by_model"]["other"]["reward"] for e in entries])
    row = results["models"][1]
    assert row["reward"]["mean"] == pytest.approx(other.mean())
    low, high = row["reward"]["ci95"]
    assert low <= other.mean() <= high
    assert row["vs_baseline"]["delta"] == pytest.approx((other - base).mean())
    assert row["vs_baseline"]["win"] == pytest.approx((other > base).mean())
    assert row["vs_baseline"]["loss"] == pytest.approx((other < base).mean())
    assert "vs_baseline" not in results["models"][0]
    assert "base" in printed and "other" in printed and "win/tie/loss" in printed
    assert results["settings"]["reward"] == REWARD


def test_eval_resumes_from_saved_generations(tiny_model_dir, tmp_path):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    prompts, out = heldout(tmp_path), tmp_path / "report"
    assert main(eval_args([str(model)], ["only"], prompts, out)) == 0
    first = load(out / "results.json")
    shutil.rmtree(model)  # a rerun must not need the model: every generation is saved
    assert main(eval_args([str(model)], ["only"], prompts, out)) == 0
    assert load(out / "results.json")["responses"] == first["responses"]


def test_eval_in_bfloat16_generates_again_instead_of_reusing_float32_answers(tiny_model_dir, tmp_path):
    prompts, out = heldout(tmp_path, n=4), tmp_path / "report"
    assert main(eval_args([tiny_model_dir], ["m"], prompts, out)) == 0
    assert main(eval_args([tiny_model_dir], ["m"], prompts, out, "--dtype", "bfloat16")) == 0
    assert len(list((out / "stages").glob("generate-*.jsonl"))) == 2  # its own answers, not the float32 ones
    assert main(eval_args([tiny_model_dir], ["m"], prompts, out, "--dtype", "auto")) == 0
    assert len(list((out / "stages").glob("generate-*.jsonl"))) == 2  # auto reuses the first run's


def test_compare_saved_results_matches_a_joint_run(tiny_model_dir, second_model, tmp_path, capsys):
    prompts = heldout(tmp_path)
    assert main(eval_args([tiny_model_dir, second_model], ["base", "other"], prompts, tmp_path / "joint")) == 0
    assert main(eval_args([tiny_model_dir], ["base"], prompts, tmp_path / "a")) == 0
    assert main(eval_args([second_model], ["other"], prompts, tmp_path / "b")) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "eval",
                "--compare",
                str(tmp_path / "a" / "results.json"),
                str(tmp_path / "b" / "results.json"),
                "--output_dir",
                str(tmp_path / "cmp"),
            ]
        )
        == 0
    )
    assert "other" in capsys.readouterr().out
    joint, compared = load(tmp_path / "joint" / "results.json"), load(tmp_path / "cmp" / "results.json")
    assert [m["name"] for m in compared["models"]] == ["base", "other"]
    for a, b in zip(joint["models"], compared["models"]):
        assert a["reward"] == b["reward"] and a.get("vs_baseline") == b.get("vs_baseline")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["eval", "--compare", "missing.json", "other.json"], "missing.json: no such file"),
        (["eval", "--model", "m", "--prompts", "p.jsonl", "--reward", REWARD], "--output_dir is required"),
        (
            ["eval", "--model", "a", "b", "--names", "x", "--prompts", "p", "--reward", REWARD, "--output_dir", "o"],
            "--names gives 1 names for 2 models",
        ),
    ],
)
def test_eval_bad_arguments_name_the_problem(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


BAD_PROMPT_LINES = {
    "malformed JSON": ('{"id": "x", "prompt": ', None, "malformed JSON"),
    "missing query field": (json.dumps({"id": "x", "promt": "typo"}), "prompt", "missing"),
    "wrong type": (json.dumps({"id": "x", "prompt": 5}), "prompt", "expected a string, got int"),
    "empty prompt": (json.dumps({"id": "x", "prompt": " \n"}), "prompt", "is empty"),
    "chat not ending in a user turn": (
        json.dumps({"id": "x", "messages": [{"role": "assistant", "content": "hi"}]}),
        "messages",
        "a chat history must end with a user turn",
    ),
    "duplicate id": (json.dumps({"id": "h0", "prompt": "tell me about the sea"}), "id", "duplicate id"),
    "NUL character": (json.dumps({"id": "x", "prompt": "a\u0000b"}), "prompt", "contains a NUL character"),
    "not a JSON object": ('"just a string"', None, "expected a JSON object, got str"),
    "non-UTF-8 bytes": (b'{"id": "x", "prompt": "caf\xe9"}', None, "not valid UTF-8"),
}


@pytest.mark.parametrize("kind", sorted(BAD_PROMPT_LINES))
def test_bad_prompt_line_names_file_line_and_field_or_is_skipped(kind, tiny_model_dir, tmp_path, capsys):
    line, field, problem = BAD_PROMPT_LINES[kind]
    good = [json.dumps({"id": f"h{i}", "prompt": f"tell me about the {w}"}) for i, w in enumerate(["cat", "dog"])]
    prompts = tmp_path / "heldout.jsonl"
    prompts.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in [*good, line]))
    assert main(eval_args([tiny_model_dir], ["base"], str(prompts), tmp_path / "a")) == 2
    err = capsys.readouterr().err
    assert f"{prompts}:3" in err and problem in err and "Traceback" not in err
    if field:
        assert f"field '{field}'" in err
    assert main(eval_args([tiny_model_dir], ["base"], str(prompts), tmp_path / "b", "--skip_bad_records")) == 0
    results = load(tmp_path / "b" / "results.json")
    assert results["models"][0]["n"] == 2 and len(results["skipped_prompts"]) == 1
    assert f"{prompts}:3" in results["skipped_prompts"][0]


@pytest.mark.parametrize(
    "name, message", [("nope.jsonl", "no such file"), (".", "is a directory"), ("empty.jsonl", "no records")]
)
def test_unusable_prompt_files_are_clear_errors(name, message, tiny_model_dir, tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_text("")
    assert main(eval_args([tiny_model_dir], ["base"], str(tmp_path / name), tmp_path / "out")) == 2
    assert message in capsys.readouterr().err


def test_an_edited_reward_scores_the_saved_answers_again(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    prompts, out = heldout(tmp_path, n=4), tmp_path / "report"
    args = eval_args([tiny_model_dir], ["m"], prompts, out, "--reward", "python:myreward:reward")
    for value in (1.0, 0.25):
        (tmp_path / "myreward.py").write_text(
            f"def reward(prompts, responses):\n    return [{value}] * len(responses)\n"
        )
        sys.modules.pop("myreward", None)  # as a new process would import it
        assert main(args) == 0
        assert load(out / "results.json")["models"][0]["reward"]["mean"] == value
    assert len(list((out / "stages").glob("generate-*.jsonl"))) == 1  # the answers were reused


def test_a_model_trained_again_at_the_same_path_answers_anew(tiny_model_dir, second_model, tmp_path):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    prompts, out = heldout(tmp_path), tmp_path / "report"
    assert main(eval_args([str(model)], ["m"], prompts, out)) == 0
    shutil.rmtree(model)
    shutil.copytree(second_model, model)  # another model saved where the first was
    assert main(eval_args([str(model)], ["m"], prompts, out)) == 0
    assert main(eval_args([second_model], ["m"], prompts, tmp_path / "fresh")) == 0
    answers = load(out / "results.json")["responses"]
    assert answers == load(tmp_path / "fresh" / "results.json")["responses"]

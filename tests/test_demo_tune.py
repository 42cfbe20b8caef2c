"""`figa demo --tune` and the settings it chooses: the selection scores only validation prompts, chooses the best
point by hand, resumes, and `figa demo` trains with what it chose; the epoch snapshots it relies on."""

import json

import pytest
import torch
from safetensors.torch import load_file

import figa.tasks.constraints.task
from figa.cli import main
from figa.demo.tune import EpochSnapshots
from figa.modeling import ModelArguments
from figa.tasks.constraints.task import TEST_TOPICS, topic_of
from figa.testing import make_spa_records
from figa.trainer import FIGAConfig
from figa.training import DataArguments, train_or_reuse

pytest.importorskip("sentence_transformers")

GRID = {
    "sft": [{"learning_rate": 3e-5, "epochs": 1}, {"learning_rate": 3e-5, "epochs": 2}],
    "figa": [
        {"learning_rate": 3e-5, "beta": 0.5, "gamma": 0.0, "tau": 0.6, "epochs": 1},
        {"learning_rate": 1e-5, "beta": 1.0, "gamma": 0.3, "tau": 0.6, "epochs": 1},
    ],
}
SMALL = ["--train_prompts", "16", "--validation_prompts", "5", "--test_prompts", "4", "--max_new_tokens", "48"]


@pytest.fixture
def scored_prompts(monkeypatch):
    """Every prompt the demo's reward scores, as the demo calls it (python:figa.tasks.constraints.task:reward)."""
    seen: list[str] = []
    real = figa.tasks.constraints.task.reward

    def reward(prompts, responses):
        seen.extend(prompts)
        return real(prompts, responses)

    monkeypatch.setattr(figa.tasks.constraints.task, "reward", reward)
    return seen


def read_prompts(out, part):
    return [json.loads(line)["prompt"] for line in open(out / f"prompts-{part}.jsonl")]


@pytest.mark.slow
def test_tune_reads_no_test_prompt_chooses_the_best_point_resumes_and_the_demo_trains_with_its_choice(
    tmp_path, scored_prompts, capsys
):
    pytest.importorskip("gguf")
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(GRID))
    out = tmp_path / "demo"
    tune = ["demo", "--tune", "--output_dir", str(out), "--grid", str(grid), "--train_batch_size", "4", *SMALL]
    assert main(tune) == 0
    printed = capsys.readouterr().out
    train, validation = read_prompts(out, "train"), read_prompts(out, "validation")
    assert not (out / "prompts-test.jsonl").exists()
    assert set(scored_prompts) <= set(train) | set(validation)  # curation, then the grid on validation prompts
    assert set(validation) <= set(scored_prompts)
    assert not {topic_of(p) for p in scored_prompts} & set(TEST_TOPICS)

    tuned = json.loads((out / "tune" / "tune.json").read_text())
    assert tuned["complete"] and [(r["method"], r["settings"]) for r in tuned["grid"]] == [
        (method, point) for method, points in GRID.items() for point in points
    ]
    for method in GRID:
        rows = [r for r in tuned["grid"] if r["method"] == method]
        best = max(r["validation_reward"] for r in rows)
        assert tuned["chosen"][method] == next(r["settings"] for r in rows if r["validation_reward"] == best)
    results = json.loads((out / "tune" / "eval" / "sft-lr3e-05" / "results.json").read_text())
    by_model = {m["name"]: m["reward"]["mean"] for m in results["models"]}
    assert {r["settings"]["epochs"]: r["validation_reward"] for r in tuned["grid"] if r["method"] == "sft"} == {
        1: by_model["sft-lr3e-05-e1"],
        2: by_model["sft-lr3e-05-e2"],
    }
    assert results["models"][0]["model"].endswith("epoch-1")  # epoch 1 is the two-epoch run's snapshot
    assert "| sft | learning_rate 3e-05, epochs 1 |" in printed and "✓" in printed
    assert not list((out / "tune" / "models").iterdir())  # scored models are deleted

    scored_prompts.clear()
    assert main(tune) == 0  # a rerun trains and generates nothing
    assert "already scored: sft-lr3e-05" in capsys.readouterr().out
    assert json.loads((out / "tune" / "tune.json").read_text())["grid"] == tuned["grid"]

    demo = ["demo", "--output_dir", str(out), "--settings", str(out / "tune" / "tune.json"), *SMALL]
    assert main([*demo, "--methods", "sft", "figa", "figa_paper"]) == 0  # reuses the curation
    report = json.loads((out / "report.json").read_text())
    settings = report["settings"]["method_settings"]
    assert settings["sft"] == {"pairs_per_step": 8, **tuned["chosen"]["sft"]}
    assert settings["figa"] == {"pairs_per_step": 8, **tuned["chosen"]["figa"]}
    assert settings["figa_paper"] == {
        "learning_rate": 1e-5,
        "beta": 0.5,
        "gamma": 0.0,
        "tau": 0.6,
        "epochs": 5,
        "pairs_per_step": 128,
    }
    pairs = sum(1 for _ in open(out / "spa" / "train.jsonl"))
    trained = report["training"]
    assert trained["figa_paper-s0"]["steps"] == 5  # one step over every pair per epoch
    assert trained["figa-s0"]["loss"]["gamma"] == tuned["chosen"]["figa"]["gamma"]
    assert trained["sft-s0"]["steps"] == tuned["chosen"]["sft"]["epochs"] * -(-pairs // 8)
    assert {topic_of(p) for p in scored_prompts} <= set(TEST_TOPICS) | {topic_of(p) for p in train}

    (out / "bad.json").write_text(json.dumps({"chosen": {"sft": {"learning_rate": 1e-3}}}))
    capsys.readouterr()
    assert main(["demo", "--output_dir", str(tmp_path / "bad"), "--settings", str(out / "bad.json")]) == 2
    assert "each sft point gives learning_rate, epochs" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()  # refused before any work


@pytest.mark.parametrize(
    "tuned, message",
    [
        ({"complete": False, "context": {}}, "its tuning has not finished"),
        ({"complete": True, "context": {"bf16": True}}, "tuned in bf16, but this run trains in fp32"),
        ({"complete": True, "context": {}}, "tuned in fp32, but this run trains in bf16"),
    ],
    ids=["unfinished", "bf16-tuning-fp32-run", "fp32-tuning-bf16-run"],
)
def test_settings_from_an_unfinished_tuning_or_another_precision_are_refused(tuned, message, tmp_path, capsys):
    path = tmp_path / "tune.json"
    path.write_text(json.dumps({**tuned, "chosen": {"sft": {"learning_rate": 2e-5, "epochs": 2}}}))
    precision = "fp32" if tuned["context"].get("bf16") or not tuned["complete"] else "bf16"
    out = tmp_path / "demo"
    assert main(["demo", "--settings", str(path), "--precision", precision, "--output_dir", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()  # refused before any work


def test_tune_says_when_no_method_has_settings_to_choose_and_refuses_a_bad_grid(tmp_path, capsys):
    assert main(["demo", "--tune", "--methods", "figa_paper", "--output_dir", str(tmp_path / "a")]) == 2
    assert "none of figa_paper has settings to choose" in capsys.readouterr().err
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"figa": [{"learning_rate": 1e-5, "epochs": 1}]}))
    assert main(["demo", "--tune", "--grid", str(grid), "--output_dir", str(tmp_path / "b")]) == 2
    assert "each figa point gives learning_rate, beta, gamma, tau, epochs" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_model_after_the_first_of_two_epochs_is_the_one_epoch_model(tmp_path, tiny_model_dir):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in make_spa_records(12)))

    def trained(epochs, callbacks=None):
        out = tmp_path / f"e{epochs}"
        config = FIGAConfig(
            output_dir=str(out),
            num_train_epochs=epochs,
            learning_rate=1e-3,
            lr_scheduler_type="constant",
            per_device_train_batch_size=4,
            report_to=["none"],
            save_strategy="no",
        )
        train_or_reuse(
            DataArguments(data=str(data)), ModelArguments(model_name_or_path=tiny_model_dir), config, callbacks
        )
        return out

    two = trained(2, [EpochSnapshots([1, 2])])
    one = trained(1)
    snapshot, single, final = (load_file(str(p / "model.safetensors")) for p in (two / "epoch-1", one, two))
    assert all(torch.allclose(snapshot[k], single[k], atol=1e-6) for k in single)
    assert not all(torch.allclose(snapshot[k], final[k]) for k in single)
    assert not (two / "epoch-2").exists()  # the last epoch is the saved model itself


def test_tune_without_methods_chooses_for_every_compared_method_not_only_the_default_runs(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--tune", "--output_dir", str(out), "--model", str(out / "no-such-model")]) == 2
    printed = capsys.readouterr().out
    assert "--tune: 38 grid points (19 trainings) of sft, dpo, apo_zero, figa on 48 validation prompts" in printed

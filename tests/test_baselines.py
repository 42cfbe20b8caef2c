"""`figa train --method sft|dpo|apo_zero`: the baselines train through TRL on the same SPA data."""

import json
import os

import pytest
import torch
from safetensors.torch import load_file

from figa.cli import main
from figa.testing import make_spa_records

from .conftest import write_jsonl

COMMON = [
    "--max_steps",
    "2",
    "--per_device_train_batch_size",
    "4",
    "--learning_rate",
    "1e-3",
    "--logging_steps",
    "1",
    "--save_strategy",
    "no",
    "--report_to",
    "none",
    "--max_length",
    "256",
]


@pytest.mark.parametrize(
    "method, metric", [("dpo", "rewards/margins"), ("apo_zero", "rewards/margins"), ("sft", "num_tokens")]
)
def test_baseline_trains_through_trl(method, metric, tiny_model_dir, spa_file, tmp_path, capsys):
    out = tmp_path / method
    assert (
        main(
            [
                "train",
                "--method",
                method,
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                spa_file,
                "--output_dir",
                str(out),
                *COMMON,
            ]
        )
        == 0
    )
    assert "24 records kept of 24 read" in capsys.readouterr().out
    report = json.loads((out / "figa_train_report.json").read_text())
    assert report["loss"]["method"] == method
    logged = [entry for entry in report["log_history"] if "loss" in entry]
    assert len(logged) == 2 and all(metric in entry for entry in logged)  # TRL's own metrics: TRL trained it
    before = load_file(f"{tiny_model_dir}/model.safetensors")
    after = load_file(out / "model.safetensors")
    assert any(not torch.equal(before[name], after[name]) for name in before)


def test_dpo_and_apo_zero_are_different_losses(tiny_model_dir, spa_file, tmp_path):
    losses = {}
    for method in ("dpo", "apo_zero"):
        out = tmp_path / method
        assert (
            main(
                [
                    "train",
                    "--method",
                    method,
                    "--model_name_or_path",
                    tiny_model_dir,
                    "--data",
                    spa_file,
                    "--output_dir",
                    str(out),
                    *COMMON,
                ]
            )
            == 0
        )
        first = next(e for e in json.loads((out / "figa_train_report.json").read_text())["log_history"] if "loss" in e)
        losses[method] = first["loss"]
    assert losses["dpo"] == pytest.approx(0.6931, abs=2e-3)  # -log sigmoid(0) at the first step: policy = reference
    assert losses["apo_zero"] == pytest.approx(1.0, abs=2e-3)  # apo_zero: 1 - sigmoid(0) + sigmoid(0) at the start


def test_unknown_method_is_a_clear_error(tiny_model_dir, spa_file, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "train",
                "--method",
                "ppo",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                spa_file,
                "--output_dir",
                str(tmp_path / "x"),
            ]
        )
    assert exit_info.value.code == 2
    assert "invalid choice: 'ppo'" in capsys.readouterr().err


def test_dpo_and_apo_zero_share_the_precomputed_reference_log_probs(tiny_model_dir, spa_file, tmp_path, capsys):
    def first_step(method, data, seed):
        out = tmp_path / f"{method}-{seed}-{os.path.basename(data)}"
        assert (
            main(
                [
                    "train",
                    "--method",
                    method,
                    "--model_name_or_path",
                    tiny_model_dir,
                    "--data",
                    data,
                    "--output_dir",
                    str(out),
                    "--precompute_ref_log_probs",
                    "true",
                    "--seed",
                    str(seed),
                    *COMMON,
                ]
            )
            == 0
        )
        reused = "reusing those of an earlier run" in capsys.readouterr().out
        return reused, next(
            e for e in json.loads((out / "figa_train_report.json").read_text())["log_history"] if "loss" in e
        )

    assert not first_step("dpo", spa_file, 0)[0]
    for method, seed in (("apo_zero", 0), ("dpo", 1)):  # another loss, another seed: the same reference
        reused, logged = first_step(method, spa_file, seed)
        assert reused
        # the policy starts as the reference: with the right reference log-probs every implicit reward is 0
        assert logged["rewards/chosen"] == pytest.approx(0, abs=1e-5)
        assert logged["rewards/rejected"] == pytest.approx(0, abs=1e-5)
    other = write_jsonl(tmp_path / "other.jsonl", make_spa_records(20))
    assert not first_step("apo_zero", other, 0)[0]  # other data: computed again

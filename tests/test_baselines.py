"""`figa train --method sft|dpo|apo_zero`: the baselines train through TRL on the same SPA data."""

import json

import pytest
import torch
from safetensors.torch import load_file

from figa.cli import main

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
    args = ["train", "--method", "ppo", "--model_name_or_path", tiny_model_dir, "--data", spa_file]
    assert main([*args, "--output_dir", str(tmp_path / "x")]) == 2
    assert "--method must be one of figa, sft, dpo, apo_zero, got 'ppo'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "method, flags, foreign",
    [
        ("dpo", ["--alpha", "1"], "--alpha"),
        ("sft", ["--tau=0.6", "--share_prompt"], "--share_prompt, --tau"),
        ("figa", ["--loss_type", "sigmoid"], "--loss_type"),
        ("apo_zero", ["--weighting", "bow"], "--weighting"),
    ],
)
def test_a_flag_of_another_method_is_refused(method, flags, foreign, tiny_model_dir, spa_file, tmp_path, capsys):
    args = ["train", "--method", method, "--model_name_or_path", tiny_model_dir, "--data", spa_file]
    assert main([*args, "--output_dir", str(tmp_path / "x"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    see = f"(see `figa train --method {method} --help`)"
    assert err == f"figa train: error: {foreign}: not an option of --method {method} {see}"
    assert not (tmp_path / "x").exists()


def test_each_method_has_its_own_config_with_trls_defaults(tiny_model_dir, spa_file, tmp_path):
    import trl

    from figa.trainer import FIGAConfig

    with pytest.raises(TypeError):
        FIGAConfig(output_dir=str(tmp_path), method="dpo")  # FIGA's config holds FIGA's settings only
    config = tmp_path / "dpo.yaml"
    config.write_text("method: dpo\nmax_steps: 1\nsave_strategy: 'no'\nper_device_train_batch_size: 4\n")
    out = tmp_path / "dpo"
    assert (
        main(
            [
                "train",
                f"--config={config}",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                spa_file,
                "--output_dir",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads((out / "figa_train_report.json").read_text())
    assert report["loss"] == {"method": "dpo", "beta": trl.DPOConfig.beta, "loss_type": ["sigmoid"]}
    assert report["training"]["learning_rate"] == trl.DPOConfig.learning_rate == 1e-6  # TRL's default, not 5e-5

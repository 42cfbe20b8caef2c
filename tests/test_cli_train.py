import json
import os
import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM

from figa.cli import main
from figa.errors import FigaError
from figa.modeling import ModelArguments
from figa.testing import make_spa_records
from figa.trainer import FIGAConfig
from figa.training import DataArguments, train, train_or_reuse

from .conftest import run_figa, write_jsonl

FAST = ["--save_strategy", "no", "--report_to", "none", "--per_device_train_batch_size", "4"]


def report(output_dir):
    with open(os.path.join(output_dir, "figa_train_report.json")) as handle:
        return json.load(handle)


def test_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    assert "train" in capsys.readouterr().out


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_train_end_to_end_lowers_positive_nll_and_saves_a_loadable_model(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "spa.jsonl", make_spa_records(32))
    out = tmp_path / "out"
    result = run_figa(
        "train",
        "--model_name_or_path",
        tiny_model_dir,
        "--data",
        data,
        "--output_dir",
        out,
        "--max_steps",
        40,
        "--learning_rate",
        3e-3,
        "--logging_steps",
        5,
        *FAST,
    )
    assert result.returncode == 0, result.stderr
    assert "32 records kept of 32 read" in result.stdout
    logs = [entry for entry in report(out)["log_history"] if "positive_nll" in entry]
    assert len(logs) == 8
    # the default recipe weights kept tokens too (gamma 0.3), which move less than the edited ones
    assert logs[-1]["positive_nll"] < 0.7 * logs[0]["positive_nll"]
    assert all(0 < entry["weighted_fraction"] < 1 for entry in logs)
    assert all(0 <= entry["gate_pass_fraction"] <= 1 for entry in logs)
    model = AutoModelForCausalLM.from_pretrained(out)
    before = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert not torch.equal(model.lm_head.weight, before.lm_head.weight)


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_the_preference_objective_logs_its_reward_margins_and_accuracy(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "spa.jsonl", make_spa_records(16))
    out = tmp_path / "out"
    result = run_figa(
        "train",
        "--model_name_or_path",
        tiny_model_dir,
        "--data",
        data,
        "--output_dir",
        out,
        "--objective",
        "preference",
        "--gamma",
        0.3,
        "--max_steps",
        12,
        "--learning_rate",
        3e-3,
        "--logging_steps",
        1,
        *FAST,
    )
    assert result.returncode == 0, result.stderr
    logs = [entry for entry in report(out)["log_history"] if "reward_margin" in entry]
    assert len(logs) == 12 and not any("gate_pass_fraction" in entry for entry in logs)
    assert logs[0]["reward_margin"] == pytest.approx(0.0, abs=1e-6)  # the policy starts as the reference
    assert logs[-1]["reward_margin"] > 0 and logs[-1]["reward_accuracy"] > 0.5
    assert all(0 <= entry["reward_accuracy"] <= 1 for entry in logs)


def test_yaml_config_sets_defaults_and_flags_override_it(tiny_model_dir, spa_file, tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text(
        f"model_name_or_path: {tiny_model_dir}\ndata: {spa_file}\nmax_steps: 3\n"
        "beta: 0.0\ngamma: 0.25\nweighting: figa\n"
    )
    out = tmp_path / "out"
    assert main(["train", "--config", str(config), "--output_dir", str(out), "--max_steps", "2", *FAST]) == 0
    saved = report(out)
    assert saved["loss"] == {"weighting": "figa", "alpha": 1.0, "beta": 0.0, "gamma": 0.25, "tau": 0.6}
    assert saved["metrics"]["epoch"] > 0 and saved["log_history"][-1]["step"] == 2


def test_unknown_yaml_option_is_a_clear_error(spa_file, tmp_path, capsys):
    config = tmp_path / "cfg.yaml"
    config.write_text("data: x\nlearning_rat: 0.1\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "unknown options learning_rat" in capsys.readouterr().err


def test_lora_saves_an_adapter_that_loads(tiny_model_dir, spa_file, tmp_path):
    from peft import AutoPeftModelForCausalLM

    out = tmp_path / "lora"
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                spa_file,
                "--output_dir",
                str(out),
                "--use_peft",
                "--lora_r",
                "4",
                "--max_steps",
                "3",
                "--learning_rate",
                "1e-2",
                *FAST,
            ]
        )
        == 0
    )
    assert os.path.exists(out / "adapter_config.json")
    model = AutoPeftModelForCausalLM.from_pretrained(str(out))
    assert any("lora_" in name for name, _ in model.named_parameters())

    merged = tmp_path / "merged"
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                spa_file,
                "--output_dir",
                str(merged),
                "--use_peft",
                "--merge_lora",
                "--max_steps",
                "3",
                *FAST,
            ]
        )
        == 0
    )
    assert os.path.exists(merged / "adapter" / "adapter_config.json")
    full = AutoModelForCausalLM.from_pretrained(merged)
    assert not any("lora_" in name for name, _ in full.named_parameters())


def test_resume_from_checkpoint_continues_at_the_saved_step(tiny_model_dir, spa_file, tmp_path, capsys):
    out = tmp_path / "out"
    common = [
        "train",
        "--model_name_or_path",
        tiny_model_dir,
        "--data",
        spa_file,
        "--output_dir",
        str(out),
        "--save_strategy",
        "steps",
        "--save_steps",
        "2",
        "--report_to",
        "none",
        "--logging_steps",
        "1",
        "--per_device_train_batch_size",
        "4",
    ]
    assert main(common + ["--max_steps", "2"]) == 0
    assert os.path.isdir(out / "checkpoint-2")
    capsys.readouterr()
    assert main(common + ["--max_steps", "4", "--resume_from_checkpoint", "true"]) == 0
    assert f"resuming from {out / 'checkpoint-2'}" in capsys.readouterr().out
    steps = [entry["step"] for entry in report(out)["log_history"] if "loss" in entry]
    assert steps == [1, 2, 3, 4]  # steps 1-2 come from the checkpoint's history, none is repeated
    assert main(common + ["--max_steps", "6"]) == 0  # the same command, run again, goes on by itself
    printed = capsys.readouterr().out
    assert "holds a checkpoint: going on from it" in printed and f"resuming from {out / 'checkpoint-4'}" in printed
    assert [entry["step"] for entry in report(out)["log_history"] if "loss" in entry] == [1, 2, 3, 4, 5, 6]
    assert main(common + ["--max_steps", "2", "--resume_from_checkpoint", "false"]) == 0  # starts over
    assert [entry["step"] for entry in report(out)["log_history"] if "loss" in entry] == [1, 2]


def test_gradient_checkpointing_and_sft_weighting_run(tiny_model_dir, spa_file, tmp_path):
    out = tmp_path / "out"
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                spa_file,
                "--output_dir",
                str(out),
                "--gradient_checkpointing",
                "--alpha",
                "1",
                "--gamma",
                "1",
                "--beta",
                "0",
                "--max_steps",
                "2",
                "--logging_steps",
                "1",
                *FAST,
            ]
        )
        == 0
    )
    logs = [entry for entry in report(out)["log_history"] if "loss" in entry]
    assert "negative_nll" not in logs[0]  # sft: no push-down term


def test_non_finite_loss_stops_with_the_step_and_record_ids(tiny_model_dir, spa_file, tmp_path, capsys):
    code = main(
        [
            "train",
            "--model_name_or_path",
            tiny_model_dir,
            "--data",
            spa_file,
            "--output_dir",
            str(tmp_path / "out"),
            "--learning_rate",
            "1e30",
            "--max_steps",
            "5",
            "--max_grad_norm",
            "0",
            *FAST,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "the loss is" in err and "at step 2" in err and "'ex-" in err
    assert err.strip().splitlines()[-1].startswith("figa train: error: the loss is")  # after the progress bar
    assert not os.path.exists(tmp_path / "out" / "model.safetensors")  # the corrupted model is not saved


def test_bf16_on_cpu_trains(tiny_model_dir, spa_file, tmp_path):
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                spa_file,
                "--output_dir",
                str(tmp_path / "out"),
                "--bf16",
                "--use_cpu",
                "--max_steps",
                "2",
                *FAST,
            ]
        )
        == 0
    )


def test_train_or_reuse_reuses_only_a_run_with_the_same_loss_budget_data_and_start_model(
    tiny_model_dir, tmp_path, capsys
):
    data = write_jsonl(tmp_path / "spa.jsonl", make_spa_records(8))
    out = str(tmp_path / "run")
    start = shutil.copytree(tiny_model_dir, tmp_path / "start")

    def run(data_path=data, **settings):
        config = FIGAConfig(
            output_dir=out,
            max_steps=2,
            per_device_train_batch_size=4,
            save_strategy="no",
            report_to="none",
            **settings,
        )
        return train_or_reuse(DataArguments(data=data_path), ModelArguments(model_name_or_path=str(start)), config)

    run()
    saved = os.path.getmtime(os.path.join(out, "model.safetensors"))
    run()
    assert "already trained" in capsys.readouterr().out
    assert os.path.getmtime(os.path.join(out, "model.safetensors")) == saved
    with pytest.raises(FigaError, match="other loss settings"):
        run(gamma=0.3)
    with pytest.raises(FigaError, match="other training settings, data or start model: learning_rate"):
        run(learning_rate=1e-3)
    edited = write_jsonl(tmp_path / "spa.jsonl", make_spa_records(9))  # the same path, other records
    with pytest.raises(FigaError, match="other training settings, data or start model: data_sha256"):
        run(edited)
    write_jsonl(tmp_path / "spa.jsonl", make_spa_records(8))
    weights = start / "model.safetensors"
    shutil.copyfile(weights, tmp_path / "weights")
    shutil.copyfile(tmp_path / "weights", weights)  # the start model saved again at its path (a loop's round rerun)
    with pytest.raises(FigaError, match="other training settings, data or start model: start_model_version"):
        run()


def test_train_can_skip_the_checkpoint_at_the_last_step(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "spa.jsonl", make_spa_records(8))

    def checkpoints(final_checkpoint):
        out = tmp_path / f"run-{final_checkpoint}"
        config = FIGAConfig(
            output_dir=str(out),
            max_steps=2,
            per_device_train_batch_size=4,
            save_strategy="steps",
            save_steps=1,
            report_to="none",
        )
        train(
            DataArguments(data=data),
            ModelArguments(model_name_or_path=tiny_model_dir),
            config,
            final_checkpoint=final_checkpoint,
        )
        assert (out / "model.safetensors").is_file()
        return sorted(path.name for path in out.glob("checkpoint-*"))

    assert checkpoints(True) == ["checkpoint-1", "checkpoint-2"]
    assert checkpoints(False) == ["checkpoint-1"]  # the saved model is the last step's

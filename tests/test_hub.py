"""Model and dataset cards, and `--push_to_hub` without network: one clear line, before any work."""

import yaml

from figa.cli import main

from .conftest import REPO, write_jsonl


def front_matter(text: str) -> dict:
    return yaml.safe_load(text.split("---")[1])


def test_figa_train_writes_a_model_card(tiny_model_dir, spa_file, tmp_path):
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
                "--max_steps",
                "2",
                "--learning_rate",
                "1e-3",
                "--gamma",
                "0.25",
                "--save_strategy",
                "no",
                "--report_to",
                "none",
                "--per_device_train_batch_size",
                "4",
            ]
        )
        == 0
    )
    card = (out / "README.md").read_text()
    meta = front_matter(card)
    assert set(meta["tags"]) >= {"figa", "trl", "alignment"} and meta["library_name"] == "transformers"
    assert f"from `{tiny_model_dir}`" in card
    assert f"- `{spa_file}`: 24 pairs kept of 24 read, 0 skipped" in card
    for line in (
        "- `weighting`: figa",
        "- `alpha`: 1.0",
        "- `beta`: 0.5",
        "- `gamma`: 0.25",
        "- `tau`: 0.6",
        "- `learning_rate`: 0.001",
        "- `max_steps`: 2",
        "- `per_device_train_batch_size`: 4",
    ):
        assert line in card, line
    assert "- `train_loss`: " in card and "arXiv:2311.04072" in card


def test_push_to_hub_offline_is_one_clear_line_before_training(
    tiny_model_dir, spa_file, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
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
                "--max_steps",
                "1",
                "--push_to_hub",
                "--hub_model_id",
                "me/figa-test",
                "--report_to",
                "none",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("figa train: error: --push_to_hub: cannot reach the Hugging Face hub (")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())  # nothing trained


def test_curate_writes_a_dataset_card_and_push_offline_fails_first(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # python:tests.curation_helpers:... imports from here
    prompts = write_jsonl(
        tmp_path / "prompts.jsonl",
        [{"id": "a", "prompt": "write one sentence. mention cat and mat.", "output": "the cat sat on the mat"}],
    )
    common = [
        "curate",
        "--prompts",
        prompts,
        "--policy",
        tiny_model_dir,
        "--max_new_tokens",
        "8",
        "--reward",
        "python:tests.curation_helpers:keyword_reward",
        "--reviser",
        "reference-edit",
        "--keep_truncated",
    ]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main([*common, "--output_dir", str(tmp_path / "pushed"), "--push_to_hub", "me/spa"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("figa curate: error: --push_to_hub me/spa: cannot reach the Hugging Face hub (")
    assert len(err.splitlines()) == 1 and not (tmp_path / "pushed").exists()

    assert main([*common, "--output_dir", str(tmp_path / "spa")]) == 0
    card = (tmp_path / "spa" / "README.md").read_text()
    assert set(front_matter(card)["tags"]) >= {"figa", "trl", "alignment", "spa"}
    assert "`figa curate`: 1 pairs from 1 prompts; 0 rejected." in card.replace("\n", " ")
    for line in (
        f"- `policy`: {tiny_model_dir}",
        "- `reward`: python:tests.curation_helpers:keyword_reward",
        "- `reviser`: reference-edit",
        "- `eta1`: 0.5",
        "- `max_edit_ratio`: 0.5",
    ):
        assert line in card, line


def test_curate_logs_its_counts_to_tensorboard_and_trackio(tiny_model_dir, tmp_path, monkeypatch):
    import pytest

    pytest.importorskip("trackio")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.chdir(REPO)
    prompts = write_jsonl(
        tmp_path / "prompts.jsonl",
        [
            {"id": str(i), "prompt": "write one sentence. mention cat and mat.", "output": "the cat sat on the mat"}
            for i in range(3)
        ],
    )
    out = tmp_path / "spa"
    assert (
        main(
            [
                "curate",
                "--prompts",
                prompts,
                "--policy",
                tiny_model_dir,
                "--max_new_tokens",
                "8",
                "--reward",
                "python:tests.curation_helpers:keyword_reward",
                "--reviser",
                "reference-edit",
                "--output_dir",
                str(out),
                "--report_to",
                "tensorboard",
                "trackio",
                "--project",
                "figa-test",
            ]
        )
        == 0
    )
    events = EventAccumulator(str(out / "runs" / "curate"))
    events.Reload()
    logged = {tag: events.Scalars(tag)[0].value for tag in events.Tags()["scalars"]}
    assert logged["curate/read"] == 3 and logged["curate/rejected/rollout"] == 3  # 8 tokens: every rollout cut
    assert logged["curate/truncated_rollouts"] == 3 and logged["curate/train"] == 0

    from trackio.sqlite_storage import SQLiteStorage  # reads $TRACKIO_DIR, a temporary directory (conftest.py)

    rows = SQLiteStorage.get_logs("figa-test", "curate")
    assert rows and rows[0]["curate/read"] == 3 and rows[0]["curate/truncated_rollouts"] == 3


def test_unknown_tracker_is_a_clear_error(tiny_model_dir, tmp_path, capsys):
    assert (
        main(
            [
                "curate",
                "--prompts",
                "p.jsonl",
                "--policy",
                tiny_model_dir,
                "--reward",
                "python:m:f",
                "--reviser",
                "reference-edit",
                "--output_dir",
                str(tmp_path / "o"),
                "--report_to",
                "wandb",
            ]
        )
        == 2
    )
    assert "--report_to wandb: figa curate logs to tensorboard, trackio (or none)" in capsys.readouterr().err

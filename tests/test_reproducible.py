"""One machine, the same command twice: the same pairs and the same trained weights, byte for byte."""

from figa.cli import main

from .conftest import prompts_file


def test_curating_and_training_twice_give_the_same_pairs_and_the_same_weights(tiny_model_dir, tmp_path):
    prompts = prompts_file(tmp_path)
    runs = []
    for n in (1, 2):
        spa, model = tmp_path / f"spa{n}", tmp_path / f"model{n}"
        curate = ["curate", "--prompts", prompts, "--output_dir", str(spa), "--policy", tiny_model_dir, "--reward",
                  "python:tests.curation_helpers:keyword_reward", "--reviser", "reference-edit", "--max_new_tokens",
                  "6", "--keep_truncated", "--eta1", "2", "--max_edit_ratio", "100"]  # fmt: skip
        assert main(curate) == 0
        train = ["train", "--model_name_or_path", tiny_model_dir, "--data", str(spa / "train.jsonl"), "--output_dir",
                 str(model), "--max_steps", "3", "--per_device_train_batch_size", "2", "--report_to", "none",
                 "--save_strategy", "no"]  # fmt: skip
        assert main(train) == 0
        runs.append(((spa / "train.jsonl").read_bytes(), (model / "model.safetensors").read_bytes()))
    assert runs[0][0] and runs[0][0] == runs[1][0]  # the same pairs, byte for byte
    assert runs[0][1] == runs[1][1]  # the same weights, byte for byte

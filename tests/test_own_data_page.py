"""docs/guides/own-data.md runs as written: its prompt file, its reward and reviser, and its three commands, with
the tiny local model in place of the hub's (and flags that make it fast)."""

import json
import os
import shlex

import pytest

from figa.cli import main

from .conftest import REPO

PAGE = os.path.join(REPO, "docs", "guides", "own-data.md")
HUB_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
FAST = {
    "curate": ["--max_new_tokens", "8", "--keep_truncated", "--max_edit_ratio", "5"],  # nonsense answers: long edits
    "train": ["--max_steps", "2", "--report_to", "none"],
    "eval": ["--max_new_tokens", "6"],
}


def blocks(language):
    text = open(PAGE, encoding="utf-8").read()
    return [part.split("```", 1)[0] for part in text.split(f"```{language}\n")[1:]]


@pytest.mark.slow  # curate, train and eval with the tiny model
def test_the_own_data_page_runs_as_written(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prompts = blocks("json")[0]
    (tmp_path / "prompts.jsonl").write_text(prompts)
    (tmp_path / "heldout.jsonl").write_text(
        json.dumps(
            {"id": "garden", "prompt": "Describe a garden at noon in two sentences. Use the words bee and hose."}
        )
        + "\n"
    )
    for code in blocks("python"):
        name = "my_reward.py" if "def score" in code else "my_reviser.py"
        (tmp_path / name).write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    (commands,) = blocks("bash")
    for line in commands.replace("\\\n", " ").splitlines():
        argv = shlex.split(line.replace(HUB_MODEL, tiny_model_dir))
        assert argv[0] == "figa"
        assert main([*argv[1:], *FAST[argv[1]]]) == 0, line
    pairs = [json.loads(row) for row in open(tmp_path / "spa" / "train.jsonl")]
    assert pairs and all(p["rewards"]["revised"] > p["rewards"]["original"] for p in pairs)
    assert json.loads((tmp_path / "model" / "figa_train_report.json").read_text())["recipe"] == "figa"
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert [row["name"] for row in results["models"]] == ["base", "figa"]

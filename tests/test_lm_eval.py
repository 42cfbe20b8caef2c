"""`figa eval --lm_eval TASKS`: lm-evaluation-harness on each model, offline, with a tiny task of our own."""

import json

import pytest

from figa.cli import main

from .conftest import write_jsonl

pytest.importorskip("lm_eval")

TASK = """task: figa_tiny_choice
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_lm_eval_runs_a_local_task_on_each_model_and_joins_the_table(tiny_model_dir, tmp_path, capsys):
    data = write_jsonl(
        tmp_path / "tiny.jsonl",
        [
            {"question": "where did the cat sit?", "choices": ["on the mat", "on the roof"], "answer": i % 2}
            for i in range(6)
        ],
    )
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "figa_tiny_choice.yaml").write_text(TASK.format(data=data))
    out = tmp_path / "eval"
    argv = [
        "eval",
        "--model",
        tiny_model_dir,
        tiny_model_dir,
        "--names",
        "base",
        "other",
        "--lm_eval",
        "figa_tiny_choice",
        "--lm_eval_include_path",
        str(tasks),
        "--output_dir",
        str(out),
        "--batch_size",
        "2",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    scores = results["lm_eval"]
    assert set(scores) == {"base", "other"}
    assert scores["base"]["figa_tiny_choice"]["metric"] == "acc"
    assert scores["base"] == scores["other"]  # the same model twice
    accuracy = scores["base"]["figa_tiny_choice"]["value"]
    assert accuracy in {k / 6 for k in range(7)}
    saved = json.loads((out / "lm_eval" / "base.json").read_text())  # lm-eval's own results, beside figa's
    assert saved["results"]["figa_tiny_choice"]["acc,none"] == accuracy
    assert "figa_tiny_choi" in printed and f"acc {accuracy:.3f}" in printed


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_unknown_lm_eval_task_is_a_clear_error(tiny_model_dir, tmp_path, capsys):
    assert (
        main(
            [
                "eval",
                "--model",
                tiny_model_dir,
                "--lm_eval",
                "no_such_task_xyz",
                "--output_dir",
                str(tmp_path / "eval"),
            ]
        )
        == 2
    )
    assert "--lm_eval: unknown task(s) no_such_task_xyz" in capsys.readouterr().err

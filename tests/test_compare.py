"""`figa compare` on data of its own: each method's settings chosen on the validation prompts (the best point of
its grid), the chosen settings trained with two seeds and scored on the test prompts, the paired difference
against SFT equal to the one computed by hand from the answers' rewards, and a rerun that trains nothing again."""

import json

import numpy as np
import pytest

from figa.cli import main
from figa.tasks import TASKS
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
    # of the 16 pairs, 11 swap one word ("mat" -> "table") and 5 cut three (" and the sofa")
    assert report["edits"]["words_changed"] == {"median": 1.0, "mean": (11 * 1 + 5 * 3) / 16}
    assert "Words changed per pair by the revisions: 1 (median; mean 1.6)" in (out / "report.md").read_text()

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
        ({"prompts": "validation_prompts"}, "give the training pairs (--data SPA.jsonl) or prompts"),
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


@pytest.mark.slow  # two workers and one process, each running the whole comparison of the tiny model
def test_two_workers_sharing_a_study_split_the_jobs_and_report_what_one_process_does(tiny_model_dir, inputs, tmp_path):
    import subprocess
    import sys

    from .conftest import REPO

    single = tmp_path / "single"
    shared = tmp_path / "shared"
    command = [
        sys.executable,
        "-m",
        "figa",
        *arguments(tiny_model_dir, inputs, shared, "--study", shared / "study.journal"),
    ]
    workers = [
        subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    logs = [worker.communicate(timeout=600)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], logs
    taken = [line for log in logs for line in log.splitlines() if "(this worker)" in line]
    jobs = [line.split(": ")[1].split(" (")[0] for line in taken]
    assert len(jobs) == len(set(jobs)), taken  # no job ran twice
    assert {job for job in jobs if "-s" in job} == {"sft-s0", "sft-s1", "figa-s0", "figa-s1"}
    assert main(arguments(tiny_model_dir, inputs, single)) == 0
    one, two = (json.loads((out / "report.json").read_text()) for out in (single, shared))
    assert two["tuning"]["chosen"] == one["tuning"]["chosen"]
    assert [row["reward"] for row in two["methods"]] == [row["reward"] for row in one["methods"]]


@pytest.mark.slow  # curation, then a comparison, of the tiny model
def test_prompts_are_curated_first_into_the_pairs_every_method_trains_on(tiny_model_dir, inputs, tmp_path):
    from .conftest import prompts_file

    (tmp_path / "grid.json").write_text(json.dumps({"sft": [{"learning_rate": 1e-4, "epochs": 1}]}))
    (tmp_path / "curate.yaml").write_text("max_new_tokens: 8\nkeep_truncated: true\nmax_edit_ratio: 5.0\n")
    del inputs["data"]
    for name, words in (("validation_prompts", ["owl tree", "hen barn"]), ("test_prompts", ["cow hill", "pig mud"])):
        rows = [
            {"id": w.replace(" ", "-"), "prompt": f"write one sentence. mention {' and '.join(w.split())}."}
            for w in words
        ]
        inputs[name] = write_jsonl(tmp_path / f"{name}.jsonl", rows)
    out = tmp_path / "compare"
    args = arguments(tiny_model_dir, inputs, out, "--seeds", "1", "--prompts", prompts_file(tmp_path))
    args[args.index("--methods") + 1 : args.index("--methods") + 3] = ["sft"]
    args[args.index("--reward") + 1] = "python:tests.curation_helpers:keyword_reward"
    assert (
        main(
            [
                *args,
                "--reviser",
                "python:tests.curation_helpers:revise_by_appending",
                "--curate_config",
                str(tmp_path / "curate.yaml"),
            ]
        )
        == 0
    )
    curated = (out / "spa" / "train.jsonl").read_text().splitlines()
    report = json.loads((out / "report.json").read_text())
    assert curated and report["pairs"] == len(curated)
    assert report["settings"]["data"] == str(out / "spa" / "train.jsonl")


@pytest.mark.slow  # a built-in task curated with the tiny model, then compared
@pytest.mark.parametrize("task", ["facts", "constraints"])
def test_a_built_in_task_writes_its_splits_curates_and_compares(task, tiny_model_dir, tmp_path, in_repo):
    (tmp_path / "grid.json").write_text(json.dumps({"sft": [{"learning_rate": 1e-4, "epochs": 1}]}))
    (tmp_path / "curate.yaml").write_text("max_new_tokens: 8\nkeep_truncated: true\nmax_edit_ratio: 5.0\n")
    out = tmp_path / "compare"
    args = [
        *("compare", "--task", task, "--task_prompts", "8", "3", "4", "--model", tiny_model_dir),
        *(
            "--output_dir",
            str(out),
            "--grid",
            str(tmp_path / "grid.json"),
            "--curate_config",
            str(tmp_path / "curate.yaml"),
        ),
        *("--methods", "sft", "--seeds", "1", "--max_new_tokens", "8", "--max_length", "512", "--precision", "fp32"),
    ]
    assert main(args) == 0
    splits = {
        s: (out / "task" / f"prompts-{s}.jsonl").read_text().splitlines() for s in ("train", "validation", "test")
    }
    assert [len(rows) for rows in splits.values()] == [8, 3, 4]
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["reward"] == TASKS[task].reward and report["pairs"] > 0
    assert report["test_prompts"] == 4
    assert main([*args[:1], "--task", task, "--data", "x.jsonl", *args[3:]]) == 2  # the task sets its data


def test_a_task_leaves_its_inputs_to_the_task(tmp_path, capsys):
    args = [
        "compare",
        "--task",
        "facts",
        "--model",
        "m",
        "--reward",
        "python:x:y",
        "--output_dir",
        str(tmp_path / "c"),
    ]
    assert main(args) == 2
    one_line_error(capsys, "--task facts sets --reward itself; leave them out")
    assert not (tmp_path / "c").exists()


@pytest.mark.slow  # a comparison killed after its first grid training, then resumed
def test_a_killed_comparison_resumes_without_repeating_finished_work(tiny_model_dir, inputs, tmp_path, capsys):
    import signal
    import subprocess
    import sys
    import time

    from .conftest import REPO

    out = tmp_path / "compare"
    worker = subprocess.Popen(
        [sys.executable, "-m", "figa", *arguments(tiny_model_dir, inputs, out)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows = out / "tune" / "rows"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(rows.glob("*.json"))) < 2 and worker.poll() is None:
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    finished = sorted(path.stem for path in rows.glob("*.json"))
    assert "base" in finished and len(finished) >= 2 and not (out / "report.json").exists()
    kept = {path: path.stat().st_mtime_ns for path in rows.glob("*.json")}

    assert main(arguments(tiny_model_dir, inputs, out)) == 0
    printed = capsys.readouterr().out
    for job in finished:
        assert f"already scored: {job}" in printed
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items())  # not scored again
    report = json.loads((out / "report.json").read_text())
    assert set(report["tuning"]["chosen"]) == {"sft", "figa"} and len(report["tuning"]["grid"]) == 4


def test_a_lock_file_planted_as_a_link_is_refused_and_its_target_untouched(inputs, tmp_path, capsys):
    out = tmp_path / "compare"
    (out / "tune" / "locks").mkdir(parents=True)
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    (out / "tune" / "locks" / "base.lock").symlink_to(target)
    assert main(arguments("no-such-model", inputs, out)) == 2
    one_line_error(capsys, "is a symbolic link; figa does not write through links")
    assert target.read_text() == "keep me"

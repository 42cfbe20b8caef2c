"""Faults: SIGKILL at seeded points of `figa curate`, and a training run killed mid-way and resumed."""

import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from figa.cli import main
from figa.testing import make_spa_records

from .conftest import PAIRS, REPO, SECRET, curate_args, prompts_file, read, write_jsonl
from .openai_server import Server


def stage_lines(out) -> int:
    stages = out / "stages"
    if not stages.exists():
        return 0
    return sum(path.read_bytes().count(b"\n") for path in stages.iterdir() if not path.name.startswith("blocks-"))


def kill_when(command, env, done, deadline=120):
    """Start `command`, SIGKILL it as soon as `done()` holds; return whether it was still running then."""
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + deadline
    while time.time() < end and process.poll() is None and not done():
        time.sleep(0.02)
    killed = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    return killed


def curate_command(server, out):
    """`figa curate` of one prompt per keyword pair, one request at a time, policy and reviser on SERVER."""
    prompts = write_jsonl(
        out.parent / "prompts.jsonl",
        [{"id": f"p{i}", "prompt": f"write one sentence. mention {a} and {b}."} for i, (a, b) in enumerate(PAIRS)],
    )
    return [
        sys.executable,
        "-m",
        "figa",
        "curate",
        "--prompts",
        prompts,
        "--output_dir",
        str(out),
        "--policy",
        "test-policy",
        "--policy_backend",
        "openai",
        "--openai_base_url",
        server.url,
        "--reward",
        "python:tests.curation_helpers:keyword_reward",
        "--reviser",
        "openai:test-reviser",
        "--max_edit_ratio",
        "2.0",
        "--batch_size",
        "1",
        "--concurrency",
        "1",
    ]


@pytest.mark.slow
def test_curate_killed_at_ten_seeded_points_equals_an_uninterrupted_run(tmp_path):
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "PYTHONPATH": REPO}
    with Server(faults=False) as server:
        original_handler = server.httpd.RequestHandlerClass.do_POST

        def slow_post(handler):
            time.sleep(0.15)
            original_handler(handler)

        server.httpd.RequestHandlerClass.do_POST = slow_post

        whole = tmp_path / "whole"
        assert subprocess.run(curate_command(server, whole), env=env, cwd=REPO, capture_output=True).returncode == 0
        total = stage_lines(whole)  # rollout + reward + revise + rescore: one line per prompt each
        assert total == 4 * len(PAIRS)
        points = sorted(random.Random(1234).sample(range(1, total), 10))
        cut = tmp_path / "cut"
        kills = 0
        for point in points:
            kills += kill_when(curate_command(server, cut), env, lambda point=point: stage_lines(cut) >= point)
            time.sleep(0.2)  # the request in flight at the kill finishes on the server
        assert kills >= 8, "most kills should land inside the run, not after it ended"
        assert subprocess.run(curate_command(server, cut), env=env, cwd=REPO, capture_output=True).returncode == 0

    assert read(cut / "train.jsonl") == read(whole / "train.jsonl")
    assert read(cut / "rejected.jsonl") == read(whole / "rejected.jsonl")
    assert stage_lines(cut) == total  # no record was done twice
    for path in (cut / "stages").iterdir():
        ids = [row["id"] for row in read(path)]
        expected = 4 if path.name.startswith("blocks-") else len(PAIRS)  # one block, finished once by each pass
        assert len(ids) == len(set(ids)) == expected, path.name


def with_file_size_limit(limit):
    """Writes past LIMIT bytes fail with EFBIG in the child, as writes to a full disk fail with ENOSPC."""
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))


@pytest.mark.slow
def test_curate_stopped_by_a_full_disk_says_which_file_and_resumes_to_the_same_output(tmp_path):
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "PYTHONPATH": REPO}
    with Server(faults=False) as server:
        whole = tmp_path / "whole"
        assert subprocess.run(curate_command(server, whole), env=env, cwd=REPO, capture_output=True).returncode == 0
        total = stage_lines(whole)
        size = {path.name.split("-")[0]: path.stat().st_size for path in (whole / "stages").iterdir()}
        assert size["rollout"] < size["revise"] < (whole / "train.jsonl").stat().st_size
        cut = tmp_path / "cut"
        # the disk fills up during the rollouts, then during the revisions, then while writing train.jsonl
        for limit, file in [
            (size["rollout"] // 2, r"stages/rollout-\w+\.jsonl"),
            (size["revise"] - 20, r"stages/revise-\w+\.jsonl"),
            (size["revise"], "train.jsonl"),
        ]:
            stopped = subprocess.run(
                curate_command(server, cut),
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                preexec_fn=with_file_size_limit(limit),
            )
            assert stopped.returncode == 2, stopped.stderr[-2000:]
            assert "Traceback" not in stopped.stderr
            assert re.fullmatch(
                rf"figa curate: error: could not write {re.escape(str(cut))}/{file}: File too large\. "
                r"Free some space and run the same command again: what was saved before is kept\.",
                stopped.stderr.strip().splitlines()[-1],
            )
        assert not (cut / "train.jsonl").exists() and not list(cut.glob(".*.tmp"))
        assert subprocess.run(curate_command(server, cut), env=env, cwd=REPO, capture_output=True).returncode == 0
    assert read(cut / "train.jsonl") == read(whole / "train.jsonl")
    assert read(cut / "rejected.jsonl") == read(whole / "rejected.jsonl")
    assert stage_lines(cut) == total  # the lines cut by the failed writes were dropped, none was done twice


@pytest.mark.slow
def test_eval_and_view_stopped_by_a_full_disk_name_the_file_and_leave_nothing_half_written(tiny_model_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": REPO}
    prompts = write_jsonl(
        tmp_path / "heldout.jsonl",
        [
            {"id": f"h{i}", "prompt": f"tell me about the {word}"}
            for i, word in enumerate(w for pair in PAIRS for w in pair)
        ],
    )

    def evaluate(out, limit=None):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "figa",
                "eval",
                "--model",
                tiny_model_dir,
                "--prompts",
                prompts,
                "--reward",
                "python:tests.curation_helpers:length_reward",
                "--output_dir",
                str(out),
                "--max_new_tokens",
                "6",
                "--batch_size",
                "4",
            ],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            preexec_fn=limit and with_file_size_limit(limit),
        )

    assert evaluate(tmp_path / "whole").returncode == 0
    cut = tmp_path / "cut"
    stopped = evaluate(cut, limit=400)
    assert stopped.returncode == 2 and "Traceback" not in stopped.stderr, stopped.stderr[-2000:]
    assert re.search(
        rf"figa eval: error: could not write {re.escape(str(cut))}/stages/generate-\w+\.jsonl: File too large\.",
        stopped.stderr,
    )
    assert not (cut / "results.json").exists()
    assert evaluate(cut).returncode == 0
    whole, resumed = (json.loads((out / "results.json").read_text()) for out in (tmp_path / "whole", cut))
    assert resumed["responses"] == whole["responses"]
    assert resumed["models"] == whole["models"]

    spa, page = write_jsonl(tmp_path / "spa.jsonl", make_spa_records(40)), tmp_path / "view.html"
    stopped = subprocess.run(
        [sys.executable, "-m", "figa", "view", spa, "-o", str(page)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        preexec_fn=with_file_size_limit(4096),
    )
    assert stopped.returncode == 2 and "Traceback" not in stopped.stderr, stopped.stderr[-2000:]
    assert f"figa view: error: could not write {page}: File too large." in stopped.stderr
    assert not page.exists() and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow
def test_training_killed_or_out_of_disk_mid_way_resumes_at_the_same_step_with_the_same_data_order(
    tiny_model_dir, spa_file, tmp_path
):
    env = {**os.environ, "PYTHONPATH": REPO}

    def command(out, *extra):
        return [
            sys.executable,
            "-m",
            "figa",
            "train",
            "--data",
            spa_file,
            "--model_name_or_path",
            tiny_model_dir,
            "--output_dir",
            str(out),
            "--max_steps",
            "120",
            "--per_device_train_batch_size",
            "4",
            "--learning_rate",
            "1e-3",
            "--save_steps",
            "20",
            "--logging_steps",
            "1",
            "--seed",
            "3",
            "--report_to",
            "none",
            "--use_cpu",
            "true",
            *extra,
        ]

    whole = tmp_path / "whole"
    assert subprocess.run(command(whole), env=env, capture_output=True).returncode == 0
    cut = tmp_path / "cut"
    assert kill_when(command(cut), env, lambda: (cut / "checkpoint-60" / "trainer_state.json").exists())
    assert not (cut / "figa_train_report.json").exists()
    last = max(
        int(path.name.split("-")[1]) for path in cut.glob("checkpoint-*") if (path / "trainer_state.json").exists()
    )
    # the disk fills up while the resumed run saves its next checkpoint: after the weights, in the optimizer state
    full_disk = subprocess.run(
        command(cut, "--resume_from_checkpoint", "latest"),
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=with_file_size_limit((cut / f"checkpoint-{last}" / "model.safetensors").stat().st_size + 1024),
    )
    torn = cut / f"checkpoint-{last + 20}"
    assert full_disk.returncode == 2 and "Traceback" not in full_disk.stderr, full_disk.stderr[-2000:]
    assert f"figa train: error: could not save {torn}: " in full_disk.stderr
    assert not torn.exists()  # the failed save removed what it had written
    resumed = subprocess.run(
        command(cut, "--resume_from_checkpoint", "latest"), env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from {cut / f'checkpoint-{last}'}" in resumed.stdout
    history = json.loads((cut / "figa_train_report.json").read_text())["log_history"]
    reference = json.loads((whole / "figa_train_report.json").read_text())["log_history"]
    losses = {row["step"]: row["loss"] for row in reference if "loss" in row}
    for row in history:
        if "loss" in row:  # the same batches in the same order give the same losses
            assert row["loss"] == pytest.approx(losses[row["step"]], rel=1e-4)
    a, b = load_file(whole / "model.safetensors"), load_file(cut / "model.safetensors")
    assert all((a[name] - b[name]).abs().max() < 1e-5 for name in a)


def test_retry_budget_bounds_the_run_time_when_the_endpoint_never_answers(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    hanging = [
        {"id": f"hang{i}", "prompt": f"ALWAYS_HANG {i}. mention {a} and {b}."} for i, (a, b) in enumerate(PAIRS[:4])
    ]
    out = tmp_path / "spa"
    with Server(faults=False) as server:  # an unanswered request would hold a connection for 120 s
        start = time.monotonic()
        code = main(
            curate_args(
                tiny_model_dir,
                prompts_file(tmp_path, hanging),
                out,
                server.url,
                "--request_timeout",
                "0.5",
                "--max_retries",
                "1",
                "--concurrency",
                "4",
            )
        )
        elapsed = time.monotonic() - start
        attempts = {key: n for key, n in server.attempts.items()}
    assert code == 2  # timeouts are the server's fault: the run fails and stores no verdict for them
    assert "did not answer: APITimeoutError after 1 client retries" in capsys.readouterr().err
    revised = [row["id"] for path in (out / "stages").glob("revise-*.jsonl") for row in read(path)]
    assert not set(revised) & {record["id"] for record in hanging}
    assert max(attempts.values()) == 2  # max_retries + 1 attempts at most
    # 2 attempts of 0.5 s and one client back-off (< 1 s) per request, 4 at a time: seconds, not minutes
    assert elapsed < 30

"""`figa curate` over many prompts in blocks, against `figa.simulated_server`: the same outputs whatever the block
size, and a run killed in the middle of a stage that resumes with every prompt accounted for exactly once."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from figa.simulated_server import curate_arguments

from .conftest import REPO, read

pytestmark = pytest.mark.slow  # six curate runs of 600 prompts (one killed) and one split in three: about 2 min
N = 600


@pytest.fixture(scope="module")
def server_url():
    server = subprocess.Popen(
        [sys.executable, "-m", "figa.simulated_server", "--latency", "0.002", "--capacity", "32"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    yield server.stdout.readline().strip()
    server.terminate()
    server.wait()


@pytest.fixture(scope="module")
def prompts(tmp_path_factory):
    path = tmp_path_factory.mktemp("prompts") / "prompts.jsonl"
    kinds = ["an easy one", "a harder one", "a harder one", "a harder one"]
    path.write_text(
        "".join(json.dumps({"id": f"p{i}", "prompt": f"Question {i}: {kinds[i % 4]}."}) + "\n" for i in range(N))
    )
    return path


def command(prompts, out, url, block_size, in_process=False):
    arguments = curate_arguments(prompts, out, url, 8, block_size, in_process)
    return [sys.executable, "-m", "figa", "curate", *arguments]


def run(args):
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def whole_run(prompts, server_url, tmp_path_factory):
    """The run in one block, every request on the server: (its output directory, what it printed)."""
    out = tmp_path_factory.mktemp("whole") / "run"
    return out, run(command(prompts, out, server_url, 10_000))


def test_blocks_of_any_size_give_the_same_outputs(prompts, server_url, whole_run, tmp_path):
    one, output = whole_run
    run(command(prompts, tmp_path / "blocks", server_url, 70))
    for name in ("train.jsonl", "rejected.jsonl", "stats.json"):
        assert (one / name).read_text() == (tmp_path / "blocks" / name).read_text(), name
    stats = json.loads((one / "stats.json").read_text())
    assert stats["counts"]["train"] == N * 3 // 4 and stats["counts"]["rejected_by_stage"] == {"filter": N // 4}
    assert stats["rewards"]["original"]["count"] == N and stats["edit_ratio"]["count"] == N * 3 // 4
    assert "seconds: rollout" in output and "wrote" in output


def test_the_in_process_judge_and_reviser_decide_as_the_server_does(prompts, server_url, whole_run, tmp_path):
    server, _ = whole_run
    in_process = tmp_path / "in_process"
    run(command(prompts, in_process, server_url, 10_000, in_process=True))
    for name in ("train.jsonl", "rejected.jsonl"):
        rows = [[{k: v for k, v in r.items() if k != "meta"} for r in read(d / name)] for d in (server, in_process)]
        assert rows[0] == rows[1], name  # the same texts and rewards; meta names the reward and the reviser
    counts = [json.loads((d / "stats.json").read_text())["counts"] for d in (server, in_process)]
    assert counts[0] == counts[1] and counts[0]["train"] == N * 3 // 4


def test_a_run_killed_mid_stage_resumes_with_every_prompt_once(prompts, server_url, tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run(command(prompts, whole, server_url, 100))
    process = subprocess.Popen(
        command(prompts, cut, server_url, 100), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    revised = 0
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        files = os.listdir(cut / "stages") if (cut / "stages").exists() else []
        revise = [name for name in files if name.startswith("revise-")]
        if revise:
            revised = len((cut / "stages" / revise[0]).read_bytes().splitlines())
            if revised >= 150:  # past the first blocks of the revise pass, before its end
                break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 150 <= revised < N * 3 // 4, "the kill should land in the middle of the revise stage"
    assert not (cut / "train.jsonl").exists()
    run(command(prompts, cut, server_url, 100))

    for name in ("train.jsonl", "rejected.jsonl", "stats.json"):
        assert (cut / name).read_text() == (whole / name).read_text(), name
    for name in os.listdir(cut / "stages"):
        ids = [row["id"] for row in read(cut / "stages" / name)]
        assert len(ids) == len(set(ids)), name  # nothing computed twice
    ids = [row["id"] for row in read(cut / "train.jsonl") + read(cut / "rejected.jsonl")]
    assert sorted(ids) == sorted(f"p{i}" for i in range(N))  # every prompt in exactly one output


def test_a_run_split_over_three_processes_merges_into_the_single_run(prompts, server_url, whole_run, tmp_path):
    whole, _ = whole_run
    parts = [tmp_path / f"part{i}" for i in range(3)]
    processes = [
        subprocess.Popen(
            [*command(prompts, part, server_url, 100), "--shard", f"{i}/3"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, part in enumerate(parts)
    ]
    for process in processes:
        assert process.wait() == 0, process.stderr.read()[-2000:]
    sizes = [json.loads((part / "stats.json").read_text())["counts"]["prompts"] for part in parts]
    assert sum(sizes) == N and min(sizes) > N // 6  # every prompt in one part; the hash spreads them

    merged = tmp_path / "merged"
    run([sys.executable, "-m", "figa", "curate", "merge", *map(str, parts), "--output_dir", str(merged)])
    for name in ("train.jsonl", "rejected.jsonl"):
        assert sorted((merged / name).read_text().splitlines()) == sorted((whole / name).read_text().splitlines())
    got, want = (json.loads((d / "stats.json").read_text()) for d in (merged, whole))
    assert got["counts"] == want["counts"]
    for name in want["rewards"]:
        assert got["rewards"][name] == pytest.approx(want["rewards"][name]), name
    assert got["edit_ratio"] == pytest.approx(want["edit_ratio"])

    def merge_error(*args):
        done = subprocess.run(
            [sys.executable, "-m", "figa", "curate", "merge", *map(str, args), "--output_dir", str(tmp_path / "x")],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert not (tmp_path / "x").exists()
        return done.stderr

    assert "expected the parts 0/3 to 2/3, each once" in merge_error(parts[0], parts[1])
    assert "expected the parts 0/3 to 2/3, each once" in merge_error(parts[0], parts[1], parts[1])
    assert "not a part of a split run" in merge_error(whole, parts[1])
    settings = json.loads((parts[2] / "curate_config.json").read_text())
    (parts[2] / "curate_config.json").write_text(json.dumps({**settings, "eta1": 0.9}))
    assert "different settings or prompt files (eta1" in merge_error(*parts)
    (parts[2] / "curate_config.json").write_text(json.dumps({**settings, "prompts_sha256": "another file"}))
    assert "different settings or prompt files (prompts_sha256" in merge_error(*parts)
    (parts[2] / "curate_config.json").write_text(json.dumps(settings))
    train = (parts[1] / "train.jsonl").read_text().splitlines(keepends=True)
    (parts[1] / "train.jsonl").write_text("".join(train[:-5]))  # a part whose rows are fewer than its stats say
    stated = json.loads((parts[1] / "stats.json").read_text())["counts"]["train"]
    assert f"train.jsonl has {len(train) - 5} rows, its stats.json says {stated}" in merge_error(*parts)

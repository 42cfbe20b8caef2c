"""curate -> train -> eval through a server someone else wrote: `transformers serve` (transformers' own
OpenAI-compatible server) hosting the tiny model on 127.0.0.1, as policy (`--policy_backend openai`), reviser,
reward judge and `figa weigh` judge. The tiny random model writes nonsense, so the thresholds let every pair
through: this checks the protocol, not the answers."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from figa.backends.openai_client import EndpointConfig
from figa.backends.rewards import make_reward
from figa.cli import main

from .conftest import prompts_file, read

pytest.importorskip("fastapi")  # transformers[serving], in the dev extra
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("in_repo")]
REWARD = "python:tests.curation_helpers:keyword_reward"


@pytest.fixture(scope="module")
def served(tiny_model_dir):
    """The tiny model behind `transformers serve`: (base URL, the model's name there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = shutil.which("transformers", path=os.path.dirname(sys.executable))
    server = subprocess.Popen(
        [command, "serve", tiny_model_dir, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu",
         "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"transformers serve did not start: {server.stderr.read()[-2000:]}") from None
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1", tiny_model_dir
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_curate_train_and_eval_through_transformers_serve(served, tiny_model_dir, tmp_path, monkeypatch):
    url, name = served
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a local server: figa sends "EMPTY"
    prompts, spa = prompts_file(tmp_path), tmp_path / "spa"
    curate = [
        "curate", "--prompts", prompts, "--output_dir", str(spa), "--policy", name, "--policy_backend", "openai",
        "--reward", REWARD, "--reviser", f"openai:{name}", "--openai_base_url", url, "--max_new_tokens", "8",
        "--keep_truncated", "--eta1", "2", "--min_gain", "-1", "--max_edit_ratio", "1000", "--concurrency", "2",
    ]  # fmt: skip
    assert main(curate) == 0
    pairs = read(spa / "train.jsonl")
    assert pairs and all(p["original_output"] != p["revised_output"] for p in pairs)
    assert all(p["meta"]["policy_backend"] == "openai" for p in pairs)

    model = tmp_path / "model"
    train = ["train", "--model_name_or_path", tiny_model_dir, "--data", str(spa / "train.jsonl"), "--output_dir",
             str(model), "--max_steps", "2", "--per_device_train_batch_size", "4", "--report_to", "none"]  # fmt: skip
    assert main(train) == 0

    out = tmp_path / "eval"
    evaluate = ["eval", "--model", tiny_model_dir, str(model), "--names", "base", "figa", "--prompts", prompts,
                "--reward", REWARD, "--output_dir", str(out), "--max_new_tokens", "6"]  # fmt: skip
    assert main(evaluate) == 0
    results = json.loads((out / "results.json").read_text())
    assert [row["name"] for row in results["models"]] == ["base", "figa"]
    assert results["prompts"] == len(read(prompts))


def test_the_served_model_as_reward_judge_and_weigh_judge(served, tmp_path, capsys):
    url, name = served
    judge = make_reward(f"openai:{name}", EndpointConfig(base_url=url, max_retries=1, max_tokens=8))
    scores = judge.score(["Rate this."] * 2, ["an answer", "another"], [None, None])
    assert len(scores) == 2  # nonsense is no rating (NaN): answered, not an outage
    data = tmp_path / "spa.jsonl"
    data.write_text(json.dumps({"prompt": "p", "original_output": "a cat", "revised_output": "a dog"}) + "\n")
    weigh = ["weigh", "--data", str(data), "--judge", f"openai:{name}", "-o", str(tmp_path / "w.jsonl"),
             "--openai_base_url", url, "--max_new_tokens", "16"]  # fmt: skip
    assert main(weigh) == 2  # the tiny model never writes the JSON asked for
    assert "judge: every one of the 1 requests failed (the first: no usable reply" in capsys.readouterr().err

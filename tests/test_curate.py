import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from rapidfuzz.distance import Levenshtein

from figa.backends.rewards import PythonReward
from figa.cli import main
from figa.curate.filters import Thresholds, accept_revision, edit_ratio, select_for_revision, words
from figa.curate.revisers import ReferenceEditReviser
from figa.testing import corpus, save_tiny_model

from .conftest import PAIRS, REPO, SECRET, curate_args, prompts_file, read, write_jsonl
from .openai_server import Server

pytestmark = pytest.mark.usefixtures("in_repo")


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_pipeline_with_local_policy_python_reward_and_openai_reviser(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    extra = [
        {"id": "empty", "prompt": "EMPTY_CHOICES. mention dog and hill."},
    ]
    out = tmp_path / "spa"
    with Server() as server:
        code = main(curate_args(tiny_model_dir, prompts_file(tmp_path, extra), out, server.url, "--concurrency", "4"))
    assert code == 0
    train, rejected = read(out / "train.jsonl"), read(out / "rejected.jsonl")
    ids = [r["id"] for r in train] + [r["id"] for r in rejected]
    assert sorted(ids) == sorted([f"p{i}" for i in range(8)] + ["ref", "empty"])  # each once
    reasons = {r["id"]: (r["stage"], r["reason"]) for r in rejected}
    assert reasons["empty"][0] == "revise" and "no choices" in reasons["empty"][1]
    assert len(train) >= 7
    for record in train:
        assert record["rewards"]["revised"] == 1.0 and record["rewards"]["original"] < 1.0
        assert record["revised_output"].startswith(record["original_output"])
        assert record["meta"]["reviser"] == "openai:test-reviser" and record["edits"]["edit_ratio"] > 0
    assert any(r["id"] == "ref" and r["output"] == "the cat sat on the hill today" for r in train)
    assert max(server.attempts.values()) >= 2  # faults were injected and retried
    assert all(a == f"Bearer {SECRET}" for a in server.authorizations)  # the key was used ...
    for root, _, files in os.walk(out):  # ... and written nowhere
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                assert SECRET.encode() not in handle.read(), name
    stats = json.loads((out / "stats.json").read_text())
    assert stats["counts"]["train"] == len(train) and stats["counts"]["rejected"] == len(rejected)
    printed = capsys.readouterr()
    assert "train" in printed.out and SECRET not in printed.out + printed.err

    # curated data trains as is
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                str(out / "train.jsonl"),
                "--output_dir",
                str(tmp_path / "model"),
                "--max_steps",
                "2",
                "--save_strategy",
                "no",
            ]
        )
        == 0
    )


def test_filters_record_by_record():
    t = Thresholds(eta1=0.5, eta2=0.6, eta3=0.3, min_gain=0.25, max_edit_ratio=0.4)
    assert select_for_revision({"original": 0.2}, t) is None
    assert "eta1" in select_for_revision({"original": 0.5}, t)  # not strictly below
    assert select_for_revision({"original": 0.2, "reference": 0.9}, t) is None
    assert "eta2" in select_for_revision({"original": 0.2, "reference": 0.6}, t)
    assert "eta3" in select_for_revision({"original": 0.45, "reference": 0.7}, t)  # gap 0.25 <= 0.3
    assert accept_revision({"original": 0.25, "revised": 0.5}, 0.4, t) is None  # gain 0.25 >= 0.25, ratio <= 0.4
    assert "min_gain" in accept_revision({"original": 0.25, "revised": 0.375}, 0.1, t)
    assert "max_edit_ratio" in accept_revision({"original": 0.2, "revised": 0.9}, 0.41, t)
    assert edit_ratio("the cat sat on the mat .", "the cat sat on the rug .") == pytest.approx(1 / 7)


def test_reference_edit_raises_reward_with_fewer_changes_than_the_reference():
    reward = PythonReward("tests.curation_helpers:keyword_reward")
    original = "the dog sat on the rug today and it was a fine day for everyone"
    reference = "a cat slept on a mat yesterday and everything was great for all of them"
    prompt = "write one sentence. mention cat and mat."
    revised = ReferenceEditReviser(reward).one(
        {"prompt": prompt, "original": original, "reference": reference, "target": 1.0}
    )
    scores = reward.score([prompt] * 3, [original, revised, reference], [reference] * 3)
    assert scores[0] == 0.0 and scores[1] == 1.0
    changed = Levenshtein.distance(words(original), words(revised))
    assert 0 < changed < Levenshtein.distance(words(original), words(reference))


def test_trl_style_reward_functions_score_like_figa_style_ones():
    prompts = ["write one sentence. mention cat and mat."] * 3
    responses = ["the cat sat on the mat", "the cat sat", "a dog"]
    references = ["the cat sat on the mat", "the cat sat on the mat", None]
    figa_style = PythonReward("tests.curation_helpers:keyword_reward").score(prompts, responses, references)
    assert (
        PythonReward("tests.curation_helpers:trl_keyword_reward").score(prompts, responses, references)
        == figa_style
        == [1.0, 0.5, 0.0]
    )
    assert PythonReward("tests.curation_helpers:trl_reference_reward").score(prompts, responses, references) == [
        1.0,
        0.0,
        0.0,
    ]


def test_reference_edit_reviser_curates_offline(tiny_model_dir, tmp_path):
    rows = [
        {
            "id": f"r{i}",
            "prompt": f"write one sentence. mention {a} and {b}.",
            "output": f"the {a} sat on the {b} today",
        }
        for i, (a, b) in enumerate(PAIRS[:4])
    ]
    out = tmp_path / "spa"
    assert (
        main(
            [
                "curate",
                "--prompts",
                write_jsonl(tmp_path / "p.jsonl", rows),
                "--output_dir",
                str(out),
                "--policy",
                tiny_model_dir,
                "--reward",
                "python:tests.curation_helpers:keyword_reward",
                "--reviser",
                "reference-edit",
                "--revise_target",
                "1.0",
                "--max_new_tokens",
                "6",
                "--max_edit_ratio",
                "5",
                "--keep_truncated",
            ]
        )
        == 0
    )
    train = read(out / "train.jsonl")
    assert len(train) == 4 and all(r["rewards"]["revised"] == 1.0 for r in train)


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_resume_after_sigkill_equals_an_uninterrupted_run(tiny_model_dir, tmp_path):
    prompts = prompts_file(tmp_path)
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "PYTHONPATH": REPO}
    with Server(faults=False) as server:

        def command(out):
            return [
                sys.executable,
                "-m",
                "figa",
                *curate_args(tiny_model_dir, prompts, out, server.url, "--concurrency", "1"),
            ]

        assert subprocess.run(command(tmp_path / "whole"), env=env, cwd=REPO, capture_output=True).returncode == 0

        original_handler = server.httpd.RequestHandlerClass.do_POST

        def slow_post(handler):
            time.sleep(0.4)
            original_handler(handler)

        server.httpd.RequestHandlerClass.do_POST = slow_post
        cut = tmp_path / "cut"
        process = subprocess.Popen(
            command(cut), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + 120
        stage_lines = 0
        while time.time() < deadline and process.poll() is None:
            files = [f for f in os.listdir(cut / "stages")] if (cut / "stages").exists() else []
            revise = [f for f in files if f.startswith("revise-")]
            if revise:
                stage_lines = len((cut / "stages" / revise[0]).read_text().splitlines())
                if stage_lines >= 3:
                    break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert 3 <= stage_lines < 9, "the kill should land in the middle of the revise stage"
        assert not (cut / "train.jsonl").exists()
        time.sleep(0.6)  # let the request that was in flight at the kill finish on the server
        server.httpd.RequestHandlerClass.do_POST = original_handler
        requests_before = len(server.authorizations)
        assert subprocess.run(command(cut), env=env, cwd=REPO, capture_output=True).returncode == 0
        assert len(server.authorizations) - requests_before <= 9 - 3  # finished revisions were not redone

    assert read(cut / "train.jsonl") == read(tmp_path / "whole" / "train.jsonl")
    assert read(cut / "rejected.jsonl") == read(tmp_path / "whole" / "rejected.jsonl")
    for name in os.listdir(cut / "stages"):
        ids = [row["id"] for row in read(cut / "stages" / name)]
        assert len(ids) == len(set(ids)), name  # nothing done twice


def test_changed_stage_settings_recompute_that_stage_only(tiny_model_dir, tmp_path):
    rows = [
        {
            "id": f"r{i}",
            "prompt": f"write one sentence. mention {a} and {b}.",
            "output": f"the {a} sat on the {b} today",
        }
        for i, (a, b) in enumerate(PAIRS[:3])
    ]
    prompts, out = write_jsonl(tmp_path / "p.jsonl", rows), tmp_path / "spa"
    base = [
        "curate",
        "--prompts",
        prompts,
        "--output_dir",
        str(out),
        "--policy",
        tiny_model_dir,
        "--reward",
        "python:tests.curation_helpers:keyword_reward",
        "--reviser",
        "reference-edit",
        "--max_new_tokens",
        "6",
        "--max_edit_ratio",
        "5",
        "--keep_truncated",
    ]
    assert main(base) == 0
    rollout = [f for f in os.listdir(out / "stages") if f.startswith("rollout-")]
    mtime = os.path.getmtime(out / "stages" / rollout[0])
    assert main(base + ["--revise_target", "1.0"]) == 0
    stages = sorted(f.split("-")[0] for f in os.listdir(out / "stages"))
    # the finished blocks are marked per setting, so the second run keeps its own marks
    assert stages == ["blocks", "blocks", "rescore", "rescore", "revise", "revise", "reward", "rollout"]
    assert os.path.getmtime(out / "stages" / rollout[0]) == mtime  # the rollout was not redone


def _reference_rows(count):
    return [
        {
            "id": f"r{i}",
            "prompt": f"write one sentence. mention {a} and {b}.",
            "output": f"the {a} sat on the {b} today",
        }
        for i, (a, b) in enumerate(PAIRS[:count])
    ]


def _blocks_curate(prompts, out, model, *extra):
    return [
        *("curate", "--prompts", prompts, "--output_dir", str(out), "--policy", model),
        *("--reward", "python:tests.curation_helpers:keyword_reward", "--reviser", "reference-edit"),
        *("--max_new_tokens", "6", "--max_edit_ratio", "5", "--keep_truncated", "--block_size", "2", *extra),
    ]


@pytest.mark.slow  # over 5 s on 2 cores; the full suite (CI) runs it
def test_a_changed_threshold_is_not_skipped_as_a_finished_block(tiny_model_dir, tmp_path):
    """A resumed run skips the blocks a pass finished; a threshold that lets other prompts reach a pass must not
    be skipped: here the first run revises nothing (eta1 0), the second, in the same directory, everything."""
    prompts = write_jsonl(tmp_path / "p.jsonl", _reference_rows(6))
    out, fresh = tmp_path / "spa", tmp_path / "fresh"
    keep = ["--revise_target", "1.0"]  # the reviser's settings, and so its stage file, stay the same
    assert main(_blocks_curate(prompts, out, tiny_model_dir, *keep, "--eta1", "0")) == 0
    assert read(out / "train.jsonl") == []
    assert main(_blocks_curate(prompts, out, tiny_model_dir, *keep, "--eta1", "1.0")) == 0
    assert main(_blocks_curate(prompts, fresh, tiny_model_dir, *keep, "--eta1", "1.0")) == 0
    assert len(read(fresh / "train.jsonl")) == 6
    assert read(out / "train.jsonl") == read(fresh / "train.jsonl")


@pytest.mark.slow  # over 5 s on 2 cores; the full suite (CI) runs it
def test_a_stage_file_cut_short_is_computed_again_not_skipped(tiny_model_dir, tmp_path):
    prompts = write_jsonl(tmp_path / "p.jsonl", _reference_rows(6))
    out = tmp_path / "spa"
    assert main(_blocks_curate(prompts, out, tiny_model_dir)) == 0
    whole = read(out / "train.jsonl")
    revise = next((out / "stages").glob("revise-*.jsonl"))
    lines = revise.read_bytes().splitlines(keepends=True)
    revise.write_bytes(b"".join(lines[:2]))  # four revisions lost, as by a disk restored from a backup
    assert main(_blocks_curate(prompts, out, tiny_model_dir)) == 0
    assert read(out / "train.jsonl") == whole
    assert sorted(row["id"] for row in read(revise)) == sorted(row["id"] for row in read(tmp_path / "p.jsonl"))


@pytest.mark.slow  # over 5 s on 2 cores; the full suite (CI) runs it
def test_reward_that_raises_is_a_clear_error_and_nan_rejects(tiny_model_dir, tmp_path, capsys):
    prompts = prompts_file(tmp_path)
    common = [
        "curate",
        "--prompts",
        prompts,
        "--policy",
        tiny_model_dir,
        "--reviser",
        "reference-edit",
        "--max_new_tokens",
        "4",
        "--keep_truncated",
    ]
    assert (
        main(
            common + ["--output_dir", str(tmp_path / "a"), "--reward", "python:tests.curation_helpers:failing_reward"]
        )
        == 2
    )
    assert "failing_reward raised RuntimeError: the reward service is down" in capsys.readouterr().err
    assert (
        main(common + ["--output_dir", str(tmp_path / "b"), "--reward", "python:tests.curation_helpers:nan_reward"])
        == 0
    )
    rejected = read(tmp_path / "b" / "rejected.jsonl")
    assert len(rejected) == 9 and {r["stage"] for r in rejected} == {"reward"}
    assert main(common + ["--output_dir", str(tmp_path / "c"), "--reward", "python:tests.nope:f"]) == 2
    assert "cannot import 'tests.nope'" in capsys.readouterr().err


def test_openai_policy_and_judge_and_hf_reward_model(tmp_path, monkeypatch):
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from figa.backends.openai_client import EndpointConfig
    from figa.backends.policies import OpenAIPolicy
    from figa.backends.rewards import HFReward, OpenAIJudge
    from figa.testing import build_tokenizer, corpus

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with Server() as server:
        endpoint = EndpointConfig(base_url=server.url, max_retries=3, retry_base_delay=0.01, timeout=5)
        assert OpenAIPolicy("policy", endpoint).one({"prompt": "say something", "messages": None}) == "a plain answer"
        scores = OpenAIJudge("judge", endpoint, concurrency=2).score(["q1", "q2"], ["a1", "a2"])
        assert scores == [0.7, 0.7]

    tokenizer = build_tokenizer(corpus(), chat_template=False)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForSequenceClassification(config).save_pretrained(tmp_path / "rm")
    tokenizer.save_pretrained(tmp_path / "rm")
    scores = HFReward(str(tmp_path / "rm"), batch_size=2).score(
        ["where did the cat sit?"] * 3, ["on the mat.", "on the sofa.", "the dog ran."]
    )
    assert len(scores) == 3 and all(isinstance(s, float) and s == s for s in scores)
    assert len(set(scores)) > 1


def test_bad_prompt_records_stop_or_go_to_rejected(tiny_model_dir, tmp_path, capsys):
    rows = [
        json.dumps({"id": "a", "prompt": "write one sentence. mention cat and mat."}),
        json.dumps({"id": "b", "promt": "typo"}),
        json.dumps({"id": "c", "messages": [{"role": "assistant", "content": "hi"}]}),
    ]
    prompts = write_jsonl(tmp_path / "p.jsonl", rows)
    common = [
        "curate",
        "--prompts",
        prompts,
        "--policy",
        tiny_model_dir,
        "--reviser",
        "reference-edit",
        "--reward",
        "python:tests.curation_helpers:keyword_reward",
        "--max_new_tokens",
        "4",
    ]
    assert main(common + ["--output_dir", str(tmp_path / "a")]) == 2
    assert f"{prompts}:2: field 'prompt': missing" in capsys.readouterr().err
    assert main(common + ["--output_dir", str(tmp_path / "b"), "--skip_bad_records"]) == 0
    rejected = read(tmp_path / "b" / "rejected.jsonl")
    inputs = [r for r in rejected if r["stage"] == "input"]
    assert len(inputs) == 2 and "end with a user turn" in inputs[1]["reason"]
    assert len(rejected) + len(read(tmp_path / "b" / "train.jsonl")) == 3


def test_responses_cut_at_max_new_tokens_are_rejected_by_default(tiny_model_dir, tmp_path):
    out = tmp_path / "spa"
    args = [
        a
        for a in curate_args(tiny_model_dir, prompts_file(tmp_path), out, "http://127.0.0.1:9")
        if a != "--keep_truncated"
    ]
    assert main([*args, "--reviser", "python:tests.curation_helpers:revise_by_appending"]) == 0
    rejected = read(out / "rejected.jsonl")
    assert read(out / "train.jsonl") == [] and len(rejected) == len(PAIRS) + 1  # a tiny model never ends in 8 tokens
    assert {(r["stage"], r["reason"]) for r in rejected} == {
        ("rollout", "the response was cut at max_new_tokens=8 (raise --max_new_tokens, or pass --keep_truncated)")
    }


def test_openai_responses_stopped_at_max_tokens_are_rejected_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    prompts = write_jsonl(
        tmp_path / "prompts.jsonl",
        [
            {"id": "long", "prompt": "LONG_ANSWER. mention cat and mat."},
            {"id": "short", "prompt": "mention cat and mat."},
        ],
    )
    with Server(faults=False) as server:
        for flag, out in (([], tmp_path / "default"), (["--keep_truncated"], tmp_path / "kept")):
            assert (
                main(
                    [
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
                        "--max_new_tokens",
                        "8",
                        "--reward",
                        "python:tests.curation_helpers:keyword_reward",
                        "--reviser",
                        "python:tests.curation_helpers:revise_by_appending",
                        "--max_edit_ratio",
                        "5",
                        *flag,
                    ]
                )
                == 0
            )
    rejected = {r["id"]: r for r in read(tmp_path / "default" / "rejected.jsonl")}
    assert rejected["long"]["stage"] == "rollout" and "cut at max_new_tokens=8" in rejected["long"]["reason"]
    assert "short" not in rejected
    kept = read(tmp_path / "kept" / "rejected.jsonl") + read(tmp_path / "kept" / "train.jsonl")
    assert all(r["stage"] != "rollout" for r in kept if "stage" in r) and len(kept) == 2


@pytest.mark.slow  # over 5 s on 2 cores; the full suite (CI) runs it
def test_an_edited_prompt_under_the_same_id_is_recomputed_not_reused(tiny_model_dir, tmp_path):
    rows = [
        {
            "id": f"r{i}",
            "prompt": f"write one sentence. mention {a} and {b}.",
            "output": f"the {a} sat on the {b} today",
        }
        for i, (a, b) in enumerate(PAIRS[:3])
    ]
    edited = [
        dict(rows[0], prompt="write one sentence. mention fox and hill.", output="the fox sat on the hill"),
        *rows[1:],
    ]

    def curate(prompts, out):
        assert (
            main(
                [
                    "curate",
                    "--prompts",
                    prompts,
                    "--output_dir",
                    str(out),
                    "--policy",
                    tiny_model_dir,
                    "--reward",
                    "python:tests.curation_helpers:keyword_reward",
                    "--reviser",
                    "reference-edit",
                    "--max_new_tokens",
                    "6",
                    "--max_edit_ratio",
                    "5",
                    "--keep_truncated",
                ]
            )
            == 0
        )

    out = tmp_path / "spa"
    curate(write_jsonl(tmp_path / "p.jsonl", rows), out)
    lines_before = {f: len(read(out / "stages" / f)) for f in os.listdir(out / "stages")}
    curate(write_jsonl(tmp_path / "p.jsonl", edited), out)
    rollout = next(f for f in os.listdir(out / "stages") if f.startswith("rollout-"))
    assert len(read(out / "stages" / rollout)) == lines_before[rollout] + 1  # only r0 was generated again
    curate(write_jsonl(tmp_path / "fresh.jsonl", edited), tmp_path / "fresh")
    for name in ("train.jsonl", "rejected.jsonl"):
        assert read(out / name) == read(tmp_path / "fresh" / name)


@pytest.mark.parametrize(
    "option, message",
    [
        (["--shard", "3/3"], "--shard must be I/N with 0 <= I < N (for example 0/4), got '3/3'"),
        (["--shard", "one"], "--shard must be I/N with 0 <= I < N (for example 0/4), got 'one'"),
        (["--block_size", "0"], "--block_size must be at least 1, got 0"),
    ],
)
def test_bad_shard_or_block_size_is_a_one_line_error(tmp_path, capsys, option, message):
    args = ["curate", "--prompts", prompts_file(tmp_path), "--output_dir", str(tmp_path / "out")]
    args += ["--policy", "p", "--policy_backend", "openai", "--reward", "openai:r", "--reviser", "openai:r"]
    assert main(args + option) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _reward_package(root, rule):
    """A user's reward in a package of theirs: the score comes from a helper module the reward imports."""
    package = root / "myrewards"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "score.py").write_text(
        "from .rules import score_of\n\n\ndef reward(prompts, responses):\n"
        "    return [score_of(r) for r in responses]\n"
    )
    (package / "rules.py").write_text(f"def score_of(response):\n    return {rule}\n")
    for name in ("myrewards", "myrewards.score", "myrewards.rules"):  # as a new process would import them
        sys.modules.pop(name, None)


@pytest.mark.slow  # over 5 s on 2 cores; the full suite (CI) runs it
def test_an_edited_reward_is_scored_again_not_read_back_from_the_earlier_run(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    prompts = write_jsonl(tmp_path / "p.jsonl", _reference_rows(6))
    out, fresh = tmp_path / "spa", tmp_path / "fresh"
    args = ["--reward", "python:myrewards.score:reward", "--revise_target", "1.0"]
    _reward_package(tmp_path, "1.0")  # every answer is perfect: nothing to revise
    assert main(_blocks_curate(prompts, out, tiny_model_dir, *args)) == 0
    assert read(out / "train.jsonl") == []
    _reward_package(tmp_path, '1.0 if "today" in response else 0.0')  # the helper edited, not the reward's file
    assert main(_blocks_curate(prompts, out, tiny_model_dir, *args)) == 0
    assert main(_blocks_curate(prompts, fresh, tiny_model_dir, *args)) == 0
    assert len(read(fresh / "train.jsonl")) == 6
    assert read(out / "train.jsonl") == read(fresh / "train.jsonl")


@pytest.mark.slow  # over 5 s on 2 cores; the full suite (CI) runs it
def test_a_policy_saved_again_at_the_same_path_answers_anew(tiny_model_dir, tmp_path):
    """A resumed curation whose local policy directory now holds another model (trained again, as between two
    rounds) rolls out anew instead of reading back the earlier model's answers, in every block."""
    prompts = write_jsonl(tmp_path / "p.jsonl", _reference_rows(6))
    policy, out, fresh = tmp_path / "policy", tmp_path / "spa", tmp_path / "fresh"
    other = save_tiny_model(str(tmp_path / "other"), corpus(), seed=7)
    shutil.copytree(tiny_model_dir, policy)
    assert main(_blocks_curate(prompts, out, str(policy))) == 0
    first = read(out / "train.jsonl")
    shutil.rmtree(policy)
    shutil.copytree(other, policy)
    assert main(_blocks_curate(prompts, out, str(policy))) == 0
    assert main(_blocks_curate(prompts, fresh, str(policy))) == 0
    assert read(out / "train.jsonl") == read(fresh / "train.jsonl") != first

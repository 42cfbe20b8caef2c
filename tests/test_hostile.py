"""Hostile but realistic input (docs/reliability.md, "Hostile input"): no input destroyed, no key written, no file
outside the outputs touched, and one line instead of a traceback."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from figa.backends.openai_client import EndpointConfig
from figa.backends.rewards import make_reward
from figa.cli import main
from figa.testing import make_spa_records

from .conftest import curate_args, prompts_file, read, run_figa, write_jsonl
from .openai_server import Server

SECRET = "sk-Hostile-Key-4d9e1c"
GOOD = make_spa_records(6)


pytestmark = pytest.mark.usefixtures("in_repo")


def one_line_error(capsys, *parts):
    """The command's last line on stderr (progress bars may come before it) is its error, holding every part."""
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1] if err else ""
    assert "Traceback" not in err and last.startswith("figa ") and ": error: " in last, err[-3000:]
    for part in parts:
        assert part in last, last
    return last


def weigh_args(data, out, url, *extra):
    return [
        "weigh",
        "--data",
        str(data),
        "--judge",
        "openai:judge",
        "-o",
        str(out),
        "--openai_base_url",
        url,
        "--max_retries",
        "0",
        "--retry_base_delay",
        "0.01",
        "--request_timeout",
        "5",
        *extra,
    ]


# 1. data destroyed


def test_an_output_that_is_an_input_is_refused_before_any_work(tiny_model_dir, tmp_path, capsys):
    data = write_jsonl(tmp_path / "x.jsonl", [{**GOOD[0], "prompt": "ALWAYS_FAIL " + GOOD[0]["prompt"]}])
    before = open(data, "rb").read()
    with Server() as server:
        assert main(weigh_args(data, data, server.url)) == 2
        one_line_error(capsys, f"--output {data} is also the input --data")
        os.link(data, tmp_path / "hard.jsonl")  # the same file under another name
        os.symlink(data, tmp_path / "soft.jsonl")
        for other in ("hard.jsonl", "soft.jsonl"):
            assert main(weigh_args(data, tmp_path / other, server.url)) == 2
            one_line_error(capsys, "is also the input --data")
        assert not server.attempts  # refused before a single request
    assert open(data, "rb").read() == before

    spa = tmp_path / "spa"
    spa.mkdir()
    prompts = prompts_file(spa)  # spa/prompts.jsonl, then curate into spa/ with train.jsonl as the prompts
    os.replace(prompts, spa / "train.jsonl")
    assert main(curate_args(tiny_model_dir, str(spa / "train.jsonl"), spa, "http://127.0.0.1:9/v1")) == 2
    one_line_error(capsys, "is also the input --prompts")
    page = write_jsonl(tmp_path / "page.jsonl", GOOD)
    assert main(["view", page, "-o", page]) == 2
    one_line_error(capsys, f"-o {page} is also the input --data")
    assert read(page) == GOOD


def test_a_judge_that_fails_for_every_record_writes_no_output_and_stores_no_verdict(tmp_path, capsys):
    data = write_jsonl(tmp_path / "x.jsonl", [{**r, "prompt": "ALWAYS_FAIL " + r["prompt"]} for r in GOOD[:2]])
    with Server() as server:
        assert main(weigh_args(data, tmp_path / "w.jsonl", server.url, "--concurrency", "1")) == 2
        one_line_error(capsys, "did not answer: HTTP 500", "run the same command again")
        assert len(server.attempts) <= 2  # stopped at the first request that failed for good
    assert not (tmp_path / "w.jsonl").exists() and not (tmp_path / "w.rejected.jsonl").exists()
    with Server(faults=False) as server:  # the server mended: the same command weighs both
        assert main(weigh_args(data, tmp_path / "w.jsonl", server.url)) == 0
    assert len(read(tmp_path / "w.jsonl")) == 2


# 2. secrets


def test_a_key_the_server_echoes_in_any_case_reaches_no_file_and_no_message(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    out = tmp_path / "spa"
    with Server(faults=False) as server:
        (tmp_path / "p401").mkdir()
        echo401 = prompts_file(tmp_path / "p401", [{"id": "echo401", "prompt": "ECHO_KEY. mention dog and bed."}])
        assert main(curate_args(tiny_model_dir, echo401, tmp_path / "401", server.url)) == 2
        one_line_error(capsys, "HTTP 401: bad key Bearer ***")  # a refused key stops the run, masked
        extra = [{"id": "echo", "prompt": "ECHO_KEY_REPLY. mention fox and mat."}]
        assert main(curate_args(tiny_model_dir, prompts_file(tmp_path, extra), out, server.url)) == 0
        assert all(a == f"Bearer {SECRET}" for a in server.authorizations)
        kept = {r["id"]: r for r in read(out / "train.jsonl")}
        assert kept["echo"]["revised_output"].endswith("BEARER ***")  # the echo, without the key
        weighed = tmp_path / "w.jsonl"
        data = write_jsonl(tmp_path / "echo.jsonl", [{**GOOD[0], "prompt": "ECHO_KEY_REPLY " + GOOD[0]["prompt"]}])
        main(weigh_args(data, weighed, server.url))
    printed = capsys.readouterr()
    for text in (printed.out, printed.err):
        assert SECRET.lower() not in text.lower()
    for root, _, files in os.walk(tmp_path):
        for name in files:
            content = open(os.path.join(root, name), "rb").read().lower()
            assert SECRET.lower().encode() not in content, name


# 3. planted links


def test_outputs_never_follow_a_planted_link(tiny_model_dir, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    data, page = write_jsonl(tmp_path / "spa.jsonl", GOOD), tmp_path / "page.html"
    os.symlink(victim, tmp_path / "page.html.tmp")  # the temporary name figa used to write through
    assert main(["view", data, "-o", str(page)]) == 0
    assert victim.read_text() == "precious" and "<html" in page.read_text().lower()
    page.unlink()
    os.symlink(victim, page)  # a link at the output itself is replaced, not written through
    assert main(["view", data, "-o", str(page)]) == 0
    assert victim.read_text() == "precious" and not page.is_symlink()

    out = tmp_path / "eval"
    args = [
        "eval",
        "--model",
        tiny_model_dir,
        "--prompts",
        prompts_file(tmp_path),
        "--reward",
        "python:tests.curation_helpers:length_reward",
        "--output_dir",
        str(out),
        "--max_new_tokens",
        "4",
    ]
    assert main(args) == 0
    stage = next((out / "stages").glob("generate-*.jsonl"))
    stage.unlink()
    os.symlink(victim, stage)  # a planted stage file: appending would write into the victim
    assert main(args) == 2
    one_line_error(capsys, f"{stage}: is a symbolic link; figa does not write through links")
    assert victim.read_text() == "precious"

    model_out = tmp_path / "model"
    model_out.mkdir()
    os.symlink(victim, model_out / "model.safetensors")  # the weights would be saved through it
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                data,
                "--output_dir",
                str(model_out),
                "--max_steps",
                "1",
                "--save_strategy",
                "no",
            ]
        )
        == 2
    )
    one_line_error(capsys, "holds symbolic links (model.safetensors)")
    assert victim.read_text() == "precious"


# 4. a deadline for the whole request


@pytest.mark.slow  # over 5 s on 2 cores; the full suite (CI) runs it
def test_a_server_that_drips_its_reply_is_cut_at_the_deadline(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "spa"
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "drip", "prompt": "DRIP. mention cat and mat."}])
    with Server(faults=False) as server:
        started = time.monotonic()
        code = main(
            curate_args(tiny_model_dir, prompts, out, server.url, "--request_timeout", "1", "--max_retries", "0")
        )
        elapsed = time.monotonic() - started
    assert code == 2  # a server that cannot finish a reply in time is not the record's fault: nothing stored
    assert "did not answer: no complete reply within 2 s" in capsys.readouterr().err
    assert not (out / "rejected.jsonl").exists()
    assert elapsed < 20  # the whole drip takes over 30 s


# 5. python: specs cannot shadow installed packages


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_a_module_in_the_working_directory_cannot_replace_an_installed_package(tiny_model_dir, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "openai.py").write_text("open('SHADOWED', 'w').write('ran')\n")
    (work / "myreward.py").write_text(
        "import openai\n\ndef score(prompts, responses):\n    return [float(len(r)) for r in responses]\n"
    )
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "where did the cat sit?"}])
    figa = os.path.join(os.path.dirname(sys.executable), "figa")
    result = subprocess.run(
        [
            figa,
            "eval",
            "--model",
            tiny_model_dir,
            "--prompts",
            prompts,
            "--reward",
            "python:myreward:score",
            "--output_dir",
            str(tmp_path / "eval"),
            "--max_new_tokens",
            "4",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (work / "SHADOWED").exists()


# 6. sizes checked before the expensive work


def test_a_huge_line_is_refused_before_it_is_parsed(tiny_model_dir, tmp_path, capsys):
    huge = json.dumps({**GOOD[0], "id": "huge", "original_output": "word " * 2_000_000})
    data = tmp_path / "spa.jsonl"
    data.write_text("\n".join([json.dumps(GOOD[1]), huge, *map(json.dumps, GOOD[2:])]) + "\n")
    args = [
        "train",
        "--model_name_or_path",
        tiny_model_dir,
        "--data",
        str(data),
        "--output_dir",
        str(tmp_path / "out"),
        "--max_steps",
        "1",
        "--save_strategy",
        "no",
    ]
    assert main(args) == 2
    one_line_error(capsys, f"{data}:2: the line is 9.5 MB; a record may be at most 8 MB")
    assert main([*args, "--skip_bad_records"]) == 0
    assert "5 records kept of 6 read, 1 bad records skipped" in capsys.readouterr().out


def test_a_prompt_longer_than_the_models_context_is_named_or_skipped(tiny_model_dir, tmp_path, capsys):
    long_prompt = "where did the cat sit? " * 5000  # about 30k tokens, the tiny model's context is 1024
    prompts = write_jsonl(
        tmp_path / "p.jsonl", [{"id": "a", "prompt": "where did the cat sit?"}, {"id": "long", "prompt": long_prompt}]
    )
    args = [
        "eval",
        "--model",
        tiny_model_dir,
        "--prompts",
        prompts,
        "--reward",
        "python:tests.curation_helpers:length_reward",
        "--output_dir",
        str(tmp_path / "eval"),
        "--max_new_tokens",
        "4",
    ]
    assert main(args) == 2
    one_line_error(capsys, f"{prompts}:2: field 'prompt': the prompt has", "exceeds the model's context of 1024")
    assert main([*args, "--skip_bad_records"]) == 0
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["compared"] == 1 and results["models"][0]["n"] == 1

    with Server(faults=False) as server:
        curate = curate_args(
            tiny_model_dir,
            prompts_file(tmp_path, [{"id": "long", "prompt": long_prompt}]),
            tmp_path / "spa",
            server.url,
        )
        assert main(curate) == 2
        one_line_error(capsys, "prompts.jsonl:10: field 'prompt': the prompt has")
        assert main([*curate, "--skip_bad_records"]) == 0
    reasons = {r["id"]: r for r in read(tmp_path / "spa" / "rejected.jsonl")}
    assert reasons["long"]["stage"] == "rollout" and "exceeds the model's context of 1024" in reasons["long"]["reason"]


# 7. nothing dropped silently by TRL


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_trl_methods_name_the_records_they_cannot_train_on(method, tiny_model_dir, tmp_path, capsys):
    rows = [*GOOD[:3], {**GOOD[3], "prompt": "where did the cat sit? " * 40}, *GOOD[4:]]
    data = write_jsonl(tmp_path / "spa.jsonl", rows)
    args = [
        "train",
        "--method",
        method,
        "--model_name_or_path",
        tiny_model_dir,
        "--data",
        data,
        "--output_dir",
        str(tmp_path / "out"),
        "--max_length",
        "64",
        "--max_steps",
        "1",
        "--save_strategy",
        "no",
    ]
    assert main(args) == 2
    one_line_error(capsys, f"{data}:4: field 'prompt': the prompt has", "too long for max_length=64")
    assert main([*args, "--skip_bad_records"]) == 0
    assert "5 records kept of 6 read, 1 bad records skipped" in capsys.readouterr().out


# 8. one line, not a traceback


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return str(path)


BAD_TEXT = {
    "lone surrogate": (
        '{"prompt": "q", "original_output": "a\\ud800b", "revised_output": "b"}',
        "field 'original_output': contains a lone surrogate",
    ),
    "deep nesting": (
        '{"prompt": "q", "original_output": "a", "revised_output": "b", "meta": '
        + "[" * 100_000
        + "]" * 100_000
        + "}",
        "JSON nested too deeply",
    ),
    "duplicate key": (
        '{"prompt": "q", "original_output": "a", "revised_output": "b", "revised_output": "c"}',
        "field 'revised_output': the key appears twice in the record",
    ),
    "overflowing weights": (
        json.dumps({**GOOD[0], "id": "w", "token_weights": {"original": [1e39], "revised": [1.0]}}),
        "field 'token_weights.original': expected a list of numbers from 0 to 1e+06",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_TEXT))
def test_bad_text_is_named_or_skipped(kind, tiny_model_dir, tmp_path, capsys):
    line, problem = BAD_TEXT[kind]
    data = write_lines(tmp_path / "spa.jsonl", [json.dumps(GOOD[0]), line, *map(json.dumps, GOOD[1:])])
    args = [
        "train",
        "--model_name_or_path",
        tiny_model_dir,
        "--data",
        data,
        "--output_dir",
        str(tmp_path / "out"),
        "--max_steps",
        "1",
        "--save_strategy",
        "no",
    ]
    assert main(args) == 2
    one_line_error(capsys, f"{data}:2", problem)
    assert main([*args, "--skip_bad_records"]) == 0
    assert "6 records kept of 7 read, 1 bad records skipped" in capsys.readouterr().out


def test_files_that_only_look_right_are_one_line_errors(tiny_model_dir, tmp_path, capsys):
    fake_parquet = tmp_path / "data.parquet"
    fake_parquet.write_text('{"prompt": "q"}\n')
    fake_dataset = tmp_path / "saved"
    fake_dataset.mkdir()
    (fake_dataset / "dataset_info.json").write_text("{}")
    for data, problem in [
        (fake_parquet, "not a readable Parquet file"),
        (fake_dataset, "not a readable saved dataset"),
    ]:
        assert (
            main(
                [
                    "train",
                    "--model_name_or_path",
                    tiny_model_dir,
                    "--data",
                    str(data),
                    "--output_dir",
                    str(tmp_path / "out"),
                ]
            )
            == 2
        )
        one_line_error(capsys, f"{data}: {problem}")


def test_a_chat_template_that_refuses_the_roles_is_a_one_line_error(tiny_model_dir, tmp_path, capsys):
    model = tmp_path / "strict"
    shutil.copytree(tiny_model_dir, model)
    config_path = model / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not "
        "supported') }}{% endif %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
    )
    config["chat_template"] = template
    config_path.write_text(json.dumps(config))
    (model / "chat_template.jinja").write_text(template)
    record = {
        "id": "sys",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "original_output": "the cat",
        "revised_output": "the dog",
    }
    data = write_jsonl(tmp_path / "spa.jsonl", [record])
    for method in ("figa", "dpo"):
        assert (
            main(
                [
                    "train",
                    "--method",
                    method,
                    "--model_name_or_path",
                    str(model),
                    "--data",
                    data,
                    "--output_dir",
                    str(tmp_path / method),
                ]
            )
            == 2
        )
        one_line_error(
            capsys,
            "record 'sys': field 'messages': the tokenizer's chat template refuses them: System role not supported",
        )


def test_options_of_the_wrong_type_are_refused_before_any_stage_runs(tiny_model_dir, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_new_tokens: [1, 2]\n")
    prompts = prompts_file(tmp_path)
    assert (
        main(
            [
                "loop",
                "--prompts",
                prompts,
                "--heldout_prompts",
                prompts,
                "--policy",
                tiny_model_dir,
                "--reward",
                "python:tests.curation_helpers:keyword_reward",
                "--reviser",
                "reference-edit",
                "--output_dir",
                str(tmp_path / "loop"),
                "--curate_config",
                str(bad),
            ]
        )
        == 2
    )
    one_line_error(capsys, "--curate_config: option 'max_new_tokens': expected int, got [1, 2]")
    assert not (tmp_path / "loop").exists()
    bad.write_text("eta1: high\n")  # a number or a quantile (q0.5)
    assert (
        main([*curate_args(tiny_model_dir, prompts, tmp_path / "spa", "http://127.0.0.1:9/v1"), "--config", str(bad)])
        == 2
    )
    one_line_error(capsys, "--eta1 must be a number or a quantile qP (q0.5: the median), got 'high'")
    assert not (tmp_path / "spa").exists()


def test_config_given_with_an_equals_sign_is_read(tiny_model_dir, spa_file, tmp_path, capsys):
    config = tmp_path / "cfg.yaml"
    config.write_text("learning_rate: 0.5\nmax_steps: 1\nsave_strategy: 'no'\n")
    for form in (["--config", str(config)], [f"--config={config}"]):
        out = tmp_path / form[0][2:8]
        assert (
            main(
                ["train", "--model_name_or_path", tiny_model_dir, "--data", spa_file, "--output_dir", str(out), *form]
            )
            == 0
        )
        report = json.loads((out / "figa_train_report.json").read_text())
        assert report["training"]["learning_rate"] == 0.5 and report["training"]["max_steps"] == 1


def test_a_revision_template_with_literal_braces_is_refused_at_the_start(tiny_model_dir, tmp_path, capsys):
    template = tmp_path / "t.txt"
    template.write_text('Reply as JSON {"revised": ...}.\n{prompt}\n{original}')
    assert (
        main(
            [
                *curate_args(tiny_model_dir, prompts_file(tmp_path), tmp_path / "spa", "http://127.0.0.1:9/v1"),
                "--revision_template",
                str(template),
            ]
        )
        == 2
    )
    one_line_error(capsys, f"--revision_template {template}:", "a literal brace is written twice")


def test_a_reward_that_returns_one_number_is_a_one_line_error(tiny_model_dir, tmp_path, capsys):
    assert (
        main(
            [
                "eval",
                "--model",
                tiny_model_dir,
                "--prompts",
                prompts_file(tmp_path),
                "--reward",
                "python:tests.curation_helpers:one_number_reward",
                "--output_dir",
                str(tmp_path / "eval"),
                "--max_new_tokens",
                "2",
            ]
        )
        == 2
    )
    one_line_error(capsys, "returned float; expected a list of")


def test_incomplete_results_and_bad_output_locations_are_one_line_errors(tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"format": "figa-eval-results/1", "models": [{"name": "base"}]}))
    assert main(["eval", "--compare", str(results), str(results)]) == 2
    one_line_error(capsys, "incomplete or damaged results: field 'responses'")

    data = write_jsonl(tmp_path / "spa.jsonl", GOOD)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["view", data, "-o", str(tmp_path)]) == 2
    one_line_error(capsys, f"-o {tmp_path}: is a directory")
    assert main(["train", "--model_name_or_path", "x", "--data", data, "--output_dir", str(a_file)]) == 2
    one_line_error(capsys, f"--output_dir {a_file}: is a file, not a directory")
    unwritable = "/sys/figa-output" if os.geteuid() == 0 else "/figa-output"
    assert main(["train", "--model_name_or_path", "x", "--data", data, "--output_dir", unwritable]) == 2
    one_line_error(capsys, f"--output_dir {unwritable}: cannot create the directory")


@pytest.mark.slow
def test_latest_skips_a_checkpoint_whose_weights_or_optimizer_are_cut(tiny_model_dir, spa_file, tmp_path):
    out = tmp_path / "out"
    args = [
        "train",
        "--model_name_or_path",
        tiny_model_dir,
        "--data",
        spa_file,
        "--output_dir",
        out,
        "--max_steps",
        "3",
        "--save_steps",
        "1",
        "--per_device_train_batch_size",
        "4",
    ]
    assert run_figa(*args).returncode == 0
    for name, step in (("model.safetensors", 3), ("optimizer.pt", 2)):
        path = out / f"checkpoint-{step}" / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    resumed = run_figa(*args[:-4], "--max_steps", "4", "--save_steps", "1", "--resume_from_checkpoint", "latest")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"skipping {out}/checkpoint-3: incomplete (model.safetensors is truncated or damaged" in resumed.stdout
    assert f"skipping {out}/checkpoint-2: incomplete (optimizer.pt is truncated or damaged" in resumed.stdout
    assert f"resuming from {out}/checkpoint-1" in resumed.stdout


# 9. values out of range


def test_judge_ratings_outside_the_scale_are_not_scores():
    with Server(faults=False) as server:
        judge = make_reward("openai:judge", EndpointConfig(base_url=server.url, max_retries=0))
        scores = judge.score(["q RATE_NEGATIVE", "q RATE_HIGH", "q"], ["a", "b", "c"])
    assert scores[2] == 0.7 and all(s != s for s in scores[:2])  # NaN: the record is rejected, not scored -0.3


# the same classes on the commands the issue did not name


OUT_OF_RANGE = [
    (["train", "--alpha", "nan"], "alpha must be a number from 0 to 1e+06, got nan"),
    (["train", "--eos_weight", "inf"], "eos_weight must be a number from 0 to 1e+06, got inf"),
    (["train", "--tau", "inf"], "tau must be a finite number, got inf"),
    (["train", "--learning_rate", "nan"], "learning_rate must be a finite number, got nan"),
    (["curate", "--batch_size", "0"], "--batch_size must be a finite number of at least 1, got 0"),
    (["curate", "--concurrency", "0"], "--concurrency must be a finite number of at least 1, got 0"),
    (["curate", "--request_timeout", "-1"], "--request_timeout must be a finite number of at least 0.001"),
    (["curate", "--eta1", "nan"], "--eta1 must be a finite number, got nan"),
    (["eval", "--top_p", "2"], "--top_p must be above 0 and at most 1, got 2.0"),
    (["eval", "--names", "../../escape"], "--names '../../escape': a name cannot be empty or hold a path separator"),
    (["view", "--gamma", "nan"], "--gamma must be a number from 0 to 1e+06, got nan"),
]


@pytest.mark.parametrize("args,problem", OUT_OF_RANGE, ids=[" ".join(a) for a, _ in OUT_OF_RANGE])
def test_settings_out_of_range_are_refused_before_any_work(args, problem, tiny_model_dir, tmp_path, capsys):
    data = write_jsonl(tmp_path / "spa.jsonl", GOOD)
    required = {
        "train": ["--model_name_or_path", tiny_model_dir, "--data", data, "--output_dir", str(tmp_path / "out")],
        "curate": [
            "--prompts",
            prompts_file(tmp_path),
            "--output_dir",
            str(tmp_path / "out"),
            "--policy",
            tiny_model_dir,
            "--reward",
            "python:tests.curation_helpers:keyword_reward",
            "--reviser",
            "reference-edit",
        ],
        "eval": [
            "--model",
            tiny_model_dir,
            "--prompts",
            prompts_file(tmp_path),
            "--reward",
            "python:tests.curation_helpers:length_reward",
            "--output_dir",
            str(tmp_path / "out"),
        ],
        "view": [data, "-o", str(tmp_path / "page.html")],
    }[args[0]]
    assert main([args[0], *required, *args[1:]]) == 2
    one_line_error(capsys, problem)
    assert not (tmp_path / "out").exists() and not (tmp_path / "page.html").exists()

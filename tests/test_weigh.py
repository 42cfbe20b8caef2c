"""`figa weigh`: a judge's quotes become span_weights, checked by hand; faults, retries, resume, an hf judge."""

import json

import pytest

from figa.cli import main
from figa.weigh.replies import UnusableReply, parse_reply

from .conftest import write_jsonl
from .openai_server import Server

ORIGINAL, REVISED = "the cat sat on the mat.", "the cat sat on the red rug."


def spa(tmp_path, extra=()):
    rows = [
        {
            "id": "cat",
            "prompt": "Where did the cat sit? Say rug.",
            "original_output": ORIGINAL,
            "revised_output": REVISED,
        },
        *extra,
    ]
    return write_jsonl(tmp_path / "spa.jsonl", rows)


def read(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle]


def weigh_args(data, out, url, *extra):
    return [
        "weigh",
        "--data",
        data,
        "--judge",
        "openai:test-judge",
        "-o",
        str(out),
        "--openai_base_url",
        url,
        "--max_retries",
        "3",
        "--retry_base_delay",
        "0.01",
        "--request_timeout",
        "5",
        *extra,
    ]


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


@pytest.mark.parametrize("mode, wrong, fix", [("binary", 1.0, 1.0), ("weighted", 0.5, 1.0)])
def test_the_judges_quotes_become_character_spans_that_train(tmp_path, tiny_model_dir, mode, wrong, fix):
    out = tmp_path / "weighted.jsonl"
    with Server(faults=False) as server:
        assert main(weigh_args(spa(tmp_path), out, server.url, "--mode", mode)) == 0
    (record,) = read(out)
    # the scripted judge quotes "mat." (wrong) and "red", "rug." (fixes): found by hand at these characters
    assert ORIGINAL[19:23] == "mat." and REVISED[19:22] == "red" and REVISED[23:27] == "rug."
    assert record["span_weights"] == {
        "original": [{"start": 19, "end": 23, "weight": wrong}],
        "revised": [{"start": 19, "end": 22, "weight": fix}, {"start": 23, "end": 27, "weight": fix}],
    }
    assert record["original_output"] == ORIGINAL and record["id"] == "cat"
    assert read(tmp_path / "weighted.rejected.jsonl") == []
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                str(out),
                "--weighting",
                "external",
                "--output_dir",
                str(tmp_path / "model"),
                "--max_steps",
                "1",
                "--save_strategy",
                "no",
            ]
        )
        == 0
    )


def test_overlapping_and_repeated_quotes_merge_with_the_larger_weight():
    reply = json.dumps(
        {
            "wrong": [{"text": "a b", "score": 0.2}, {"text": "b c", "score": 0.6}],
            "fixes": [{"text": "x", "score": 1}, {"text": "x", "score": 0.4}],
        }
    )
    spans = parse_reply(reply, "a b c a b", "x y x", "weighted")
    # "a b" at 0-3 (0.2) and "b c" at 2-5 (0.6) share "b": 0-2 weighs 0.2, 2-5 0.6; the second "x" is found after
    # the first one
    assert spans == {
        "original": [{"start": 0, "end": 2, "weight": 0.2}, {"start": 2, "end": 5, "weight": 0.6}],
        "revised": [{"start": 0, "end": 1, "weight": 1.0}, {"start": 4, "end": 5, "weight": 0.4}],
    }
    for bad, reason in [
        ("no json here", "no JSON object"),
        ('{"wrong": []}', '"wrong" and "fixes"'),
        ('{"wrong": [], "fixes": [{"text": "zzz", "score": 1}]}', "not in the revised response"),
        ('{"wrong": [], "fixes": ["x"]}', "expected"),
        ('{"wrong": [], "fixes": [{"text": "x", "score": 2}]}', "from 0 to 1"),
        (
            '{"wrong": [{"text": "a", "score": 1}], "fixes": [{"text": "x", "score": 0}]}',
            "marks nothing in the revision",
        ),
    ]:
        with pytest.raises(UnusableReply, match=reason):
            parse_reply(bad, "a b c a b", "x y x", "weighted")


def test_faults_are_retried_unusable_replies_asked_again_then_rejected_with_the_reason(tmp_path):
    extra = [
        {"id": "prose", "prompt": "NEVER_JSON", "original_output": "a", "revised_output": "b"},
        {"id": "misquoted", "prompt": "UNQUOTABLE", "original_output": "one two", "revised_output": "one three"},
    ]
    extra += [
        {"id": f"p{i}", "prompt": f"say {i}", "original_output": f"it is {i}", "revised_output": f"it is {i + 1}"}
        for i in range(6)
    ]
    out = tmp_path / "w.jsonl"
    with Server() as server:
        assert main(weigh_args(spa(tmp_path, extra), out, server.url, "--concurrency", "4")) == 0
    kept, rejected = read(out), read(tmp_path / "w.rejected.jsonl")
    assert [r["id"] for r in kept] == ["cat", "misquoted"] + [f"p{i}" for i in range(6)]  # input order
    reasons = {r["id"]: r["reason"] for r in rejected}
    assert set(reasons) == {"prose"}
    assert reasons["prose"] == "no usable reply in 3 attempts; the last: the reply has no JSON object"
    misquoted = next(r for r in kept if r["id"] == "misquoted")
    assert misquoted["span_weights"]["revised"] == [{"start": 4, "end": 9, "weight": 1.0}]  # "three", 2nd answer
    assert max(server.attempts.values()) >= 2  # HTTP faults were injected and retried


def test_a_rerun_asks_only_about_records_without_a_saved_reply(tmp_path):
    rows = [
        {"id": f"p{i}", "prompt": f"say {i}", "original_output": f"it is {i}", "revised_output": f"it is {i + 1}"}
        for i in range(5)
    ]
    data = write_jsonl(tmp_path / "spa.jsonl", rows)
    out = tmp_path / "w.jsonl"
    with Server(faults=False) as server:
        assert main(weigh_args(data, out, server.url)) == 0
        first, asked = out.read_text(), sum(server.answered.values())
        assert asked == 5
        assert main(weigh_args(data, out, server.url)) == 0
        assert sum(server.answered.values()) == 5 and out.read_text() == first  # nothing asked again
        rows[2]["revised_output"] = "it is three"  # an edited record under the same id is asked about again
        write_jsonl(tmp_path / "spa.jsonl", rows)
        assert main(weigh_args(data, out, server.url)) == 0
        assert sum(server.answered.values()) == 6
    assert read(out)[2]["span_weights"]["revised"] == [{"start": 6, "end": 11, "weight": 1.0}]


def test_an_hf_judge_that_never_writes_json_fails_the_run_after_sampled_retries(tiny_model_dir, tmp_path, capsys):
    out, data = tmp_path / "w.jsonl", spa(tmp_path)
    assert (
        main(
            [
                "weigh",
                "--data",
                data,
                "--judge",
                f"hf:{tiny_model_dir}",
                "-o",
                str(out),
                "--max_new_tokens",
                "8",
                "--attempts",
                "2",
            ]
        )
        == 2
    )
    assert not out.exists()  # nothing weighed: no empty output that looks like a finished run
    assert not (tmp_path / "w.rejected.jsonl").exists()  # and no verdict stored: a run where all failed is no run
    err = capsys.readouterr().err
    assert "judge: every one of the 1 requests failed (the first: no usable reply in 2 attempts; the last: " in err


def test_bad_input_and_options_are_one_line_errors(tmp_path, capsys):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "p", "original_output": "a"}])
    assert main(["weigh", "--data", bad, "--judge", "openai:m", "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err
    assert main(["weigh", "--data", bad, "--judge", "claude:m", "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "--judge 'claude:m'" in capsys.readouterr().err
    assert (
        main(["weigh", "--data", bad, "--judge", "openai:m", "-o", str(tmp_path / "o.jsonl"), "--attempts", "0"]) == 2
    )
    assert "--attempts must be at least 1" in capsys.readouterr().err

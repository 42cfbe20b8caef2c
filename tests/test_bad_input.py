import json

import pytest

from figa.cli import main
from figa.testing import make_spa_records

from .conftest import run_figa, write_jsonl

GOOD = make_spa_records(6)
BAD_LINES = {
    "malformed JSON": ('{"prompt": "x", "original_output": ', None, "malformed JSON"),
    "missing field": (json.dumps({"prompt": "q", "original_output": "a b"}), "revised_output", "missing"),
    "empty response": (json.dumps({"prompt": "q", "original_output": "  ", "revised_output": "b"}),
                       "original_output", "is empty"),
    "whitespace-only response": (json.dumps({"prompt": "q", "original_output": "a", "revised_output": " \n\t"}),
                                 "revised_output", "is empty"),
    "wrong type": (json.dumps({"prompt": "q", "original_output": 5, "revised_output": "b"}), "original_output",
                   "expected a string, got int"),
    "identical responses": (json.dumps({"prompt": "q", "original_output": "same", "revised_output": "same"}),
                            "revised_output", "identical to original_output: no edits, no training signal"),
    "NUL character": (json.dumps({"prompt": "q", "original_output": "a\u0000b", "revised_output": "b"}),
                      "original_output", "contains a NUL character"),
    "chat not ending in a user turn": (json.dumps({
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        "original_output": "a", "revised_output": "b"}), "messages", "a chat history must end with a user turn"),
    "two query fields": (json.dumps({"prompt": "q", "instruction": "q", "original_output": "a",
                                     "revised_output": "b"}), "instruction", "a record has one query field"),
    "duplicate id": (json.dumps({**GOOD[0], "revised_output": "another revision"}), "id", "duplicate id"),
    "non-finite reward": ('{"prompt": "q", "original_output": "a", "revised_output": "b", '
                          '"rewards": {"original": NaN}}', "rewards.original", "expected a finite number"),
    "not a JSON object": ("[1, 2, 3]", None, "expected a JSON object, got list"),
    "non-UTF-8 bytes": (b'{"prompt": "caf\xe9", "original_output": "a", "revised_output": "b"}', None,
                        "not valid UTF-8"),
}


def write_lines(path, lines):
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))
    return str(path)


def data_with(tmp_path, bad_line):
    rows = [json.dumps(r) for r in GOOD[:2]] + [bad_line] + [json.dumps(r) for r in GOOD[2:]]
    return write_lines(tmp_path / "spa.jsonl", rows)


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_bad_record_names_file_line_and_field(kind, tiny_model_dir, tmp_path, capsys):
    line, field, problem = BAD_LINES[kind]
    data = data_with(tmp_path, line)
    code = main(["train", "--model_name_or_path", tiny_model_dir, "--data", data, "--output_dir",
                 str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{data}:3" in err and problem in err
    if field:
        assert f"field '{field}'" in err


def test_bad_record_exits_non_zero_without_traceback(tiny_model_dir, tmp_path):
    data = data_with(tmp_path, BAD_LINES["missing field"][0])
    result = run_figa("train", "--model_name_or_path", tiny_model_dir, "--data", data, "--output_dir",
                      tmp_path / "out")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"{data}:3: field 'revised_output': missing" in result.stderr


def test_skip_bad_records_counts_and_reports_them(tiny_model_dir, tmp_path, capsys):
    rows = [json.dumps(r) for r in GOOD] + [line for line, _, _ in BAD_LINES.values()]
    data = write_lines(tmp_path / "spa.jsonl", rows)
    code = main(["train", "--model_name_or_path", tiny_model_dir, "--data", data, "--output_dir",
                 str(tmp_path / "out"), "--skip_bad_records", "--max_steps", "1", "--save_strategy", "no"])
    out = capsys.readouterr().out
    assert code == 0
    bad = len(BAD_LINES)
    assert f"6 records kept of {6 + bad} read, {bad} bad records skipped" in out
    assert f"skipped {data}:8: field 'revised_output': missing" in out


@pytest.mark.parametrize("args, message", [
    (["--data", "{missing}"], "no such file"),
    (["--data", "{dir}"], "is a directory"),
    (["--data", "{empty}"], "no records"),
])
def test_bad_data_paths_are_clear_errors(args, message, tiny_model_dir, tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_text("")
    paths = {"missing": tmp_path / "nope.jsonl", "dir": tmp_path, "empty": tmp_path / "empty.jsonl"}
    args = [a.format(**paths) for a in args]
    assert main(["train", "--model_name_or_path", tiny_model_dir, *args, "--output_dir",
                 str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err


def test_missing_model_path_is_a_clear_error(spa_file, tmp_path, capsys):
    assert main(["train", "--model_name_or_path", str(tmp_path / "no-model"), "--data", spa_file,
                 "--output_dir", str(tmp_path / "out")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_prompt_longer_than_max_length_names_the_line(tiny_model_dir, tmp_path, capsys):
    rows = GOOD[:3] + [{"prompt": "where " * 300, "original_output": "a", "revised_output": "b"}]
    data = write_jsonl(tmp_path / "spa.jsonl", rows)
    assert main(["train", "--model_name_or_path", tiny_model_dir, "--data", data, "--output_dir",
                 str(tmp_path / "out"), "--max_length", "64"]) == 2
    err = capsys.readouterr().err
    assert f"{data}:4: field 'prompt'" in err and "max_length=64" in err

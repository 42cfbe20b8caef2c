import json
import shutil

import pytest

from figa.cli import main
from figa.testing import make_spa_records

from .conftest import REPO, run_figa, write_jsonl

GOOD = make_spa_records(6)
BAD_LINES = {
    "malformed JSON": ('{"prompt": "x", "original_output": ', None, "malformed JSON"),
    "missing field": (json.dumps({"prompt": "q", "original_output": "a b"}), "revised_output", "missing"),
    "empty response": (
        json.dumps({"prompt": "q", "original_output": "  ", "revised_output": "b"}),
        "original_output",
        "is empty",
    ),
    "whitespace-only response": (
        json.dumps({"prompt": "q", "original_output": "a", "revised_output": " \n\t"}),
        "revised_output",
        "is empty",
    ),
    "wrong type": (
        json.dumps({"prompt": "q", "original_output": 5, "revised_output": "b"}),
        "original_output",
        "expected a string, got int",
    ),
    "identical responses": (
        json.dumps({"prompt": "q", "original_output": "same", "revised_output": "same"}),
        "revised_output",
        "identical to original_output: no edits, no training signal",
    ),
    "NUL character": (
        json.dumps({"prompt": "q", "original_output": "a\u0000b", "revised_output": "b"}),
        "original_output",
        "contains a NUL character",
    ),
    "chat not ending in a user turn": (
        json.dumps(
            {
                "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
                "original_output": "a",
                "revised_output": "b",
            }
        ),
        "messages",
        "a chat history must end with a user turn",
    ),
    "two query fields": (
        json.dumps({"prompt": "q", "instruction": "q", "original_output": "a", "revised_output": "b"}),
        "instruction",
        "a record has one query field",
    ),
    "duplicate id": (json.dumps({**GOOD[0], "revised_output": "another revision"}), "id", "duplicate id"),
    "non-finite reward": (
        '{"prompt": "q", "original_output": "a", "revised_output": "b", "rewards": {"original": NaN}}',
        "rewards.original",
        "expected a finite number",
    ),
    "not a JSON object": ("[1, 2, 3]", None, "expected a JSON object, got list"),
    "non-UTF-8 bytes": (
        b'{"prompt": "caf\xe9", "original_output": "a", "revised_output": "b"}',
        None,
        "not valid UTF-8",
    ),
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
    code = main(
        ["train", "--model_name_or_path", tiny_model_dir, "--data", data, "--output_dir", str(tmp_path / "out")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert f"{data}:3" in err and problem in err
    if field:
        assert f"field '{field}'" in err


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_bad_record_exits_non_zero_without_traceback(tiny_model_dir, tmp_path):
    data = data_with(tmp_path, BAD_LINES["missing field"][0])
    result = run_figa(
        "train", "--model_name_or_path", tiny_model_dir, "--data", data, "--output_dir", tmp_path / "out"
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"{data}:3: field 'revised_output': missing" in result.stderr


def test_skip_bad_records_counts_and_reports_them(tiny_model_dir, tmp_path, capsys):
    rows = [json.dumps(r) for r in GOOD] + [line for line, _, _ in BAD_LINES.values()]
    data = write_lines(tmp_path / "spa.jsonl", rows)
    code = main(
        [
            "train",
            "--model_name_or_path",
            tiny_model_dir,
            "--data",
            data,
            "--output_dir",
            str(tmp_path / "out"),
            "--skip_bad_records",
            "--max_steps",
            "1",
            "--save_strategy",
            "no",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    bad = len(BAD_LINES)
    assert f"6 records kept of {6 + bad} read, {bad} bad records skipped" in out
    assert f"skipped {data}:8: field 'revised_output': missing" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "{missing}"], "no such file"),
        (["--data", "{dir}"], "is a directory"),
        (["--data", "{empty}"], "no records"),
    ],
)
def test_bad_data_paths_are_clear_errors(args, message, tiny_model_dir, tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_text("")
    paths = {"missing": tmp_path / "nope.jsonl", "dir": tmp_path, "empty": tmp_path / "empty.jsonl"}
    args = [a.format(**paths) for a in args]
    assert main(["train", "--model_name_or_path", tiny_model_dir, *args, "--output_dir", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err


def test_missing_model_path_is_a_clear_error(spa_file, tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                str(tmp_path / "no-model"),
                "--data",
                spa_file,
                "--output_dir",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    assert "no such directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    "resume, message",
    [
        ("latest", "--resume_from_checkpoint latest: no complete checkpoint in {out}"),
        ("{out}/checkpoint-2", "--resume_from_checkpoint {out}/checkpoint-2: incomplete checkpoint"),
        ("{out}/checkpoint-9", "--resume_from_checkpoint {out}/checkpoint-9: no such checkpoint directory"),
    ],
)
def test_resuming_from_a_checkpoint_cut_while_saving_is_a_clear_error(
    resume, message, tiny_model_dir, spa_file, tmp_path, capsys
):
    out = tmp_path / "out"
    (out / "checkpoint-2").mkdir(parents=True)  # what a run stopped while saving leaves: no trainer_state.json
    (out / "checkpoint-2" / "model.safetensors").write_bytes(b"\0" * 64)
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                spa_file,
                "--output_dir",
                str(out),
                "--resume_from_checkpoint",
                resume.format(out=out),
            ]
        )
        == 2
    )
    assert message.format(out=out) in capsys.readouterr().err


def test_prompt_longer_than_max_length_names_the_line(tiny_model_dir, tmp_path, capsys):
    rows = GOOD[:3] + [{"prompt": "where " * 300, "original_output": "a", "revised_output": "b"}]
    data = write_jsonl(tmp_path / "spa.jsonl", rows)
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                data,
                "--output_dir",
                str(tmp_path / "out"),
                "--max_length",
                "64",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"{data}:4: field 'prompt'" in err and "max_length=64" in err


def model_without(tiny_model_dir, tmp_path, *tokens):
    """A copy of the tiny model whose tokenizer lacks the given special tokens (e.g. "eos_token")."""
    target = tmp_path / ("model-without-" + "-".join(tokens))
    shutil.copytree(tiny_model_dir, target)
    config_path = target / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    for token in tokens:
        config.pop(token)
    config_path.write_text(json.dumps(config))
    return str(target)


@pytest.mark.parametrize("command", ["train", "curate", "eval", "view"])
def test_tokenizer_without_eos_is_a_clear_error(command, tiny_model_dir, spa_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # python:tests.curation_helpers:... imports from here
    model = model_without(tiny_model_dir, tmp_path, "eos_token")
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"id": "a", "prompt": "where did the cat sit?"}])
    out = str(tmp_path / "out")
    argv = {
        "train": ["--model_name_or_path", model, "--data", spa_file, "--output_dir", out],
        "curate": [
            "--prompts",
            prompts,
            "--policy",
            model,
            "--reward",
            "python:tests.curation_helpers:length_reward",
            "--reviser",
            "reference-edit",
            "--output_dir",
            out,
        ],
        "eval": [
            "--model",
            model,
            "--prompts",
            prompts,
            "--reward",
            "python:tests.curation_helpers:length_reward",
            "--output_dir",
            out,
        ],
        "view": [spa_file, "-o", str(tmp_path / "view.html"), "--tokenizer", model],
    }[command]
    assert main([command, *argv]) == 2
    err = capsys.readouterr().err
    assert f"the tokenizer of {model!r} has no EOS token" in err and "Traceback" not in err


def test_tokenizer_without_pad_token_pads_with_eos(tiny_model_dir, spa_file, tmp_path):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    from figa.backends.rewards import HFReward

    model = model_without(tiny_model_dir, tmp_path, "pad_token")
    assert AutoTokenizer.from_pretrained(model).pad_token is None
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                model,
                "--data",
                spa_file,
                "--output_dir",
                str(tmp_path / "out"),
                "--max_steps",
                "1",
                "--save_strategy",
                "no",
                "--per_device_train_batch_size",
                "4",
            ]
        )
        == 0
    )
    tokenizer = AutoTokenizer.from_pretrained(model)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_labels=1,
    )  # no pad_token_id either
    LlamaForSequenceClassification(config).save_pretrained(tmp_path / "rm")
    tokenizer.save_pretrained(tmp_path / "rm")
    responses = ["on the mat.", "the cat sat on the sofa and the rug.", "the dog ran."]
    batched = HFReward(str(tmp_path / "rm"), batch_size=3).score(["where did the cat sit?"] * 3, responses)
    one_by_one = HFReward(str(tmp_path / "rm"), batch_size=1).score(["where did the cat sit?"] * 3, responses)
    assert batched == pytest.approx(one_by_one, abs=1e-5)  # padding does not change a score


def test_mixed_chat_and_plain_records_each_render_their_own_way(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    from figa.data import tokenize_pairs
    from figa.records import load_records

    pair = {"original_output": "the cat sat on the rug.", "revised_output": "the cat sat on the mat."}
    rows = [
        {"id": "plain", "prompt": "where did the cat sit?", **pair},
        {
            "id": "chat",
            "messages": [
                {"role": "system", "content": "be brief."},
                {"role": "user", "content": "where did the cat sit?"},
            ],
            **pair,
        },
        {"id": "alpaca", "instruction": "where did the cat sit?", "input": "it was on the mat.", **pair},
    ]
    data = write_jsonl(tmp_path / "mixed.jsonl", rows)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    records, _ = load_records(data)
    tokenized = {row["id"]: row["prompt_ids"] for row in tokenize_pairs(records, tokenizer)[0]}
    chat = {
        "plain": [{"role": "user", "content": "where did the cat sit?"}],
        "chat": rows[1]["messages"],
        "alpaca": [{"role": "user", "content": "where did the cat sit?\n\nit was on the mat."}],
    }
    for record_id, messages in chat.items():  # the chat template renders every kind of record
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert tokenized[record_id] == tokenizer(text, add_special_tokens=False)["input_ids"], record_id
    assert (
        main(
            [
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
        )
        == 0
    )


def test_unknown_fields_are_ignored(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    from figa.data import tokenize_pairs
    from figa.records import load_records

    extra = {"meta": {"source": "x"}, "score": 3, "revised_ouput": "a typo'd field name is just unknown"}
    plain = write_jsonl(tmp_path / "plain.jsonl", GOOD[:3])
    noisy = write_jsonl(tmp_path / "noisy.jsonl", [{**r, **extra} for r in GOOD[:3]])
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = [tokenize_pairs(load_records(path)[0], tokenizer)[0].to_list() for path in (plain, noisy)]
    assert rows[0] == rows[1]
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                noisy,
                "--output_dir",
                str(tmp_path / "out"),
                "--max_steps",
                "1",
                "--save_strategy",
                "no",
            ]
        )
        == 0
    )


def test_responses_longer_than_max_length_are_cut_to_fit(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    from figa.data import tokenize_pairs
    from figa.records import load_records

    long = {
        "id": "long",
        "prompt": "where did the cat sit?",
        "original_output": "the cat sat on the rug. " * 40,
        "revised_output": "the cat sat on the mat. " * 40,
    }
    data = write_jsonl(tmp_path / "spa.jsonl", [long, *GOOD[:3]])
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    row = tokenize_pairs(load_records(data)[0], tokenizer, max_length=48)[0][0]
    for side in ("original", "revised"):  # prompt + response fill max_length exactly; no EOS, as it was cut
        assert len(row["prompt_ids"]) + len(row[f"{side}_ids"]) == 48
        assert row[f"{side}_ids"][-1] != tokenizer.eos_token_id
    assert (
        main(
            [
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
                "--max_length",
                "48",
            ]
        )
        == 0
    )

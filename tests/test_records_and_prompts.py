import pyarrow as pa
import pyarrow.parquet as pq
from transformers import AutoTokenizer

from figa.data import tokenize_pairs
from figa.loss import LossSettings, pair_weights
from figa.prompts import ALPACA_WITH_INPUT, render_prompt, resolve_format
from figa.records import load_records

PAIR = {"original_output": "the cat sat on the rug.", "revised_output": "the cat sat on the mat."}


def test_parquet_trl_aliases_and_content_ids(tmp_path):
    rows = [{"prompt": "where did the cat sit?", "chosen": "on the mat.", "rejected": "on the rug."}] * 1
    rows.append({"prompt": "where did the dog sit?", "chosen": "on the sofa.", "rejected": "on the bed."})
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "pref.parquet")
    records, report = load_records(str(tmp_path / "pref.parquet"))
    again, _ = load_records(str(tmp_path / "pref.parquet"))
    assert report.kept == 2 and records[0]["revised_output"] == "on the mat."
    assert records[0]["original_output"] == "on the rug."
    assert records[0]["id"] == again[0]["id"] != records[1]["id"]  # derived from the content, stable


def test_prompt_formats(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    alpaca = {"instruction": "Name the animal.", "input": "It says meow.", "prompt": None, "messages": None}
    assert render_prompt(alpaca, "alpaca", tokenizer) == ALPACA_WITH_INPUT.format(
        instruction="Name the animal.", input="It says meow."
    )
    chat = {"messages": [{"role": "user", "content": "hi"}], "prompt": None, "instruction": None}
    assert render_prompt(chat, resolve_format("auto", tokenizer), tokenizer) == "<s><|user|>\nhi</s>\n<|assistant|>\n"
    plain = {"prompt": "where did the cat sit?", "messages": None, "instruction": None}
    assert render_prompt(plain, "plain", tokenizer) == "where did the cat sit?"


def test_both_rows_share_the_prompt_and_responses_end_with_eos(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    records, _ = load_records([{"id": "1", "prompt": "where did the cat sit?", **PAIR}])
    data, _ = tokenize_pairs(records, tokenizer, prompt_format="alpaca")
    row = data[0]
    assert row["prompt_ids"][0] == tokenizer.bos_token_id  # alpaca/plain: the tokenizer adds BOS
    assert row["revised_ids"][-1] == row["original_ids"][-1] == tokenizer.eos_token_id
    assert row["revised_ids"][:-1] == tokenizer(PAIR["revised_output"], add_special_tokens=False)["input_ids"]
    weights = pair_weights(row, LossSettings(alpha=1.0, beta=0.5))
    assert weights["revised"][-1] == 1 and weights["original"][-1] == 0  # EOS: alpha on the revision only
    assert len(row["revised_codes"]) == len(row["revised_ids"]) - 1  # the codes: the edit script's, no EOS


def test_token_ids_are_the_tokenizers_own_also_with_a_saved_truncation(tiny_model_dir, tmp_path, monkeypatch):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    pair = {"original_output": "the cat  sat\non the rug. </s> ünï", "revised_output": " the cat sat on the mat."}
    records, _ = load_records(
        [{"id": "1", "messages": [{"role": "user", "content": "where did the cat sit?"}], **pair}]
    )
    prompt = render_prompt(records[0], "chat", tokenizer)
    expected = {
        "prompt_ids": tokenizer(prompt, add_special_tokens=False)["input_ids"],
        **{
            f"{side}_ids": tokenizer(pair[f"{side}_output"], add_special_tokens=False)["input_ids"]
            + [tokenizer.eos_token_id]
            for side in ("original", "revised")
        },
    }
    for truncation in (None, 4):
        if truncation:  # a tokenizer.json may carry a truncation setting; preprocessing must not apply it
            tokenizer.backend_tokenizer.enable_truncation(truncation)
        monkeypatch.setenv("FIGA_CACHE", str(tmp_path / f"cache-{truncation}"))  # no cache hit between cases
        row = tokenize_pairs(records, tokenizer, prompt_format="chat")[0][0]
        assert {name: row[name] for name in expected} == expected

"""`figa import --format lamp` on LAMP's writers' edits (../shared/data/lamp-reannotation), and the likelihood
evaluation of `figa eval --pairs` on held-out edited pairs."""

import json
import os

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from figa.cli import main
from figa.data import tokenize_pairs
from figa.evaluation.stats import bootstrap_mean_ci
from figa.records import load_records
from figa.testing import make_spa_records

from .conftest import REPO, read, write_jsonl

LAMP = os.path.join(REPO, "..", "shared", "data", "lamp-reannotation")
FILES = [os.path.join(LAMP, f"W{n}_edits.json") for n in (3, 12, 16)]
needs_lamp = pytest.mark.skipif(not os.path.isdir(LAMP), reason="../shared/data/lamp-reannotation is not here")


@needs_lamp
def test_lamp_files_become_spa_records_with_span_weights_split_by_paragraph(tmp_path, capsys):
    out = tmp_path / "lamp.jsonl"
    assert main(["import", "--data", *FILES, "-o", str(out), "--heldout_fraction", "0.2", "--seed", "0"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} (117 records and 33 held out in {tmp_path / 'lamp.heldout.jsonl'})" in printed
    train, heldout = read(out), read(tmp_path / "lamp.heldout.jsonl")
    assert len(train) + len(heldout) == 150  # 50 paragraphs, each edited by 3 writers
    paragraphs = {side: {r["meta"]["paragraph"] for r in rows} for side, rows in (("train", train), ("held", heldout))}
    assert not paragraphs["train"] & paragraphs["held"] and len(paragraphs["held"]) == 11
    for r in heldout:  # every writer's edit of a held-out paragraph is held out
        assert sum(x["meta"]["paragraph"] == r["meta"]["paragraph"] for x in heldout) == 3
    first = next(r for r in train + heldout if r["id"] == "W3_reannotation_1")
    item = json.load(open(FILES[0]))[0]
    assert first["prompt"] == item["instruction"] and first["revised_output"] == item["postedit"]
    assert (
        first["meta"]["writer"] == "W3"
        and first["meta"]["edits"][0]["category"] == "Unnecessary/ Redundant Exposition"
    )
    span = first["span_weights"]["original"][0]
    assert (
        first["original_output"][span["start"] : span["end"]] == item["fine_grained_edits"][0]["originalText"].strip()
    )
    span = first["span_weights"]["revised"][0]
    assert first["revised_output"][span["start"] : span["end"]] == item["fine_grained_edits"][0]["editedText"].strip()
    records, report = load_records(str(out))  # valid SPA records, spans included
    assert report.kept == 117 and all(r["span_weights"] for r in records)
    capsys.readouterr()
    assert main(["import", "--data", *FILES, "-o", str(out)]) == 0  # again, nothing held out
    assert len(read(out)) == 150 and not (tmp_path / "lamp.heldout.jsonl").exists()  # no stale held-out file
    assert f"removed {tmp_path / 'lamp.heldout.jsonl'}: an earlier import's held-out" in capsys.readouterr().out


@needs_lamp
def test_a_bad_lamp_item_is_named_by_file_item_and_field_or_skipped(tmp_path, capsys):
    items = json.load(open(FILES[0]))
    del items[2]["postedit"]
    items[4]["fine_grained_edits"] = "none"
    items[6]["postedit"] = items[6]["preedit"]
    bad = tmp_path / "W3_edits.json"
    bad.write_text(json.dumps(items))
    args = ["import", "--data", str(bad), "-o", str(tmp_path / "out.jsonl")]
    assert main(args) == 2
    assert f"figa import: error: {bad}:3: field 'postedit': missing or empty" in capsys.readouterr().err
    assert main([*args, "--skip_bad_records"]) == 0
    printed = capsys.readouterr().out
    assert "(47 records); " in printed and len(read(tmp_path / "out.jsonl")) == 47
    assert "3 bad items skipped" in printed
    assert main(["import", "--data", str(bad), "-o", str(bad)]) == 2
    assert "is also the input --data" in capsys.readouterr().err


def _margin_by_hand(model, tokenizer, record):
    """log p(revised + EOS | prompt) - log p(original + EOS | prompt) with one forward pass each, via the loss."""
    (pair,) = tokenize_pairs([record], tokenizer)[0]
    total = {}
    for side in ("revised", "original"):
        ids = torch.tensor([pair["prompt_ids"] + pair[f"{side}_ids"]])
        labels = ids.clone()
        labels[0, : len(pair["prompt_ids"])] = -100
        with torch.no_grad():
            mean_nll = model(input_ids=ids, labels=labels).loss
        total[side] = -mean_nll.item() * len(pair[f"{side}_ids"])
    return total["revised"] - total["original"]


def test_likelihood_on_held_out_pairs_against_the_base_model(tiny_model_dir, tmp_path, capsys):
    records = make_spa_records(24)
    for i, record in enumerate(records):  # 8 paragraphs, each edited by 3 writers
        record["meta"] = {**record.get("meta", {}), "paragraph": f"p{i // 3}"}
    data = write_jsonl(tmp_path / "spa.jsonl", records)
    trained = tmp_path / "trained"
    assert (
        main(
            [
                "train",
                "--model_name_or_path",
                tiny_model_dir,
                "--data",
                data,
                "--output_dir",
                str(trained),
                "--max_steps",
                "40",
                "--learning_rate",
                "3e-3",
                "--gamma",
                "0",  # below: what the edited tokens alone do
                "--save_strategy",
                "no",
            ]
        )
        == 0
    )
    one = write_jsonl(tmp_path / "one.jsonl", records[:1])
    out = tmp_path / "eval"
    assert (
        main(
            [
                "eval",
                "--model",
                tiny_model_dir,
                str(trained),
                "--names",
                "base",
                "figa",
                "--pairs",
                data,
                "--output_dir",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "likelihood on 24 held-out edited pairs, against base:" in printed
    table = json.loads((out / "results.json").read_text())["likelihood"]
    assert table["base"]["pairs_gained"] == 0 and table["base"]["margin_gain"] == 0
    figa = table[
        "figa"
    ]  # FIGA (gamma = 0) moves the edited tokens; the whole margin, kept tokens included, less often
    assert figa["tokens_moved"] > 0.6 and figa["margin_gain"] > 0 and figa["pairs_gained"] > 0, table
    assert figa["pair_ids"] == [r["id"] for r in records] and len(figa["margins"]) == 24
    assert np.mean(figa["margins"]) == pytest.approx(figa["mean_margin"])
    gains = np.array(figa["margins"]) - np.array(table["base"]["margins"])
    assert gains.mean() == pytest.approx(figa["margin_gain"])
    # the interval resamples paragraphs, not pairs: with three pairs in each, it is the bootstrap of paragraph means
    assert figa["margin_gain_ci95"] == pytest.approx(bootstrap_mean_ci(gains.reshape(8, 3).mean(axis=1)))
    assert "margin gain [95% CI]" in printed
    assert main(["eval", "--model", tiny_model_dir, "--pairs", one, "--output_dir", str(tmp_path / "one")]) == 0
    (row,) = json.loads((tmp_path / "one" / "results.json").read_text())["likelihood"].values()
    model, tokenizer = (
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        AutoTokenizer.from_pretrained(tiny_model_dir),
    )
    by_hand = _margin_by_hand(model, tokenizer, load_records(one)[0][0])
    assert row["mean_margin"] == pytest.approx(by_hand, abs=1e-3) and row["margins"] == [
        pytest.approx(by_hand, abs=1e-3)
    ]

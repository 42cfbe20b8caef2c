"""IFBench offline through `figa eval`: the same verdicts as IFBench's own strict evaluation, no network, and the
accuracy table computed by hand."""

import json

import pytest

from figa.evaluation.summary import summarize

ifbench = pytest.importorskip("figa.evaluation.ifbench")
pytest.importorskip("ifbench")
pytest.importorskip("emoji")
pytest.importorskip("syllapy")

NUMBERS = " ".join(str(i) for i in range(1, 16))
KEYWORDS = "A kaleidoscope of ideas. " + "nebula " * 2 + "whisper " * 3 + "labyrinth " * 5 + "paradox " * 7


def test_the_verdicts_are_ifbench_own_strict_evaluation_of_its_sample_outputs_without_network(monkeypatch):
    import nltk

    def no_network(*args, **kwargs):
        raise AssertionError("nltk.download reached")

    monkeypatch.setattr(nltk, "download", no_network)
    ifbench._registry()  # the verifiers import offline (their spaCy download does nothing)
    from ifbench import evaluation_lib

    rows = {row["prompt"]: row for row in map(json.loads, open(ifbench.test_set()))}
    samples = [json.loads(line) for line in open(ifbench.test_set().replace("IFBench_test", "sample_output"))]
    compared = unchecked = 0
    for sample in samples:
        row = rows[sample["prompt"]]
        ours = ifbench.follows(sample["prompt"], sample["response"])
        if None in ours:
            unchecked += 1
            continue
        monkeypatch.setattr(nltk, "download", lambda *args, **kwargs: True)  # their checks call it; data is local
        theirs = evaluation_lib.test_instruction_following_strict(
            evaluation_lib.InputExample(row["key"], row["instruction_id_list"], row["prompt"], row["kwargs"]),
            {sample["prompt"]: sample["response"]},
        )
        monkeypatch.setattr(nltk, "download", no_network)
        assert ours == theirs.follow_instruction_list, row["instruction_id_list"]
        compared += 1
    assert compared >= 280 and unchecked <= 10 and compared + unchecked == len(samples) == 294


def test_prompt_and_instruction_level_accuracy_by_hand(tmp_path, capsys):
    from figa.evaluation.ifbench_report import main

    rows = {row["key"]: row for row in map(json.loads, open(ifbench.test_set()))}
    keywords, two = rows["0"]["prompt"], rows["22"]["prompt"]  # 1 instruction; 2 (15 numbers, 5 conjunctions)
    looped = KEYWORDS.strip() + ". " + "That is all I can say. " * 3  # the keywords, then a sentence said 3 times
    responses = {
        "base": {"k": "nothing here", "t": "1 2 3 and but"},  # follows none of the 3 instructions
        "aligned": {"k": KEYWORDS, "t": f"Numbers: {NUMBERS}."},  # the keywords; the numbers but not conjunctions
        "looped": {"k": looped, "t": "nothing"},
    }
    prompts = {"k": keywords, "t": two}
    rewards = {
        name: dict(zip(prompts, ifbench.reward(list(prompts.values()), list(r.values()))))
        for name, r in responses.items()
    }
    assert rewards == {"base": {"k": 0.0, "t": 0.0}, "aligned": {"k": 1.0, "t": 0.5}, "looped": {"k": 1.0, "t": 0.0}}
    names = ["base", "aligned", "looped"]
    results = summarize(names, dict(zip(names, "bal")), prompts, responses, rewards, 200, 0)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    assert main([str(path)]) == 0
    report = json.loads((tmp_path / "ifbench.json").read_text())
    base, aligned, loop = report["models"]
    assert base["prompt_level"]["mean"] == 0 and base["instruction_level"]["mean"] == 0
    assert aligned["prompt_level"]["mean"] == 0.5 and aligned["instruction_level"]["mean"] == pytest.approx(2 / 3)
    assert aligned["vs_baseline"]["prompt_level"]["mean"] == 0.5
    assert aligned["vs_baseline"]["instruction_level"]["mean"] == pytest.approx(2 / 3)
    assert aligned["instructions"] == 3 and report["unchecked_instructions"] == 0
    # IFBench passes the looped answer; the guarded accuracy counts it as failed
    assert aligned["guarded_prompt_level"]["mean"] == 0.5 and loop["prompt_level"]["mean"] == 0.5
    assert loop["guarded_prompt_level"]["mean"] == 0 and loop["vs_baseline"]["guarded_prompt_level"]["mean"] == 0
    assert loop["repeating"] == 0.5
    printed = capsys.readouterr().out
    assert "| aligned | 0.500 [" in printed and "3 instructions checked" in printed


def test_a_prompt_that_is_not_ifbench_is_an_error():
    from figa.errors import FigaError

    with pytest.raises(FigaError, match="not a prompt of IFBench's test set"):
        ifbench.reward(["Write a poem."], ["A poem."])


def test_the_reward_leaves_the_callers_random_state_alone():
    import random

    prompt = json.loads(open(ifbench.test_set()).readline())["prompt"]
    random.seed(7)
    expected = [random.random() for _ in range(3)]
    random.seed(7)
    first = ifbench.reward([prompt], ["an answer"])
    assert [random.random() for _ in range(3)] == expected  # the verifiers' seeding did not leak
    assert str(ifbench.reward([prompt], ["an answer"])) == str(first)  # and their draws repeat per prompt

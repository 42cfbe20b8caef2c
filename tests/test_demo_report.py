"""The demo's report on hand-made results: the numbers computed by hand, and the page checked in Chromium."""

import json

import pytest

from figa.demo.analysis import method_summary
from figa.demo.report import write_report
from figa.evaluation.summary import summarize

from .conftest import open_page

pytest.importorskip("matplotlib")

QUOTES = "Give three short tips about chess. Wrap your entire response with double quotation marks."
PLAIN = "Give three short tips about chess. Do not use any commas in your response."
LIMITED = "Give three short tips about chess. Answer with at most 20 words."
METHODS = ["sft", "dpo", "apo_zero", "figa"]
RESPONSES = {  # per model: (response, reward) for QUOTES, PLAIN, LIMITED
    "base": [("a b c d", 0.0), ("e f g h", 0.5), ("i j", 0.25)],
    "sft-s0": [('"a b"', 1.0), ("e f", 1.0), ("i", 0.5)],
    "dpo-s0": [("a b c d e f", 0.0), ("x " * 40, 0.0), ("i j k l", 0.0)],
    "apo_zero-s0": [("a", 0.5), ("e", 0.5), ("Many people have their own stories about CHESS. i", 0.5)],
    "figa-s0": [('"a b c d"', 1.0), ('"e f g h"', 0.75), ("i j", 1.0)],
}


def results():
    names = list(RESPONSES)
    prompts = {"q": QUOTES, "p": PLAIN, "l": LIMITED}
    responses = {n: {i: RESPONSES[n][k][0] for k, i in enumerate(prompts)} for n in names}
    rewards = {n: {i: RESPONSES[n][k][1] for k, i in enumerate(prompts)} for n in names}
    return summarize(names, {n: n for n in names}, prompts, responses, rewards, samples=200, seed=0)


def test_method_numbers_by_hand():
    figa = method_summary(results(), "figa", [0], samples=200)
    assert figa["reward"]["mean"] == pytest.approx(2.75 / 3)
    assert figa["vs_sft"]["mean"] == pytest.approx((0 - 0.25 + 0.5) / 3)
    assert figa["vs_dpo"]["mean"] == pytest.approx(2.75 / 3)
    # per-prompt differences 0, -0.25, 0.5: their sd, and 2.80 standard errors (80% power at the 5% level)
    sd = (((0 - 0.25 / 3) ** 2 + (-0.25 - 0.25 / 3) ** 2 + (0.5 - 0.25 / 3) ** 2) / 2) ** 0.5
    assert figa["vs_sft"]["paired_sd"] == pytest.approx(sd) and sd == pytest.approx(0.3819, abs=1e-4)
    assert figa["vs_sft"]["detectable"] == pytest.approx(2.80 * sd / 3**0.5)
    assert figa["reward_by_seed"] == [pytest.approx(2.75 / 3)]
    assert figa["mean_words"] == pytest.approx(10 / 3) and figa["words_vs_base"] == pytest.approx(10 / 10)
    free = figa["no_length_constraint"]  # QUOTES and PLAIN have no length constraint, LIMITED has one
    assert free["prompts"] == 2 and free["reward"]["mean"] == pytest.approx(1.75 / 2)
    assert figa["degeneration"]["quotes_not_asked"] == pytest.approx(1 / 2)  # PLAIN quoted, LIMITED not
    assert figa["degeneration"]["lowercase_not_asked"] == pytest.approx(1.0)  # every prompt; every answer lowercase
    assert figa["degeneration"]["stock_sentences"] == 0.0
    apo = method_summary(results(), "apo_zero", [0], samples=200)  # one answer copies a stock sentence of the reviser
    assert apo["degeneration"]["stock_sentences"] == pytest.approx(1 / 3)
    dpo = method_summary(results(), "dpo", [0], samples=200)
    assert dpo["degeneration"]["repeating"] == pytest.approx(1 / 3) and "vs_dpo" not in dpo


def test_report_page_has_charts_with_legends_and_no_errors(browser, tmp_path):  # noqa: F811
    settings = {
        "methods": METHODS,
        "training_seeds": [0],
        "model": "m",
        "train_prompts": 3,
        "test_prompts": 3,
        "method_settings": {m: {"learning_rate": 3e-5, "epochs": 1} for m in METHODS},
    }
    counts = {
        "read": 3,
        "prompts": 3,
        "train": 2,
        "rejected": 1,
        "rejected_by_stage": {"rollout": 1},
        "truncated_rollouts": 1,
        "bad_input": 0,
    }
    curation = {"counts": counts, "train_rewards": {}, "edit_ratio": {"count": 0}}
    training = {
        f"{m}-s0": {
            "log_history": [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5}],
            "metrics": {},
            "loss": {"method": m},
        }
        for m in METHODS
    }
    path = write_report(
        str(tmp_path), settings, curation, training, results(), {"total_seconds": 60.0, "curation_seconds": 30.0}
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert [m["method"] for m in report["methods"]] == ["base", *METHODS]
    assert report["curation"]["usable_rollouts"] == pytest.approx(2 / 3)
    page, errors = open_page(browser, path)
    assert page.locator("svg").count() == 3
    legend = page.locator("svg").nth(1).text_content()
    assert all(m in legend for m in ["base", *METHODS])  # the per-constraint chart's legend names every model
    assert "share satisfied" in legend and "mean test reward" in page.locator("svg").nth(0).text_content()
    assert all(f"{m}-s0" in page.locator("svg").nth(2).text_content() for m in METHODS)
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert errors == []

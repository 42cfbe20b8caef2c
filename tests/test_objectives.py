"""Objectives as registered classes: the docs' worked example (unlikelihood, from outside figa) trains through
`figa train --objective python:module:Class`, its loss matches a hand computation, bad objectives are one line,
and the built-in names record what figa recorded before."""

import importlib
import json
import math
import os
import sys

import pytest
import torch

from figa.cli import main
from figa.objectives import TokenBatch, objective_names
from figa.trainer import FIGAConfig

from .conftest import REPO
from .test_faults import one_line_error

PAGE = os.path.join(REPO, "docs", "guides", "objectives.md")
SPEC = "python:my_objectives:Unlikelihood"


@pytest.fixture
def my_objectives(tmp_path, monkeypatch):
    """The page's python block, saved as my_objectives.py and importable, as the page says."""
    code = open(PAGE, encoding="utf-8").read().split("```python\n")[1].split("```", 1)[0]
    (tmp_path / "my_objectives.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("my_objectives", None)
    yield importlib.import_module("my_objectives")
    sys.modules.pop("my_objectives", None)


def train_args(model, data, out, *extra):
    return [
        *("train", "--model_name_or_path", model, "--data", data, "--output_dir", str(out)),
        *("--max_steps", "3", "--logging_steps", "1", "--save_strategy", "no", "--report_to", "none"),
        *map(str, extra),
    ]


def test_the_worked_example_computes_the_loss_by_hand(my_objectives):
    objective = my_objectives.Unlikelihood(my_objectives.UnlikelihoodSettings(ul_weight=0.5))
    nll = torch.tensor([0.5, 2.0, 0.1, 3.0])
    weights = torch.tensor([1.0, 0.3, -1.0, -1.0])  # two revised tokens raised, two original tokens lowered
    batch = TokenBatch(nll, weights, torch.zeros(4, dtype=torch.long), 1, num_items=4)
    loss, metrics = objective.loss(batch)
    unlikely = [-math.log(1 - math.exp(-0.1)), -math.log(1 - math.exp(-3.0))]
    assert loss.item() == pytest.approx((1.0 * 0.5 + 0.3 * 2.0 + 0.5 * sum(unlikely)) / 4, rel=1e-6)
    sums = {name: float(value) for name, value in metrics.items()}
    assert objective.log_values(sums) == pytest.approx({"revised_nll": 1.25, "unlikelihood": sum(unlikely) / 2})


def test_an_objective_from_outside_trains_and_is_recorded(my_objectives, tiny_model_dir, spa_file, tmp_path):
    out = tmp_path / "model"
    assert (
        main(train_args(tiny_model_dir, spa_file, out, "--objective", SPEC, "--objective_args", '{"ul_weight": 0.5}'))
        == 0
    )
    report = json.loads((out / "figa_train_report.json").read_text())
    assert report["loss"] == {"objective": SPEC, "alpha": 1.0, "gamma": 0.3, "ul_weight": 0.5}  # gamma: the recipe's
    logged = [entry for entry in report["log_history"] if "unlikelihood" in entry]
    assert len(logged) == 3 and all(entry["unlikelihood"] > 0 and entry["revised_nll"] > 0 for entry in logged)
    assert all(0 < entry["weighted_fraction"] <= 1 for entry in logged)
    assert SPEC in (out / "README.md").read_text()


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--objective", "python:my_objectives:Missing"), "Missing is not a figa.objectives.Objective subclass"),
        (("--objective", "python:no_such_module:Thing"), "cannot import no_such_module"),
        (("--objective", "bogus"), "--objective must be one of figa, anchor, preference or python:module:Class"),
        (
            ("--objective", SPEC, "--objective_args", '{"nope": 1}'),
            "python:my_objectives:Unlikelihood has no settings nope",
        ),
        (("--objective", SPEC, "--objective_args", '{"ul_weight": -1}'), "ul_weight must be >= 0"),
        (("--objective", SPEC, "--objective_args", "[1]"), "--objective_args must be a JSON object"),
        (("--objective", "anchor", "--anchor_tau", "-1"), "anchor_tau must be a finite number >= 0"),
        (("--objective", "preference", "--pref_beta", "0"), "pref_beta must be a finite number > 0"),
    ],
)
def test_objectives_that_cannot_train_are_one_line(my_objectives, spa_file, tmp_path, capsys, extra, message):
    assert main(train_args("no-such-model", spa_file, tmp_path / "model", *extra)) == 2
    one_line_error(capsys, message)
    assert not (tmp_path / "model").exists()


def test_the_built_in_objectives_are_registered_and_record_their_settings():
    assert objective_names() == ["figa", "anchor", "preference"]
    paper = {"weighting": "figa", "alpha": 1.0, "beta": 0.5, "gamma": 0.0, "tau": 0.6}

    def report(**flags):
        return FIGAConfig(output_dir="unused", **flags).make_objective().report()

    assert report() == paper
    assert report(prob_scale=True, eos_weight=2.0) == {**paper, "prob_scale": True, "eos_weight": 2.0}
    assert report(anchor_tau=0.5) == report(objective="anchor", anchor_tau=0.5) == {**paper, "anchor_tau": 0.5}
    assert report(objective="anchor") == {**paper, "anchor_tau": 2.0}
    assert report(objective="preference") == {**paper, "objective": "preference", "pref_beta": 0.1}
    needs = {
        name: FIGAConfig(output_dir="unused", objective=name).make_objective().needs_reference
        for name in objective_names()
    }
    assert needs == {"figa": False, "anchor": True, "preference": True}

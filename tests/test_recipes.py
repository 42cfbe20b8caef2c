"""`figa train --recipe NAME`: the packaged recipes, the default one, and how --config and flags override them."""

import json
import os

import yaml

from figa import recipes
from figa.cli import main
from figa.demo.settings import CHOSEN, PAPER

from .conftest import REPO

ONE_STEP = ["--max_steps", "1", "--save_strategy", "no", "--report_to", "none", "--per_device_train_batch_size", "4"]


def run(tiny_model_dir, spa_file, out, *flags):
    argv = ["train", "--model_name_or_path", tiny_model_dir, "--data", spa_file, "--output_dir", str(out)]
    code = main([*argv, *ONE_STEP, *flags])
    report = json.loads((out / "figa_train_report.json").read_text()) if code == 0 else None
    return code, report


def test_the_default_recipe_is_the_measured_one_and_flags_override_any(tiny_model_dir, spa_file, tmp_path, capsys):
    code, report = run(tiny_model_dir, spa_file, tmp_path / "default")
    assert code == 0 and report["recipe"] == "figa"
    assert report["loss"]["gamma"] == 0.3 and report["training"]["learning_rate"] == 3e-5
    assert "recipe figa: learning_rate 3e-05, num_train_epochs 2" in capsys.readouterr().out
    card = (tmp_path / "default" / "README.md").read_text()
    assert "`figa train --method figa --recipe figa`" in card

    code, report = run(
        tiny_model_dir, spa_file, tmp_path / "paper", "--recipe", "paper", "--gradient_accumulation_steps", "1"
    )
    assert code == 0 and report["recipe"] == "paper"
    assert report["loss"]["gamma"] == 0.0 and report["training"]["learning_rate"] == 1e-5
    assert report["training"]["lr_scheduler_type"] == "constant"

    config = tmp_path / "c.yaml"
    config.write_text("gamma: 0.2\nlearning_rate: 2.0e-5\n")
    code, report = run(
        tiny_model_dir, spa_file, tmp_path / "layers", "--recipe", "anchor", "--config", str(config), "--gamma", "0.1"
    )
    assert code == 0
    assert report["loss"]["anchor_tau"] == 2.0  # the recipe's
    assert report["training"]["learning_rate"] == 2e-5  # --config over the recipe
    assert report["loss"]["gamma"] == 0.1  # the flag over both

    code, report = run(tiny_model_dir, spa_file, tmp_path / "none", "--recipe", "none")
    assert code == 0 and "recipe" not in report and report["loss"]["gamma"] == 0.0  # FIGAConfig's own defaults

    code, report = run(tiny_model_dir, spa_file, tmp_path / "sft", "--recipe", "sft")
    assert code == 0 and report["loss"] == {"method": "sft"} and report["training"]["learning_rate"] == 5e-5


def test_a_recipe_for_another_method_or_an_unknown_one_is_one_line(tiny_model_dir, spa_file, tmp_path, capsys):
    assert run(tiny_model_dir, spa_file, tmp_path / "x", "--recipe", "dpo", "--method", "sft")[0] == 2
    assert "--recipe dpo is a recipe for --method dpo, not --method sft" in capsys.readouterr().err
    assert run(tiny_model_dir, spa_file, tmp_path / "x", "--recipe", "nope")[0] == 2
    assert "--recipe nope: no such recipe; the recipes are anchor, apo_zero, dpo, figa, paper, sft" in (
        capsys.readouterr().err
    )


def test_the_recipes_hold_the_settings_the_demo_chose_and_the_authors_recipe():
    def loaded(name):
        values = recipes.recipe_values(name)
        values["epochs"] = values.pop("num_train_epochs")
        if values.pop("method") in ("dpo", "apo_zero"):
            values["dpo_beta"] = values.pop("beta")
        return values

    assert loaded("figa") == CHOSEN["figa"]
    assert loaded("anchor") == CHOSEN["figa_anchor"]
    for method in ("sft", "dpo", "apo_zero"):
        assert loaded(method) == CHOSEN[method]
    paper = loaded("paper")
    assert (
        paper.pop("per_device_train_batch_size") * paper.pop("gradient_accumulation_steps") == PAPER["pairs_per_step"]
    )
    assert paper.pop("lr_scheduler_type") == "constant" and paper.pop("alpha") == 1.0
    assert paper == {k: v for k, v in PAPER.items() if k != "pairs_per_step"}


def test_the_readme_recipe_runs_the_default_recipe():
    readme = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    recipe = readme.split("## Your own data", 1)[1].split("```", 2)[1]
    train = next(line for line in recipe.splitlines() if line.startswith("figa train"))
    assert "--recipe" not in train and "--gamma" not in train and "--learning_rate" not in train  # the default
    assert yaml.safe_load(open(os.path.join(REPO, "src", "figa", "recipes", "figa.yaml")))["gamma"] == 0.3

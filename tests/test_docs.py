"""The documentation site: built with --strict, its CLI reference equal to each command's --help, its pages
opened in a real headless Chromium."""

import os
import subprocess
import sys

import pytest

from figa.cli import COMMANDS

from .conftest import REPO, open_page

MKDOCS = os.path.join(os.path.dirname(sys.executable), "mkdocs")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return out


def help_text(command):
    env = {**os.environ, "COLUMNS": "119"}  # the width docs/cli.md is written at
    return subprocess.run(
        [sys.executable, "-m", "figa", command, "--help"], capture_output=True, text=True, env=env
    ).stdout


@pytest.mark.slow  # over 7 s on 2 cores; the full suite (CI) runs it
def test_the_cli_reference_is_each_commands_help(site):
    import html

    page = html.unescape((site / "cli" / "index.html").read_text())
    for command in COMMANDS:
        assert f"figa {command}" in page
    for command in ("train", "curate"):
        for line in help_text(command).splitlines()[-20:]:  # the end of each help: the last options' text
            assert line.strip() in page, line


@pytest.mark.parametrize(
    "path,heading",
    [
        ("index.html", "figa"),
        ("loss/index.html", "The loss"),
        ("cli/index.html", "CLI reference"),
        ("reliability/index.html", "Reliability"),
        ("guides/curate/index.html", "Curate"),
    ],
)
def test_pages_render_in_a_browser_without_errors(site, browser, path, heading):
    page, errors = open_page(browser, site / path)
    assert heading in page.inner_text("h1")
    assert page.locator("nav a").count() > 10  # the navigation with every page
    assert not errors, errors
    page.close()


def test_the_train_guides_python_example_runs_as_written(tiny_model_dir, tmp_path, monkeypatch):
    from .conftest import write_jsonl

    guide = open(os.path.join(REPO, "docs", "guides", "train.md"), encoding="utf-8").read()
    code = guide.split("```python\n", 1)[1].split("```", 1)[0]
    assert '"HuggingFaceTB/SmolLM2-135M-Instruct"' in code and '"spa.jsonl"' in code
    from figa.testing import make_spa_records

    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "spa.jsonl", make_spa_records(8))
    code = code.replace('"HuggingFaceTB/SmolLM2-135M-Instruct"', repr(tiny_model_dir))  # offline: the tiny model
    code = code.replace("num_train_epochs=2,", "num_train_epochs=2, max_steps=1, report_to='none',")
    exec(compile(code, "train.md", "exec"), {})
    assert (tmp_path / "out" / "model.safetensors").exists()


def test_the_committed_cli_reference_is_the_command_line():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "cli_reference", os.path.join(REPO, "docs", "hooks", "cli_reference.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = open(os.path.join(REPO, "docs", "cli.md"), encoding="utf-8").read()
    assert committed == module.reference(), "docs/cli.md is stale: run `python docs/hooks/cli_reference.py`"

"""Every `figa` command line in the README and the docs names a command and options that exist: a renamed or
removed flag fails here, not in a newcomer's terminal."""

import functools
import glob
import os
import re
import shlex

import pytest

from figa.cli import COMMANDS, main

from .conftest import REPO

PAGES = [os.path.join(REPO, "README.md"), *glob.glob(os.path.join(REPO, "docs", "**", "*.md"), recursive=True)]
PAGES = [page for page in PAGES if not page.endswith(os.path.join("docs", "cli.md"))]  # the help itself


@functools.cache
def options(command: tuple[str, ...]) -> set[str]:
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.raises(SystemExit):
        main([*command, "--help"])
    return set(re.findall(r"--[A-Za-z0-9_]+", printed.getvalue()))


def command_lines(page: str):
    text = open(page, encoding="utf-8").read()
    for block in re.findall(r"```(?:bash|sh|console)\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("figa "):
                yield line


CASES = [(os.path.relpath(page, REPO), line) for page in PAGES for line in command_lines(page)]


def test_the_docs_show_figa_commands():
    assert len(CASES) > 20


@pytest.mark.parametrize("page, line", CASES)
def test_each_documented_command_line_uses_real_options(page, line):
    words = shlex.split(line.replace("$(", "").replace(")", ""))
    command = words[1]
    assert command in COMMANDS, f"{page}: {line}"
    key = (command, "merge") if words[1:3] == ["curate", "merge"] else (command,)
    used = {word.split("=", 1)[0] for word in words if word.startswith("--")}
    unknown = sorted(used - options(key) - {"--help"})
    assert not unknown, f"{page}: {line}: {unknown}"

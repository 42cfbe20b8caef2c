"""The CLI reference page, docs/cli.md: each command's own `--help`, built from its dataclasses by
`HfArgumentParser`. `python docs/hooks/cli_reference.py` writes the page; as an mkdocs hook it refuses to build a
site whose page differs from the command line (tests/test_docs.py checks the same), so it cannot drift, and the
page reads on GitHub without building the site."""

from __future__ import annotations

import contextlib
import io
import os
import sys

PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli.md")
HEADER = """# CLI reference

Every `figa` command, with its options as `figa COMMAND --help` prints them (written by
`python docs/hooks/cli_reference.py` from the same dataclasses the commands parse, `HfArgumentParser`; a test and
the site's build fail when it differs from the command line). Every option can also come from a YAML file:
`--config file.yaml` (or `--config=file.yaml`); flags given on the command line override it.
"""


def command_help(command: str) -> str:
    from figa.cli import main

    out = io.StringIO()
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "119"  # argparse wraps to the terminal's width: the page is the same everywhere
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main([command, "--help"])
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return out.getvalue().strip()


def reference() -> str:
    from figa.cli import COMMANDS

    parts = [HEADER]
    for name, (_, summary) in COMMANDS.items():
        parts.append(f"## figa {name}\n\n{summary[0].upper() + summary[1:]}.\n\n```text\n{command_help(name)}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri == "cli.md" and markdown != reference():
        raise ValueError("docs/cli.md differs from the command line: run `python docs/hooks/cli_reference.py`")
    return markdown


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(PAGE), "..", "src"))
    with open(PAGE, "w", encoding="utf-8") as handle:
        handle.write(reference())
    print(f"wrote {PAGE}")

"""mkdocs hook: the CLI reference page is each command's own `--help`, built from its dataclasses by
`HfArgumentParser` at build time, so the page cannot drift from the command line."""

from __future__ import annotations

import contextlib
import io

PLACEHOLDER = "<!-- figa-cli-reference -->"


def command_help(command: str) -> str:
    from figa.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([command, "--help"])
    return out.getvalue().strip()


def reference() -> str:
    from figa.cli import COMMANDS

    parts = []
    for name, (_, summary) in COMMANDS.items():
        parts.append(f"## figa {name}\n\n{summary[0].upper() + summary[1:]}.\n\n```text\n{command_help(name)}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    return markdown.replace(PLACEHOLDER, reference()) if PLACEHOLDER in markdown else markdown

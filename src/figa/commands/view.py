"""`figa view DATA -o view.html`: a static page of SPA pairs, tokens coloured by edit kind and FIGA weight."""

from __future__ import annotations

from ..argparsing import parse_args
from ..view import ViewConfig, build_page


def main(argv: list[str]) -> int:
    if argv and not argv[0].startswith("-"):
        argv = ["--data", argv[0], *argv[1:]]
    (config,) = parse_args(
        (ViewConfig,),
        argv,
        prog="figa view",
        description="Write a self-contained HTML page (no server, no external assets) of SPA "
        "pairs: each token coloured by its edit kind and weight, with rewards, "
        "summary statistics, search and paging. Usage: figa view DATA -o view.html",
    )
    summary = build_page(config)
    skipped = f", {summary['skipped']} bad records skipped" if summary["skipped"] else ""
    print(f"wrote {config.output} ({summary['pairs']} pairs{skipped})")
    return 0

"""`figa import`: other people's edit data (LAMP's writers' edits) -> SPA records with span weights."""

from __future__ import annotations

from ..argparsing import parse_args
from ..importers import ImportConfig, import_records


def main(argv: list[str]) -> int:
    (config,) = parse_args(
        (ImportConfig,),
        argv,
        prog="figa import",
        description="Turn human edit data into SPA records (prompt, original_output, revised_output) with "
        "span_weights on the annotated spans, for `figa train --weighting external`.",
    )
    result = import_records(config)
    held = f" and {len(result.heldout)} held out in {config.heldout_path()}" if result.heldout else ""
    skipped = f"; {len(result.skipped)} bad items skipped" if result.skipped else ""
    print(
        f"wrote {config.output} ({len(result.train)} records{held}); {result.placed} of {result.edits} annotated "
        f"edits found in their text and weighted{skipped}"
    )
    if result.removed_heldout:
        print(f"removed {result.removed_heldout}: an earlier import's held-out records, all in {config.output} now")
    return 0

"""`figa weigh`: a judge marks the wrong parts of each original and the fixing parts of each revision."""

from __future__ import annotations

from ..argparsing import parse_args
from ..weigh import WeighConfig, weigh


def main(argv: list[str]) -> int:
    (config,) = parse_args(
        (WeighConfig,),
        argv,
        prog="figa weigh",
        description="Ask a judge which spans of each original are wrong and which spans of its "
        "revision fix them; write them as span_weights for `figa train "
        "--weighting external`. Rerun the same command to resume.",
    )
    result = weigh(config)
    rejected, _ = config.paths()
    marked = [
        sum(span["end"] - span["start"] for span in record["span_weights"]["revised"])
        / max(len(record["revised_output"]), 1)
        for record in result.records
    ]
    share = f", {100 * sum(marked) / len(marked):.0f}% of the revisions' characters marked" if marked else ""
    print(
        f"wrote {result.output} ({len(result.records)} records weighed{share}) and {rejected} "
        f"({len(result.rejected)} rejected)"
    )
    return 0

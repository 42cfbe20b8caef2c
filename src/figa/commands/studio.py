"""`figa studio DATA`: people write minimal revisions and judge edit labels in the browser;
`figa studio export DATA --output_dir DIR -o spa.jsonl`: the saved revisions as SPA records."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..argparsing import parse_args
from ..errors import FigaError
from ..files import check_outputs, prepare_output_file
from ..studio.export import export
from ..studio.queue import check_served, load_items
from ..studio.store import JOURNALS, STORE_NAME, AnnotationStore


@dataclass
class ExportConfig:
    data: str | None = field(default=None, metadata={"help": "The data the studio served."})
    output_dir: str = field(default="studio", metadata={"help": "The studio's output directory (studio.sqlite3)."})
    output: str = field(default="studio.jsonl", metadata={"aliases": ["-o"], "help": "The SPA file to write."})


def _export(argv: list[str]) -> int:
    if argv and not argv[0].startswith("-"):
        argv = ["--data", argv[0], *argv[1:]]
    (config,) = parse_args(
        (ExportConfig,),
        argv,
        prog="figa studio export",
        description="Write the saved revisions as SPA records (marked spans as span_weights; annotator, time and "
        "note in meta) that figa train reads as they are.",
    )
    store_path = os.path.join(config.output_dir, STORE_NAME)
    check_outputs(
        {"-o": config.output},
        {
            "--data": config.data,
            "the studio's store": store_path,
            **{f"the studio's store ({journal})": store_path + journal for journal in JOURNALS},
        },
    )
    prepare_output_file(config.output, "-o")
    loaded = load_items(config.data)
    check_served(config.output_dir, config.data, loaded)
    store = AnnotationStore(config.output_dir, write=False)
    items = {item["id"]: item for item in loaded}
    try:
        count = export(store, items, config.output)
    finally:
        store.close()
    print(f"wrote {config.output} ({count} records)")
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "export":
        return _export(argv[1:])
    try:
        from ..studio.server import StudioConfig, serve
    except ImportError as error:
        raise FigaError(
            f"the studio extra is not installed ({(error.name or '?').split('.')[0]} is missing): "
            "pip install 'figa-align[studio]'"
        ) from None
    if argv and not argv[0].startswith("-"):
        argv = ["--data", argv[0], *argv[1:]]
    (config,) = parse_args(
        (StudioConfig,),
        argv,
        prog="figa studio",
        description="A local web page where people write minimal revisions (with the token labels and weights "
        "training will use, live) or judge each edit region; every save is durable. Prints the URL with its "
        "access token. `figa studio export DATA` writes the revisions as SPA records.",
    )
    serve(config)
    return 0

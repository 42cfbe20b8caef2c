"""The `figa` command: dispatches to one module per subcommand; user errors print as one line, no traceback."""

from __future__ import annotations

import errno
import importlib
import logging
import os
import sys

from .errors import FigaError
from .redaction import redact

COMMANDS = {
    "demo": ("figa.commands.demo", "offline end-to-end demo: base vs SFT vs FIGA on a small real model"),
    "curate": ("figa.commands.curate", "build SPA training pairs: rollout, reward, revise, filter"),
    "weigh": ("figa.commands.weigh", "token weights from a judge: span_weights for --weighting external"),
    "train": ("figa.commands.train", "train a model with the FIGA loss on SPA data"),
    "loop": ("figa.commands.loop", "rounds of curate -> train -> eval, each from the last round's model"),
    "eval": ("figa.commands.eval", "compare models on held-out prompts with a reward"),
    "compare": ("figa.commands.compare", "the fair comparison on your data: every method tuned, seeded, scored"),
    "view": ("figa.commands.view", "write an HTML page of SPA pairs with token-level edit labels"),
    "studio": ("figa.commands.studio", "people write minimal revisions and judge edit labels in the browser"),
    "import": (
        "figa.commands.import_data",
        "human edit data (LAMP's writers' edits) -> SPA records, span weights",
    ),
}

WRITE_FAILURES = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # a full disk, a quota, a file size limit

USAGE = (
    "usage: figa COMMAND [--help] [options]\n\ncommands:\n"
    + "\n".join(f"  {name:<8} {summary}" for name, (_, summary) in COMMANDS.items())
    + "\n\nRun `figa COMMAND --help` for a command's options."
)


class _StdoutHandler(logging.StreamHandler):
    """Writes to the `sys.stdout` of the moment (tests and notebooks replace it), message only."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def setup_logging() -> None:
    """The library logs through `logging.getLogger("figa...")`; the command line shows its INFO messages on stdout,
    on the main process only (other ranks of a multi-process run show warnings and errors), as transformers does."""
    logger = logging.getLogger("figa")
    if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    main_process = os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) == "0"
    logger.setLevel(logging.INFO if main_process else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from . import __version__

        print(f"figa {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    setup_logging()
    if command not in COMMANDS:
        print(f"figa: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    try:
        return importlib.import_module(COMMANDS[command][0]).main(rest) or 0
    except FigaError as error:
        print(f"figa {command}: error: {redact(str(error))}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno in WRITE_FAILURES:
            where = f" {error.filename}" if error.filename else ""
            print(
                f"figa {command}: error: could not write{where}: {error.strerror}. Free some space and run the "
                "same command again: what was saved before is kept.",
                file=sys.stderr,
            )
            return 2
        if not error.filename:  # not a file problem: a bug, shown with its traceback
            raise
        print(f"figa {command}: error: {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"figa {command}: interrupted", file=sys.stderr)
        return 130

"""Output files written atomically: a reader never sees half a file, and a failed write names the file."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Iterable


@contextlib.contextmanager
def naming(path: str):
    """A failed write (a full disk) raises an OSError that names PATH; `write()` errors name no file."""
    try:
        yield
    except OSError as error:
        raise OSError(error.errno, error.strerror, path) from error


@contextlib.contextmanager
def atomic_file(path: str):
    """Write PATH.tmp and rename it into place when complete; a failed write removes PATH.tmp and names PATH."""
    tmp = f"{path}.tmp"
    with naming(path):
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                yield handle
        except OSError:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
    os.replace(tmp, path)


def write_json(path: str, value) -> None:
    with atomic_file(path) as handle:
        json.dump(value, handle, indent=2)


def write_jsonl(path: str, rows: Iterable[dict]) -> None:
    with atomic_file(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")

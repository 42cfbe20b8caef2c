"""Append-only stage results, one JSONL file per stage and settings hash, flushed per record.

A run killed at any moment leaves at most one partial last line, which the next run drops; records already
written are not recomputed, so a resumed run neither loses nor repeats work.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

from ..errors import FigaError
from ..files import make_dir, naming, open_append
from ..redaction import redact


def settings_key(*parts) -> str:
    """A short stable hash of a stage's settings (and of the stages before it)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


class StageStore:
    def __init__(self, directory: str, stage: str, key: str):
        make_dir(directory, "stage directory")
        self.path = os.path.join(directory, f"{stage}-{key}.jsonl")
        if os.path.islink(self.path):
            raise FigaError(f"{self.path}: is a symbolic link; figa does not write through links")
        self.results: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._load()
        self._handle = open_append(self.path)

    def _load(self) -> None:
        if not os.path.exists(self.path):
            return
        good_bytes = 0
        with open(self.path, "rb") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                except ValueError:
                    break  # a line cut by a kill: drop it and what follows
                if not line.endswith(b"\n"):
                    break
                self.results[row["id"]] = row
                good_bytes += len(line)
        if good_bytes != os.path.getsize(self.path):
            with open(self.path, "r+b") as handle:
                handle.truncate(good_bytes)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self.results

    def get(self, record_id: str) -> dict | None:
        return self.results.get(record_id)

    def add(self, row: dict) -> None:
        with self._lock:
            with naming(self.path):  # on a full disk: the partial line is dropped when the run resumes
                self._handle.write(redact(json.dumps(row, ensure_ascii=False)) + "\n")
                self._handle.flush()
                os.fsync(self._handle.fileno())
            self.results[row["id"]] = row

    def close(self) -> None:
        self._handle.close()

"""Append-only stage results, one JSONL file per stage and settings hash.

A run killed at any moment leaves at most one partial last line, which the next run drops; records already
written are not recomputed, so a resumed run neither loses nor repeats work.

Only an index stays in memory: for each id, where its latest row starts in the file and the fingerprint of the
inputs it was computed from. A row is read back from the file when asked for, so a store of a million rows holds
their ids, not their texts. Each row is flushed to the operating system when it is added (a killed process loses
nothing); the file is synced to the disk at most once a second and when the store closes, so a power cut loses
at most the last second of results, which the next run computes again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from typing import BinaryIO

from ..errors import FigaError
from ..files import make_dir, naming, open_append
from ..redaction import redact

SYNC_SECONDS = 1.0
_FINGERPRINT_BITS = 48  # settings_key's 12 hex digits


def settings_key(*parts) -> str:
    """A short stable hash of a stage's settings (and of the stages before it)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _pack(offset: int, fingerprint: str | None) -> int:
    """One int per id: the row's offset in the file and its 48-bit input fingerprint (+1; 0 for none)."""
    value = int(fingerprint, 16) + 1 if isinstance(fingerprint, str) and len(fingerprint) == 12 else 0
    return (offset << (_FINGERPRINT_BITS + 1)) | value


class StageStore:
    def __init__(self, directory: str, stage: str, key: str):
        make_dir(directory, "stage directory")
        self.path = os.path.join(directory, f"{stage}-{key}.jsonl")
        if os.path.islink(self.path):
            raise FigaError(f"{self.path}: is a symbolic link; figa does not write through links")
        self._index: dict[str, int] = {}
        self._lock = threading.Lock()
        self._reader: BinaryIO | None = None
        self._load()
        self._handle = open_append(self.path)
        self._end = os.path.getsize(self.path)
        self._synced = time.monotonic()

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
                self._index[sys.intern(row["id"])] = _pack(good_bytes, row.get("input"))
                good_bytes += len(line)
        if good_bytes != os.path.getsize(self.path):
            with open(self.path, "r+b") as handle:
                handle.truncate(good_bytes)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self._index

    def __len__(self) -> int:
        return len(self._index)

    def fingerprint(self, record_id: str) -> str | None:
        """The input fingerprint the saved row of RECORD_ID was computed from (None: no row, or none saved)."""
        packed = self._index.get(record_id)
        value = None if packed is None else packed & ((1 << (_FINGERPRINT_BITS + 1)) - 1)
        return f"{value - 1:012x}" if value else None

    def get(self, record_id: str) -> dict | None:
        packed = self._index.get(record_id)
        if packed is None:
            return None
        with self._lock:
            reader = self._reader = self._reader or open(self.path, "rb")
            reader.seek(packed >> (_FINGERPRINT_BITS + 1))
            return json.loads(reader.readline())

    def add(self, row: dict) -> None:
        line = redact(json.dumps(row, ensure_ascii=False)) + "\n"
        with self._lock:
            with naming(self.path):  # on a full disk: the partial line is dropped when the run resumes
                self._handle.write(line)
                self._handle.flush()
                if time.monotonic() - self._synced >= SYNC_SECONDS:
                    os.fsync(self._handle.fileno())
                    self._synced = time.monotonic()
            self._index[sys.intern(row["id"])] = _pack(self._end, row.get("input"))
            self._end += len(line.encode("utf-8"))

    def size(self) -> int:
        """The bytes of the rows saved so far."""
        return self._end

    def sync(self) -> None:
        """Make every row saved so far survive a power cut."""
        with self._lock, naming(self.path):
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._synced = time.monotonic()

    def close(self) -> None:
        with self._lock:
            if not self._handle.closed:
                with naming(self.path):
                    self._handle.flush()
                    os.fsync(self._handle.fileno())
                self._handle.close()
            if self._reader is not None:
                self._reader.close()
                self._reader = None

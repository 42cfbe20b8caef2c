"""The studio's annotations, in SQLite (the standard library's): one row per (item, annotator, kind), replaced by a
later save. Each save is committed before the request returns, with `synchronous=FULL` in WAL mode, so a killed
server loses nothing that was acknowledged; SQLite serialises concurrent writers, so two pages saving at once
lose and duplicate nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time

from ..errors import FigaError
from ..files import make_dir

KINDS = ("revision", "judgement", "skip", "flag")
STORE_NAME = "studio.sqlite3"
JOURNALS = ("-wal", "-shm", "-journal")  # SQLite's files beside the store
SCHEMA = """
CREATE TABLE IF NOT EXISTS annotations (
    item TEXT NOT NULL,
    annotator TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    time REAL NOT NULL,
    PRIMARY KEY (item, annotator, kind)
)
"""


COLUMNS = ["item", "annotator", "kind", "payload", "time"]


class AnnotationStore:
    def __init__(self, directory: str, write: bool = True):
        """The store in DIRECTORY; with WRITE (the studio), proven writable now rather than at the first save."""
        make_dir(directory, "--output_dir")
        self.path = os.path.join(directory, STORE_NAME)
        if os.path.islink(self.path):
            raise FigaError(f"{self.path} is a symbolic link: figa does not write through links")
        if not write and not os.path.isfile(self.path):
            raise FigaError(f"{directory}: holds no {STORE_NAME}: give the --output_dir that figa studio saved to")
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            if write:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute(SCHEMA)
            columns = [row[1] for row in self._db.execute("PRAGMA table_info(annotations)")]
            if columns != COLUMNS:
                raise FigaError(
                    f"{self.path}: not a figa studio store (its annotations table has columns {columns}); "
                    "choose another --output_dir"
                )
            if write:
                self._db.execute("BEGIN IMMEDIATE")  # takes the write lock: fails on a read-only file or directory
                self._db.execute("ROLLBACK")
        except sqlite3.Error as error:
            raise FigaError(f"{self.path}: cannot be used as the studio's store: {error}") from None

    def save(self, item: str, annotator: str, kind: str, payload: dict) -> float:
        """Store PAYLOAD (replacing this annotator's earlier one of this kind for this item); durable on return."""
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO annotations VALUES (?, ?, ?, ?, ?)",
                (item, annotator, kind, json.dumps(payload, ensure_ascii=False), now),
            )
        return now

    def rows(self, kind: str | None = None, annotator: str | None = None) -> list[dict]:
        query, args = "SELECT item, annotator, kind, payload, time FROM annotations WHERE 1=1", list[str]()
        if kind:
            query, args = query + " AND kind = ?", [*args, kind]
        if annotator:
            query, args = query + " AND annotator = ?", [*args, annotator]
        with self._lock:
            found = self._db.execute(query + " ORDER BY time", args).fetchall()
        return [{"item": i, "annotator": a, "kind": k, "payload": json.loads(p), "time": t} for i, a, k, p, t in found]

    def close(self) -> None:
        self._db.close()

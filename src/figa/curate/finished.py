"""Which blocks of which pass a curation run has finished, so that a resumed run skips them without reading them.

OUTPUT_DIR/stages/blocks-<key>.jsonl, where the key hashes the prompts file's contents and every setting that can
change what a pass computes or which prompts reach it (all of `CurateConfig` but where the outputs go, how they are
reported and how many requests run at once, and the version of a local policy directory: another model saved there
makes every block be replayed, its answers generated anew). One row per finished block of a pass, written after the
pass's stage files are synced to the disk: its id ("PASS/BLOCK"), the pass's stage settings key, how many prompts
entered the pass in that block and how many were left, and the length of every stage file at that moment. A row
counts only while each of those files is at least that long (stage files only grow; one cut short or deleted makes
the blocks after it be replayed and checked again).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict

from ..backends.store import StageStore, settings_key
from .config import CurateConfig

IGNORED = ("output_dir", "report_to", "project", "push_to_hub", "hub_private_repo", "concurrency")


def content_hash(path: str) -> str:
    """sha256 of a file's bytes, or of a directory's files (names and bytes, in name order)."""
    digest = hashlib.sha256()
    files = [path]
    if os.path.isdir(path):
        files = sorted(os.path.join(root, name) for root, _, names in os.walk(path) for name in names)
    for name in files:
        digest.update(os.path.relpath(name, path).encode() + b"\0")
        with open(name, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


class FinishedBlocks:
    def __init__(self, directory: str, config: CurateConfig, template: str, policy_version: str | None = None):
        settings = {k: v for k, v in asdict(config).items() if k not in IGNORED}
        self.directory = directory
        key = settings_key(
            content_hash(config.prompts), settings, template, *([policy_version] if policy_version else [])
        )
        self.store = StageStore(directory, "blocks", key)
        self.sizes: dict[str, int] = {}

    def _size(self, name: str) -> int:
        if name not in self.sizes:
            path = os.path.join(self.directory, name)
            self.sizes[name] = os.path.getsize(path) if os.path.isfile(path) else -1
        return self.sizes[name]

    def get(self, pass_name: str, key: str, block: int) -> dict | None:
        """The row of BLOCK of the pass, when the pass finished it with these settings and its stage files hold
        what they held then."""
        row_id = f"{pass_name}/{block}"
        if self.store.fingerprint(row_id) != key:
            return None
        row = self.store.get(row_id)
        if row is None or any(self._size(name) < length for name, length in row["ends"].items()):
            return None
        return row

    def add(self, pass_name: str, key: str, block: int, entered: int, left: int, stores: list[StageStore]) -> None:
        for store in stores:
            store.sync()
        ends = {os.path.basename(store.path): store.size() for store in stores}
        self.sizes.update(ends)
        self.store.add({"id": f"{pass_name}/{block}", "input": key, "entered": entered, "left": left, "ends": ends})
        self.store.sync()

    def close(self) -> None:
        self.store.close()

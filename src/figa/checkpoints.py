"""Whether a saved checkpoint is whole: the trainer writes `trainer_state.json` last, but a checkpoint copied or
cut by a full disk can hold that file beside truncated weights or optimizer state, which would fail (or load
garbage) only when resumed. Each file is checked by its own format: a safetensors file's size must equal its
header's 8 + header length + the end of its last tensor; a `torch.save` file is a zip archive whose central
directory (written last, at the end) must be readable."""

from __future__ import annotations

import json
import os
import struct
import zipfile

from transformers.trainer import TRAINER_STATE_NAME


def _safetensors_problem(path: str) -> str | None:
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            return "shorter than its header"
        (length,) = struct.unpack("<Q", head)
        if length > size - 8:
            return "cut inside its header"
        try:
            header = json.loads(handle.read(length))
        except ValueError:
            return "its header is not valid JSON"
    end = max((t["data_offsets"][1] for name, t in header.items() if name != "__metadata__"), default=0)
    return None if size == 8 + length + end else f"{size} bytes, its header says {8 + length + end}"


def _torch_file_problem(path: str) -> str | None:
    try:
        with zipfile.ZipFile(path):
            return None
    except (zipfile.BadZipFile, OSError) as error:
        return f"not a complete archive ({error})"


def checkpoint_problem(checkpoint: str) -> str | None:
    """Why CHECKPOINT cannot be resumed from, or None when it is whole."""
    try:
        with open(os.path.join(checkpoint, TRAINER_STATE_NAME), encoding="utf-8") as handle:
            json.load(handle)
    except (OSError, ValueError):
        return f"no readable {TRAINER_STATE_NAME}; the run stopped while saving it"
    for entry in sorted(os.scandir(checkpoint), key=lambda e: e.name):
        if not entry.is_file():
            continue
        check = (
            _safetensors_problem
            if entry.name.endswith(".safetensors")
            else _torch_file_problem
            if entry.name.endswith((".pt", ".pth", ".bin"))
            else None
        )
        problem = check(entry.path) if check else None
        if problem:
            return f"{entry.name} is truncated or damaged: {problem}"
    return None

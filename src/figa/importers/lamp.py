"""LAMP's writers' edits (Chakrabarty et al., "Can AI writing be salvaged?", salesforce/creativity_eval) -> SPA
records, for `figa import --format lamp`.

Each item of a LAMP file is an LLM-written paragraph (`preedit`) for an `instruction`, edited by one professional
writer (`postedit`), with the edits listed as `fine_grained_edits`: the original span, the edited span and the
category. A record is (prompt = instruction, original_output = preedit, revised_output = postedit) with
`span_weights`: weight 1 on each annotated span that is found in its text (the original span on the original side,
the edited span on the revised side), and the categories kept in `meta.edits`. `meta.paragraph` identifies the
paragraph, so that a held-out split keeps every writer's edit of a paragraph on the same side.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from dataclasses import dataclass, field

from ..errors import FigaError, RecordError
from ..files import check_outputs, prepare_output_file, write_jsonl
from ..records import FieldError, normalize_record, parse_json

FORMATS = ("lamp",)


@dataclass
class ImportConfig:
    data: list[str] = field(default_factory=list, metadata={"help": "The files to import (LAMP: W*_edits.json)."})
    format: str = field(default="lamp", metadata={"help": "The format of the files.", "choices": list(FORMATS)})
    output: str = field(default=None, metadata={"aliases": ["-o"], "help": "The SPA records (JSONL)."})
    heldout_fraction: float = field(
        default=0.0,
        metadata={
            "help": "Share of the paragraphs (never of the writers) to hold out, written to NAME.heldout.jsonl: "
            "every writer's edit of a held-out paragraph is held out."
        },
    )
    seed: int = field(default=0, metadata={"help": "Seed of the held-out split."})
    skip_bad_records: bool = field(default=False, metadata={"help": "Skip bad items (counted) instead of stopping."})

    def check(self) -> None:
        if not self.data:
            raise FigaError("--data is required: the files to import")
        if not self.output:
            raise FigaError("--output is required")
        if not 0 <= self.heldout_fraction < 1:
            raise FigaError(f"--heldout_fraction must be from 0 to below 1, got {self.heldout_fraction}")
        check_outputs(
            {"--output": self.output, "the held-out file": self.heldout_path()},
            {f"--data {path}": path for path in self.data},
        )

    def heldout_path(self) -> str:
        stem = self.output[: -len(".jsonl")] if self.output.endswith(".jsonl") else self.output
        return f"{stem}.heldout.jsonl"


@dataclass
class ImportResult:
    train: list[dict]
    heldout: list[dict]
    skipped: list[str]
    edits: int  # annotated edits read
    placed: int  # of them, found in their text (and weighted)
    removed_heldout: str | None = None  # an earlier import's held-out file, whose records are now all in training


def _text(item: dict, name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value.strip():
        raise FieldError(name, "missing or empty" if value in (None, "") else f"expected text, got {value!r:.40}")
    return value


def _spans(text: str, pieces: list[str]) -> tuple[list[dict], list[bool]]:
    """Character spans of PIECES in TEXT, searched in order (edits are listed as they occur), overlaps merged."""
    found, placed, cursor = [], [], 0
    for piece in pieces:
        piece = piece.strip()
        start = text.find(piece, cursor) if piece else -1
        if piece and start < 0:
            start = text.find(piece)
        placed.append(start >= 0)
        if start >= 0:
            found.append([start, start + len(piece)])
            cursor = start + len(piece)
    merged: list[list[int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [{"start": s, "end": e, "weight": 1.0} for s, e in merged], placed


def lamp_record(item, writer: str) -> tuple[dict, int, int]:
    """One LAMP item as an SPA record, with the number of its edits and of those placed (raises `FieldError`)."""
    if not isinstance(item, dict):
        raise FieldError(None, f"expected a JSON object, got {type(item).__name__}")
    instruction, preedit, postedit = (_text(item, name) for name in ("instruction", "preedit", "postedit"))
    edits = item.get("fine_grained_edits")
    if not isinstance(edits, list) or not all(
        isinstance(e, dict)
        and all(isinstance(e.get(k), str) for k in ("categorization", "originalText", "editedText"))
        for e in edits
    ):
        raise FieldError("fine_grained_edits", "expected a list of {categorization, originalText, editedText}")
    original, placed_original = _spans(preedit, [e["originalText"] for e in edits])
    revised, placed_revised = _spans(postedit, [e["editedText"] for e in edits])
    record = {
        "id": str(item.get("id") or hashlib.sha256((writer + postedit).encode()).hexdigest()[:16]),
        "prompt": instruction,
        "original_output": preedit,
        "revised_output": postedit,
        "span_weights": {"original": original, "revised": revised},
    }
    normalized = normalize_record(record)  # the SPA rules: spans in range
    if normalized["original_output"] == normalized["revised_output"]:
        raise FieldError("postedit", "identical to preedit: no edits, no training signal")
    placed = [a or b for a, b in zip(placed_original, placed_revised)]
    record["meta"] = {
        "importer": "lamp",
        "writer": writer,
        "paragraph": hashlib.sha256(preedit.encode()).hexdigest()[:12],
        "source": item.get("source"),
        "type": item.get("type"),
        "edits": [
            {
                "category": e["categorization"].strip(),
                "original": e["originalText"],
                "edited": e["editedText"],
                "placed": p,
            }
            for e, p in zip(edits, placed)
        ],
    }
    return record, len(edits), sum(placed)


def _writer(path: str, item) -> str:
    identifier = item.get("id") if isinstance(item, dict) else None
    if isinstance(identifier, str) and "_" in identifier:
        return identifier.split("_", 1)[0]
    return os.path.basename(path).split("_", 1)[0]


def read_lamp(path: str, skip_bad_records: bool, skipped: list[str]) -> tuple[list[dict], int, int]:
    if not os.path.isfile(path):
        raise FigaError(f"--data {path}: no such file")
    try:
        with open(path, "rb") as handle:
            items = parse_json(handle.read())
    except FieldError as error:
        raise FigaError(f"{path}: not a LAMP file: {error.problem}") from None
    except UnicodeDecodeError as error:
        raise FigaError(f"{path}: not valid UTF-8 (byte {error.start})") from None
    if not isinstance(items, list):
        raise FigaError(f"{path}: not a LAMP file: expected a JSON array of edited paragraphs")
    records, edits, placed = [], 0, 0
    for number, item in enumerate(items, start=1):
        try:
            record, n, p = lamp_record(item, _writer(path, item))
        except FieldError as error:
            bad = RecordError(path, number, error.field, error.problem)
            if not skip_bad_records:
                raise bad from None
            skipped.append(str(bad))
            continue
        records.append(record)
        edits, placed = edits + n, placed + p
    return records, edits, placed


def split_by_paragraph(records: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, held out): a share FRACTION of the paragraphs, drawn with SEED, with every writer's edit of them."""
    paragraphs = sorted({r["meta"]["paragraph"] for r in records})
    random.Random(seed).shuffle(paragraphs)
    held = set(paragraphs[: math.ceil(fraction * len(paragraphs))]) if fraction > 0 else set()
    return [r for r in records if r["meta"]["paragraph"] not in held], [
        r for r in records if r["meta"]["paragraph"] in held
    ]


def import_records(config: ImportConfig) -> ImportResult:
    config.check()
    prepare_output_file(config.output, "--output")
    records: list[dict] = []
    skipped: list[str] = []
    edits = placed = 0
    for path in config.data:
        got, n, p = read_lamp(path, config.skip_bad_records, skipped)
        records += got
        edits, placed = edits + n, placed + p
    ids = [r["id"] for r in records]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        raise FigaError(f"the id {duplicate!r} appears in two items: import each file once")
    if not records:
        raise FigaError(f"no record imported; first problem: {skipped[0] if skipped else 'the files are empty'}")
    train, heldout = split_by_paragraph(records, config.heldout_fraction, config.seed)
    write_jsonl(config.output, train)
    removed = None
    if heldout:
        write_jsonl(config.heldout_path(), heldout)
    elif os.path.lexists(config.heldout_path()):  # evaluating on it would measure training data
        os.remove(config.heldout_path())
        removed = config.heldout_path()
    return ImportResult(train, heldout, skipped, edits, placed, removed)

"""What people work on in `figa studio`: items read from an SPA file (each revision to review or fix), from the
output directory of `figa curate` (the prompts it rejected, with the original answer to revise), or from any
prompt + response JSONL (write a revision). An item: id, prompt, original, revision (the original when none)."""

from __future__ import annotations

import json
import os

from ..errors import FigaError, RecordError
from ..prompts import query_text
from ..records import FieldError, iter_raw_records, normalize_record

RESPONSE_FIELDS = ("original_output", "rejected", "response")
REVISION_FIELDS = ("revised_output", "chosen")


def _first(raw: dict, names: tuple[str, ...]) -> str | None:
    return next((raw[n] for n in names if isinstance(raw.get(n), str)), None)


def _items_of_file(path: str) -> list[dict]:
    items, seen = [], set()
    for where, line, raw in iter_raw_records(path):
        if isinstance(raw, FieldError):
            raise RecordError(where, line, raw.field, raw.problem)
        try:
            record = normalize_record(raw, require_responses=False)
        except FieldError as error:
            raise RecordError(where, line, error.field, error.problem) from None
        original = _first(raw, RESPONSE_FIELDS)
        if original is None:
            raise RecordError(where, line, None, f"no answer to revise (one of {', '.join(RESPONSE_FIELDS)})")
        if record["id"] in seen:
            raise RecordError(where, line, "id", f"{record['id']!r} appears twice")
        seen.add(record["id"])
        items.append(
            {
                "id": record["id"],
                "prompt": query_text(record),
                "record": {k: record[k] for k in ("prompt", "messages", "instruction", "input") if record[k]},
                "original": original,
                "revision": _first(raw, REVISION_FIELDS) or original,
            }
        )
    return items


def _items_of_curation(directory: str) -> list[dict]:
    """The prompts `figa curate` rejected after answering them (a low reward, a failed revision)."""
    with open(os.path.join(directory, "curate_config.json"), encoding="utf-8") as handle:
        prompts_path = json.load(handle)["prompts"]
    prompts = {}
    for _, _, raw in iter_raw_records(prompts_path):
        if isinstance(raw, dict):
            record = normalize_record(raw, require_responses=False)
            prompts[record["id"]] = record
    items = []
    for _, _, row in iter_raw_records(os.path.join(directory, "rejected.jsonl")):
        if isinstance(row, dict) and row.get("original_output"):  # rejected after the policy answered
            record = prompts.get(row["id"])
            if record is not None:
                items.append(
                    {
                        "id": row["id"],
                        "prompt": query_text(record),
                        "record": {k: record[k] for k in ("prompt", "messages", "instruction", "input") if record[k]},
                        "original": row["original_output"],
                        "revision": row["original_output"],
                    }
                )
    return items


def load_items(source: str) -> list[dict]:
    """The items of SOURCE: a data file, or a `figa curate` output directory."""
    if os.path.isdir(source):
        if not os.path.isfile(os.path.join(source, "curate_config.json")):
            raise FigaError(f"{source}: a directory must be an output directory of `figa curate`")
        items = _items_of_curation(source)
    elif os.path.isfile(source):
        items = _items_of_file(source)
    else:
        raise FigaError(f"{source}: no such file or directory")
    if not items:
        raise FigaError(f"{source}: nothing to work on")
    return items

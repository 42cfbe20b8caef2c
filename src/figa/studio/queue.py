"""What people work on in `figa studio`: items read from an SPA file (each revision to review or fix), from the
output directory of `figa curate` (the prompts it rejected, with the original answer to revise), or from any
prompt + response JSONL (write a revision). An item: id, prompt, original, revision (the original when none)."""

from __future__ import annotations

import hashlib
import json
import os

from ..curate.finished import content_hash
from ..errors import FigaError, RecordError
from ..files import write_json
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
        settings = json.load(handle)
    prompts_path = settings.get("prompts_abspath") or settings["prompts"]
    if settings.get("prompts_sha256"):
        try:
            same = content_hash(prompts_path) == settings["prompts_sha256"]
        except FileNotFoundError:
            raise FigaError(f"{directory} was curated from {prompts_path}, which is no longer there") from None
        if not same:
            raise FigaError(
                f"{prompts_path} has changed since {directory} was curated from it: its prompts would not match "
                "the answers; curate again"
            )
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


SERVED_NAME = "served.json"  # beside the store: what the studio last served, for `studio export` to check


def items_fingerprint(items: list[dict]) -> str:
    """A hash of what annotators saw of each item (id, prompt, original): another file with the same ids differs."""
    seen = [[item["id"], item["prompt"], item["original"]] for item in items]
    return hashlib.sha256(json.dumps(seen, ensure_ascii=False).encode()).hexdigest()


def record_served(directory: str, source: str, items: list[dict]) -> None:
    write_json(
        os.path.join(directory, SERVED_NAME), {"data": os.path.abspath(source), "items": items_fingerprint(items)}
    )


def check_served(directory: str, source: str, items: list[dict]) -> None:
    """Refuse to export against data other than what the studio served (the saved revisions would be paired with
    other prompts and answers)."""
    path = os.path.join(directory, SERVED_NAME)
    if not os.path.isfile(path):  # a store from before figa recorded this
        return
    with open(path, encoding="utf-8") as handle:
        served = json.load(handle)
    if served.get("items") != items_fingerprint(items):
        raise FigaError(
            f"{source} is not the data the studio served from {directory} (it served {served.get('data')}): the "
            "saved revisions would be paired with other prompts or answers; export with that data"
        )

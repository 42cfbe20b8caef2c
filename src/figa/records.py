"""The SPA record: schema, aliases, validation and loading (docs/data.md).

A record holds one query (`prompt` | `messages` | `instruction` [+ `input`]), the policy's response
`original_output` (alias `rejected`) and its minimal revision `revised_output` (alias `chosen`), and
optionally a reference `output`, `rewards`, `token_weights` or `span_weights`, `id`, `meta`. Unknown fields
are ignored.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import FigaError, RecordError

QUERY_FIELDS = ("messages", "prompt", "instruction")  # a record has exactly one of these
QUERY_COLUMNS = (*QUERY_FIELDS, "input")  # the query as stored: one of the above, and `input` with `instruction`
ALIASES = {"original_output": "rejected", "revised_output": "chosen"}
ROLES = ("system", "user", "assistant", "tool")
# The columns of a normalised record, in the order the training data set stores them.
COLUMNS = (
    "id",
    "prompt",
    "messages",
    "instruction",
    "input",
    "original_output",
    "revised_output",
    "output",
    "rewards",
    "token_weights",
    "span_weights",
)


MAX_LINE_BYTES = 8 << 20  # one record; a longer line is refused before it is parsed or tokenised
MAX_WEIGHT = 1e6  # token and span weights: larger ones overflow the float32 loss sums


class FieldError(Exception):
    """A bad field of one raw record, before its file and line are known (`load_records` and the importers turn it
    into a `RecordError` that names them)."""

    def __init__(self, field: str | None, problem: str):
        super().__init__(problem)
        self.field, self.problem = field, problem


@dataclass
class LoadReport:
    """What loading a source did: how many records it read, kept, and skipped (with the reasons)."""

    source: str
    read: int = 0
    kept: int = 0
    skipped: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line (or row) of each kept record

    def summary(self) -> str:
        text = f"{self.source}: {self.kept} records kept of {self.read} read"
        if self.skipped:
            text += f", {len(self.skipped)} bad records skipped"
        return text


def _text(raw: dict, name: str, required: bool) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise FieldError(name, "missing")
        return None
    if not isinstance(value, str):
        raise FieldError(name, f"expected a string, got {type(value).__name__}")
    _check_characters(value, name)
    if required and not value.strip():
        raise FieldError(name, "is empty")
    return value


def _check_characters(value: str, name: str) -> None:
    if "\x00" in value:
        raise FieldError(name, "contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:  # JSON allows "\ud800"; no tokenizer or file can hold it
        raise FieldError(
            name,
            f"contains a lone surrogate ({value[error.start]!r} at character {error.start}), "
            "which is not valid Unicode",
        ) from None


def _messages(value: Any, name: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise FieldError(name, "expected a non-empty list of {'role', 'content'} messages")
    messages = []
    for i, message in enumerate(value):
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            raise FieldError(f"{name}[{i}]", "expected an object with string 'role' and 'content'")
        if message["role"] not in ROLES:
            raise FieldError(f"{name}[{i}].role", f"unknown role {message['role']!r} (one of {', '.join(ROLES)})")
        _check_characters(message["content"], f"{name}[{i}].content")
        messages.append({"role": message["role"], "content": message["content"]})
    return messages


def _response(raw: dict, name: str) -> str:
    """A response under its name or its TRL alias; a TRL conversational response is one assistant message."""
    alias = ALIASES[name]
    key = name if name in raw else alias
    value = raw.get(key)
    if isinstance(value, list):
        messages = _messages(value, key)
        if len(messages) != 1 or messages[0]["role"] != "assistant":
            raise FieldError(key, "a conversational response must be exactly one assistant message")
        value = messages[0]["content"]
        raw = {key: value}
    if value is None:
        raise FieldError(name, f"missing (nor its alias '{alias}')")
    return _text(raw, key, required=True)


def _query(raw: dict) -> dict:
    present = [name for name in QUERY_FIELDS if raw.get(name) is not None]
    if not present:
        raise FieldError("prompt", "missing: a record needs one of 'prompt', 'messages' or 'instruction'")
    if len(present) > 1:
        raise FieldError(present[1], f"a record has one query field, found {' and '.join(present)}")
    name = present[0]
    query: dict[str, Any] = {"prompt": None, "messages": None, "instruction": None, "input": None}
    if name == "prompt" and isinstance(raw["prompt"], list):  # TRL conversational prompt
        name = "messages"
        query["messages"] = _messages(raw["prompt"], "prompt")
    elif name == "messages":
        query["messages"] = _messages(raw["messages"], "messages")
    else:
        query[name] = _text(raw, name, required=True)
        if name == "instruction":
            query["input"] = _text(raw, "input", required=False) or ""
    if query["messages"] is not None and query["messages"][-1]["role"] != "user":
        raise FieldError(name, "a chat history must end with a user turn")
    return query


def _rewards(raw: dict) -> dict | None:
    value = raw.get("rewards")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldError("rewards", 'expected an object like {"original": 0.1, "revised": 0.8}')
    for key, reward in value.items():
        if reward is not None and (
            isinstance(reward, bool) or not isinstance(reward, (int, float)) or not math.isfinite(reward)
        ):
            raise FieldError(f"rewards.{key}", f"expected a finite number, got {reward!r}")
    return {key: (None if v is None else float(v)) for key, v in value.items()}


def _token_weights(raw: dict) -> dict | None:
    value = raw.get("token_weights")
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"original", "revised"}:
        raise FieldError("token_weights", 'expected {"original": [...], "revised": [...]}')
    for side, weights in value.items():
        if not isinstance(weights, list) or any(not _finite_number(w) or not 0 <= w <= MAX_WEIGHT for w in weights):
            raise FieldError(f"token_weights.{side}", f"expected a list of numbers from 0 to {MAX_WEIGHT:g}")
    return {side: [float(w) for w in value[side]] for side in ("original", "revised")}


def _finite_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _spans(value, side: str, text: str) -> list[dict]:
    """Character spans of one response: in range, not overlapping, each with a finite weight >= 0."""
    name = f"span_weights.{side}"
    if not isinstance(value, list):
        raise FieldError(name, 'expected a list of {"start", "end", "weight"}')
    spans, last_end = [], 0
    ordered = sorted(
        enumerate(value),
        key=lambda iv: iv[1].get("start") if isinstance(iv[1], dict) and isinstance(iv[1].get("start"), int) else 0,
    )
    for i, span in ordered:  # i: the span's place in the record, for the error message
        if not isinstance(span, dict) or not all(
            isinstance(span.get(k), int) and not isinstance(span.get(k), bool) for k in ("start", "end")
        ):
            raise FieldError(f"{name}[{i}]", 'expected {"start": int, "end": int, "weight": number}')
        start, end, weight = span["start"], span["end"], span.get("weight")
        if not 0 <= start < end <= len(text):
            raise FieldError(
                f"{name}[{i}]",
                f"span {start}-{end} is out of range (the response has {len(text)} characters; start < end)",
            )
        if start < last_end:
            raise FieldError(f"{name}[{i}]", f"span {start}-{end} overlaps the span before it")
        if not _finite_number(weight) or not 0 <= weight <= MAX_WEIGHT:
            raise FieldError(f"{name}[{i}].weight", f"expected a number from 0 to {MAX_WEIGHT:g}, got {weight!r}")
        spans.append({"start": start, "end": end, "weight": float(weight)})
        last_end = end
    return spans


def _span_weights(raw: dict, record: dict) -> dict | None:
    value = raw.get("span_weights")
    if value is None:
        return None
    if raw.get("token_weights") is not None:
        raise FieldError("span_weights", "a record has token_weights or span_weights, not both")
    if not isinstance(value, dict) or set(value) != {"original", "revised"}:
        raise FieldError("span_weights", 'expected {"original": [...], "revised": [...]}')
    return {side: _spans(value[side], side, record[f"{side}_output"]) for side in ("original", "revised")}


def content_id(record: dict) -> str:
    """A stable id from a record's content, for records that bring none."""
    key = {
        k: record.get(k) for k in ("prompt", "messages", "instruction", "input", "original_output", "revised_output")
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def normalize_record(raw: Any, require_responses: bool = True) -> dict:
    """Check one raw record and return it with canonical field names (raises `FieldError`)."""
    if not isinstance(raw, dict):
        raise FieldError(None, f"expected a JSON object, got {type(raw).__name__}")
    record = _query(raw)
    if require_responses:
        record["original_output"] = _response(raw, "original_output")
        record["revised_output"] = _response(raw, "revised_output")
    record["output"] = _text(raw, "output", required=False)
    record["rewards"] = _rewards(raw)
    record["token_weights"] = _token_weights(raw)
    record["span_weights"] = _span_weights(raw, record) if require_responses else None
    raw_id = raw.get("id")
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, (str, int))):
        raise FieldError("id", f"expected a string or an integer, got {type(raw_id).__name__}")
    record["id"] = str(raw_id) if raw_id is not None else content_id(record)
    return {name: record.get(name) for name in COLUMNS}


def _object(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object, refusing a key given twice (json would silently keep the last value)."""
    value: dict = {}
    for key, item in pairs:
        if key in value:
            raise FieldError(key, "the key appears twice in the record")
        value[key] = item
    return value


def parse_json(text: str | bytes) -> Any:
    """JSON text as Python values; a duplicate key, or nesting deeper than Python can follow, is a `FieldError`."""
    try:
        return json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as error:
        raise FieldError(None, f"malformed JSON: {error.msg} (column {error.colno})") from None
    except RecursionError:
        raise FieldError(None, "JSON nested too deeply") from None


def _iter_jsonl(path: str) -> Iterator[tuple[int, Any]]:
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if len(line) > MAX_LINE_BYTES:
                yield (
                    number,
                    FieldError(
                        None,
                        f"the line is {len(line) / 2**20:.1f} MB; a record may be at most {MAX_LINE_BYTES >> 20} MB",
                    ),
                )
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as error:
                yield number, FieldError(None, f"not valid UTF-8 (byte {error.start})")
                continue
            if not text.strip():
                continue
            try:
                yield number, parse_json(text)
            except FieldError as error:
                yield number, error


def iter_raw_records(source: Any) -> Iterator[tuple[str, int, Any]]:
    """Yield (source name, 1-based line or row, raw record or a `FieldError`) from a file or a dataset."""
    if not isinstance(source, (str, os.PathLike)):
        name = "dataset"
        for index, row in enumerate(source, start=1):
            yield name, index, row
        return
    path = os.fspath(source)
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "dataset_info.json")) or os.path.exists(os.path.join(path, "state.json")):
            from datasets import load_from_disk

            try:
                dataset = load_from_disk(path)
            except Exception as error:  # datasets raises many kinds here (missing files, bad JSON, wrong layout)
                raise FigaError(f"{path}: not a readable saved dataset ({type(error).__name__}: {error})") from None
            yield from ((path, i, row) for i, row in enumerate(dataset, start=1))
            return
        raise FigaError(
            f"{path}: is a directory; expected a .jsonl, .json or .parquet file "
            "(or a dataset saved with `save_to_disk`)"
        )
    if not os.path.exists(path):
        raise FigaError(f"{path}: no such file")
    suffix = path.rsplit(".", 1)[-1].lower()
    if suffix == "parquet":
        import pyarrow.parquet as pq

        index = 0
        try:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):  # a batch in memory at a time
                for row in batch.to_pylist():
                    index += 1
                    yield path, index, row
        except (ValueError, OSError) as error:  # pyarrow's ArrowInvalid is a ValueError
            raise FigaError(f"{path}: not a readable Parquet file: {error}") from None
    elif suffix == "json":
        with open(path, "rb") as handle:
            head = handle.read(1 << 16).lstrip()
        if head.startswith(b"["):
            try:
                with open(path, "rb") as handle:
                    rows = parse_json(handle.read())
            except UnicodeDecodeError as error:
                raise FigaError(f"{path}: not a valid JSON array: {error}") from None
            except FieldError as error:
                raise FigaError(
                    f"{path}: not a valid JSON array: {error.problem}"
                    + (f" (key {error.field!r})" if error.field else "")
                ) from None
            yield from ((path, i, row) for i, row in enumerate(rows, start=1))
        else:
            yield from ((path, number, item) for number, item in _iter_jsonl(path))
    else:
        yield from ((path, number, item) for number, item in _iter_jsonl(path))


def iter_records(
    source: Any, report: LoadReport, skip_bad_records: bool = False, require_responses: bool = True
) -> Iterator[tuple[dict, int]]:
    """Yield (record, line) for each good record of `source` (a path or an iterable of dicts such as a
    `datasets.Dataset`), counting in `report` what was read and skipped; one record in memory at a time.

    A bad record raises `RecordError` naming the file, the line and the field, unless `skip_bad_records`,
    in which case it is skipped and listed in `report`.
    """
    first_line_of_id: dict[str, int] = {}
    for where, line, raw in iter_raw_records(source):
        report.read += 1
        try:
            if isinstance(raw, FieldError):
                raise raw
            record = normalize_record(raw, require_responses=require_responses)
            if record["id"] in first_line_of_id:
                raise FieldError(
                    "id", f"duplicate id {record['id']!r} (first on line {first_line_of_id[record['id']]})"
                )
            if require_responses and record["original_output"] == record["revised_output"]:
                raise FieldError("revised_output", "identical to original_output: no edits, no training signal")
        except FieldError as error:
            bad = RecordError(where, line, error.field, error.problem)
            if not skip_bad_records:
                raise bad from None
            report.skipped.append(str(bad))
            continue
        first_line_of_id[record["id"]] = line
        report.kept += 1
        yield record, line


def check_loaded(report: LoadReport) -> None:
    """No record read, or none good, is an error."""
    if report.read == 0:
        raise FigaError(f"{report.source}: no records (the file is empty)")
    if not report.kept:
        raise FigaError(f"{report.source}: all {report.read} records are bad; first: {report.skipped[0]}")


def load_records(
    source: Any, skip_bad_records: bool = False, require_responses: bool = True
) -> tuple[list[dict], LoadReport]:
    """Load and validate every record of `source` (see `iter_records`); returns them with the `LoadReport`."""
    report = LoadReport(source=os.fspath(source) if isinstance(source, (str, os.PathLike)) else "dataset")
    records: list[dict] = []
    for record, line in iter_records(source, report, skip_bad_records, require_responses):
        records.append(record)
        report.lines.append(line)
    check_loaded(report)
    return records, report

"""A judge's reply -> `span_weights` (docs/guides/weigh.md).

The judge quotes text instead of giving offsets: `{"wrong": [...], "fixes": [...]}`, each item the exact text of
a part of the original that is wrong (`wrong`) or of the revision that fixes it (`fixes`). In `binary` mode an
item is a string (or `{"text"}`) and weighs 1; in `weighted` mode it is `{"text", "score"}` with the score in
[0, 1] as its weight. Each quote is found in its response, left to right: the first occurrence at or after the
end of the previous quote of the same list, else the first anywhere. Quotes that overlap are merged, the larger
weight winning on the shared characters. A reply that cannot be used raises `UnusableReply` with the reason.
"""

from __future__ import annotations

import json
import math
import re

MODES = ("binary", "weighted")
SIDES = {"wrong": "original", "fixes": "revised"}
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class UnusableReply(ValueError):
    """A reply with no usable JSON, a quote that is not in its response, or nothing marked in the revision."""


def _json_object(reply: str) -> dict:
    text = reply.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise UnusableReply("the reply has no JSON object")
    try:
        value = json.loads(text[start : end + 1])
    except json.JSONDecodeError as error:
        raise UnusableReply(f"the reply's JSON does not parse: {error.msg}") from None
    if not isinstance(value, dict) or set(SIDES) - set(value):
        raise UnusableReply('the reply must be an object with "wrong" and "fixes" lists')
    return value


def _quote(item, mode: str, where: str) -> tuple[str, float]:
    if mode == "binary" and isinstance(item, str):
        return item, 1.0
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        expected = '"text"' if mode == "binary" else '{"text": ..., "score": 0..1}'
        raise UnusableReply(f"{where}: expected {expected}")
    if mode == "binary":
        return item["text"], 1.0
    score = item.get("score")
    if (
        isinstance(score, bool)
        or not isinstance(score, (int, float))
        or not math.isfinite(score)
        or not 0 <= score <= 1
    ):
        raise UnusableReply(f"{where}: the score must be a number from 0 to 1, got {score!r}")
    return item["text"], float(score)


def _locate(text: str, quote: str, after: int) -> int:
    found = text.find(quote, after)
    return found if found >= 0 else text.find(quote)


def _spans(items, response: str, mode: str, name: str) -> list[dict]:
    """Non-overlapping character spans of `response` from the quoted items, max weight where quotes overlap."""
    if not isinstance(items, list):
        raise UnusableReply(f'"{name}" must be a list')
    weight_at = [0.0] * len(response)
    covered = [False] * len(response)
    after = 0
    for index, item in enumerate(items):
        quote, weight = _quote(item, mode, f"{name}[{index}]")
        quote = quote.strip()
        if not quote:
            raise UnusableReply(f"{name}[{index}] is empty")
        start = _locate(response, quote, after)
        if start < 0:
            raise UnusableReply(f"{name}[{index}] {quote[:40]!r} is not in the {SIDES[name]} response")
        after = start + len(quote)
        for position in range(start, after):
            weight_at[position] = max(weight_at[position], weight)
            covered[position] = True
    spans: list[dict] = []
    for position, weight in enumerate(weight_at):
        if not covered[position]:
            continue
        if spans and spans[-1]["end"] == position and spans[-1]["weight"] == weight:
            spans[-1]["end"] = position + 1
        else:
            spans.append({"start": position, "end": position + 1, "weight": weight})
    return spans


def parse_reply(reply: str, original: str, revised: str, mode: str) -> dict:
    """The record's `span_weights` from the judge's reply; raises `UnusableReply`."""
    value = _json_object(reply)
    responses = {"wrong": original, "fixes": revised}
    weights = {SIDES[name]: _spans(value[name], responses[name], mode, name) for name in SIDES}
    if not any(span["weight"] > 0 for span in weights["revised"]):
        raise UnusableReply("the reply marks nothing in the revision with a weight above 0")
    return weights

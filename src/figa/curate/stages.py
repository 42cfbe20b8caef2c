"""Running one pipeline stage over items resumably: each result is saved in a `StageStore` as soon as it exists.

A saved row carries a fingerprint of what the stage read (`inputs`: item fields), so a record whose input
changed under the same id (an edited prompt, a new rollout) is computed again instead of reused.
"""

from __future__ import annotations

import math
import statistics

from tqdm.auto import tqdm

from .openai_api import ReplyError, run_concurrently
from .rollout import Truncated
from .store import StageStore, settings_key


def fingerprint(item: dict, inputs: tuple[str, ...]) -> str:
    return settings_key(*(item.get(name) for name in inputs))


def pending(items: list[dict], store: StageStore, inputs: tuple[str, ...]) -> list[dict]:
    """The items that `store` has no result for, or a result computed from other inputs."""
    return [item for item in items if (store.get(item["id"]) or {}).get("input") != fingerprint(item, inputs)]


def run_stage(name: str, items: list[dict], store: StageStore, backend, result_row, concurrency: int,
              batch_size: int, inputs: tuple[str, ...]) -> None:
    """Run `backend` on the pending items, saving each result as soon as it exists."""
    todo = pending(items, store, inputs)
    if not todo:
        return

    def save(item, result):
        store.add({**result_row(item, result), "input": fingerprint(item, inputs)})

    bar = tqdm(total=len(items), initial=len(items) - len(todo), desc=name, unit="prompt", dynamic_ncols=True)
    try:
        if backend.per_record:
            def done(item, result):
                save(item, result)
                bar.update()
            run_concurrently(todo, backend.one, done, concurrency)
        else:
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                for item, result in zip(chunk, backend.batch(chunk)):
                    save(item, result)
                bar.update(len(chunk))
    finally:
        bar.close()


def text_row(field_name: str, check_same_as: str | None = None, allow_empty: bool = False):
    """How a stage stores one generated text (or the error that replaced it)."""
    def row(item, result):
        if isinstance(result, ReplyError):
            return {"id": item["id"], "error": str(result)}
        if isinstance(result, BaseException):
            raise result
        if not allow_empty and not result.strip():
            return {"id": item["id"], "error": "empty response"}
        if check_same_as and result.strip() == item[check_same_as].strip():
            return {"id": item["id"], "error": "the revision made no change"}
        return {"id": item["id"], field_name: result, **({"truncated": True} if isinstance(result, Truncated) else {})}
    return row


def score_stage(name: str, items: list[dict], store: StageStore, reward, batch_size: int, fields: dict) -> None:
    """Score `items` (fields maps a stored name to the item's text field) in batches, saving per batch."""
    inputs = ("prompt", "reference", *fields.values())
    todo = pending(items, store, inputs)
    if not todo:
        return
    with tqdm(total=len(items), initial=len(items) - len(todo), desc=name, unit="prompt",
              dynamic_ncols=True) as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            scores = {}
            for stored, source in fields.items():
                texts = [item for item in chunk if item.get(source) is not None]
                values = reward.score([i["prompt"] for i in texts], [i[source] for i in texts],
                                      [i.get("reference") for i in texts]) if texts else []
                scores[stored] = dict(zip((i["id"] for i in texts), values))
            for item in chunk:
                store.add({"id": item["id"], **{k: json_float(v.get(item["id"])) for k, v in scores.items()},
                           "input": fingerprint(item, inputs)})
            bar.update(len(chunk))


def json_float(value):
    return None if value is None else ("nan" if math.isnan(value) else value)


def is_number(value) -> bool:
    return isinstance(value, (int, float))


def distribution(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    quantile = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return {"count": len(values), "mean": statistics.fmean(values),
            "std": statistics.pstdev(values) if len(values) > 1 else 0.0, "min": ordered[0],
            "p25": quantile(0.25), "median": quantile(0.5), "p75": quantile(0.75), "max": ordered[-1]}


class RecordBackend:
    """Adapts a policy (which takes query records) to the items of the pipeline."""

    def __init__(self, policy):
        self.policy, self.per_record = policy, policy.per_record

    def one(self, item):
        return self.policy.one(item["record"])

    def batch(self, items):
        return self.policy.batch([item["record"] for item in items])

"""Running one pipeline stage over items resumably: each result is saved in a `StageStore` as soon as it exists."""

from __future__ import annotations

import math
import statistics

from tqdm.auto import tqdm

from .openai_api import ReplyError, run_concurrently
from .rollout import Truncated
from .store import StageStore


def run_stage(name: str, items: list[dict], store: StageStore, backend, result_row, concurrency: int,
               batch_size: int) -> None:
    """Run `backend` on the items that `store` lacks, saving each result as soon as it exists."""
    pending = [item for item in items if item["id"] not in store]
    if not pending:
        return
    bar = tqdm(total=len(items), initial=len(items) - len(pending), desc=name, unit="prompt", dynamic_ncols=True)
    try:
        if backend.per_record:
            def done(item, result):
                store.add(result_row(item, result))
                bar.update()
            run_concurrently(pending, backend.one, done, concurrency)
        else:
            for start in range(0, len(pending), batch_size):
                chunk = pending[start:start + batch_size]
                for item, result in zip(chunk, backend.batch(chunk)):
                    store.add(result_row(item, result))
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
    pending = [item for item in items if item["id"] not in store]
    if not pending:
        return
    with tqdm(total=len(items), initial=len(items) - len(pending), desc=name, unit="prompt",
              dynamic_ncols=True) as bar:
        for start in range(0, len(pending), batch_size):
            chunk = pending[start:start + batch_size]
            scores = {}
            for stored, source in fields.items():
                todo = [item for item in chunk if item.get(source) is not None]
                values = reward.score([i["prompt"] for i in todo], [i[source] for i in todo],
                                      [i.get("reference") for i in todo]) if todo else []
                scores[stored] = dict(zip((i["id"] for i in todo), values))
            for item in chunk:
                store.add({"id": item["id"], **{k: json_float(v.get(item["id"])) for k, v in scores.items()}})
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

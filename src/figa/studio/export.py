"""`figa studio export`: the saved revisions as SPA records that `figa train` reads as they are: one record per
item and annotator (id `ITEM@ANNOTATOR`), the spans people marked as `span_weights` (a marked span of the original
is a wrong part, of the revision a fix, weight 1), and the annotator, the time and any note in `meta`. Items
revised into their own original are left out (there is nothing to learn)."""

from __future__ import annotations

from ..files import write_jsonl
from .store import AnnotationStore


def export_records(store: AnnotationStore, items: dict[str, dict]) -> list[dict]:
    notes = {(r["item"], r["annotator"]): r["payload"].get("note") for r in store.rows("flag")}
    records = []
    for row in store.rows("revision"):
        item, payload = items.get(row["item"]), row["payload"]
        if item is None or payload["revision"] == item["original"]:
            continue
        record = {
            "id": f"{row['item']}@{row['annotator']}",
            **item["record"],
            "original_output": item["original"],
            "revised_output": payload["revision"],
            "meta": {"annotator": row["annotator"], "time": row["time"], "item": row["item"]},
        }
        spans = payload.get("spans") or {}
        if spans.get("original") or spans.get("revised"):
            record["span_weights"] = {
                side: [{"start": s["start"], "end": s["end"], "weight": 1.0} for s in spans.get(side, [])]
                for side in ("original", "revised")
            }
        note = notes.get((row["item"], row["annotator"]))
        if note:
            record["meta"]["note"] = note
        records.append(record)
    return records


def export(store: AnnotationStore, items: dict[str, dict], path: str) -> int:
    records = export_records(store, items)
    write_jsonl(path, records)
    return len(records)

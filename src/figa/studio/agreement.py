"""The judging report: per edit kind, how people judged the edit regions (improvement, neutral, worse), and, where
several people judged the same regions, their agreement: Cohen's kappa for each pair of annotators
(scikit-learn's `cohen_kappa_score`) and the mean over pairs (Light's kappa)."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

VERDICTS = ("improvement", "neutral", "worse")


def judgement_report(rows: list[dict]) -> dict:
    """ROWS: the store's judgement rows, payload {"regions": [{"kind", "verdict"}, ...]}."""
    by_kind: dict[str, Counter] = defaultdict(Counter)
    verdicts: dict[str, dict[tuple[str, int], str]] = defaultdict(dict)  # annotator -> (item, region) -> verdict
    for row in rows:
        for index, region in enumerate(row["payload"].get("regions", [])):
            if region.get("verdict") in VERDICTS:
                by_kind[region["kind"]][region["verdict"]] += 1
                verdicts[row["annotator"]][(row["item"], index)] = region["verdict"]
    pairs = []
    for a, b in itertools.combinations(sorted(verdicts), 2):
        shared = sorted(set(verdicts[a]) & set(verdicts[b]))
        if len(shared) >= 2:
            pairs.append({"annotators": [a, b], "regions": len(shared), "kappa": _kappa(verdicts, a, b, shared)})
    kappas: list[float] = [p["kappa"] for p in pairs if p["kappa"] is not None]  # type: ignore[misc]
    return {
        "by_kind": {
            kind: {"judged": counts.total(), **{v: counts[v] for v in VERDICTS}}
            for kind, counts in sorted(by_kind.items())
        },
        "annotators": sorted(verdicts),
        "agreement": pairs,
        "mean_kappa": sum(kappas) / len(kappas) if kappas else None,
    }


def _kappa(verdicts: dict, a: str, b: str, shared: list) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    first, second = [verdicts[a][k] for k in shared], [verdicts[b][k] for k in shared]
    if len(set(first) | set(second)) < 2:  # one verdict only: kappa is undefined
        return None
    return float(cohen_kappa_score(first, second, labels=list(VERDICTS)))

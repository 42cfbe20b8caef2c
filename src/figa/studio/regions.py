"""What the studio shows of a revision: its tokens with figa's edit labels and weights (the same labelling and
weights as training, `figa.view.pairs_for_view`), the word edit ratio against the curation threshold, and the
edit regions people judge: maximal runs of the Levenshtein edit script (rapidfuzz's opcodes over the same
tokens), each added (revision only), deleted (original only) or substituted (both)."""

from __future__ import annotations

from rapidfuzz.distance import Levenshtein

from ..curate.filters import edit_ratio
from ..view.page import pairs_for_view


def regions(original_keys: list, revised_keys: list, original: list[str], revised: list[str]) -> list[dict]:
    """The edit regions between two token sequences: kind and the text of each side."""
    found: list[dict] = []
    for operation in Levenshtein.opcodes(original_keys, revised_keys):
        tag, i1, i2, j1, j2 = (
            operation.tag,
            operation.src_start,
            operation.src_end,
            operation.dest_start,
            operation.dest_end,
        )
        if tag == "equal":
            continue
        if found and found[-1]["end"] == (i1, j1):  # adjacent operations form one region
            region = found[-1]
            region["original"] += "".join(original[i1:i2])
            region["revision"] += "".join(revised[j1:j2])
            region["end"] = (i2, j2)
        else:
            found.append({"original": "".join(original[i1:i2]), "revision": "".join(revised[j1:j2]), "end": (i2, j2)})
    for region in found:
        del region["end"]
        region["kind"] = (
            "substituted"
            if region["original"] and region["revision"]
            else ("added" if region["revision"] else "deleted")
        )
    return found


def diff_view(splitter, original: str, revision: str, weights: dict, max_edit_ratio: float) -> dict:
    """Tokens of both sides ([text, code, weight]), the edit regions and the word edit ratio of a revision."""
    pair = pairs_for_view(
        [{"id": "", "prompt": "", "original_output": original, "revised_output": revision}],
        splitter,
        weights["alpha"],
        weights["beta"],
        weights["gamma"],
    )[0]
    o_tokens, o_keys = splitter.split(original)
    r_tokens, r_keys = splitter.split(revision)
    ratio = edit_ratio(original, revision)
    return {
        "original": pair["original"],
        "revised": pair["revised"],
        "regions": regions(list(o_keys), list(r_keys), o_tokens, r_tokens),
        "edit_ratio": ratio,
        "minimal": ratio <= max_edit_ratio,
    }

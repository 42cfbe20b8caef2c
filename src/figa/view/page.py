"""Turn SPA records into the data of the viewer page and write the page (one HTML file, no external assets).

Tokens are the model's tokens with `--tokenizer`, else word pieces (a word with the spaces before it, or a
punctuation mark). Kinds and weights come from the same edit labelling and weight rules as training.
All record text reaches the page as JSON inside a script element (with <, > and & escaped) and is put on the
page with `textContent`, so nothing in a record is ever parsed as HTML.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from importlib import resources

from ..edits import ADD, DEL, SUB, edit_codes
from ..errors import FigaError
from ..files import atomic_file, check_outputs, prepare_output_file
from ..loss import LossSettings, loss_field, pair_weights
from ..prompts import query_text
from ..records import MAX_WEIGHT, load_records

PIECES = re.compile(r"\s*[\w']+|\s*[^\w\s]|\s+")


@dataclass
class ViewConfig:
    data: str | None = field(
        default=None,
        metadata={"help": "SPA records (train.jsonl from `figa curate`, or any JSONL/JSON/Parquet of SPA records)."},
    )
    output: str = field(default="view.html", metadata={"aliases": ["-o"], "help": "The HTML file to write."})
    tokenizer: str | None = field(
        default=None,
        metadata={"help": "Show the model's tokens (a local tokenizer or model path); default: word pieces."},
    )
    alpha: float = loss_field("alpha")
    beta: float = loss_field("beta")
    gamma: float = loss_field("gamma")
    title: str | None = field(default=None, metadata={"help": "Page title (default: the data file name)."})
    skip_bad_records: bool = field(default=False, metadata={"help": "Skip bad records (counted on the page)."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow tokenizer repository code to run."})


class WordPieces:
    def split(self, text: str) -> tuple[list[str], list[str]]:
        """(the pieces shown, the keys the edit script compares): here both are the word pieces."""
        pieces = PIECES.findall(text)
        return pieces, pieces


class ModelTokens:
    def __init__(self, path: str, trust_remote_code: bool):
        from ..modeling import load_tokenizer

        self.tokenizer = load_tokenizer(path, trust_remote_code=trust_remote_code)
        if not getattr(self.tokenizer, "is_fast", False):
            raise FigaError(f"--tokenizer {path}: a fast tokenizer is needed (for character offsets)")

    def split(self, text: str) -> tuple[list[str], list[int]]:
        """(the text of each token, with the spaces before the next one; the token ids, as training labels them)."""
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        starts = [0] + [start for start, _ in encoded["offset_mapping"][1:]] + [len(text)]
        return [text[a:b] for a, b in itertools.pairwise(starts)], encoded["input_ids"]


def pairs_for_view(records: list[dict], splitter, alpha: float, beta: float, gamma: float) -> list[dict]:
    settings = LossSettings("figa", alpha, beta, gamma)
    pairs = []
    for record in records:
        original, original_keys = splitter.split(record["original_output"])
        revised, revised_keys = splitter.split(record["revised_output"])
        o_codes, r_codes = edit_codes(original_keys, revised_keys)
        weights = pair_weights(
            {
                "original_ids": original_keys,
                "original_codes": o_codes,
                "revised_ids": revised_keys,
                "revised_codes": r_codes,
            },
            settings,
        )  # the page shows no EOS
        r_weights = weights["revised"].tolist()
        o_weights = weights["original"].tolist() if "original" in weights else [0.0] * len(o_codes)
        pairs.append(
            {
                "id": record["id"],
                "prompt": query_text(record),
                "rewards": record.get("rewards") or {},
                "original": [[t, int(c), w] for t, c, w in zip(original, o_codes, o_weights)],
                "revised": [[t, int(c), w] for t, c, w in zip(revised, r_codes, r_weights)],
            }
        )
    return pairs


def _summary(pairs: list[dict], read: int, skipped: list[str]) -> dict:
    def count(side: str, code: int) -> int:
        return sum(1 for p in pairs for _, c, _ in p[side] if c == code)

    rewards = {}
    for name in ("original", "revised"):
        values = [p["rewards"][name] for p in pairs if isinstance(p["rewards"].get(name), (int, float))]
        if values:
            rewards[name] = sum(values) / len(values)
    return {
        "pairs": len(pairs),
        "read": read,
        "skipped": len(skipped),
        "skipped_examples": skipped[:20],
        "tokens": {
            "original": sum(len(p["original"]) for p in pairs),
            "revised": sum(len(p["revised"]) for p in pairs),
            "added": count("revised", ADD),
            "deleted": count("original", DEL),
            "substituted_revised": count("revised", SUB),
            "substituted_original": count("original", SUB),
        },
        "mean_rewards": rewards,
    }


def _script_json(value) -> str:
    return (
        json.dumps(value, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def build_page(config: ViewConfig) -> dict:
    """Write the page to `config.output`; returns the summary shown on it."""
    if not config.data:
        raise FigaError("give the SPA data file: figa view spa/train.jsonl -o view.html")
    for name in ("alpha", "beta", "gamma"):
        if not 0 <= getattr(config, name) <= MAX_WEIGHT:
            raise FigaError(f"--{name} must be a number from 0 to {MAX_WEIGHT:g}, got {getattr(config, name)}")
    check_outputs({"-o": config.output}, {"--data": config.data, "--tokenizer": config.tokenizer})
    prepare_output_file(config.output, "-o", create_dir=False)
    records, report = load_records(config.data, skip_bad_records=config.skip_bad_records)
    splitter = ModelTokens(config.tokenizer, config.trust_remote_code) if config.tokenizer else WordPieces()
    pairs = pairs_for_view(records, splitter, config.alpha, config.beta, config.gamma)
    summary = _summary(pairs, report.read, report.skipped)
    data = {
        "summary": summary,
        "pairs": pairs,
        "weights": {"alpha": config.alpha, "beta": config.beta, "gamma": config.gamma},
        "tokens": f"tokenizer {os.path.basename(os.path.normpath(config.tokenizer))}"
        if config.tokenizer
        else "word pieces",
    }
    title = config.title or f"figa view: {os.path.basename(config.data)}"
    template = resources.files("figa.view").joinpath("page.html").read_text(encoding="utf-8")
    fills = {"TITLE": html.escape(title), "DATA": _script_json(data)}
    page = re.sub(r"__FIGA_(TITLE|DATA)__", lambda match: fills[match.group(1)], template)
    with atomic_file(config.output) as handle:
        handle.write(page)
    return summary

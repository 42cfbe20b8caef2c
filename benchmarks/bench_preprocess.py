"""Data preparation: tokenising and labelling N pairs with figa's preprocessing (time, pairs/s).

    python benchmarks/bench_preprocess.py --sizes 1000 10000 50000 --json preprocess.json
    python benchmarks/bench_preprocess.py --num_proc 2 --json preprocess_2proc.json
    python benchmarks/bench_preprocess.py --prompt_words 20 --response_words 30 --json preprocess_short.json

Chat-length pairs by default: a 100-word prompt and 200-word responses (one token per word), a fifth of
the words edited.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, print_table, synthetic_pairs, word_tokenizer, write_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--num_proc", type=int, default=None)
    parser.add_argument("--prompt_words", type=int, default=100)
    parser.add_argument("--response_words", type=int, default=200)
    parser.add_argument("--json", default="preprocess.json")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="figa-bench-")  # removed at exit
    os.environ["FIGA_CACHE"] = scratch.name  # measure the work, not a cache hit
    from figa.data import tokenize_pairs
    from figa.records import normalize_record

    tokenizer = word_tokenizer()
    rows = []
    for size in args.sizes:
        records = [normalize_record(r) for r in synthetic_pairs(size, args.prompt_words, args.response_words)]
        start = time.perf_counter()
        data, _ = tokenize_pairs(records, tokenizer, prompt_format="plain", max_length=1024, num_proc=args.num_proc)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "pairs": size,
                "seconds": seconds,
                "pairs_per_s": size / seconds,
                "response_tokens_per_pair": (sum(map(len, data[:100]["revised_ids"])) / min(100, size)),
            }
        )
    print_table(rows, ["pairs", "seconds", "pairs_per_s", "response_tokens_per_pair"])
    write_json(args.json, {"machine": machine(), "settings": vars(args), "rows": rows})


if __name__ == "__main__":
    main()

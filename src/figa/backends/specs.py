"""Back-end specs: `hf:MODEL`, `openai:MODEL`, `python:module:function`, `vllm:MODEL`, `reference-edit`."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

from ..errors import FigaError


def split_spec(spec: str, kinds: tuple[str, ...], what: str) -> tuple[str, str]:
    kind, _, rest = spec.partition(":")
    if kind not in kinds or (not rest and kind != "reference-edit"):
        raise FigaError(
            f"--{what} {spec!r}: expected one of "
            + ", ".join(k if k == "reference-edit" else f"{k}:..." for k in kinds)
        )
    return kind, rest


def load_callable(target: str, what: str) -> Callable:
    """Import `module:function`. The current directory is importable, but after the installed packages: a file in
    it named like one of them (`openai.py`) cannot replace the real package."""
    module_name, _, function = target.partition(":")
    if not module_name or not function:
        raise FigaError(f"--{what} python:{target}: expected python:module:function")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise FigaError(f"--{what} python:{target}: cannot import {module_name!r}: {error}") from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise FigaError(f"--{what} python:{target}: {module_name} has no callable {function!r}")
    return fn

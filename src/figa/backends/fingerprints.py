"""What a saved stage's key holds beyond a back end's spec text, so that an edited reward or reviser is computed anew
instead of read back from an earlier run: for `python:module:function`, the source of the module and of every
module of its own top-level package that it imports, directly or through them (read from the import statements, so
the key does not depend on what else happened to be imported first; code it reaches in other packages is not
covered). Any other spec is its text. (A local model directory's version is `figa.modeling.model_version`.)
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util

from .specs import load_callable


def spec_key(spec: str | None, what: str = "reward") -> str | None:
    """The spec with a fingerprint of what it computes from, for a stage key."""
    if not spec:
        return spec
    kind, _, rest = spec.partition(":")
    if kind == "python":
        load_callable(rest, what)  # imports it as the back end will (the current directory on the path)
        return f"{spec}@{source_fingerprint(rest.partition(':')[0])}"
    return spec


def source_fingerprint(module: str) -> str:
    top = module.partition(".")[0]
    sources: dict[str, bytes] = {}
    todo, seen = [module], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path, package = _locate(name)
        if path is None:
            continue
        with open(path, "rb") as handle:
            sources[name] = handle.read()
        todo += [m for m in _imports(sources[name], package) if m == top or m.startswith(top + ".")]
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + sources[name] + b"\0")
    return digest.hexdigest()[:12]


def _locate(name: str) -> tuple[str | None, str]:
    """A module's source file (None when it is not a module with Python source) and the package its relative
    imports start from."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # `from pkg.module import function`: pkg.module.function is no module
        return None, ""
    if spec is None or not (spec.origin or "").endswith(".py"):
        return None, ""
    return spec.origin, name if spec.submodule_search_locations is not None else name.rpartition(".")[0]


def _imports(source: bytes, package: str) -> list[str]:
    """The modules a source imports: for `from X import a`, X and X.a (a may be a module)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                try:
                    base = importlib.util.resolve_name("." * node.level + base, package)
                except (ImportError, ValueError):
                    continue
            found += [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return found

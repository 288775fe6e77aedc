"""Stable task keys: config, dependency keys, manifest fingerprints, code version, library versions."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from serlib import paths

from .task import _canonical, _fn_name

ENGINE_VERSION = 1
"""Storage format of a task folder; part of every key."""

CODE_EXCLUDED = frozenset({
    "serlib.plots", "serlib.results", "serlib.run", "serlib.progress", "serlib.paths", "serlib.experiment",
})
"""serlib modules (and packages, with their submodules) whose source is not part of a task's code
version: plotting, reporting, the runner, progress lines, paths and this engine do not change a fit."""

KEY_PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "pandas", "opensmile")
"""Packages whose installed version is part of every key."""


def _data_relative(path: str, data: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(data))
    except (ValueError, OSError):
        return path


def manifest_fingerprint(manifest: pd.DataFrame) -> str:
    """Hash of every column (sorted by name) of every row in order; the index is ignored and ``path``
    is taken relative to the data folder (moving ``SERLIB_DATA`` keeps the fingerprint)."""
    if not isinstance(manifest, pd.DataFrame):
        raise TypeError(f"a manifest must be a pandas DataFrame, got {type(manifest).__name__}")
    h = hashlib.sha256(f"rows={len(manifest)}".encode())
    for col in sorted(manifest.columns, key=str):
        values = manifest[col].astype(object)
        if col == "path":
            data = paths.data_dir()
            values = values.map(lambda p: _data_relative(p, data) if isinstance(p, str) else p)
        text = ["\x00NA" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(v)
                if isinstance(v, float) else str(v) for v in values]
        h.update(f"\x01{col}\x02".encode())
        h.update("\x03".join(text).encode())
    return h.hexdigest()


def excluded(module: str) -> bool:
    """Whether ``module`` is in :data:`CODE_EXCLUDED` or inside a package listed there."""
    return any(module == e or module.startswith(e + ".") for e in CODE_EXCLUDED)


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    origin = getattr(spec, "origin", None) if spec else None
    return Path(origin) if origin and origin.endswith(".py") else None


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    out = set()
    for name in found:  # importing a.b.c runs a/__init__ and a/b/__init__ too
        parts = name.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return out


def code_modules(fn: str) -> dict[str, str]:
    """``{module: sha256 of its source}`` of the task function's module and the serlib (and own
    top-level package's) modules it imports, transitively, minus :data:`CODE_EXCLUDED`."""
    start = _fn_name(fn).split(":")[0]
    roots = {"serlib", start.split(".")[0]}
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or (excluded(name) and name != start):
            continue
        file = _module_file(name)
        if file is None:
            if name == start:
                raise ImportError(f"task module {start!r} cannot be found on sys.path")
            continue
        source = file.read_bytes()
        seen[name] = hashlib.sha256(source).hexdigest()
        tree = ast.parse(source, filename=str(file))
        todo.extend(m for m in _imports(tree, name, file.name == "__init__.py") if m.split(".")[0] in roots)
    return dict(sorted(seen.items()))


def _env_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from serlib import profiles

    # a dry run's fits (2 batches an epoch, serlib.profiles.is_dry) must never be reused by a real run
    out = {"python": f"{sys.version_info.major}.{sys.version_info.minor}", "dry": profiles.is_dry()}
    for pkg in KEY_PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def _digest(material: Any) -> str:
    return hashlib.sha256(_canonical(material, "key").encode()).hexdigest()[:24]

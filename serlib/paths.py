"""Where the repository keeps generated data, caches, results and figures.

Every location can be moved with an environment variable so that tests and
users with a big scratch disk can redirect it:

- ``SERLIB_DATA``     generated corpora, noise banks, feature caches (default ``<repo>/data``)
- ``SERLIB_RESULTS``  tidy CSV/JSON results (default ``<repo>/results``)
- ``SERLIB_FIGURES``  figures (default ``<repo>/figures``)
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _dir(env: str, default: Path) -> Path:
    path = Path(os.environ.get(env) or default).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir(*parts: str) -> Path:
    """Folder for generated data and caches (created on demand)."""
    return _dir("SERLIB_DATA", REPO / "data").joinpath(*parts)


def results_dir() -> Path:
    """Folder for tidy results (created on demand)."""
    return _dir("SERLIB_RESULTS", REPO / "results")


def figures_dir() -> Path:
    """Folder for figures (created on demand)."""
    return _dir("SERLIB_FIGURES", REPO / "figures")


def shared_data_dir() -> Path | None:
    """The team's small real-audio folder ``../shared/data`` if present, else None."""
    for cand in (os.environ.get("SERLIB_SHARED_DATA"), REPO.parent / "shared" / "data"):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None

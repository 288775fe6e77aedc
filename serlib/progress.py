"""One progress line for long work, wherever it runs.

Every long loop in serlib (corpus generation, feature extraction, enhancement, training, the
experiment engine) reports through :func:`bar`, so that how progress looks is decided in one
place. ``bar`` takes the arguments of ``tqdm`` and returns a tqdm-like object.

(Stub: a thin wrapper of ``tqdm.auto``; headless runs are made quieter by issue 16.)
"""

from __future__ import annotations

from typing import Any

__all__ = ["bar"]


def bar(iterable: Any = None, **kwargs: Any):
    """A progress bar over ``iterable`` (or ``total=``), with tqdm's keyword arguments."""
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)

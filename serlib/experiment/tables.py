"""Task outputs as tables: predictions or histories of a grid, and metric rows for ``Results``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .task import TaskOutput


def stack(outputs: Sequence[TaskOutput | None], part: str = "predictions",
          config: Sequence[str] | None = None) -> pd.DataFrame:
    """One table of ``part`` (``"predictions"`` or ``"history"``) of every output, with the config
    values named in ``config`` (None = every scalar config value) and ``key`` as leading columns."""
    if part not in ("predictions", "history"):
        raise ValueError(f"part must be 'predictions' or 'history', got {part!r}")
    frames = []
    for out in outputs:
        frame = getattr(out, part, None) if out is not None else None
        if frame is None:
            continue
        cfg = out.config or {}
        names = [k for k, v in cfg.items() if not isinstance(v, (list, dict))] if config is None else list(config)
        lead = {"key": out.key} | {n: cfg.get(n) for n in names}
        clash = [n for n in lead if n in frame.columns]
        if clash:
            raise ValueError(f"config column(s) {clash} clash with {part} columns of task {out.key}")
        frames.append(frame.assign(**lead)[list(lead) + list(frame.columns)])
    if not frames:
        raise ValueError(f"no task output has {part}")
    return pd.concat(frames, ignore_index=True)


def scores(preds: pd.DataFrame, by: Sequence[str], metrics: Sequence[str] = ("uar",)) -> pd.DataFrame:
    """Tidy ``metric`` / ``value`` rows of ``metrics`` (names in :data:`serlib.metrics.METRICS`)
    computed from ``y_true``/``y_pred`` of each group of ``by`` (None values form groups too)."""
    from serlib import metrics as m

    rows = []
    for group, g in preds.groupby(list(by), dropna=False, sort=False):
        where = dict(zip(by, group if isinstance(group, tuple) else (group,)))
        for name in metrics:
            rows.append(where | {"metric": name, "value": m.get(name)(g["y_true"].tolist(), g["y_pred"].tolist()),
                                 "n": len(g)})
    return pd.DataFrame(rows)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of Python scalars with NaN as None (ready for ``Results.add(**row)``)."""
    out = []
    for row in frame.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else v.item() if isinstance(v, np.generic)
                        else v) for k, v in row.items()})
    return out

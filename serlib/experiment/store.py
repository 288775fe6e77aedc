"""The task store: one folder per key, written atomically (temp folder + rename)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .task import PREDICTION_COLUMNS, TaskOutput, _canonical


def _write_output(out: TaskOutput, record: dict, root: Path, key: str) -> Path:
    """Write ``out`` to ``root/<key>`` atomically (temp folder + rename); an existing folder wins."""
    final = root / key
    tmp = root / f".tmp-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        files = []
        if out.predictions is not None:
            out.predictions.reset_index(drop=True).to_parquet(tmp / "predictions.parquet")
            files.append("predictions.parquet")
        if out.history is not None:
            out.history.reset_index(drop=True).to_parquet(tmp / "history.parquet")
            files.append("history.parquet")
        arrays = {k: np.asarray(v) for k, v in out.extra.items() if not isinstance(v, pd.DataFrame)}
        if arrays:
            np.savez(tmp / "extra.npz", **arrays)
            files.append("extra.npz")
        for name, frame in out.extra.items():
            if isinstance(frame, pd.DataFrame):
                frame.to_parquet(tmp / f"extra_{name}.parquet")
                files.append(f"extra_{name}.parquet")
        if out.weights is not None:
            import torch

            torch.save(out.weights, tmp / "weights.pt")
            files.append("weights.pt")
        doc = dict(record, meta=out.meta, files=files)
        (tmp / "task.json").write_text(json.dumps(doc, indent=1, sort_keys=True, default=_json_default))
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "task.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (np.ndarray, Path)):
        return v.tolist() if isinstance(v, np.ndarray) else str(v)
    raise TypeError(f"TaskOutput.meta value {v!r:.60} is not JSON-able")


def _load_output(path: Path) -> TaskOutput:
    doc = json.loads((path / "task.json").read_text())
    files = set(doc.get("files", []))
    extra: dict[str, Any] = {}
    if "extra.npz" in files:
        with np.load(path / "extra.npz", allow_pickle=False) as npz:
            extra.update({k: npz[k] for k in npz.files})
    for f in sorted(files):
        if f.startswith("extra_"):
            extra[f[len("extra_"):-len(".parquet")]] = pd.read_parquet(path / f)
    read = lambda f: pd.read_parquet(path / f) if f in files else None  # noqa: E731
    return TaskOutput(predictions=read("predictions.parquet"), history=read("history.parquet"),
                      meta=doc.get("meta", {}), extra=extra, key=doc["key"], fn=doc["fn"], config=doc["config"],
                      record=doc.get("run", {}), path=path)


def _check_output(out: Any, fn: str) -> TaskOutput:
    if not isinstance(out, TaskOutput):
        raise TypeError(f"task function {fn} returned {type(out).__name__}; it must return a TaskOutput")
    if out.predictions is not None:
        if not isinstance(out.predictions, pd.DataFrame):
            raise TypeError(f"{fn}: TaskOutput.predictions must be a DataFrame")
        missing = [c for c in PREDICTION_COLUMNS if c not in out.predictions.columns]
        if missing:
            raise ValueError(f"{fn}: TaskOutput.predictions lacks column(s) {missing}; it needs one row per utterance "
                             f"and condition with {list(PREDICTION_COLUMNS)} (+ condition and posterior columns)")
    if out.history is not None and not isinstance(out.history, pd.DataFrame):
        raise TypeError(f"{fn}: TaskOutput.history must be a DataFrame")
    for name, value in out.extra.items():
        if not (isinstance(name, str) and name.isidentifier()):
            raise ValueError(f"{fn}: TaskOutput.extra name {name!r} must be an identifier (it names a file)")
        if not isinstance(value, pd.DataFrame) and np.asarray(value).dtype == object:
            raise TypeError(f"{fn}: TaskOutput.extra[{name!r}] must be a numeric/string array or a DataFrame, "
                            "not Python objects")
    _canonical(out.meta, f"{fn}: TaskOutput.meta", allow_nan=True)
    return out


def _clean_stale(store: Path) -> None:
    """Remove temp folders of this host's dead processes (a run killed mid-write)."""
    host = socket.gethostname()
    for tmp in store.glob(".tmp-*"):
        rest = tmp.name[len(".tmp-"):]
        try:
            tmp_host, pid = rest.rsplit("-", 2)[0], int(rest.rsplit("-", 2)[1])
        except (IndexError, ValueError):
            continue
        if tmp_host == host and not _pid_alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

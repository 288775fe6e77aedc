"""Tasks as plain data, what a task function returns and gets, and failures."""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

PREDICTION_COLUMNS = ("utt_id", "y_true", "y_pred")
"""Columns every ``TaskOutput.predictions`` table has."""


def _canonical(value: Any, where: str, *, allow_nan: bool = False) -> str:
    """Canonical JSON (sorted keys, numpy scalars as Python numbers); a clear error otherwise."""
    def default(v: Any) -> Any:
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, (set, frozenset)):
            return sorted(v)
        if isinstance(v, Path):
            return str(v)
        raise TypeError(f"{where}: {type(v).__name__} value {v!r:.60} is not JSON-able; use str/int/float/bool/"
                        "None/list/dict (name a condition by its settings, not by the object)")
    try:
        return json.dumps(value, sort_keys=True, default=default, allow_nan=allow_nan, separators=(",", ":"))
    except ValueError as exc:  # NaN / inf
        raise ValueError(f"{where}: {exc}; use None for a missing value") from None


def _fn_name(fn: str | Callable) -> str:
    if callable(fn):
        module, qual = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
        if not module or module == "__main__" or "<" in qual or "." in qual:
            raise ValueError(f"task function {fn!r} is not importable by name; define it at the top level of a "
                             "module (e.g. serlib.models.<paper>), not in a notebook or inside a function")
        return f"{module}:{qual}"
    if not isinstance(fn, str) or not fn:
        raise TypeError(f"task function must be a dotted name 'package.module:function', got {fn!r}")
    module, sep, name = fn.partition(":") if ":" in fn else fn.rpartition(".")
    if not module or not name or not sep:
        raise ValueError(f"task function {fn!r} must look like 'serlib.models.trnet:run_task'")
    if module == "__main__":
        raise ValueError(f"task function {fn!r} lives in __main__, which worker processes cannot import; "
                         "move it into a module")
    return f"{module}:{name}"


def _resolve(fn: str) -> Callable:
    module, name = fn.split(":")
    try:
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ImportError(f"task function {fn!r} cannot be imported ({exc})") from exc
    return obj


@dataclass(eq=False)
class Task:
    """One fit: a task function (``"module:function"`` or a module-level function), its JSON-able
    ``config``, dependencies ``{name: Task}`` whose outputs the function receives in ``ctx.deps``,
    and the names of the experiment's manifests it reads (None = all of them)."""

    fn: str | Callable
    config: Mapping[str, Any] = field(default_factory=dict)
    deps: Mapping[str, "Task"] = field(default_factory=dict)
    manifests: Sequence[str] | None = None

    def __post_init__(self) -> None:
        self.fn = _fn_name(self.fn)
        if not isinstance(self.config, Mapping):
            raise TypeError(f"task {self.fn}: config must be a dict, got {type(self.config).__name__}")
        self.config = json.loads(_canonical(dict(self.config), f"task {self.fn} config"))
        for name, dep in self.deps.items():
            if not isinstance(dep, Task):
                raise TypeError(f"task {self.fn}: dependency {name!r} must be a Task, got {type(dep).__name__}")
        self.deps = dict(self.deps)
        if self.manifests is not None:
            self.manifests = tuple([self.manifests] if isinstance(self.manifests, str) else self.manifests)

    def summary(self, width: int = 100) -> str:
        """``function(k=v, ...)`` with the scalar config values, shortened to ``width`` characters."""
        items = ", ".join(f"{k}={v}" for k, v in self.config.items() if not isinstance(v, (list, dict)))
        text = f"{self.fn.split(':')[1]}({items})"
        return text if len(text) <= width else text[: width - 3] + "..."


@dataclass
class TaskOutput:
    """What a task function returns, and what the engine gives back (then also key, config, record).

    - ``predictions``: one row per utterance and test condition: ``utt_id``, condition columns
      (``test_condition``, ``snr``, ...), ``y_true``, ``y_pred`` and any posterior/score columns.
    - ``history``: the training history (e.g. ``FitResult.history``; a ``stage`` column for several).
    - ``meta``: JSON-able facts (best epoch, parameters, selected hyperparameters, ...).
    - ``extra``: named NumPy arrays or DataFrames (embeddings, TRNet's c values, ...).
    - ``weights``: a ``state_dict`` for dependent tasks (saved as ``weights.pt``); outputs read back
      from disk hold None here: call :meth:`load_weights`.
    """

    predictions: pd.DataFrame | None = None
    history: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Any] | None = None
    key: str | None = None
    fn: str | None = None
    config: dict[str, Any] | None = None
    record: dict[str, Any] = field(default_factory=dict)
    """Filled by the engine: seconds, device, host, pid, started, threads, code modules."""
    cached: bool = False
    """True when the output came from an earlier run (not computed by this :meth:`Experiment.run`)."""
    path: Path | None = None

    def load_weights(self, map_location: str = "cpu") -> dict[str, Any] | None:
        """The stored ``state_dict`` (None when the task saved none)."""
        if self.weights is not None:
            return self.weights
        if self.path is None or not (self.path / "weights.pt").is_file():
            return None
        import torch

        return torch.load(self.path / "weights.pt", map_location=map_location, weights_only=True)


@dataclass
class Context:
    """What a task function gets besides its config."""

    key: str
    manifests: dict[str, pd.DataFrame]
    deps: dict[str, TaskOutput]
    device: str
    threads: int

    @property
    def manifest(self) -> pd.DataFrame:
        """The manifest when the task reads exactly one (else pick one from ``manifests``)."""
        if len(self.manifests) != 1:
            raise KeyError(f"this task reads {len(self.manifests)} manifests ({sorted(self.manifests)}); "
                           "use ctx.manifests[name]")
        return next(iter(self.manifests.values()))


@dataclass
class Failure:
    """A task that failed: its key, the task and the formatted traceback."""

    key: str
    task: Task
    traceback: str

    @property
    def last_line(self) -> str:
        lines = [ln for ln in self.traceback.strip().splitlines() if ln.strip()]
        return lines[-1].strip() if lines else "?"


class ExperimentError(RuntimeError):
    """Raised at the end of :meth:`Experiment.run` when tasks failed; ``failures`` lists them and
    ``outputs`` holds the other tasks' outputs (None where failed), in task order."""

    def __init__(self, notebook: str, failures: list[Failure], outputs: list[TaskOutput | None]):
        self.failures, self.outputs = failures, outputs
        lines = [f"{notebook}: {len(failures)} task(s) failed ({len(outputs)} requested; the others are stored):"]
        lines += [f"  {f.key}  {f.task.summary(80)}: {f.last_line}" for f in failures]
        super().__init__("\n".join(lines))

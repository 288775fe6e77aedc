"""Tidy results, run metadata, and our numbers beside the papers' own.

Recording a run::

    res = Results("03_trnet", cfg.profile, data=cfg)        # data: the corpus/noise settings used
    with res.timer("training"):
        ...
    res.add("TRNet", "uar", 0.573, seed=0, train_condition="clean+noisy",
            test_condition="noisy", noise_type="babble", snr=5)
    res.save()        # results/03_trnet.csv (+ results/03_trnet.json with the run metadata)

Units (one convention, everywhere in ``results/``)
-------------------------------------------------
Our results store every metric as a plain number on its natural scale: proportions (UAR,
WAR/accuracy, F1, WER) as **fractions** (0.573, not 57.3; a WER of 0.15 is 15 %), CCC as is,
dB quantities in dB. :meth:`Results.add` refuses a proportion above 1 (except WER, which
can exceed 1) because that is almost always a percentage typed by mistake.

The papers' numbers live in ``serlib/reference/<paper>.yaml`` exactly as printed, with the
unit of every metric declared in the file (``"%"``, ``"1"`` or ``"dB"``). :func:`compare`
converts ours into the paper's unit for display (``x100`` for ``"%"``) so that ours, the
paper's and the delta (ours - paper) are read in the paper's unit.

The reference files, their schema and the claims in them: :mod:`serlib.papers` (re-exported
here: :func:`papers`, :func:`reference`, :func:`load_reference`, :func:`claims`). A paper row
with ``snr: avg`` is matched by :func:`compare` with our per-seed mean over the table's SNRs.
The claims ledger (paired statistics) is :mod:`serlib.ledger`; the README block and
``results/summary.md`` are rendered by :mod:`serlib.report`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import platform
import re
import subprocess
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serlib import paths
from serlib.audio import atomic_write
from serlib.papers import (  # noqa: F401  (re-exported: the tidy-results API reads the papers' files too)
    KEY_COLUMNS,
    LOWER_IS_BETTER,
    METRIC_ALIASES,
    PROPORTION_METRICS,
    UNBOUNDED_PROPORTIONS,
    _EXTRA_NAME,
    _higher_is_better,
    _is_missing,
    _key,
    _load_doc,
    _metric_key,
    _paper_id,
    _select,
    claims,
    load_reference,
    papers,
    percent_metric,
    reference,
)

__all__ = [
    "COLUMNS",
    "Results",
    "STAGES",
    "read",
    "read_metadata",
    "summarize",
    "as_runs",
    "papers",
    "reference",
    "load_reference",
    "compare",
    "format_comparison",
    "claims",
    "collect",
    "runs",
    "percent_metric",
    "estimate_text",
    "SUMMARY_COLUMNS",
    "CLAIM_FIELDS",
]

COLUMNS = ("notebook", "method", "train_condition", "test_condition", "noise_type", "snr", "seed", "metric", "value")
"""The tidy columns of every ``results/<notebook>.csv`` (extras such as ``attribute`` or ``fold`` follow)."""

PACKAGES = ("torch", "torchaudio", "opensmile", "scikit-learn", "numpy", "pandas", "speechbrain")
"""Packages whose versions go into every run's metadata."""

EMBEDDED_CORPORA = frozenset({"synthetic", "synthetic_xcorpus"})

CLAIM_FIELDS = ("paper", "claim", "text", "status", "n", "effect", "ci_low", "ci_high", "p", "test", "unit", "evidence")
"""The fields of every claims-ledger record (:mod:`serlib.ledger`), saved by :meth:`Results.set_claims`."""
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# --------------------------------------------------------------------------- small helpers
def _readable(path: Path) -> Path:
    """Give a file written by ``atomic_write`` (a 0600 temp file) the usual permissions (0666 & ~umask)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)
    return path


def _jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None  # JSON has no NaN (e.g. a ledger row without a paper)
    if isinstance(v, Path):
        return str(v)
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


# --------------------------------------------------------------------------- run metadata
OUTPUT_PATHS = ("results", "runs", "figures", "README.md")
"""Tracked paths that runs write (results, executed notebooks, figures, the README's generated block).
They are left out of the dirty flag: in a full run, notebook 02 starts after 01 has rewritten
``results/01_*.csv``, and that must not mark 02's code as unknown. Any other change makes it dirty."""


def _git_commit() -> tuple[str, bool | None]:
    """(commit hash or "unknown", dirty flag or None), read-only git calls.

    dirty: tracked files differ from the commit, outside :data:`OUTPUT_PATHS` (what produced the
    numbers is then not the commit's code)."""
    try:
        out = subprocess.run(["git", "-C", str(paths.REPO), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if out.returncode != 0:
            return "unknown", None
        commit = out.stdout.strip()
        st = subprocess.run(["git", "--no-optional-locks", "-C", str(paths.REPO), "status", "--porcelain",
                             "--untracked-files=no", "--", ".", *(f":(exclude){p}" for p in OUTPUT_PATHS)],
                            capture_output=True, text=True, timeout=10)
        dirty = bool(st.stdout.strip()) if st.returncode == 0 else None
        return commit or "unknown", dirty
    except (OSError, subprocess.SubprocessError):
        return "unknown", None


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = _metadata.version(name)
        except _metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _device() -> str:
    """Name of the CUDA device torch would use, else "cpu" (torch missing counts as cpu)."""
    try:
        import torch
    except ImportError:
        return "cpu"
    try:
        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # a broken driver must not break saving results
        return "cpu"
    return "cpu"


def _describe_data(data: Any) -> dict[str, Any]:
    """Normalise the ``data`` argument of :class:`Results` to a dict with a readable ``label``.

    Accepts ``None`` (the embedded ``synthetic`` corpus, the default of every notebook), a corpus
    name, a mapping such as a resolved profile (keys ``corpus``, ``corpus_root``, ``xcorpus``,
    ``xcorpus_root``, ``noise``, ``noise_root``, ``corpus_size`` are kept), or a manifest
    DataFrame (its ``corpus`` column and the common folder of its paths).
    """
    if data is None:
        info: dict[str, Any] = {"corpus": "synthetic", "corpus_root": None}
    elif isinstance(data, str):
        info = {"corpus": data, "corpus_root": None}
    elif isinstance(data, pd.DataFrame):
        if "corpus" not in data.columns:
            raise ValueError("Results(data=<DataFrame>): a manifest needs a 'corpus' column")
        corpora = sorted({str(c) for c in data["corpus"].dropna().unique()})
        root = None
        if "path" in data.columns and len(data):
            try:
                root = os.path.commonpath([str(p) for p in data["path"].dropna()])
            except ValueError:
                root = None
        info = {"corpus": "+".join(corpora) or "unknown", "corpus_root": root, "n_utterances": int(len(data))}
    elif isinstance(data, Mapping):
        keep = ("corpus", "corpus_root", "corpus_size", "xcorpus", "xcorpus_root", "noise", "noise_root")
        info = {k: _jsonable(data[k]) for k in keep if k in data}
        info.update({k: _jsonable(v) for k, v in data.items() if k not in keep and k in ("label", "kind")})
        if "corpus" not in info:
            raise ValueError(f"Results(data=...): the mapping has no 'corpus' key (keys: {sorted(data)[:12]})")
    else:
        raise TypeError(f"Results(data=...) takes None, a corpus name, a dict/profile or a manifest, got {type(data)}")

    def kind(name: Any) -> str:
        return "embedded" if str(name) in EMBEDDED_CORPORA or str(name).startswith("synthetic") else "real"

    info.setdefault("kind", kind(info["corpus"]))
    if "label" not in info:
        label = f"{info['corpus']} ({info['kind']})"
        if info.get("xcorpus"):
            label += f" -> {info['xcorpus']} ({kind(info['xcorpus'])})"
        if info.get("noise"):
            label += f", noise: {info['noise']}"
        info["label"] = label
    return info


STAGES = {
    "data": "loading the corpus, noise and manifests (generation of the embedded data is timed by the runner)",
    "features": "feature extraction (and reading the feature cache)",
    "enhancement": "speech enhancement of the inputs (rendering enhanced audio)",
    "training": "the fits: training every model and scoring its test sets inside the same task",
    "evaluation": "scoring tables, statistics, the claims ledger, figures and saving",
}
"""The stages a notebook's time is split into (:meth:`Results.timer`); what the notebook does not time
(kernel start, imports, display) is counted as ``evaluation`` in ``results/benchmarks/reproduce.json``."""


# --------------------------------------------------------------------------- Results
class Results:
    """Collects tidy result rows of one notebook run and writes them with the run's metadata.

    ``Results(notebook, profile, data=...)``; :meth:`add` one number per (method, condition,
    seed, metric); :meth:`timer` records durations; :meth:`save` writes
    ``results/<notebook>.csv`` and ``results/<notebook>.json``. See the module docstring for
    the unit convention (fractions, not %).
    """

    def __init__(self, notebook: str, profile: str, *, data: Any = None):
        notebook = str(notebook).removesuffix(".ipynb")
        if not _SAFE_NAME.match(notebook):
            raise ValueError(f"notebook name {notebook!r} must be a plain file name such as '03_trnet'")
        self.notebook = notebook
        self.profile = str(profile)
        self.data = _describe_data(data)
        self.durations: dict[str, float] = {}
        self.meta: dict[str, Any] = {}
        self._rows: list[dict[str, Any]] = []
        self._extras: list[str] = []
        self._started = time.perf_counter()
        self._created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"Results({self.notebook!r}, profile={self.profile!r}, rows={len(self)}, data={self.data['label']!r})"

    # ---------------------------------------------------------------- adding rows
    def add(
        self,
        method: str,
        metric: str,
        value: float,
        *,
        seed: int,
        train_condition: str = "clean",
        test_condition: str = "clean",
        noise_type: str | None = None,
        snr: float | None = None,
        **extra: Any,
    ) -> None:
        """Record one number. ``value`` is a fraction for proportions (see module docstring).

        ``extra`` adds columns (e.g. ``attribute="arousal"``, ``fold=3``); values must be scalars.
        """
        where = f"{self.notebook}: add({method!r}, {metric!r}, ...)"
        if not isinstance(method, str) or not method.strip():
            raise ValueError(f"{where}: method must be a non-empty string")
        if not isinstance(metric, str) or not metric.strip():
            raise ValueError(f"{where}: metric must be a non-empty string such as 'uar'")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"{where}: seed must be an int, got {seed!r}")
        try:
            val = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{where}: value must be a number, got {value!r}") from None
        if not math.isfinite(val):
            raise ValueError(f"{where}: value is {val}; a NaN/inf metric means a failed run - fix it, do not record it")
        key = _metric_key(metric)
        if key in PROPORTION_METRICS and not 0.0 <= val <= 1.0:
            raise ValueError(f"{where}: {metric} = {val} is outside [0, 1]; results store proportions as "
                             f"fractions (write {val / 100:g}, not {val:g})" if val > 1 else
                             f"{where}: {metric} = {val} is outside [0, 1]")
        if key in UNBOUNDED_PROPORTIONS and val < 0:
            raise ValueError(f"{where}: {metric} = {val} is negative")
        if key == "ccc" and not -1.0 <= val <= 1.0:
            raise ValueError(f"{where}: ccc = {val} is outside [-1, 1]")
        if snr is not None:
            numeric = isinstance(snr, (int, float, np.integer, np.floating)) and not isinstance(snr, bool)
            if not numeric or not math.isfinite(snr):
                raise TypeError(f"{where}: snr must be a finite number of dB or None (clean), got {snr!r}")
            snr = float(snr)
        if noise_type is not None and not isinstance(noise_type, str):
            raise TypeError(f"{where}: noise_type must be a string or None, got {noise_type!r}")
        for name, cond in (("train_condition", train_condition), ("test_condition", test_condition)):
            if not isinstance(cond, str) or not cond:
                raise TypeError(f"{where}: {name} must be a non-empty string, got {cond!r}")
        for name, v in extra.items():
            if name in COLUMNS or name == "data":
                raise ValueError(f"{where}: extra column {name!r} clashes with a standard column")
            if not _EXTRA_NAME.match(name):
                raise ValueError(f"{where}: extra column name {name!r} must be an identifier")
            if not (v is None or isinstance(v, (str, int, float, bool, np.integer, np.floating, np.bool_))):
                raise TypeError(f"{where}: extra column {name}={v!r} must be a scalar (str, number, bool, None)")
            if name not in self._extras:
                self._extras.append(name)
        row = {"notebook": self.notebook, "method": method, "train_condition": train_condition,
               "test_condition": test_condition, "noise_type": noise_type, "snr": snr, "seed": int(seed),
               "metric": metric, "value": val}
        row.update({k: _jsonable(v) for k, v in extra.items()})
        self._rows.append(row)

    def add_metrics(self, method: str, values: Mapping[str, float], *, seed: int, **conditions: Any) -> None:
        """:meth:`add` every ``metric -> value`` of ``values`` with the same method, seed and conditions."""
        if not values:
            raise ValueError(f"{self.notebook}: add_metrics({method!r}) got no metrics")
        for metric, value in values.items():
            self.add(method, metric, value, seed=seed, **conditions)

    @contextlib.contextmanager
    def timer(self, stage: str) -> Iterator[None]:
        """Context manager adding the seconds spent inside it to ``durations[stage]``.

        ``stage`` is one of :data:`STAGES` (data, features, enhancement, training, evaluation), so that
        every notebook's time splits the same way in ``results/benchmarks/reproduce.json``; a stage timed
        twice adds up."""
        if stage not in STAGES:
            raise ValueError(f"{self.notebook}: timer({stage!r}): the stage must be one of {list(STAGES)} "
                             "(serlib.results.STAGES says what each one counts)")
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.durations[stage] = self.durations.get(stage, 0.0) + (time.perf_counter() - t0)

    def note_fits(self, n: int, best_before_last: float | None = None) -> None:
        """Record how many models this run fitted (``fits``) and the share of them whose best
        validation epoch came before their last (``best_epoch_before_last``: they had stopped improving,
        not run out of epochs; None where the models have no epochs, e.g. forests)."""
        if int(n) < 0 or (best_before_last is not None and not 0 <= float(best_before_last) <= 1):
            raise ValueError(f"{self.notebook}: note_fits({n!r}, {best_before_last!r}): a count >= 0 and a share "
                             "in [0, 1]")
        self.meta["fits"] = int(n)
        self.meta["best_epoch_before_last"] = None if best_before_last is None else float(best_before_last)

    def note(self, **meta: Any) -> None:
        """Add free-form run metadata (e.g. ``device="cuda:0"``, ``params=cfg``) to the JSON file."""
        self.meta.update({k: _jsonable(v) for k, v in meta.items()})

    # ---------------------------------------------------------------- output
    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame: :data:`COLUMNS`, then the extra columns, then ``data``."""
        cols = list(COLUMNS) + self._extras + ["data"]
        df = pd.DataFrame([{**r, "data": self.data["label"]} for r in self._rows], columns=cols)
        return _coerce(df)

    def metadata(self) -> dict[str, Any]:
        """The run metadata written next to the CSV (profile, seeds, device, durations, versions, data)."""
        commit, dirty = _git_commit()
        seeds = sorted({r["seed"] for r in self._rows})
        meta = {
            "notebook": self.notebook,
            "profile": self.profile,
            "created_utc": self._created,
            "seeds": seeds,
            "n_rows": len(self._rows),
            "metrics": sorted({r["metric"] for r in self._rows}),
            "methods": sorted({r["method"] for r in self._rows}),
            "device": self.meta.get("device") or _device(),
            **__import__("serlib.training", fromlist=["run_flags"]).run_flags(),  # dry run?, deterministic kernels?
            "cpu_kernels": __import__("serlib.cpu", fromlist=["capability"]).capability(),  # AVX2 unless native
            "durations_s": {k: round(v, 3) for k, v in self.durations.items()},
            "wall_time_s": round(time.perf_counter() - self._started, 3),
            "git_commit": commit,
            "git_dirty": dirty,
            "packages": _package_versions(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "data": self.data,
            "units": "proportions (uar, war, accuracy, f1, wer) as fractions; ccc as is; dB in dB",
        }
        meta.update({k: v for k, v in self.meta.items() if k not in meta or k == "device"})
        return meta

    def set_claims(self, ledger_df: pd.DataFrame) -> None:
        """Keep this run's claims ledger (records of :mod:`serlib.ledger`); :meth:`save` writes it into the JSON.

        Every record needs the fields :data:`CLAIM_FIELDS` (status, n, effect, interval, p, test,
        unit, evidence). The cross-paper ledger (:func:`serlib.ledger.claims_table`) reads it back
        from every results JSON.
        """
        if not isinstance(ledger_df, pd.DataFrame) or not set(CLAIM_FIELDS) <= set(ledger_df.columns):
            have = list(ledger_df.columns) if isinstance(ledger_df, pd.DataFrame) else type(ledger_df).__name__
            raise ValueError(f"{self.notebook}: set_claims() needs a ledger DataFrame with the fields {list(CLAIM_FIELDS)} "
                             f"(from serlib.ledger.decide / serlib.ledger.record), got {have}")
        self.meta["claims"] = _jsonable(ledger_df.to_dict("records"))

    def save(self, results_dir: str | Path | None = None) -> Path:
        """Write ``<results_dir>/<notebook>.csv`` and ``.json`` atomically; returns the CSV path."""
        if not self._rows:
            raise ValueError(f"{self.notebook}: nothing to save - add() at least one result first")
        folder = Path(results_dir) if results_dir is not None else paths.results_dir()
        folder.mkdir(parents=True, exist_ok=True)
        csv_path = folder / f"{self.notebook}.csv"
        df = self.frame()
        _readable(atomic_write(csv_path, lambda tmp: df.to_csv(tmp, index=False)))
        meta = self.metadata()
        text = json.dumps(_jsonable(meta), indent=2, sort_keys=False)
        _readable(atomic_write(folder / f"{self.notebook}.json", lambda tmp: Path(tmp).write_text(text + "\n")))
        return csv_path


def _coerce(df: pd.DataFrame) -> pd.DataFrame:
    """Stable dtypes: float snr/value, int seed, None for missing text."""
    df = df.copy()
    if "snr" in df:
        df["snr"] = pd.to_numeric(df["snr"], errors="coerce").astype(float)
    if "value" in df:
        df["value"] = df["value"].astype(float)
    if "seed" in df and len(df):
        df["seed"] = df["seed"].astype(int)
    for col in df.columns:
        if col in ("snr", "value", "seed"):
            continue
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


def read(notebook: str | Path, results_dir: str | Path | None = None) -> pd.DataFrame:
    """Read ``results/<notebook>.csv`` (or a CSV path) back into the tidy DataFrame."""
    path = Path(notebook)
    if path.suffix != ".csv":
        folder = Path(results_dir) if results_dir is not None else paths.results_dir()
        path = folder / f"{Path(notebook).name.removesuffix('.ipynb')}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no results file; run the notebook (python -m serlib.run --only ...) first")
    df = pd.read_csv(path, keep_default_na=True)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a results file, columns {missing} are missing")
    return _coerce(df)


def read_metadata(notebook: str | Path, results_dir: str | Path | None = None) -> dict[str, Any]:
    """The JSON metadata saved beside ``results/<notebook>.csv``."""
    path = Path(notebook)
    if path.suffix not in (".json", ".csv"):
        folder = Path(results_dir) if results_dir is not None else paths.results_dir()
        path = folder / f"{path.name}.json"
    path = path.with_suffix(".json")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no metadata file next to the results")
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- summaries
def _group_keys(df: pd.DataFrame, by: Sequence[str]) -> list[str]:
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise KeyError(f"summarize: columns {missing} not in the results (have {list(df.columns)})")
    return list(by)


SUMMARY_COLUMNS = ("mean", "ci", "ci_low", "ci_high", "n", "values")
"""The statistics columns :func:`summarize` adds after the group columns."""


def as_runs(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with ``seed`` renumbered so that each seed x fold is its own run (0, 1, ...), as the claims
    ledger pairs them: :func:`summarize` and :func:`compare` then give the mean and interval over runs
    (a 1-seed x 5-fold run has n = 5, not one seed whose folds are averaged). Without a ``fold``
    column, or with no fold set, ``df`` is returned unchanged."""
    if "fold" not in df.columns or "seed" not in df.columns or not df["fold"].notna().any():
        return df
    return df.assign(seed=df.groupby(["seed", "fold"], sort=False, dropna=False).ngroup())


def summarize(df: pd.DataFrame, by: Sequence[str] | None = None, *, confidence: float = 0.95,
              value: str = "value") -> pd.DataFrame:
    """Mean, 95 % interval (Student t over seeds, :func:`serlib.metrics.mean_ci`) and n per group.

    Rows of the same seed within a group (e.g. the folds of a cross-validation) are averaged
    first, so the interval is over seeds; ``n`` is the number of seeds (rows when there is no
    ``seed`` column). ``by`` defaults to every column but ``seed``, ``fold`` and ``value``.
    Columns: ``by``, then :data:`SUMMARY_COLUMNS`: ``ci`` (half-width), ``ci_low`` / ``ci_high``
    (the interval, clipped to the metric's range when ``metric`` is a group column, e.g. UAR in
    [0, 1], CCC in [-1, 1]; :func:`serlib.metrics.clip_interval`) and ``values`` (the per-seed
    values, a tuple). With fewer than 3 seeds there is no t interval: ``ci``, ``ci_low`` and
    ``ci_high`` are NaN; show the ``values`` instead.
    """
    from serlib.metrics import clip_interval, mean_ci

    if by is None:
        by = [c for c in df.columns if c not in ("seed", "fold", value)]
    by = _group_keys(df, by)
    if value not in df.columns:
        raise KeyError(f"summarize: no {value!r} column")
    cols = [*by, *SUMMARY_COLUMNS]
    if df.empty:
        return pd.DataFrame(columns=cols)
    work = df.copy()
    work[value] = work[value].astype(float)
    if "seed" in work.columns and "seed" not in by:
        work = work.groupby([*by, "seed"], dropna=False, sort=False)[value].mean().reset_index()
    out = []
    for keys, grp in work.groupby(by, dropna=False, sort=False) if by else [((), work)]:
        keys = keys if isinstance(keys, tuple) else (keys,)
        row = dict(zip(by, keys))
        vals = grp[value].to_numpy(dtype=float)
        mean, half = mean_ci(vals, confidence=confidence)
        lo, hi = mean - half, mean + half
        if "metric" in row and not _is_missing(row["metric"]):
            lo, hi = clip_interval(lo, hi, _metric_key(row["metric"]))
        out.append({**row, "mean": mean, "ci": half, "ci_low": float(lo), "ci_high": float(hi),
                    "n": int(len(vals)), "values": tuple(float(v) for v in vals)})
    return _coerce(pd.DataFrame(out, columns=cols))


# --------------------------------------------------------------------------- compare
def _normalise_mapping(mapping: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    if not mapping:
        return {}
    if all(isinstance(v, str) for v in mapping.values()):
        return {"method": dict(mapping)}
    out = {}
    for col, m in mapping.items():
        if not isinstance(m, Mapping):
            raise TypeError(f"compare(mapping=...): give {{ours: paper}} method names, or {{column: {{ours: paper}}}}; "
                            f"{col!r} maps to {m!r}")
        out[col] = dict(m)
    return out


def _apply_mapping(df: pd.DataFrame, mapping: Mapping[str, Any] | None) -> pd.DataFrame:
    """A copy of ``df`` with our values renamed to the paper's (see :func:`compare`)."""
    df = df.copy()
    for col, m in _normalise_mapping(mapping).items():
        if col not in df.columns:
            raise KeyError(f"mapping: our results have no column {col!r}")
        df[col] = df[col].map(lambda v, m=m: m.get(v, v) if not _is_missing(v) else v)
    return df


def _fmt(x: float, digits: int) -> str:
    return "nan" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _ours_summary(frame: pd.DataFrame, kcols: list[str], on: list[str], confidence: float) -> pd.DataFrame:
    """Mean +- CI over seeds per matching key (rows of one seed averaged first), with display values."""
    per_seed = frame.groupby([*kcols, "_seed"], sort=False)["value"].mean().reset_index()
    stats = summarize(per_seed.rename(columns={"_seed": "seed"}), by=kcols, confidence=confidence)
    extra = {"_snrs": ("_snrs", "first")} if "_snrs" in frame.columns else {}
    info = frame.groupby(kcols, sort=False).agg(
        **{c: (c, "first") for c in on}, data=("data", lambda s: "; ".join(sorted({str(x) for x in s}))), **extra)
    return stats.merge(info.reset_index(), on=kcols, how="left")


def compare(
    ours: pd.DataFrame,
    paper: str | int,
    *,
    on: Sequence[str] | None = None,
    mapping: Mapping[str, Any] | None = None,
    tables: Iterable[str] | None = None,
    confidence: float = 0.95,
    n_classes: int | None = None,
    class_rates: Sequence[float] | None = None,
    positive_rate: float | None = None,
    show: bool = False,
) -> pd.DataFrame:
    """Our results beside the paper's: ours (mean +- CI over seeds) | paper | delta | n | data.

    ``ours`` is tidy rows (``Results.frame()``, :func:`read`) with one row per seed (several
    rows per seed, e.g. folds, are averaged first). ``mapping`` renames our values to the
    paper's: ``{"ours_method": "Paper method"}`` or per column, e.g.
    ``{"method": {...}, "noise_type": {"babble": "speech"}, "metric": {"macro_f1": "f1"}}``.
    ``on`` are the matching columns (default: method, train/test condition, noise type, snr,
    metric, and attribute / augmentation / corpus when our rows have them). Values match
    case-insensitively, numbers by value, metric names through :data:`METRIC_ALIASES`
    (``war`` = ``accuracy``). A paper row with ``snr: avg`` is matched with our per-seed mean
    over the SNRs of that table's ``snrs_averaged_db`` that we ran (named in ``note``).

    Every row is kept: ``status`` is ``matched``, ``paper only`` or ``ours only``. Ours and
    the delta (ours - paper) are in the paper's unit (``%`` -> ours x 100). ``ours_ci`` is the
    t half-width (NaN with fewer than 3 seeds: ``ours_values`` holds the per-seed values),
    ``ours_low`` / ``ours_high`` the interval clipped to the metric's range.

    Chance: ``chance`` is :func:`serlib.metrics.chance_level` of the row's metric in the paper's
    unit (give ``n_classes``, or ``class_rates`` / ``positive_rate`` for accuracy / binary F1;
    CCC's is 0; NaN where unknown) and ``at_chance`` flags a cell whose interval reaches chance
    or whose mean is at or below it (a higher-is-better metric). The pretty table is in
    ``df.attrs["text"]`` (:func:`format_comparison`); ``show=True`` prints it.
    """
    from serlib.metrics import bounds, chance_level

    pid = _paper_id(paper)
    doc = _load_doc(pid)
    ref = load_reference(pid, tables=tables)
    ref["_order"] = np.arange(len(ref))
    units = {_metric_key(m): (str(s["unit"]), bool(s["higher_is_better"])) for m, s in doc["metrics"].items()}
    snr_sets = {str(t["id"]): [float(s) for s in t.get("snrs_averaged_db", [])] for t in doc["tables"]}
    missing = [c for c in ("method", "metric", "value") if c not in ours.columns]
    if missing:
        raise KeyError(f"compare: our results lack columns {missing}")
    ours = _apply_mapping(ours, mapping)
    if on is None:
        on = ["method", "train_condition", "test_condition", "noise_type", "snr", "metric"]
        on += [c for c in ("attribute", "augmentation", "corpus") if c in ours.columns and ref[c].notna().any()]
    on = list(on)
    for c in on:
        if c not in ours.columns:
            raise KeyError(f"compare(on=...): our results have no column {c!r} (have {list(ours.columns)})")
        if c not in ref.columns:
            raise KeyError(f"compare(on=...): the reference has no column {c!r}")
    if "data" not in ours.columns:
        ours["data"] = "unspecified"
    kcols = [f"_k_{c}" for c in on]
    for c in on:
        fn = _metric_key if c == "metric" else _key
        ours[f"_k_{c}"] = ours[c].map(fn)
        ref[f"_k_{c}"] = ref[c].map(fn)
    ours["_seed"] = ours["seed"] if "seed" in ours.columns else np.arange(len(ours))

    empty = pd.DataFrame(columns=[*kcols, *SUMMARY_COLUMNS, *on, "data"])
    is_avg = ref["_k_snr"] == "avg" if "snr" in on else pd.Series(False, index=ref.index)
    ours_sum = _ours_summary(ours, kcols, on, confidence) if len(ours) else empty
    parts = [ref[~is_avg].merge(ours_sum, on=kcols, how="outer", suffixes=("_paper", "_ours"), indicator=True)]
    for table_id, tref in ref[is_avg].groupby("table", sort=False):
        noisy = ours[(ours["_k_snr"] != "") & (ours["_k_snr"] != "avg")].copy()
        noisy = noisy[pd.to_numeric(noisy["snr"], errors="coerce").isin(snr_sets[table_id])]
        if noisy.empty:
            avg = empty
        else:
            keys_wo_snr = [k for k in kcols if k != "_k_snr"]
            noisy["_snrs"] = noisy.groupby(keys_wo_snr, sort=False)["snr"].transform(
                lambda s: ",".join(f"{v:g}" for v in sorted(set(pd.to_numeric(s)))))
            noisy["_k_snr"], noisy["snr"] = "avg", "avg"
            avg = _ours_summary(noisy, kcols, on, confidence)
        parts.append(tref.merge(avg, on=kcols, how="left", suffixes=("_paper", "_ours"), indicator=True))
    merged = pd.concat(parts, ignore_index=True, sort=False)

    recs = []
    for _, r in merged.iterrows():
        status = {"both": "matched", "left_only": "paper only", "right_only": "ours only"}[r["_merge"]]
        has_ours, has_paper = status != "paper only", status != "ours only"
        rec: dict[str, Any] = {"table": r["table"] if has_paper else None}
        for c in on:
            v = r.get(f"{c}_paper", r.get(c)) if has_paper else r.get(f"{c}_ours", r.get(c))
            rec[c] = None if _is_missing(v) else v
        mkey = r["_k_metric"] if "_k_metric" in r else _metric_key(rec.get("metric"))
        unit = str(r["unit"]) if has_paper else units.get(mkey, ("", True))[0]
        scale = 100.0 if unit == "%" else 1.0
        if has_ours and scale == 100.0 and percent_metric(mkey) and mkey not in UNBOUNDED_PROPORTIONS \
                and abs(float(r["mean"])) > 1.0 + 1e-9:
            raise ValueError(f"compare: our {mkey} = {float(r['mean']):g} looks like a percentage; results store "
                             "proportions as fractions (see the serlib.results docstring)")
        ours_mean = float(r["mean"]) * scale if has_ours else np.nan
        paper_v = float(r["value"]) if has_paper else np.nan
        snrs = r.get("_snrs")
        try:
            chance = chance_level(mkey, n_classes, class_rates=class_rates, positive_rate=positive_rate) * scale
        except ValueError:  # chance needs n_classes / rates that were not given
            chance = np.nan
        low = float(r["ci_low"]) * scale if has_ours else np.nan
        high = float(r["ci_high"]) * scale if has_ours else np.nan
        lo_b, hi_b = bounds(mkey, scale=scale)
        low, high = (min(max(low, lo_b), hi_b), max(min(high, hi_b), lo_b)) if math.isfinite(low) else (low, high)
        hib = units.get(mkey, (None, _higher_is_better(mkey)))[1]
        at_chance = bool(has_ours and math.isfinite(chance) and hib and (
            ours_mean <= chance + 1e-12 or (math.isfinite(low) and low <= chance)))
        rec.update({
            "ours": ours_mean,
            "ours_ci": float(r["ci"]) * scale if has_ours else np.nan,
            "ours_low": low,
            "ours_high": high,
            "ours_values": tuple(v * scale for v in r["values"]) if has_ours else (),
            "n_seeds": int(r["n"]) if has_ours else 0,
            "chance": chance,
            "at_chance": at_chance,
            "paper": paper_v,
            "paper_sd": float(r["sd"]) if has_paper and not _is_missing(r.get("sd")) else np.nan,
            "delta": ours_mean - paper_v if status == "matched" else np.nan,
            "unit": unit,
            "data": (r.get("data_ours") if "data_ours" in r else r.get("data")) if has_ours else None,
            "paper_data": r.get("corpus_paper", r.get("corpus")) if has_paper else None,
            "status": status,
            "note": f"ours averaged over {snrs} dB" if isinstance(snrs, str) and has_ours else "",
            "_order": float(r["_order"]) if has_paper else np.inf,
            "_snr_sort": pd.to_numeric(pd.Series([rec.get("snr")]), errors="coerce").iloc[0] if "snr" in on else 0,
        })
        recs.append(rec)
    out = pd.DataFrame(recs)
    sort_cols = ["_order"] + [c for c in ("method", "metric") if c in out.columns] + ["_snr_sort"]
    out = out.sort_values(sort_cols, kind="stable", na_position="first").drop(columns=["_order", "_snr_sort"])
    out = out.reset_index(drop=True)
    out.attrs["paper"] = pid
    out.attrs["text"] = format_comparison(out)
    if show:
        print(out.attrs["text"])
    return out


def _markdown(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return "" if _is_missing(v) else str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _cell(v: Any) -> str:
    """A condition value for display: '' when missing, integral floats without '.0'."""
    if _is_missing(v):
        return ""
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v)


def estimate_text(mean: float, low: float, high: float, n: int, values: Sequence[float] = (), digits: int = 1) -> str:
    """One estimate for a table: ``m ± h`` (n >= 3), ``m [lo, hi]`` when the interval was clipped to
    the metric's range, ``m (n=2: a, b)`` or ``m (1 run)`` without an interval, ``—`` when empty."""
    if not n or mean is None or not math.isfinite(mean):
        return "—"
    m = _fmt(mean, digits)
    if n >= 3 and math.isfinite(low) and math.isfinite(high):
        if abs((mean - low) - (high - mean)) <= 0.5 * 10 ** -digits:
            return f"{m} ± {_fmt((high - low) / 2, digits)}"
        return f"{m} [{_fmt(low, digits)}, {_fmt(high, digits)}]"
    if n == 1:
        return f"{m} (1 run)"
    shown = list(values)[:5]
    if shown and len(shown) == n:
        return f"{m} (n={n}: " + ", ".join(_fmt(v, digits) for v in shown) + ")"
    return f"{m} (n={n})"


def format_comparison(df: pd.DataFrame, *, markdown: bool = False) -> str:
    """Pretty table of a :func:`compare` result (plain text, or Markdown with ``markdown=True``).

    Ours: :func:`estimate_text` (no interval from fewer than 3 seeds); a cell at or below chance
    (``at_chance``) is marked "(≤ chance)"; the chance level is a column when known.
    """
    if df.empty:
        return "(no rows to compare)"
    cond = [c for c in ("table", "method", "attribute", "augmentation", "train_condition", "test_condition",
                        "noise_type", "snr", "corpus", "metric") if c in df.columns and df[c].notna().any()]
    digits = 3 if set(df["unit"]) <= {"1", ""} else 2
    show_chance = "chance" in df.columns and df["chance"].notna().any()
    header = [*cond, "ours (mean ± CI)", "paper", "delta", "unit", "n", *(["chance"] if show_chance else []),
              "data", "status"]
    rows = []
    for _, r in df.iterrows():
        ours = "—" if r["status"] == "paper only" else estimate_text(
            r["ours"], r.get("ours_low", np.nan), r.get("ours_high", np.nan), r["n_seeds"],
            r.get("ours_values", ()) or (), digits) + (" (≤ chance)" if r.get("at_chance") else "")
        paper_s = "—" if r["status"] == "ours only" else _fmt(r["paper"], digits) + (
            f" ± {_fmt(r['paper_sd'], digits)} sd" if not _is_missing(r.get("paper_sd")) else "")
        delta = f"{r['delta']:+.{digits}f}" if not _is_missing(r["delta"]) else "—"
        data = r["data"] if not _is_missing(r["data"]) else "—"
        status = r["status"] + (f" ({r['note']})" if r.get("note") else "")
        chance = [_fmt(r["chance"], digits) if not _is_missing(r["chance"]) else "—"] if show_chance else []
        rows.append([*(_cell(r[c]) for c in cond), ours, paper_s, delta, r["unit"], r["n_seeds"], *chance, data,
                     status])
    if markdown:
        return _markdown(header, rows)
    cells = [[str(h) for h in header]] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --------------------------------------------------------------------------- collect / summary
def collect(results_dir: str | Path | None = None) -> pd.DataFrame:
    """One DataFrame over every ``<results_dir>/*.csv`` (a ``profile`` column from each JSON sidecar).

    A CSV that is not a results file is reported with a warning naming it, never read silently.
    """
    folder = Path(results_dir) if results_dir is not None else paths.results_dir()
    frames = []
    for path in sorted(folder.glob("*.csv")):
        try:
            df = read(path)
        except ValueError as exc:
            warnings.warn(f"collect: skipping {path}: {exc}", stacklevel=2)
            continue
        try:
            df["profile"] = read_metadata(path).get("profile")
        except (FileNotFoundError, json.JSONDecodeError):
            df["profile"] = None
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=[*COLUMNS, "data", "profile"])
    return _coerce(pd.concat(frames, ignore_index=True, sort=False))


def runs(results_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """``notebook -> metadata`` of every run in the folder: a ``<notebook>.csv`` with its JSON sidecar.

    A sidecar that cannot be read is reported with a warning naming it, never skipped silently.
    """
    folder = Path(results_dir) if results_dir is not None else paths.results_dir()
    found = {}
    for csv_path in sorted(folder.glob("*.csv")):
        side = csv_path.with_suffix(".json")
        if not side.is_file():
            continue
        try:
            meta = json.loads(side.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            warnings.warn(f"{side}: unreadable run metadata ({exc}); its claims are left out", stacklevel=3)
            continue
        if isinstance(meta, dict) and meta.get("notebook") == csv_path.stem:
            found[csv_path.stem] = meta
    return found

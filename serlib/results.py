"""Tidy results, run metadata, and our numbers beside the papers' own.

Recording a run::

    res = Results("03_trnet", cfg.profile, data=cfg)        # data: the corpus/noise settings used
    with res.timer("train"):
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

Reference files (schema, checked on load)
-----------------------------------------
``paper`` (id, short, title, citation, ...), ``metrics`` (name -> unit, higher_is_better,
description), ``tables`` (id, caption, train_corpus, test_corpus, ... ``snrs_averaged_db``
when the table averages over SNRs), ``rows`` (one printed number each, keys in
:data:`ROW_KEYS` plus any of :data:`OPTIONAL_ROW_KEYS`) and ``claims`` (id, text, ``expect``,
``support`` selectors, optional ``except`` selectors). ``snr`` is a number (dB), ``null``
(no noise) or ``"avg"`` (the table's average over ``snrs_averaged_db``); :func:`compare`
averages our per-SNR rows the same way before matching such a row.

Claims
------
``expect`` is ``null`` (qualitative, e.g. a figure) or one of
``{better: A, than: B, by: column, ignore: [...]}`` (A beats B on every comparable pair of
rows; A and B may be lists; ``by`` defaults to ``method``) or ``{order: [v1, v2, ...],
by: column}`` (v1 beats v2 beats ...). "Beats" follows the metric's direction (lower WER is
better). :func:`check_claim` evaluates a claim on any tidy frame (the paper's own rows, where
each machine-checkable claim must hold, or our results after a name ``mapping``);
:func:`ledger_row` makes one row of the claims ledger and :func:`ledger` checks every claim.

Across papers
-------------
A run's ledger travels in its JSON (:meth:`Results.set_claims`). :func:`collect_claims` reads
them all back and :func:`claims_table` lays every claim of the five papers against them (held /
not held / untested, or not run; per kind of data: embedded or real). :func:`headlines_table`
puts a few cells per paper (``reference/headlines.yaml``) beside ours through :func:`compare`.
:func:`overview_markdown` renders both with the leaderboard (:mod:`serlib.leaderboard`) for the
top of ``results/summary.md`` and for the README's generated block (:func:`update_readme`).
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
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from serlib import paths
from serlib.audio import atomic_write

__all__ = [
    "COLUMNS",
    "Results",
    "read",
    "read_metadata",
    "summarize",
    "papers",
    "reference",
    "load_reference",
    "compare",
    "format_comparison",
    "claims",
    "check_claim",
    "ledger_row",
    "ledger",
    "collect",
    "summary_markdown",
    "percent_metric",
    "paired_effects",
    "collect_claims",
    "claims_table",
    "headlines",
    "headlines_table",
    "overview_markdown",
    "runs_markdown",
    "readme_block",
    "update_readme",
]

COLUMNS = ("notebook", "method", "train_condition", "test_condition", "noise_type", "snr", "seed", "metric", "value")
"""The tidy columns of every ``results/<notebook>.csv`` (extras such as ``attribute`` or ``fold`` follow)."""

PROPORTION_METRICS = frozenset({"uar", "war", "accuracy", "f1", "macro_f1", "precision", "recall", "balanced_accuracy"})
"""Metrics stored as fractions in [0, 1]."""

UNBOUNDED_PROPORTIONS = frozenset({"wer", "cer"})
"""Error rates stored as fractions that may exceed 1 (insertions)."""

LOWER_IS_BETTER = frozenset({"wer", "cer", "loss", "mse", "eer"})
"""Metrics where smaller is better (used when a reference does not say)."""

METRIC_ALIASES = {"wa": "accuracy", "war": "accuracy", "acc": "accuracy", "ua": "uar", "balanced_accuracy": "uar",
                  "f1_macro": "macro_f1"}
"""Names that mean the same metric; :func:`compare` matches on the canonical name."""

PACKAGES = ("torch", "torchaudio", "opensmile", "scikit-learn", "numpy", "pandas", "speechbrain")
"""Packages whose versions go into every run's metadata."""

EMBEDDED_CORPORA = frozenset({"synthetic", "synthetic_xcorpus"})

REFERENCE_DIR = Path(__file__).with_name("reference")

ROW_KEYS = ("table", "method", "train_condition", "test_condition", "noise_type", "snr", "metric", "value")
OPTIONAL_ROW_KEYS = ("corpus", "train_corpus", "attribute", "augmentation", "sd", "stated_improvement",
                     "significant_vs", "note")
CLAIM_KEYS = ("id", "text", "expect", "support")
KEY_COLUMNS = ("method", "attribute", "augmentation", "train_condition", "test_condition", "noise_type", "snr",
               "metric", "corpus", "train_corpus")
"""Columns that identify a condition (used to pair rows in claims and to match in compare)."""
CONDITION_COLUMNS = ("test_condition", "noise_type", "snr")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_EXTRA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --------------------------------------------------------------------------- small helpers
def _is_missing(v: Any) -> bool:
    """None, NaN and pandas NA count as missing."""
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # lists, arrays
        return False


def _key(v: Any) -> str:
    """Normalise a condition value for matching: '' for missing, '%g' for numbers, lower-case text."""
    if _is_missing(v):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).lower()
    if isinstance(v, (int, float, np.integer, np.floating)):
        return f"{float(v):g}"
    s = str(v).strip().lower()
    try:
        return f"{float(s):g}"
    except ValueError:
        return s


def _metric_key(v: Any) -> str:
    k = _key(v)
    return METRIC_ALIASES.get(k, k)


def percent_metric(metric: str) -> bool:
    """True for metrics stored as fractions and usually shown in % (UAR, accuracy, F1, WER, ...)."""
    k = _metric_key(metric)
    return k in PROPORTION_METRICS or k in UNBOUNDED_PROPORTIONS


def _higher_is_better(metric: str) -> bool:
    return _metric_key(metric) not in LOWER_IS_BETTER


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
def _git_commit() -> tuple[str, bool | None]:
    """(commit hash or "unknown", dirty flag or None), read-only git calls."""
    try:
        out = subprocess.run(["git", "-C", str(paths.REPO), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if out.returncode != 0:
            return "unknown", None
        commit = out.stdout.strip()
        st = subprocess.run(["git", "--no-optional-locks", "-C", str(paths.REPO), "status", "--porcelain",
                             "--untracked-files=no"], capture_output=True, text=True, timeout=10)
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
    def timer(self, name: str) -> Iterator[None]:
        """Context manager adding the seconds spent inside it to ``durations[name]``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.durations[name] = self.durations.get(name, 0.0) + (time.perf_counter() - t0)

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
        """Keep this run's claims ledger (:func:`ledger` rows); :meth:`save` writes it into the JSON.

        The cross-paper ledger (:func:`collect_claims`) reads it back from every results JSON.
        """
        need = {"paper", "claim", "status", "evidence"}
        if not isinstance(ledger_df, pd.DataFrame) or not need <= set(ledger_df.columns):
            raise ValueError(f"{self.notebook}: set_claims() needs a ledger DataFrame with columns {sorted(need)} "
                             "(from results.ledger / results.ledger_row)")
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


def summarize(df: pd.DataFrame, by: Sequence[str] | None = None, *, confidence: float = 0.95,
              value: str = "value") -> pd.DataFrame:
    """Mean, CI half-width (Student-t over seeds, :func:`serlib.metrics.mean_ci`) and n per group.

    Rows of the same seed within a group (e.g. the folds of a cross-validation) are averaged
    first, so the interval is over seeds; ``n`` is the number of seeds (rows when there is no
    ``seed`` column). ``by`` defaults to every column but ``seed``, ``fold`` and ``value``.
    A single seed gives ``ci = nan``.
    """
    from serlib.metrics import mean_ci

    if by is None:
        by = [c for c in df.columns if c not in ("seed", "fold", value)]
    by = _group_keys(df, by)
    if value not in df.columns:
        raise KeyError(f"summarize: no {value!r} column")
    if df.empty:
        return pd.DataFrame(columns=[*by, "mean", "ci", "n"])
    work = df.copy()
    work[value] = work[value].astype(float)
    if "seed" in work.columns and "seed" not in by:
        work = work.groupby([*by, "seed"], dropna=False, sort=False)[value].mean().reset_index()
    out = []
    for keys, grp in work.groupby(by, dropna=False, sort=False) if by else [((), work)]:
        keys = keys if isinstance(keys, tuple) else (keys,)
        vals = grp[value].to_numpy(dtype=float)
        mean, half = mean_ci(vals, confidence=confidence)
        out.append({**dict(zip(by, keys)), "mean": mean, "ci": half, "n": int(len(vals))})
    return _coerce(pd.DataFrame(out, columns=[*by, "mean", "ci", "n"]))


# --------------------------------------------------------------------------- reference files
def papers() -> list[str]:
    """Ids of the papers with a reference file (``1_edrl_mea``, ...; not ``headlines.yaml``)."""
    return sorted(p.stem for p in REFERENCE_DIR.glob("*.yaml") if re.match(r"^\d+_", p.stem))


def _paper_id(paper: str | int) -> str:
    """Accept '3_trnet', '03_trnet', 3, '3', 'trnet' or a notebook name; return the file stem."""
    ids = papers()
    s = str(paper).strip().removesuffix(".yaml").removesuffix(".ipynb")
    if s in ids:
        return s
    m = re.match(r"^0*(\d+)(?:_(.*))?$", s)
    if m:
        hits = [i for i in ids if i.split("_", 1)[0] == m.group(1)]
        if len(hits) == 1:
            return hits[0]
    hits = [i for i in ids if s.lower() in i.lower()]
    if len(hits) == 1:
        return hits[0]
    raise KeyError(f"no reference paper {paper!r}; available: {ids}")


def _check_selector(sel: Any, where: str) -> None:
    if not isinstance(sel, Mapping) or not sel:
        raise ValueError(f"{where}: a selector must be a non-empty mapping of column -> value(s), got {sel!r}")
    bad = [k for k in sel if k not in ROW_KEYS and k not in OPTIONAL_ROW_KEYS]
    if bad:
        raise ValueError(f"{where}: selector keys {bad} are not row columns")


def _validate_reference(doc: Any, name: str) -> dict[str, Any]:
    """Check a reference YAML against the schema; raise ValueError naming the file and entry."""
    where = f"serlib/reference/{name}.yaml"
    if not isinstance(doc, Mapping):
        raise ValueError(f"{where}: top level must be a mapping")
    for block in ("paper", "metrics", "tables", "rows", "claims"):
        if block not in doc:
            raise ValueError(f"{where}: missing top-level block {block!r}")
    paper = doc["paper"]
    for key in ("id", "short", "title", "citation", "source"):
        if not paper.get(key):
            raise ValueError(f"{where}: paper.{key} is missing")
    if paper["id"] != name:
        raise ValueError(f"{where}: paper.id {paper['id']!r} differs from the file name")
    metrics = doc["metrics"]
    for m, spec in metrics.items():
        if not isinstance(spec, Mapping) or "unit" not in spec or "higher_is_better" not in spec:
            raise ValueError(f"{where}: metrics.{m} needs 'unit' and 'higher_is_better'")
    tables = {}
    for t in doc["tables"]:
        if "id" not in t or "caption" not in t:
            raise ValueError(f"{where}: every table needs 'id' and 'caption' ({t!r})")
        tables[str(t["id"])] = t
    rows = doc["rows"]
    if not rows:
        raise ValueError(f"{where}: no rows")
    for i, row in enumerate(rows):
        rw = f"{where}: rows[{i}]"
        missing = [k for k in ROW_KEYS if k not in row]
        if missing:
            raise ValueError(f"{rw} lacks {missing}")
        unknown = [k for k in row if k not in ROW_KEYS and k not in OPTIONAL_ROW_KEYS]
        if unknown:
            raise ValueError(f"{rw} has unknown keys {unknown}; allowed extras: {OPTIONAL_ROW_KEYS}")
        if str(row["table"]) not in tables:
            raise ValueError(f"{rw}: table {row['table']!r} is not declared in 'tables'")
        if row["metric"] not in metrics:
            raise ValueError(f"{rw}: metric {row['metric']!r} is not declared in 'metrics'")
        v = row["value"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{rw}: value must be a number, got {v!r}")
        snr = row["snr"]
        if not (snr is None or snr == "avg" or (isinstance(snr, (int, float)) and not isinstance(snr, bool))):
            raise ValueError(f"{rw}: snr must be a number, null or 'avg', got {snr!r}")
        if snr == "avg" and not tables[str(row["table"])].get("snrs_averaged_db"):
            raise ValueError(f"{rw}: snr 'avg' but table {row['table']!r} has no snrs_averaged_db")
        for k in ("sd", "stated_improvement"):
            if k in row and not isinstance(row[k], (int, float)):
                raise ValueError(f"{rw}: {k} must be a number, got {row[k]!r}")
    keyset = [tuple(_key(r.get(k)) for k in ("table", *KEY_COLUMNS)) for r in rows]
    dups = {k for k in keyset if keyset.count(k) > 1}
    if dups:
        raise ValueError(f"{where}: rows with identical table+conditions (ambiguous): {sorted(dups)[:3]}")
    ids = [c.get("id") for c in doc["claims"]]
    if not ids or len(set(ids)) != len(ids):
        raise ValueError(f"{where}: claims need unique ids, got {ids}")
    for c in doc["claims"]:
        cw = f"{where}: claim {c.get('id')!r}"
        missing = [k for k in CLAIM_KEYS if k not in c]
        if missing:
            raise ValueError(f"{cw} lacks {missing}")
        if not isinstance(c["text"], str) or not c["text"].strip():
            raise ValueError(f"{cw}: empty text")
        for sel in list(c["support"]) + list(c.get("except", [])):
            _check_selector(sel, cw)
        exp = c["expect"]
        if exp is not None:
            if not isinstance(exp, Mapping) or not (("better" in exp and "than" in exp) or "order" in exp):
                raise ValueError(f"{cw}: expect must be null, {{better, than}} or {{order}}, got {exp!r}")
            if not c["support"]:
                raise ValueError(f"{cw}: a machine-checkable claim needs support selectors")
            by = exp.get("by", "method")
            if by not in KEY_COLUMNS:
                raise ValueError(f"{cw}: expect.by {by!r} must be one of {KEY_COLUMNS}")
    return dict(doc)


@lru_cache(maxsize=None)
def _load_doc(name: str) -> dict[str, Any]:
    path = REFERENCE_DIR / f"{name}.yaml"
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    return _validate_reference(doc, name)


def reference(paper: str | int) -> dict[str, Any]:
    """The whole validated reference document of ``paper`` (paper, metrics, tables, rows, claims)."""
    import copy

    return copy.deepcopy(_load_doc(_paper_id(paper)))


def load_reference(paper: str | int, *, tables: Iterable[str] | None = None) -> pd.DataFrame:
    """The paper's printed numbers as a tidy DataFrame (one row per number, values as printed).

    Columns: ``paper, table``, the condition columns, ``metric, value, unit, higher_is_better``,
    ``sd, stated_improvement, significant_vs, corpus, train_corpus, note``. ``corpus`` /
    ``train_corpus`` default to the table's ``test_corpus`` / ``train_corpus``. The paper
    block is in ``df.attrs["paper"]``.
    """
    name = _paper_id(paper)
    doc = _load_doc(name)
    tabs = {str(t["id"]): t for t in doc["tables"]}
    recs = []
    for r in doc["rows"]:
        t = tabs[str(r["table"])]
        spec = doc["metrics"][r["metric"]]
        recs.append({
            "paper": name,
            "table": str(r["table"]),
            "method": r["method"],
            "attribute": r.get("attribute"),
            "augmentation": r.get("augmentation"),
            "train_condition": r["train_condition"],
            "test_condition": r["test_condition"],
            "noise_type": r["noise_type"],
            "snr": r["snr"],
            "metric": r["metric"],
            "value": float(r["value"]),
            "unit": str(spec["unit"]),
            "higher_is_better": bool(spec["higher_is_better"]),
            "sd": float(r["sd"]) if "sd" in r else np.nan,
            "stated_improvement": float(r["stated_improvement"]) if "stated_improvement" in r else np.nan,
            "significant_vs": ",".join(r.get("significant_vs", [])) or None,
            "corpus": r.get("corpus", t.get("test_corpus")),
            "train_corpus": r.get("train_corpus", t.get("train_corpus")),
            "note": r.get("note"),
        })
    df = pd.DataFrame(recs)
    df["snr"] = df["snr"].astype(object).where(df["snr"].notna(), None)
    if tables is not None:
        wanted = {str(t) for t in tables}
        unknown = wanted - set(tabs)
        if unknown:
            raise KeyError(f"{name}: no tables {sorted(unknown)}; tables are {sorted(tabs)}")
        df = df[df["table"].isin(wanted)].reset_index(drop=True)
    df.attrs["paper"] = dict(doc["paper"])
    return df


def claims(paper: str | int) -> list[dict[str, Any]]:
    """The paper's headline claims: dicts with ``id, text, expect, support`` (and ``except``, ``caveat``)."""
    return reference(paper)["claims"]


# --------------------------------------------------------------------------- claims
def _select(df: pd.DataFrame, selectors: Sequence[Mapping[str, Any]]) -> pd.Series:
    """Boolean mask of rows matching any of ``selectors`` (a selector matches all its columns).

    A selector column the frame does not have (``table`` in our results) is ignored.
    """
    mask = pd.Series(False, index=df.index)
    for sel in selectors:
        m = pd.Series(True, index=df.index)
        for col, want in sel.items():
            if col not in df.columns:
                continue
            wants = {_key(w) for w in (want if isinstance(want, (list, tuple, set)) else [want])}
            m &= df[col].map(_key).isin(wants)
        mask |= m
    return mask


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def check_claim(claim: Mapping[str, Any], df: pd.DataFrame, *, value: str | None = None,
                mapping: Mapping[str, Any] | None = None) -> tuple[bool | None, str]:
    """Evaluate a machine-checkable claim on a tidy frame -> ``(held, evidence)``.

    ``df`` holds the condition columns and a value column (``value`` for the paper's rows or
    raw results, ``mean`` for a :func:`summarize` output; picked automatically). Our raw rows
    are first averaged over seeds (and folds). ``mapping`` renames our values to the paper's
    as in :func:`compare`. Rows are chosen by the claim's ``support`` selectors minus its
    ``except`` selectors (selector columns the frame lacks, such as ``table``, are ignored),
    then paired on every condition column except ``by`` (and, when ``by`` is a test-condition
    column, the other test-condition columns; plus ``expect.ignore``). ``held`` is None for a
    qualitative claim or when no comparable pair exists.
    """
    exp = claim.get("expect")
    cid = claim.get("id", "?")
    if not exp:
        return None, f"{cid}: qualitative claim (no numbers to check)"
    df = _apply_mapping(df, mapping)
    if value is None and "seed" in df.columns and "value" in df.columns:
        # keep the claim's own selector columns (e.g. ``table``) through the average over seeds
        selected = {col for sel in [*claim.get("support", []), *claim.get("except", [])] for col in sel}
        keys = [c for c in KEY_COLUMNS if c in df.columns]
        keys += sorted(c for c in selected if c in df.columns and c not in keys)
        df = summarize(df, by=keys).rename(columns={"mean": "value"}) if keys else df
    value = value or ("mean" if "mean" in df.columns and "value" not in df.columns else "value")
    if value not in df.columns:
        raise KeyError(f"check_claim: no {value!r} column in the frame")
    sub = df[_select(df, claim.get("support", []))]
    if claim.get("except"):
        sub = sub[~_select(sub, claim["except"])]
    by = exp.get("by", "method")
    if by not in sub.columns:
        return None, f"{cid}: no {by!r} column to compare on"
    drop = {by, *exp.get("ignore", [])}
    if by in CONDITION_COLUMNS:
        drop |= set(CONDITION_COLUMNS)
    keys = [c for c in KEY_COLUMNS if c in sub.columns and c not in drop]
    if "order" in exp:
        chain = [_key("" if (by == "snr" and str(v).lower() == "clean") else v) for v in exp["order"]]
        steps = list(zip(chain[:-1], chain[1:]))
    else:
        steps = [(_key(a), _key(b)) for a in _as_list(exp["better"]) for b in _as_list(exp["than"])]
    work = sub.assign(_by=sub[by].map(_key), _val=sub[value].astype(float))
    if "metric" in work.columns:
        work["_hib"] = work["higher_is_better"] if "higher_is_better" in work.columns else work["metric"].map(
            _higher_is_better)
    else:
        work["_hib"] = True
    n_pairs, fails = 0, []
    groups = work.groupby([work[k].map(_key) for k in keys], sort=False) if keys else [((), work)]
    for gkey, grp in groups:
        hib = bool(grp["_hib"].iloc[0])
        for a, b in steps:
            va, vb = grp.loc[grp["_by"] == a, "_val"], grp.loc[grp["_by"] == b, "_val"]
            for x in va:
                for y in vb:
                    n_pairs += 1
                    if not (x > y if hib else x < y):
                        label = "/".join(k for k in (gkey if isinstance(gkey, tuple) else (gkey,)) if k)
                        fails.append(f"{a} {x:g} vs {b} {y:g} [{label}]")
    if n_pairs == 0:
        return None, f"{cid}: no comparable rows (support selected {len(sub)} rows)"
    if fails:
        shown = "; ".join(fails[:4]) + (f"; ... {len(fails) - 4} more" if len(fails) > 4 else "")
        return False, f"{cid}: {n_pairs - len(fails)}/{n_pairs} comparisons hold; fails: {shown}"
    return True, f"{cid}: {n_pairs}/{n_pairs} comparisons hold"


def ledger_row(claim_id: str, held: bool | None, evidence: str, *, paper: str | int | None = None) -> dict[str, Any]:
    """One row of the claims ledger: ``{paper, claim, text, status, evidence}``.

    ``held`` is True (held), False (not held) or None (not tested / qualitative).
    """
    if held is not None and not isinstance(held, (bool, np.bool_)):
        raise TypeError(f"ledger_row({claim_id!r}): held must be True, False or None, got {held!r}")
    if not isinstance(evidence, str) or not evidence.strip():
        raise ValueError(f"ledger_row({claim_id!r}): evidence must say what was compared")
    row: dict[str, Any] = {"paper": None, "claim": claim_id, "text": None}
    if paper is not None:
        pid = _paper_id(paper)
        found = [c for c in claims(pid) if c["id"] == claim_id]
        if not found:
            raise KeyError(f"{pid}: no claim {claim_id!r}; claims are {[c['id'] for c in claims(pid)]}")
        row.update(paper=pid, text=" ".join(found[0]["text"].split()))
    row["status"] = "untested" if held is None else ("held" if bool(held) else "not held")
    row["evidence"] = evidence.strip()
    return row


def ledger(ours: pd.DataFrame, paper: str | int, *, mapping: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Every claim of ``paper`` checked on our results (:func:`check_claim`) as ledger rows."""
    rows = []
    for c in claims(paper):
        held, evidence = check_claim(c, ours, mapping=mapping)
        rows.append(ledger_row(c["id"], held, evidence, paper=paper))
    return pd.DataFrame(rows, columns=["paper", "claim", "text", "status", "evidence"])


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
    the delta (ours - paper) are in the paper's unit (``%`` -> ours x 100). The pretty table
    is in ``df.attrs["text"]`` (:func:`format_comparison`); ``show=True`` prints it.
    """
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

    empty = pd.DataFrame(columns=[*kcols, "mean", "ci", "n", *on, "data"])
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
        rec.update({
            "ours": ours_mean,
            "ours_ci": float(r["ci"]) * scale if has_ours else np.nan,
            "n_seeds": int(r["n"]) if has_ours else 0,
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


def format_comparison(df: pd.DataFrame, *, markdown: bool = False) -> str:
    """Pretty table of a :func:`compare` result (plain text, or Markdown with ``markdown=True``)."""
    if df.empty:
        return "(no rows to compare)"
    cond = [c for c in ("table", "method", "attribute", "augmentation", "train_condition", "test_condition",
                        "noise_type", "snr", "corpus", "metric") if c in df.columns and df[c].notna().any()]
    digits = 3 if set(df["unit"]) <= {"1", ""} else 2
    header = [*cond, "ours (mean ± CI)", "paper", "delta", "unit", "n", "data", "status"]
    rows = []
    for _, r in df.iterrows():
        ours = "—" if r["status"] == "paper only" else (
            f"{_fmt(r['ours'], digits)} ± {_fmt(r['ours_ci'], digits)}" if r["n_seeds"] > 1 else
            f"{_fmt(r['ours'], digits)} (1 seed)")
        paper_s = "—" if r["status"] == "ours only" else _fmt(r["paper"], digits) + (
            f" ± {_fmt(r['paper_sd'], digits)} sd" if not _is_missing(r.get("paper_sd")) else "")
        delta = f"{r['delta']:+.{digits}f}" if not _is_missing(r["delta"]) else "—"
        data = r["data"] if not _is_missing(r["data"]) else "—"
        status = r["status"] + (f" ({r['note']})" if r.get("note") else "")
        rows.append([*(_cell(r[c]) for c in cond), ours, paper_s, delta, r["unit"], r["n_seeds"], data, status])
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


def summary_markdown(df: pd.DataFrame, *, confidence: float = 0.95, results_dir: str | Path | None = None) -> str:
    """Markdown tables of :func:`collect` output: one section per notebook, one column per metric.

    Cells are mean ± CI half-width over seeds (proportions shown in %), with the number of seeds.
    With ``results_dir`` (the folder ``df`` was collected from) the headline numbers, the
    leaderboard and the cross-paper claims ledger (:func:`overview_markdown`) come first.
    """
    if df.empty:
        return "# Results summary\n\nNo results yet: run `python -m serlib.run`.\n"
    out = ["# Results summary", ""]
    if results_dir is not None:
        out += [overview_markdown(results_dir, level=2, confidence=confidence), "", "## Every result, per notebook", ""]
    out += [f"Mean ± {int(confidence * 100)} % CI half-width over seeds (Student t); proportions (UAR, WAR, "
            "accuracy, F1, WER) in %, CCC unitless. n = seeds. Generated by `serlib.results.summary_markdown`.", ""]
    for nb, grp in df.groupby("notebook", sort=True):
        profile = ", ".join(sorted({str(p) for p in grp.get("profile", pd.Series([None])).dropna()})) or "?"
        data = ", ".join(sorted({str(d) for d in grp.get("data", pd.Series([None])).dropna()})) or "?"
        out += [f"{'###' if results_dir is not None else '##'} {nb}", "", f"profile: {profile}; data: {data}; {len(grp)} rows", ""]
        skip = {"notebook", "seed", "value", "metric", "fold", "profile", "data"}
        cond = [c for c in grp.columns if c not in skip and grp[c].notna().any()]
        s = summarize(grp, by=[*cond, "metric"], confidence=confidence)
        metrics = list(dict.fromkeys(s["metric"]))
        table: dict[tuple, dict[str, str]] = {}
        nseeds: dict[tuple, int] = {}
        for _, r in s.iterrows():
            k = tuple(None if _is_missing(r[c]) else r[c] for c in cond)  # NaN != NaN would split rows
            scale = 100.0 if percent_metric(r["metric"]) else 1.0
            digits = 1 if scale == 100.0 else 3
            ci = "" if not math.isfinite(r["ci"]) else f" ± {r['ci'] * scale:.{digits}f}"
            table.setdefault(k, {})[r["metric"]] = f"{r['mean'] * scale:.{digits}f}{ci}"
            nseeds[k] = max(nseeds.get(k, 0), int(r["n"]))
        header = [*cond, *(f"{m} (%)" if percent_metric(m) else m for m in metrics), "n"]
        rows = [[*("" if _is_missing(v) else (f"{v:g}" if isinstance(v, float) else v) for v in k),
                 *(cells.get(m, "") for m in metrics), nseeds[k]] for k, cells in table.items()]
        out += [_markdown(header, rows), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- across papers: runs, claims, headlines
CLAIM_COLUMNS = ("paper", "claim", "text", "status", "evidence", "notebook", "profile", "data", "data_kind")
"""Columns of :func:`collect_claims` and :func:`claims_table`."""

DATA_KINDS = ("embedded", "real")
HEADLINES_FILE = REFERENCE_DIR / "headlines.yaml"
LEADERBOARD_NOTEBOOK = "10_robustness_leaderboard"
README_BEGIN, README_END = "<!-- results:begin -->", "<!-- results:end -->"
HEADLINE_COLUMNS = ("paper", "headline", "notebook", "metric", "unit", "ours", "ours_ci", "n", "paper_value", "delta",
                    "status", "profile", "data")


def _runs(results_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """``notebook -> metadata`` of every run in the folder: a ``<notebook>.csv`` with its JSON sidecar.

    A sidecar that cannot be read is reported with a warning naming it, never skipped silently.
    """
    folder = Path(results_dir) if results_dir is not None else paths.results_dir()
    runs = {}
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
            runs[csv_path.stem] = meta
    return runs


def _data_kind(meta: Mapping[str, Any]) -> str:
    """``embedded`` or ``real``: the kind of training corpus of a run (see :class:`Results`)."""
    return (meta.get("data") or {}).get("kind") or "embedded"


def runs_markdown(results_dir: str | Path | None = None) -> str:
    """One line per run in ``results_dir``: notebook, profile, data, seeds, device, wall time."""
    rows = [[nb, m.get("profile"), (m.get("data") or {}).get("label"), ", ".join(str(s) for s in m.get("seeds", [])),
             m.get("device"), f"{float(m['wall_time_s']) / 60:.1f} min" if m.get("wall_time_s") is not None else ""]
            for nb, m in _runs(results_dir).items()]
    if not rows:
        return "No runs yet."
    return _markdown(["notebook", "profile", "data", "seeds", "device", "wall time"], rows)


def _paper_of(notebook: str) -> str | None:
    """The paper whose reference names ``notebook`` as its notebook (None for e.g. the leaderboard)."""
    hits = [p for p in papers() if _load_doc(p)["paper"].get("notebook") == notebook]
    return hits[0] if hits else None


def _one_line(text: Any) -> str:
    return " ".join(str(text).split()) if not _is_missing(text) else ""


def collect_claims(results_dir: str | Path | None = None) -> pd.DataFrame:
    """Every run's claims ledger (``"claims"`` of each ``<notebook>.json``, see :meth:`Results.set_claims`).

    One row per ledger row, columns :data:`CLAIM_COLUMNS`: the ledger's ``paper, claim, text,
    status, evidence`` plus the run's ``notebook``, ``profile``, ``data`` (its label, e.g.
    ``synthetic (embedded)``) and ``data_kind`` (``embedded`` or ``real``). A ledger row without
    a paper (a notebook's own extra check) is given the notebook's paper.
    """
    rows = []
    for nb, meta in _runs(results_dir).items():
        for rec in meta.get("claims") or []:
            rows.append({
                "paper": _paper_of(nb) if _is_missing(rec.get("paper")) else rec["paper"],
                "claim": str(rec.get("claim")),
                "text": _one_line(rec.get("text")),
                "status": rec.get("status"),
                "evidence": _one_line(rec.get("evidence")),
                "notebook": nb,
                "profile": meta.get("profile"),
                "data": (meta.get("data") or {}).get("label"),
                "data_kind": _data_kind(meta),
            })
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))


def claims_table(results_dir: str | Path | None = None) -> pd.DataFrame:
    """One ledger over all five papers: every claim of ``serlib/reference/*.yaml``, per kind of data.

    For each paper (in order), each claim (YAML order, then any extra checks a notebook added)
    and each kind of data (``embedded`` always, ``real`` when some run used a real corpus) one row
    per run that checked it, with that run's ``status`` (held / not held / untested) and
    evidence. A run of the paper's notebook that saved no ledger row for the claim gives
    ``untested``; no run of the paper on that kind of data gives ``not run``. Columns
    :data:`CLAIM_COLUMNS`.
    """
    runs = _runs(results_dir)
    led = collect_claims(results_dir)
    kinds = [k for k in DATA_KINDS if k == "embedded" or any(_data_kind(m) == k for m in runs.values())]
    out = []
    for pid in papers():
        doc = _load_doc(pid)
        own = doc["paper"].get("notebook")
        texts = {c["id"]: _one_line(c["text"]) for c in doc["claims"]}
        mine = led[led["paper"] == pid]
        ids = list(texts) + [c for c in dict.fromkeys(mine["claim"]) if c not in texts]
        for cid in ids:
            for kind in kinds:
                checked = mine[(mine["claim"] == cid) & (mine["data_kind"] == kind)]
                base = {"paper": pid, "claim": cid, "data_kind": kind}
                for _, r in checked.iterrows():
                    text = texts.get(cid) or r["text"] or f"(extra check of {r['notebook']})"
                    out.append({**r.to_dict(), **base, "text": text})
                if len(checked):
                    continue
                ran = sorted(nb for nb, m in runs.items() if _data_kind(m) == kind
                             and (nb == own or nb in set(mine["notebook"])))
                for nb in ran:
                    why = "its claims ledger has no row for this claim" if runs[nb].get("claims") else \
                        "the run saved no claims ledger (Results.set_claims)"
                    out.append({**base, "text": texts.get(cid, ""), "status": "untested", "evidence": why,
                                "notebook": nb, "profile": runs[nb].get("profile"),
                                "data": (runs[nb].get("data") or {}).get("label")})
                if not ran:
                    out.append({**base, "text": texts.get(cid, ""), "status": "not run",
                                "evidence": f"no results of {own} on {kind} data", "notebook": own,
                                "profile": None, "data": None})
    return pd.DataFrame(out, columns=list(CLAIM_COLUMNS))


@lru_cache(maxsize=None)
def _load_headlines(path: str) -> dict[str, Any]:
    """Read and check ``headlines.yaml``; ValueError naming the file and the entry."""
    where = Path(path).name
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    if not isinstance(doc, Mapping) or not isinstance(doc.get("papers"), Mapping):
        raise ValueError(f"{where}: top level must hold a mapping 'papers' (paper id -> spec)")
    for pid, spec in doc["papers"].items():
        w = f"{where}: papers.{pid}"
        if _paper_id(pid) != pid:
            raise ValueError(f"{w}: use the paper id {_paper_id(pid)!r}")
        unknown = set(spec) - {"notebook", "ours", "mapping", "match_on", "headlines"}
        if unknown or not spec.get("notebook") or not spec.get("headlines"):
            raise ValueError(f"{w}: needs 'notebook' and 'headlines' (optional: ours, mapping, match_on); "
                             f"unknown keys {sorted(unknown)}")
        ref = load_reference(pid)
        for i, h in enumerate(spec["headlines"]):
            if not h.get("label") or not isinstance(h.get("paper"), Mapping):
                raise ValueError(f"{w}.headlines[{i}]: needs 'label' and a 'paper' selector of one reference row")
            _check_selector(h["paper"], f"{w}.headlines[{i}]")
            n = int(_select(ref, [h["paper"]]).sum())
            if n != 1:
                raise ValueError(f"{w}.headlines[{i}] ({h['label']!r}): the 'paper' selector matches {n} rows of "
                                 f"serlib/reference/{pid}.yaml; it must select exactly one")
    return dict(doc)


def headlines(path: str | Path | None = None) -> dict[str, Any]:
    """The headline spec (``serlib/reference/headlines.yaml``): per paper, the numbers shown in the README."""
    return _load_headlines(str(path or HEADLINES_FILE))["papers"]


def _headline_row(h: Mapping[str, Any], spec: Mapping[str, Any], pid: str, ours: pd.DataFrame | None,
                  confidence: float) -> dict[str, Any]:
    """Ours beside one reference row, through :func:`compare` (``ours`` None: not run)."""
    ref = load_reference(pid)
    row = ref[_select(ref, [h["paper"]])].iloc[0]
    rec = {"paper": pid, "headline": h["label"], "notebook": spec["notebook"], "metric": row["metric"],
           "unit": row["unit"], "ours": np.nan, "ours_ci": np.nan, "n": 0, "paper_value": float(row["value"]),
           "delta": np.nan, "status": "not run", "profile": None, "data": None}
    if ours is None:
        return rec
    rec["status"] = "no matching results"
    sel = [s for s in (spec.get("ours"), h.get("ours")) if s]
    if sel:
        ours = ours[np.logical_and.reduce([_select(ours, [s]) for s in sel])]
    if ours.empty:
        return rec
    cmp = compare(ours, pid, on=spec.get("match_on"), mapping=spec.get("mapping"), tables=[row["table"]],
                  confidence=confidence)
    on = [c for c in cmp.columns if c in KEY_COLUMNS]
    hit = cmp[(cmp["status"] == "matched") & (cmp["paper"] == row["value"])
              & (cmp["paper_data"].map(_key) == _key(row["corpus"]))]
    for c in on:
        fn = _metric_key if c == "metric" else _key
        hit = hit[hit[c].map(fn) == fn(row[c])]
    if len(hit):
        m = hit.iloc[0]
        rec.update(ours=float(m["ours"]), ours_ci=float(m["ours_ci"]), n=int(m["n_seeds"]), delta=float(m["delta"]),
                   status="matched", data=m["data"])
    return rec


def headlines_table(results_dir: str | Path | None = None, *, spec_path: str | Path | None = None,
                    confidence: float = 0.95) -> pd.DataFrame:
    """Each paper's headline numbers (``headlines.yaml``): ours (mean ± CI over seeds, n) | paper | delta.

    Ours come from ``<results_dir>/<notebook>.csv`` matched to the paper's row by
    :func:`compare` (with the spec's ``ours`` row selector, ``mapping`` and ``match_on``, as in the
    notebook), in the paper's unit. ``status`` is ``matched``, ``not run`` (no results file) or
    ``no matching results`` (the run has no rows for that cell). Columns :data:`HEADLINE_COLUMNS`.
    """
    folder = Path(results_dir) if results_dir is not None else paths.results_dir()
    runs = _runs(folder)
    recs = []
    for pid, spec in headlines(spec_path).items():
        nb = spec["notebook"]
        ours = read(folder / f"{nb}.csv") if nb in runs else None
        for h in spec["headlines"]:
            rec = _headline_row(h, spec, pid, ours, confidence)
            if ours is not None:
                rec["profile"] = runs[nb].get("profile")
            recs.append(rec)
    return pd.DataFrame(recs, columns=list(HEADLINE_COLUMNS))


# --------------------------------------------------------------------------- overview Markdown (summary.md, README)
def _clip(text: Any, n: int) -> str:
    """One line of at most ``n`` characters (an ellipsis marks a cut)."""
    s = _one_line(text)
    return s if len(s) <= n else s[: n - 1].rstrip() + "…"


def _ours_cell(mean: float, ci: float, n: int, unit: str) -> str:
    digits = 3 if unit == "1" else 1
    if n == 0 or not math.isfinite(mean):
        return "—"
    return f"{_fmt(mean, digits)} ± {_fmt(ci, digits)}" if n > 1 else f"{_fmt(mean, digits)} (1 seed)"


def _run_label(profile: Any, data: Any) -> str:
    return "—" if _is_missing(profile) else f"{profile}; {data}" if not _is_missing(data) else str(profile)


def headlines_markdown(table: pd.DataFrame) -> str:
    """The :func:`headlines_table` as Markdown (values in the paper's unit)."""
    rows = []
    for _, r in table.iterrows():
        digits = 3 if r["unit"] == "1" else 1
        ours = "not run" if r["status"] == "not run" else (
            _ours_cell(r["ours"], r["ours_ci"], r["n"], r["unit"]) if r["status"] == "matched" else "no matching rows")
        delta = f"{r['delta']:+.{digits}f}" if math.isfinite(r["delta"]) else "—"
        unit = {"1": "", "%": "%"}.get(r["unit"], r["unit"])
        rows.append([r["paper"], r["headline"], ours, r["n"] or "—", f"{_fmt(r['paper_value'], digits)}", delta, unit,
                     _run_label(r["profile"], r["data"])])
    return _markdown(["paper", "headline", "ours (mean ± 95 % CI)", "n", "paper", "delta", "unit", "run (profile; data)"],
                     rows)


def leaderboard_markdown(results_dir: str | Path | None = None) -> str:
    """The robustness leaderboard rebuilt from ``results/10_robustness_leaderboard.csv``, or a note.

    The table is :func:`serlib.leaderboard.leaderboard` of the tidy rows (ranked by the area
    under the UAR-vs-SNR curve, 0-20 dB), with the run's profile and data.
    """
    folder = Path(results_dir) if results_dir is not None else paths.results_dir()
    path = folder / f"{LEADERBOARD_NOTEBOOK}.csv"
    if not path.is_file():
        return f"Not run yet: `python -m serlib.run --only {LEADERBOARD_NOTEBOOK[:2]}` writes `results/{path.name}`."
    from serlib import leaderboard

    try:
        table = leaderboard.leaderboard(read(path)).drop(columns=["auc"], errors="ignore")
    except (KeyError, ValueError) as exc:
        return f"`results/{path.name}` holds no leaderboard rows ({exc})."
    meta = _runs(folder).get(LEADERBOARD_NOTEBOOK, {})
    rows = [[_cell(v) for v in r] for r in table.itertuples(index=False)]
    return (_markdown(list(table.columns), rows) + "\n\nUAR in %, mean ± 95 % CI over seeds; ranked by the area "
            "under the UAR-vs-SNR curve (0-20 dB, mean over noise families; `serlib.leaderboard`). Run: "
            + _run_label(meta.get("profile"), (meta.get("data") or {}).get("label")) + ".")


def claims_markdown(table: pd.DataFrame, *, text_chars: int = 90, evidence_chars: int = 110) -> str:
    """The :func:`claims_table`, compact (claim text and evidence clipped to one short line)."""
    rows = [[r["paper"], r["claim"], _clip(r["text"], text_chars), r["data_kind"], f"**{r['status']}**",
             _clip(r["evidence"], evidence_chars), r["notebook"] if _is_missing(r["profile"])
             else f"{r['notebook']} ({r['profile']})"] for _, r in table.iterrows()]
    return _markdown(["paper", "claim", "claim text", "data", "status", "evidence", "run"], rows)


def overview_markdown(results_dir: str | Path | None = None, *, level: int = 2, confidence: float = 0.95) -> str:
    """Headline numbers, the leaderboard and the cross-paper claims ledger of ``results_dir`` as Markdown.

    The top of ``results/summary.md`` and the README's generated results block. Deterministic
    (no dates), so the README can be checked against the committed results.
    """
    h = "#" * level
    claims_df = claims_table(results_dir)
    counts = claims_df.groupby("data_kind", sort=False)["status"].value_counts().unstack(fill_value=0)
    tally = "; ".join(f"{kind} data: " + ", ".join(f"{int(n)} {s}" for s, n in row.items() if n)
                      for kind, row in counts.iterrows())
    return "\n".join([
        f"{h} Headline numbers: ours | paper", "",
        "Ours: mean ± 95 % CI half-width over seeds (n = seeds; one seed: no interval), from the run named in the last "
        "column; paper: the paper's own number on its own corpus (IEMOCAP, MSP-Podcast, ...). Delta = ours - paper, in "
        "the paper's unit. On the embedded corpus the delta measures the data gap, not the method: read it with the "
        "claims below. Rows are chosen in `serlib/reference/headlines.yaml`.", "",
        headlines_markdown(headlines_table(results_dir, confidence=confidence)), "",
        f"{h} Robustness leaderboard (identical conditions for every method)", "",
        leaderboard_markdown(results_dir), "",
        f"{h} Claims ledger (all five papers)", "",
        "Each paper's headline claims (`serlib/reference/*.yaml`) checked on our runs: held / not held / untested "
        f"(qualitative, or nothing comparable), or not run. Tally: {tally}.", "",
        claims_markdown(claims_df), "",
        f"{h} The runs behind these tables", "",
        runs_markdown(results_dir),
    ])


def readme_block(results_dir: str | Path | None = None) -> str:
    """What stands between the README's results markers: :func:`overview_markdown` of ``results_dir``.

    ``results_dir`` defaults to the repository's ``results/`` (the committed results), whatever
    ``SERLIB_RESULTS`` says.
    """
    folder = Path(results_dir) if results_dir is not None else paths.REPO / "results"
    return ("\n<!-- generated by `python -m serlib.run --update-readme` from results/: do not edit by hand -->\n\n"
            + overview_markdown(folder, level=3) + "\n\n")


def _readme_parts(text: str, where: Path) -> tuple[str, str, str]:
    """(before, block, after) around the results markers; ValueError naming the file when they are missing."""
    i, j = text.find(README_BEGIN), text.find(README_END)
    if i < 0 or j < i:
        raise ValueError(f"{where}: no {README_BEGIN} ... {README_END} markers (in that order); add them where the "
                         "generated results belong")
    return text[: i + len(README_BEGIN)], text[i + len(README_BEGIN): j], text[j:]


def readme_current_block(readme: str | Path | None = None) -> str:
    """The block now between the results markers of the README."""
    path = Path(readme) if readme is not None else paths.REPO / "README.md"
    return _readme_parts(path.read_text(encoding="utf-8"), path)[1]


def update_readme(readme: str | Path | None = None, results_dir: str | Path | None = None) -> bool:
    """Regenerate the README's results block from ``results_dir`` (:func:`readme_block`); True when it changed."""
    path = Path(readme) if readme is not None else paths.REPO / "README.md"
    before, old, after = _readme_parts(path.read_text(encoding="utf-8"), path)
    new = readme_block(results_dir)
    if new == old:
        return False
    atomic_write(path, lambda tmp: Path(tmp).write_text(before + new + after, encoding="utf-8"))
    return True


# --------------------------------------------------------------------------- paired comparison over seeds
def paired_effects(
    df: pd.DataFrame,
    a: str,
    b: str,
    *,
    by: Sequence[str],
    method: str = "method",
    value: str = "value",
    seed: str = "seed",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Seed-paired comparison of method ``a`` against method ``b`` in every group of ``by``.

    Returns one row per group: the ``by`` columns, ``mean_a, ci_a, mean_b, ci_b`` (mean and CI
    half-width over seeds), ``diff`` and ``diff_ci`` (mean and CI of the per-seed ``a - b``),
    ``t`` and ``p`` (two-tailed paired t-test; NaN with fewer than 2 seeds or constant
    differences) and ``n`` (seeds present for both methods). Seeds that only one method has
    are dropped. Values stay in the frame's unit (fractions for proportions).
    """
    from serlib import metrics

    by = list(by)
    missing = [c for c in [*by, method, value, seed] if c not in df.columns]
    if missing:
        raise KeyError(f"paired_effects: the frame has no column(s) {missing}")
    have = set(df[method].astype(str))
    for name in (a, b):
        if name not in have:
            raise ValueError(f"paired_effects: no rows of method {name!r}; methods are {sorted(have)}")
    work = df[df[method].astype(str).isin([a, b])].copy()
    work[value] = work[value].astype(float)
    keys = [*by, method, seed]
    per_seed = work.groupby(keys, dropna=False, sort=False)[value].mean().reset_index()
    wide = per_seed.pivot_table(index=[*by, seed] if by else [seed], columns=method, values=value,
                                dropna=False).reset_index()
    wide = wide.dropna(subset=[a, b])
    rows = []
    groups = wide.groupby(by, dropna=False, sort=False) if by else [((), wide)]
    for gkey, grp in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        va, vb = grp[a].to_numpy(float), grp[b].to_numpy(float)
        d = va - vb
        ma, ca = metrics.mean_ci(va, confidence)
        mb, cb = metrics.mean_ci(vb, confidence)
        md, cd = metrics.mean_ci(d, confidence)
        if len(d) >= 2 and np.ptp(d) > 0:
            t, p = metrics.paired_t(va, vb)
        else:
            t, p = np.nan, np.nan
        rows.append({**dict(zip(by, gkey)), "mean_a": ma, "ci_a": ca, "mean_b": mb, "ci_b": cb,
                     "diff": md, "diff_ci": cd, "t": t, "p": p, "n": int(len(d))})
    out = pd.DataFrame(rows, columns=[*by, "mean_a", "ci_a", "mean_b", "ci_b", "diff", "diff_ci", "t", "p", "n"])
    out.attrs.update(a=a, b=b)
    return out


def _main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - thin CLI
    """``python -m serlib.results [results_dir]``: print the summary Markdown."""
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else paths.results_dir()
    print(summary_markdown(collect(folder), results_dir=folder))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())

"""The papers' own numbers and claims (``serlib/reference/<paper>.yaml``), read and checked.

- :func:`papers`, :func:`reference` (the whole validated document), :func:`load_reference` (the
  printed numbers as a tidy frame), :func:`claims` (the headline claims).
- The value-matching rules shared by :mod:`serlib.results` (``compare``) and :mod:`serlib.ledger`:
  ``_key`` (case-insensitive text, numbers by value, '' for missing), ``_metric_key`` (aliases:
  ``war`` = ``accuracy``), ``_select`` (rows matching selectors; a selector naming a column the
  rows lack is an error), and which metrics are proportions or lower-is-better.

Reference files (schema, checked on load)
-----------------------------------------
``paper`` (id, short, title, citation, ...), ``metrics`` (name -> unit, higher_is_better,
description), ``tables`` (id, caption, train_corpus, test_corpus, ... ``snrs_averaged_db``
when the table averages over SNRs), ``rows`` (one printed number each, keys in
:data:`ROW_KEYS` plus any of :data:`OPTIONAL_ROW_KEYS`) and ``claims`` (id, text, ``expect``,
``support`` selectors; optional :data:`OPTIONAL_CLAIM_KEYS`: ``except`` selectors, ``caveat``,
``aggregate`` (each | pooled), ``size`` ([low, high] in the paper's unit), ``decided_by``).
``snr`` is a number (dB), ``null`` (no noise) or ``"avg"`` (the table's average over
``snrs_averaged_db``). How claims are decided: :mod:`serlib.ledger`.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

__all__ = ["papers", "reference", "load_reference", "claims", "percent_metric", "KEY_COLUMNS", "CONDITION_COLUMNS"]

PROPORTION_METRICS = frozenset({"uar", "war", "accuracy", "f1", "macro_f1", "precision", "recall", "balanced_accuracy"})
"""Metrics stored as fractions in [0, 1]."""

UNBOUNDED_PROPORTIONS = frozenset({"wer", "cer"})
"""Error rates stored as fractions that may exceed 1 (insertions)."""

LOWER_IS_BETTER = frozenset({"wer", "cer", "loss", "mse", "eer"})
"""Metrics where smaller is better (used when a reference does not say)."""

METRIC_ALIASES = {"wa": "accuracy", "war": "accuracy", "acc": "accuracy", "ua": "uar", "balanced_accuracy": "uar",
                  "f1_macro": "macro_f1"}
"""Names that mean the same metric; :func:`compare` matches on the canonical name."""

REFERENCE_DIR = Path(__file__).with_name("reference")

ROW_KEYS = ("table", "method", "train_condition", "test_condition", "noise_type", "snr", "metric", "value")
OPTIONAL_ROW_KEYS = ("corpus", "train_corpus", "attribute", "augmentation", "sd", "stated_improvement",
                     "significant_vs", "note")
CLAIM_KEYS = ("id", "text", "expect", "support")
OPTIONAL_CLAIM_KEYS = ("except", "caveat", "aggregate", "size", "decided_by")
AGGREGATES = ("each", "pooled")
KEY_COLUMNS = ("method", "attribute", "augmentation", "train_condition", "test_condition", "noise_type", "snr",
               "metric", "corpus", "train_corpus")
"""Columns that identify a condition (used to pair rows in claims and to match in compare)."""
CONDITION_COLUMNS = ("test_condition", "noise_type", "snr")
_EXTRA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --------------------------------------------------------------------------- matching values
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
        unknown = [k for k in c if k not in CLAIM_KEYS and k not in OPTIONAL_CLAIM_KEYS]
        if unknown:
            raise ValueError(f"{cw} has unknown keys {unknown}; allowed: {CLAIM_KEYS + OPTIONAL_CLAIM_KEYS}")
        for sel in list(c["support"]) + list(c.get("except", [])):
            _check_selector(sel, cw)
        if c.get("aggregate", "each") not in AGGREGATES:
            raise ValueError(f"{cw}: aggregate must be one of {AGGREGATES}, got {c['aggregate']!r}")
        size = c.get("size")
        if size is not None and not (isinstance(size, list) and len(size) == 2
                                     and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in size)
                                     and size[0] <= size[1]):
            raise ValueError(f"{cw}: size must be [low, high] in the paper's unit (low <= high), got {size!r}")
        if "decided_by" in c and not (isinstance(c["decided_by"], str) and c["decided_by"].startswith("serlib.")):
            raise ValueError(f"{cw}: decided_by must name a function such as 'serlib.ledger.trnet_alignment'")
        exp = c["expect"]
        if exp is not None:
            if not isinstance(exp, Mapping) or not (("better" in exp and "than" in exp) or "order" in exp):
                raise ValueError(f"{cw}: expect must be null, {{better, than}} or {{order}}, got {exp!r}")
            if not c["support"]:
                raise ValueError(f"{cw}: a machine-checkable claim needs support selectors")
            by = exp.get("by", "method")
            if by not in KEY_COLUMNS:
                raise ValueError(f"{cw}: expect.by {by!r} must be one of {KEY_COLUMNS}")
            ign = exp.get("ignore", [])
            if not isinstance(ign, list) or not all(isinstance(x, str) and _EXTRA_NAME.match(x) for x in ign):
                raise ValueError(f"{cw}: expect.ignore must be a list of column names, got {ign!r}")
    return dict(doc)


@lru_cache(maxsize=None)
def _load_doc(name: str) -> dict[str, Any]:
    path = REFERENCE_DIR / f"{name}.yaml"
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    return _validate_reference(doc, name)


def reference(paper: str | int) -> dict[str, Any]:
    """The whole validated reference document of ``paper`` (paper, metrics, tables, rows, claims)."""
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


# --------------------------------------------------------------------------- selecting rows
def _select(df: pd.DataFrame, selectors: Sequence[Mapping[str, Any]], *, where: str = "selector") -> pd.Series:
    """Boolean mask of rows matching any of ``selectors`` (a selector matches all its columns).

    Values match as in :func:`compare` (case-insensitive, numbers by value). A selector naming
    a column the frame does not have is an error (KeyError naming it), never silently ignored:
    e.g. a claim about the paper's Table 1 needs a ``table`` column in our rows.
    """
    mask = pd.Series(False, index=df.index)
    for sel in selectors:
        missing = [c for c in sel if c not in df.columns]
        if missing:
            raise KeyError(f"{where}: selects on column(s) {missing} that the rows do not have (columns: "
                           f"{list(df.columns)}); add them to the rows (e.g. rows.assign(table='1')) or fix the selector")
        m = pd.Series(True, index=df.index)
        for col, want in sel.items():
            wants = {_key(w) for w in (want if isinstance(want, (list, tuple, set)) else [want])}
            m &= df[col].map(_key).isin(wants)
        mask |= m
    return mask

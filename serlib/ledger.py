"""The claims ledger: each paper's claims decided on our runs by paired statistics.

A claim of ``serlib/reference/<paper>.yaml`` (:mod:`serlib.papers`) says that A beats B
(``expect: {better, than}``) or that levels come in an order (``expect: {order}``) on the rows its
``support`` selectors pick. :func:`decide` turns it into one **record** (:data:`RECORD_COLUMNS`):
``paper, claim, text, status, n, effect, ci_low, ci_high, p, test, unit, evidence`` (+ ``mde``).

How a claim is decided
----------------------
1. **Rows.** Our tidy rows (after ``mapping``, as in :func:`serlib.results.compare`) that match
   ``support`` minus ``except``, restricted to the metrics the paper reports. A selector naming a
   column our rows lack is an error (KeyError), never ignored. Where the claim's table averages
   over SNRs (``snrs_averaged_db``), each run's noisy rows are averaged over SNRs first, as the
   paper's cell is; no other rows are ever pooled: rows that differ in any column besides the
   pairing keys and ``value`` stay apart (they become separate comparisons, or no comparison).
2. **Comparisons.** Rows are grouped by every column except ``by`` (``method`` by default), the
   claim's ``ignore`` columns and, when ``by`` is a test-condition column, the other condition
   columns. In each group every cell of A meets every cell of B; their values are **paired by
   run**: same ``seed`` x ``fold`` (a frame without ``fold`` is one fold). The paired difference is
   oriented so that a positive value is the claimed direction (lower WER is better) and expressed
   in the paper's unit (points for % metrics).
3. **Test per comparison.** n >= 3 pairs: one-sided paired t-test in the claimed direction, the 95 %
   t interval of the mean difference, and a one-sided Wilcoxon signed-rank p as a reported check.
   n < 3: with per-utterance ``predictions`` (see below) of at least :data:`MIN_UTTERANCES` test
   utterances, a paired bootstrap over test utterances (:data:`N_BOOT` resamples; one-sided p = share
   of resampled mean differences <= 0; percentile interval); without them no test: n is too small.
4. **Several comparisons.** ``aggregate: each`` (the default: the papers' claims say "every noise
   type", "both attributes", ...): Holm's adjustment across the comparisons, once for the claimed
   direction and once for the reverse. ``aggregate: pooled`` (a claim about an average): each run's
   differences are averaged over the comparisons first, then one test.
5. **Status.** ``held``: every comparison significant in the claimed direction (Holm-adjusted
   one-sided p < :data:`ALPHA`); ``contradicted``: some comparison significant the other way;
   ``inconclusive``: neither (the record gives n and ``mde``, the smallest effect these runs could
   have detected with 80 % power). Where the paper states a size (``size: [low, high]`` in its unit)
   a held claim whose every interval lies above / below it reads ``held, larger than claimed`` /
   ``held, smaller than claimed``. ``untested``: a qualitative claim or no comparable rows;
   ``not run``: no results (:func:`claims_table`). Nothing is held or contradicted from fewer than
   3 runs without the utterance-level bootstrap.

The record's ``n``, ``effect``, interval, ``p`` and ``test`` are those of the deciding comparison:
the weakest one for held and inconclusive claims (largest adjusted p), the most reversed one for a
contradicted claim; ``p`` is the Holm-adjusted one-sided p in the claimed direction.

Per-utterance predictions
-------------------------
``predictions``: one row per test utterance and run, with ``utt_id``, ``y_true`` and ``y_pred``
(labels; transcripts for WER; continuous values for CCC) and the columns that name the result row
they belong to (``method``, ``seed``, ``fold``, condition columns, ...; every column the two share
is matched, after ``mapping``; a column only the predictions have, such as ``fold`` when the
result pools folds, is pooled). Each matched set must reproduce the stored value (else
ValueError). Utterances are resampled jointly, so paired systems see the same resample.

Claims decided by notebook data
-------------------------------
Four claims need more than tidy rows; their YAML entries name the function (``decided_by``):
:func:`ladder_decoupling` (paper 2, c6), :func:`ladder_clean_equal` (paper 2, clean-equal),
:func:`trnet_snr_coefficient` (paper 3, c7), :func:`trnet_alignment` (paper 3, c8). They return
the same record; :func:`merge` puts them into the paper's ledger.

Across papers
-------------
:func:`collect_claims` reads every run's records back from ``results/*.json``
(:meth:`serlib.results.Results.set_claims`); :func:`claims_table` lays every claim of the five
papers against them, per kind of data (embedded / real); :func:`tally` counts statuses.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from serlib import metrics
from serlib.papers import (
    CONDITION_COLUMNS,
    _higher_is_better,
    _is_missing,
    _key,
    _load_doc,
    _metric_key,
    _paper_id,
    _select,
    claims,
    papers,
    percent_metric,
)
from serlib.results import CLAIM_FIELDS, _apply_mapping, _normalise_mapping, runs

__all__ = [
    "ALPHA", "POWER", "N_BOOT", "MIN_PAIRS", "MIN_UTTERANCES", "PAIR_KEYS", "STATUSES", "RECORD_COLUMNS", "CLAIM_COLUMNS",
    "Comparison", "decide", "decide_claim", "cells", "record", "merge", "verdict", "paired_effects",
    "ladder_decoupling", "ladder_clean_equal", "trnet_snr_coefficient", "trnet_alignment",
    "collect_claims", "claims_table", "tally",
]

ALPHA = 0.05
"""One-sided significance level, after Holm's adjustment."""
POWER = 0.80
"""Power at which the smallest detectable effect (``mde``) is reported."""
CONFIDENCE = 0.95
N_BOOT = 2000
"""Bootstrap resamples over test utterances."""
MIN_PAIRS = 3
"""Fewest paired runs for a t-test (:data:`serlib.metrics.MIN_N_INTERVAL`)."""
MIN_UTTERANCES = 20
"""Fewest test utterances (per run and condition) for the bootstrap: resampling a handful of
utterances understates the spread and would decide claims on noise (e.g. a smoke run)."""
PAIR_KEYS = ("seed", "fold")
"""The columns that identify a run; comparisons pair runs that share them."""
STATUSES = ("held", "held, smaller than claimed", "held, larger than claimed", "contradicted", "inconclusive",
            "untested", "not run")
RECORD_COLUMNS = (*CLAIM_FIELDS, "mde")
"""A record's fields: :data:`serlib.results.CLAIM_FIELDS` plus ``mde`` (smallest detectable effect)."""
CLAIM_COLUMNS = (*RECORD_COLUMNS, "notebook", "profile", "data", "data_kind")
"""Columns of :func:`collect_claims` and :func:`claims_table`."""
DATA_KINDS = ("embedded", "real")
_NOT_KEYS = ("value",)


# --------------------------------------------------------------------------- one comparison
@dataclass
class Comparison:
    """One paired comparison: per-run values of the tested quantity, oriented so that positive is
    the claimed direction, in ``unit``.

    ``kind="greater"``: H1 mean > ``margin``; ``kind="within"``: H1 |mean| < ``margin`` (an
    equivalence claim, two one-sided tests). ``boot``: bootstrap distribution of the mean (over
    test utterances), used when there are fewer than :data:`MIN_PAIRS` runs. ``size``: the
    paper's stated effect ``(low, high)``.
    """

    label: str
    values: np.ndarray
    unit: str
    boot: np.ndarray | None = None
    n_utts: int = 0
    margin: float = 0.0
    kind: str = "greater"
    size: tuple[float, float] | None = None
    pairs: tuple = ()
    cell: Any = None

    @property
    def n(self) -> int:
        return int(len(self.values))

    @property
    def effect(self) -> float:
        return float(np.mean(self.values)) if self.n else float("nan")

    @property
    def testable(self) -> bool:
        return self.boot is not None or self.n >= MIN_PAIRS

    def _p_above(self, m: float) -> float:
        """One-sided p of H1: mean > m."""
        if self.boot is not None:
            return float((1 + np.sum(self.boot <= m)) / (len(self.boot) + 1))
        if self.n < MIN_PAIRS:
            return float("nan")
        sd = float(np.std(self.values, ddof=1))
        if sd == 0.0:
            return 0.0 if self.effect > m else 1.0
        return float(stats.t.sf((self.effect - m) / (sd / math.sqrt(self.n)), self.n - 1))

    def _p_below(self, m: float) -> float:
        if self.boot is not None:
            return float((1 + np.sum(self.boot >= m)) / (len(self.boot) + 1))
        if self.n < MIN_PAIRS:
            return float("nan")
        sd = float(np.std(self.values, ddof=1))
        if sd == 0.0:
            return 0.0 if self.effect < m else 1.0
        return float(stats.t.cdf((self.effect - m) / (sd / math.sqrt(self.n)), self.n - 1))

    @property
    def p_held(self) -> float:
        """One-sided p in the claimed direction (unadjusted)."""
        if self.kind == "within":
            return max(self._p_above(-self.margin), self._p_below(self.margin))
        return self._p_above(self.margin)

    @property
    def p_reversed(self) -> float:
        """One-sided p of the reverse (unadjusted)."""
        if self.kind == "within":
            return min(1.0, 2 * min(self._p_below(-self.margin), self._p_above(self.margin)))
        return self._p_below(self.margin)

    def interval(self) -> tuple[float, float]:
        """95 % interval of the mean: bootstrap percentiles, t interval (n >= 3), else NaN."""
        if self.boot is not None:
            lo, hi = np.percentile(self.boot, [100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2])
            return float(lo), float(hi)
        if self.n < MIN_PAIRS:
            return float("nan"), float("nan")
        mean, half = metrics.mean_ci(self.values, CONFIDENCE)
        return mean - half, mean + half

    def mde(self) -> float:
        """Smallest true effect detectable with :data:`POWER` at one-sided :data:`ALPHA` (NaN: no test)."""
        z = stats.norm.ppf(1 - ALPHA) + stats.norm.ppf(POWER)
        if self.boot is not None:
            sd = float(np.std(self.boot, ddof=1))
            return float(z * sd) if sd > 0 else float("nan")   # resamples that never differ detect nothing
        if self.n < MIN_PAIRS:
            return float("nan")
        se = float(np.std(self.values, ddof=1)) / math.sqrt(self.n)
        if se == 0.0:
            return 0.0
        df, crit = self.n - 1, stats.t.ppf(1 - ALPHA, self.n - 1)
        from scipy.optimize import brentq

        nc = brentq(lambda d: stats.nct.sf(crit, df, d) - POWER, 0.0, 50.0)
        return float(nc * se)

    def wilcoxon(self) -> float:
        """One-sided Wilcoxon signed-rank p (claimed direction), the t-test's reported check; NaN if undefined."""
        d = self.values - self.margin
        if self.boot is not None or self.n < MIN_PAIRS or self.kind != "greater" or not np.any(d != 0):
            return float("nan")
        return float(stats.wilcoxon(d, alternative="greater").pvalue)

    def test(self) -> str:
        if self.boot is not None:
            return (f"paired bootstrap over {self.n_utts} test utterances ({len(self.boot)} resamples, "
                    f"{self.n} run{'s' if self.n != 1 else ''})")
        if self.n >= MIN_PAIRS:
            w = self.wilcoxon()
            tost = "two one-sided t-tests" if self.kind == "within" else "one-sided paired t"
            return f"{tost}, n = {self.n} runs" + (f"; Wilcoxon p = {w:.2g}" if math.isfinite(w) else "")
        why = (f"fewer than {MIN_UTTERANCES} test utterances to resample" if self.n_utts
               else "no per-utterance predictions")
        return f"none: n = {self.n} < {MIN_PAIRS} runs and {why}"


# --------------------------------------------------------------------------- verdicts and records
def _num(x: float, unit: str) -> str:
    if x is None or not math.isfinite(x):
        return "nan"
    return f"{x:+.3f}" if unit in ("1", "") else f"{x:+.2f}"


def verdict(comparisons: Sequence[Comparison], *, alpha: float = ALPHA) -> dict[str, Any]:
    """Status and statistics of a claim from its comparisons (Holm across them; module docstring).

    Returns ``status, n, effect, ci_low, ci_high, p, test, unit, mde, evidence``.
    """
    comps = list(comparisons)
    if not comps:
        raise ValueError("verdict: no comparisons")
    k = len(comps)
    ph = metrics.holm([c.p_held for c in comps])
    pr = metrics.holm([c.p_reversed for c in comps])
    held = np.array([math.isfinite(p) and p < alpha for p in ph])
    rev = np.array([math.isfinite(p) and p < alpha for p in pr])
    if rev.any():
        status, i = "contradicted", int(np.nanargmin(pr))
    elif held.all():
        status, i = "held", int(np.nanargmax(ph))
    else:
        blocking = [j for j in range(k) if not comps[j].testable]
        i = blocking[0] if blocking else int(np.nanargmax(np.where(held, -np.inf, ph)))
        status = "inconclusive"
    c = comps[i]
    lo, hi = c.interval()
    if status == "held":
        sizes = [(x, x.interval()) for x in comps if x.size is not None]
        if sizes and all(iv[1] < x.size[0] for x, iv in sizes):
            status = "held, smaller than claimed"
        elif sizes and all(iv[0] > x.size[1] for x, iv in sizes):
            status = "held, larger than claimed"
    unit = c.unit
    head = (f"{k} comparisons (Holm): {int(held.sum())} significant as claimed, "
            f"{sum(x.kind == 'greater' and x.effect < 0 for x in comps)} reversed "
            f"({int(rev.sum())} significantly), {sum(not x.testable for x in comps)} untestable"
            if k > 1 else "1 comparison")
    where = f"{'deciding' if k > 1 else 'it'}: {c.label}: {_num(c.effect, unit)}"
    if math.isfinite(lo):
        where += f" [{_num(lo, unit)}, {_num(hi, unit)}]"
    if c.kind == "within":
        where += f" (claimed: within ±{c.margin:g})"
    parts = [head, where]
    if status.startswith("held") and c.size is not None:
        parts.append(f"paper states {c.size[0]:g} to {c.size[1]:g}")
    mde = c.mde()
    if status == "inconclusive":
        if c.testable and not math.isfinite(mde):
            parts.append("the resampled differences never vary (e.g. both systems constant): nothing detectable")
        elif c.testable:
            parts.append(f"smallest effect detectable at {POWER:.0%} power: {mde:.3g}"
                         + ("" if unit in ("1", "") else f" {unit}"))
        else:
            vals = ", ".join(f"{v:.3g}" for v in c.values)
            parts.append(f"n = {c.n} run{'s' if c.n != 1 else ''} ({vals}): too few for a test"
                         + (f" (and fewer than {MIN_UTTERANCES} test utterances)" if c.n_utts else
                            " without per-utterance predictions"))
    test = c.test() + (f"; Holm over {k}" if k > 1 else "")
    return {"status": status, "n": c.n, "effect": c.effect, "ci_low": lo, "ci_high": hi, "p": float(ph[i]),
            "test": test, "unit": unit, "mde": mde, "evidence": "; ".join(parts)}


def record(paper: str | int, claim: str, status: str, evidence: str, *, text: str | None = None, n: int = 0,
           effect: float = float("nan"), ci_low: float = float("nan"), ci_high: float = float("nan"),
           p: float = float("nan"), test: str = "", unit: str = "", mde: float = float("nan")) -> dict[str, Any]:
    """One ledger record (:data:`RECORD_COLUMNS`), the claim's text taken from the paper's YAML.

    ``status`` must be one of :data:`STATUSES`; ``evidence`` must say what was compared. A claim
    that is not in the YAML needs ``text``.
    """
    if status not in STATUSES:
        raise ValueError(f"record({claim!r}): status {status!r} is not one of {STATUSES}")
    if not isinstance(evidence, str) or not evidence.strip():
        raise ValueError(f"record({claim!r}): evidence must say what was compared")
    pid = _paper_id(paper)
    found = [c for c in claims(pid) if c["id"] == claim]
    if not found and not text:
        raise KeyError(f"{pid}: no claim {claim!r} (claims: {[c['id'] for c in claims(pid)]}); pass text= for "
                       "a check of your own")
    return {"paper": pid, "claim": str(claim), "text": " ".join((text or found[0]["text"]).split()),
            "status": status, "n": int(n), "effect": float(effect), "ci_low": float(ci_low),
            "ci_high": float(ci_high), "p": float(p), "test": test, "unit": unit, "evidence": evidence.strip(),
            "mde": float(mde)}


def _from_comparisons(paper: str, claim: str, comps: Sequence[Comparison], prefix: str = "",
                      alpha: float = ALPHA) -> dict[str, Any]:
    v = verdict(comps, alpha=alpha)
    evidence = (prefix + "; " if prefix else "") + v.pop("evidence")
    return record(paper, claim, v.pop("status"), evidence, **v)


def merge(ledger: pd.DataFrame, *records: Mapping[str, Any]) -> pd.DataFrame:
    """``ledger`` with the rows of the same claim replaced by ``records`` (others appended)."""
    new = {r["claim"]: dict(r) for r in records}
    rows = [new.pop(r["claim"], r) for r in ledger.to_dict("records")]
    return pd.DataFrame([*rows, *new.values()], columns=list(RECORD_COLUMNS))


# --------------------------------------------------------------------------- rows -> comparisons
def _run_label(row: Mapping[str, Any], pk: Sequence[str]) -> str:
    """A run's label from its pairing keys ('seed=0|fold=a'); a frame without them is one run."""
    return "|".join(f"{c}={_key(row.get(c))}" for c in pk) if pk else "run"


def _runs_of(frame: pd.DataFrame) -> list[str]:
    pk = [c for c in PAIR_KEYS if c in frame.columns]
    return [_run_label(r, pk) for r in frame[pk].to_dict("records")] if pk else ["run"] * len(frame)


def _norm(col: str, v: Any) -> str:
    return _metric_key(v) if col == "metric" else _key(v)


def _rows_for(claim: Mapping[str, Any], ours: pd.DataFrame, doc: Mapping[str, Any]) -> tuple[list[dict], list[str], str]:
    """The claim's rows as dicts (``_k``: normalised key values, ``_run``, ``_members``: the original
    row labels behind the row), selected, restricted to the paper's metrics and SNR-averaged where
    the claim's table is; plus the key columns and a note on what was done."""
    cid = claim.get("id", "?")
    where = f"claim {cid}"
    sub = ours[_select(ours, claim.get("support", []), where=where)]
    if claim.get("except"):
        sub = sub[~_select(sub, claim["except"], where=where)]
    note = f"support selected {len(sub)} rows"
    if "metric" in sub.columns:
        wanted = {_metric_key(m) for m in doc["metrics"]}
        sub = sub[sub["metric"].map(_metric_key).isin(wanted)]
    pk = [c for c in PAIR_KEYS if c in sub.columns]
    keys = [c for c in sub.columns if c not in (*_NOT_KEYS, *pk)]
    averaged = {str(t["id"]) for t in doc["tables"] if t.get("snrs_averaged_db")}
    snrs, grouped = set(), {}
    for label, row in zip(sub.index, sub.to_dict("records")):
        k = {c: _norm(c, row[c]) for c in keys}
        avg = bool(averaged) and "table" in k and k["table"] in averaged and k.get("snr", "") not in ("", "avg")
        if avg:
            snrs.add(float(row["snr"]))
            row["snr"], k["snr"] = "avg", "avg"
        run = _run_label(row, pk)
        gk = (tuple(k.values()), run)
        if gk in grouped:
            if not (avg and grouped[gk]["_avg"]):
                raise ValueError(f"{where}: two rows share every column ({k}) in run {run}: the same condition "
                                 "recorded twice; add a column that tells them apart")
            grouped[gk]["_values"].append(float(row["value"]))
            grouped[gk]["_members"].append(label)
        else:
            grouped[gk] = {**row, "_k": k, "_run": run, "_avg": avg, "_values": [float(row["value"])],
                           "_members": [label]}
    if snrs:
        note += f"; noisy rows averaged over {', '.join(f'{v:g}' for v in sorted(snrs))} dB per run, as the paper's table"
    rows = []
    for r in grouped.values():
        r["value"] = float(np.mean(r.pop("_values")))
        rows.append(r)
    return rows, keys, note


def _display(v: Any) -> str:
    if _is_missing(v):
        return ""
    return f"{float(v):g}" if isinstance(v, (float, np.floating, int, np.integer)) and not isinstance(v, bool) else str(v)


def _unit_of(metric: Any, doc: Mapping[str, Any]) -> tuple[str, float, bool]:
    """(unit, scale, higher_is_better) of a metric in the paper's terms ("points" for % metrics)."""
    key = _metric_key(metric) if not _is_missing(metric) else ""
    spec = {_metric_key(m): s for m, s in doc["metrics"].items()}.get(key)
    unit = str(spec["unit"]) if spec else ("%" if percent_metric(key) else "1")
    hib = bool(spec["higher_is_better"]) if spec else _higher_is_better(key)
    scale = 100.0 if unit == "%" and percent_metric(key) else 1.0
    return ("points" if unit == "%" else unit), scale, hib


@dataclass
class _Cell:
    """One comparison's raw material: per-run A and B rows (``run -> row dict``, members included)."""

    label: str
    a: dict[str, dict]
    b: dict[str, dict]
    unit: str
    scale: float
    sign: float


def _cells(claim: Mapping[str, Any], rows: list[dict], keys: list[str], doc: Mapping[str, Any]) -> list[_Cell]:
    exp = claim["expect"]
    by = exp.get("by", "method")
    if not rows or by not in keys:
        return []
    drop = {by, *exp.get("ignore", [])} | (set(CONDITION_COLUMNS) if by in CONDITION_COLUMNS else set())
    match = [c for c in keys if c not in drop]
    sub_keys = [c for c in keys if c != by]
    varying = [c for c in sub_keys if len({r["_k"][c] for r in rows}) > 1]
    if "order" in exp:
        chain = [_key("" if (by == "snr" and str(v).lower() == "clean") else v) for v in exp["order"]]
    else:
        better = [_key(v) for v in (exp["better"] if isinstance(exp["better"], list) else [exp["better"]])]
        than = [_key(v) for v in (exp["than"] if isinstance(exp["than"], list) else [exp["than"]])]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r["_k"][c] for c in match), []).append(r)
    out = []
    for members in groups.values():
        levels = {r["_k"][by] for r in members}
        if "order" in exp:
            present = [v for v in chain if v in levels]
            steps = list(zip(present[:-1], present[1:]))
        else:
            steps = [(a, b) for a in better for b in than if a in levels and b in levels]
        for a, b in steps:
            sides = []
            for level in (a, b):
                cells_: dict[tuple, dict[str, dict]] = {}
                for r in members:
                    if r["_k"][by] == level:
                        cells_.setdefault(tuple(r["_k"][c] for c in sub_keys), {})[r["_run"]] = r
                sides.append(list(cells_.values()))
            for ra in sides[0]:
                for rb in sides[1]:
                    first, other = next(iter(ra.values())), next(iter(rb.values()))
                    unit, scale, hib = _unit_of(first.get("metric"), doc)
                    differ = [c for c in sub_keys if first["_k"][c] != other["_k"][c]]
                    shared = [_display(first[c]) for c in varying if c not in differ]

                    def side(r: Mapping[str, Any]) -> str:
                        name = _display(r[by]) or ("clean" if by == "snr" else "none")
                        own = ", ".join(v for v in (_display(r[c]) for c in differ) if v and v != name)
                        return name + (f" ({own})" if own else "")

                    label = f"{side(first)} vs {side(other)}"
                    label += f" [{' / '.join(e for e in shared if e)}]" if any(shared) else ""
                    out.append(_Cell(label, ra, rb, unit, scale, 1.0 if hib else -1.0))
    return out


def _paired_values(cell: _Cell) -> tuple[list[str], np.ndarray]:
    """The runs both sides have and the oriented, scaled differences A - B on them."""
    runs_ = [r for r in cell.a if r in cell.b]
    vals = np.array([(cell.a[r]["value"] - cell.b[r]["value"]) * cell.scale * cell.sign for r in runs_], dtype=float)
    return runs_, vals


# --------------------------------------------------------------------------- bootstrap over utterances
class _Bootstrap:
    """Scores of result rows recomputed on resampled test utterances (one shared resampling)."""

    def __init__(self, rows: pd.DataFrame, predictions: pd.DataFrame, n_boot: int, seed: int):
        need = {"utt_id", "y_true", "y_pred"}
        if not need <= set(predictions.columns):
            raise KeyError(f"predictions need the columns {sorted(need)}; have {list(predictions.columns)}")
        self.rows, self.pred = rows, predictions
        self.match = [c for c in predictions.columns if c in rows.columns and c not in ("value", *need)]
        self._norm = pd.DataFrame({c: predictions[c].map(_metric_key if c == "metric" else _key)
                                   for c in self.match}, index=predictions.index)
        self.utts = pd.Index(pd.unique(predictions["utt_id"].astype(str)))
        self.w = metrics.bootstrap_weights(len(self.utts), n_boot, seed)
        self._cache: dict[Any, np.ndarray | None] = {}

    def scores(self, label: Any) -> np.ndarray | None:
        """Bootstrap scores (B,) of one original result row, or None when no predictions match it."""
        if label in self._cache:
            return self._cache[label]
        row = self.rows.loc[label]
        mask = np.ones(len(self.pred), dtype=bool)
        for c in self.match:
            want = _metric_key(row[c]) if c == "metric" else _key(row[c])
            mask &= (self._norm[c] == want).to_numpy()
        sel = self.pred[mask]
        out = None
        if len(sel):
            if sel["utt_id"].astype(str).duplicated().any():
                raise ValueError(f"predictions: utterances repeat within the rows matching result row {dict(row)}; "
                                 f"add the column that tells them apart ({self.match} are matched)")
            metric = row.get("metric", "uar")
            pos = self.utts.get_indexer(sel["utt_id"].astype(str))
            full = metrics.weighted_scores(metric, sel["y_true"].to_numpy(), sel["y_pred"].to_numpy(),
                                           np.ones((1, len(sel))))[0]
            if not np.isclose(full, float(row["value"]), rtol=1e-6, atol=1e-9):
                raise ValueError(f"predictions give {metric} = {full:.6g} for the result row {dict(row)} whose value is "
                                 f"{float(row['value']):.6g}: the predictions do not belong to these results")
            self.n_utts = getattr(self, "n_utts", 0) or len(sel)
            if len(sel) >= MIN_UTTERANCES:
                out = metrics.weighted_scores(metric, sel["y_true"].to_numpy(), sel["y_pred"].to_numpy(),
                                              self.w[:, pos])
        self._cache[label] = out
        return out

    def mean_diff(self, cell: _Cell, runs_: Sequence[str]) -> np.ndarray | None:
        """Bootstrap distribution of the cell's mean paired difference over ``runs_``, or None."""
        diffs = []
        for run in runs_:
            sides = []
            for side in (cell.a, cell.b):
                got = [self.scores(m) for m in side[run]["_members"]]
                if any(g is None for g in got):
                    return None
                sides.append(np.mean(got, axis=0))
            diffs.append((sides[0] - sides[1]) * cell.scale * cell.sign)
        return np.mean(diffs, axis=0) if diffs else None


def _comparisons(claim: Mapping[str, Any], ours: pd.DataFrame, doc: Mapping[str, Any],
                 predictions: pd.DataFrame | None, n_boot: int, seed: int) -> tuple[list[Comparison], str]:
    rows, keys, note = _rows_for(claim, ours, doc)
    cells_ = _cells(claim, rows, keys, doc)
    size = tuple(float(x) for x in claim["size"]) if claim.get("size") else None
    boot = None
    comps = []
    for cell in cells_:
        runs_, vals = _paired_values(cell)
        if not runs_:
            continue
        comp = Comparison(cell.label, vals, cell.unit, size=size, pairs=tuple(runs_), cell=cell)
        if comp.n < MIN_PAIRS and predictions is not None:
            boot = boot or _Bootstrap(ours, predictions, n_boot, seed)
            comp.boot = boot.mean_diff(cell, runs_)
            comp.n_utts = getattr(boot, "n_utts", 0)
        comps.append(comp)
    dropped = len(cells_) - len(comps)
    if dropped:
        note += f"; {dropped} cell pair(s) without a common run left out"
    if claim.get("aggregate", "each") == "pooled" and len(comps) > 1:
        comps = [_pool(comps, boot, size)]
    return comps, note


def _pool(comps: list[Comparison], boot: _Bootstrap | None, size: tuple | None) -> Comparison:
    """One comparison: each run's differences averaged over the cells (runs common to every cell)."""
    units = {c.unit for c in comps}
    if len(units) > 1:
        raise ValueError(f"aggregate: pooled claim mixes units {sorted(units)}; pool only one metric")
    common = set(comps[0].pairs)
    for c in comps[1:]:
        common &= set(c.pairs)
    runs_ = [r for r in comps[0].pairs if r in common]
    vals = np.mean([[dict(zip(c.pairs, c.values))[r] for r in runs_] for c in comps], axis=0) if runs_ else np.array([])
    pooled = Comparison(f"pooled over {len(comps)} cells", np.asarray(vals, float), units.pop(), size=size,
                        pairs=tuple(runs_))
    if pooled.n < MIN_PAIRS and boot is not None and runs_:
        dists = [boot.mean_diff(c.cell, runs_) for c in comps]
        if all(d is not None for d in dists):
            pooled.boot, pooled.n_utts = np.mean(dists, axis=0), getattr(boot, "n_utts", 0)
    return pooled


# --------------------------------------------------------------------------- deciding claims
def decide_claim(claim: Mapping[str, Any] | str, ours: pd.DataFrame, paper: str | int, *,
                 mapping: Mapping[str, Any] | None = None, predictions: pd.DataFrame | None = None,
                 alpha: float = ALPHA, n_boot: int = N_BOOT, seed: int = 0) -> dict[str, Any]:
    """One claim of ``paper`` (its id or dict) decided on our rows: a record (module docstring)."""
    pid = _paper_id(paper)
    doc = _load_doc(pid)
    if isinstance(claim, str):
        found = [c for c in doc["claims"] if c["id"] == claim]
        if not found:
            raise KeyError(f"{pid}: no claim {claim!r}; claims are {[c['id'] for c in doc['claims']]}")
        claim = found[0]
    cid = claim["id"]
    if not claim.get("expect"):
        how = (f"decided in the notebook by {claim['decided_by']} (needs data beyond the tidy rows)"
               if claim.get("decided_by") else "qualitative claim (figure or text): nothing to test")
        return record(pid, cid, "untested", how, text=claim.get("text"))
    if "value" not in ours.columns:
        raise KeyError(f"decide: our rows have no 'value' column (columns: {list(ours.columns)})")
    ours = _apply_mapping(ours, mapping).reset_index(drop=True)
    comps, note = _comparisons(claim, ours, doc, _map_predictions(predictions, mapping), n_boot, seed)
    if not comps:
        return record(pid, cid, "untested", f"no comparable rows ({note})", text=claim.get("text"))
    return _from_comparisons(pid, cid, comps, note, alpha)


def _map_predictions(predictions: pd.DataFrame | None, mapping: Mapping[str, Any] | None) -> pd.DataFrame | None:
    """The predictions renamed like our rows (only the mapped columns they have)."""
    if predictions is None:
        return None
    if not isinstance(predictions, pd.DataFrame):
        raise TypeError(f"predictions must be a DataFrame (utt_id, y_true, y_pred, ...), got {type(predictions)}")
    cols = {k: v for k, v in _normalise_mapping(mapping).items() if k in predictions.columns}
    return _apply_mapping(predictions, cols).reset_index(drop=True)


def decide(ours: pd.DataFrame, paper: str | int, *, mapping: Mapping[str, Any] | None = None,
           predictions: pd.DataFrame | None = None, alpha: float = ALPHA, n_boot: int = N_BOOT,
           seed: int = 0) -> pd.DataFrame:
    """Every claim of ``paper`` decided on our tidy rows: one record per claim (YAML order).

    ``mapping`` renames our values to the paper's (as :func:`serlib.results.compare`);
    ``predictions`` (optional, per utterance) enables the bootstrap for comparisons of fewer than
    3 runs. Columns :data:`RECORD_COLUMNS`; pass the frame to ``Results.set_claims``.
    """
    recs = [decide_claim(c, ours, paper, mapping=mapping, predictions=predictions, alpha=alpha, n_boot=n_boot,
                         seed=seed) for c in claims(paper)]
    return pd.DataFrame(recs, columns=list(RECORD_COLUMNS))


def cells(ours: pd.DataFrame, paper: str | int, claim: str, *, mapping: Mapping[str, Any] | None = None,
          predictions: pd.DataFrame | None = None, n_boot: int = N_BOOT, seed: int = 0) -> pd.DataFrame:
    """The comparisons behind one claim: label, n, effect, interval, p (raw and Holm), test, unit."""
    pid = _paper_id(paper)
    doc = _load_doc(pid)
    found = [c for c in doc["claims"] if c["id"] == claim]
    if not found or not found[0].get("expect"):
        raise KeyError(f"{pid}: no machine-checkable claim {claim!r}")
    comps, _ = _comparisons(found[0], _apply_mapping(ours, mapping).reset_index(drop=True), doc,
                            _map_predictions(predictions, mapping), n_boot, seed)
    ph, pr = metrics.holm([c.p_held for c in comps]), metrics.holm([c.p_reversed for c in comps])
    return pd.DataFrame([{"comparison": c.label, "n": c.n, "effect": c.effect, "ci_low": c.interval()[0],
                          "ci_high": c.interval()[1], "p": c.p_held, "p_holm": h, "p_reversed_holm": r,
                          "test": c.test(), "unit": c.unit} for c, h, r in zip(comps, ph, pr)],
                        columns=["comparison", "n", "effect", "ci_low", "ci_high", "p", "p_holm", "p_reversed_holm",
                                 "test", "unit"])


# --------------------------------------------------------------------------- claims decided from notebook data
def ladder_clean_equal(rows: pd.DataFrame, *, reference: str = "Dense", margin: float = 0.05,
                       paper: str | int = "2_decoupled_ladder", claim: str = "clean-equal") -> dict[str, Any]:
    """Paper 2: adapting to the noisy recordings costs nothing on clean speech.

    Every other model's clean-test CCC is compared with ``reference``'s, paired by run, per
    attribute (and adaptation condition): an equivalence test with margin ``margin`` CCC (two
    one-sided t-tests; the paper's clean columns differ by at most 0.022). Held when every model is
    within the margin (Holm), contradicted when one is significantly outside it.
    """
    doc = _load_doc(_paper_id(paper))
    clean = rows[rows["test_condition"].map(_key) == "clean"] if "test_condition" in rows else rows.iloc[:0]
    if "metric" in clean:
        clean = clean[clean["metric"].map(_metric_key) == "ccc"]
    others = [m for m in pd.unique(clean["method"]) if _key(m) != _key(reference)] if len(clean) else []
    if not len(clean) or not others or not (clean["method"].map(_key) == _key(reference)).any():
        return record(paper, claim, "untested", f"no clean-test CCC rows of {reference} and another model")
    spec = {"id": claim, "expect": {"better": others, "than": reference,
                                    "ignore": [c for c in ("train_condition", "adapted_to") if c in clean.columns]},
            "support": [{"test_condition": "clean"}]}
    work = clean.drop(columns=[c for c in ("embedding", "table") if c in clean.columns])
    rows_, keys, _ = _rows_for(spec, work, doc)
    comps = []
    for cell in _cells(spec, rows_, keys, doc):
        runs_, vals = _paired_values(cell)
        if runs_:
            comps.append(Comparison(cell.label, vals, "1", margin=margin, kind="within", pairs=tuple(runs_)))
    if not comps:
        return record(paper, claim, "untested", "no runs shared by a model and the reference")
    return _from_comparisons(_paper_id(paper), claim, comps, f"clean-test CCC minus {reference}'s", ALPHA)


def ladder_decoupling(rows: pd.DataFrame, *, margin: float = 0.1, much: float = 10.0,
                      paper: str | int = "2_decoupled_ladder", claim: str = "c6") -> dict[str, Any]:
    """Paper 2, Figure 3: the reconstruction embedding ``h_r`` carries no emotion, the emotion
    embedding ``h_e`` reconstructs the input worse.

    From notebook 02's rows ``fig3_ccc_output`` and ``fig3_input_mse`` (column ``embedding``:
    ``emotion`` / ``reconstruction``), per attribute (and adaptation condition), over runs:
    (a) the trained output layer reading ``h_r`` gives a CCC within +-``margin`` of 0 (two
    one-sided t-tests); (b) the input MSE with ``h_e`` exceeds that with ``h_r``, as a paired
    relative difference in %; the paper's "much higher" is read as at least ``much`` % (an interval
    wholly below it reads "held, smaller than claimed"). Holm across all of them.
    """
    need = {"metric", "embedding", "value"}
    if not need <= set(rows.columns):
        return record(paper, claim, "untested", f"needs the fig3_* rows of notebook 02 (columns {sorted(need)})")
    f3 = rows[rows["metric"].isin(["fig3_ccc_output", "fig3_input_mse"])].copy()
    if f3.empty:
        return record(paper, claim, "untested", "no fig3_ccc_output / fig3_input_mse rows")
    f3["_run"] = _runs_of(f3)
    cell_cols = [c for c in f3.columns if c not in ("value", "metric", "embedding", "_run", *PAIR_KEYS)
                 and f3[c].map(_key).nunique() > 1]
    comps = []
    for key, g in (f3.groupby([f3[c].map(_key) for c in cell_cols], sort=False) if cell_cols else [((), f3)]):
        label = " / ".join(_display(g.iloc[0][c]) for c in cell_cols) or "all"
        wide = g.pivot_table(index="_run", columns=["metric", "embedding"], values="value", aggfunc="mean")
        if ("fig3_ccc_output", "reconstruction") in wide:
            v = wide[("fig3_ccc_output", "reconstruction")].dropna()
            comps.append(Comparison(f"CCC of the output layer on h_r [{label}]", v.to_numpy(float), "1",
                                    margin=margin, kind="within"))
        if {("fig3_input_mse", "emotion"), ("fig3_input_mse", "reconstruction")} <= set(wide.columns):
            e, r = wide[("fig3_input_mse", "emotion")], wide[("fig3_input_mse", "reconstruction")]
            rel = (100.0 * (e - r) / r).dropna()
            comps.append(Comparison(f"input MSE with h_e vs h_r, relative [{label}]", rel.to_numpy(float), "% relative",
                                    size=(much, math.inf)))
    if not comps:
        return record(paper, claim, "untested", "the fig3 rows lack the h_r read-out or the MSE pair")
    return _from_comparisons(_paper_id(paper), claim, comps, "Figure 3 quantities per run", ALPHA)


def trnet_snr_coefficient(c_values: pd.DataFrame, *, method: str = "TRNet", value: str = "c",
                          paper: str | int = "3_trnet", claim: str = "c7", n_boot: int = N_BOOT,
                          seed: int = 0) -> dict[str, Any]:
    """Paper 3, Figure 2: TRNet's estimated SNR coefficient ``c`` rises with the SNR, per noise family.

    ``c_values``: one row per utterance (or per run mean) with ``method, noise_type, snr`` (dB;
    clean rows are ignored), ``seed``, ``fold`` (optional) and ``value``. Per run and family the
    least-squares slope of mean ``c`` on SNR, expressed as the rise over the tested SNR range (unit
    of ``c``). n >= 3 runs: one-sided t-test over runs; fewer: bootstrap over utterances, resampled
    within each SNR independently (conservative when the same utterances are mixed at every SNR).
    Families: Holm.
    """
    need = {"method", "noise_type", "snr", value}
    if c_values.empty:
        return record(paper, claim, "untested", f"no c values of {method}")
    if not need <= set(c_values.columns):
        raise KeyError(f"trnet_snr_coefficient: c_values need columns {sorted(need)}; have {list(c_values.columns)}")
    d = c_values[(c_values["method"].map(_key) == _key(method)) & c_values["snr"].notna()].copy()
    if d.empty or d["snr"].nunique() < 2:
        return record(paper, claim, "untested", f"needs {method}'s c at two or more SNRs")
    d["_run"] = _runs_of(d)
    rng = np.random.default_rng(seed)
    comps = []
    for fam, g in d.groupby("noise_type", sort=True):
        snrs = np.array(sorted(g["snr"].astype(float).unique()))
        span = snrs[-1] - snrs[0]
        means = g.groupby(["_run", "snr"])[value].mean().unstack("snr").reindex(columns=snrs).dropna()
        x = snrs - snrs.mean()
        rises = (means.to_numpy() @ x) / (x @ x) * span
        comp = Comparison(f"{fam}: rise of mean c from {snrs[0]:g} to {snrs[-1]:g} dB", np.asarray(rises, float), "1",
                          pairs=tuple(means.index))
        per_cell = int(g.groupby(["_run", "snr"]).size().min())
        comp.n_utts = per_cell if per_cell > 1 else 0
        if comp.n < MIN_PAIRS and comp.n and per_cell >= MIN_UTTERANCES:
            boots = []
            for run in means.index:
                m = np.stack([_boot_mean(g.loc[(g["_run"] == run) & (g["snr"] == s), value].to_numpy(float),
                                         n_boot, rng) for s in snrs], 1)
                boots.append((m @ x) / (x @ x) * span)
            comp.boot = np.mean(boots, axis=0)
        comps.append(comp)
    return _from_comparisons(_paper_id(paper), claim, comps, f"{method}'s mean c against the test SNR", ALPHA)


def _boot_mean(v: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    w = metrics.bootstrap_weights(len(v), n_boot, rng)
    return (w @ v) / len(v)


def trnet_alignment(embeddings: Mapping[tuple, np.ndarray], *, order: Sequence[str] = ("TRNet", "Baseline-e",
                    "Baseline-c"), paper: str | int = "3_trnet", claim: str = "c8", n_boot: int = 1000,
                    seed: int = 0) -> dict[str, Any]:
    """Paper 3, Figure 3: TRNet aligns its representations across SNRs better than Baseline-e, which
    does better than Baseline-c.

    ``embeddings``: ``{(system, snr): (N, D) array}`` for one run, or ``{(system, snr, seed, fold):
    array}`` for several; at each SNR the same N test utterances in the same order. Per run and
    system :func:`serlib.models.trnet.centre_spread` of the SNR groups (lower = aligned); each
    consecutive pair of ``order`` is a comparison (spread of the worse minus spread of the better;
    positive as claimed). n >= 3 runs: one-sided t-test over runs; fewer: bootstrap over the test
    utterances (resampled jointly across SNRs and systems). Holm across the pairs. The emotion-centre
    separation of the paper's figure is not part of this test.
    """
    from serlib.models.trnet import centre_spread

    runs_: dict[tuple, dict[str, dict[float, np.ndarray]]] = {}
    for key, arr in embeddings.items():
        if len(key) not in (2, 4):
            raise ValueError(f"trnet_alignment: keys are (system, snr) or (system, snr, seed, fold), got {key!r}")
        system, snr, run = key[0], float(key[1]), tuple(key[2:]) or ("run",)
        runs_.setdefault(run, {}).setdefault(system, {})[snr] = np.asarray(arr, dtype=np.float64)
    if not runs_:
        return record(paper, claim, "untested", "no embeddings (the t-SNE SNRs 20/10/0 dB were not tested)")
    for run, systems in runs_.items():
        for system in order:
            if system not in systems or len(systems[system]) < 2:
                return record(paper, claim, "untested", f"needs embeddings of {system} at two or more SNRs "
                              f"(run {run})")
        sizes = {len(a) for s in order for a in systems[s].values()}
        if len(sizes) != 1:
            raise ValueError(f"trnet_alignment: run {run}: the same utterances at every SNR and system are needed; "
                             f"got sizes {sorted(sizes)}")

    def spreads(systems: Mapping[str, Mapping[float, np.ndarray]], idx: np.ndarray | None = None) -> dict[str, float]:
        out = {}
        for s in order:
            snrs = sorted(systems[s])
            x = np.concatenate([systems[s][v] if idx is None else systems[s][v][idx] for v in snrs])
            n = len(systems[s][snrs[0]]) if idx is None else len(idx)
            out[s] = centre_spread(x, np.repeat(snrs, n))
        return out

    per_run = {run: spreads(sy) for run, sy in runs_.items()}
    rng = np.random.default_rng(seed)
    comps = []
    for better, worse in zip(order[:-1], order[1:]):
        vals = np.array([per_run[r][worse] - per_run[r][better] for r in runs_])
        comps.append(Comparison(f"SNR-centre spread {worse} minus {better}", vals, "1", pairs=tuple(runs_)))
    n_test = min(len(next(iter(sy[order[0]].values()))) for sy in runs_.values())
    for c in comps:
        c.n_utts = n_test
    if len(runs_) < MIN_PAIRS and n_test >= MIN_UTTERANCES:
        boots = {c.label: [] for c in comps}
        n_utts = 0
        for run, systems in runs_.items():
            n = len(next(iter(systems[order[0]].values())))
            n_utts += n
            w = metrics.bootstrap_weights(n, n_boot, rng)
            spread = {}
            for sname in order:
                xs = [systems[sname][v] for v in sorted(systems[sname])]
                full = _weighted_spread(xs, np.ones((1, n)))[0]
                if not np.isclose(full, per_run[run][sname], rtol=1e-9):   # same formula as centre_spread
                    raise AssertionError(f"trnet_alignment: weighted spread {full} != centre_spread {per_run[run][sname]}")
                spread[sname] = _weighted_spread(xs, w)
            for c, (better, worse) in zip(comps, zip(order[:-1], order[1:])):
                boots[c.label].append(spread[worse] - spread[better])
        for c in comps:
            c.boot, c.n_utts = np.mean(boots[c.label], axis=0), n_utts
    text = ", ".join(f"{s} {np.mean([per_run[r][s] for r in runs_]):.3f}" for s in order)
    return _from_comparisons(_paper_id(paper), claim, comps, f"SNR-centre spread (lower = aligned): {text}", ALPHA)


def _weighted_spread(xs: Sequence[np.ndarray], w: np.ndarray) -> np.ndarray:
    """:func:`serlib.models.trnet.centre_spread` of the groups ``xs`` (same N utterances each) with the
    utterances counted ``w`` times (``(B, N)`` bootstrap counts) -> ``(B,)``."""
    n = w.shape[1]
    sums = [w @ x for x in xs]                                     # (B, D) weighted sums per group
    cents = [a / n for a in sums]
    centre = np.mean(cents, axis=0)
    sq = sum(w @ np.sum(x ** 2, axis=1) - 2 * np.sum(a * centre, axis=1) + n * np.sum(centre ** 2, axis=1)
             for x, a in zip(xs, sums))
    rms = np.sqrt(np.maximum(sq, 0) / (n * len(xs)))
    pair = [np.linalg.norm(cents[i] - cents[j], axis=1) for i in range(len(xs)) for j in range(i + 1, len(xs))]
    return np.mean(pair, axis=0) / np.maximum(rms, 1e-12)


# --------------------------------------------------------------------------- paired effects (a table, no verdict)
def paired_effects(df: pd.DataFrame, a: str, b: str, *, by: Sequence[str], method: str = "method",
                   value: str = "value", seed: str = "seed", confidence: float = 0.95) -> pd.DataFrame:
    """Seed-paired comparison of method ``a`` against method ``b`` in every group of ``by``.

    Returns one row per group: the ``by`` columns, ``mean_a, ci_a, mean_b, ci_b`` (mean and CI
    half-width over seeds; NaN with fewer than 3), ``diff`` and ``diff_ci`` (mean and CI of the
    per-seed ``a - b``), ``t`` and ``p`` (two-tailed paired t-test; NaN with fewer than 2 seeds or
    constant differences) and ``n`` (seeds present for both methods). Seeds that only one method has
    are dropped. Values stay in the frame's unit (fractions for proportions).
    """
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
    per_seed = work.groupby([*by, method, seed], dropna=False, sort=False)[value].mean().reset_index()
    wide = per_seed.pivot_table(index=[*by, seed] if by else [seed], columns=method, values=value,
                                dropna=False).reset_index()
    wide = wide.dropna(subset=[a, b])
    rows = []
    for gkey, grp in (wide.groupby(by, dropna=False, sort=False) if by else [((), wide)]):
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        va, vb = grp[a].to_numpy(float), grp[b].to_numpy(float)
        d = va - vb
        ma, ca = metrics.mean_ci(va, confidence)
        mb, cb = metrics.mean_ci(vb, confidence)
        md, cd = metrics.mean_ci(d, confidence)
        t, p = metrics.paired_t(va, vb) if len(d) >= 2 and np.ptp(d) > 0 else (np.nan, np.nan)
        rows.append({**dict(zip(by, gkey)), "mean_a": ma, "ci_a": ca, "mean_b": mb, "ci_b": cb,
                     "diff": md, "diff_ci": cd, "t": t, "p": p, "n": int(len(d))})
    out = pd.DataFrame(rows, columns=[*by, "mean_a", "ci_a", "mean_b", "ci_b", "diff", "diff_ci", "t", "p", "n"])
    out.attrs.update(a=a, b=b)
    return out


# --------------------------------------------------------------------------- across papers
def _data_kind(meta: Mapping[str, Any]) -> str:
    """``embedded`` or ``real``: the kind of training corpus of a run (see ``Results``)."""
    return (meta.get("data") or {}).get("kind") or "embedded"


def _paper_of(notebook: str) -> str | None:
    hits = [p for p in papers() if _load_doc(p)["paper"].get("notebook") == notebook]
    return hits[0] if hits else None


def _one_line(text: Any) -> str:
    return " ".join(str(text).split()) if not _is_missing(text) else ""


def _stored(rec: Mapping[str, Any], nb: str) -> dict[str, Any]:
    """A saved record as a row; a legacy record (no paired statistics) reads as untested."""
    out = {k: rec.get(k) for k in RECORD_COLUMNS}
    for k in ("effect", "ci_low", "ci_high", "p", "mde"):
        out[k] = float("nan") if _is_missing(out[k]) else float(out[k])
    out["n"] = int(out["n"] or 0)
    if rec.get("status") not in STATUSES or "test" not in rec:
        out["evidence"] = (f"legacy record of {nb} without paired statistics (it said {rec.get('status')!r}); "
                           f"rerun the notebook")
        out["status"], out["test"] = "untested", ""
    out["text"], out["evidence"] = _one_line(out["text"]), _one_line(out["evidence"])
    return out


def collect_claims(results_dir: str | Path | None = None) -> pd.DataFrame:
    """Every run's saved records (``"claims"`` of each ``<notebook>.json``), columns :data:`CLAIM_COLUMNS`.

    Adds the run's ``notebook``, ``profile``, ``data`` (label) and ``data_kind`` (embedded / real).
    A record without a paper (a notebook's own check) is given the notebook's paper.
    """
    rows = []
    for nb, meta in runs(results_dir).items():
        for rec in meta.get("claims") or []:
            row = _stored(rec, nb)
            row["paper"] = _paper_of(nb) if _is_missing(rec.get("paper")) else rec["paper"]
            row["claim"] = str(rec.get("claim"))
            rows.append({**row, "notebook": nb, "profile": meta.get("profile"),
                         "data": (meta.get("data") or {}).get("label"), "data_kind": _data_kind(meta)})
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))


def claims_table(results_dir: str | Path | None = None) -> pd.DataFrame:
    """One ledger over all five papers: every claim of ``serlib/reference/*.yaml``, per kind of data.

    For each paper, claim (YAML order, then a notebook's extra checks) and kind of data
    (``embedded`` always, ``real`` when some run used a real corpus): the records of the runs that
    decided it. A run of the paper's notebook without a record for the claim gives ``untested``; no
    run on that kind of data gives ``not run``. Columns :data:`CLAIM_COLUMNS`.
    """
    meta = runs(results_dir)
    led = collect_claims(results_dir)
    kinds = [k for k in DATA_KINDS if k == "embedded" or any(_data_kind(m) == k for m in meta.values())]
    blank = {k: float("nan") for k in ("effect", "ci_low", "ci_high", "p", "mde")} | {"n": 0, "test": "", "unit": ""}
    out = []
    for pid in papers():
        doc = _load_doc(pid)
        own = doc["paper"].get("notebook")
        texts = {c["id"]: _one_line(c["text"]) for c in doc["claims"]}
        mine = led[led["paper"] == pid]
        for cid in list(texts) + [c for c in dict.fromkeys(mine["claim"]) if c not in texts]:
            for kind in kinds:
                checked = mine[(mine["claim"] == cid) & (mine["data_kind"] == kind)]
                base = {"paper": pid, "claim": cid, "data_kind": kind}
                for _, r in checked.iterrows():
                    out.append({**r.to_dict(), **base, "text": texts.get(cid) or r["text"]
                                or f"(extra check of {r['notebook']})"})
                if len(checked):
                    continue
                ran = sorted(nb for nb, m in meta.items() if _data_kind(m) == kind
                             and (nb == own or nb in set(mine["notebook"])))
                for nb in ran:
                    why = "its claims ledger has no record for this claim" if meta[nb].get("claims") else \
                        "the run saved no claims ledger (Results.set_claims)"
                    out.append({**blank, **base, "text": texts.get(cid, ""), "status": "untested", "evidence": why,
                                "notebook": nb, "profile": meta[nb].get("profile"),
                                "data": (meta[nb].get("data") or {}).get("label")})
                if not ran:
                    out.append({**blank, **base, "text": texts.get(cid, ""), "status": "not run",
                                "evidence": f"no results of {own} on {kind} data", "notebook": own,
                                "profile": None, "data": None})
    return pd.DataFrame(out, columns=list(CLAIM_COLUMNS))


TALLY = ("held", "contradicted", "inconclusive", "untested", "not run")


def tally(table: pd.DataFrame, by: Sequence[str] = ("paper",)) -> pd.DataFrame:
    """Counts of :data:`TALLY` statuses per ``by`` (every "held, ..." variant counts as held)."""
    if "status" not in table.columns:
        raise KeyError("tally: needs a 'status' column (claims_table / decide output)")
    if table.empty:
        return pd.DataFrame(columns=list(TALLY))
    coarse = table["status"].map(lambda s: "held" if str(s).startswith("held") else s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        counts = table.assign(_s=coarse).groupby(list(by), sort=False)["_s"].value_counts().unstack(fill_value=0)
    return counts.reindex(columns=list(TALLY), fill_value=0)

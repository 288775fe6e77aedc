"""The generated reports: the README's results block and ``results/summary.md``.

Everything here renders what :mod:`serlib.results` (tidy rows, ``compare``), :mod:`serlib.ledger`
(the claims ledger) and :mod:`serlib.leaderboard` (the ranked table) compute; nothing is typed by
hand and the output is deterministic (no dates), so a test can check the README against the
committed ``results/``.

- :func:`headlines_table` / :func:`headlines_markdown`: a few cells per paper
  (``serlib/reference/headlines.yaml``), ours beside the paper's through ``compare``.
- :func:`leaderboard_markdown`: the robustness leaderboard rebuilt from its CSV, with its rank rule.
- :func:`ledger_frame`: a ledger's records as a display table (status, n, effect [95 % CI], p,
  test, evidence), the same in the notebooks and in :func:`claims_markdown` (the cross-paper ledger).
- :func:`runs_markdown` (the runs behind the tables) and :func:`runtimes_markdown` (how long each
  notebook takes, from ``results/runtimes.json`` when the runner wrote one).
- :func:`overview_markdown` puts them together; :func:`summary_markdown` adds every result per
  notebook (``results/summary.md``); :func:`update_readme` rewrites the README's marked block.

``python -m serlib.report [results_dir]`` prints the summary.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from serlib import ledger, paths, reproduce
from serlib.audio import atomic_write
from serlib.papers import KEY_COLUMNS, REFERENCE_DIR, _check_selector, _is_missing, _key, _metric_key, _paper_id, \
    _select, load_reference, percent_metric
from serlib.results import _fmt, _markdown, as_runs, compare, estimate_text, read, runs, summarize

__all__ = [
    "reading",
    "headlines", "headlines_table", "headlines_markdown", "leaderboard_markdown", "ledger_frame", "claims_markdown",
    "runs_markdown", "runtimes_markdown", "overview_markdown", "summary_markdown", "readme_block",
    "readme_current_block", "update_readme", "HEADLINE_COLUMNS", "LEADERBOARD_NOTEBOOK", "RUNTIMES_FILE",
]

HEADLINES_FILE = REFERENCE_DIR / "headlines.yaml"
LEADERBOARD_NOTEBOOK = "10_robustness_leaderboard"
RUNTIMES_FILE = "runtimes.json"
"""Written by the runner into ``results/``: a list of ``{notebook, profile, dry, device, cpu_count, seconds,
commit, dirty, date}``."""
README_BEGIN, README_END = "<!-- results:begin -->", "<!-- results:end -->"
HEADLINE_COLUMNS = ("paper", "headline", "notebook", "metric", "unit", "ours", "ours_low", "ours_high", "ours_values",
                    "n", "paper_value", "delta", "at_chance", "status", "profile", "data")


def _one_line(text: Any) -> str:
    return " ".join(str(text).split()) if not _is_missing(text) else ""


def _clip(text: Any, n: int) -> str:
    """One line of at most ``n`` characters (an ellipsis marks a cut)."""
    s = _one_line(text)
    return s if len(s) <= n else s[: n - 1].rstrip() + "…"


def _run_label(profile: Any, data: Any) -> str:
    return "—" if _is_missing(profile) else f"{profile}; {data}" if not _is_missing(data) else str(profile)


# --------------------------------------------------------------------------- headline numbers
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
    """Ours beside one reference row, through :func:`serlib.results.compare` (``ours`` None: not run)."""
    ref = load_reference(pid)
    row = ref[_select(ref, [h["paper"]])].iloc[0]
    rec = {"paper": pid, "headline": h["label"], "notebook": spec["notebook"], "metric": row["metric"],
           "unit": row["unit"], "ours": np.nan, "ours_low": np.nan, "ours_high": np.nan, "ours_values": (), "n": 0,
           "paper_value": float(row["value"]), "delta": np.nan, "at_chance": False, "status": "not run",
           "profile": None, "data": None}
    if ours is None:
        return rec
    rec["status"] = "no matching results"
    sel = [s for s in (spec.get("ours"), h.get("ours")) if s]
    if sel:
        try:
            ours = ours[np.logical_and.reduce([_select(ours, [s], where=f"headline {h['label']!r}") for s in sel])]
        except KeyError:  # the run lacks a column the headline selects on: it has no such cell (shown as such)
            return rec
    if ours.empty:
        return rec
    cmp = compare(as_runs(ours), pid, on=spec.get("match_on"), mapping=spec.get("mapping"), tables=[row["table"]],
                  confidence=confidence)
    on = [c for c in cmp.columns if c in KEY_COLUMNS]
    hit = cmp[(cmp["status"] == "matched") & (cmp["paper"] == row["value"])
              & (cmp["paper_data"].map(_key) == _key(row["corpus"]))]
    for c in on:
        fn = _metric_key if c == "metric" else _key
        hit = hit[hit[c].map(fn) == fn(row[c])]
    if len(hit):
        m = hit.iloc[0]
        rec.update(ours=float(m["ours"]), ours_low=float(m["ours_low"]), ours_high=float(m["ours_high"]),
                   ours_values=tuple(m["ours_values"]), n=int(m["n_seeds"]), delta=float(m["delta"]),
                   at_chance=bool(m["at_chance"]), status="matched", data=m["data"])
    return rec


def headlines_table(results_dir: str | Path | None = None, *, spec_path: str | Path | None = None,
                    confidence: float = 0.95) -> pd.DataFrame:
    """Each paper's headline numbers (``headlines.yaml``): ours (mean, interval over runs = seed x fold, n) | paper | delta.

    Ours come from ``<results_dir>/<notebook>.csv`` matched to the paper's row by ``compare`` (with
    the spec's ``ours`` row selector, ``mapping`` and ``match_on``, as in the notebook), in the
    paper's unit. ``status`` is ``matched``, ``not run`` (no results file) or ``no matching results``
    (the run has no rows for that cell). Columns :data:`HEADLINE_COLUMNS`.
    """
    folder = Path(results_dir) if results_dir is not None else paths.results_dir()
    meta = runs(folder)
    recs = []
    for pid, spec in headlines(spec_path).items():
        nb = spec["notebook"]
        ours = read(folder / f"{nb}.csv") if nb in meta else None
        for h in spec["headlines"]:
            rec = _headline_row(h, spec, pid, ours, confidence)
            if ours is not None:
                rec["profile"] = meta[nb].get("profile")
            recs.append(rec)
    return pd.DataFrame(recs, columns=list(HEADLINE_COLUMNS))


def headlines_markdown(table: pd.DataFrame) -> str:
    """The :func:`headlines_table` as Markdown (values in the paper's unit; no interval from < 3 seeds)."""
    rows = []
    for _, r in table.iterrows():
        digits = 3 if r["unit"] == "1" else 1
        if r["status"] == "matched":
            ours = estimate_text(r["ours"], r["ours_low"], r["ours_high"], r["n"], r["ours_values"], digits)
            ours += " (≤ chance)" if r["at_chance"] else ""
        else:
            ours = "not run" if r["status"] == "not run" else "no matching rows"
        delta = f"{r['delta']:+.{digits}f}" if math.isfinite(r["delta"]) else "—"
        unit = {"1": "", "%": "%"}.get(r["unit"], r["unit"])
        rows.append([r["paper"], r["headline"], ours, r["n"] or "—", _fmt(r["paper_value"], digits), delta, unit,
                     _run_label(r["profile"], r["data"])])
    return _markdown(["paper", "headline", "ours (mean ± 95 % CI)", "n", "paper", "delta", "unit",
                      "run (profile; data)"], rows)


# --------------------------------------------------------------------------- leaderboard
def leaderboard_markdown(results_dir: str | Path | None = None) -> str:
    """The robustness leaderboard rebuilt from ``results/10_robustness_leaderboard.csv``, or a note.

    The table is :func:`serlib.leaderboard.leaderboard` of the tidy rows, ranked in groups
    (:data:`serlib.leaderboard.RANK_RULE`, quoted under the table) with the run's profile and data.
    """
    from serlib import leaderboard

    folder = Path(results_dir) if results_dir is not None else paths.results_dir()
    path = folder / f"{LEADERBOARD_NOTEBOOK}.csv"
    if not path.is_file():
        return f"Not run yet: `python -m serlib.run --only {LEADERBOARD_NOTEBOOK[:2]}` writes `results/{path.name}`."
    try:
        table = leaderboard.leaderboard(read(path))
    except (KeyError, ValueError) as exc:
        return f"`results/{path.name}` holds no leaderboard rows ({exc})."
    shown = table.drop(columns=["auc", "group"], errors="ignore")
    meta = runs(folder).get(LEADERBOARD_NOTEBOOK, {})
    rows = [["" if _is_missing(v) else (f"{v:g}" if isinstance(v, float) else str(v)) for v in r]
            for r in shown.itertuples(index=False)]
    return (_markdown(list(shown.columns), rows)
            + f"\n\nUAR in %, mean ± 95 % CI over runs (seed x fold; fewer than 3 runs: the values); chance = "
            f"{100 * table.attrs['chance']:.0f} % (1 / {leaderboard.N_CLASSES} classes), \"(≤ chance)\" marks cells "
            "whose interval reaches it or whose mean is at or below it. Rank: " + leaderboard.RANK_RULE
            + " Run: " + _run_label(meta.get("profile"), (meta.get("data") or {}).get("label")) + ".")


# --------------------------------------------------------------------------- claims ledger
def _effect_text(r: Mapping[str, Any]) -> str:
    unit = str(r.get("unit") or "")
    digits = 3 if unit in ("1", "") else 1
    if _is_missing(r.get("effect")):
        return "—"
    e = f"{float(r['effect']):+.{digits}f}"
    if not _is_missing(r.get("ci_low")) and not _is_missing(r.get("ci_high")):
        e += f" [{float(r['ci_low']):+.{digits}f}, {float(r['ci_high']):+.{digits}f}]"
    return e + ("" if unit in ("1", "") else f" {unit}")


def _p_text(p: Any) -> str:
    if _is_missing(p):
        return "—"
    p = float(p)
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def ledger_frame(records: pd.DataFrame, *, evidence_chars: int | None = None) -> pd.DataFrame:
    """A ledger (:func:`serlib.ledger.decide` records or :func:`serlib.ledger.claims_table`) for display.

    Columns: claim, status, n (paired runs), effect [95 % CI] (positive = the claimed direction, in
    the paper's unit), p (one-sided, Holm-adjusted), test, evidence; plus paper / data / run when
    the frame has them. The notebooks show this frame; :func:`claims_markdown` renders it.
    """
    out = pd.DataFrame({
        "claim": records["claim"],
        "status": records["status"],
        "n": [int(n) if not _is_missing(n) and n else "—" for n in records["n"]],
        "effect [95 % CI]": [_effect_text(r) for r in records.to_dict("records")],
        "p": records["p"].map(_p_text),
        "test": records["test"].fillna(""),
        "evidence": records["evidence"].map(lambda e: _clip(e, evidence_chars) if evidence_chars else _one_line(e)),
    }, index=records.index)
    if "paper" in records.columns:
        out.insert(0, "paper", records["paper"])
    return out


_READING = {
    "held": "the paired runs support it",
    "held, smaller than claimed": "the paired runs support its direction, but the effect is smaller than the paper states",
    "held, larger than claimed": "the paired runs support its direction, and the effect is larger than the paper states",
    "contradicted": "the paired runs show the opposite, significantly",
    "inconclusive": "these runs cannot decide it",
    "untested": "these runs do not test it",
    "not run": "it was not run",
}


def reading(records: pd.DataFrame, *, text_chars: int = 160) -> str:
    """The verdict part of a notebook's "Reading the results", generated from its ledger records.

    One sentence per claim: the claim (short), its status, and the numbers behind it (n paired runs,
    effect with its 95 % interval in the paper's unit, one-sided p, the test; for an inconclusive
    claim the smallest effect these runs could have detected). Markdown, ready for
    ``IPython.display.Markdown``; no number in it is typed by hand.
    """
    lines = []
    for r in records.to_dict("records"):
        status = str(r.get("status") or "untested")
        what = _READING.get(status, status)
        text = _clip(r.get("text") or "", text_chars).rstrip(".")
        numbers = []
        n = r.get("n")
        if not _is_missing(n) and n:
            numbers.append(f"n = {int(n)} paired run{'s' if int(n) != 1 else ''}")
        if not _is_missing(r.get("effect")):
            numbers.append(f"effect {_effect_text(r)}")
        if not _is_missing(r.get("p")):
            numbers.append(f"p = {_p_text(r.get('p'))}")
        if r.get("test"):
            numbers.append(str(r["test"]))
        mde = r.get("mde")
        if status == "inconclusive" and not _is_missing(mde):
            unit = str(r.get("unit") or "")
            digits = 3 if unit in ("1", "") else 1
            numbers.append(f"smallest detectable effect {float(mde):.{digits}f}{'' if unit in ('1', '') else ' ' + unit}")
        detail = f" ({'; '.join(numbers)})" if numbers else ""
        lines.append(f"- **{r.get('claim')}** — *{text}*: **{status}**: {what}{detail}.")
    return "\n".join(lines)


def claims_markdown(table: pd.DataFrame, *, text_chars: int = 80, evidence_chars: int = 150,
                    test_chars: int = 60) -> str:
    """The cross-paper :func:`serlib.ledger.claims_table`, compact: one row per claim and kind of data."""
    shown = ledger_frame(table, evidence_chars=evidence_chars)
    rows = []
    for (_, r), (_, s) in zip(table.iterrows(), shown.iterrows()):
        run = r["notebook"] if _is_missing(r["profile"]) else f"{r['notebook']} ({r['profile']})"
        rows.append([r["paper"], r["claim"], _clip(r["text"], text_chars), r["data_kind"], f"**{r['status']}**",
                     s["n"], s["effect [95 % CI]"], s["p"], _clip(s["test"], test_chars), s["evidence"], run])
    return _markdown(["paper", "claim", "claim text", "data", "status", "n", "effect [95 % CI]", "p", "test",
                      "evidence", "run"], rows)


def _tally_line(table: pd.DataFrame) -> str:
    counts = ledger.tally(table, by=["data_kind", "paper"])
    lines = []
    for kind in dict.fromkeys(table["data_kind"]):
        per = counts.loc[kind]
        total = per.sum()
        parts = [f"{int(total[s])} {s}" for s in ledger.TALLY if total[s]]
        lines.append(f"{kind} data: " + ", ".join(parts))
    return "; ".join(lines)


def _tally_markdown(table: pd.DataFrame) -> str:
    counts = ledger.tally(table, by=["data_kind", "paper"])
    rows = [[kind, paper, *(int(c[s]) for s in ledger.TALLY)] for (kind, paper), c in counts.iterrows()]
    return _markdown(["data", "paper", *ledger.TALLY], rows)


# --------------------------------------------------------------------------- runs and run times
def runs_markdown(results_dir: str | Path | None = None) -> str:
    """One line per run in ``results_dir``: notebook, profile, data, seeds, device, wall time."""
    rows = [[nb, m.get("profile"), (m.get("data") or {}).get("label"), ", ".join(str(s) for s in m.get("seeds", [])),
             m.get("device"), f"{float(m['wall_time_s']) / 60:.1f} min" if m.get("wall_time_s") is not None else ""]
            for nb, m in runs(results_dir).items()]
    if not rows:
        return "No runs yet."
    return _markdown(["notebook", "profile", "data", "seeds", "device", "wall time"], rows)


RUNTIME_FIELDS = ("notebook", "profile", "dry", "device", "cpu_count", "seconds", "commit", "dirty", "date")


def _read_runtimes(folder: Path) -> pd.DataFrame | None:
    path = folder / RUNTIMES_FILE
    if not path.is_file():
        return None
    try:
        recs = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable JSON ({exc}); delete it or rerun the notebooks") from None
    if not isinstance(recs, list) or not all(isinstance(r, Mapping) for r in recs):
        raise ValueError(f"{path}: expected a list of records {{{', '.join(RUNTIME_FIELDS)}}}")
    missing = sorted({f for r in recs for f in RUNTIME_FIELDS if f not in r})
    if missing:
        raise ValueError(f"{path}: records lack the fields {missing} (each needs {list(RUNTIME_FIELDS)})")
    return pd.DataFrame(recs, columns=list(RUNTIME_FIELDS))


def runtimes_markdown(results_dir: str | Path | None = None, *, skip_profile: str | None = None) -> str:
    """How long each notebook takes: the latest record per notebook, profile, dry flag and device of
    ``results/runtimes.json`` (written by the runner), or ``""`` when there is no such file (or no
    record is left). ``skip_profile``: leave out the non-dry records of that profile (the README shows
    them, by stage, from ``results/benchmarks/reproduce.json``)."""
    folder = Path(results_dir) if results_dir is not None else paths.results_dir()
    recs = _read_runtimes(folder)
    if recs is None or recs.empty:
        return ""
    recs = recs.assign(_dry=recs["dry"].fillna(False).astype(bool)).sort_values("date", kind="stable")
    if skip_profile is not None:
        recs = recs[(recs["profile"] != skip_profile) | recs["_dry"]]
        if recs.empty:
            return ""
    latest = recs.groupby(["notebook", "profile", "_dry", "device"], sort=False, dropna=False).tail(1)
    latest = latest.sort_values(["notebook", "profile", "_dry", "device"], kind="stable")
    rows = []
    for _, r in latest.iterrows():
        secs = float(r["seconds"])
        took = f"{secs / 60:.1f} min" if secs >= 60 else f"{secs:.0f} s"
        commit = str(r["commit"])[:9] + (" (dirty)" if bool(r["dirty"]) else "")
        rows.append([r["notebook"], r["profile"] + (" --dry" if r["_dry"] else ""), r["device"], r["cpu_count"], took,
                     commit, str(r["date"])[:10]])
    return _markdown(["notebook", "profile", "device", "CPU cores", "time", "commit", "date"], rows)


# --------------------------------------------------------------------------- overview, summary, README
def overview_markdown(results_dir: str | Path | None = None, *, level: int = 2, confidence: float = 0.95) -> str:
    """Headline numbers, the leaderboard, the cross-paper claims ledger, the runs and their run times.

    The top of ``results/summary.md`` and the README's generated block. Deterministic (no dates
    beyond those recorded in ``runtimes.json``), so the README can be checked against ``results/``.
    """
    h = "#" * level
    claims_df = ledger.claims_table(results_dir)
    parts = [
        f"{h} Headline numbers: ours | paper", "",
        "Ours: mean ± 95 % CI over runs (seed x fold, as the claims pair them; Student t, clipped to the metric's "
        "range; fewer than 3 runs: no interval, the runs' values in brackets), from the run named in the last column; paper: the paper's own number on its "
        "own corpus (IEMOCAP, MSP-Podcast, ...). Delta = ours - paper, in the paper's unit. On the embedded corpus "
        "the delta measures the data gap, not the method: read it with the claims below. Rows are chosen in "
        "`serlib/reference/headlines.yaml`.", "",
        headlines_markdown(headlines_table(results_dir, confidence=confidence)), "",
        f"{h} Robustness leaderboard (identical conditions for every method)", "",
        leaderboard_markdown(results_dir), "",
        f"{h} Claims ledger (all five papers)", "",
        "Each paper's claims (`serlib/reference/*.yaml`) decided on our runs by paired statistics "
        "(`serlib.ledger`): runs that share seed x fold are paired; the effect is the mean paired difference in the "
        "paper's unit, positive in the claimed direction, with its 95 % interval; p is one-sided in the claimed "
        "direction, Holm-adjusted over the claim's comparisons. n >= 3 runs: paired t-test (Wilcoxon as a check); "
        "fewer: a bootstrap over test utterances where the notebook kept per-utterance predictions, else no test. "
        "**held** (every comparison significant as claimed; \"larger/smaller than claimed\" when the interval misses "
        "the size the paper states), **contradicted** (significant the other way), **inconclusive** (neither; the "
        "evidence gives the smallest effect the runs could detect), **untested** (qualitative, or nothing "
        f"comparable), **not run**. Tally: {_tally_line(claims_df)}.", "",
        _tally_markdown(claims_df), "",
        claims_markdown(claims_df), "",
        f"{h} The runs behind these tables", "",
        runs_markdown(results_dir),
    ]
    rep = reproduce.read(results_dir)
    full = reproduce.markdown(results_dir)
    times = runtimes_markdown(results_dir, skip_profile=rep["profile"] if rep else None)
    estimate = paper_estimate_markdown(results_dir)
    if full or times or estimate:
        parts += ["", f"{h} How long each notebook takes", ""]
    if full:
        parts += [full]
    if times:
        parts += ["" if full else None, ("Other runs: w" if full else "W") + "all time of each notebook run by "
                  "`python -m serlib.run` (latest per notebook, profile and device; `results/runtimes.json`).", "",
                  times]
    if estimate:
        parts += ["" if (full or times) else None, estimate]
    return "\n".join(p for p in parts if p is not None)


def paper_estimate_markdown(results_dir: str | Path | None = None) -> str:
    """The ``paper`` profile's estimated wall time per notebook on the benchmark's CPU, from
    ``results/benchmarks/paper_estimate.json`` (``benchmarks/bench_paper_estimate.py``: measured unit costs
    x the profile's counts), or ``""`` when that file is absent."""
    folder = Path(results_dir) if results_dir is not None else paths.results_dir()
    f = folder / "benchmarks" / "paper_estimate.json"
    if not f.is_file():
        return ""
    est = json.loads(f.read_text())
    try:
        nbs, machine = est["notebooks"], est["machine"]
        rows = [[nb, f"{v['total_h']:,.1f} h" if v["total_h"] < 48 else f"{v['total_days']:,.0f} days", v["counts"]]
                for nb, v in sorted(nbs.items())]
    except (KeyError, TypeError) as e:
        raise ValueError(f"{f}: not the format of benchmarks/bench_paper_estimate.py (missing {e}); rerun it") from None
    cpu = f"{machine.get('cpus', '?')} CPU cores, {machine.get('torch_threads', '?')} torch threads"
    return "\n".join([f"The `paper` profile, estimated for one process on this benchmark machine ({cpu}) from measured "
                      "per-batch, per-tree and per-utterance costs times the profile's counts "
                      f"(`results/benchmarks/paper_estimate.json`; {est.get('caveat', '')}):", "",
                      _markdown(["notebook", "estimated wall time (paper profile, CPU)", "what is counted"], rows)])


def summary_markdown(df: pd.DataFrame, *, confidence: float = 0.95, results_dir: str | Path | None = None) -> str:
    """Markdown tables of :func:`serlib.results.collect` output: one section per notebook, one column per metric.

    Cells are mean ± 95 % CI over runs (seed x fold; proportions in %; fewer than 3 runs: the values). With
    ``results_dir`` (the folder ``df`` was collected from) :func:`overview_markdown` comes first.
    """
    if df.empty:
        return "# Results summary\n\nNo results yet: run `python -m serlib.run`.\n"
    out = ["# Results summary", ""]
    if results_dir is not None:
        out += [overview_markdown(results_dir, level=2, confidence=confidence), "", "## Every result, per notebook", ""]
    out += [f"Mean ± {int(confidence * 100)} % CI over runs (seed x fold; Student t, clipped to the metric's range; "
            "fewer than 3 runs: no interval, the values in brackets); proportions (UAR, WAR, accuracy, F1, WER) in %, CCC "
            "unitless. n = runs. Generated by `serlib.report.summary_markdown`.", ""]
    for nb, grp in df.groupby("notebook", sort=True):
        profile = ", ".join(sorted({str(p) for p in grp.get("profile", pd.Series([None])).dropna()})) or "?"
        data = ", ".join(sorted({str(d) for d in grp.get("data", pd.Series([None])).dropna()})) or "?"
        out += [f"{'###' if results_dir is not None else '##'} {nb}", "",
                f"profile: {profile}; data: {data}; {len(grp)} rows", ""]
        skip = {"notebook", "seed", "value", "metric", "fold", "profile", "data"}
        cond = [c for c in grp.columns if c not in skip and grp[c].notna().any()]
        s = summarize(as_runs(grp), by=[*cond, "metric"], confidence=confidence)
        metric_names = list(dict.fromkeys(s["metric"]))
        table: dict[tuple, dict[str, str]] = {}
        nseeds: dict[tuple, int] = {}
        for _, r in s.iterrows():
            k = tuple(None if _is_missing(r[c]) else r[c] for c in cond)  # NaN != NaN would split rows
            scale = 100.0 if percent_metric(r["metric"]) else 1.0
            digits = 1 if scale == 100.0 else 3
            table.setdefault(k, {})[r["metric"]] = estimate_text(
                r["mean"] * scale, r["ci_low"] * scale, r["ci_high"] * scale, int(r["n"]),
                [v * scale for v in r["values"]], digits)
            nseeds[k] = max(nseeds.get(k, 0), int(r["n"]))
        header = [*cond, *(f"{m} (%)" if percent_metric(m) else m for m in metric_names), "n"]
        rows = [[*("" if _is_missing(v) else (f"{v:g}" if isinstance(v, float) else v) for v in k),
                 *(cells.get(m, "") for m in metric_names), nseeds[k]] for k, cells in table.items()]
        out += [_markdown(header, rows), ""]
    return "\n".join(out)


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


def _main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - thin CLI
    """``python -m serlib.report [results_dir]``: print the summary Markdown."""
    from serlib.results import collect

    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else paths.results_dir()
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        print(summary_markdown(collect(folder), results_dir=folder))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())

"""Figures for the notebooks: metric vs SNR, relative drop, bars, confusion matrix, t-SNE, ours vs paper.

Every function returns a :class:`matplotlib.figure.Figure` with axis labels (units included),
a legend (or a colour bar) kept off the data, and a title; pass ``name="03_trnet_uar_vs_snr"``
to also write ``figures/<name>.png`` through :func:`save`. Figures are built without ``pyplot``
state, so sweeps do not pile up open figures.

**Inline display.** Imported inside a Jupyter kernel (JupyterLab, papermill, nbval), this module
registers the PNG formatter for figures and shows every figure a function here draws under the
cell that drew it, like pyplot's inline backend: ``fig = plots.metric_vs_snr(...)`` alone shows
the figure, and making it the cell's last expression (or calling ``display(fig)``) in that same
cell does not show it twice (:func:`enable_inline`). A figure built by hand with
``plots.Figure(...)`` shows when it is the cell's last expression or passed to ``display``.

Input is the tidy results frame of :mod:`serlib.results` (one row per method x condition x
seed x metric; proportions stored as fractions, shown here in %). Clean rows (no SNR) are
drawn at the right of the SNR axis, labelled "clean". Uncertainty is over *runs*: the values of
the ``seed`` column (a notebook with seeds x folds passes one id per run, e.g.
:func:`serlib.leaderboard.run_frame`; folds of one seed are otherwise averaged). With three or more
runs, bands and error bars are the Student-t 95 % CI (:func:`serlib.metrics.mean_ci`), clipped to
the metric's range (UAR/F1 0-100 %, CCC -1..1); with two the single-run values are drawn as small
dots instead (a two-run t interval is 12.7 standard errors wide and says little); axes stay inside
the metric's range. Legends say "runs".

Headless use: without a display (and outside Jupyter) the Agg backend is selected at import.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

if (
    "ipykernel" not in sys.modules
    and not os.environ.get("MPLBACKEND")
    and sys.platform.startswith("linux")
    and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
):
    matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from serlib import paths  # noqa: E402
from serlib.audio import atomic_write  # noqa: E402
from serlib.metrics import mean_ci  # noqa: E402
from serlib.results import (  # noqa: E402
    PROPORTION_METRICS,
    UNBOUNDED_PROPORTIONS,
    _higher_is_better,
    _metric_key,
    _readable,
    percent_metric,
)

__all__ = [
    "save", "enable_inline", "metric_label", "metric_vs_snr", "relative_drop", "score_table", "bars",
    "leaderboard_auc", "relative_change", "confusion_matrix", "tsne", "bar_compare", "spectrograms", "segment",
    "snr_check", "corpus_overview", "audio_grid", "difficulty", "Figure",
]

_LABELS = {"uar": "UAR", "accuracy": "Accuracy (WAR)", "f1": "F1", "macro_f1": "Macro F1", "ccc": "CCC",
           "wer": "WER", "cer": "CER", "estimated_snr": "Estimated SNR"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$")
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]
MIN_SEEDS_FOR_CI = 3
"""Bands / error bars need at least this many seeds; fewer are drawn as single-seed dots."""
INLINE_DPI = 100


def metric_label(metric: str) -> str:
    """Axis label of a metric with its unit, e.g. ``'UAR (%)'``, ``'CCC'``."""
    key = _metric_key(metric)
    base = _LABELS.get(key, metric)
    return f"{base} (%)" if percent_metric(key) else base


def _bounds(metric: str) -> tuple[float | None, float | None]:
    """The range a metric can take, in display units (% for proportions)."""
    key = _metric_key(metric)
    if key in PROPORTION_METRICS:
        return 0.0, 100.0
    if key in UNBOUNDED_PROPORTIONS:
        return 0.0, None
    if key == "ccc":
        return -1.0, 1.0
    return None, None


def _limits(values: Sequence[float], bounds: tuple[float | None, float | None], *,
            min_span: float | None = None) -> tuple[float, float]:
    """Axis limits around ``values`` (5 % padding) that never leave ``bounds``."""
    vals = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    lo_b, hi_b = bounds
    if vals.size == 0:
        return (lo_b if lo_b is not None else 0.0), (hi_b if hi_b is not None else 1.0)
    lo, hi = float(vals.min()), float(vals.max())
    if min_span is None:
        min_span = 0.1 * ((hi_b - lo_b) if lo_b is not None and hi_b is not None else max(abs(hi), 1.0))
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    pad = 0.06 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    if lo_b is not None:
        lo = max(lo, lo_b)
    if hi_b is not None:
        hi = min(hi, hi_b)
    return lo, hi


def _clip(values: np.ndarray, bounds: tuple[float | None, float | None]) -> np.ndarray:
    lo, hi = bounds
    return np.clip(np.asarray(values, dtype=float), -np.inf if lo is None else lo, np.inf if hi is None else hi)


def save(fig: Figure, name: str, *, pdf: bool = False, dpi: int = 150) -> Path:
    """Write ``figures_dir()/<name>.png`` (and ``.pdf`` with ``pdf=True``) atomically, tight layout.

    ``name`` is a plain file name without extension, optionally with sub-folders
    (``"03_trnet/uar_vs_snr"``). Returns the PNG path.
    """
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ValueError(f"figure name {name!r} must be a plain name such as '03_trnet_uar_vs_snr' (no extension)")
    if not isinstance(fig, Figure):
        raise TypeError(f"save() takes a matplotlib Figure, got {type(fig)}")
    base = paths.figures_dir() / name
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    png = atomic_write(base.with_suffix(".png"), lambda tmp: fig.savefig(tmp, format="png", dpi=dpi,
                                                                         bbox_inches="tight"))
    _readable(png)
    if pdf:
        _readable(atomic_write(base.with_suffix(".pdf"), lambda tmp: fig.savefig(tmp, format="pdf",
                                                                                bbox_inches="tight")))
    return png


# --------------------------------------------------------------------------- inline display
class _Inline:
    """State of the inline display in one IPython shell (see :func:`enable_inline`)."""

    shell: Any = None
    pending: list[Figure] = []
    shown: weakref.WeakSet = weakref.WeakSet()


def _png(fig: Figure) -> bytes:
    from IPython.core.pylabtools import print_figure

    _Inline.shown.add(fig)
    return print_figure(fig, "png", bbox_inches="tight", dpi=INLINE_DPI)


def _own_formatter(shell: Any) -> None:
    fmt = shell.display_formatter.formatters["image/png"]
    if fmt.type_printers.get(Figure) is not _png:
        fmt.for_type(Figure, _png)


def _before_cell(*_: Any) -> None:
    if _Inline.shell is not None:
        _own_formatter(_Inline.shell)  # pyplot's inline backend replaces it when pyplot is first imported
    _Inline.pending.clear()


def _after_cell(result: Any = None) -> None:
    """Show the figures drawn during the cell that the cell did not show itself."""
    pending, _Inline.pending = _Inline.pending, []
    last = getattr(result, "result", None)
    todo = [f for f in dict.fromkeys(pending) if f is not last and f not in _Inline.shown]
    if todo:
        from IPython.display import display

        for fig in todo:
            display(fig)


def enable_inline(shell: Any = None) -> bool:
    """Show figures inline in an IPython kernel: PNG formatter + display at the end of each cell.

    Called at import inside a Jupyter kernel; ``shell`` defaults to the running kernel's shell.
    Returns False (and does nothing) outside one. Safe to call again (a module reload replaces
    the hooks instead of adding a second set).
    """
    if shell is None:
        if "ipykernel" not in sys.modules:
            return False
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None or getattr(shell, "kernel", None) is None:
            return False
    old = getattr(shell, "_serlib_inline_hooks", None)
    if old is not None:
        for event, fn in old:
            try:
                shell.events.unregister(event, fn)
            except ValueError:
                pass
    hooks = [("pre_run_cell", _before_cell), ("post_run_cell", _after_cell)]
    for event, fn in hooks:
        shell.events.register(event, fn)
    shell._serlib_inline_hooks = hooks
    _Inline.shell = shell
    _Inline.pending = []
    _own_formatter(shell)
    return True


def _show_later(fig: Figure) -> Figure:
    """Queue ``fig`` for display at the end of the running cell (no-op outside an inline shell)."""
    if _Inline.shell is not None:
        _Inline.pending.append(fig)
    return fig


def _finish(fig: Figure, name: str | None) -> Figure:
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    if name is not None:
        save(fig, name)
    return _show_later(fig)


def _styles(labels: Sequence[str]) -> dict[str, tuple[Any, str, str]]:
    """(colour, marker, line style) per label: 10 colour-blind-safe colours, markers change with them."""
    colors = sns.color_palette("colorblind", 10)
    return {lab: (colors[i % 10], _MARKERS[i % len(_MARKERS)], "-" if i < 10 else "--")
            for i, lab in enumerate(labels)}


def _panels(n: int, *, width: float = 3.5, height: float = 2.9, legend_width: float = 2.2,
            title: bool = True) -> tuple[Figure, np.ndarray, Any]:
    """``n`` panels sharing the y axis, and the spare panel that holds the legend (or None).

    Up to three panels sit in one row, four in 2 x 2; more fill rows of 3 (or 4, or 2) chosen so
    that exactly one slot is spare for the legend, or none (legend outside, right): never an empty panel.
    """
    if n <= 3:
        nrows, ncols, spare = 1, n, 0
    elif n == 4:
        nrows, ncols, spare = 2, 2, 0
    else:
        options = [(c, -(-n // c) * c - n) for c in (3, 4, 2)]
        ncols, spare = next((o for o in options if o[1] == 1), None) or next(
            (o for o in options if o[1] == 0), (3, -(-n // 3) * 3 - n))
        nrows = -(-n // ncols)
    legend_in_panel = spare >= 1
    fig_w = width * ncols + (0.0 if legend_in_panel else legend_width)
    fig = Figure(figsize=(fig_w, height * nrows + (0.35 if title else 0.0)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
    for ax in axes[n + (1 if legend_in_panel else 0):]:
        ax.remove()
    legend_ax = axes[n] if legend_in_panel else None
    if legend_ax is not None:
        legend_ax.axis("off")
    return fig, axes[:n], legend_ax


def _legend(fig: Figure, legend_ax: Any, handles: list, labels: list[str], title: str) -> None:
    if legend_ax is not None:
        legend_ax.legend(handles, labels, title=title, loc="center", fontsize="small", frameon=False)
    else:
        fig.legend(handles, labels, title=title, loc="outside right center", fontsize="small", frameon=False)


def _uncertainty_handles(band: bool, seeds: bool, *, bars: bool = False) -> tuple[list, list[str]]:
    """Legend entries for the uncertainty marks drawn (bands / dots for lines, error bars / ticks for bars)."""
    handles, labels = [], []
    if band:
        handles.append(Line2D([], [], color="black", lw=1, marker="|", ms=7) if bars
                       else Patch(color="0.55", alpha=0.3, lw=0))
        labels.append("95 % CI over runs")
    if seeds:
        handles.append(Line2D([], [], marker="|", ls="none", color="black", ms=7, mew=1.2) if bars
                       else Line2D([], [], marker="o", ls="none", color="0.45", alpha=0.6, markersize=4))
        labels.append("single runs (fewer than 3)")
    return handles, labels


# --------------------------------------------------------------------------- tidy-frame helpers
def _select_metric(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    for col in ("metric", "value", "snr"):
        if col not in df.columns:
            raise KeyError(f"plot: the results frame has no {col!r} column (columns: {list(df.columns)})")
    sub = df[df["metric"].map(_metric_key) == _metric_key(metric)].copy()
    if sub.empty:
        raise ValueError(f"plot: no rows with metric {metric!r}; metrics present: {sorted(set(df['metric']))}")
    sub["snr"] = pd.to_numeric(sub["snr"], errors="coerce")
    sub["value"] = sub["value"].astype(float)
    return sub


def _hue_labels(df: pd.DataFrame, hue: str | Sequence[str]) -> pd.Series:
    cols = [hue] if isinstance(hue, str) else list(hue)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"plot: hue column(s) {missing} not in the results")
    return df[cols].astype(str).agg(" / ".join, axis=1)


def _facets(df: pd.DataFrame, col: str | None) -> tuple[list[Any], pd.DataFrame]:
    """Facet values and the frame with clean rows (no noise type) copied into every facet."""
    if col is None or col not in df.columns or df[col].isna().all():
        return [None], df.assign(_facet=None)
    values = [v for v in dict.fromkeys(df[col]) if not pd.isna(v)]
    shared = df[df[col].isna()]
    parts = [df[df[col] == v].assign(_facet=v) for v in values]
    parts += [shared.assign(_facet=v) for v in values]
    return values, pd.concat(parts, ignore_index=True)


def _seed_means(frame: pd.DataFrame, x: str) -> pd.DataFrame:
    """One value per ``x`` and seed (rows of one seed, e.g. folds, averaged first)."""
    if "seed" in frame.columns:
        return frame.groupby([x, "seed"], dropna=False)["value"].mean().reset_index()
    return frame[[x, "value"]]


def _stats_over_seeds(frame: pd.DataFrame, x: str, confidence: float = 0.95) -> pd.DataFrame:
    """Mean, CI half-width (0 when undefined) and number of seeds of ``value`` per ``x``."""
    rows = []
    for xv, grp in _seed_means(frame, x).groupby(x, dropna=False):
        mean, half = mean_ci(grp["value"].to_numpy(float), confidence=confidence)
        rows.append({x: xv, "mean": mean, "ci": 0.0 if not np.isfinite(half) else half, "n": len(grp)})
    return pd.DataFrame(rows)


def _snr_axis(ax, snrs: Sequence[float], clean_x: float | None) -> None:
    ticks = list(snrs)
    labels = [f"{s:g}" for s in snrs]
    if clean_x is not None:
        ticks.append(clean_x)
        labels.append("clean")
        if snrs:
            ax.axvline((max(snrs) + clean_x) / 2, color="0.85", lw=0.8, zorder=0)
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels)
    ax.set_xlabel("SNR (dB)")


class _Drawn:
    """What a figure drew: values for the y limits and which uncertainty marks appear."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.band = False
        self.seeds = False


def _point_set(ax, x: float | None, frame: pd.DataFrame, xcol: str, *, scale: float, bounds, ci: bool,
               style: tuple, label: str | None, drawn: _Drawn, clean: bool) -> None:
    """Means (a line, or one marker for clean) with a CI band / bar (>= 3 seeds) or single-seed dots."""
    color, marker, ls = style
    st = _stats_over_seeds(frame, xcol).sort_values(xcol)
    mean = st["mean"].to_numpy(float) * scale
    xs = np.full(len(st), x) if clean else st[xcol].to_numpy(float)
    if clean:
        ax.plot(xs, mean, marker=marker, ms=7, color=color, mec="black", mew=0.6, ls="none", label=label, zorder=4)
    else:
        ax.plot(xs, mean, marker=marker, ms=5, lw=1.6, color=color, ls=ls, label=label, zorder=3)
    drawn.values += list(mean)
    n = st["n"].to_numpy(int)
    if ci and len(n) and n.min() >= MIN_SEEDS_FOR_CI:
        lo = _clip(mean - st["ci"].to_numpy(float) * scale, bounds)
        hi = _clip(mean + st["ci"].to_numpy(float) * scale, bounds)
        if clean:
            ax.errorbar(xs, mean, yerr=[mean - lo, hi - mean], fmt="none", ecolor=color, capsize=3, lw=1.2, zorder=3)
        else:
            ax.fill_between(xs, lo, hi, color=color, alpha=0.15, lw=0)
        drawn.values += list(lo) + list(hi)
        drawn.band = True
    elif len(n) and n.max() > 1:
        per_seed = _seed_means(frame, xcol)
        px = np.full(len(per_seed), x) if clean else per_seed[xcol].to_numpy(float)
        py = per_seed["value"].to_numpy(float) * scale
        ax.scatter(px, py, s=12, color=color, marker=marker, alpha=0.45, lw=0, zorder=2)
        drawn.values += list(py)
        drawn.seeds = True


def _snr_lines(
    data: pd.DataFrame, value_label: str, *, hue: str | Sequence[str], col: str | None, ci: bool,
    title: str, scale: float, bounds: tuple[float | None, float | None], include_clean: bool = True,
    zero_line: bool = False, chance: float | None = None,
) -> Figure:
    data = data.assign(_hue=_hue_labels(data, hue))
    facet_values, data = _facets(data, col)
    snrs = sorted(data["snr"].dropna().unique())
    has_clean = include_clean and data["snr"].isna().any()
    step = (snrs[-1] - snrs[0]) / max(len(snrs) - 1, 1) if len(snrs) > 1 else 5.0
    clean_x = (snrs[-1] + max(step, 5.0)) if (has_clean and snrs) else (0.0 if has_clean else None)
    hues = list(dict.fromkeys(data["_hue"]))
    styles = _styles(hues)
    single = len(facet_values) == 1
    fig, axes, legend_ax = _panels(len(facet_values), width=5.2 if single else 3.5, height=3.6 if single else 2.9)
    drawn = _Drawn()
    for ax, fv in zip(axes, facet_values):
        sub = data[data["_facet"].isna()] if fv is None else data[data["_facet"] == fv]
        for label in hues:
            grp = sub[sub["_hue"] == label]
            noisy, clean = grp[grp["snr"].notna()], grp[grp["snr"].isna()]
            if len(noisy):
                _point_set(ax, None, noisy, "snr", scale=scale, bounds=bounds, ci=ci, style=styles[label],
                           label=label, drawn=drawn, clean=False)
            if has_clean and len(clean):
                _point_set(ax, clean_x, clean.assign(snr=clean_x), "snr", scale=scale, bounds=bounds, ci=ci,
                           style=styles[label], label=None if len(noisy) else label, drawn=drawn, clean=True)
        _snr_axis(ax, snrs, clean_x)
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel(value_label)
        ax.set_title(str(fv) if fv is not None else "")
        ax.grid(alpha=0.3)
        if zero_line:
            ax.axhline(0.0, color="0.3", lw=0.9, ls="--", zorder=1)
            drawn.values.append(0.0)
        if chance is not None:
            drawn.values.append(chance * scale)
    ylim = _limits(drawn.values, bounds)
    for ax in axes:
        ax.set_ylim(*ylim)
    handles, labels = [], []
    for ax in axes:
        for hh, ll in zip(*ax.get_legend_handles_labels()):
            if ll not in labels:
                handles.append(hh)
                labels.append(ll)
    order = [labels.index(h) for h in hues if h in labels]
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    extra_h, extra_l = _uncertainty_handles(drawn.band, drawn.seeds)
    if chance is not None:
        for ax in axes:
            ax.axhline(chance * scale, color="0.3", lw=1, ls=":", zorder=1)
        extra_h.append(Line2D([], [], color="0.3", lw=1, ls=":"))
        extra_l.append(f"chance ({chance * scale:g}{' %' if scale == 100.0 else ''})")
    hue_title = hue if isinstance(hue, str) else " / ".join(hue)
    _legend(fig, legend_ax, handles + extra_h, labels + extra_l, hue_title)
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- public plots
def metric_vs_snr(
    df: pd.DataFrame,
    metric: str,
    *,
    hue: str | Sequence[str] = "method",
    col: str | None = "noise_type",
    ci: bool = True,
    chance: float | None = None,
    title: str | None = None,
    name: str | None = None,
) -> Figure:
    """``metric`` against SNR (dB), one line per ``hue`` and one panel per ``col`` (noise type).

    Clean rows (``snr`` missing) appear in every panel as a larger marker at the right, labelled
    "clean". With ``ci`` and at least three seeds per point a band / error bar shows the 95 % CI
    over runs; with two, the single runs are dots. The y axis stays inside the metric's range
    (UAR/F1 0-100 %, CCC -1..1); the legend sits in a spare panel or beside the panels. With one
    SNR there is no curve to draw: a warning points to :func:`score_table`. ``chance`` (a fraction,
    e.g. 0.25 for 4 classes) adds a dotted chance line.
    """
    sub = _select_metric(df, metric)
    noisy_snrs = sub["snr"].dropna().unique()
    if len(noisy_snrs) == 1:
        warnings.warn(f"metric_vs_snr: only one SNR ({noisy_snrs[0]:g} dB), so there is no curve to show; "
                      f"plots.score_table(df, {metric!r}) gives the same numbers as a table", stacklevel=2)
    scale = 100.0 if percent_metric(metric) else 1.0
    return _finish(_snr_lines(sub, metric_label(metric), hue=hue, col=col, ci=ci, scale=scale,
                              bounds=_bounds(metric), chance=chance,
                              title=title or f"{metric_label(metric).split(' (')[0]} vs SNR"), name)


def relative_drop(
    df: pd.DataFrame,
    metric: str,
    *,
    hue: str | Sequence[str] = "method",
    col: str | None = "noise_type",
    relative: bool = True,
    ci: bool = True,
    title: str | None = None,
    name: str | None = None,
) -> Figure:
    """Degradation from clean vs SNR per method: ``(clean - noisy) / clean`` in % (or points).

    The clean reference is the same method's clean score for the same seed (the mean over
    seeds when that seed has none). For lower-is-better metrics (WER) the degradation is
    ``noisy - clean``. Positive = worse than clean; the axis stays within -100..100 %
    (a method cannot lose more than all of its clean score). Uncertainty as in :func:`metric_vs_snr`.
    """
    sub = _select_metric(df, metric)
    hib = _higher_is_better(metric)
    sub = sub.assign(_hue=_hue_labels(sub, hue))
    clean = sub[sub["snr"].isna()]
    if clean.empty:
        raise ValueError(f"relative_drop: no clean rows (snr missing) for {metric!r}; the drop needs a clean reference")
    by_seed = clean.groupby(["_hue", "seed"])["value"].mean() if "seed" in clean else pd.Series(dtype=float)
    by_hue = clean.groupby("_hue")["value"].mean()
    noisy = sub[sub["snr"].notna()].copy()
    if noisy.empty:
        raise ValueError(f"relative_drop: no noisy rows (with an snr) for {metric!r}")
    missing = sorted(set(noisy["_hue"]) - set(by_hue.index))
    if missing:
        raise ValueError(f"relative_drop: no clean score for {missing}; add their clean rows or filter them out")

    def ref(row: pd.Series) -> float:
        key = (row["_hue"], row["seed"]) if "seed" in row else None
        return float(by_seed[key]) if key is not None and key in by_seed.index else float(by_hue[row["_hue"]])

    clean_ref = noisy.apply(ref, axis=1)
    diff = (clean_ref - noisy["value"]) if hib else (noisy["value"] - clean_ref)
    if relative:
        zero = clean_ref.abs() < 1e-12
        if zero.all():
            raise ValueError("relative_drop: every clean score is 0, the relative drop is undefined; use relative=False")
        if zero.any():  # e.g. a dry run's 2-batch model on 8 clean utterances: that run has no relative drop
            runs = sorted({f"{h} (seed {sd})" if "seed" in noisy else str(h)
                           for h, sd in zip(noisy.loc[zero, "_hue"], noisy.loc[zero].get("seed", noisy.loc[zero, "_hue"]))})
            warnings.warn(f"relative_drop: clean score 0 in {', '.join(runs)}; their relative drop is undefined and "
                          "left out of the figure (see the absolute drop, relative=False)", stacklevel=2)
            noisy, diff, clean_ref = noisy[~zero], diff[~zero], clean_ref[~zero]
        noisy["value"] = diff / clean_ref.abs()
        label, scale, bounds = "Relative drop from clean (%)", 100.0, (-100.0, 100.0)
    else:
        noisy["value"] = diff
        scale = 100.0 if percent_metric(metric) else 1.0
        unit = "percentage points" if scale == 100.0 else "absolute"
        label = f"Drop from clean ({unit})"
        lo, hi = _bounds(metric)
        span = (hi - lo) if lo is not None and hi is not None else None
        bounds = (-span, span) if span is not None else (None, None)
    noisy = noisy.drop(columns="_hue")
    fig = _snr_lines(noisy, label, hue=hue, col=col, ci=ci, scale=scale, bounds=bounds, include_clean=False,
                     zero_line=True, title=title or f"{metric_label(metric).split(' (')[0]}: drop from clean vs SNR")
    return _finish(fig, name)


def _condition_label(row: pd.Series) -> str:
    if pd.isna(row.get("snr")):
        cond = row.get("test_condition")
        return "clean" if cond is None or pd.isna(cond) else str(cond)
    nt = row.get("noise_type")
    prefix = "" if nt is None or pd.isna(nt) else f"{nt} "
    return f"{prefix}{row['snr']:g} dB"


def score_table(
    df: pd.DataFrame,
    metric: str,
    *,
    rows: str | Sequence[str] = "method",
    cols: str | Sequence[str] | None = None,
    digits: int | None = None,
) -> pd.DataFrame:
    """``metric`` as a table: mean ± 95 % CI over runs (n runs), per ``rows`` x (``cols``, condition).

    The table to show instead of :func:`metric_vs_snr` when there is a single SNR. The condition
    is "clean" (or the ``test_condition``) for rows without an SNR, else "<noise_type> <snr> dB".
    Proportions are shown in %; ``digits`` defaults to 1 for % and 3 otherwise. The interval is
    left out with one seed.
    """
    sub = _select_metric(df, metric)
    rows = [rows] if isinstance(rows, str) else list(rows)
    cols = [] if cols is None else ([cols] if isinstance(cols, str) else list(cols))
    missing = [c for c in rows + cols if c not in sub.columns]
    if missing:
        raise KeyError(f"score_table: column(s) {missing} not in the results (columns: {list(sub.columns)})")
    scale = 100.0 if percent_metric(metric) else 1.0
    digits = (1 if scale == 100.0 else 3) if digits is None else digits
    sub["condition"] = sub.apply(_condition_label, axis=1)
    keys = rows + cols + ["condition"]
    cells = []
    for key, grp in sub.groupby(keys, dropna=False, sort=False):
        st = _stats_over_seeds(grp.assign(_all=0), "_all").iloc[0]
        text = f"{st['mean'] * scale:.{digits}f}"
        if st["n"] > 1:
            text += f" ± {st['ci'] * scale:.{digits}f}"
        cells.append({**dict(zip(keys, key if isinstance(key, tuple) else (key,))),
                      "cell": f"{text} (n={int(st['n'])})"})
    table = pd.DataFrame(cells).pivot_table(index=rows, columns=cols + ["condition"], values="cell",
                                            aggfunc="first", sort=False)
    # conditions without an SNR (clean) first, then from the highest SNR down; outer columns as they come
    rank = {c: (0, 0.0, "") for c in sub.loc[sub["snr"].isna(), "condition"]}
    rank |= {c: (1, -float(snr), c) for c, snr in zip(sub["condition"], sub["snr"]) if pd.notna(snr)}
    outer = {k: i for i, k in enumerate(dict.fromkeys(tuple(t[:-1]) for t in table.columns))} if cols else {}
    order = sorted(table.columns, key=lambda t: (outer.get(tuple(t[:-1]), 0), rank[t[-1]]) if cols
                   else rank[t])
    table = table[order]
    table.columns.names = [*cols, metric_label(metric)]
    return table


def _interval_marks(ax, centre: float, pos: float, values: np.ndarray, *, scale: float, bounds, drawn: _Drawn,
                    horizontal: bool = True) -> float:
    """A CI error bar (>= 3 values) or single-value ticks (2 values) at ``pos`` for a bar of height ``centre``.

    Returns the largest value drawn (the bar's end when nothing is drawn), so a value label can sit past it."""
    n = len(values)
    right = centre
    if n >= MIN_SEEDS_FOR_CI:
        _, half = mean_ci(values)
        lo, hi = _clip(np.array([centre - half * scale, centre + half * scale]), bounds)
        err = [[centre - lo], [hi - centre]]
        if horizontal:
            ax.errorbar([centre], [pos], xerr=err, fmt="none", ecolor="black", capsize=2.5, lw=1, zorder=4)
        else:
            ax.errorbar([pos], [centre], yerr=err, fmt="none", ecolor="black", capsize=2.5, lw=1, zorder=4)
        drawn.values += [lo, hi]
        drawn.band = True
        right = max(centre, hi)
    elif n == 2:
        vals = values * scale
        if horizontal:
            ax.plot(vals, [pos] * n, ls="none", marker="|", ms=7, mew=1.2, color="black", zorder=4)
        else:
            ax.plot([pos] * n, vals, ls="none", marker="_", ms=7, mew=1.2, color="black", zorder=4)
        drawn.values += list(vals)
        drawn.seeds = True
        right = max(centre, *vals)
    return right


def _per_group_seeds(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, np.ndarray]:
    """Per-seed values (folds averaged) of each group of ``keys``."""
    work = frame
    if "seed" in frame.columns:
        work = frame.groupby([*keys, "seed"], dropna=False, sort=False)["value"].mean().reset_index()
    return {k if isinstance(k, tuple) else (k,): g["value"].to_numpy(float)
            for k, g in work.groupby(keys, dropna=False, sort=False)}


def _wrap(label: str, width: int = 22) -> str:
    """Break a long tick label at " / ", "_" or "+" so it fits beside a bar."""
    if len(label) <= width:
        return label
    parts = re.split(r"(?<=[/_+ ])", label)
    lines, cur = [], ""
    for p in parts:
        if cur and len(cur) + len(p) > width:
            lines.append(cur.rstrip())
            cur = ""
        cur += p
    return "\n".join([*lines, cur.rstrip()])


def bars(
    df: pd.DataFrame,
    metric: str,
    *,
    y: str | Sequence[str] = "method",
    hue: str | None = None,
    order: Sequence[str] | None = None,
    hue_order: Sequence[str] | None = None,
    chance: float | None = None,
    xlabel: str | None = None,
    title: str | None = None,
    name: str | None = None,
) -> Figure:
    """Horizontal grouped bars of ``metric`` (mean over runs) per ``y`` group and ``hue``.

    Made for a handful of conditions per system (e.g. paper 5's clean / FGSM / BIM test):
    system names sit on the y axis (no rotated or cut labels), every bar carries its value (so a
    bar of 0 is still seen), a CI bar with three or more seeds, single-seed ticks with two, a
    dashed chance line when ``chance`` (a fraction, e.g. 0.25) is given, the legend below the axes.
    ``y`` may name several columns (joined with " / "); ``order`` / ``hue_order`` fix the order.
    """
    if "metric" in df.columns:
        sub = df[df["metric"].map(_metric_key) == _metric_key(metric)].copy()
        if sub.empty:
            raise ValueError(f"bars: no rows with metric {metric!r}; metrics present: {sorted(set(df['metric']))}")
    else:
        sub = df.copy()
    if "value" not in sub.columns:
        raise KeyError(f"bars: the results frame has no 'value' column (columns: {list(sub.columns)})")
    sub["value"] = sub["value"].astype(float)
    sub["_y"] = _hue_labels(sub, y)
    if hue is not None and hue not in sub.columns:
        raise KeyError(f"bars: hue column {hue!r} not in the results")
    sub["_h"] = sub[hue].astype(str) if hue is not None else metric_label(metric).split(" (")[0]
    ys = list(order) if order is not None else list(dict.fromkeys(sub["_y"]))
    hs = list(hue_order) if hue_order is not None else list(dict.fromkeys(sub["_h"]))
    unknown = sorted(set(ys) - set(sub["_y"])) + sorted(set(hs) - set(sub["_h"]))
    if unknown:
        raise ValueError(f"bars: {unknown} not in the data (y groups: {sorted(set(sub['_y']))}, "
                         f"hue values: {sorted(set(sub['_h']))})")
    scale = 100.0 if percent_metric(metric) else 1.0
    bounds = _bounds(metric)
    seeds = _per_group_seeds(sub, ["_y", "_h"])
    k = len(hs)
    height = 0.8 / k
    fig = Figure(figsize=(8.4, 0.7 + max(1.6, len(ys) * (0.16 * k + 0.2))), layout="constrained")
    ax = fig.subplots()
    colors = sns.color_palette("colorblind", max(k, 3))
    drawn = _Drawn()
    drawn.values.append(0.0)
    for j, h in enumerate(hs):
        pos = np.arange(len(ys)) + (j - (k - 1) / 2) * height
        means = np.array([seeds[(yv, h)].mean() * scale if (yv, h) in seeds else np.nan for yv in ys])
        ax.barh(pos, np.nan_to_num(means), height * 0.92, color=colors[j], label=h if hue is not None else None,
                edgecolor="0.3", linewidth=0.4)
        drawn.values += list(means[np.isfinite(means)])
        for p, yv, m in zip(pos, ys, means):
            if (yv, h) not in seeds:
                continue
            right = _interval_marks(ax, m, p, seeds[(yv, h)], scale=scale, bounds=bounds, drawn=drawn)
            # past the bar, its interval and zero, so no whisker runs through the number (or its minus sign)
            ax.annotate(f"{m:.{0 if scale == 100.0 else 2}f}", (max(right, 0.0), p), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=7, color="0.2")
    if chance is not None:
        ax.axvline(chance * scale, color="0.25", ls="--", lw=1, zorder=1,
                   label=f"chance ({chance * scale:g}{' %' if scale == 100.0 else ''})")
    lo, hi = _limits(drawn.values, bounds)
    ax.set_xlim(min(lo, 0.0), hi + 0.1 * (hi - lo))  # room for the value labels
    ax.set_yticks(np.arange(len(ys)))
    ax.set_yticklabels([_wrap(v) for v in ys], fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(xlabel or metric_label(metric))
    ax.set_ylabel(" / ".join([y] if isinstance(y, str) else list(y)))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or f"{metric_label(metric).split(' (')[0]} per {hue or 'system'}")
    handles, labels = ax.get_legend_handles_labels()
    extra_h, extra_l = _uncertainty_handles(drawn.band, drawn.seeds, bars=True)
    if handles or extra_h:
        fig.legend(handles + extra_h, labels + extra_l, title=hue, loc="outside right upper", fontsize="small",
                   frameon=False)
    return _finish(fig, name)


def leaderboard_auc(
    auc: pd.DataFrame,
    *,
    order: Sequence[str] | None = None,
    chance: float | None = 0.25,
    xlabel: str = "AUC of UAR over 0-20 dB (%)",
    title: str | None = None,
    name: str | None = None,
) -> Figure:
    """The robustness leaderboard: overall AUC per method (bars) and per noise family (markers).

    ``auc`` is :func:`serlib.leaderboard.auc_frame` (``method, seed, noise_type, value``, with
    ``noise_type = "all"`` the mean over families). Bars are the overall AUC (mean over runs) with
    the 95 % CI over runs (three or more) or single-run ticks (two); markers are the families'
    means; methods are ranked top-down (``order``, e.g. the leaderboard's, or by overall AUC);
    the dashed line is chance (``chance`` as a fraction; None = none). Method names sit on the
    y axis and the legend below the axes, so nothing overlaps.
    """
    need = {"method", "noise_type", "value"}
    if not need <= set(auc.columns):
        raise KeyError(f"leaderboard_auc: pass serlib.leaderboard.auc_frame(...) (missing {sorted(need - set(auc.columns))})")
    if auc.empty:
        raise ValueError("leaderboard_auc: the AUC frame is empty")
    frame = auc.copy()
    frame["value"] = frame["value"].astype(float)
    families = [f for f in dict.fromkeys(frame["noise_type"].astype(str)) if f != "all"]
    overall = frame[frame["noise_type"].astype(str) == "all"]
    if overall.empty:
        keys = ["method", "seed"] if "seed" in frame.columns else ["method"]
        overall = frame.groupby(keys, dropna=False)["value"].mean().reset_index().assign(noise_type="all")
    seeds = _per_group_seeds(overall, ["method"])
    if order is None:
        order = sorted(seeds, key=lambda k: -seeds[k].mean())
        order = [k[0] for k in order]
    order = list(order)
    unknown = sorted(set(order) - {k[0] for k in seeds})
    if unknown:
        raise ValueError(f"leaderboard_auc: methods {unknown} have no AUC rows")
    y = np.arange(len(order))
    fig = Figure(figsize=(8.4, 1.2 + 0.42 * len(order)), layout="constrained")
    ax = fig.subplots()
    drawn = _Drawn()
    means = np.array([seeds[(m,)].mean() * 100 for m in order])
    ax.barh(y, means, 0.7, color="0.85", edgecolor="0.45", lw=0.6, label="all families (bar)", zorder=1)
    drawn.values += list(means) + [0.0]
    for yi, m, mean in zip(y, order, means):
        _interval_marks(ax, mean, yi, seeds[(m,)], scale=100.0, bounds=(0.0, 100.0), drawn=drawn)
    fam = frame[frame["noise_type"].astype(str) != "all"]
    fam_means = _per_group_seeds(fam, ["method", "noise_type"])
    styles = _styles(families)
    offsets = np.linspace(-0.22, 0.22, len(families)) if len(families) > 1 else np.zeros(1)
    for off, f in zip(offsets, families):
        color, marker, _ = styles[f]
        xs = [fam_means[(m, f)].mean() * 100 if (m, f) in fam_means else np.nan for m in order]
        ax.scatter(xs, y + off, color=color, marker=marker, s=30, edgecolors="white", linewidths=0.5, zorder=3,
                   label=f"{f} (mean over runs)")
        drawn.values += [v for v in xs if np.isfinite(v)]
    if chance is not None:
        ax.axvline(chance * 100, color="0.25", ls="--", lw=1, zorder=2, label=f"chance ({chance * 100:g} %)")
        drawn.values.append(chance * 100)
    lo, hi = _limits(drawn.values, (0.0, 100.0))
    ax.set_xlim(0.0, hi)
    ax.set_yticks(y)
    ax.set_yticklabels(order)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("method (ranked)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or "Robustness leaderboard: area under the UAR-vs-SNR curve")
    handles, labels = ax.get_legend_handles_labels()
    extra_h, extra_l = _uncertainty_handles(drawn.band, drawn.seeds, bars=True)
    fig.legend(handles + extra_h, labels + extra_l, title="AUC", loc="outside right upper", fontsize="small",
               frameon=False)
    return _finish(fig, name)


def relative_change(ours: pd.DataFrame, paper: pd.DataFrame | None = None, *, name: str | None = None) -> Figure:
    """Paper 4's Figure 2 equivalent: grouped bars of relative change (%) per test scenario.

    ``ours`` / ``paper`` are :func:`serlib.models.joint_asr_ser.relative_change` frames
    (``metric, scenario, model, change``); columns are (a) ASR: WER and (b) SER: accuracy, rows
    are ours and (when given) the paper's. Each column has **one y scale** for ours and the paper's,
    so bar heights compare directly; positive = better than the clean-trained baseline.
    """
    sets = [("ours", ours)] + ([("paper", paper)] if paper is not None else [])
    for who, rel in sets:
        need = {"metric", "scenario", "model", "change"}
        if not need <= set(rel.columns):
            raise KeyError(f"relative_change: {who} lacks {sorted(need - set(rel.columns))}; pass "
                           "serlib.models.joint_asr_ser.relative_change(...)")
    models = ["Baseline (noisy-trained)", "Joint (clean-trained)", "Joint (noisy-trained)"]
    colors = dict(zip(models, sns.color_palette("colorblind", 3)))
    fig = Figure(figsize=(10.0, 0.6 + 3.0 * len(sets)), layout="constrained")
    axes = fig.subplots(len(sets), 2, squeeze=False, sharey="col")
    for c, (metric, what) in enumerate([("wer", "(a) ASR: WER"), ("accuracy", "(b) SER: accuracy")]):
        for r, (who, rel) in enumerate(sets):
            ax = axes[r, c]
            sub = rel[rel["metric"] == metric]
            scen = list(dict.fromkeys(sub["scenario"]))
            x = np.arange(len(scen))
            for k, model in enumerate(models):
                vals = sub[sub["model"] == model].set_index("scenario")["change"].reindex(scen)
                ax.bar(x + (k - 1) * 0.27, vals.to_numpy(float), 0.27, color=colors[model], label=model)
            ax.axhline(0, color="black", lw=0.8)
            if not np.isfinite(sub["change"].to_numpy(float)).any():
                ax.text(0.5, 0.5, "no comparison in this run\n(these models were not trained)", ha="center",
                        va="center", transform=ax.transAxes, color="0.35")
            ax.set_xticks(x)
            ax.set_xticklabels(scen, rotation=30, ha="right", fontsize="small")
            if c == 0:
                ax.set_ylabel("change vs clean-trained\nbaseline (%, + = better)")
            if r == len(sets) - 1:
                ax.set_xlabel("test scenario (SNR in dB)")
            ax.set_title(f"{what} ({who})")
            ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize="small", frameon=False)
    return _finish(fig, name)


def confusion_matrix(
    y_true: Sequence,
    y_pred: Sequence,
    labels: Sequence,
    normalize: bool = True,
    *,
    title: str | None = None,
    name: str | None = None,
) -> Figure:
    """Heat map of the confusion matrix (rows = true class; row-normalised to recall when ``normalize``)."""
    from serlib.metrics import confusion

    labels = list(labels)
    if not labels:
        raise ValueError("confusion_matrix: labels is empty; pass the class list, e.g. ['angry', 'happy', ...]")
    unknown = sorted({str(v) for v in list(y_true) + list(y_pred)} - {str(v) for v in labels})
    if unknown:
        raise ValueError(f"confusion_matrix: values {unknown} are not in labels {labels}")
    cm = confusion(y_true, y_pred, labels=labels, normalize="true" if normalize else None)
    fig = Figure(figsize=(1.1 * len(labels) + 2.2, 0.95 * len(labels) + 1.6))
    ax = fig.subplots()
    sns.heatmap(cm, annot=True, fmt=".2f" if normalize else "d", cmap="Blues", vmin=0.0,
                vmax=1.0 if normalize else None, square=True, ax=ax,
                cbar_kws={"label": "Proportion of true class" if normalize else "Utterances (count)"})
    ax.set_xlabel("Predicted emotion")
    ax.set_ylabel("True emotion")
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_title(title or ("Confusion matrix (rows normalised)" if normalize else "Confusion matrix (counts)"))
    return _finish(fig, name)


def tsne(
    embeddings: np.ndarray,
    labels: Sequence,
    *,
    title: str,
    seed: int = 0,
    style: Sequence | None = None,
    max_points: int = 1000,
    perplexity: float = 30.0,
    centers: bool = True,
    label_name: str = "label",
    style_name: str = "style",
    name: str | None = None,
) -> Figure:
    """2-D t-SNE (scikit-learn) of utterance embeddings coloured by ``labels`` (marker by ``style``).

    At most ``max_points`` points are kept (a stratified random subsample, seeded); more than 50
    dimensions are first reduced with PCA. ``centers`` draws each label's centre as a large marker.
    ``label_name`` / ``style_name`` head the legend's two parts (e.g. ``"SNR"``, ``"emotion"``).
    Markers are large and opaque enough to tell the ``style`` classes apart; the legend sits
    beside the axes.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = np.asarray(embeddings, dtype=float)
    lab = np.asarray(list(labels), dtype=object)
    if x.ndim != 2:
        raise ValueError(f"tsne: embeddings must be (n, dim), got shape {x.shape}")
    if len(lab) != len(x):
        raise ValueError(f"tsne: {len(x)} embeddings but {len(lab)} labels")
    sty = None if style is None else np.asarray(list(style), dtype=object)
    if sty is not None and len(sty) != len(x):
        raise ValueError(f"tsne: {len(x)} embeddings but {len(sty)} style values")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise ValueError(f"tsne: {int(bad.sum())} embeddings contain NaN/inf (first at row {int(np.argmax(bad))})")
    if len(x) < 5:
        raise ValueError(f"tsne: need at least 5 points, got {len(x)}")
    rng = np.random.default_rng(seed)
    if len(x) > max_points:
        keep = []
        for v in dict.fromkeys(lab):
            idx = np.flatnonzero(lab == v)
            k = max(1, round(max_points * len(idx) / len(x)))
            keep.extend(rng.choice(idx, size=min(k, len(idx)), replace=False))
        keep = np.sort(np.asarray(keep))
        x, lab = x[keep], lab[keep]
        sty = sty[keep] if sty is not None else None
    n_pca = min(50, len(x) - 1)
    if x.shape[1] > n_pca:
        x = PCA(n_components=n_pca, random_state=seed).fit_transform(x)
    perp = float(min(perplexity, max(2.0, (len(x) - 1) / 3.0)))
    # one OpenMP thread: reproducible, and 10-20x faster than the default on a busy (oversubscribed) CPU
    with threadpool_limits(limits=1):
        xy = TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed).fit_transform(x)
    if label_name == style_name:
        raise ValueError(f"tsne: label_name and style_name must differ (both {label_name!r})")
    frame = pd.DataFrame({"t-SNE 1": xy[:, 0], "t-SNE 2": xy[:, 1], label_name: lab.astype(str)})
    if sty is not None:
        frame[style_name] = sty.astype(str)
    fig = Figure(figsize=(7.4, 5.0), layout="constrained")
    ax = fig.subplots()
    order = list(dict.fromkeys(frame[label_name]))
    palette = dict(zip(order, sns.color_palette("colorblind", len(order))))
    sns.scatterplot(data=frame, x="t-SNE 1", y="t-SNE 2", hue=label_name, hue_order=order, palette=palette,
                    style=style_name if sty is not None else None, s=34, alpha=0.8, ax=ax, linewidth=0.3,
                    edgecolor="white")
    if centers:
        cen = frame.groupby(label_name, sort=False)[["t-SNE 1", "t-SNE 2"]].mean()
        ax.scatter(cen["t-SNE 1"], cen["t-SNE 2"], s=170, c=[palette[v] for v in cen.index], edgecolors="black",
                   linewidths=1.2, marker="o", zorder=5)
    ax.set_xlabel("t-SNE dimension 1 (a.u.)")
    ax.set_ylabel("t-SNE dimension 2 (a.u.)")
    ax.set_title(title)
    legend = ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                       markerscale=1.3)
    if centers:
        legend.set_title(f"large circle = centre of a {label_name}", prop={"size": "small"})
    return _finish(fig, name)


def bar_compare(
    comparison: pd.DataFrame,
    *,
    label_cols: Sequence[str] | None = None,
    title: str | None = None,
    name: str | None = None,
    max_bars: int = 40,
) -> Figure:
    """Grouped bars of ours (CI error bars) vs the paper (sd error bars when printed).

    ``comparison`` is the output of :func:`serlib.results.compare`, filtered to one unit
    (e.g. one metric). Rows with neither value are refused; "ours only" / "paper only" rows
    show a single bar. ``label_cols`` name the x tick (default: the condition columns that vary).
    """
    need = {"ours", "ours_ci", "paper", "unit", "status"}
    if not need <= set(comparison.columns):
        missing = sorted(need - set(comparison.columns))
        raise KeyError(f"bar_compare: pass the output of serlib.results.compare (missing {missing})")
    comp = comparison.reset_index(drop=True)
    if comp.empty:
        raise ValueError("bar_compare: the comparison is empty")
    units = sorted(set(comp["unit"]))
    if len(units) > 1:
        raise ValueError(f"bar_compare: rows have several units {units}; filter to one metric first")
    if len(comp) > max_bars:
        raise ValueError(f"bar_compare: {len(comp)} rows is too many for one figure (max {max_bars}); filter first")
    if label_cols is None:
        cand = ["method", "attribute", "augmentation", "train_condition", "test_condition", "noise_type", "snr",
                "metric"]
        label_cols = [c for c in cand if c in comp.columns and comp[c].astype(str).nunique() > 1] or ["method"]
    labels = comp[list(label_cols)].apply(
        lambda r: "\n".join(f"{v:g}" if isinstance(v, float) else str(v) for v in r if not pd.isna(v)), axis=1)
    x = np.arange(len(comp))
    width = 0.38
    colors = sns.color_palette("colorblind", 2)
    fig = Figure(figsize=(max(5.0, 0.9 * len(comp) + 2.0), 4.2))
    ax = fig.subplots()
    unit = units[0]
    metric = comp["metric"].iloc[0] if "metric" in comp.columns else "value"
    bounds = (0.0, 100.0) if unit == "%" and _metric_key(metric) in PROPORTION_METRICS else _bounds(metric)
    if unit == "%" and bounds == (-1.0, 1.0):
        bounds = (-100.0, 100.0)

    def clipped_err(mean: pd.Series, half: pd.Series) -> np.ndarray | None:
        """Asymmetric error bars ``mean ± half`` clipped to the metric's range (a CCC CI never passes 1)."""
        m, h = mean.astype(float).to_numpy(), half.astype(float).to_numpy()
        h = np.where(np.isfinite(h), h, 0.0)
        if not h.any():
            return None
        lo, hi = _clip(m - h, bounds), _clip(m + h, bounds)
        return np.vstack([np.nan_to_num(m - lo), np.nan_to_num(hi - m)])

    paper_sd = comp["paper_sd"] if "paper_sd" in comp.columns else pd.Series(np.nan, index=comp.index)
    ax.bar(x - width / 2, comp["ours"].astype(float), width, yerr=clipped_err(comp["ours"], comp["ours_ci"]),
           capsize=3, color=colors[0], label="ours (mean ± 95% CI)")
    ax.bar(x + width / 2, comp["paper"].astype(float), width, yerr=clipped_err(comp["paper"], paper_sd),
           capsize=3, color=colors[1], label="paper (± sd if printed)")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize="small")
    ax.set_ylabel(f"{_LABELS.get(_metric_key(metric), metric)} ({unit})" if unit and unit != "1"
                  else _LABELS.get(_metric_key(metric), str(metric)))
    ax.set_xlabel(" / ".join(label_cols))
    paper = comp.attrs.get("paper", "")
    ax.set_title(title or f"Ours vs paper {paper}".strip())
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _finish(fig, name)


# --------------------------------------------------------------------------- data views (00_data_tour)
def spectrograms(
    wavs: dict[str, np.ndarray],
    sr: int = 16_000,
    *,
    ncols: int = 4,
    title: str | None = None,
    name: str | None = None,
) -> Figure:
    """Log-mel spectrograms (80 bins, 25/10 ms, as :mod:`serlib.features` ``lmfb``) of labelled signals.

    ``wavs`` maps a panel title (e.g. ``"angry · Ses01F"`` or ``"babble · 0 dB"``) to a mono signal.
    """
    import torch
    import torchaudio

    if not wavs:
        raise ValueError("spectrograms: no signals given")
    mel = torchaudio.transforms.MelSpectrogram(sr, n_fft=512, win_length=int(0.025 * sr),
                                               hop_length=int(0.010 * sr), n_mels=80)
    n = len(wavs)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(3.6 * ncols, 2.6 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, (label, wav) in zip(axes, wavs.items()):
        spec = 10 * torch.log10(mel(torch.as_tensor(np.asarray(wav), dtype=torch.float32)) + 1e-10).numpy()
        dur = len(wav) / sr
        im = ax.imshow(spec, origin="lower", aspect="auto", extent=(0, dur, 0, 80), cmap="magma",
                       vmin=spec.max() - 80, vmax=spec.max())
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("Time (s)")
        ax.set_ylabel("Mel bin")
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.colorbar(im, ax=list(axes[:n]), label="Power (dB)", shrink=0.8)
    if title:
        fig.suptitle(title)
    if name is not None:
        save(fig, name, dpi=100)  # images of noise compress badly: keep the PNGs small
    return _show_later(fig)


def segment(
    seg: np.ndarray,
    *,
    kind: str = "spectrogram",
    title: str | None = None,
    name: str | None = None,
) -> Figure:
    """One model input segment, ``(frames, bins)`` of a :mod:`serlib.features` ``kind``, on true axes.

    Time in seconds from the frame hop; for ``spectrogram`` the frequency axis is the kept STFT
    bins (128 of a 512-point FFT at 16 kHz: 0-3.97 kHz in 31.25 Hz steps), for ``lmfb`` the mel
    band index (20 Hz-8 kHz). Values are shown as stored (natural-log magnitude / power).
    """
    from serlib.features import get_kind

    spec = get_kind(kind)
    x = np.asarray(seg, dtype=float)
    if x.ndim != 2 or x.shape[1] != spec.dim:
        raise ValueError(f"segment: expected a (frames, {spec.dim}) array of {kind!r} features, got shape {x.shape}")
    p = spec.params
    sr, hop = p["sample_rate"], p["hop_length"]
    seconds = x.shape[0] * hop / sr
    fig = Figure(figsize=(7.2, 3.2), layout="constrained")
    ax = fig.subplots()
    if kind == "spectrogram":
        df = sr / p["n_fft"]
        extent = (0.0, seconds, -df / 2 / 1000, (x.shape[1] - 0.5) * df / 1000)
        ylabel, clabel = "Frequency (kHz)", "log magnitude (natural log)"
        span = f"0-{(x.shape[1] - 1) * df / 1000:.2f} kHz"
    elif kind == "lmfb":
        extent = (0.0, seconds, -0.5, x.shape[1] - 0.5)
        ylabel, clabel = f"Mel band ({p['f_min']:g} Hz-{p['f_max'] / 1000:g} kHz)", "log power (natural log)"
        span = f"{x.shape[1]} mel bands"
    else:
        raise ValueError(f"segment: kind {kind!r} is not a spectral feature; use 'spectrogram' or 'lmfb'")
    im = ax.imshow(x.T, origin="lower", aspect="auto", extent=extent, cmap="magma")
    ax.set_xlabel("Time (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"One {x.shape[0]}-frame input segment ({kind}, {span})")
    fig.colorbar(im, ax=ax, label=clabel)
    return _finish(fig, name)


def snr_check(table: pd.DataFrame, *, name: str | None = None) -> Figure:
    """Measured minus target SNR (dB) per target SNR and noise type, from :func:`serlib.noise.snr_table`.

    The target SNRs are categories on the x axis with the noise types side by side, and the y axis
    is the offset (0 = the mix has exactly the target SNR), so a correct mix is a row of points on
    the dashed zero line whatever its SNR.
    """
    need = {"snr_target", "snr_measured", "noise_type"}
    if not need <= set(table.columns):
        raise ValueError(f"snr_check: table lacks columns {sorted(need - set(table.columns))}")
    data = table.assign(offset=table["snr_measured"].astype(float) - table["snr_target"].astype(float),
                        target=table["snr_target"].map("{:g} dB".format))
    order = [f"{v:g} dB" for v in sorted(table["snr_target"].astype(float).unique())]
    n_types = table["noise_type"].nunique()
    ncol = 1 if n_types <= 10 else 2 if n_types <= 20 else 3        # many types: a legend in columns, still in view
    fig = Figure(figsize=(7.2 + 1.6 * (ncol - 1), 3.6 + 0.12 * max(0, n_types // ncol - 12)), layout="constrained")
    ax = fig.subplots()
    sns.stripplot(data=data, x="target", y="offset", hue="noise_type", order=order, dodge=True, size=4, jitter=0.15,
                  palette="colorblind" if n_types <= 10 else "husl", ax=ax)
    ax.axhline(0.0, color="0.3", lw=1, ls="--", zorder=0)
    worst = float(np.nanmax(np.abs(data["offset"]))) if len(data) else 0.0
    lim = max(1.0, 1.2 * worst)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel("Target SNR")
    ax.set_ylabel("Measured − target SNR (dB)")
    ax.set_title("SNR after mixing: measured − target")
    ax.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles + [Line2D([], [], color="0.3", lw=1, ls="--")], labels + ["exact (measured = target)"],
              title="noise type", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              ncol=ncol)
    return _finish(fig, name)


def corpus_overview(manifest: pd.DataFrame, *, name: str | None = None) -> Figure:
    """Class balance per speaker and the duration histogram per emotion of a manifest."""
    if manifest.empty:
        raise ValueError("corpus_overview: the manifest is empty")
    fig = Figure(figsize=(11, 3.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    counts = pd.crosstab(manifest["speaker"], manifest["emotion"])
    emotions = list(counts.columns)
    palette = dict(zip(emotions, sns.color_palette("colorblind", len(emotions))))
    bottom = np.zeros(len(counts))
    for e in emotions:
        ax1.bar(range(len(counts)), counts[e].to_numpy(), 0.8, bottom=bottom, color=palette[e], label=e)
        bottom += counts[e].to_numpy()
    ax1.set_xticks(range(len(counts)))
    ax1.set_xticklabels(counts.index, rotation=90)
    ax1.set_xlabel("Speaker")
    ax1.set_ylabel("Utterances (count)")
    ax1.set_title("Class balance per speaker")
    sns.histplot(data=manifest, x="duration", hue="emotion", hue_order=emotions, palette=palette, element="step",
                 bins=30, ax=ax2, legend=False)
    ax2.set_xlabel("Duration (s)")
    ax2.set_ylabel("Utterances (count)")
    ax2.set_title("Duration per emotion")
    ax1.legend(title="emotion", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _finish(fig, name)


def audio_grid(rows: dict[str, dict[str, np.ndarray]], sr: int = 16_000, *, row_title: str = "") -> Any:
    """An HTML table of audio players: ``rows[row_label][column_label] = signal``.

    For notebooks (clean vs noisy examples); the signals are embedded as 16-bit wav, so keep the
    table small (a few dozen short clips).
    """
    import base64
    import html
    import io

    import soundfile as sf
    from IPython.display import HTML

    cols: list[str] = []
    for cells in rows.values():
        cols += [c for c in cells if c not in cols]

    def player(wav: np.ndarray) -> str:
        buf = io.BytesIO()
        sf.write(buf, np.clip(np.asarray(wav, dtype=np.float32), -1, 1), sr, format="WAV", subtype="PCM_16")
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        return f'<audio controls preload="none" src="data:audio/wav;base64,{data}" style="width:180px"></audio>'

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [row_title, *cols])
    body = "".join(
        "<tr><th>" + html.escape(str(r)) + "</th>"
        + "".join(f"<td>{player(cells[c]) if c in cells else ''}</td>" for c in cols) + "</tr>"
        for r, cells in rows.items()
    )
    return HTML(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


enable_inline()  # inside a Jupyter kernel: figures drawn here show under the cell that drew them


# --------------------------------------------------------------------------- 00_data_tour: difficulty check
def difficulty(
    folds: pd.DataFrame,
    *,
    metric: str = "uar",
    band: tuple[float, float] | None = None,
    chance: float | None = None,
    title: str | None = None,
    name: str | None = None,
) -> Figure:
    """Per test condition, the mean ``metric`` over folds (bar) and every fold's value (dots).

    ``folds`` has one row per ``condition`` x ``fold`` with a ``metric`` column (a fraction, as
    :func:`serlib.models.forest.cross_validate_conditions` returns per fold); conditions keep their
    order of appearance (put ``clean`` first). ``band`` (fractions) shades a target range, ``chance``
    draws the dashed chance line; the legend sits outside the axes.
    """
    need = {"condition", "fold", metric}
    if not need <= set(folds.columns):
        raise ValueError(f"difficulty: folds lack columns {sorted(need - set(folds.columns))}")
    if folds.empty:
        raise ValueError("difficulty: no folds to draw")
    scale = 100.0 if percent_metric(metric) else 1.0
    conds = list(dict.fromkeys(folds["condition"]))
    fold_names = list(dict.fromkeys(folds["fold"]))
    styles = _styles([str(f) for f in fold_names])
    fig = Figure(figsize=(1.6 + 1.5 * len(conds) + 2.4, 3.6), layout="constrained")
    ax = fig.subplots()
    means = folds.groupby("condition", sort=False)[metric].mean().reindex(conds) * scale
    ax.bar(range(len(conds)), means.to_numpy(), 0.6, color="0.85", edgecolor="0.4", lw=0.6, label="mean over folds")
    for x, m in enumerate(means):  # the mean inside the bar's foot, clear of the fold dots
        ax.annotate(f"mean {m:.1f}" if scale == 100.0 else f"mean {m:.2f}", (x, 0), xytext=(0, 4),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8, color="0.2")
    offsets = np.linspace(-0.2, 0.2, len(fold_names)) if len(fold_names) > 1 else [0.0]
    for off, f in zip(offsets, fold_names):
        color, marker, _ = styles[str(f)]
        sub = folds[folds["fold"] == f].set_index("condition")[metric].reindex(conds) * scale
        ax.plot(np.arange(len(conds)) + off, sub.to_numpy(), ls="none", marker=marker, ms=5, color=color,
                label=str(f))
    values = list(folds[metric].astype(float) * scale)
    if band is not None:
        ax.axhspan(band[0] * scale, band[1] * scale, color="tab:green", alpha=0.12, lw=0, zorder=0,
                   label=f"target band ({band[0] * scale:g}-{band[1] * scale:g}{' %' if scale == 100.0 else ''})")
        values += [band[0] * scale, band[1] * scale]
    if chance is not None:
        ax.axhline(chance * scale, color="0.25", ls="--", lw=1, label=f"chance ({chance * scale:g}"
                   f"{' %' if scale == 100.0 else ''})")
        values.append(chance * scale)
    lo, hi = _limits(values + [0.0], _bounds(metric))
    ax.set_ylim(0.0 if lo >= 0 else lo, min(hi + 0.04 * (hi - lo), _bounds(metric)[1] or np.inf))
    ax.set_xticks(range(len(conds)))
    ax.set_xticklabels([_wrap(str(c), 16) for c in conds], fontsize="small")
    ax.set_xlabel("Test condition")
    ax.set_ylabel(metric_label(metric))
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title or f"{metric_label(metric).split(' (')[0]} per fold and test condition")
    fig.legend(*ax.get_legend_handles_labels(), title="test fold", loc="outside right upper", fontsize="small",
               frameon=False)
    return _finish(fig, name)


# --------------------------------------------------------------------------- 03_trnet
def enhancement_check(table: pd.DataFrame, *, title: str | None = None, name: str | None = None) -> Figure:
    """Mean SI-SNR after enhancement against SI-SNR before it (dB), one line per noise family, from
    :func:`serlib.enhance.snr_check` rows (``family, snr_db, si_snr_in, si_snr_out``); the dashed
    diagonal is "no change", so points above it are signals the front end improved."""
    need = {"family", "snr_db", "si_snr_in", "si_snr_out"}
    if not need <= set(table.columns):
        raise ValueError(f"enhancement_check: table lacks columns {sorted(need - set(table.columns))}")
    mean = table.groupby(["family", "snr_db"])[["si_snr_in", "si_snr_out"]].mean().reset_index()
    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = fig.subplots()
    styles = _styles(list(dict.fromkeys(mean["family"])))
    for fam, g in mean.groupby("family", sort=False):
        color, marker, _ = styles[fam]
        ax.plot(g["si_snr_in"], g["si_snr_out"], marker=marker, color=color, label=fam)
        for _, r in g.iterrows():
            ax.annotate(f"{r['snr_db']:g} dB", (r["si_snr_in"], r["si_snr_out"]), textcoords="offset points",
                        xytext=(4, -10), fontsize=7, color=color)
    lo = float(np.nanmin(mean[["si_snr_in", "si_snr_out"]].to_numpy())) - 2
    hi = float(np.nanmax(mean[["si_snr_in", "si_snr_out"]].to_numpy())) + 2
    ax.plot([lo, hi], [lo, hi], ls="--", color="0.4", lw=1, label="no change")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="SI-SNR of the noisy input (dB)",
           ylabel="SI-SNR after enhancement (dB)", title=title or "Speech enhancement: SI-SNR in vs out")
    ax.grid(alpha=0.3)
    ax.legend(title="noise (input SNR)", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _finish(fig, name)

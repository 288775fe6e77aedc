"""Figures for the notebooks: metric vs SNR, relative drop, confusion matrix, t-SNE, ours vs paper.

Every function returns a :class:`matplotlib.figure.Figure` with axis labels (units included),
a legend (or a colour bar) and a title; pass ``name="03_trnet_uar_vs_snr"`` to also write
``figures/<name>.png`` through :func:`save`. Figures are built without ``pyplot`` state, so
sweeps do not pile up open figures and a notebook shows a figure once: make it the cell's
last expression or call ``display(fig)``.

Input is the tidy results frame of :mod:`serlib.results` (one row per method x condition x
seed x metric; proportions stored as fractions, shown here in %). Clean rows (no SNR) are
drawn as a separate point labelled "clean" at the right of the SNR axis; bands and error
bars are the Student-t CI over seeds (:func:`serlib.metrics.mean_ci`).

Headless use: without a display (and outside Jupyter) the Agg backend is selected at import.
"""

from __future__ import annotations

import os
import re
import sys
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

from serlib import paths  # noqa: E402
from serlib.audio import atomic_write  # noqa: E402
from serlib.metrics import mean_ci  # noqa: E402
from serlib.results import _higher_is_better, _metric_key, _readable, percent_metric  # noqa: E402

__all__ = ["save", "metric_vs_snr", "relative_drop", "confusion_matrix", "tsne", "bar_compare", "metric_label"]

_LABELS = {"uar": "UAR", "accuracy": "Accuracy (WAR)", "f1": "F1", "macro_f1": "Macro F1", "ccc": "CCC",
           "wer": "WER", "cer": "CER", "estimated_snr": "Estimated SNR"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$")


def metric_label(metric: str) -> str:
    """Axis label of a metric with its unit, e.g. ``'UAR (%)'``, ``'CCC'``."""
    key = _metric_key(metric)
    base = _LABELS.get(key, metric)
    return f"{base} (%)" if percent_metric(key) else base


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


def _finish(fig: Figure, name: str | None) -> Figure:
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    if name is not None:
        save(fig, name)
    return fig


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


def _stats_over_seeds(frame: pd.DataFrame, x: str, confidence: float = 0.95) -> pd.DataFrame:
    """Mean and CI half-width of ``value`` per ``x`` (rows of one seed averaged first)."""
    work = frame
    if "seed" in frame.columns:
        work = frame.groupby([x, "seed"], dropna=False)["value"].mean().reset_index()
    rows = []
    for xv, grp in work.groupby(x, dropna=False):
        mean, half = mean_ci(grp["value"].to_numpy(float), confidence=confidence)
        rows.append({x: xv, "mean": mean, "ci": 0.0 if not np.isfinite(half) else half, "n": len(grp)})
    return pd.DataFrame(rows)


def _grid(n: int, width: float = 4.4, height: float = 3.5) -> tuple[Figure, np.ndarray]:
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(width * ncols, height * nrows))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


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


def _snr_lines(
    data: pd.DataFrame, value_label: str, *, hue: str | Sequence[str], col: str | None, ci: bool,
    title: str, scale: float, include_clean: bool = True,
) -> Figure:
    data = data.assign(_hue=_hue_labels(data, hue))
    facet_values, data = _facets(data, col)
    snrs = sorted(data["snr"].dropna().unique())
    has_clean = include_clean and data["snr"].isna().any()
    step = (snrs[-1] - snrs[0]) / max(len(snrs) - 1, 1) if len(snrs) > 1 else 5.0
    clean_x = (snrs[-1] + max(step, 5.0)) if (has_clean and snrs) else (0.0 if has_clean else None)
    fig, axes = _grid(len(facet_values))
    palette = dict(zip(dict.fromkeys(data["_hue"]), sns.color_palette("colorblind", data["_hue"].nunique())))
    for ax, fv in zip(axes, facet_values):
        sub = data[data["_facet"].isna()] if fv is None else data[data["_facet"] == fv]
        for label, grp in sub.groupby("_hue", sort=False):
            color = palette[label]
            noisy = grp[grp["snr"].notna()]
            if len(noisy):
                st = _stats_over_seeds(noisy, "snr").sort_values("snr")
                ax.plot(st["snr"], st["mean"] * scale, marker="o", color=color, label=label)
                if ci:
                    ax.fill_between(st["snr"], (st["mean"] - st["ci"]) * scale, (st["mean"] + st["ci"]) * scale,
                                    color=color, alpha=0.2, lw=0)
            clean = grp[grp["snr"].isna()]
            if has_clean and len(clean):
                st = _stats_over_seeds(clean.assign(snr=clean_x), "snr")
                ax.errorbar(st["snr"], st["mean"] * scale, yerr=(st["ci"] * scale) if ci else None, fmt="D",
                            color=color, capsize=3, label=None if len(noisy) else label)
        _snr_axis(ax, snrs, clean_x)
        ax.set_ylabel(value_label)
        ax.set_title(str(fv) if fv is not None else "")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        h, lab = ax.get_legend_handles_labels()
        for hh, ll in zip(h, lab):
            if ll not in labels:
                handles.append(hh)
                labels.append(ll)
    hue_title = hue if isinstance(hue, str) else " / ".join(hue)
    axes[-1].legend(handles, labels, title=hue_title, fontsize="small", loc="best")
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
    title: str | None = None,
    name: str | None = None,
) -> Figure:
    """``metric`` against SNR (dB), one line per ``hue`` and one panel per ``col`` (noise type).

    Clean rows (``snr`` missing) appear in every panel as a diamond at the right, labelled
    "clean"; bands are the CI over seeds when ``ci``. Proportions are shown in %.
    """
    sub = _select_metric(df, metric)
    scale = 100.0 if percent_metric(metric) else 1.0
    return _finish(_snr_lines(sub, metric_label(metric), hue=hue, col=col, ci=ci, scale=scale,
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
    ``noisy - clean``. Positive = worse than clean.
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
        if (clean_ref.abs() < 1e-12).any():
            raise ValueError("relative_drop: a clean score is 0, the relative drop is undefined; use relative=False")
        noisy["value"] = diff / clean_ref.abs()
        label, scale = "Relative drop from clean (%)", 100.0
    else:
        noisy["value"] = diff
        scale = 100.0 if percent_metric(metric) else 1.0
        unit = "percentage points" if scale == 100.0 else "absolute"
        label = f"Drop from clean ({unit})"
    noisy = noisy.drop(columns="_hue")
    fig = _snr_lines(noisy, label, hue=hue, col=col, ci=ci, scale=scale, include_clean=False,
                     title=title or f"{metric_label(metric).split(' (')[0]}: drop from clean vs SNR")
    for ax in fig.axes:
        if ax.get_visible():
            ax.axhline(0.0, color="0.4", lw=0.8, ls="--")
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
    name: str | None = None,
) -> Figure:
    """2-D t-SNE (scikit-learn) of utterance embeddings coloured by ``labels`` (marker by ``style``).

    At most ``max_points`` points are kept (a stratified random subsample, seeded); more than 50
    dimensions are first reduced with PCA. ``centers`` draws each label's centre as a large marker.
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
    frame = pd.DataFrame({"t-SNE 1": xy[:, 0], "t-SNE 2": xy[:, 1], "label": lab.astype(str)})
    if sty is not None:
        frame["style"] = sty.astype(str)
    fig = Figure(figsize=(6.0, 5.0))
    ax = fig.subplots()
    order = list(dict.fromkeys(frame["label"]))
    palette = dict(zip(order, sns.color_palette("colorblind", len(order))))
    sns.scatterplot(data=frame, x="t-SNE 1", y="t-SNE 2", hue="label", hue_order=order, palette=palette,
                    style="style" if sty is not None else None, s=14, alpha=0.55, ax=ax, linewidth=0)
    if centers:
        cen = frame.groupby("label", sort=False)[["t-SNE 1", "t-SNE 2"]].mean()
        ax.scatter(cen["t-SNE 1"], cen["t-SNE 2"], s=160, c=[palette[v] for v in cen.index], edgecolors="black",
                   linewidths=1.0, marker="o", zorder=5)
    ax.set_xlabel("t-SNE dimension 1 (a.u.)")
    ax.set_ylabel("t-SNE dimension 2 (a.u.)")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="best", title="label" if sty is None else "label / style")
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
    ours_err = comp["ours_ci"].where(np.isfinite(comp["ours_ci"].astype(float)), 0.0)
    paper_sd = comp["paper_sd"] if "paper_sd" in comp.columns else pd.Series(np.nan, index=comp.index)
    paper_err = paper_sd.astype(float).where(np.isfinite(paper_sd.astype(float)), 0.0)
    ax.bar(x - width / 2, comp["ours"].astype(float), width, yerr=ours_err if ours_err.any() else None, capsize=3,
           color=colors[0], label="ours (mean ± 95% CI)")
    ax.bar(x + width / 2, comp["paper"].astype(float), width, yerr=paper_err if paper_err.any() else None,
           capsize=3, color=colors[1], label="paper (± sd if printed)")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize="small")
    unit = units[0]
    metric = comp["metric"].iloc[0] if "metric" in comp.columns else "value"
    ax.set_ylabel(f"{_LABELS.get(_metric_key(metric), metric)} ({unit})" if unit and unit != "1"
                  else _LABELS.get(_metric_key(metric), str(metric)))
    ax.set_xlabel(" / ".join(label_cols))
    paper = comp.attrs.get("paper", "")
    ax.set_title(title or f"Ours vs paper {paper}".strip())
    ax.legend(fontsize="small")
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
    return fig


def snr_check(table: pd.DataFrame, *, name: str | None = None) -> Figure:
    """Measured vs target SNR (dB) per noise type, from :func:`serlib.noise.snr_table`."""
    need = {"snr_target", "snr_measured", "noise_type"}
    if not need <= set(table.columns):
        raise ValueError(f"snr_check: table lacks columns {sorted(need - set(table.columns))}")
    fig = Figure(figsize=(5.2, 4.2))
    ax = fig.subplots()
    sns.stripplot(data=table, x="snr_target", y="snr_measured", hue="noise_type", dodge=True, size=4,
                  native_scale=True, ax=ax)
    lo, hi = table["snr_target"].min() - 2, table["snr_target"].max() + 2
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--", label="measured = target")
    ax.set_xlabel("Target SNR (dB)")
    ax.set_ylabel("Measured SNR (dB)")
    ax.set_title("SNR after mixing (whole-utterance power)")
    ax.legend(fontsize=7, ncols=2, title="noise type", title_fontsize=8)
    return _finish(fig, name)


def corpus_overview(manifest: pd.DataFrame, *, name: str | None = None) -> Figure:
    """Class balance per speaker and the duration histogram per emotion of a manifest."""
    if manifest.empty:
        raise ValueError("corpus_overview: the manifest is empty")
    fig = Figure(figsize=(12, 3.8))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    counts = pd.crosstab(manifest["speaker"], manifest["emotion"])
    counts.plot.bar(stacked=True, ax=ax1, width=0.8, colormap="tab10")
    ax1.set_xlabel("Speaker")
    ax1.set_ylabel("Utterances (count)")
    ax1.set_title("Class balance per speaker")
    ax1.legend(title="emotion", fontsize=8)
    sns.histplot(data=manifest, x="duration", hue="emotion", element="step", bins=30, ax=ax2)
    ax2.set_xlabel("Duration (s)")
    ax2.set_ylabel("Utterances (count)")
    ax2.set_title("Duration per emotion")
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

"""Tests of serlib.plots: every figure is written as a non-empty PNG with labelled axes, a legend and a title."""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest

from serlib import paths
from serlib import plots as P
from serlib import results as R

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def tidy() -> pd.DataFrame:
    """Two methods x two noise types x 3 SNRs x 3 seeds, plus clean rows."""
    rng = np.random.default_rng(0)
    res = R.Results("99_plots", "smoke")
    for seed in range(3):
        for m, gain in (("Baseline", 0.0), ("Robust", 0.05)):
            res.add(m, "uar", 0.62 + rng.normal(0, 0.01), seed=seed)
            res.add(m, "wer", 0.20 + rng.normal(0, 0.01), seed=seed)
            for nt in ("babble", "music"):
                for snr in (0, 10, 20):
                    res.add(m, "uar", 0.35 + snr / 100 + gain + rng.normal(0, 0.01), seed=seed,
                            test_condition="noisy", noise_type=nt, snr=snr)
                    res.add(m, "wer", 0.6 - snr / 50 + rng.normal(0, 0.01), seed=seed,
                            test_condition="noisy", noise_type=nt, snr=snr)
    return res.frame()


def _png(name: str) -> bytes:
    path = paths.figures_dir() / f"{name}.png"
    assert path.is_file(), f"{path} was not written"
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5_000
    return data


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def _has_legend(fig) -> bool:
    return any(ax.get_legend() is not None for ax in fig.axes) or bool(fig.legends)


def _title(fig) -> str:
    sup = fig._suptitle.get_text() if fig._suptitle is not None else ""
    return sup or " ".join(ax.get_title() for ax in fig.axes)


def test_metric_vs_snr(tmp_data, tidy):
    fig = P.metric_vs_snr(tidy, "uar", name="uar_vs_snr")
    _png("uar_vs_snr")
    axes = _visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["babble", "music"]  # one panel per noise type
    for ax in axes:
        assert ax.get_xlabel() == "SNR (dB)" and ax.get_ylabel() == "UAR (%)"
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert ticks == ["0", "10", "20", "clean"]  # clean shown at the right, in every panel
    assert _has_legend(fig) and "UAR vs SNR" in _title(fig)
    legend = next(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)
    assert [t.get_text() for t in legend.get_texts()] == ["Baseline", "Robust"]
    # the plotted means are the seed means in %
    line = axes[0].get_lines()[0]
    expected = tidy[(tidy.method == "Baseline") & (tidy.noise_type == "babble") & (tidy.metric == "uar")]
    expected = expected.groupby("snr")["value"].mean().to_numpy() * 100
    assert np.allclose(line.get_ydata(), expected)


def test_metric_vs_snr_without_facets_and_errors(tmp_data, tidy):
    fig = P.metric_vs_snr(tidy[tidy.noise_type.isin([None, "music"])], "uar", col=None, ci=False,
                          title="custom", name="sub/uar_single")
    _png("sub/uar_single")
    assert len(_visible_axes(fig)) == 1 and _title(fig) == "custom"
    with pytest.raises(ValueError, match="no rows with metric"):
        P.metric_vs_snr(tidy, "f1")
    with pytest.raises(KeyError, match="colour"):
        P.metric_vs_snr(tidy, "uar", hue="colour")


def test_relative_drop(tmp_data, tidy):
    fig = P.relative_drop(tidy, "uar", name="uar_drop")
    _png("uar_drop")
    ax = _visible_axes(fig)[0]
    assert ax.get_xlabel() == "SNR (dB)" and ax.get_ylabel() == "Relative drop from clean (%)"
    assert _has_legend(fig) and "drop" in _title(fig)
    drops = ax.get_lines()[0].get_ydata()
    assert np.all(drops > 0) and drops[0] > drops[-1]  # worse at 0 dB than at 20 dB
    # lower-is-better metric: degradation is noisy - clean, still positive
    fig = P.relative_drop(tidy, "wer", relative=False, name="wer_drop")
    _png("wer_drop")
    ax = _visible_axes(fig)[0]
    assert ax.get_ylabel() == "Drop from clean (percentage points)" and np.all(ax.get_lines()[0].get_ydata() > 0)
    with pytest.raises(ValueError, match="no clean rows"):
        P.relative_drop(tidy[tidy.snr.notna()], "uar")


def test_confusion_matrix(tmp_data):
    labels = ["angry", "happy", "neutral", "sad"]
    y_true = ["angry", "angry", "happy", "neutral", "sad", "sad"]
    y_pred = ["angry", "happy", "happy", "neutral", "neutral", "sad"]
    fig = P.confusion_matrix(y_true, y_pred, labels, name="cm")
    _png("cm")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Predicted emotion" and ax.get_ylabel() == "True emotion" and ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == labels
    cbar = fig.axes[1]
    assert cbar.get_ylabel() == "Proportion of true class"  # the colour bar is the legend
    cells = sorted(float(t.get_text()) for t in ax.texts)
    assert cells.count(0.5) == 4 and cells.count(1.0) == 2
    P.confusion_matrix(y_true, y_pred, labels, normalize=False, name="cm_counts")
    _png("cm_counts")
    with pytest.raises(ValueError, match="fear"):
        P.confusion_matrix(["fear"], ["angry"], labels)
    with pytest.raises(ValueError, match="length"):
        P.confusion_matrix(y_true, y_pred[:-1], labels)


def test_tsne(tmp_data):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(90, 60))
    emb[:, 0] += np.repeat([0.0, 8.0, 16.0], 30)
    labels = np.repeat(["angry", "happy", "sad"], 30)
    snr = np.tile(["0 dB", "20 dB"], 45)
    fig = P.tsne(emb, labels, title="Embeddings", seed=0, style=snr, max_points=60, name="tsne")
    _png("tsne")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "t-SNE dimension 1 (a.u.)" and ax.get_title() == "Embeddings"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"angry", "happy", "sad", "0 dB", "20 dB"} <= set(texts)
    points = ax.collections[0].get_offsets()
    assert len(points) == 60  # subsampled to max_points
    again = P.tsne(emb, labels, title="Embeddings", seed=0, style=snr, max_points=60)
    assert np.allclose(again.axes[0].collections[0].get_offsets(), points)  # seeded
    bad = emb.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        P.tsne(bad, labels, title="x")
    with pytest.raises(ValueError, match="labels"):
        P.tsne(emb, labels[:-1], title="x")


def test_bar_compare(tmp_data):
    res = R.Results("03_trnet", "smoke")
    for seed, v in enumerate((0.55, 0.57, 0.56)):
        res.add("base", "uar", v, seed=seed)
        res.add("trnet", "uar", v + 0.01, seed=seed)
    comp = R.compare(res.frame(), "03_trnet", mapping={"base": "Baseline-c", "trnet": "TRNet"}, tables=["1"])
    comp = comp[(comp["metric"] == "uar") & (comp["test_condition"] == "clean")]
    fig = P.bar_compare(comp, name="bars")
    _png("bars")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "UAR (%)" and "paper" in ax.get_title() and ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ours (mean ± 95% CI)", "paper (± sd if printed)"]
    heights = [p.get_height() for p in ax.patches]
    assert pytest.approx(56.0) in heights and 56.77 in heights
    with pytest.raises(ValueError, match="units"):
        P.bar_compare(pd.concat([comp, comp.assign(unit="1")]))
    with pytest.raises(KeyError, match="compare"):
        P.bar_compare(pd.DataFrame({"x": [1]}))


def test_save_names_and_pdf(tmp_data):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], label="line")
    png = P.save(fig, "plain", pdf=True)
    assert png == paths.figures_dir() / "plain.png" and png.stat().st_size > 1000
    assert (paths.figures_dir() / "plain.pdf").read_bytes().startswith(b"%PDF")
    for bad in ("../escape", "with space", "x.png/..", "", "/abs"):
        with pytest.raises(ValueError, match="plain name"):
            P.save(fig, bad)


def test_headless_backend():
    import matplotlib

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("MPLBACKEND")) \
            and "ipykernel" not in sys.modules:
        assert matplotlib.get_backend().lower() == "agg"
    assert P.metric_label("war") == "Accuracy (WAR) (%)" and P.metric_label("ccc") == "CCC"


def test_data_views(tmp_data):
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    wavs = {"tone": 0.1 * np.sin(2 * np.pi * 220 * t), "noise": 0.05 * rng.normal(size=16000)}
    fig = P.spectrograms(wavs, name="99_spectrograms")
    assert _png("99_spectrograms") and all(ax.get_xlabel() == "Time (s)" for ax in fig.axes[:2])
    table = pd.DataFrame({"snr_target": [0, 0, 10, 10], "snr_measured": [0.01, -0.02, 10.0, 9.99],
                          "noise_type": ["babble", "white"] * 2})
    fig = P.snr_check(table, name="99_snr_check")
    assert _png("99_snr_check") and fig.axes[0].get_ylabel() == "Measured SNR (dB)"
    with pytest.raises(ValueError, match="lacks columns"):
        P.snr_check(table.drop(columns="noise_type"))
    m = pd.DataFrame({"speaker": ["a", "a", "b", "b"], "emotion": ["sad", "happy", "sad", "happy"],
                      "duration": [1.0, 2.0, 1.5, 2.5]})
    P.corpus_overview(m, name="99_overview")
    assert _png("99_overview")
    html = P.audio_grid({"clean": {"20 dB": wavs["tone"]}, "babble": {"20 dB": wavs["noise"], "0 dB": wavs["noise"]}})
    assert html.data.count("<audio") == 3 and "babble" in html.data
    with pytest.raises(ValueError, match="no signals"):
        P.spectrograms({})


def test_tsne_with_few_points(tmp_data):
    rng = np.random.default_rng(0)
    fig = P.tsne(rng.normal(size=(30, 88)), np.array(["a", "b"] * 15), title="few points")
    assert fig.axes[0].get_title()
    with pytest.raises(ValueError, match="at least 5"):
        P.tsne(rng.normal(size=(3, 88)), np.array(["a", "b", "a"]), title="three")

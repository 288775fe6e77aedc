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


def _legend_texts(fig) -> list[str]:
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    assert len(legends) == 1, f"expected one legend, got {len(legends)}"
    return [t.get_text() for t in legends[0].get_texts()]


def _title(fig) -> str:
    sup = fig._suptitle.get_text() if fig._suptitle is not None else ""
    return sup or " ".join(ax.get_title() for ax in fig.axes)


def test_metric_vs_snr(tmp_data, tidy):
    fig = P.metric_vs_snr(tidy, "uar", name="uar_vs_snr")
    _png("uar_vs_snr")
    axes = _visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["babble", "music"]  # one panel per noise type
    assert axes[0].get_ylabel() == "UAR (%)" and axes[1].get_ylabel() == ""  # one shared y axis, labelled once
    for ax in axes:
        assert ax.get_xlabel() == "SNR (dB)"
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert ticks == ["0", "10", "20", "clean"]  # clean shown at the right, in every panel
        lo, hi = ax.get_ylim()
        assert 0.0 <= lo < hi <= 100.0  # inside the metric's range
    assert _has_legend(fig) and "UAR vs SNR" in _title(fig)
    assert _legend_texts(fig) == ["Baseline", "Robust", "95 % CI over runs"]  # three seeds: CI bands
    assert all(ax.get_legend() is None for ax in axes)  # the legend is off the data
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
    lo, hi = ax.get_ylim()
    assert -100.0 <= lo < 0.0 < hi <= 100.0  # bounded, and the zero line is in view
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
    assert min(ax.collections[0].get_sizes()) >= 30  # markers big enough to tell the styles apart
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1  # legend beside the axes
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
    ax = fig.axes[0]
    assert _png("99_snr_check") and ax.get_ylabel() == "Measured − target SNR (dB)"
    # the offsets are plotted (not the target SNR): every point is within 0.05 dB of zero
    ys = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets())])
    assert len(ys) == 4 and np.abs(ys).max() < 0.05 and ax.get_ylim() == (-1.0, 1.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0 dB", "10 dB"]  # target SNRs as categories
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


# --------------------------------------------------------------------------- readable, bounded figures (issue 16)
def _frame(values: dict, metric: str = "uar", **cols) -> pd.DataFrame:
    """Tidy rows: ``values[(method, snr)] = [per-seed values]`` (snr None = clean)."""
    rows = []
    for (method, snr), vals in values.items():
        for seed, v in enumerate(vals):
            rows.append({"method": method, "snr": snr, "seed": seed, "metric": metric, "value": v,
                         "noise_type": None if snr is None else cols.get("noise_type", "babble"),
                         "test_condition": "clean" if snr is None else "noisy"})
    return pd.DataFrame(rows)


def _bands(ax) -> list:
    from matplotlib.collections import FillBetweenPolyCollection, PolyCollection

    return [c for c in ax.collections if isinstance(c, (PolyCollection, FillBetweenPolyCollection))]


def test_metric_vs_snr_two_seeds_draws_dots_not_bands(tmp_data):
    # two seeds far apart: a t interval would span -300..400 %; we draw the seeds instead
    df = _frame({("A", 0): [0.30, 0.70], ("A", 10): [0.40, 0.80], ("A", None): [0.6, 0.9]})
    fig = P.metric_vs_snr(df, "uar")
    ax = _visible_axes(fig)[0]
    assert not _bands(ax)
    dots = [c for c in ax.collections if len(c.get_offsets()) == 4]  # 2 SNRs x 2 seeds
    assert dots and sorted(dots[0].get_offsets()[:, 1]) == pytest.approx([30, 40, 70, 80])
    assert _legend_texts(fig) == ["A", "single runs (fewer than 3)"]
    lo, hi = ax.get_ylim()
    assert 0 <= lo and hi <= 100
    # negative control: three seeds give a band, clipped to the metric's range (never above 100 %)
    df3 = _frame({("A", 0): [0.30, 0.70, 0.99], ("A", 10): [0.40, 0.80, 0.99]})
    ax3 = _visible_axes(P.metric_vs_snr(df3, "uar"))[0]
    band = _bands(ax3)
    assert band and band[0].get_paths()[0].vertices[:, 1].max() <= 100.0 + 1e-9
    assert ax3.get_ylim()[1] <= 100.0


def test_ccc_axis_and_error_bars_stay_within_one(tmp_data):
    df = _frame({("DLN", 0): [0.2, 0.5, 0.8], ("DLN", 5): [0.3, 0.6, 0.9], ("DLN", None): [0.55, 0.95, 0.99]},
                metric="ccc")
    fig = P.metric_vs_snr(df, "ccc")
    ax = _visible_axes(fig)[0]
    assert ax.get_ylim()[1] <= 1.0 and ax.get_ylim()[0] >= -1.0
    caps = [seg for c in ax.collections if hasattr(c, "get_segments") for s in c.get_segments() for seg in s]
    assert caps and max(p[1] for p in caps) <= 1.0 + 1e-9  # the clean error bar is clipped at CCC = 1


def test_five_panels_use_the_sixth_slot_for_the_legend(tmp_data):
    rows = [{"method": m, "snr": s, "seed": 0, "metric": "uar", "value": 0.5, "noise_type": nt}
            for m in ("A", "B") for s in (0, 10) for nt in ("bus", "cafe", "home", "street", "work")]
    fig = P.metric_vs_snr(pd.DataFrame(rows), "uar")
    data_axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    legend_axes = [ax for ax in fig.axes if ax.get_legend() is not None]
    assert len(data_axes) == 5 and all(ax.get_lines() for ax in data_axes)  # no empty panel
    assert len(fig.axes) == 6 and len(legend_axes) == 1 and not legend_axes[0].axison
    assert [t.get_text() for t in legend_axes[0].get_legend().get_texts()] == ["A", "B"]


def test_single_snr_warns_and_score_table(tmp_data):
    df = _frame({("Dense", 0): [0.3, 0.4, 0.5], ("Dense", None): [0.7, 0.7, 0.7], ("DLN", 0): [0.6, 0.6, 0.6]},
                metric="ccc")
    with pytest.warns(UserWarning, match="only one SNR.*score_table"):
        P.metric_vs_snr(df, "ccc")
    table = P.score_table(df, "ccc")
    assert list(table.index) == ["Dense", "DLN"] and list(table.columns) == ["clean", "babble 0 dB"]
    half = 4.302653 * 0.1 / np.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert table.loc["Dense", "babble 0 dB"] == f"0.400 ± {half:.3f} (n=3)"
    assert table.loc["DLN", "babble 0 dB"] == "0.600 ± 0.000 (n=3)" and pd.isna(table.loc["DLN", "clean"])
    pct = P.score_table(_frame({("A", 0): [0.5]}), "uar")
    assert pct.iloc[0, 0] == "50.0 (n=1)"  # % with one decimal; no interval from one seed
    with pytest.raises(KeyError, match="attribute"):
        P.score_table(df, "ccc", cols="attribute")


def test_bars_show_zero_bars_chance_and_full_labels(tmp_data):
    rows = []
    for seed in range(3):
        for sys_, aug, clean, fgsm in (("CNN", "none", 0.5, 0.1), ("Proposed", "speed_perturbation+mixup", 0.55, 0.0)):
            for cond, v in (("clean", clean), ("fgsm", fgsm)):
                rows.append({"method": sys_, "augmentation": aug, "test_condition": cond, "seed": seed,
                             "metric": "uar", "value": v + 0.01 * seed * (v > 0)})
    fig = P.bars(pd.DataFrame(rows), "uar", y=["method", "augmentation"], hue="test_condition", chance=0.25,
                 name="99_bars")
    _png("99_bars")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "CNN / none" and labels[1].replace("\n", "") == "Proposed / speed_perturbation+mixup"
    values = [t.get_text() for t in ax.texts]
    assert "0" in values and "51" in values  # a bar of 0 is still labelled; means over seeds in %
    assert any(line.get_xdata()[0] == 25 for line in ax.get_lines())  # chance line at 25 %
    assert ax.get_legend() is None and fig.legends  # legend outside the axes
    assert _legend_texts(fig) == ["chance (25 %)", "clean", "fgsm", "95 % CI over runs"]
    assert ax.get_xlim()[0] == 0.0 and ax.get_xlim()[1] <= 100.0 * 1.1 + 1e-9
    with pytest.raises(ValueError, match="bim"):
        P.bars(pd.DataFrame(rows), "uar", y="method", hue="test_condition", hue_order=["clean", "bim"])


def test_leaderboard_auc(tmp_data):
    rows = [{"method": m, "seed": s, "noise_type": nt, "value": base + 0.02 * s + (0.05 if nt == "music" else 0)}
            for m, base in (("weak", 0.3), ("strong", 0.5)) for s in range(2) for nt in ("babble", "music")]
    auc = pd.DataFrame(rows)
    auc = pd.concat([auc, auc.groupby(["method", "seed"]).value.mean().reset_index().assign(noise_type="all")])
    fig = P.leaderboard_auc(auc, name="99_auc")
    _png("99_auc")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["strong", "weak"]  # ranked by overall AUC
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx([100 * (0.525 + 0.01), 100 * (0.325 + 0.01)])
    assert any(np.allclose(line.get_xdata(), 25) for line in ax.get_lines())  # chance
    texts = _legend_texts(fig)
    assert "single runs (fewer than 3)" in texts and "babble (mean over runs)" in texts
    assert ax.get_xlim()[1] <= 100.0
    fig = P.leaderboard_auc(auc, order=["weak", "strong"], chance=None)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["weak", "strong"]
    with pytest.raises(ValueError, match="nobody"):
        P.leaderboard_auc(auc, order=["nobody"])


def test_relative_change_one_scale_for_ours_and_paper(tmp_data):
    def rel(scale):
        return pd.DataFrame([{"metric": m, "scenario": sc, "model": mo, "change": scale * (k + 1)}
                             for m in ("wer", "accuracy") for k, sc in enumerate(("clean", "SNR 5 noise"))
                             for mo in ("Baseline (noisy-trained)", "Joint (clean-trained)", "Joint (noisy-trained)")])
    fig = P.relative_change(rel(40.0), rel(5.0), name="99_relchange")
    _png("99_relchange")
    axes = np.array(fig.axes).reshape(2, 2)
    for c in range(2):
        assert axes[0, c].get_ylim() == axes[1, c].get_ylim()  # ours and the paper's on one scale
        assert axes[1, c].get_ylim()[1] >= 80.0
    assert fig.legends and all(ax.get_legend() is None for ax in fig.axes)
    assert not any(ax.texts for ax in fig.axes)
    empty = rel(1.0).assign(change=np.nan)  # e.g. smoke: the noisy-trained models were not run
    fig = P.relative_change(empty, rel(5.0))
    assert [len(ax.texts) for ax in fig.axes] == [1, 1, 0, 0]  # said in the panel, not left blank
    with pytest.raises(KeyError, match="relative_change"):
        P.relative_change(pd.DataFrame({"x": [1]}))


def test_segment_frequency_axis(tmp_data):
    seg = np.random.default_rng(0).normal(size=(256, 128))
    fig = P.segment(seg, name="99_segment")
    _png("99_segment")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Frequency (kHz)" and ax.get_xlabel() == "Time (s)"
    assert ax.get_ylim()[1] == pytest.approx(127.5 * 16000 / 512 / 1000)  # 128 STFT bins: up to 3.98 kHz, not 8
    assert ax.get_xlim()[1] == pytest.approx(2.56)  # 256 frames x 10 ms
    assert "0-3.97 kHz" in ax.get_title()
    assert fig.axes[1].get_ylabel().startswith("log magnitude")
    assert "Mel band" in P.segment(np.zeros((50, 80)), kind="lmfb").axes[0].get_ylabel()
    with pytest.raises(ValueError, match=r"\(frames, 128\)"):
        P.segment(np.zeros((256, 80)))


def test_bars_value_labels_sit_past_the_interval_with_their_sign(tmp_data):
    """A label on the whisker was unreadable, and its minus sign was hidden (02's Figure 3a read 0.08 for -0.08)."""
    from serlib.metrics import mean_ci

    vals = {"emotion": [0.30, 0.33, 0.37], "reconstruction": [-0.02, -0.08, -0.13]}
    rows = [{"read_by": "probe", "embedding": e, "seed": s, "metric": "ccc", "value": v}
            for e, vs in vals.items() for s, v in enumerate(vs)]
    fig = P.bars(pd.DataFrame(rows), "ccc", y="read_by", hue="embedding", chance=0.0)
    ax = fig.axes[0]
    for e, vs in vals.items():
        mean, half = mean_ci(np.array(vs))
        label = next(t for t in ax.texts if t.get_text() == f"{mean:.2f}")
        assert label.xy[0] >= max(mean + half, 0.0) - 1e-9, (e, label.xy, mean + half)
    assert any(t.get_text().startswith("-0.") for t in ax.texts)


def test_bar_compare_clips_ccc_error_bars(tmp_data):
    comp = pd.DataFrame({"method": ["DLN", "LN"], "metric": ["ccc", "ccc"], "ours": [0.6, 0.3],
                         "ours_ci": [0.7, 0.2], "paper": [0.4, 0.35], "unit": ["1", "1"], "status": ["matched"] * 2})
    ax = P.bar_compare(comp).axes[0]
    tops = [seg[:, 1].max() for c in ax.collections if hasattr(c, "get_segments") for seg in c.get_segments()]
    assert tops and max(tops) == pytest.approx(1.0)  # 0.6 + 0.7 = 1.3 is clipped at CCC = 1
    assert min(seg[:, 1].min() for c in ax.collections for seg in c.get_segments()) == pytest.approx(-0.1)


# --------------------------------------------------------------------------- inline display in IPython
@pytest.fixture
def ipython():
    """A plain IPython shell with the inline hooks and a record of what it displayed; removed afterwards."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    if InteractiveShell.initialized():
        pytest.skip("an IPython shell is already running in this process")
    cfg = Config()
    cfg.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=cfg)
    images = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: images.append("image/png" in data)
    hook_write = shell.displayhook.write_format_data
    shell.displayhook.write_format_data = lambda fmt, md=None: images.append("image/png" in fmt)
    assert P.enable_inline(shell)
    shell.user_ns.update(P=P, pd=pd)
    yield shell, images
    shell.displayhook.write_format_data = hook_write
    for event, fn in shell._serlib_inline_hooks:
        shell.events.unregister(event, fn)
    P._Inline.shell, P._Inline.pending = None, []
    InteractiveShell.clear_instance()


def test_inline_display_once_per_figure(tmp_data, ipython):
    shell, images = ipython
    make = "fig = P.segment(__import__('numpy').zeros((20, 128)))"
    shell.run_cell(make)  # assigned, not displayed by the cell: shown at the end of the cell
    assert images == [True]
    images.clear()
    shell.run_cell(make + "\nfig")  # the cell's value: shown once, not again at the end
    assert images == [True]
    images.clear()
    shell.run_cell(make + "\nfrom IPython.display import display\ndisplay(fig)")
    assert images == [True]
    images.clear()
    shell.run_cell("x = 1")  # a figure of an earlier cell is not shown again
    assert images == []
    # pyplot's inline backend replaces the PNG formatter when pyplot is imported; the next cell takes it back
    from IPython.core.pylabtools import select_figure_formats

    select_figure_formats(shell, {"png"})
    shell.run_cell(make + "\nfig")
    assert images == [True] and shell.display_formatter.formatters["image/png"].type_printers[P.Figure] is P._png


def test_relative_drop_leaves_out_runs_whose_clean_score_is_0():
    """A dry run's 2-batch model scored 0 on its 8 clean utterances and the whole leaderboard notebook failed."""
    rows = [dict(method=m, seed=s, metric="uar", noise_type="babble", snr=snr, value=v)
            for m, s, clean, noisy in (("A", 0, 0.5, 0.4), ("A", 1, 0.0, 0.2), ("A", 2, 0.6, 0.3), ("B", 0, 0.0, 0.1))
            for snr, v in ((np.nan, clean), (10.0, noisy))]
    df = pd.DataFrame(rows)
    with pytest.warns(UserWarning, match=r"A \(seed 1\), B \(seed 0\)"):
        fig = P.relative_drop(df, "uar", hue="method", col="noise_type")
    ys = [y for line in fig.axes[0].get_lines() for y in line.get_ydata() if np.isfinite(y)]
    assert ys and all(-100 <= y <= 100 for y in ys)
    with pytest.raises(ValueError, match="every clean score is 0"):
        P.relative_drop(df[df.method == "B"], "uar", hue="method", col="noise_type")

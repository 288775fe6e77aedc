"""Notebook 02's experiment helpers in serlib.models.ladder: models by name, folds with an unlabeled
part, runs, one training run, batched training, the task function, and Table 2 with Welch marks."""

from __future__ import annotations

import time
import zlib

import numpy as np
import pandas as pd
import pytest
import torch

from serlib import corpora, protocols
from serlib.models import ladder


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _manifest(n_speakers: int = 10, per: int = 6, sessions: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    spk = [f"S{i:02d}" for i in range(n_speakers) for _ in range(per)]
    m = pd.DataFrame({"utt_id": [f"u{i:03d}" for i in range(len(spk))], "speaker": spk, "corpus": "toy",
                      "gender": ["F" if int(s[1:]) % 2 else "M" for s in spk],
                      "emotion": rng.choice(["angry", "happy", "sad", "neutral"], len(spk)),
                      "arousal": rng.uniform(1, 5, len(spk)), "dominance": rng.uniform(1, 5, len(spk))})
    m["path"] = "/nowhere/" + m["utt_id"] + ".wav"
    m["session"] = [f"Ses{int(s[1:]) // 2 + 1:02d}" for s in spk] if sessions else None
    return m


def test_make_model_names():
    assert isinstance(ladder.make_model("Dense", 10), ladder.Dense)
    assert type(ladder.make_model("LN", 10)) is ladder.Ladder
    dln, he = ladder.make_model("DLN", 10), ladder.make_model("DLN+he", 10)
    assert dln.decoupled and not dln.reconstruct_emotion and he.reconstruct_emotion
    with pytest.raises(ValueError, match="unknown method"):
        ladder.make_model("CNN", 10)


# --------------------------------------------------------------------------- folds, runs, settings
def _parts(fold: pd.DataFrame) -> dict[str, set]:
    return {p: set(fold.loc[fold.part == p, "speaker"]) for p in ladder.PARTS}


def test_fold_manifests_on_a_corpus_with_sessions():
    m = _manifest()
    proto = protocols.auto(m, ladder.PAPER_PROTOCOL, seed=0)
    assert proto.name == "leave_one_session_out" and len(proto) == 5
    folds = ladder.fold_manifests(m, proto, seed=0)
    assert list(folds) == [s.name for s in proto.splits]
    unlabeled = []
    for split, (name, fold) in zip(proto.splits, folds.items()):
        parts = _parts(fold)
        assert all(parts[p] for p in ladder.PARTS)
        assert all(not (parts[a] & parts[b]) for i, a in enumerate(ladder.PARTS) for b in ladder.PARTS[i + 1:])
        # test and dev are the protocol's; unlabeled + train are its training speakers
        assert parts["test"] == set(split.frame("test", m).speaker) and parts["dev"] == set(split.frame("val", m).speaker)
        assert parts["unlabeled"] | parts["train"] == set(split.frame("train", m).speaker)
        assert len(fold) == len(m) and (fold.part == "unlabeled").sum() >= ladder.UNLABELED_FRACTION * len(m)
        unlabeled.append(parts["unlabeled"])
    # one fixed speaker order: the folds share their unlabeled speakers (booth audio made once)
    assert len(set().union(*unlabeled)) <= 4 < 2 * len(folds)
    with pytest.raises(ValueError, match="unlabeled_fraction"):
        ladder.fold_manifests(m, proto, unlabeled_fraction=1.0)


def test_fold_manifests_speakers_only_and_refusals():
    m = _manifest(sessions=False)
    proto = protocols.auto(m, ladder.PAPER_PROTOCOL, seed=0)
    assert proto.name == "leave_k_speakers_out" and "no sessions" in proto.reason
    for fold in ladder.fold_manifests(m, proto).values():
        assert len(_parts(fold)["test"]) == 2
    no_val = protocols.auto(m, ladder.PAPER_PROTOCOL, validation=False)
    with pytest.raises(ValueError, match="no validation part"):
        ladder.fold_manifests(m, no_val)
    table = ladder.fold_table(ladder.fold_manifests(m, proto))
    assert list(table.columns[:4]) == list(ladder.PARTS) and table[list(ladder.PARTS)].sum(axis=1).eq(len(m)).all()


def test_runs_share_the_seeds_out():
    assert ladder.runs([0, 1, 2], ["only"]) == {"only": [0, 1, 2]}
    assert ladder.runs([5, 6], ["a", "b"]) == {"a": [5], "b": [6]}
    assert ladder.runs([0, 1, 2, 3], ["a", "b"]) == {"a": [0, 1], "b": [2, 3]}
    with pytest.raises(ValueError, match=r"-p folds 3"):
        ladder.runs([0, 1, 2], ["a", "b"])


def test_booth_settings():
    assert ladder.booth_settings([0, 10]) == {0.0: "0dB", 10.0: "10dB"}
    with pytest.raises(ValueError, match="not a booth condition"):
        ladder.booth_settings([20])


def test_a_corpus_without_ratings_is_refused_at_once(shared_data):
    """The notebook's first data step on EmoDB: refused before any feature, with the opt-in knob
    named; with the knob, ratings mapped from the categories (and the flag that says so)."""
    cfg = {"corpus": "emodb", "corpus_root": str(shared_data / "emodb"), "corpus_size": "smoke", "seed": 0}
    t0 = time.perf_counter()
    m = corpora.from_config(cfg)
    loaded = time.perf_counter() - t0
    t0 = time.perf_counter()
    with pytest.raises(corpora.CorpusError, match="ratings_from_categories true") as err:
        corpora.require_ratings(m, ["arousal", "dominance"])
    refused = time.perf_counter() - t0
    print(f"\nEmoDB manifest {loaded:.2f} s, refusal {refused * 1000:.1f} ms: {err.value}")
    assert "no arousal/dominance ratings" in str(err.value) and "msp_podcast" in str(err.value).lower()
    assert refused < 1.0
    mapped, flag = corpora.require_ratings(m, ["arousal", "dominance"], from_categories=True)
    assert flag and mapped.attrs["ratings_from"] == "categories" and mapped["arousal"].notna().all()


# --------------------------------------------------------------------------- training
def _data(n=48, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] + 0.1 * rng.normal(size=n)).astype(np.float32)
    return X, y


@pytest.mark.parametrize("method", ladder.METHODS)
def test_train_model_selects_the_epoch_on_the_dev_data(method):
    """The dev CCC picks the epoch: with the true dev labels it rises as the model learns (a late
    epoch wins); with the dev labels negated the same training run is best at epoch 1. The
    returned model is the selected epoch's (its dev CCC is the best score)."""
    from serlib.metrics import ccc

    X, y = _data()
    Xd, yd = _data(16, seed=1)
    Xu, _ = _data(20, seed=2)
    kw = dict(epochs=4, lr=3e-3, batch_size=16, seed=0, device="cpu")
    res = ladder.train_model(method, X, y, Xd, yd, Xu, **kw)
    flipped = ladder.train_model(method, X, y, Xd, -yd, Xu, **kw)
    assert len(res.history) == 4 and res.best_epoch >= 3          # measured: epoch 4 for the four methods
    assert flipped.best_epoch == 1
    for r, target in ((res, yd), (flipped, -yd)):
        assert r.best_score == pytest.approx(r.history["val_metric"].max())
        pred = r.model.eval()(torch.as_tensor(Xd)).detach().numpy()
        assert pred.shape == (16,) and np.isfinite(pred).all()
        assert ccc(target, pred) == pytest.approx(r.best_score, abs=1e-5)   # the selected epoch's weights


def test_train_model_refuses_missing_unlabeled_and_follows_the_seed():
    X, y = _data()
    with pytest.raises(ValueError, match="unlabeled"):
        ladder.train_model("DLN", X, y, X, y, None, epochs=1, device="cpu")
    a, b, c = (ladder.train_model("Dense", X, y, X, y, None, epochs=2, batch_size=16, seed=s, device="cpu")
               for s in (0, 0, 1))  # Dense needs no unlabeled set
    w = [next(r.model.parameters()).detach() for r in (a, b, c)]
    assert torch.equal(w[0], w[1]) and not torch.equal(w[0], w[2])


@pytest.mark.parametrize("method", ladder.METHODS)
def test_train_batched_reproduces_train_model_per_seed(method):
    """Three models in one batched model against three train_model runs: the same histories, best
    epochs and predictions up to float rounding (the batched products sum in another order)."""
    X, y = _data(60, d=10)
    Xd, yd = _data(20, d=10, seed=1)
    Xu, _ = _data(30, d=10, seed=2)
    kw = dict(epochs=3, lr=1e-3, batch_size=16, device="cpu", patience=1)
    ys, dev, seeds = [y, -y, y], [yd, -yd, yd], [0, 1, 7]
    single = [ladder.train_model(method, X, t, Xd, td, Xu, seed=s, **kw) for t, td, s in zip(ys, dev, seeds)]
    batched = ladder.train_batched(method, X, ys, Xd, dev, Xu, seeds=seeds, **kw)
    for a, b in zip(single, batched):
        assert a.best_epoch == b.best_epoch and len(a.history) == len(b.history) and a.stopped_early == b.stopped_early
        np.testing.assert_allclose(a.history["val_metric"], b.history["val_metric"], atol=2e-4)
        pa, pb = (r.model.eval()(torch.as_tensor(Xd)).detach().numpy() for r in (a, b))
        np.testing.assert_allclose(pa, pb, atol=2e-3)
    # the models differ from each other (own targets and seeds), so the agreement above is not trivial
    p = [r.model.eval()(torch.as_tensor(Xd)).detach().numpy() for r in batched]
    assert np.abs(p[0] - p[2]).max() > 1e-2


def test_train_batched_refuses_mismatched_inputs():
    X, y = _data()
    with pytest.raises(ValueError, match="one of each per model"):
        ladder.train_batched("Dense", X, [y, y], X, [y], seeds=[0, 1], epochs=1)
    with pytest.raises(ValueError, match="unlabeled"):
        ladder.train_batched("LN", X, [y], X, [y], None, seeds=[0], epochs=1)


# --------------------------------------------------------------------------- the task, through the engine
def _fake_extract(manifest, kind, condition=None, **_):
    """Pseudo-features: the arousal rating plus noise fixed by utterance and condition (no audio)."""
    key = "clean" if condition is None else condition.key
    rows = []
    for u, a in zip(manifest.utt_id, manifest.arousal):
        rng = np.random.default_rng(zlib.crc32(f"{u}|{key}".encode()))
        shift = 0.0 if condition is None else 1.5
        rows.append(np.r_[a + shift + 0.3 * rng.normal(), rng.normal(size=7)])
    return pd.DataFrame(np.asarray(rows, dtype=np.float32), index=pd.Index(manifest.utt_id, name="utt_id"))


def test_run_task_through_the_engine(tmp_data, monkeypatch):
    from serlib import experiment, features

    monkeypatch.setattr(features, "extract", _fake_extract)
    m = _manifest(per=8)
    proto = protocols.auto(m, ladder.PAPER_PROTOCOL, limit_folds=2, seed=0)
    folds = ladder.fold_manifests(m, proto)
    cfg = {"attributes": ["arousal", "dominance"], "seeds": [3, 4], "epochs": 3, "patience": 2, "lr": 3e-3,
           "batch_size": 16, "feature_set": "egemaps", "seed": 0, "noise": "synthetic", "noise_root": None}
    settings = ladder.booth_settings([0])
    grid = ladder.tasks(folds, settings, cfg)
    assert [t.config["method"] for t in grid] == list(ladder.METHODS) * 2 and grid[0].config["tests"] == ["0dB"]
    assert [t.config["seeds"] for t in grid[::4]] == [[3], [4]]            # one seed per fold
    outs = experiment.Experiment("02_test", manifest=folds, workers=1, progress=False).run(grid)
    rows, preds = ladder.result_rows(outs)
    fits = ladder.fit_summary(outs)
    assert len(fits) == 4 * 2 * 2 and set(fits.epochs_run) <= {1, 2, 3}
    ccc = rows[rows.metric == "ccc"]
    # Dense: clean + booth; ladders: clean + their booth condition; per attribute and run
    assert len(ccc) == 4 * 2 * 2 * 2 and set(ccc.test_condition) == {"clean", "recorded"}
    assert set(ccc.loc[ccc.method == "Dense", "adapted_to"]) == {"none"}
    assert set(ccc.loc[ccc.method == "DLN", "train_condition"]) == {"clean+unlabeled_target"}
    assert {"seed", "fold", "snr", "noise_type"} <= set(rows.columns) and set(rows.seed) == {3, 4}
    # the per-utterance predictions reproduce every CCC row
    from serlib.metrics import ccc as ccc_fn
    for _, r in ccc.head(6).iterrows():
        p = preds[(preds.method == r.method) & (preds.fold == r.fold) & (preds.attribute == r.attribute)
                  & (preds.test_condition == r.test_condition)]
        assert ccc_fn(p.y_true, p.y_pred) == pytest.approx(r.value)
        assert p.utt_id.isin(folds[r.fold].query("part == 'test'").utt_id).all()
    fig3 = rows[rows.metric.str.startswith("fig3_")]
    assert set(fig3.method) == {"DLN"} and set(fig3.embedding) == {"emotion", "reconstruction"}
    assert len(fig3) == 3 * 2 * 2 * 2                                       # quantities x embeddings x attrs x runs
    # learned something: arousal is in the features, dominance is not
    dense = ccc[(ccc.method == "Dense") & (ccc.test_condition == "clean")].groupby("attribute").value.mean()
    assert dense["arousal"] > 0.5 > dense["dominance"]
    assert ladder.constant_predictions(preds).empty
    again = experiment.Experiment("02_test", manifest=folds, workers=1, progress=False).run(grid)
    assert all(o.cached for o in again)
    pd.testing.assert_frame_equal(ladder.result_rows(again)[0], rows)


def test_constant_predictions_flags_a_collapsed_regressor():
    preds = pd.DataFrame({"method": "A", "fold": "f", "seed": 0, "attribute": "arousal", "adapted_to": "none",
                          "test_condition": "clean", "snr": None, "y_true": [1.0, 2.0, 3.0, 4.0],
                          "y_pred": [2.5, 2.5, 2.5001, 2.5]})
    both = pd.concat([preds, preds.assign(method="B", y_pred=[1.0, 2.2, 2.9, 4.1])], ignore_index=True)
    flat = ladder.constant_predictions(both)
    assert flat["method"].tolist() == ["A"]


# --------------------------------------------------------------------------- Table 2 marks
def test_significance_table_marks():
    rows = []
    rng = np.random.default_rng(0)
    means = {"Dense": 0.2, "LN": 0.4, "DLN": 0.5, "DLN+he": 0.4}
    for m, mu in means.items():
        for s in range(6):
            for snr in (None, 10.0):
                v = (0.6 if snr is None else mu) + 0.005 * rng.normal()
                rows.append(dict(method=m, attribute="arousal", snr=snr, seed=s, metric="ccc", value=v))
    rows.append(dict(method="DLN", attribute="arousal", snr=10.0, seed=0, metric="other", value=9.0))
    t = ladder.significance_table(pd.DataFrame(rows))
    noisy = t[t["condition"] == "10 dB"].iloc[0]
    clean = t[t["condition"] == "clean"].iloc[0]
    assert noisy["LN"].endswith("†") and "*" not in noisy["LN"]
    assert noisy["DLN"].endswith("†*")
    assert noisy["DLN+he"] == f"{float(noisy['DLN+he'][:5]):.3f}†"  # equal to LN: no star
    assert abs(float(noisy["Dense"][:5]) - 0.2) < 0.01
    assert "†" not in clean["DLN"]
    means_df = t.attrs["means"]
    assert set(means_df["method"]) == set(means) and (means_df["n"] == 6).all()


def test_significance_table_marks_worse_in_brackets():
    rows = [dict(method=m, attribute="valence", snr=0.0, seed=s, metric="ccc", value=v + 0.001 * s)
            for m, v in (("Dense", 0.3), ("LN", 0.1)) for s in range(4)]
    t = ladder.significance_table(pd.DataFrame(rows))
    assert t.iloc[0]["LN"].endswith("(†)")


def test_embedding_analysis_keys_and_emotion_readout():
    X, y = _data(64)
    res = ladder.train_model("DLN", X, y, X, y, X, epochs=3, lr=3e-3, batch_size=16, seed=0, device="cpu")
    out = ladder.embedding_analysis(res.model, X, y, X[:32], y[:32])
    assert set(out) == {(q, e) for q in ("ccc_output", "ccc_probe", "input_mse") for e in ("emotion", "reconstruction")}
    assert all(np.isfinite(v) for v in out.values())
    assert out[("input_mse", "emotion")] >= 0
    # the emotion embedding read by the trained output layer is the model's own prediction
    pred = res.model.eval()(torch.as_tensor(X[:32])).detach().numpy()
    from serlib.metrics import ccc
    assert out[("ccc_output", "emotion")] == pytest.approx(ccc(y[:32], pred), abs=1e-5)

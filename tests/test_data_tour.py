"""The data tour's difficulty check: one forest per fold for all test conditions, its generated reading, its figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serlib import metrics, paths, profiles, protocols
from serlib import plots as P
from serlib.models import forest

LABELS = ["angry", "happy", "neutral", "sad"]


def _toy(n_per: int = 12, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """4 sessions x 2 speakers x 4 emotions; features carry the class in one dimension each."""
    rng = np.random.default_rng(seed)
    rows, X = [], []
    for s in range(4):
        for spk in ("F", "M"):
            for k, emo in enumerate(LABELS):
                for _ in range(n_per // 4):
                    rows.append({"utt_id": f"u{len(rows)}", "speaker": f"S{s}{spk}", "session": f"S{s}",
                                 "emotion": emo, "arousal": 1.0 + k + rng.normal(0, 0.3),
                                 "valence": 5.0 - k + rng.normal(0, 0.3)})
                    X.append(rng.normal(size=6) + 2.0 * np.eye(6)[k])
    return pd.DataFrame(rows), np.asarray(X)


def test_conditions_share_one_fit_per_fold_and_equal_separate_runs(monkeypatch):
    from sklearn.ensemble import RandomForestClassifier

    m, X = _toy()
    splits = protocols.leave_one_session_out(m, val=None)
    noisy = X + np.random.default_rng(1).normal(0, 1.5, size=X.shape)
    fits = []
    real_fit = RandomForestClassifier.fit
    monkeypatch.setattr(RandomForestClassifier, "fit", lambda self, *a, **k: fits.append(1) or real_fit(self, *a, **k))
    cv = forest.cross_validate_conditions(m, X, splits, {"clean": X, "noisy": noisy}, regress=("arousal",),
                                          trees=20, seed=3, n_jobs=1)
    assert len(fits) == len(splits)  # one classifier per fold, not one per fold and condition
    monkeypatch.setattr(RandomForestClassifier, "fit", real_fit)
    # the same predictions as an independent per-fold fit (same seed, same trees) tested on the noisy features
    want = np.empty(len(m), dtype=object)
    for s in splits:
        clf = RandomForestClassifier(n_estimators=20, random_state=3, n_jobs=1).fit(X[s.train], m.emotion.iloc[s.train])
        want[s.test] = clf.predict(noisy[s.test])
    assert (cv["noisy"].pred == want).all()
    assert (cv["clean"].pred == forest.cross_validate(m, X, splits, trees=20, seed=3, n_jobs=1).pred).all()
    assert not (cv["clean"].pred == cv["noisy"].pred).all()  # the conditions are really tested apart
    f = cv["noisy"].folds
    assert list(f.columns) == ["fold", "n", "uar", "war", "ccc_arousal"] and len(f) == len(splits)
    te = splits[0].test
    assert f["uar"].iloc[0] == metrics.uar(m.emotion.to_numpy()[te], want[te])
    preds = cv["noisy"].predictions(m)
    assert list(preds.columns) == ["utt_id", "fold", "y_true", "y_pred"]
    assert (preds.fold.iloc[te] == splits[0].name).all() and preds.fold.notna().all()


def test_conditions_refuse_misaligned_features_and_incomplete_splits():
    m, X = _toy()
    splits = protocols.leave_one_session_out(m, val=None)
    with pytest.raises(ValueError, match="test 'noisy'.*do not match the manifest"):
        forest.cross_validate_conditions(m, X, splits, {"noisy": X[:-1]})
    with pytest.raises(ValueError, match="exactly once"):
        forest.cross_validate_conditions(m, X, splits[:-1], {"clean": X})
    with pytest.raises(ValueError, match="no test conditions"):
        forest.cross_validate_conditions(m, X, splits, {})


def _cv(pred_clean, pred_noisy, y, folds):
    """Hand-made CVResults: ``folds`` = list of index arrays (one per fold)."""
    out = {}
    for name, pred in (("clean", pred_clean), ("babble 0 dB", pred_noisy)):
        pred = np.asarray(pred, dtype=object)
        rows = [{"fold": f"f{i}", "n": len(ix), "uar": metrics.uar(y[ix], pred[ix]), "war": metrics.war(y[ix], pred[ix])}
                for i, ix in enumerate(folds)]
        out[name] = forest.CVResult(pred=pred, folds=pd.DataFrame(rows))
    return out


def test_difficulty_reading_states_the_run_numbers():
    y = np.array(LABELS * 10, dtype=object)
    m = pd.DataFrame({"utt_id": [f"u{i}" for i in range(40)], "emotion": y})
    clean = y.copy()
    clean[:16] = np.array(["happy", "angry", "sad", "neutral"] * 4)  # 16 of 40 wrong: UAR 60 %, within-arousal swaps
    noisy = np.array(["neutral"] * 40, dtype=object)  # one class: chance
    folds = [np.arange(0, 20), np.arange(20, 40)]
    text = forest.difficulty_reading(_cv(clean, noisy, y, folds), m, min_utterances=40)
    assert "Pooled UAR 60.0 % over 40 utterances in 2 folds" in text and "chance 25.0 % for 4 classes" in text
    assert "inside the IEMOCAP-like band of 55-75 %" in text and "as hard as it was built to be" in text
    assert "per fold 20.0 % to 100.0 %" in text  # fold 1 holds all 16 errors
    assert "within one arousal level" in text
    assert "**babble 0 dB** (trained on clean speech): UAR 25.0 %, 35.0 points below clean (58.3 % of the clean" in text
    assert "2 of 2 folds at or below chance" in text
    # the same run against another band, and on a real corpus
    other = forest.difficulty_reading(_cv(clean, noisy, y, folds), m, band=(0.7, 0.9), min_utterances=40)
    assert "below the IEMOCAP-like band of 70-90 %" in other and "harder than intended" in other
    real = forest.difficulty_reading(_cv(clean, noisy, y, folds), m, embedded=False, min_utterances=40)
    assert "a reference point here" in real and "as hard as it was built" not in real
    tiny = forest.difficulty_reading(_cv(clean, noisy, y, folds), m)  # 40 < 200 utterances: no verdict on the band
    assert "too few to place the corpus" in tiny and "inside" not in tiny and "as hard as" not in tiny
    across = y.copy()
    across[:10] = "sad"  # angry/happy taken for sad: across arousal levels
    assert "across arousal levels" in forest.difficulty_reading(_cv(across, noisy, y, folds), m)
    better = forest.difficulty_reading(_cv(noisy, clean, y, folds), m)  # the "noisy" test scores higher
    assert "UAR 60.0 %, 35.0 points above clean;" in better and "below clean" not in better
    with pytest.raises(KeyError, match="no 'clean' condition"):
        forest.difficulty_reading({"noisy": _cv(clean, noisy, y, folds)["babble 0 dB"]}, m)


def test_difficulty_reading_compares_arousal_and_valence_when_regressed():
    m, X = _toy()
    splits = protocols.leave_one_session_out(m, val=None)
    cv = forest.cross_validate_conditions(m, X, splits, {"clean": X}, regress=("arousal", "valence"), trees=20,
                                          n_jobs=1)
    s = cv["clean"].summary(m)
    text = forest.difficulty_reading(cv, m)
    assert f"arousal (CCC {s['ccc_arousal']:.2f})" in text and f"valence (CCC {s['ccc_valence']:.2f})" in text


def test_dry_run_fits_tiny_forests(monkeypatch):
    m, X = _toy()
    splits = protocols.leave_one_session_out(m, val=None)
    monkeypatch.setenv(profiles.DRY_ENV, "")
    tiny = forest.cross_validate_conditions(m, X, splits, {"clean": X}, trees=profiles.DRY_TREES, n_jobs=1)["clean"]
    full = forest.cross_validate_conditions(m, X, splits, {"clean": X}, trees=50, n_jobs=1)["clean"]
    monkeypatch.setenv(profiles.DRY_ENV, "1")
    dry = forest.cross_validate_conditions(m, X, splits, {"clean": X}, trees=50, n_jobs=1)["clean"]
    assert (dry.pred == tiny.pred).all() and not (dry.pred == full.pred).all()


def test_difficulty_figure(tmp_data):
    folds = pd.DataFrame({"condition": ["clean"] * 3 + ["babble 0 dB"] * 3, "fold": ["a", "b", "c"] * 2,
                          "uar": [0.6, 0.7, 0.65, 0.3, 0.35, 0.2]})
    fig = P.difficulty(folds, band=(0.55, 0.75), chance=0.25, name="99_difficulty")
    assert (paths.figures_dir() / "99_difficulty.png").stat().st_size > 5_000
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert 0.0 <= lo <= 20.0 and 75.0 <= hi <= 100.0  # in %, band and chance inside, never beyond 100
    assert [t.get_text() for t in ax.get_xticklabels()] == ["clean", "babble 0 dB"]
    assert [round(p.get_height(), 6) for p in ax.patches[:2]] == [65.0, round(85 / 3, 6)]  # bars: mean over folds
    assert ax.get_ylabel() == "UAR (%)" and ax.get_xlabel() == "Test condition"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert not ax.get_legend() and {"a", "b", "c", "chance (25 %)", "target band (55-75 %)"} <= set(labels)
    with pytest.raises(ValueError, match="lack columns"):
        P.difficulty(folds.drop(columns="fold"))

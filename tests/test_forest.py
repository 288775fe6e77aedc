"""serlib.models.forest: cross-validated RF baseline and validation-selected grid search."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serlib import protocols
from serlib.models import forest


def _toy(n_per=12, seed=0):
    rng = np.random.default_rng(seed)
    rows, X = [], []
    for s in range(4):
        for spk in ("F", "M"):
            for k, emo in enumerate(("angry", "happy", "neutral", "sad")):
                for _ in range(n_per // 4):
                    rows.append({"utt_id": f"u{len(rows)}", "speaker": f"S{s}{spk}", "session": f"S{s}",
                                 "emotion": emo, "arousal": 1.0 + k, "valence": 5.0 - k})
                    X.append(rng.normal(size=6) + 2.0 * np.eye(6)[k])
    return pd.DataFrame(rows), np.asarray(X)


def test_cross_validate_pools_every_utterance_and_learns():
    m, X = _toy()
    splits = protocols.leave_one_session_out(m, val=None)
    cv = forest.cross_validate(m, X, splits, regress=("arousal",), trees=50, n_jobs=1)
    assert len(cv.folds) == 4 and not pd.isna(cv.pred).any()
    s = cv.summary(m, labels=["angry", "happy", "neutral", "sad"])
    assert s["uar"] > 0.7 and s["ccc_arousal"] > 0.5
    noisy = cv.summary(m)  # testing on pure noise features falls towards chance
    cv_noise = forest.cross_validate(m, X, splits, np.random.default_rng(1).normal(size=X.shape) * 5, trees=50)
    assert cv_noise.summary(m)["uar"] < noisy["uar"]


def test_cross_validate_rejects_misaligned_features():
    m, X = _toy()
    with pytest.raises(ValueError, match="do not match the manifest"):
        forest.cross_validate(m, X[:-1], protocols.leave_one_session_out(m, val=None))


def test_fit_grid_selects_on_validation_with_cheap_ties():
    m, X = _toy()
    y = m["emotion"].to_numpy()
    res = forest.fit_grid(X[:48], y[:48], X[48:72], y[48:72], grid={"n_estimators": [20, 40], "max_depth": [1, 8]})
    assert len(res.table) == 4
    best = res.table["val_score"].max()
    assert res.table.query("n_estimators == @res.params['n_estimators'] and max_depth == @res.params['max_depth']")[
        "val_score"].iloc[0] == best
    assert res.model.predict(X[:3]).shape == (3,)
    with pytest.raises(ValueError, match="unknown grid"):
        forest.fit_grid(X, y, X, y, grid="huge")


def test_paper_grid_is_the_papers():
    g = forest.GRIDS["paper"]
    assert g["n_estimators"][0] == 500 and g["n_estimators"][-1] == 5000 and len(g["n_estimators"]) == 451
    assert g["max_depth"] == list(range(2, 41, 2))


def test_every_profile_names_a_grid_that_exists():
    from serlib import profiles

    for nb in profiles.notebooks():
        if "grid" in profiles.knobs(nb):
            for prof in profiles.PROFILES:
                grid = profiles.settings(nb, prof)["grid"]
                assert grid in forest.GRIDS, f"{nb} ({prof}) names grid {grid!r}; GRIDS has {sorted(forest.GRIDS)}"

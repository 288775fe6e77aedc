"""Random-forest baselines on functionals (eGeMAPS + RF), shared by the data tour, paper 1 and the leaderboard.

- :func:`cross_validate`: train on each split's training part, predict its test part (clean or noisy
  test features), pooled predictions + per-fold UAR; optional A/V random-forest regressors (CCC).
  This is the corpus difficulty check of the data tour and ``scripts/difficulty_check.py``.
- :func:`fit_grid`: paper 1's baseline: a grid search over ``n_estimators`` x ``max_depth`` selected on a
  speaker-disjoint **validation** set (never the test set), refit on train. Inside
  ``serlib.experiment.joblib_backend(exp)`` the grid's forests are fitted on the experiment's Dask
  workers (one forest per worker task); the selected forest and its table are the same either way.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from serlib import metrics

GRIDS: dict[str, dict[str, list]] = {
    # paper 1: n_estimators = 10*i, 50 <= i <= 500; max_depth = 2*i, 1 <= i <= 20 (9,020 forests)
    "paper": {"n_estimators": [10 * i for i in range(50, 501)], "max_depth": [2 * i for i in range(1, 21)]},
    # a coarse subset of the same grid (500 and 1,000 trees: ~30 CPU-s per search on 400 rows of the quick corpus)
    "coarse": {"n_estimators": [500, 1000], "max_depth": [4, 10, 20, 40]},
    # notebook 01's quick profile: the same depths with 100 trees (~2-3 CPU-s per search; 20 searches per run)
    "quick": {"n_estimators": [100], "max_depth": [4, 10, 20, 40]},
    "smoke": {"n_estimators": [50], "max_depth": [4, 10]},
}


@dataclass
class CVResult:
    """Pooled predictions of :func:`cross_validate` and per-fold scores."""

    pred: np.ndarray
    folds: pd.DataFrame
    regression: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self, manifest: pd.DataFrame, target: str = "emotion", labels: Sequence | None = None) -> dict:
        """UAR/WAR of the pooled predictions, fold spread, confusion, and CCC of any regressors."""
        y = manifest[target].to_numpy()
        out = {"uar": metrics.uar(y, self.pred), "war": metrics.war(y, self.pred),
               "fold_uar_mean": float(self.folds["uar"].mean()),
               "fold_uar_sd": float(self.folds["uar"].std(ddof=1)) if len(self.folds) > 1 else float("nan"),
               "confusion": metrics.confusion(y, self.pred, labels=labels)}
        for dim, pred in self.regression.items():
            out[f"ccc_{dim}"] = metrics.ccc(manifest[dim].to_numpy(dtype=float), pred)
        return out


def cross_validate(
    manifest: pd.DataFrame,
    X: np.ndarray,
    splits: Sequence,
    X_test: np.ndarray | None = None,
    *,
    target: str = "emotion",
    regress: Sequence[str] = (),
    trees: int = 300,
    seed: int = 0,
    n_jobs: int | None = None,
) -> CVResult:
    """Random forests over ``splits`` (from :mod:`serlib.protocols`), trained on ``X`` and tested on ``X_test``.

    ``X_test`` (default ``X``) lets a clean-trained model be tested on noisy features of the same
    utterances (rows aligned with ``manifest``). ``regress`` names continuous columns (e.g. arousal,
    valence) to predict with random-forest regressors as well.
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    n_jobs = -1 if n_jobs is None else n_jobs  # None = all cores, as elsewhere in serlib (same trees either way)
    X = np.asarray(X)
    X_test = X if X_test is None else np.asarray(X_test)
    if len(X) != len(manifest) or X_test.shape != X.shape:
        raise ValueError(f"features ({X.shape}, test {X_test.shape}) do not match the manifest ({len(manifest)} rows)")
    y = manifest[target].to_numpy()
    pred = np.empty(len(manifest), dtype=object)
    reg = {dim: np.full(len(manifest), np.nan) for dim in regress}
    folds = []
    for split in splits:
        tr, te = split.train, split.test
        clf = RandomForestClassifier(n_estimators=trees, n_jobs=n_jobs, random_state=seed).fit(X[tr], y[tr])
        pred[te] = clf.predict(X_test[te])
        folds.append({"fold": split.name, "uar": metrics.uar(y[te], pred[te]), "n": int(len(te))})
        for dim, out in reg.items():
            r = RandomForestRegressor(n_estimators=max(trees // 2, 10), min_samples_leaf=3, n_jobs=n_jobs,
                                      random_state=seed).fit(X[tr], manifest[dim].to_numpy(dtype=float)[tr])
            out[te] = r.predict(X_test[te])
    tested = np.concatenate([s.test for s in splits])
    if len(np.unique(tested)) != len(manifest):
        raise ValueError("the splits do not test every utterance exactly once; pooled predictions need that")
    return CVResult(pred=pred, folds=pd.DataFrame(folds), regression=reg)


@dataclass
class GridResult:
    """The forest refit with the best validation parameters, and the whole validation table."""

    model: object
    params: dict
    table: pd.DataFrame


def fit_grid(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    grid: str | dict = "coarse",
    score: Callable = metrics.macro_f1,
    seed: int = 0,
    n_jobs: int | None = None,
) -> GridResult:
    """Grid search of a random forest selected on the validation set (``score`` higher is better).

    ``grid`` is a name in :data:`GRIDS` or a dict ``{"n_estimators": [...], "max_depth": [...]}``.
    Ties are broken towards fewer trees and shallower forests (cheaper, less overfit). In a dry run
    (:func:`serlib.profiles.is_dry`) every configuration of the grid is evaluated with forests of at
    most :data:`serlib.profiles.DRY_TREES` trees (the table keeps the nominal values); configurations
    that the cap makes identical (same trees, depth and seed: the same forest) are fitted once, so the
    paper's 9,020 configurations cost 20 forests.
    """
    from sklearn.ensemble import RandomForestClassifier

    from serlib import profiles

    n_jobs = -1 if n_jobs is None else n_jobs  # None = all cores (the fitted trees do not depend on it)
    if isinstance(grid, str):
        if grid not in GRIDS:
            raise ValueError(f"unknown grid {grid!r}; choose one of {sorted(GRIDS)} or pass a dict")
        grid = GRIDS[grid]
    cap = profiles.DRY_TREES if profiles.is_dry() else None
    combos = list(itertools.product(sorted(grid["n_estimators"]), sorted(grid["max_depth"])))
    fitted = [(min(n, cap or n), d) for n, d in combos]  # the forest each configuration fits (dry: capped trees)
    # ascending order + strict improvement = ties go to fewer trees, then shallower forests
    if _dask_backend_active():  # one forest per Dask task; only the scores travel back, the best is refit here
        from joblib import Parallel, delayed

        distinct = sorted(set(fitted))
        scored = dict(zip(distinct, Parallel()(delayed(_val_score)(X_train, y_train, X_val, y_val, n, d, seed, score)
                                               for n, d in distinct)))
        vals = [scored[f] for f in fitted]
        best_i = 0
        for i, val in enumerate(vals):
            if val > vals[best_i]:
                best_i = i
        n_est, depth = combos[best_i]  # same random_state and parameters: the same trees as on the worker
        best_model = RandomForestClassifier(n_estimators=min(n_est, cap or n_est), max_depth=depth, n_jobs=n_jobs,
                                            random_state=seed)
        best_model.fit(X_train, y_train)
        rows = [{"n_estimators": n, "max_depth": d, "val_score": v} for (n, d), v in zip(combos, vals)]
        params = {"n_estimators": n_est, "max_depth": depth}
    else:
        rows, best, best_model, params, scored = [], None, None, {}, {}
        for (n_est, depth), (n_fit, _) in zip(combos, fitted):
            clf = None
            if (n_fit, depth) not in scored:  # a repeat scores as before and cannot beat `best`: no refit
                clf = RandomForestClassifier(n_estimators=n_fit, max_depth=depth, n_jobs=n_jobs, random_state=seed)
                clf.fit(X_train, y_train)
                scored[n_fit, depth] = score(y_val, clf.predict(X_val))
            val = scored[n_fit, depth]
            rows.append({"n_estimators": n_est, "max_depth": depth, "val_score": val})
            if best is None or val > best:
                best, best_model, params = val, clf, {"n_estimators": n_est, "max_depth": depth}
    return GridResult(model=best_model, params=params, table=pd.DataFrame(rows))


def _dask_backend_active() -> bool:
    """Whether joblib's active backend is Dask (``serlib.experiment.joblib_backend``)."""
    from joblib.parallel import get_active_backend

    return type(get_active_backend()[0]).__name__ == "DaskDistributedBackend"


def _val_score(X_train, y_train, X_val, y_val, n_est: int, depth: int, seed: int, score: Callable) -> float:
    """Validation score of one single-threaded forest of the grid (a Dask worker task)."""
    from sklearn.ensemble import RandomForestClassifier

    clf = RandomForestClassifier(n_estimators=n_est, max_depth=depth, n_jobs=1, random_state=seed)
    return score(y_val, clf.fit(X_train, y_train).predict(X_val))

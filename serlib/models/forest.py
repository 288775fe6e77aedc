"""Random-forest baselines on functionals (eGeMAPS + RF), shared by the data tour, paper 1 and the leaderboard.

- :func:`cross_validate`: train on each split's training part, predict its test part (clean or noisy
  test features), pooled predictions + per-fold UAR; optional A/V random-forest regressors (CCC).
  This is the corpus difficulty check of the data tour and ``scripts/difficulty_check.py``;
  :func:`cross_validate_conditions` fits each fold once for several test conditions, and
  :func:`difficulty_reading` words the result (every number from the run).
- :func:`fit_grid`: paper 1's baseline: a grid search over ``n_estimators`` x ``max_depth`` selected on a
  speaker-disjoint **validation** set (never the test set), refit on train. Inside
  ``serlib.experiment.joblib_backend(exp)`` the grid's forests are fitted on the experiment's Dask
  workers (one forest per worker task); the selected forest and its table are the same either way.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from serlib import metrics

GRIDS: dict[str, dict[str, list]] = {
    # paper 1: n_estimators = 10*i, 50 <= i <= 500; max_depth = 2*i, 1 <= i <= 20 (9,020 forests)
    "paper": {"n_estimators": [10 * i for i in range(50, 501)], "max_depth": [2 * i for i in range(1, 21)]},
    # a coarse subset of the same grid for the quick profile
    "coarse": {"n_estimators": [500, 1000], "max_depth": [4, 10, 20, 40]},
    "smoke": {"n_estimators": [50], "max_depth": [4, 10]},
}


@dataclass
class CVResult:
    """Pooled predictions of :func:`cross_validate` and per-fold scores."""

    pred: np.ndarray
    folds: pd.DataFrame
    regression: dict[str, np.ndarray] = field(default_factory=dict)
    fold: np.ndarray | None = None
    """The name of the fold that tested each utterance (rows aligned with the manifest)."""

    def predictions(self, manifest: pd.DataFrame, target: str = "emotion") -> pd.DataFrame:
        """One row per utterance: ``utt_id, fold, y_true, y_pred`` (for :func:`serlib.metrics.single_class`)."""
        return pd.DataFrame({"utt_id": manifest["utt_id"].to_numpy(), "fold": self.fold,
                             "y_true": manifest[target].to_numpy(), "y_pred": self.pred})

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
    valence) to predict with random-forest regressors as well. Several test conditions:
    :func:`cross_validate_conditions` (one fit per fold for all of them).
    """
    return cross_validate_conditions(manifest, X, splits, {"test": X if X_test is None else X_test}, target=target,
                                     regress=regress, trees=trees, seed=seed, n_jobs=n_jobs)["test"]


def cross_validate_conditions(
    manifest: pd.DataFrame,
    X: np.ndarray,
    splits: Sequence,
    tests: Mapping[str, np.ndarray],
    *,
    target: str = "emotion",
    regress: Sequence[str] = (),
    trees: int = 300,
    seed: int = 0,
    n_jobs: int | None = None,
) -> dict[str, CVResult]:
    """:func:`cross_validate` for several test conditions: each fold's forests are fitted once on ``X``
    (e.g. clean features) and tested on every ``tests[name]`` (features of the same utterances under
    condition ``name``). Returns one :class:`CVResult` per condition, each the same as
    ``cross_validate(manifest, X, splits, tests[name], ...)`` (same seed, same trees) at a fraction of the
    cost. ``folds`` holds per fold ``fold, n, uar, war`` and ``ccc_<dim>`` for every regressed ``dim``.
    In a dry run (:func:`serlib.profiles.is_dry`) the forests have at most :data:`~serlib.profiles.DRY_TREES`
    trees (the regressors 10), as in :func:`fit_grid`.
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    from serlib import profiles

    n_jobs = -1 if n_jobs is None else n_jobs  # None = all cores, as elsewhere in serlib (same trees either way)
    if profiles.is_dry():  # dry run: the same code path with tiny forests
        trees = min(trees, profiles.DRY_TREES)
    X = np.asarray(X)
    tests = {name: np.asarray(Xt) for name, Xt in tests.items()}
    if not tests:
        raise ValueError("cross_validate_conditions: no test conditions given")
    for name, Xt in tests.items():
        if len(X) != len(manifest) or Xt.shape != X.shape:
            raise ValueError(f"features ({X.shape}, test {name!r} {Xt.shape}) do not match the manifest "
                             f"({len(manifest)} rows)")
    tested = np.concatenate([s.test for s in splits]) if len(splits) else np.array([], dtype=int)
    if len(tested) != len(manifest) or len(np.unique(tested)) != len(manifest):
        raise ValueError("the splits do not test every utterance exactly once; pooled predictions need that")
    y = manifest[target].to_numpy()
    targets = {dim: manifest[dim].to_numpy(dtype=float) for dim in regress}
    pred = {name: np.empty(len(manifest), dtype=object) for name in tests}
    reg = {name: {dim: np.full(len(manifest), np.nan) for dim in regress} for name in tests}
    folds: dict[str, list[dict]] = {name: [] for name in tests}
    fold = np.empty(len(manifest), dtype=object)
    for split in splits:
        tr, te = split.train, split.test
        fold[te] = split.name
        clf = RandomForestClassifier(n_estimators=trees, n_jobs=n_jobs, random_state=seed).fit(X[tr], y[tr])
        regs = {dim: RandomForestRegressor(n_estimators=max(trees // 2, 10), min_samples_leaf=3, n_jobs=n_jobs,
                                           random_state=seed).fit(X[tr], t[tr]) for dim, t in targets.items()}
        for name, Xt in tests.items():
            pred[name][te] = clf.predict(Xt[te])
            row = {"fold": split.name, "n": int(len(te)), "uar": metrics.uar(y[te], pred[name][te]),
                   "war": metrics.war(y[te], pred[name][te])}
            for dim, r in regs.items():
                reg[name][dim][te] = r.predict(Xt[te])
                row[f"ccc_{dim}"] = _ccc_or_nan(targets[dim][te], reg[name][dim][te])
            folds[name].append(row)
    return {name: CVResult(pred=pred[name], folds=pd.DataFrame(folds[name]), regression=reg[name], fold=fold.copy())
            for name in tests}


def _ccc_or_nan(t: np.ndarray, p: np.ndarray) -> float:
    """CCC of one fold, NaN where it is undefined (constant targets and predictions, e.g. a tiny fold)."""
    try:
        return metrics.ccc(t, p)
    except ValueError:
        return float("nan")


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
    (:func:`serlib.profiles.is_dry`) each axis keeps its first, middle and last value and every
    forest has at most :data:`serlib.profiles.DRY_TREES` trees (the table keeps the nominal values).
    """
    from sklearn.ensemble import RandomForestClassifier

    from serlib import profiles

    n_jobs = -1 if n_jobs is None else n_jobs  # None = all cores (the fitted trees do not depend on it)
    if isinstance(grid, str):
        if grid not in GRIDS:
            raise ValueError(f"unknown grid {grid!r}; choose one of {sorted(GRIDS)} or pass a dict")
        grid = GRIDS[grid]
    cap = profiles.DRY_TREES if profiles.is_dry() else None
    if cap is not None:  # dry run: the grid's shape (smallest, middle, largest values), forests of `cap` trees
        grid = {k: sorted({min(v), sorted(v)[len(v) // 2], max(v)}) for k, v in grid.items()}
    combos = list(itertools.product(sorted(grid["n_estimators"]), sorted(grid["max_depth"])))
    # ascending order + strict improvement = ties go to fewer trees, then shallower forests
    if _dask_backend_active():  # one forest per Dask task; only the scores travel back, the best is refit here
        from joblib import Parallel, delayed

        vals = Parallel()(delayed(_val_score)(X_train, y_train, X_val, y_val, min(n, cap or n), d, seed, score)
                          for n, d in combos)
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
        rows, best, best_model, params = [], None, None, {}
        for n_est, depth in combos:
            clf = RandomForestClassifier(n_estimators=min(n_est, cap or n_est), max_depth=depth, n_jobs=n_jobs,
                                         random_state=seed)
            clf.fit(X_train, y_train)
            val = score(y_val, clf.predict(X_val))
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


# --------------------------------------------------------------------------- the data tour's difficulty check
TARGET_UAR = (0.55, 0.75)
"""The clean 4-class UAR of eGeMAPS + RF (speaker-independent folds) the embedded corpus is built to reach:
IEMOCAP-like difficulty (IEMOCAP itself: about 55-60 %), neither a toy nor noise."""

SAME_AROUSAL = ({"angry", "happy"}, {"neutral", "sad"})
"""Emotion pairs that share an arousal level: IEMOCAP's typical confusions stay within them."""


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


MIN_UTTERANCES = 200
"""Fewer tested utterances than this (smoke, dry runs) are too few to place a corpus against the band."""


def difficulty_reading(cv: Mapping[str, CVResult], manifest: pd.DataFrame, *, clean: str = "clean",
                       target: str = "emotion", band: tuple[float, float] = TARGET_UAR, embedded: bool = True,
                       min_utterances: int = MIN_UTTERANCES) -> str:
    """The data tour's reading of its difficulty check, in Markdown, every number taken from ``cv``.

    ``cv`` maps test condition -> :class:`CVResult` (:func:`cross_validate_conditions`; the
    ``clean`` entry is the clean test, every other a noisy test of the same clean-trained forests).
    Says where the pooled clean UAR falls against ``band`` (the embedded corpus's design target;
    ``embedded=False``: a real corpus, for which the band is only a reference point), the chance
    level, the most frequent confusion and whether it stays within an arousal level, arousal vs
    valence CCC when regressors ran, and per noisy condition the UAR, its drop from clean (points
    and share of the clean score) and how many folds fell to chance or below. With fewer than
    ``min_utterances`` utterances it says that they are too few to place the corpus at all.
    """
    if clean not in cv:
        raise KeyError(f"difficulty_reading: no {clean!r} condition in {list(cv)}")
    y = manifest[target]
    labels = sorted(y.dropna().unique())
    chance = 1.0 / len(labels)
    ref = cv[clean]
    s = ref.summary(manifest, target, labels=labels)
    u, f = s["uar"], ref.folds["uar"]
    lo, hi = band
    where = "inside" if lo <= u <= hi else "below" if u < lo else "above"
    verdict = {"inside": "as hard as it was built to be", "below": "harder than intended",
               "above": "easier than intended"}[where]
    head = (f"**Clean speech.** Pooled UAR {_pct(u)} over {len(manifest)} utterances in {len(f)} folds (per fold "
            f"{_pct(f.min())} to {_pct(f.max())}; chance {_pct(chance)} for {len(labels)} classes)")
    if len(manifest) < min_utterances:
        head += (f". Fewer than {min_utterances} utterances are too few to place the corpus against the IEMOCAP-like "
                 f"band of {100 * lo:.0f}-{100 * hi:.0f} %: run the quick profile.")
    else:
        head += (f": {where} the IEMOCAP-like band of {100 * lo:.0f}-{100 * hi:.0f} %"
                 + (f", so the corpus is {verdict}." if embedded else
                    ", the embedded corpus's design target (a reference point here, not a requirement of a real "
                    "corpus)."))
    text = [head]
    conf = s["confusion"].astype(float)
    rates = conf.div(conf.sum(axis=1).replace(0, np.nan), axis=0)
    off = rates.where(~np.eye(len(rates), dtype=bool)).stack()
    if len(off) and off.max() > 0:
        t, p = off.idxmax()
        within = any({t, p} <= pair for pair in SAME_AROUSAL)
        text.append(f"The most frequent confusion is {t} taken for {p} ({_pct(off.max())} of the {t} utterances), "
                    + ("within one arousal level, as in IEMOCAP." if within else "across arousal levels."))
    ccc = {k.removeprefix("ccc_"): v for k, v in s.items() if k.startswith("ccc_")}
    if {"arousal", "valence"} <= set(ccc):
        easier = "easier" if ccc["arousal"] > ccc["valence"] else "not easier"
        text.append(f"Regressing the ratings, arousal (CCC {ccc['arousal']:.2f}) is {easier} than valence "
                    f"(CCC {ccc['valence']:.2f}).")
    for name, r in cv.items():
        if name == clean:
            continue
        un = metrics.uar(y.to_numpy(), r.pred)
        low = int((r.folds["uar"] <= chance).sum())
        if un <= u:
            change = (f"{100 * (u - un):.1f} points below clean"
                      + (f" ({_pct((u - un) / u)} of the clean score lost)" if u > 0 else ""))
        else:
            change = f"{100 * (un - u):.1f} points above clean"
        text.append(f"**{name}** (trained on clean speech): UAR {_pct(un)}, {change}; {low} of {len(r.folds)} "
                    "folds at or below chance.")
    return "\n\n".join(text)

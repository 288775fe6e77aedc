"""Evaluation metrics and the statistics used to report them.

Classification (labels may be ints or strings):

- :func:`uar` unweighted average recall = mean of the per-class recalls over the classes
  present in ``y_true`` (= scikit-learn's ``balanced_accuracy_score``). The SER papers' "UA".
- :func:`war` weighted average recall = accuracy (the papers' "WA").
- :func:`macro_f1` and :func:`f1` (scikit-learn ``f1_score``; see their docstrings for the
  class set), :func:`confusion` (a labelled confusion matrix).

Regression: :func:`ccc` (Lin's concordance correlation coefficient, population statistics)
and :func:`ccc_loss` (``1 - CCC`` on torch tensors, for training).

Speech recognition: :func:`wer` (corpus-level word error rate via jiwer).

Over seeds / folds: :func:`mean_ci` (mean and Student-t half-width), :func:`welch_t`
(two-tailed Welch's t-test, paper 2), :func:`paired_t` and :func:`wilcoxon` (paired seeds).

Bad input is refused early with a message that says what was wrong: mismatched lengths
(both lengths named), empty input, NaN/None in the labels or predictions. ``y_true`` with a
single class makes UAR and F1 uninformative; that emits a :class:`MetricWarning` (not an
error, because a tiny ``smoke`` run can legitimately hit it) which callers may escalate with
``warnings.simplefilter("error", MetricWarning)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm

__all__ = [
    "MetricWarning",
    "uar",
    "war",
    "macro_f1",
    "f1",
    "confusion",
    "ccc",
    "ccc_loss",
    "wer",
    "mean_ci",
    "welch_t",
    "paired_t",
    "wilcoxon",
    "METRICS",
    "get",
]


class MetricWarning(UserWarning):
    """A metric was computed on input that makes it uninformative (e.g. one class only)."""


# --------------------------------------------------------------------------- input checks
def _as_1d(x: Any, name: str) -> np.ndarray:
    """Turn a list / Series / tensor into a 1-D numpy array, refusing other shapes."""
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one value per utterance), got shape {arr.shape}; "
            "for classifier scores take argmax over the class axis first"
        )
    return arr


def _check_missing(arr: np.ndarray, name: str) -> None:
    missing = pd.isna(arr)
    if np.any(missing):
        idx = np.flatnonzero(missing)
        raise ValueError(
            f"{name} has {idx.size} missing/NaN value(s) (first at positions {idx[:5].tolist()}); "
            "a model produced NaN or labels are incomplete: drop or fix these rows before scoring"
        )


def _pair(y_true: Any, y_pred: Any, *, numeric: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (y_true, y_pred) pair: 1-D, same length, non-empty, no NaN."""
    t = _as_1d(y_true, "y_true")
    p = _as_1d(y_pred, "y_pred")
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"y_true and y_pred differ in length: len(y_true)={t.shape[0]}, len(y_pred)={p.shape[0]}")
    if t.shape[0] == 0:
        raise ValueError("y_true and y_pred are empty: there is nothing to score")
    if numeric:
        try:
            t = t.astype(np.float64)
            p = p.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"expected numeric y_true / y_pred, got dtypes {t.dtype} and {p.dtype}: {err}") from err
    _check_missing(t, "y_true")
    _check_missing(p, "y_pred")
    return t, p


def _warn_one_class(t: np.ndarray, metric: str) -> None:
    classes = np.unique(t)
    if classes.size < 2:
        warnings.warn(
            f"{metric}: y_true contains a single class ({classes[0]!r}) in {t.size} item(s); "
            f"{metric} then only measures that class and says nothing about the others "
            "(a too small or badly stratified test set?)",
            MetricWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------- classification
def uar(y_true: Sequence, y_pred: Sequence) -> float:
    """Unweighted average recall (balanced accuracy): mean recall over classes in ``y_true``.

    Predictions of classes that never occur in ``y_true`` count as errors for the true class
    but add no recall term (scikit-learn's ``balanced_accuracy_score``). One class only in
    ``y_true`` -> :class:`MetricWarning` and the recall of that class.
    """
    t, p = _pair(y_true, y_pred)
    _warn_one_class(t, "UAR")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return float(skm.balanced_accuracy_score(t, p))


def war(y_true: Sequence, y_pred: Sequence) -> float:
    """Weighted average recall = accuracy (fraction of items predicted correctly)."""
    t, p = _pair(y_true, y_pred)
    return float(skm.accuracy_score(t, p))


def macro_f1(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> float:
    """Macro-averaged F1: unweighted mean of the per-class F1 scores.

    The class set is ``labels`` when given (recommended: the corpus's class list, so folds
    are comparable), else the sorted union of classes in ``y_true`` and ``y_pred``
    (scikit-learn's default). A class with no true and no predicted item scores 0.
    """
    t, p = _pair(y_true, y_pred)
    _warn_one_class(t, "macro F1")
    return float(skm.f1_score(t, p, labels=labels, average="macro", zero_division=0.0))


def f1(
    y_true: Sequence,
    y_pred: Sequence,
    *,
    average: str = "binary",
    pos_label: Any = 1,
    labels: Sequence | None = None,
) -> float:
    """F1 score through ``sklearn.metrics.f1_score`` with the repository's input checks.

    ``average="binary"`` (default) scores the class ``pos_label`` only (paper 1's binary
    arousal/valence: pass ``pos_label`` explicitly when labels are strings);
    ``"macro"`` / ``"weighted"`` / ``"micro"`` average over ``labels`` (default: classes
    present in either input). Undefined precision/recall count as 0.
    """
    t, p = _pair(y_true, y_pred)
    _warn_one_class(t, "F1")
    if average == "binary":
        present = set(np.unique(t).tolist()) | set(np.unique(p).tolist())
        if pos_label not in present and len(present) <= 2:
            raise ValueError(
                f"F1(binary): pos_label={pos_label!r} is not among the labels {sorted(map(str, present))}; "
                "pass pos_label= one of them, or average='macro'"
            )
    return float(skm.f1_score(t, p, average=average, pos_label=pos_label, labels=labels, zero_division=0.0))


def confusion(
    y_true: Sequence,
    y_pred: Sequence,
    labels: Sequence | None = None,
    normalize: str | None = None,
) -> pd.DataFrame:
    """Confusion matrix as a DataFrame: rows = true class, columns = predicted class.

    ``labels`` fixes order and class set (default: sorted union of both inputs);
    ``normalize="true"`` gives row-wise fractions (per-class recall on the diagonal),
    ``"pred"`` column-wise, ``"all"`` over everything, ``None`` counts.
    """
    t, p = _pair(y_true, y_pred)
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    if labels is None:
        labels = np.unique(np.concatenate([t, p]))
    labels = list(labels)
    cm = skm.confusion_matrix(t, p, labels=labels, normalize=normalize)
    return pd.DataFrame(
        cm,
        index=pd.Index(labels, name="true"),
        columns=pd.Index(labels, name="predicted"),
    )


# --------------------------------------------------------------------------- regression
def ccc(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Lin's concordance correlation coefficient with population (ddof=0) statistics.

    ``2 cov(t, p) / (var(t) + var(p) + (mean(t) - mean(p))**2)``; 1 = perfect agreement,
    0 = none, -1 = perfect disagreement. When both inputs are constant and equal the value
    is undefined: a ``ValueError`` says so.
    """
    t, p = _pair(y_true, y_pred, numeric=True)
    mt, mp = t.mean(), p.mean()
    vt, vp = t.var(), p.var()
    cov = np.mean((t - mt) * (p - mp))
    denom = vt + vp + (mt - mp) ** 2
    if denom == 0.0:
        raise ValueError(
            f"CCC is undefined: y_true and y_pred are both constant and equal ({mt!r}) over {t.size} item(s)"
        )
    return float(2.0 * cov / denom)


def ccc_loss(pred: Any, target: Any) -> Any:
    """``1 - CCC`` between two torch tensors of shape (n,) or (n, k) (mean over the k columns).

    Differentiable; population statistics as :func:`ccc`. Paper 2 trains with this loss.
    """
    import torch

    if pred.shape != target.shape:
        raise ValueError(f"ccc_loss: pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.shape[0] < 2:
        raise ValueError(f"ccc_loss needs a batch of at least 2 items, got {pred.shape[0]}")
    pred = pred.float()
    target = target.float()
    mp, mt = pred.mean(0), target.mean(0)
    vp = pred.var(0, unbiased=False)
    vt = target.var(0, unbiased=False)
    cov = ((pred - mp) * (target - mt)).mean(0)
    value = 2 * cov / (vp + vt + (mp - mt) ** 2 + torch.finfo(torch.float32).eps)
    return 1.0 - value.mean()


# --------------------------------------------------------------------------- ASR
def wer(refs: Sequence[str], hyps: Sequence[str], *, normalize: bool = True) -> float:
    """Corpus-level word error rate (total edits / total reference words) via jiwer.

    This is *not* the mean of per-utterance WERs: long utterances weigh more, as in ASR
    evaluation practice. ``normalize=True`` lower-cases, removes punctuation and collapses
    whitespace on both sides first (so "Hello, world!" == "hello world").
    """
    import jiwer

    if isinstance(refs, str) or isinstance(hyps, str):
        raise TypeError("wer expects lists of sentences (one per utterance), not a single string")
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps):
        raise ValueError(f"refs and hyps differ in length: len(refs)={len(refs)}, len(hyps)={len(hyps)}")
    if not refs:
        raise ValueError("refs and hyps are empty: there is nothing to score")
    for name, seq in (("refs", refs), ("hyps", hyps)):
        bad = [i for i, s in enumerate(seq) if not isinstance(s, str)]
        if bad:
            raise ValueError(f"{name} must all be strings; items {bad[:5]} are {type(seq[bad[0]]).__name__}")
    steps = [jiwer.RemoveMultipleSpaces(), jiwer.Strip(), jiwer.ReduceToListOfListOfWords()]
    if normalize:
        steps = [jiwer.ToLowerCase(), jiwer.RemovePunctuation()] + steps
    transform = jiwer.Compose(steps)
    n_words = sum(len(words) for words in transform(refs))
    if n_words == 0:
        raise ValueError("all references are empty after normalisation: WER is undefined")
    return float(jiwer.wer(refs, hyps, reference_transform=transform, hypothesis_transform=transform))


# --------------------------------------------------------------------------- over seeds
def _values(x: Sequence[float], name: str) -> np.ndarray:
    arr = _as_1d(x, name).astype(np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one value")
    _check_missing(arr, name)
    return arr


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval.

    ``half = t_{(1+confidence)/2, n-1} * s / sqrt(n)`` with the sample standard deviation
    ``s`` (ddof=1). With a single value the interval is undefined: half-width ``nan``
    (reported as "+- nan", never as a fake 0).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    arr = _values(values, "values")
    n = arr.size
    mean = float(arr.mean())
    if n == 1:
        return mean, float("nan")
    sem = arr.std(ddof=1) / np.sqrt(n)
    return mean, float(stats.t.ppf((1.0 + confidence) / 2.0, n - 1) * sem)


def _two_samples(a: Sequence[float], b: Sequence[float], test: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = _values(a, "a"), _values(b, "b")
    if x.size < 2 or y.size < 2:
        raise ValueError(f"{test} needs at least 2 values per group, got len(a)={x.size}, len(b)={y.size}")
    return x, y


def _result(res: Any, test: str) -> tuple[float, float]:
    stat, p = float(res.statistic), float(res.pvalue)
    if np.isnan(p):
        warnings.warn(f"{test}: p-value is NaN (both groups constant?)", MetricWarning, stacklevel=3)
    return stat, p


def welch_t(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-tailed Welch's t-test (unequal variances) of ``a`` vs ``b`` -> ``(t, p)``.

    Positive ``t`` means ``mean(a) > mean(b)``. Used by paper 2 over 20 seeds.
    """
    x, y = _two_samples(a, b, "welch_t")
    return _result(stats.ttest_ind(x, y, equal_var=False), "welch_t")


def _paired(a: Sequence[float], b: Sequence[float], test: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = _two_samples(a, b, test)
    if x.size != y.size:
        raise ValueError(f"{test} pairs values (same seeds): len(a)={x.size} != len(b)={y.size}")
    return x, y


def paired_t(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-tailed paired t-test (same seeds / folds for both methods) -> ``(t, p)``."""
    x, y = _paired(a, b, "paired_t")
    return _result(stats.ttest_rel(x, y), "paired_t")


def wilcoxon(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank test on paired values -> ``(W, p)``.

    All-zero differences are refused (the test is undefined).
    """
    x, y = _paired(a, b, "wilcoxon")
    if np.all(x == y):
        raise ValueError("wilcoxon: all paired differences are zero; the test is undefined")
    return _result(stats.wilcoxon(x, y), "wilcoxon")


# --------------------------------------------------------------------------- by name
METRICS: dict[str, Callable[..., float]] = {
    "uar": uar,
    "war": war,
    "accuracy": war,
    "macro_f1": macro_f1,
    "ccc": ccc,
}
"""Metrics of ``(y_true, y_pred)`` selectable by name (e.g. ``fit(val_metric="uar")``)."""


def get(name: str) -> Callable[..., float]:
    """The metric called ``name`` (one of :data:`METRICS`), with a helpful error otherwise."""
    try:
        return METRICS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown metric {name!r}; choose one of {sorted(METRICS)}") from None

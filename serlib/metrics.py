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

Over seeds / folds: :func:`mean_ci` (mean and Student-t half-width; no interval from fewer
than 3 values), :func:`welch_t` (two-tailed Welch's t-test, paper 2), :func:`paired_t` and
:func:`wilcoxon` (paired seeds), :func:`holm` (Holm's step-down adjustment of several p-values).

Ranges and chance: :func:`bounds` (the range of a metric: [0, 1] for UAR, accuracy, F1; [-1, 1]
for CCC), :func:`clip_interval` (an interval cut to that range), :func:`chance_level` (what a
classifier that ignores its input scores) and :func:`single_class` (models that predict one class
only, from per-utterance predictions).

Over test utterances: :func:`bootstrap_weights` (multinomial resampling counts) and
:func:`weighted_scores` (UAR, accuracy, macro F1, CCC or WER of one set of predictions under
every row of resampling weights at once), the utterance-level bootstrap of :mod:`serlib.ledger`.

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
    "holm",
    "bounds",
    "clip_interval",
    "chance_level",
    "single_class",
    "bootstrap_weights",
    "weighted_scores",
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


MIN_N_INTERVAL = 3
"""Fewest values a Student-t interval is computed from: with 2 values it has one degree of freedom
(t = 12.7), an interval as wide as the metric's range, which reads as a result but says nothing."""


def mean_ci(values: Sequence[float], confidence: float = 0.95, *,
            min_n: int = MIN_N_INTERVAL) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval.

    ``half = t_{(1+confidence)/2, n-1} * s / sqrt(n)`` with the sample standard deviation
    ``s`` (ddof=1). With fewer than ``min_n`` values (default 3) the half-width is ``nan``:
    a t interval from one or two values is no evidence (show the values instead); it is never
    reported as a fake 0.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if int(min_n) < 2:
        raise ValueError(f"min_n must be at least 2 (a t interval needs a standard deviation), got {min_n}")
    arr = _values(values, "values")
    n = arr.size
    mean = float(arr.mean())
    if n < min_n:
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


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of ``pvalues`` (family-wise error rate), in the input order.

    Sorted ascending, the i-th smallest p (i = 0..k-1) becomes ``max_{j<=i} (k - j) p_(j)``,
    capped at 1. NaN p-values (no test possible) stay NaN and do not count in ``k``.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return out
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError(f"holm: p-values must lie in [0, 1], got {p[ok].tolist()}")
    order = ok[np.argsort(p[ok], kind="stable")]
    k = order.size
    adjusted = np.maximum.accumulate((k - np.arange(k)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


# --------------------------------------------------------------------------- ranges and chance
_BOUNDS = {"uar": (0.0, 1.0), "war": (0.0, 1.0), "accuracy": (0.0, 1.0), "f1": (0.0, 1.0),
           "macro_f1": (0.0, 1.0), "precision": (0.0, 1.0), "recall": (0.0, 1.0),
           "balanced_accuracy": (0.0, 1.0), "ccc": (-1.0, 1.0), "wer": (0.0, np.inf), "cer": (0.0, np.inf)}
_ALIASES = {"wa": "accuracy", "acc": "accuracy", "ua": "uar", "f1_macro": "macro_f1"}


def _metric_name(metric: str) -> str:
    key = str(metric).strip().lower()
    return _ALIASES.get(key, key)


def bounds(metric: str, *, scale: float = 1.0) -> tuple[float, float]:
    """The range ``(low, high)`` of ``metric`` (times ``scale``, e.g. 100 for %): [0, 1] for UAR,
    WAR/accuracy, F1, precision, recall; [-1, 1] for CCC; [0, inf) for WER/CER; (-inf, inf) else."""
    lo, hi = _BOUNDS.get(_metric_name(metric), (-np.inf, np.inf))
    return lo * scale, hi * scale


def clip_interval(low: Any, high: Any, metric: str, *, scale: float = 1.0) -> tuple[Any, Any]:
    """``(low, high)`` cut to the range of ``metric`` (:func:`bounds`); scalars or arrays, NaN kept.

    A t interval is symmetric and can leave a bounded range (UAR 95 % +- 8 % is not 103 %);
    the clipped interval is what the data allow.
    """
    lo, hi = bounds(metric, scale=scale)
    return np.clip(low, lo, hi), np.clip(high, lo, hi)


def chance_level(metric: str, n_classes: int | None = None, *, class_rates: Sequence[float] | None = None,
                 positive_rate: float | None = None) -> float:
    """The score of a classifier that ignores its input (a fraction, as results store it).

    - ``uar`` (balanced accuracy): ``1 / n_classes`` whatever the guessing strategy.
    - ``accuracy`` / ``war``: the majority class rate ``max(class_rates)`` (always predicting the
      largest class); ``1 / n_classes`` when no rates are given (balanced classes).
    - ``macro_f1``: ``1 / n_classes`` (guessing each class with its true frequency gives each class
      an F1 equal to its rate; their mean is ``1 / n_classes``).
    - ``f1`` (binary, positive class): ``2 p / (1 + p)`` with the positive rate ``p``: always
      predicting the positive class, the highest F1 any input-independent classifier reaches
      (guessing positive with probability q gives ``2 p q / (p + q)``, largest at q = 1).
    - ``ccc``: 0 (a prediction uncorrelated with the truth). Other metrics (WER, ...): ``nan``.

    ``n_classes`` is derived from ``class_rates`` when only those are given.
    """
    key = _metric_name(metric)
    if class_rates is not None:
        rates = np.asarray(class_rates, dtype=float)
        if rates.ndim != 1 or rates.size < 2 or np.any(rates < 0) or not np.isclose(rates.sum(), 1.0, atol=1e-6):
            raise ValueError(f"chance_level: class_rates must be >= 2 class frequencies summing to 1, got {rates}")
        n_classes = n_classes or rates.size
    if key == "ccc":
        return 0.0
    if key == "f1":
        if positive_rate is None or not 0.0 < float(positive_rate) < 1.0:
            raise ValueError(f"chance_level('f1'): give positive_rate, the share of positive items in (0, 1); "
                             f"got {positive_rate!r}")
        p = float(positive_rate)
        return 2.0 * p / (1.0 + p)
    if key in ("uar", "balanced_accuracy", "war", "accuracy", "macro_f1"):
        if n_classes is None or int(n_classes) < 2:
            raise ValueError(f"chance_level({metric!r}): give n_classes (>= 2) or class_rates, got {n_classes!r}")
        if key in ("war", "accuracy") and class_rates is not None:
            return float(np.max(class_rates))
        return 1.0 / int(n_classes)
    return float("nan")


def single_class(predictions: pd.DataFrame, by: Sequence[str], *, pred: str = "y_pred") -> pd.DataFrame:
    """The groups of per-utterance ``predictions`` in which the model predicts one class only.

    ``by``: the columns naming one model's test (e.g. ``["method", "seed", "fold", "test_condition",
    "snr"]``). Returns one row per such group: the ``by`` columns, ``predicted`` (the class) and
    ``n`` (utterances); empty when every model uses at least two classes. Such a model scores
    exactly chance UAR (``1 / classes``): print the frame so the number is not read as a result.
    """
    missing = [c for c in [*by, pred] if c not in predictions.columns]
    if missing:
        raise KeyError(f"single_class: the predictions have no column(s) {missing} (have {list(predictions.columns)})")
    rows = []
    groups = predictions.groupby(list(by), dropna=False, sort=False) if by else [((), predictions)]
    for key, grp in groups:
        classes = pd.unique(grp[pred].dropna())
        if len(classes) == 1:
            key = key if isinstance(key, tuple) else (key,)
            rows.append({**dict(zip(by, key)), "predicted": classes[0], "n": int(len(grp))})
    return pd.DataFrame(rows, columns=[*by, "predicted", "n"])


# --------------------------------------------------------------------------- bootstrap over utterances
def bootstrap_weights(n_items: int, n_boot: int, rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """``(n_boot, n_items)`` resampling counts: each row draws ``n_items`` items with replacement.

    Scoring a set of predictions with weights ``w`` equals scoring the resample itself (an item
    drawn twice counts twice), so every resample is scored at once by :func:`weighted_scores`.
    """
    if n_items < 1 or n_boot < 1:
        raise ValueError(f"bootstrap_weights: need n_items >= 1 and n_boot >= 1, got {n_items}, {n_boot}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return gen.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_boot).astype(np.float64)


def _word_errors(refs: Sequence[str], hyps: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-utterance (word edits, reference words) with :func:`wer`'s normalisation."""
    import jiwer

    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(),
                          jiwer.Strip(), jiwer.ReduceToListOfListOfWords()])
    edits, words = [], []
    for r, h in zip(refs, hyps):
        r, h = ("" if pd.isna(r) else str(r)), ("" if pd.isna(h) else str(h))
        n_ref = len(norm(r)[0]) if r.strip() else 0
        n_hyp = len(norm(h)[0]) if h.strip() else 0
        if n_ref == 0:
            edits.append(n_hyp)
        elif n_hyp == 0:
            edits.append(n_ref)
        else:
            out = jiwer.process_words(r, h, reference_transform=norm, hypothesis_transform=norm)
            edits.append(out.substitutions + out.deletions + out.insertions)
        words.append(n_ref)
    return np.asarray(edits, dtype=float), np.asarray(words, dtype=float)


def weighted_scores(metric: str, y_true: Sequence, y_pred: Sequence, weights: np.ndarray) -> np.ndarray:
    """``metric`` of ``(y_true, y_pred)`` under every row of ``weights`` (``(B, n)``) -> ``(B,)``.

    Supported: ``uar`` (mean recall over the classes present in the weighted sample), ``accuracy``
    / ``war``, ``macro_f1`` (over the classes of the full sample), ``ccc`` (continuous values),
    ``wer`` (corpus-level: weighted edits / weighted reference words; ``y_true`` / ``y_pred`` are
    transcripts). A row of ones gives the plain metric (:func:`uar`, :func:`ccc`, :func:`wer`, ...).
    """
    key = _metric_name(metric)
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    if key == "wer":
        t, p = list(y_true), list(y_pred)
        if len(t) != len(p) or w.shape[1] != len(t):
            raise ValueError(f"weighted_scores(wer): {len(t)} references, {len(p)} hypotheses, weights {w.shape}")
        edits, words = _word_errors(t, p)
        denom = w @ words
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, (w @ edits) / denom, np.nan)
    if key == "ccc":
        t, p = _pair(y_true, y_pred, numeric=True)
    else:
        t, p = _pair(y_true, y_pred)
    if w.shape[1] != t.size:
        raise ValueError(f"weighted_scores: weights have {w.shape[1]} columns for {t.size} items")
    tot = w.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if key == "ccc":
            mt, mp = (w @ t) / tot, (w @ p) / tot
            vt, vp = (w @ t ** 2) / tot - mt ** 2, (w @ p ** 2) / tot - mp ** 2
            cov = (w @ (t * p)) / tot - mt * mp
            return 2.0 * cov / (vt + vp + (mt - mp) ** 2)
        correct = (t == p).astype(float)
        if key in ("accuracy", "war"):
            return (w @ correct) / tot
        classes = np.unique(np.concatenate([t, p])) if key == "macro_f1" else np.unique(t)
        if key in ("uar", "balanced_accuracy"):
            recalls = np.stack([(w @ (correct * (t == c))) / (w @ (t == c).astype(float)) for c in classes], 1)
            return np.nanmean(recalls, axis=1)
        if key == "macro_f1":
            f1s = []
            for c in classes:
                is_t, is_p = (t == c).astype(float), (p == c).astype(float)
                tp, fp, fn = w @ (is_t * is_p), w @ ((1 - is_t) * is_p), w @ (is_t * (1 - is_p))
                den = 2 * tp + fp + fn
                f1s.append(np.where(den > 0, 2 * tp / np.where(den > 0, den, 1.0), 0.0))
            return np.mean(np.stack(f1s, 1), axis=1)
    raise ValueError(f"weighted_scores: no utterance bootstrap for metric {metric!r}; "
                     "supported: uar, accuracy (war), macro_f1, ccc, wer")


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

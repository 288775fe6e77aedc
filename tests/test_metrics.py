"""serlib.metrics against hand-computed values, scikit-learn and scipy; bad input refused."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from serlib import metrics as M

# y_true / y_pred with hand-computed scores:
# recalls: class 0 = 2/3, class 1 = 1/2, class 2 = 1  -> UAR = 13/18
# accuracy = 4/6; F1: class 0 = 2/3, class 1 = 1/2, class 2 = 1 -> macro F1 = 13/18
T3 = [0, 0, 0, 1, 1, 2]
P3 = [0, 0, 1, 1, 0, 2]


def test_uar_war_macro_f1_hand_computed():
    assert M.uar(T3, P3) == pytest.approx(13 / 18)
    assert M.war(T3, P3) == pytest.approx(4 / 6)
    assert M.macro_f1(T3, P3) == pytest.approx(13 / 18)


def test_uar_is_not_war_on_imbalanced_data():
    # 9 of class a, 1 of class b, always predicting a: WAR 0.9 but UAR 0.5 (pain point: WA vs UA)
    t = ["a"] * 9 + ["b"]
    p = ["a"] * 10
    assert M.war(t, p) == pytest.approx(0.9)
    assert M.uar(t, p) == pytest.approx(0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_sklearn_on_random_labels(seed):
    rng = np.random.default_rng(seed)
    labels = np.array(["angry", "happy", "neutral", "sad"])
    t = labels[rng.integers(0, 4, 200)]
    p = np.where(rng.random(200) < 0.6, t, labels[rng.integers(0, 4, 200)])
    assert M.uar(t, p) == pytest.approx(balanced_accuracy_score(t, p))
    assert M.war(t, p) == pytest.approx(accuracy_score(t, p))
    assert M.macro_f1(t, p) == pytest.approx(f1_score(t, p, average="macro"))
    assert M.f1(t, p, average="weighted") == pytest.approx(f1_score(t, p, average="weighted"))


def test_binary_f1_with_string_labels():
    t = ["hi", "hi", "lo", "lo", "hi"]
    p = ["hi", "lo", "lo", "hi", "hi"]
    # positive "hi": tp=2, fp=1, fn=1 -> F1 = 2/3
    assert M.f1(t, p, pos_label="hi") == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="pos_label=1 is not among"):
        M.f1(t, p)


def test_macro_f1_with_fixed_label_set_counts_missing_class_as_zero():
    assert M.macro_f1(T3, P3, labels=[0, 1, 2, 3]) == pytest.approx(13 / 18 * 3 / 4)


def test_uar_ignores_predicted_classes_absent_from_truth():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert M.uar([0, 0, 1, 1], [0, 2, 1, 1]) == pytest.approx((0.5 + 1.0) / 2)


def test_confusion_matrix_labelled_and_normalised():
    cm = M.confusion(T3, P3)
    assert list(cm.index) == [0, 1, 2] and list(cm.columns) == [0, 1, 2]
    assert cm.loc[0, 1] == 1 and cm.loc[1, 0] == 1 and cm.loc[2, 2] == 1 and cm.to_numpy().sum() == 6
    rec = M.confusion(T3, P3, normalize="true")
    np.testing.assert_allclose(np.diag(rec.to_numpy()), [2 / 3, 1 / 2, 1])
    with pytest.raises(ValueError, match="normalize"):
        M.confusion(T3, P3, normalize="rows")


def test_ccc_hand_computed():
    # means 2 and 3, population variances 2/3 each, covariance 2/3 -> 2(2/3) / (4/3 + 1) = 4/7
    assert M.ccc([1, 2, 3], [2, 3, 4]) == pytest.approx(4 / 7)
    assert M.ccc([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert M.ccc([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # constant prediction: no covariance -> 0
    assert M.ccc([1, 2, 3], [2, 2, 2]) == pytest.approx(0.0)


def test_ccc_constant_equal_inputs_are_undefined():
    with pytest.raises(ValueError, match="undefined"):
        M.ccc([2, 2], [2, 2])


def test_ccc_loss_matches_ccc_and_has_gradients():
    rng = np.random.default_rng(0)
    t = rng.normal(size=50)
    p = 0.5 * t + rng.normal(scale=0.5, size=50) + 0.3
    pred = torch.tensor(p, requires_grad=True)
    loss = M.ccc_loss(pred, torch.tensor(t))
    assert loss.item() == pytest.approx(1 - M.ccc(t, p), abs=1e-5)
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    two = M.ccc_loss(torch.tensor(np.c_[p, p]), torch.tensor(np.c_[t, t]))
    assert two.item() == pytest.approx(loss.item(), abs=1e-6)
    with pytest.raises(ValueError, match="shape"):
        M.ccc_loss(torch.zeros(4), torch.zeros(5))


def test_wer_is_corpus_level_and_normalised():
    assert M.wer(["a b c"], ["a x c"]) == pytest.approx(1 / 3)
    # 3 deletions over 6 reference words = 0.5 (the mean of per-utterance WERs would be 0.375)
    assert M.wer(["a b", "c d e f"], ["a b", "c"]) == pytest.approx(0.5)
    assert M.wer(["Hello, World!"], ["hello world"]) == 0.0
    assert M.wer(["Hello, World!"], ["hello world"], normalize=False) == pytest.approx(1.0)


def test_wer_bad_input():
    with pytest.raises(ValueError, match=r"len\(refs\)=2, len\(hyps\)=1"):
        M.wer(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="empty"):
        M.wer([], [])
    with pytest.raises(TypeError, match="lists of sentences"):
        M.wer("a b", "a b")
    with pytest.raises(ValueError, match="references are empty"):
        M.wer(["", "  "], ["a", "b"])
    with pytest.raises(ValueError, match="strings"):
        M.wer(["a", None], ["a", "b"])


def test_mean_ci_student_t_hand_computed():
    mean, half = M.mean_ci([1.0, 2.0, 3.0])
    # sd = 1, se = 1/sqrt(3), t(0.975, 2) = 4.302653
    assert mean == pytest.approx(2.0)
    assert half == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    _, half99 = M.mean_ci([1.0, 2.0, 3.0], confidence=0.99)
    assert half99 > half


def test_mean_ci_single_value_has_nan_half_width():
    mean, half = M.mean_ci([0.7])
    assert mean == pytest.approx(0.7) and np.isnan(half)


def test_mean_ci_gives_no_t_interval_from_two_values():
    # with 2 values t(0.975, 1) = 12.7: an interval as wide as UAR's range; none is reported
    mean, half = M.mean_ci([0.45, 0.55])
    assert mean == pytest.approx(0.5) and np.isnan(half)
    assert M.mean_ci([0.45, 0.55], min_n=2)[1] == pytest.approx(12.706205 * 0.05, rel=1e-6)
    with pytest.raises(ValueError, match="min_n"):
        M.mean_ci([1, 2, 3], min_n=1)


def test_holm_hand_computed():
    adj = M.holm([0.01, 0.04, 0.03, 0.5])
    # sorted 0.01, 0.03, 0.04, 0.5 -> 4*0.01, 3*0.03, max(0.09, 2*0.04), max(0.09, 0.5)
    assert adj.tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert M.holm([0.3, 0.6]).tolist() == pytest.approx([0.6, 0.6])
    nan = M.holm([0.01, float("nan"), 0.02])
    assert np.isnan(nan[1]) and nan[[0, 2]].tolist() == pytest.approx([0.02, 0.02])
    assert M.holm([0.9, 0.8, 0.7]).max() <= 1.0
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        M.holm([1.5])


def test_bounds_and_clip_interval():
    assert M.bounds("uar") == (0.0, 1.0) and M.bounds("UA", scale=100) == (0.0, 100.0)
    assert M.bounds("ccc") == (-1.0, 1.0) and M.bounds("wer")[1] == np.inf and M.bounds("loss")[0] == -np.inf
    lo, hi = M.clip_interval(np.array([-0.1, 0.2]), np.array([0.5, 1.3]), "uar")
    assert lo.tolist() == [0.0, 0.2] and hi.tolist() == [0.5, 1.0]
    assert M.clip_interval(-1.4, 1.2, "ccc") == (-1.0, 1.0)
    assert M.clip_interval(90.0, 108.0, "accuracy", scale=100)[1] == 100.0


def test_chance_levels():
    assert M.chance_level("uar", 4) == 0.25 and M.chance_level("macro_f1", 2) == 0.5
    assert M.chance_level("accuracy", 4) == 0.25
    assert M.chance_level("accuracy", class_rates=[0.5, 0.3, 0.2]) == 0.5     # always the majority class
    assert M.chance_level("f1", positive_rate=0.4) == pytest.approx(0.8 / 1.4)
    assert M.chance_level("ccc") == 0.0 and np.isnan(M.chance_level("wer"))
    # an input-independent classifier really scores these: always predicting the positive class
    y = np.array([1] * 40 + [0] * 60)
    assert M.f1(y, np.ones(100, int)) == pytest.approx(M.chance_level("f1", positive_rate=0.4))
    assert M.uar(y, np.ones(100, int)) == pytest.approx(M.chance_level("uar", 2))
    with pytest.raises(ValueError, match="n_classes"):
        M.chance_level("uar")
    with pytest.raises(ValueError, match="positive_rate"):
        M.chance_level("f1")
    with pytest.raises(ValueError, match="class_rates"):
        M.chance_level("accuracy", class_rates=[0.5, 0.2])


def test_single_class_flags_constant_predictors():
    pred = pd.DataFrame({"method": ["A"] * 4 + ["B"] * 4, "seed": 0,
                         "y_pred": ["sad"] * 4 + ["sad", "angry", "sad", "happy"]})
    flagged = M.single_class(pred, ["method", "seed"])
    assert flagged.to_dict("records") == [{"method": "A", "seed": 0, "predicted": "sad", "n": 4}]
    assert M.single_class(pred[pred.method == "B"], ["method"]).empty
    with pytest.raises(KeyError, match="y_pred"):
        M.single_class(pred.drop(columns="y_pred"), ["method"])


def test_weighted_scores_equal_the_metrics_and_score_resamples():
    rng = np.random.default_rng(1)
    t = rng.choice(["a", "b", "c"], 60)
    p = np.where(rng.random(60) < 0.6, t, rng.choice(["a", "b", "c"], 60))
    ones = np.ones((1, 60))
    assert M.weighted_scores("uar", t, p, ones)[0] == pytest.approx(M.uar(t, p))
    assert M.weighted_scores("war", t, p, ones)[0] == pytest.approx(M.war(t, p))
    assert M.weighted_scores("macro_f1", t, p, ones)[0] == pytest.approx(M.macro_f1(t, p))
    x, y = rng.normal(size=60), rng.normal(size=60)
    assert M.weighted_scores("ccc", x, x + y, ones)[0] == pytest.approx(M.ccc(x, x + y))
    refs, hyps = ["the cat sat", "a dog", "hello world again"], ["the cat sit", "a dog barks", "hello"]
    assert M.weighted_scores("wer", refs, hyps, np.ones((1, 3)))[0] == pytest.approx(M.wer(refs, hyps))
    # a resample scores what the resampled items score: counts (2, 0, 1) = items [0, 0, 2]
    w = np.array([[2.0, 0.0, 1.0]])
    assert M.weighted_scores("wer", refs, hyps, w)[0] == pytest.approx(M.wer([refs[0], refs[0], refs[2]],
                                                                            [hyps[0], hyps[0], hyps[2]]))
    idx = rng.integers(0, 60, 60)
    counts = np.bincount(idx, minlength=60)[None, :].astype(float)
    assert M.weighted_scores("uar", t, p, counts)[0] == pytest.approx(M.uar(t[idx], p[idx]))
    boots = M.weighted_scores("uar", t, p, M.bootstrap_weights(60, 300, 0))
    assert boots.shape == (300,) and 0.3 < boots.mean() < 0.9 and boots.std() > 0
    assert (M.bootstrap_weights(60, 5, 0).sum(1) == 60).all()
    with pytest.raises(ValueError, match="no utterance bootstrap"):
        M.weighted_scores("f1", t, p, ones)


def test_mean_ci_bad_input():
    with pytest.raises(ValueError, match="empty"):
        M.mean_ci([])
    with pytest.raises(ValueError, match="NaN"):
        M.mean_ci([0.5, float("nan")])
    with pytest.raises(ValueError, match="confidence"):
        M.mean_ci([1, 2], confidence=95)


def test_welch_t_matches_hand_computation_and_scipy():
    a, b = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]
    # means 2 and 5.5; sample variances 1 and 5/3; se = sqrt(1/3 + 5/12) = sqrt(0.75)
    t, p = M.welch_t(a, b)
    assert t == pytest.approx((2 - 5.5) / np.sqrt(0.75))
    ref = stats.ttest_ind(a, b, equal_var=False)
    # Welch-Satterthwaite df = 0.75**2 / ((1/3)**2/2 + (5/12)**2/3) = 4.959 -> two-tailed p = 0.0101
    assert p == pytest.approx(ref.pvalue) and p == pytest.approx(0.0101, abs=2e-4)
    with pytest.raises(ValueError, match="at least 2 values"):
        M.welch_t([1.0], [1.0, 2.0])


def test_paired_tests():
    a = [0.60, 0.62, 0.58, 0.65, 0.61]
    b = [0.55, 0.60, 0.57, 0.60, 0.56]
    t, p = M.paired_t(a, b)
    ref = stats.ttest_rel(a, b)
    assert t == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue) and t > 0
    w, pw = M.wilcoxon(a, b)
    assert pw == pytest.approx(stats.wilcoxon(a, b).pvalue)
    with pytest.raises(ValueError, match=r"len\(a\)=5 != len\(b\)=4"):
        M.paired_t(a, b[:4])
    with pytest.raises(ValueError, match="all paired differences are zero"):
        M.wilcoxon(a, a)


@pytest.mark.parametrize("fn", [M.uar, M.war, M.macro_f1, M.ccc])
def test_mismatched_lengths_name_both(fn):
    with pytest.raises(ValueError, match=r"len\(y_true\)=3, len\(y_pred\)=2"):
        fn([1, 0, 1], [1, 0])


@pytest.mark.parametrize("fn", [M.uar, M.war, M.macro_f1, M.ccc])
def test_empty_input_is_refused(fn):
    with pytest.raises(ValueError, match="empty"):
        fn([], [])


@pytest.mark.parametrize("fn", [M.uar, M.war, M.ccc])
def test_nan_predictions_are_refused(fn):
    with pytest.raises(ValueError, match="y_pred has 1 missing/NaN"):
        fn([1.0, 0.0, 1.0], [1.0, float("nan"), 0.0])


def test_none_in_string_predictions_is_refused():
    with pytest.raises(ValueError, match="y_pred has 1 missing"):
        M.uar(["a", "b"], ["a", None])


def test_logits_instead_of_labels_are_refused():
    with pytest.raises(ValueError, match="argmax"):
        M.uar([0, 1], np.zeros((2, 3)))


@pytest.mark.parametrize("fn", [M.uar, M.macro_f1])
def test_single_class_truth_warns(fn):
    with pytest.warns(M.MetricWarning, match="single class"):
        fn(["sad", "sad", "sad"], ["sad", "happy", "sad"])


def test_single_class_warning_can_be_escalated():
    with warnings.catch_warnings():
        warnings.simplefilter("error", M.MetricWarning)
        with pytest.raises(M.MetricWarning):
            M.uar([1, 1], [1, 0])


def test_metric_by_name():
    assert M.get("UAR") is M.uar and M.get("accuracy") is M.war
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        M.get("auc")


def test_accepts_torch_tensors_and_column_vectors():
    t = torch.tensor([0, 1, 1, 0])
    p = np.array([[0], [1], [0], [0]])
    assert M.war(t, p) == pytest.approx(0.75)
